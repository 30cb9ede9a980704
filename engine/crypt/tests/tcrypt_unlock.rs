//! cryptsetup's TrueCrypt/VeraCrypt test images (`tests/tcrypt-images.tar.xz`
//! of cryptsetup, GPL-2.0-or-later; ../shared/testdata/SOURCES.md) opened with
//! the passwords, keyfiles and PIM of cryptsetup's `tests/tcrypt-compat-test`:
//! the plaintext of each is the FAT filesystem with volume ID DEAD-BABE that
//! test checks for, and the master key is the one `cryptsetup tcryptDump
//! --dump-volume-key` prints.

mod common;

use common::{have, unpack};
use dredge_core::{Extent, ImageSource, VolumeReader};
use dredge_crypt::{tcrypt_sequential, unlock_tcrypt, unlock_tcrypt_system, Layered, Secret};
use std::sync::Arc;

const PASSWORD: &[u8] = b"aaaaaaaaaaaa";
const PASSWORD_HIDDEN: &[u8] = b"bbbbbbbbbbbb";
const PASSWORD_PIM: &[u8] = b"cccccccccccccccccccc";

/// The FAT volume serial number of the plaintext's first sector, as blkid
/// prints it (FAT12/16 at byte 39, FAT32 at 67).
fn fat_serial(src: Arc<dyn ImageSource>, layer: dredge_crypt::Layer) -> String {
    let at = layer.extent.start;
    let plain = Layered::new(src, vec![layer]);
    let mut b = [0u8; 512];
    plain.read_at(at, &mut b).unwrap();
    let o = if &b[82..87] == b"FAT32" { 67 } else { 39 };
    format!(
        "{:02X}{:02X}-{:02X}{:02X}",
        b[o + 3],
        b[o + 2],
        b[o + 1],
        b[o]
    )
}

#[test]
fn every_image_opens_to_the_filesystem_cryptsetups_test_expects() {
    if !have("tar") || !have("xz") {
        return;
    }
    let dir = unpack("tcrypt-images.tar.xz", "dredge-tcrypt", &[]);
    let kf1 = Secret::KeyFile(std::fs::read(dir.join("keyfile1")).unwrap());
    let kf2 = Secret::KeyFile(std::fs::read(dir.join("keyfile2")).unwrap());
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("tc") || n.starts_with("vc") || n.starts_with("sys_"))
        .collect();
    names.sort();
    let mut opened = 0;
    for name in &names {
        let bytes = std::fs::read(dir.join(name)).unwrap();
        let n = bytes.len() as u64;
        let src: Arc<dyn ImageSource> = Arc::new(common::Mem(bytes));
        let vol = VolumeReader::new(Arc::clone(&src), Extent::new(0, n));
        let pw = Secret::Password(PASSWORD.to_vec());
        let mut keys: Vec<&Secret> = vec![&pw];
        let pim;
        let pimpw = Secret::Password(PASSWORD_PIM.to_vec());
        if let Some(p) = name.strip_prefix("vcpim_1_") {
            pim = Secret::Pim(p.split('-').next().unwrap().parse().unwrap());
            keys = vec![&pimpw, &pim];
        }
        if name.starts_with("vck_") {
            keys.extend([&kf1, &kf2]);
        }
        let o = if name.starts_with("sys_") {
            unlock_tcrypt_system(&src, &keys, &tcrypt_sequential)
        } else {
            unlock_tcrypt(&vol, &keys, &tcrypt_sequential)
        }
        .unwrap_or_else(|e| panic!("{name}: {e}"));
        // TrueCrypt 1.0's CBC with whitening: the data mode is cbc-tcw.
        if name.contains("-cbc-") {
            assert!(o.layer.cipher.spec().contains("cbc-tcw"), "{name}");
        }
        assert_eq!(fat_serial(Arc::clone(&src), o.layer), "DEAD-BABE", "{name}");
        opened += 1;
        if name.contains("hidden") {
            let h = Secret::Password(PASSWORD_HIDDEN.to_vec());
            let o = unlock_tcrypt(&vol, &[&h], &tcrypt_sequential)
                .unwrap_or_else(|e| panic!("{name} hidden: {e}"));
            assert!(o.by.contains("hidden"), "{}", o.by);
            // The hidden volume is a filesystem of its own (the test's CAFE-BABE).
            assert_eq!(
                fat_serial(Arc::clone(&src), o.layer),
                "CAFE-BABE",
                "{name} hidden"
            );
            opened += 1;
        }
    }
    assert!(opened >= 11, "{opened} of {names:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A header opened once in a process is opened again by deriving only the
/// key that opened it (a container file found by `--container-files` is
/// checked, then scanned): the second open starts no job of the sweep and
/// gives the same volume. A wrong password on the same header still sweeps
/// and fails.
#[test]
fn a_header_opened_before_is_opened_again_without_the_sweep() {
    if !have("tar") || !have("xz") {
        return;
    }
    let name = "vc_1-sha256-xts-aes";
    let dir = unpack("tcrypt-images.tar.xz", "dredge-tcrypt-again", &[name]);
    let bytes = std::fs::read(dir.join(name)).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    let n = bytes.len() as u64;
    let src: Arc<dyn ImageSource> = Arc::new(common::Mem(bytes));
    let vol = VolumeReader::new(Arc::clone(&src), Extent::new(0, n));
    let started = std::sync::atomic::AtomicUsize::new(0);
    let counting = |n: usize, job: &(dyn Fn(usize) -> bool + Sync)| {
        for i in 0..n {
            started.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            if job(i) {
                break;
            }
        }
    };
    let jobs = || started.swap(0, std::sync::atomic::Ordering::Relaxed);
    let pw = Secret::Password(PASSWORD.to_vec());
    // The first open here may already be the second in this process (the
    // test above opens the same image).
    let first = unlock_tcrypt(&vol, &[&pw], &counting).unwrap();
    jobs();
    let again = unlock_tcrypt(&vol, &[&pw], &counting).unwrap();
    assert_eq!(jobs(), 0, "the second open swept the KDFs again");
    assert_eq!(again.fingerprint, first.fingerprint);
    assert_eq!(again.by, first.by);
    assert_eq!(again.layer.extent, first.layer.extent);
    assert_eq!(fat_serial(Arc::clone(&src), again.layer), "DEAD-BABE");
    let wrong = Secret::Password(b"not the password".to_vec());
    assert!(unlock_tcrypt(&vol, &[&wrong], &counting).is_err());
    // Every KDF of the normal header and of the hidden volume's.
    assert!(jobs() >= 2 * 10, "a wrong password was not swept");
}
