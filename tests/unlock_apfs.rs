//! FileVault on APFS (issues 13 and 15): dfvfs's `apfs.raw` (made by macOS,
//! Apache-2.0, testimages/external/dfvfs) encrypted as FileVault does in
//! software by `testimages/apfs-encrypt.py` — tree nodes and file extents
//! under a volume key, one file's extent with a `crypto_id` other than its
//! block (`--moved`), key bags with a user's password, the personal
//! recovery key and a hint. Without a key the volume's protectors are named
//! and nothing of it is listed; with the password, the recovery key or the
//! volume key every file comes back with the content and path it has on the
//! unencrypted image; a wrong key fails with one line and registers nothing;
//! an unreadable ciphertext sector costs exactly the plaintext it held; a
//! file deleted before encryption's last transaction comes back, content
//! and all, from the older checkpoint's tree (`testimages/apfs-delete.py`),
//! and one that no checkpoint remembers from its orphaned node in free space
//! (`--forget`), which is read decrypted (`--free-too` writes the free blocks
//! that hold bytes as ciphertext, as macOS wrote them while in use).

mod common;

use common::*;
use std::path::{Path, PathBuf};

const PASS: &str = "apfs-TEST";
const RECOVERY: &str = "ABCD-EFGH-IJKL-MNOP-QRST-UVWX";
const USER: &str = "5A1E6C3B-9D2F-4E8A-8B7C-6D5E4F3A2B1C";

fn encrypted(dir: &Path) -> (PathBuf, PathBuf) {
    let plain = dfvfs(dir, "apfs.raw");
    (plain.clone(), encrypt(dir, &plain))
}

/// `plain` encrypted as FileVault does, with the test's keys.
fn encrypt(dir: &Path, plain: &Path) -> PathBuf {
    let enc = dir.join("filevault.raw");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("testimages/apfs-encrypt.py");
    let o = std::process::Command::new("python3")
        .arg(&script)
        .arg(plain)
        .arg(&enc)
        .arg(PASS)
        .args([
            "--recovery",
            RECOVERY,
            "--hint",
            "the usual one",
            "--moved",
            "--free-too",
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    enc
}

fn ready() -> bool {
    if !tools(&["python3", "gzip"]) {
        return false;
    }
    assert!(
        sh("python3 -c 'import cryptography' 2>/dev/null"),
        "python3-cryptography (scripts/install-tools.sh)"
    );
    true
}

/// path → SHA-256 of the files of the APFS volume (not carved).
fn volume_files(arts: &[serde_json::Value]) -> Hashes {
    hashes(arts)
        .into_iter()
        .filter(|(p, _)| p.starts_with("/apfs_test/"))
        .collect()
}

/// The files of the unencrypted image `plain`, recovered into `dir/p`: what
/// the unlocked copy must give back.
fn plain_files(plain: &Path, dir: &Path) -> Hashes {
    volume_files(&one_shot_ls("recover", plain, None, &dir.join("p"), 0, &[]))
}

#[test]
fn a_filevault_volume_names_its_protectors_and_opens_with_each_key() {
    if !ready() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (plain, enc) = encrypted(dir.path());
    let want = plain_files(&plain, dir.path());
    assert!(want.len() >= 7, "{want:?}");

    // No key: the protectors and the hint, nothing of the volume listed.
    let bare = dir.path().join("bare");
    let arts = one_shot_ls("recover", &enc, None, &bare, 0, &[]);
    assert!(volume_files(&arts).is_empty(), "{arts:?}");
    let f = findings(&bare).join("\n");
    assert!(
        f.contains("encrypted (FileVault)")
            && f.contains(&format!("protector {USER}: password"))
            && f.contains("personal recovery key")
            && f.contains("\"the usual one\"")
            && f.contains("mode 18300"),
        "{f}"
    );

    // The password, the recovery key and the volume key itself.
    let vek: String = sha256(format!("vek{PASS}").as_bytes());
    for (n, key) in [
        format!("password={PASS}"),
        format!("password={RECOVERY}"),
        format!("master-key={vek}"),
    ]
    .iter()
    .enumerate()
    {
        let case = dir.path().join(format!("k{n}"));
        let arts = one_shot_ls("recover", &enc, None, &case, 0, &["--key", key]);
        assert_eq!(
            volume_files(&arts),
            want,
            "with {}",
            key.split('=').next().unwrap()
        );
        // Read through the layer, once: the forensic path shows it.
        assert!(
            arts.iter()
                .filter(|a| a["path"].as_str().unwrap().starts_with("/apfs_test/"))
                .all(|a| a["forensic_path"]
                    .as_str()
                    .unwrap()
                    .contains("/filevault/apfs/")),
            "{arts:?}"
        );
        let show = stdout(&run(&["case", "show", case.to_str().unwrap()]));
        assert!(
            show.contains("decrypted") && show.contains("fingerprint"),
            "{show}"
        );
        assert!(!show.contains(PASS) && !show.contains(RECOVERY), "{show}");
        let log = stdout(&run(&["log", case.to_str().unwrap()]));
        assert!(!log.contains(PASS) && !log.contains(&vek), "{log}");
        assert!(run(&["verify", case.to_str().unwrap()]).status.success());
    }
}

#[test]
fn a_volume_converted_from_corestorage_opens_with_its_128_bit_keys() {
    if !ready() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let plain = dfvfs(dir.path(), "apfs.raw");
    let want = plain_files(&plain, dir.path());
    let enc = dir.path().join("cs.raw");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("testimages/apfs-encrypt.py");
    assert!(sh(&format!(
        "python3 {} {} {} '{PASS}' --recovery '{RECOVERY}' --corestorage --free-too >/dev/null",
        script.display(),
        plain.display(),
        enc.display()
    )));
    let bare = dir.path().join("bare");
    one_shot_ls("recover", &enc, None, &bare, 0, &[]);
    let f = findings(&bare).join("\n");
    assert!(f.contains("128-bit key"), "{f}");
    for key in [PASS, RECOVERY] {
        let case = dir.path().join(format!("c-{}", key.len()));
        let arts = one_shot_ls(
            "recover",
            &enc,
            None,
            &case,
            0,
            &["--key", &format!("password={key}")],
        );
        assert_eq!(volume_files(&arts), want);
    }
}

#[test]
fn a_wrong_key_names_the_volume_and_its_protectors_and_registers_nothing() {
    if !ready() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (_, enc) = encrypted(dir.path());
    let case = dir.path().join("case");
    let o = one_shot(
        "recover",
        &enc,
        None,
        &case,
        &["--key", "password=apfs-test"],
    );
    assert_eq!(o.status.code(), Some(2), "{}", stdout(&o));
    let err = stderr(&o);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("ev1/v0")
            && err.contains("FileVault")
            && err.contains(USER)
            && err.contains("personal recovery key"),
        "{err}"
    );
    assert!(!err.contains("apfs-test"), "{err}");
    assert_eq!(evidence_count(&case), 0);
}

#[test]
fn an_unreadable_ciphertext_sector_costs_exactly_the_plaintext_it_held() {
    if !ready() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (plain, enc) = encrypted(dir.path());
    let arts = one_shot_ls("recover", &plain, None, &dir.path().join("p"), 0, &[]);
    let want = volume_files(&arts);
    // passwords.txt's one block: its first 512-byte unit unreadable.
    let pw = arts
        .iter()
        .find(|a| a["path"] == "/apfs_test/passwords.txt")
        .unwrap();
    let at = pw["runs"][0]["image_offset"].as_u64().unwrap();
    let size = pw["size"].as_u64().unwrap();
    assert!(size <= 512, "{pw}");
    let map = dir.path().join("map");
    write_bad_map(&map, std::fs::metadata(&enc).unwrap().len(), &[(at, 512)]);
    let case = dir.path().join("case");
    let got = one_shot_ls(
        "recover",
        &enc,
        Some(&map),
        &case,
        3,
        &["--key", &format!("password={PASS}")],
    );
    for a in got.iter().filter(|a| a["kind"] == "file") {
        let p = a["path"].as_str().unwrap();
        if !p.starts_with("/apfs_test/") {
            continue;
        }
        if p == "/apfs_test/passwords.txt" {
            assert_eq!(a["unreadable_bytes"].as_u64(), Some(size), "{a}");
        } else {
            assert_eq!(a["unreadable_bytes"].as_u64(), Some(0), "{a}");
            assert_eq!(a["sha256"].as_str(), want.get(p).map(String::as_str), "{p}");
        }
    }
}

/// passwords.txt deleted from dfvfs's image by `apfs-delete.py` with
/// `args`, the result encrypted and recovered with the password: the one
/// deleted passwords.txt (with the content it had), what else the volume
/// holds and what it held before, and the case.
fn deleted_then_encrypted(dir: &Path, args: &str) -> (serde_json::Value, Hashes, Hashes, PathBuf) {
    let plain = dfvfs(dir, "apfs.raw");
    let good = one_shot_ls("recover", &plain, None, &dir.join("good"), 0, &[]);
    let del = dir.join("deleted.raw");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("testimages/apfs-delete.py");
    assert!(sh(&format!(
        "python3 {} {} passwords.txt {} {args} >/dev/null",
        script.display(),
        plain.display(),
        del.display()
    )));
    let enc = encrypt(dir, &del);
    let case = dir.join("case");
    let key = format!("password={PASS}");
    let arts = one_shot_ls("recover", &enc, None, &case, 0, &["--key", &key]);
    let p = "/apfs_test/passwords.txt";
    let was = good.iter().find(|a| a["path"] == p).unwrap();
    let now: Vec<_> = arts.iter().filter(|a| a["path"] == p).collect();
    assert_eq!(now.len(), 1, "{now:?}");
    assert_eq!(now[0]["deleted"], true, "{}", now[0]);
    assert_eq!(now[0]["sha256"], was["sha256"], "{}", now[0]);
    let (mut rest, mut ours) = (volume_files(&good), volume_files(&arts));
    rest.remove(p);
    ours.remove(p);
    (now[0].clone(), ours, rest, case)
}

#[test]
fn a_file_deleted_from_an_encrypted_volume_comes_back_from_the_older_checkpoint() {
    if !ready() {
        return;
    }
    // Deleted in the newest transaction, then the volume encrypted: the
    // older checkpoint's tree, its nodes and the file's extent are all
    // ciphertext.
    let dir = tempfile::tempdir().unwrap();
    let (now, ours, rest, _) = deleted_then_encrypted(dir.path(), "");
    assert!(
        now["recovery_detail"]
            .as_str()
            .unwrap()
            .contains("checkpoint transaction"),
        "{now}"
    );
    assert_eq!(ours, rest);
}

#[test]
fn a_file_no_checkpoint_remembers_comes_back_from_its_node_in_decrypted_free_space() {
    if !ready() {
        return;
    }
    // Deleted, its node and blocks freed, the older checkpoints gone; then
    // encrypted, free blocks with bytes included.
    let dir = tempfile::tempdir().unwrap();
    let (now, _, _, case) = deleted_then_encrypted(dir.path(), "--forget");
    assert!(
        now["recovery_detail"]
            .as_str()
            .unwrap()
            .contains("orphaned filesystem-tree node"),
        "{now}"
    );
    let show = stdout(&run(&["case", "show", case.to_str().unwrap()]));
    assert!(show.contains("free space read decrypted"), "{show}");
}
