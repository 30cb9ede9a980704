//! Apple binary property lists carved from random bytes: plists written by
//! Python's plistlib (the CoreFoundation layout: every kind of object, a small
//! one and one of about a megabyte with wide offsets) come back whole and
//! bit-exact, found by their trailer (unverified: nothing checksums a plist);
//! one whose trailer is overwritten is not claimed as a plist.

mod common;
use common::*;

#[test]
fn binary_plists_come_back_whole_and_ones_without_a_trailer_are_not_claimed() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    let script = r#"
import datetime, plistlib, sys
small = {"name": "evidence", "n": 7, "pi": 3.25, "ok": True, "no": False,
         "when": datetime.datetime(2026, 12, 3, 16, 0, 0),
         "data": bytes(range(40)), "uid": plistlib.UID(3), "list": [1, "two", 3.0],
         "ünï": "cödé ✓"}
big = {f"item-{i:05}": {"path": f"/Users/suspect/Documents/file-{i}.txt",
                         "size": i * 4096, "tags": ["seized", "imaged", i],
                         "blob": bytes((i * 7 + k) % 256 for k in range(48))}
       for i in range(6000)}
for name, v in (("small.plist", small), ("big.plist", big)):
    with open(sys.argv[1] + "/" + name, "wb") as f:
        plistlib.dump(v, f, fmt=plistlib.FMT_BINARY)
"#;
    std::fs::write(p.join("make.py"), script).unwrap();
    assert!(sh(&format!("python3 {0}/make.py {0}", p.display())));
    let small = std::fs::read(p.join("small.plist")).unwrap();
    let big = std::fs::read(p.join("big.plist")).unwrap();
    assert!(big.len() > 500_000, "{}", big.len());
    // The trailer's table offset overwritten: no end can be found.
    let mut lost = small.clone();
    let n = lost.len();
    lost[n - 8..].copy_from_slice(&[0xff; 8]);
    let place: [(usize, &[u8], bool); 3] = [
        (0x10000, &small, true),
        (0x100000, &big, true),
        (0x300000, &lost, false),
    ];
    let laid: Vec<(usize, &[u8])> = place.iter().map(|(at, f, _)| (*at, *f)).collect();
    let arts = carve_laid(p, 4 << 20, 59, &laid, 0);
    for (off, f, whole) in &place {
        if *whole {
            expect_carved(&arts, *off as u64, "bplist", "plist", Want::Unverified(f));
        } else {
            let a = carved_at(&arts, *off as u64, "bplist");
            assert!(a.is_none(), "{a:?}");
        }
    }
}
