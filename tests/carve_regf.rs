//! Windows registry hives carved from random bytes: one written by Windows XP
//! (hivex's `special`) and one of about a megabyte grown from hivex's
//! `minimal` by `hivexsh -w` (300 keys with a value each, hundreds of bins)
//! come back whole and bit-exact, unverified (no checksum covers the cells);
//! one with a bin damaged in the middle, and one cut off, come back partial
//! before the bin that does not check.

mod common;
use common::*;
use std::path::Path;

fn repo(rel: &str) -> Vec<u8> {
    std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)).unwrap()
}

/// The offsets of a hive's bins, walked by their sizes.
fn bins(h: &[u8]) -> Vec<usize> {
    let le32 = |i: usize| u32::from_le_bytes(h[i..i + 4].try_into().unwrap()) as usize;
    let end = 4096 + le32(40);
    let mut at = 4096;
    let mut out = Vec::new();
    while at < end {
        assert_eq!(&h[at..at + 4], b"hbin");
        out.push(at);
        at += le32(at + 8);
    }
    out
}

#[test]
fn registry_hives_come_back_whole_and_damaged_ones_partial() {
    if !tools(&["hivexsh"]) {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    let special = repo("testimages/carving/seeds/special.hive");
    std::fs::write(p.join("big.hive"), repo("testimages/carving/regf/minimal")).unwrap();
    let mut cmds = String::new();
    for i in 0..300 {
        cmds += &format!(
            "add key{i:04}\ncd key{i:04}\nsetval 1\nvalue{i}\nstring:{}\ncd ..\n",
            format!("payload {i} ").repeat(60)
        );
    }
    cmds += "commit\n";
    std::fs::write(p.join("cmds"), cmds).unwrap();
    let big = made(p, "hivexsh -w big.hive < cmds > /dev/null", "big.hive");
    let b = bins(&big);
    assert!(b.len() > 100, "{} bins", b.len());
    // A byte of a cell size in a middle bin: its cells no longer tile it.
    let mid = b[b.len() / 2];
    let mut bad = big.clone();
    bad[mid + 32 + 2] ^= 0x40;
    // Cut three quarters of the way in (noise follows).
    let three_q = b[b.len() * 3 / 4];
    let cut = big[..three_q + 1000].to_vec();

    let place: [(usize, &[u8], Option<usize>); 4] = [
        (0x10000, &special, None),
        (0x100000, &big, None),
        (0x300000, &bad, Some(mid)),
        (0x500000, &cut, Some(three_q)),
    ];
    let laid: Vec<(usize, &[u8])> = place.iter().map(|(at, f, _)| (*at, *f)).collect();
    let arts = carve_laid(p, 7 << 20, 43, &laid, 3);
    for (off, f, kept) in &place {
        let want = match kept {
            None => Want::Unverified(f),
            Some(n) => Want::Partial(Some(*n as u64)),
        };
        expect_carved(&arts, *off as u64, "regf", "hive", want);
    }
}
