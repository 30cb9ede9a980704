//! Damaged and truncated versions of every ground-truth file, fed to every carver:
//! no panic, and no verdict longer than the data it was given.

use dredge_carvers::{registry, Reader, Verdict};
use dredge_core::ImageSource;
use dredge_image::{MemDevice, Sectored};
use std::path::Path;

#[test]
fn mutated_files_never_panic_any_carver() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../testimages/carving");
    let img = std::fs::read(root.join("ground-truth.img")).unwrap();
    let manifest = std::fs::read_to_string(root.join("MANIFEST.json")).unwrap();
    // Offsets and lengths without a JSON dependency: "offset": N, ... "stored_length": M
    let nums = |key: &str| -> Vec<u64> {
        manifest
            .split(&format!("\"{key}\": "))
            .skip(1)
            .map(|s| {
                s.split(|c: char| !c.is_ascii_digit())
                    .next()
                    .unwrap()
                    .parse()
                    .unwrap()
            })
            .collect()
    };
    let (offs, lens) = (nums("offset"), nums("stored_length"));
    let mut seeds: Vec<Vec<u8>> = offs
        .iter()
        .zip(&lens)
        .filter(|(_, l)| **l > 16)
        .map(|(o, l)| img[*o as usize..(*o + *l) as usize].to_vec())
        .collect();
    assert!(seeds.len() >= 11);
    // The families the ground-truth image does not hold
    // (testimages/make-carving-seeds.sh), in name order.
    let mut extra: Vec<_> = std::fs::read_dir(root.join("seeds"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    extra.sort();
    seeds.extend(extra.iter().map(|p| std::fs::read(p).unwrap()));
    let carvers = registry();
    // Every carver has at least one intact seed it takes, so every carver's
    // checks are what the mutations below go through (not only its signature).
    for c in &carvers {
        let takes = seeds.iter().any(|b| {
            let src = Sectored::new(MemDevice::new(b.clone()));
            let mut rd = Reader::new(&src as &dyn ImageSource, 0, c.max_size());
            !matches!(c.validate(&mut rd), Verdict::Reject)
        });
        assert!(
            takes,
            "no seed of {}: add one to make-carving-seeds.sh",
            c.name()
        );
    }
    let (mut r, cases) = dredge_testkit::mutation_setup(0x1234_5678_9ABC_DEF1);
    for case in 0..cases {
        let mut b = seeds[case % seeds.len()].clone();
        for _ in 0..1 + r.next() % 8 {
            let i = (r.next() as usize) % b.len();
            match r.next() % 5 {
                0 => b[i] = 0xFF,
                1 => b[i] = 0,
                2 => b.truncate(i.max(1)),
                3 => {
                    // A length field set huge.
                    let j = i.min(b.len().saturating_sub(4));
                    let end = (j + 4).min(b.len());
                    b[j..end].fill(0xFF);
                }
                _ => b[i] = r.next() as u8,
            }
        }
        let len = b.len() as u64;
        let src = Sectored::new(MemDevice::new(b));
        for c in &carvers {
            let mut rd = Reader::new(&src as &dyn ImageSource, 0, c.max_size());
            match c.validate(&mut rd) {
                Verdict::Complete { len: l, .. }
                | Verdict::Unverified { len: l, .. }
                | Verdict::Partial { len: l, .. } => {
                    assert!(l <= len + 2, "{} claims {l} bytes of {len}", c.name());
                }
                Verdict::Fragmented { fragments, .. } | Verdict::Joined { fragments, .. } => {
                    assert!(
                        fragments.iter().all(|(o, l)| o + l <= len),
                        "{} fragments past the data",
                        c.name()
                    );
                }
                Verdict::Reject => {}
            }
        }
    }
}
