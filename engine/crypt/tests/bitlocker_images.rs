//! cryptsetup's BitLocker test images (`tests/bitlk-images.tar.xz` of
//! cryptsetup, GPL-2.0-or-later; ../shared/testdata/SOURCES.md): their volume
//! headers and FVE metadata, damaged at random, never panic the reader; the
//! undamaged ones read as `bitlk-images.conf` says.

mod common;

use common::{have, unpack, Mem, Patched};
use dredge_core::{Extent, VolumeReader};
use dredge_crypt::{BitLocker, EncryptedVolume};
use std::sync::Arc;

fn vol(bytes: Vec<u8>) -> VolumeReader {
    let n = bytes.len() as u64;
    VolumeReader::new(Arc::new(Mem(bytes)), Extent::new(0, n))
}

#[test]
fn bitlocker_metadata_reads_as_the_conf_says_and_damage_never_panics() {
    if !have("tar") || !have("xz") {
        return;
    }
    let dir = unpack(
        "bitlk-images.tar.xz",
        "dredge-bitlk",
        &["bitlk-aes-xts-128.img", "bitlk-togo-aes-xts-128.img"],
    );
    let (mut rng, cases) = dredge_testkit::mutation_setup(0x1014);
    for (name, guid, to_go) in [
        (
            "bitlk-aes-xts-128.img",
            "8f595209-f5b9-49a0-85d4-cb8f80258c27",
            false,
        ),
        (
            "bitlk-togo-aes-xts-128.img",
            "dca1850a-0ef6-4ece-8acb-9f42ca63bdd1",
            true,
        ),
    ] {
        let img = Arc::new(std::fs::read(dir.join(name)).unwrap());
        let b = BitLocker::read(&vol(img.to_vec())).unwrap();
        assert_eq!((b.guid.as_str(), b.to_go), (guid, to_go));
        assert_eq!(b.protectors.len(), 2, "{b:?}");
        assert!(b.problems.is_empty());
        // Where the header and the first metadata copy lie.
        let meta = b.metadata_offsets[0] as usize;
        for _ in 0..cases / 4 {
            let patch = (0..1 + rng.below(8))
                .map(|_| {
                    let at = match rng.below(3) {
                        0 => rng.index(512),
                        _ => meta + rng.index(2048),
                    };
                    (at, rng.next() as u8)
                })
                .collect();
            let n = img.len() as u64;
            let v = VolumeReader::new(
                Arc::new(Patched(Arc::clone(&img), patch)),
                Extent::new(0, n),
            );
            if let Ok(b) = BitLocker::read(&v) {
                let _ = b.findings(0, n);
            }
            let _ = EncryptedVolume::open(v);
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Opening, not only reading: the image whose protection is suspended opens
/// with no key (no KDF, so many cases are cheap), and damage to its header
/// and metadata (offsets, entry sizes, wrapped keys, the moved-header entry)
/// must end in a layer or an error, never a panic; a layer's segments stay
/// inside the volume and cover it.
#[test]
fn damaged_bitlocker_metadata_never_panics_the_unlock() {
    if !have("tar") || !have("xz") {
        return;
    }
    let name = "bitlk-aes-xts-128-clearkey-only.img";
    let dir = unpack("bitlk-images.tar.xz", "dredge-bitlk-mut", &[name]);
    let img = Arc::new(std::fs::read(dir.join(name)).unwrap());
    let n = img.len() as u64;
    let clean = VolumeReader::new(
        Arc::new(Patched(Arc::clone(&img), vec![])),
        Extent::new(0, n),
    );
    assert!(dredge_crypt::unlock(&clean, &[]).is_ok());
    let meta = BitLocker::read(&vol(img.to_vec()))
        .unwrap()
        .metadata_offsets;
    let (mut rng, cases) = dredge_testkit::mutation_setup(0x1015);
    let (mut opened, mut refused) = (0, 0);
    for _ in 0..cases / 2 {
        let patch = (0..1 + rng.below(6))
            .map(|_| {
                let at = match rng.below(4) {
                    0 => rng.index(512),
                    // Every metadata copy: the reader falls back between them.
                    k => meta[(k - 1) as usize] as usize + rng.index(1024),
                };
                (at, rng.next() as u8)
            })
            .collect();
        let v = VolumeReader::new(
            Arc::new(Patched(Arc::clone(&img), patch)),
            Extent::new(0, n),
        );
        match dredge_crypt::unlock(&v, &[]) {
            Ok(o) => {
                let segs = &o.layer.segments;
                assert_eq!(segs.first().unwrap().plain.start, 0);
                assert!(segs
                    .windows(2)
                    .all(|w| w[0].plain.end() == w[1].plain.start));
                assert!(segs.last().unwrap().plain.end() <= n);
                opened += 1;
            }
            Err(_) => refused += 1,
        }
    }
    assert!(
        opened > 0 && refused > 0,
        "{opened} opened, {refused} refused"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
