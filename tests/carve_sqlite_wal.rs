//! SQLite write-ahead logs carved (issue 14, app artefacts): a log written by
//! the SQLite library (Python's sqlite3, autocheckpoint off, copied while the
//! database is open) comes back whole and bit-exact from random bytes; one
//! with a damaged frame ends before that frame, as SQLite's own recovery
//! reads it.

mod common;

use common::*;

#[test]
fn a_wal_written_by_sqlite_comes_back_whole_and_ends_before_a_damaged_frame() {
    if !tools(&["python3"]) {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let db = d.path().join("chat.db");
    let wal = d.path().join("copy.wal");
    assert!(sh(&format!(
        "python3 -c \"
import sqlite3, shutil, random
r = random.Random(3)
c = sqlite3.connect('{db}')
c.execute('pragma journal_mode=wal')
c.execute('pragma wal_autocheckpoint=0')
c.execute('create table messages(id integer primary key, body text, blob blob)')
c.commit()
for i in range(12):
    c.execute('insert into messages(body, blob) values (?, ?)', ('message %d' % i, r.randbytes(1500)))
    c.commit()
shutil.copy('{db}-wal', '{wal}')
c.close()
\"",
        db = db.display(),
        wal = wal.display()
    )));
    let log = std::fs::read(&wal).unwrap();
    let page = u32::from_be_bytes([log[8], log[9], log[10], log[11]]) as usize;
    let frame = 24 + page;
    assert_eq!((log.len() - 32) % frame, 0);
    let frames = (log.len() - 32) / frame;
    assert!(frames >= 12, "{frames} frames");
    // The same log with its 6th frame's page damaged.
    let mut bad = log.clone();
    bad[32 + 5 * frame + 24 + 100] ^= 0xFF;
    let mut img = noise(4 << 20, 21);
    img[0x10000..0x10000 + log.len()].copy_from_slice(&log);
    img[0x200000..0x200000 + bad.len()].copy_from_slice(&bad);
    let p = d.path().join("img.raw");
    std::fs::write(&p, &img).unwrap();
    // Exit 3: the frames after the damaged one hold images of page 1, which
    // start a database that breaks at its page 2 (partial, below).
    let arts = one_shot_ls("carve", &p, None, &d.path().join("case"), 3, &[]);
    let wal_at = |off: u64| {
        carved_at(&arts, off, "sqlite-wal")
            .unwrap_or_else(|| panic!("no log at {off:#x}: {arts:#?}"))
    };
    let whole = wal_at(0x10000);
    assert_eq!(whole["sha256"], sha256(&log));
    assert_eq!(whole["recovery"], "carved-complete");
    let cut = wal_at(0x200000);
    assert_eq!(cut["size"], (32 + 5 * frame) as u64, "five frames stand");
    assert_eq!(cut["sha256"], sha256(&log[..32 + 5 * frame]));
    // A page 1 inside a log is no database: never carved as a whole one.
    let pages_1: Vec<&serde_json::Value> = arts
        .iter()
        .filter(|a| {
            a["forensic_path"]
                .as_str()
                .unwrap_or("")
                .ends_with("/sqlite")
        })
        .collect();
    assert!(!pages_1.is_empty(), "{arts:#?}");
    for a in pages_1 {
        assert_eq!(a["status"], "partial", "{a}");
        assert!(a["size"].as_u64().unwrap() <= page as u64, "{a}");
    }
}
