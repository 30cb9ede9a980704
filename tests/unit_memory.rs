//! The memory a unit of work may hold (decision 0013, `--unit-memory`): a unit
//! past its limit is cut short like one that read too much. The finding names the
//! limit, the case goes on and verifies, and what the unit produced before the cut
//! is kept, bit-exact.

mod common;

use common::*;
use std::path::Path;

/// A FAT volume of four small folders and one folder of 400 long names (a
/// directory a reader holds 50 KiB of while it walks it).
fn fat_with_a_large_folder(dir: &Path) -> std::path::PathBuf {
    let tree = dir.join("tree");
    for d in 1..=4u64 {
        let f = tree.join(format!("folder{d}"));
        std::fs::create_dir_all(&f).unwrap();
        for i in 1..=20u64 {
            let body = noise((i * 300 + d) as usize, d * 100 + i);
            std::fs::write(f.join(format!("a rather long file name {i}.bin")), body).unwrap();
        }
    }
    let big = tree.join("zbig");
    std::fs::create_dir_all(&big).unwrap();
    for i in 1..=400 {
        std::fs::write(
            big.join(format!("a long name for file number {i}.txt")),
            format!("small file {i}\n"),
        )
        .unwrap();
    }
    let img = dir.join("fat.img");
    let f = std::fs::File::create(&img).unwrap();
    f.set_len(8 << 20).unwrap();
    drop(f);
    assert!(sh(&format!("mkfs.fat {} >/dev/null", img.display())));
    assert!(sh(&format!(
        "mcopy -s -i {} {}/* ::/",
        img.display(),
        tree.display()
    )));
    img
}

/// The arguments the case's scan session recorded.
fn scan_args(case: &Path) -> serde_json::Value {
    let args: String = rusqlite::Connection::open(case.join("case.sqlite"))
        .unwrap()
        .query_row(
            "SELECT args FROM sessions WHERE command = 'scan'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    serde_json::from_str(&args).unwrap()
}

#[test]
fn units_holding_more_than_the_examiners_limit_are_cut_and_the_case_goes_on() {
    if !tools(&["mkfs.fat", "mcopy"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let img = fat_with_a_large_folder(dir.path());
    let witness = ReadOnlyWitness::new(&[&img]);

    // The default limit (1 GiB and more) is far beyond what this volume needs.
    let full_case = dir.path().join("full");
    let full = hashes(&one_shot_ls("recover", &img, None, &full_case, 0, &[]));
    assert_eq!(full.len(), 480, "{full:?}");
    assert!(!findings(&full_case)
        .iter()
        .any(|w| w.contains("memory budget")));
    assert!(scan_args(&full_case)["unit_memory"].is_null());

    let mut cut = 0;
    let mut cut_in_the_walk = 0;
    for limit in [8u64 << 10, 32 << 10, 128 << 10, 512 << 10, 4 << 20] {
        let case = dir.path().join(format!("limit-{limit}"));
        let o = one_shot(
            "recover",
            &img,
            None,
            &case,
            &["--unit-memory", &limit.to_string()],
        );
        assert!(!stderr(&o).contains("panicked"), "{}", stderr(&o));
        let said: Vec<String> = findings(&case)
            .into_iter()
            .filter(|w| w.contains(&format!("memory budget of {limit} bytes exhausted")))
            .collect();
        // A unit cut short is a gap in the case (exit 3), never a failure.
        let want = if said.is_empty() { 0 } else { 3 };
        assert_eq!(o.status.code(), Some(want), "{limit}: {}", stdout(&o));
        let got = hashes(&ls_json(&case));
        // Whatever was kept is the full run's file, bit-exact, at the same path.
        for (path, sha) in &got {
            assert_eq!(full.get(path), Some(sha), "{limit}: {path}");
        }
        if said.is_empty() {
            assert_eq!(got, full, "{limit}: nothing cut, so everything recovered");
        } else {
            cut += 1;
            if !got.is_empty() && got.len() < full.len() {
                cut_in_the_walk += 1;
            }
        }
        let v = run(&["verify", case.to_str().unwrap()]);
        assert_eq!(v.status.code(), Some(0), "{limit}: {}", stdout(&v));
        // The limit is in the scan's recorded arguments (a resumed scan uses it).
        assert_eq!(scan_args(&case)["unit_memory"], limit);
    }
    witness.assert_unchanged();
    // The smallest limits cut the reader; one cuts it inside the large folder, after
    // the small folders' files were kept; the largest cuts nothing.
    assert!(cut >= 2, "{cut}");
    assert!(cut_in_the_walk >= 1, "{cut_in_the_walk}");
}
