//! LevelDB logs carved (issue 14, apps): a database written by the LevelDB
//! library (testimages/make-leveldb.py, through plyvel) leaves a write-ahead log
//! with single puts and a batch split across 32 KiB blocks, and a MANIFEST. No
//! header marks either; laid into random bytes at sector boundaries, each comes
//! back whole and bit-exact, every record's CRC-32C checked. A log with one byte
//! changed ends before the record holding it.

mod common;

use common::*;
use std::path::Path;
use std::process::Command;

/// The Python that has plyvel (Debian's python3-plyvel is for /usr/bin/python3).
fn python() -> Option<&'static str> {
    ["python3", "/usr/bin/python3"].into_iter().find(|p| {
        Command::new(p)
            .args(["-c", "import plyvel"])
            .status()
            .is_ok_and(|s| s.success())
    })
}

#[test]
fn leveldb_logs_made_by_leveldb_come_back_whole() {
    let Some(py) = python() else {
        skip("no python3 with plyvel (python3-plyvel, scripts/install-tools.sh)");
        return;
    };
    let d = tempfile::tempdir().unwrap();
    let db = d.path().join("db");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("testimages/make-leveldb.py");
    assert!(Command::new(py)
        .arg(&script)
        .arg(&db)
        .status()
        .unwrap()
        .success());
    let read = |prefix: &str| {
        let p = std::fs::read_dir(&db)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .find(|p| p.file_name().unwrap().to_string_lossy().starts_with(prefix))
            .unwrap_or_else(|| panic!("no {prefix} file"));
        std::fs::read(p).unwrap()
    };
    let log = {
        let mut names: Vec<_> = std::fs::read_dir(&db)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "log"))
            .collect();
        names.sort();
        std::fs::read(names.last().expect("a .log")).unwrap()
    };
    let manifest = read("MANIFEST-");
    assert!(log.len() > 4 * 32768, "{} bytes", log.len());
    let mut bad = log.clone();
    let hit = 100_000;
    bad[hit] ^= 0x20;
    let place = [
        (0x10000usize, &log),
        (0x100000, &manifest),
        (0x200000, &bad),
    ];
    let laid: Vec<(usize, &[u8])> = place.iter().map(|(at, f)| (*at, f.as_slice())).collect();
    let arts = carve_laid(d.path(), 4 << 20, 43, &laid, 0);
    expect_carved(&arts, 0x10000, "leveldb", "log", Want::Complete(&log));
    expect_carved(
        &arts,
        0x100000,
        "leveldb",
        "manifest",
        Want::Complete(&manifest),
    );
    // The changed byte's record fails its CRC: the log ends at the record
    // before it (records of single puts here are ~130 bytes).
    let a = carved_at(&arts, 0x200000, "leveldb").unwrap_or_else(|| panic!("{arts:#?}"));
    let size = a["size"].as_u64().unwrap() as usize;
    assert!(size <= hit && size > hit - 400, "{a}");
    assert_eq!(a["sha256"], sha256(&log[..size]), "{a}");
    // Past the damaged record, what may be carved is the rest of that log from a
    // block start whose first record starts a batch (LevelDB's own reader
    // resynchronises at blocks the same way), or text from its values. Nothing
    // else, and nothing from inside a block.
    let tail = (0x200000 + size) as u64..(0x200000 + log.len()) as u64;
    for a in &arts {
        let fp = a["forensic_path"].as_str().unwrap();
        let at = a["runs"][0]["image_offset"].as_u64().unwrap();
        if [0x10000, 0x100000, 0x200000].contains(&at) {
            continue;
        }
        assert!(tail.contains(&at), "{a}");
        if fp.ends_with("/leveldb") {
            assert_eq!((at - 0x200000) % 32768, 0, "{a}");
            let from = (at - 0x200000) as usize;
            let n = a["size"].as_u64().unwrap() as usize;
            assert_eq!(a["sha256"], sha256(&log[from..from + n]), "{a}");
        } else {
            assert!(fp.ends_with("/text"), "{a}");
        }
    }
}
