//! Hostile evidence: images built to hang, exhaust or crash a forensic tool
//! (testimages/make-hostile.py). Each must end within 60 s and 1 GiB, with exit 0
//! or 3, never a panic, and every honest file on the image still recovered with its
//! hash. The seeds move offsets, names and counts; `DREDGE_HOSTILE_SEED=N` adds an
//! image the suite has never seen.

mod common;

use common::*;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

fn seeds() -> Vec<u64> {
    let mut s = vec![1];
    if let Some(n) = std::env::var("DREDGE_HOSTILE_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        s.push(n);
    }
    s
}

/// Builds one image of `class`; None (skipped) without the tools to make it.
fn build(class: &str, seed: u64, dir: &Path) -> Option<(PathBuf, BTreeMap<String, String>)> {
    let need: &[&str] = match class {
        "clash-ext4" | "ext-extent-bomb" => &["mkfs.ext4", "python3"],
        "polyglot" => &["mkfs.ext4", "mkfs.fat", "python3"],
        "e01-table-bomb" => &["mkfs.fat", "mcopy", "ewfacquire", "python3"],
        "ntfs-lznt1-bomb" | "ntfs-shared-bomb" | "ntfs-size-bomb" => {
            &["mkntfs", "ntfs-3g", "python3"]
        }
        "exfat-dir-bomb" => &["mkfs.exfat", "mount.exfat-fuse", "losetup", "python3"],
        _ => &["mkfs.fat", "mcopy", "mmd", "python3"],
    };
    if !tools(need) {
        return None;
    }
    // An E01 is recognised by its name.
    let ext = if class.starts_with("e01") {
        "E01"
    } else {
        "img"
    };
    let img = dir.join(format!("{class}-{seed}.{ext}"));
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("testimages/make-hostile.py");
    let o = Command::new("python3")
        .arg(script)
        .arg(class)
        .arg(&img)
        .args(["--seed", &seed.to_string()])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(format!("{}.json", img.display())).unwrap()).unwrap();
    let want = m["files"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
        .collect();
    Some((img, want))
}

/// `dredge recover IMAGE --out CASE`, killed (and failed) after 60 s. Returns the
/// exit code and stderr.
fn recover_bounded(img: &Path, case: &Path) -> (i32, String) {
    let started = Instant::now();
    let mut child = dredge()
        .args(["--progress", "none", "recover"])
        .arg(img)
        .arg("--out")
        .arg(case)
        .args(["--examiner", "T"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let mut err = String::new();
            use std::io::Read;
            child
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut err)
                .unwrap();
            return (status.code().unwrap_or(-1), err);
        }
        if started.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            panic!("{}: still running after 60 s", img.display());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Peak RSS of any child this test process waited for, in bytes.
fn children_peak_rss() -> u64 {
    // SAFETY: getrusage fills the struct it is given and touches nothing else.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut u) };
    u.ru_maxrss as u64 * 1024
}

/// The common contract: ends in time and memory, exit 0 or 3, no panic text, every
/// honest file recovered bit-exact, the case verifies. Returns the artifacts.
fn survives(img: &Path, want: &BTreeMap<String, String>, case: &Path) -> Vec<serde_json::Value> {
    let witness = ReadOnlyWitness::new(&[img]);
    let (code, err) = recover_bounded(img, case);
    assert!(
        code == 0 || code == 3,
        "{}: exit {code}: {err}",
        img.display()
    );
    assert!(!err.contains("panicked"), "{err}");
    assert!(
        children_peak_rss() < 1 << 30,
        "peak RSS {}",
        children_peak_rss()
    );
    witness.assert_unchanged();
    let arts = ls_json(case);
    let got = hashes(&arts);
    for (path, sha) in want {
        assert_eq!(
            got.get(path),
            Some(sha),
            "{}: {path} not recovered intact",
            img.display()
        );
    }
    let v = run(&["verify", case.to_str().unwrap()]);
    assert_eq!(v.status.code(), Some(0), "{}", stdout(&v));
    arts
}

/// What a test checks of one recovered image: the case, the honest files, the
/// artifacts and the findings.
type Check<'a> = dyn FnMut(&Path, &BTreeMap<String, String>, &[serde_json::Value], &[String]) + 'a;

/// Builds an image of `class` for each seed, recovers it under the common
/// contract (`survives`), and hands it to `check`. Skipped without the tools to
/// build the images.
fn each_image(class: &str, seeds: &[u64], check: &mut Check<'_>) {
    let dir = tempfile::tempdir().unwrap();
    for &seed in seeds {
        let Some((img, want)) = build(class, seed, dir.path()) else {
            return;
        };
        let case = dir.path().join(format!("case-{seed}"));
        let arts = survives(&img, &want, &case);
        check(&case, &want, &arts, &findings(&case));
    }
}

fn has(f: &[String], what: &str) -> bool {
    f.iter().any(|w| w.contains(what))
}

#[test]
fn carving_bombs_in_free_space_end_and_cost_only_themselves() {
    each_image("carve-bombs", &seeds(), &mut |_, _, _, f| {
        // The bombs were met and stopped by the budget, and said so.
        assert!(has(f, "carver cut short: work budget"), "{f:?}");
    });
}

#[test]
fn folders_deeper_than_path_max_are_extracted_under_the_fallback() {
    each_image("deep-fat", &seeds(), &mut |case, _, arts, f| {
        let deep = arts
            .iter()
            .find(|a| a["path"].as_str().unwrap_or("").ends_with("/bottom.bin"))
            .expect("the deepest file is listed");
        let ex = deep["extracted"].as_str().unwrap();
        assert!(ex.contains("/by-id/"), "{ex}");
        // The reason is on the artifact itself, not only in the findings.
        let note = deep["extract_note"].as_str().unwrap_or("");
        assert!(
            note.contains("cannot be made on the output filesystem"),
            "{deep}"
        );
        assert_eq!(
            sha256_file(&case.join(ex)),
            deep["sha256"].as_str().unwrap()
        );
        assert!(has(f, "because the planned path cannot be made"));
    });
}

#[test]
fn names_that_clash_on_a_case_insensitive_disk_get_their_own_copies() {
    each_image("clash-ext4", &seeds(), &mut |case, want, arts, _| {
        // Every copy is its own file, whatever the letter case, and holds its bytes.
        let mut seen = std::collections::HashSet::new();
        for a in arts.iter().filter(|a| a["extracted"].is_string()) {
            let ex = a["extracted"].as_str().unwrap();
            assert!(seen.insert(ex.to_lowercase()), "{ex} planned twice");
            assert_eq!(sha256_file(&case.join(ex)), a["sha256"].as_str().unwrap());
        }
        assert!(seen.len() >= want.len());
    });
}

#[test]
fn inodes_sharing_one_extent_leaf_cost_only_their_layouts() {
    each_image("ext-extent-bomb", &seeds(), &mut |_, _, arts, f| {
        // Every bomb is still listed (its metadata is evidence), none extracted.
        let bombs: Vec<_> = arts
            .iter()
            .filter(|a| a["path"].as_str().unwrap_or("").contains("/z-bomb"))
            .collect();
        assert!(bombs.len() >= 1500, "{}", bombs.len());
        assert!(bombs.iter().all(|a| a["extracted"].is_null()));
        // Said once per file, not once per extent.
        assert!(f.len() < 4 * bombs.len(), "{} findings", f.len());
    });
}

#[test]
fn cyclic_fat_chains_and_folders_end_and_are_named() {
    each_image("fat-cycles", &seeds(), &mut |_, _, arts, f| {
        for what in [
            "file /LOOP.BIN: chain loops back",
            "directory /SELF: chain loops back",
            "directory /CYC/INNER points to a directory already visited",
        ] {
            assert!(has(f, what), "{what}: {f:?}");
        }
        // The looping file is listed (its metadata is evidence), never a copy of
        // 4 GiB of repeated clusters.
        let looped = arts.iter().find(|a| a["path"] == "/LOOP.BIN").unwrap();
        assert!(looped["extracted"].is_null(), "{looped}");
    });
}

/// Seed 1 builds the MBR variant (a looping extended-partition chain claiming
/// partitions far past the end), seed 2 the GPT one (a primary header claiming
/// up to 2^32 entries of up to 2^28 bytes, a sane backup).
#[test]
fn partition_tables_claiming_far_more_than_the_disk_cost_only_themselves() {
    let seeds: Vec<u64> = [1, 2]
        .into_iter()
        .chain(seeds().into_iter().skip(1))
        .collect();
    let mut seen = Vec::new();
    each_image("gpt-bomb", &seeds, &mut |_, _, _, f| {
        seen.extend_from_slice(f)
    });
    if seen.is_empty() {
        return; // no tools to build the images
    }
    for what in [
        "extends past the end of the image",
        "primary GPT unusable; partitions read from the backup GPT",
    ] {
        assert!(has(&seen, what), "{what}: {seen:?}");
    }
}

#[test]
fn a_volume_two_readers_claim_keeps_every_file_of_the_real_one() {
    each_image("polyglot", &seeds(), &mut |_, _, _, f| {
        assert!(
            has(f, "more than one filesystem reader accepts this volume"),
            "{f:?}"
        );
    });
}

#[test]
fn an_e01_table_claiming_billions_of_entries_costs_only_the_lie() {
    each_image("e01-table-bomb", &seeds(), &mut |case, _, _, _| {
        // Every honest file came back (survives); the claim is on record.
        let log = run(&["log", case.to_str().unwrap(), "--json"]);
        let added = stdout(&log)
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .find(|e| e["action"] == "evidence.add")
            .unwrap();
        let problems = added["params"]["extra"]["ewf"]["problems"].to_string();
        assert!(
            problems.contains("entries; the section holds"),
            "{problems}"
        );
    });
}

#[test]
fn compressed_files_mapping_one_cluster_again_and_again_cost_only_themselves() {
    each_image("ntfs-lznt1-bomb", &seeds(), &mut |case, want, arts, f| {
        // The honest compressed files were written after the bombs (and came back:
        // survives).
        assert!(want.keys().any(|k| k.starts_with("/packed/zz-log")));
        let bombs: Vec<_> = arts
            .iter()
            .filter(|a| a["path"].as_str().unwrap_or("").contains("/z-bomb"))
            .collect();
        assert!(bombs.len() >= 75, "{}", bombs.len());
        for b in &bombs {
            // Listed and decoded up to the unit that maps a cluster again; the
            // rest is a gap, never the same bytes decoded over and over.
            assert_eq!(b["status"], "partial", "{b}");
            assert!(b["runs"].to_string().contains("lznt1"), "{b}");
            let copy = std::fs::read(case.join(b["extracted"].as_str().unwrap())).unwrap();
            let data = copy.iter().rposition(|&x| x != 0).map_or(0, |i| i + 1);
            assert!(data <= 64 << 10, "{data} bytes decoded");
        }
        assert!(has(f, "a second time"), "{f:?}");
    });
}

#[test]
fn compressed_files_mapping_another_files_clusters_draw_on_one_volume_budget() {
    each_image("ntfs-shared-bomb", &seeds(), &mut |case, want, arts, f| {
        // The donor whose clusters every bomb maps, and the honest compressed
        // files after the bombs, came back (survives).
        assert!(want.keys().any(|k| k.starts_with("/packed/donor-")));
        assert!(want.keys().any(|k| k.starts_with("/packed/zz-log")));
        let bombs: Vec<_> = arts
            .iter()
            .filter(|a| a["path"].as_str().unwrap_or("").contains("/packed/s-"))
            .collect();
        assert!(bombs.len() >= 125, "{}", bombs.len());
        // Every bomb is listed; copies were made until the volume's budget for
        // bytes no stored byte of their own pays for (the 64 MiB volume + 64
        // MiB) was spent, and no further.
        let copied: u64 = bombs
            .iter()
            .filter_map(|b| b["extracted"].as_str())
            .map(|p| std::fs::metadata(case.join(p)).unwrap().len())
            .sum();
        assert!(copied > 0 && copied <= 128 << 20, "{copied}");
        let refused = f
            .iter()
            .filter(|w| w.contains("/packed/s-") && w.contains("credited to other files"))
            .count();
        let extracted = bombs.iter().filter(|b| b["extracted"].is_string()).count();
        assert!(
            refused > 0 && refused + extracted == bombs.len(),
            "{refused} {extracted}"
        );
    });
}

#[test]
fn ntfs_size_fields_claiming_terabytes_cost_one_finding_each() {
    each_image("ntfs-size-bomb", &seeds(), &mut |_, want, arts, f| {
        // The files in the folder whose index claims terabytes came back
        // (survives): they are found through the MFT, not the index.
        assert!(want.keys().any(|k| k.starts_with("/idx/")));
        let bombs: Vec<_> = arts
            .iter()
            .filter(|a| a["path"].as_str().unwrap_or("").starts_with("/z-size"))
            .collect();
        assert!(bombs.len() >= 15, "{}", bombs.len());
        for b in &bombs {
            assert!(b["extracted"].is_null(), "{b}");
        }
        assert!(
            f.iter().filter(|w| w.contains("implausible")).count() >= bombs.len(),
            "{f:?}"
        );
        // The MFT's claim of billions of records is one finding, not one per
        // record the runs do not hold (was one per KiB of the volume).
        assert_eq!(
            f.iter()
                .filter(|w| w.contains("outside the MFT's runs"))
                .count(),
            1,
            "{}",
            f.len()
        );
        assert!(f.len() < 200, "{} findings", f.len());
    });
}

#[test]
fn folders_each_claiming_the_rest_of_an_exfat_volume_are_read_once() {
    each_image("exfat-dir-bomb", &seeds(), &mut |_, want, arts, f| {
        // The honest folder beside them came back (survives), and the walk was
        // not cut short by its read budget: each cluster was read as a folder once.
        assert!(want.keys().any(|k| k.starts_with("/docs/")));
        assert!(!has(f, "cut short"), "{f:?}");
        assert!(has(f, "already read as a directory"), "{f:?}");
        let folders = arts
            .iter()
            .filter(|a| a["path"].as_str().unwrap_or("").starts_with("/z/d"))
            .count();
        assert!(folders >= 300, "{folders}");
    });
}

#[test]
fn fat_folders_chained_through_each_other_are_read_once() {
    each_image("fat-dir-bomb", &seeds(), &mut |_, want, arts, f| {
        // Every honest file came back within the time and memory (survives):
        // each folder's clusters were read once, not once per folder that
        // chains through them (1.25 GB peak RSS before).
        assert!(want.keys().any(|k| k.starts_with("/DOCS/")));
        assert!(has(f, "already read as a directory"), "{f:?}");
        let folders = arts
            .iter()
            .filter(|a| a["path"].as_str().unwrap_or("").starts_with("/Z/D"))
            .count();
        assert!(folders >= 300, "{folders}");
    });
}

#[test]
fn hundreds_of_sparse_files_cost_a_bounded_amount_of_zeros() {
    each_image("sparse-bomb", &seeds(), &mut |_, _, arts, f| {
        let holes: Vec<&serde_json::Value> = arts
            .iter()
            .filter(|a| a["path"].as_str().unwrap_or("").starts_with("/m-hole"))
            .collect();
        assert!(holes.len() >= 200, "{}", holes.len());
        // Every sparse file is listed; the copies stop at the volume's budget of
        // holes (4 × 16 MiB + 4 GiB: four of these files), and the rest say why.
        let copied = holes.iter().filter(|a| a["extracted"].is_string()).count();
        assert!((3..=5).contains(&copied), "{copied} copied");
        let told = f
            .iter()
            .filter(|w| w.contains("past what this volume's copies may hold"))
            .count();
        assert_eq!(told, holes.len() - copied);
    });
}
