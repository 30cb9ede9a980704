//! Windows event logs (EVTX) carved from random bytes: logs written by Windows
//! (python-evtx's test data, `testimages/carving/SOURCES.md`) come back as
//! their header and every chunk in use, each chunk's CRCs checked; a log with a
//! damaged chunk, or cut off in one, comes back partial before it.

mod common;
use common::*;
use std::path::Path;

fn repo(rel: &str) -> Vec<u8> {
    std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)).unwrap()
}

#[test]
fn event_logs_come_back_to_their_last_chunk_and_damaged_ones_partial() {
    let system = repo("testimages/carving/evtx/system.evtx");
    let one_chunk = repo("testimages/carving/seeds/issue_38.evtx");
    // Nine chunks in use, eight preallocated chunks of zeros after them.
    let used = 4096 + 9 * 65536;
    assert!(system.len() > used && system[used..].iter().all(|&b| b == 0));
    // A byte of the fourth chunk's records.
    let mut bad = system.clone();
    bad[4096 + 3 * 65536 + 700] ^= 0x20;
    // Cut halfway through the sixth chunk (noise follows).
    let cut = system[..4096 + 5 * 65536 + 30_000].to_vec();

    let d = tempfile::tempdir().unwrap();
    let place: [(usize, &[u8], Option<usize>); 4] = [
        (0x10000, &system, None),
        (0x200000, &one_chunk, None),
        (0x400000, &bad, Some(4096 + 3 * 65536)),
        (0x600000, &cut, Some(4096 + 5 * 65536)),
    ];
    let laid: Vec<(usize, &[u8])> = place.iter().map(|(at, f, _)| (*at, *f)).collect();
    let arts = carve_laid(d.path(), 8 << 20, 41, &laid, 3);
    for (off, f, kept) in &place {
        let want = match kept {
            None if f.len() > used => Want::Complete(&f[..used]),
            None => Want::Complete(f),
            Some(n) => Want::Partial(Some(*n as u64)),
        };
        expect_carved(&arts, *off as u64, "evtx", "evtx", want);
    }
}
