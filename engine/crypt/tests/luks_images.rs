//! cryptsetup's LUKS1 test images (`tests/luks1-images.tar.xz` of cryptsetup,
//! GPL-2.0-or-later; ../shared/testdata/SOURCES.md) open with their `keyfile1`:
//! the volume key dredge derives is the one `cryptsetup luksDump
//! --dump-volume-key` prints (compared by fingerprint), and a wrong key opens
//! nothing and says what it tried.

mod common;

use common::{have, unpack, Mem};
use dredge_core::{Extent, VolumeReader};
use dredge_crypt::{fingerprint, unlock, Secret};
use std::path::Path;
use std::process::Command;
use std::sync::Arc;

/// The volume key cryptsetup prints for `img` opened with `keyfile`; `None`
/// where cryptsetup needs device-mapper to decrypt the keyslot (the kernel's
/// crypto API here has no ESSIV), which this machine does not have.
fn cryptsetup_key(img: &Path, keyfile: &Path) -> Option<Vec<u8>> {
    let o = Command::new("cryptsetup")
        .args([
            "luksDump",
            "--dump-volume-key",
            "--batch-mode",
            "--key-file",
        ])
        .arg(keyfile)
        .arg(img)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    if err.contains("device-mapper") {
        return None;
    }
    assert!(o.status.success(), "{err}");
    let text = String::from_utf8_lossy(&o.stdout);
    let hex: String = text
        .split("MK dump:")
        .nth(1)
        .unwrap_or("")
        .split_whitespace()
        .take_while(|w| w.len() == 2 && w.bytes().all(|c| c.is_ascii_hexdigit()))
        .collect();
    Some(
        (0..hex.len() / 2)
            .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap())
            .collect(),
    )
}

#[test]
fn cryptsetups_luks1_images_open_with_their_keyfile_and_not_with_another() {
    if !have("cryptsetup") || !have("tar") || !have("xz") {
        return;
    }
    let dir = unpack("luks1-images.tar.xz", "dredge-luks1", &[]);
    let keyfile = dir.join("keyfile1");
    let key = Secret::KeyFile(std::fs::read(&keyfile).unwrap());
    let wrong = Secret::Password(b"not the key".to_vec());
    let mut compared = 0;
    for name in [
        "luks1_aes-xts-plain64-sha256.img",
        "luks1_aes-cbc-essiv-sha256-sha1.img",
        "luks1_serpent-xts-plain64-sha1.img",
    ] {
        let img = dir.join(name);
        let bytes = std::fs::read(&img).unwrap();
        let n = bytes.len() as u64;
        let vol = VolumeReader::new(Arc::new(Mem(bytes)), Extent::new(0, n));
        let why = unlock(&vol, &[&wrong]).unwrap_err();
        assert!(why.contains("password on keyslots 0"), "{name}: {why}");
        let opened = unlock(&vol, &[&wrong, &key]).unwrap();
        assert_eq!(opened.by, "keyslot 0 with a keyfile");
        assert_eq!(opened.layer.extent, Extent::from_bounds(4096 * 512, n));
        // (The header's own digest of the key already matched; cryptsetup's
        // key is a second opinion where it can give one.)
        if let Some(k) = cryptsetup_key(&img, &keyfile) {
            assert_eq!(opened.fingerprint, fingerprint(&k), "{name}");
            let mk = Secret::VolumeKey(k);
            assert_eq!(unlock(&vol, &[&mk]).unwrap().by, "the volume key given");
            compared += 1;
        }
    }
    assert!(compared >= 2, "cryptsetup confirmed only {compared} keys");
    // Damaged headers and key material: never a panic, and a header whose
    // digest still matches opens to the same key (the digest is the proof).
    let img = std::fs::read(dir.join("luks1_aes-xts-plain64-sha256.img")).unwrap();
    let good = {
        let n = img.len() as u64;
        let vol = VolumeReader::new(Arc::new(Mem(img.clone())), Extent::new(0, n));
        unlock(&vol, &[&key]).unwrap().fingerprint
    };
    let (mut rng, cases) = dredge_testkit::mutation_setup(0x1013);
    // Each case runs the keyslot's KDF, and a mutated iteration count can ask
    // for millions: a sixtieth of the usual count keeps the test short.
    let mut opened = 0;
    for _ in 0..cases / 60 {
        let mut m = img[..(4096 * 512)].to_vec();
        for _ in 0..1 + rng.below(6) {
            // The header (592 bytes) or keyslot 0's key material (sector 8 on).
            let at = if rng.below(2) == 0 {
                rng.index(592)
            } else {
                4096 + rng.index(4000 * 32)
            };
            m[at] = rng.next() as u8;
        }
        m.extend_from_slice(&img[4096 * 512..]);
        let n = m.len() as u64;
        let vol = VolumeReader::new(Arc::new(Mem(m)), Extent::new(0, n));
        if let Ok(o) = unlock(&vol, &[&key, &wrong]) {
            assert_eq!(o.fingerprint, good);
            opened += 1;
        }
    }
    // Bytes nothing reads (padding, other keyslots' fields) leave it openable.
    assert!(opened > 0 || cases < 600);
    std::fs::remove_dir_all(&dir).unwrap();
}
