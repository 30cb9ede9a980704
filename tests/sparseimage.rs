//! Apple sparse images as evidence (issue 15). `testimages/sparseimage.py`
//! writes a raw disk as a `.sparseimage` the way `hdiutil create -type
//! SPARSE` lays one out (bands stored in the order written, all-zero bands
//! left out, index nodes chained when the header's table is full; no
//! Apple-made sample is public). dfvfs's macOS-made `hfsplus.raw` written so
//! is registered with the raw image's SHA-256 and gives the same files. A
//! 12 MiB disk in 4 KiB bands needs two index nodes after the header: its
//! SHA-256 is the raw disk's. Damage costs what it covers: a truncated file
//! makes exactly the missing bytes unreadable, a broken index node makes the
//! bands no node lists unreadable (not zeros), and a band table that names a
//! band twice is refused in one line naming where.

mod common;

use common::*;
use std::path::{Path, PathBuf};

fn sparse(dir: &Path, img: &Path, name: &str, per_band: &str) -> (PathBuf, String) {
    let out = dir.join(name);
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("testimages/sparseimage.py");
    let o = std::process::Command::new("python3")
        .arg(script)
        .arg(img)
        .arg(&out)
        .arg(per_band)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    (out, stdout(&o).trim().to_string())
}

fn show(case: &Path) -> String {
    stdout(&run(&["case", "show", case.to_str().unwrap()]))
}

#[test]
fn a_sparse_image_reads_as_the_disk_it_holds() {
    if !tools(&["python3", "gzip"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let img = dfvfs(dir.path(), "hfsplus.raw");
    let (s, _) = sparse(dir.path(), &img, "hfs.sparseimage", "16");
    let raw = one_shot_ls("recover", &img, None, &dir.path().join("raw"), 0, &[]);
    let case = dir.path().join("case");
    let arts = one_shot_ls("recover", &s, None, &case, 0, &[]);
    let shown = show(&case);
    assert!(shown.contains("[sparseimage]"), "{shown}");
    assert!(shown.contains(&sha256_file(&img)), "{shown}");
    assert!(shown.contains("0 unreadable"), "{shown}");
    assert_eq!(hashes(&arts), hashes(&raw));
    assert!(run(&["verify", case.to_str().unwrap()]).status.success());
}

#[test]
fn index_node_chains_truncation_and_contradictions() {
    if !tools(&["python3"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // 3 072 bands of 4 KiB, one in seven all zeros (left out): 2 633 stored,
    // 1 008 in the header's table, 1 010 in each index node's.
    let disk: Vec<u8> = (0..3072usize)
        .flat_map(|b| {
            let fill = if b % 7 == 3 {
                None
            } else {
                Some(noise(4096, b as u64 + 1))
            };
            fill.unwrap_or_else(|| vec![0u8; 4096])
        })
        .collect();
    let raw = dir.path().join("disk.raw");
    std::fs::write(&raw, &disk).unwrap();
    let (s, said) = sparse(dir.path(), &raw, "disk.sparseimage", "8");
    assert_eq!(said, "2633 2");
    let case = dir.path().join("whole");
    let o = one_shot("carve", &s, None, &case, &[]);
    assert!(
        o.status.code() == Some(0) || o.status.code() == Some(3),
        "{}",
        stderr(&o)
    );
    let shown = show(&case);
    assert!(shown.contains(&sha256_file(&raw)), "{shown}");
    assert!(shown.contains("0 unreadable"), "{shown}");

    // Truncated in the middle of its last band: exactly the bytes the file
    // no longer holds are unreadable.
    let full = std::fs::read(&s).unwrap();
    let cut = dir.path().join("cut.sparseimage");
    std::fs::write(&cut, &full[..full.len() - 1000]).unwrap();
    let case = dir.path().join("cut");
    let o = one_shot("carve", &cut, None, &case, &[]);
    let out = stdout(&o) + &stderr(&o);
    assert!(out.contains("1000 bytes unreadable"), "{out}");

    // The second index node's signature destroyed: the chain breaks there,
    // and the bands it and the nodes after it listed (and the all-zero ones,
    // which no node lists either) are unreadable, not zeros.
    let second = u64::from_be_bytes(full[12 + 4096 + 1008 * 4096..][..8].try_into().unwrap());
    let first = u64::from_be_bytes(full[20..28].try_into().unwrap());
    assert_eq!(first, 4096 + 1008 * 4096);
    let mut b = full.clone();
    b[second as usize..second as usize + 4].copy_from_slice(b"XXXX");
    let broken = dir.path().join("broken.sparseimage");
    std::fs::write(&broken, &b).unwrap();
    let case = dir.path().join("broken");
    let o = one_shot("carve", &broken, None, &case, &[]);
    let out = stdout(&o) + &stderr(&o);
    let listed = 1008 + 1010;
    let missing = (3072 - listed) * 4096;
    assert!(
        out.contains(&format!("{missing} bytes unreadable")),
        "{out}"
    );

    // A band listed twice: refused, naming the band and where.
    let mut b = full.clone();
    b.copy_within(64..68, 68);
    let twice = dir.path().join("twice.sparseimage");
    std::fs::write(&twice, &b).unwrap();
    let case = dir.path().join("twice");
    let o = one_shot("carve", &twice, None, &case, &[]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("twice.sparseimage") && err.contains("is listed twice"),
        "{err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "{err}");
}
