//! FileVault 2 on CoreStorage: cryptsetup's test volume
//! (`tests/fvault2-images.tar.xz` of cryptsetup, GPL-2.0-or-later, kept in
//! testimages/external/cryptsetup with its attribution). Its metadata must
//! read as `cryptsetup fvault2Dump` prints it; its passphrase must give the
//! plaintext whose SHA-256 cryptsetup's own test publishes (that of its
//! dm-crypt mapping), and so must the volume key given as such; a wrong key
//! names the users tried; random damage to the header and metadata never
//! panics the reader.

mod common;

use common::{have, File, Mem, Patched};
use dredge_core::FileSystem;
use dredge_core::{Extent, ImageSource, VolumeReader};
use dredge_crypt::{unlock, EncryptedVolume, FileVault, Layered, Secret};
use sha2::{Digest, Sha256};
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;

const PASS: &str = "heslo123";
/// The decrypted logical volume's SHA-256 (cryptsetup's fvault2-compat-test).
const PLAIN_SHA256: &str = "2c662e36c0f7e2f5583e6a939bbcbdc660805692d0fccaa45ad4052beb3b8e18";

fn image(tag: &str) -> Option<PathBuf> {
    if !have("tar") || !have("xz") {
        return None;
    }
    let dir = std::env::temp_dir().join(format!("dredge-fvault-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let tarball = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testimages/external/cryptsetup/fvault2-images.tar.xz");
    assert!(Command::new("tar")
        .arg("-xJSf")
        .arg(tarball)
        .arg("-C")
        .arg(&dir)
        .status()
        .unwrap()
        .success());
    Some(dir.join("fvault2-images/small"))
}

fn sha256_of(src: Arc<dyn ImageSource>, layer: dredge_crypt::Layer) -> String {
    let e = layer.extent;
    let plain = Layered::new(src, vec![layer]);
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut at = e.start;
    while at < e.end() {
        let n = (e.end() - at).min(buf.len() as u64) as usize;
        assert!(plain.read_at(at, &mut buf[..n]).unwrap().is_clean());
        h.update(&buf[..n]);
        at += n as u64;
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// `cryptsetup fvault2Dump`'s fields (with `--dump-volume-key` when a
/// passphrase is given).
fn dump(img: &PathBuf, pass: Option<&str>) -> Vec<(String, String)> {
    use std::io::Write;
    let mut c = Command::new("cryptsetup");
    c.arg("fvault2Dump").arg(img);
    if pass.is_some() {
        c.arg("--dump-volume-key");
    }
    let mut c = c
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    c.stdin
        .take()
        .unwrap()
        .write_all(pass.unwrap_or("").as_bytes())
        .unwrap();
    let out = String::from_utf8(c.wait_with_output().unwrap().stdout).unwrap();
    out.lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect()
}

fn field<'a>(d: &'a [(String, String)], k: &str) -> &'a str {
    &d.iter()
        .find(|(x, _)| x == k)
        .unwrap_or_else(|| panic!("{k}: {d:?}"))
        .1
}

fn hex(s: &str) -> Vec<u8> {
    let h: String = s.chars().filter(char::is_ascii_hexdigit).collect();
    (0..h.len() / 2)
        .map(|i| u8::from_str_radix(&h[2 * i..2 * i + 2], 16).unwrap())
        .collect()
}

#[test]
fn filevault_metadata_reads_as_cryptsetup_dumps_it_and_the_passphrase_gives_the_published_plaintext(
) {
    let Some(path) = image("open") else { return };
    let f = std::fs::File::open(&path).unwrap();
    let n = f.metadata().unwrap().len();
    let src: Arc<dyn ImageSource> = Arc::new(File(f, n));
    let vol = VolumeReader::new(Arc::clone(&src), Extent::new(0, n));
    let fv = FileVault::read(&vol).unwrap();
    assert!(fv.encrypted && fv.problems.is_empty(), "{:?}", fv.problems);
    if have("cryptsetup") {
        let d = dump(&path, None);
        assert_eq!(fv.pv_uuid, field(&d, "Physical volume UUID"));
        let what = &fv.findings(0)[0].what;
        assert!(what.contains(field(&d, "Family UUID")), "{what}");
        assert_eq!(
            format!("{} [bytes]", fv.lv_offset.unwrap()),
            field(&d, "Logical volume offset")
        );
        assert_eq!(
            format!("{} [bytes]", fv.lv_size.unwrap()),
            field(&d, "Logical volume size")
        );
        assert!(fv.findings(0)[0]
            .what
            .contains(&format!("{} iterations", field(&d, "PBKDF2 iterations"))));
    }
    // The finding names the protector and the layout, never a key.
    let what = &fv.findings(0)[0].what;
    assert!(
        what.contains("FileVault 2")
            && what.contains("204222 iterations")
            && what.contains(": passphrase (user type"),
        "{what}"
    );

    // The passphrase opens it; the plaintext is cryptsetup's.
    let o = unlock(&vol, &[&Secret::Password(PASS.as_bytes().to_vec())]).unwrap();
    assert_eq!(o.kind, "filevault2");
    assert!(o.by.contains("passphrase"), "{}", o.by);
    assert_eq!(o.layer.extent, Extent::new(67_108_864, 167_772_160));
    let fp = o.fingerprint.clone();
    assert_eq!(sha256_of(Arc::clone(&src), o.layer), PLAIN_SHA256);

    // The volume key cryptsetup prints (XTS key and tweak key) opens it too,
    // and so does its first half (the tweak key derived as FileVault does).
    let vk = if have("cryptsetup") {
        hex(field(&dump(&path, Some(PASS)), "Volume key"))
    } else {
        hex("20734d3389212774d7610c29d732880916f3be14c4b12ac7aaf07e5ccc77b319")
    };
    assert_eq!(vk.len(), 32);
    assert_eq!(fp, dredge_crypt::fingerprint(&vk[..16]));
    for k in [vk.clone(), vk[..16].to_vec()] {
        let o = unlock(&vol, &[&Secret::VolumeKey(k)]).unwrap();
        assert_eq!(sha256_of(Arc::clone(&src), o.layer), PLAIN_SHA256);
    }

    // Wrong keys: one line naming what was tried, never the key.
    let e = unlock(
        &vol,
        &[
            &Secret::Password(b"heslo124".to_vec()),
            &Secret::VolumeKey(vec![7; 16]),
            &Secret::Recovery(b"1".to_vec()),
        ],
    )
    .unwrap_err();
    assert!(e.contains("password on 1 user(s)"), "{e}");
    assert!(e.contains("master-key") && e.contains("recovery"), "{e}");
    assert!(!e.contains("heslo") && !e.contains('\n'), "{e}");

    // Without a key: described, nothing to list or carve.
    let ev = EncryptedVolume::open(vol.clone()).unwrap();
    assert_eq!(ev.type_name(), "filevault2");
    assert!(ev.unallocated(&mut Vec::new()).is_empty());
    let _ = std::fs::remove_dir_all(path.parent().unwrap().parent().unwrap());
}

#[test]
fn damaged_corestorage_metadata_never_panics() {
    let Some(path) = image("damage") else { return };
    // The header, the disk label, the first metadata blocks.
    let mut bytes = vec![0u8; 2049 * 4096 + 4 * 8192];
    {
        use std::os::unix::fs::FileExt;
        std::fs::File::open(&path)
            .unwrap()
            .read_exact_at(&mut bytes, 0)
            .unwrap();
    }
    let bytes = Arc::new(bytes);
    let (mut rng, cases) = dredge_testkit::mutation_setup(0xF7A2);
    let regions = [(0usize, 512usize), (4096, 8192), (2049 * 4096, 4 * 8192)];
    let mut failed = 0;
    for _ in 0..cases {
        let (at, len) = regions[rng.index(regions.len())];
        let patches: Vec<(usize, u8)> = (0..1 + rng.index(8))
            .map(|_| (at + rng.index(len), rng.next() as u8))
            .collect();
        let src: Arc<dyn ImageSource> = Arc::new(Patched(Arc::clone(&bytes), patches));
        let n = src.size();
        let vol = VolumeReader::new(src, Extent::new(0, n));
        match FileVault::read(&vol) {
            Ok(f) => {
                let _ = f.findings(0);
                if !f.problems.is_empty() {
                    failed += 1;
                }
                let _ = unlock(&vol, &[&Secret::VolumeKey(vec![1; 16])]);
            }
            Err(_) => failed += 1,
        }
    }
    // Damage the checksums cover is told, not taken.
    assert!(failed > cases / 2, "{failed} of {cases}");
    let _ = std::fs::remove_dir_all(path.parent().unwrap().parent().unwrap());
}

#[test]
fn a_plain_memory_image_is_not_corestorage() {
    let vol = VolumeReader::new(Arc::new(Mem(vec![0u8; 1 << 16])), Extent::new(0, 1 << 16));
    assert!(FileVault::read(&vol).is_err());
}
