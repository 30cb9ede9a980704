//! Progressive JPEGs (issue 14): written by ImageMagick (libjpeg's default
//! progressive script) and rewritten by jpegtran (with restart intervals,
//! with optimised tables), in several sizes, samplings and qualities, gray and
//! colour. Each is decoded scan by scan to its last bit: carved from among
//! noise it is complete and bit-exact; the same file with a stretch of
//! another progressive photo's data in the middle (as a file in two pieces
//! carved as one is), or cut short, is not complete.

mod common;

use common::*;

fn made(p: &std::path::Path, cmd: &str, out: &str) -> Vec<u8> {
    assert!(sh(&format!("cd {} && {cmd}", p.display())), "{cmd}");
    std::fs::read(p.join(out)).unwrap()
}

#[test]
fn progressive_jpegs_are_decoded_to_their_last_scan() {
    if !tools(&["convert", "jpegtran"]) {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    let mut photos = Vec::new();
    for (i, (size, sampling, q)) in [
        ("640x480", "4:2:0", 85),
        ("333x217", "4:4:4", 92),
        ("1024x768", "4:2:2", 70),
        ("17x9", "4:2:0", 50),
    ]
    .iter()
    .enumerate()
    {
        let out = format!("p{i}.jpg");
        photos.push(made(
            p,
            &format!(
                "convert -size {size} -seed {i} plasma:fractal -sampling-factor {sampling} -quality {q} -interlace JPEG {out}"
            ),
            &out,
        ));
    }
    photos.push(made(
        p,
        "convert -size 300x200 -seed 9 plasma:fractal -colorspace Gray -interlace JPEG g.jpg",
        "g.jpg",
    ));
    photos.push(made(
        p,
        "jpegtran -progressive -restart 2 p0.jpg > r.jpg",
        "r.jpg",
    ));
    photos.push(made(
        p,
        "jpegtran -progressive -optimize p2.jpg > o.jpg",
        "o.jpg",
    ));
    // Each among noise: complete, bit-exact.
    let mut at = 0x10000usize;
    let mut laid = Vec::new();
    for ph in &photos {
        laid.push((at, ph.as_slice()));
        at += ph.len().div_ceil(0x10000) * 0x10000 + 0x10000;
    }
    let dir = p.join("intact");
    std::fs::create_dir(&dir).unwrap();
    let arts = carve_laid(&dir, at + 0x10000, 3, &laid, 0);
    for (at, ph) in &laid {
        let a = carved_at(&arts, *at as u64, "jpeg").unwrap_or_else(|| panic!("{at}: {arts:#?}"));
        assert_eq!(a["status"], "complete", "{at}: {a}");
        assert_eq!(a["sha256"], sha256(ph), "{at}");
    }
    // A stretch of another progressive photo's scan data where this one's
    // middle sectors were (stuffed, marker-free: only decoding tells), and the
    // same photo cut short.
    let big = &photos[2];
    let other = &photos[0];
    let mid = big.len() / 2 / 512 * 512;
    let mut spliced = big[..mid].to_vec();
    spliced.extend_from_slice(&other[other.len() / 2 / 512 * 512..][..4096]);
    spliced.extend_from_slice(&big[mid..]);
    let short = big[..mid].to_vec();
    for (case, file) in [("spliced", &spliced), ("short", &short)] {
        let dir = p.join(case);
        std::fs::create_dir(&dir).unwrap();
        let arts = carve_laid(&dir, 1 << 20, 5, &[(0x10000, file)], 3);
        let a = carved_at(&arts, 0x10000, "jpeg").unwrap_or_else(|| panic!("{case}: {arts:#?}"));
        assert_eq!(a["status"], "partial", "{case}: {a}");
        assert!(
            a["size"].as_u64().unwrap() <= mid as u64 + 4096,
            "{case}: {a}"
        );
    }
}
