//! FileVault 2 on CoreStorage (issue 13): cryptsetup's test volume
//! (`tests/fvault2-images.tar.xz` of cryptsetup, GPL-2.0-or-later, kept in
//! testimages/external/cryptsetup with its attribution). Without a key the
//! volume is described (a finding with its users) and neither listed nor
//! carved; with its passphrase `dredge export-volume` writes the plaintext
//! whose SHA-256 cryptsetup's own test publishes; a wrong key fails the scan
//! with one line and registers nothing; and a filesystem of our own
//! encrypted into it (tests/tools/fvault_fill.py, the key from `cryptsetup
//! fvault2Dump`) comes back file by file, bit-exact, with unreadable
//! ciphertext costing exactly its plaintext sector.

mod common;

use common::*;
use std::path::{Path, PathBuf};

const PASS: &str = "heslo123";
/// The decrypted logical volume's SHA-256 (cryptsetup's fvault2-compat-test).
const PLAIN_SHA256: &str = "2c662e36c0f7e2f5583e6a939bbcbdc660805692d0fccaa45ad4052beb3b8e18";
/// The logical volume's place (cryptsetup's fvault2-compat-test).
const LV_OFFSET: u64 = 67_108_864;

fn unpack(dir: &Path) -> PathBuf {
    let tarball = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testimages/external/cryptsetup/fvault2-images.tar.xz");
    assert!(sh(&format!(
        "tar -xJSf {} -C {}",
        tarball.display(),
        dir.display()
    )));
    dir.join("fvault2-images/small")
}

#[test]
fn a_filevault_volume_is_described_without_its_key_and_opens_with_its_passphrase() {
    if !tools(&["tar", "xz"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let img = unpack(dir.path());
    // No key: a finding naming the container, its layout and its user.
    let bare = dir.path().join("bare");
    let arts = one_shot_ls("recover", &img, None, &bare, 0, &[]);
    assert!(arts.is_empty(), "ciphertext listed or carved: {arts:?}");
    let f = findings(&bare).join("\n");
    assert!(
        f.contains("FileVault 2")
            && f.contains("868C54AC-D101-4045-8418-7487A919D97A")
            && f.contains(&format!("at byte {LV_OFFSET}")),
        "{f}"
    );
    // The passphrase: the plaintext is a volume of its own, exported as
    // cryptsetup maps it, and recorded in custody.
    let case = dir.path().join("case");
    let key = format!("password={PASS}");
    let o = one_shot("recover", &img, None, &case, &["--key", &key]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let show = stdout(&run(&["case", "show", case.to_str().unwrap()]));
    assert!(
        show.contains("decrypted") && show.contains("passphrase"),
        "{show}"
    );
    assert!(!show.contains(PASS), "{show}");
    let out = dir.path().join("out");
    let sum = sha256(&export_plain(&case, &out, &key, "filevault"));
    assert_eq!(sum, PLAIN_SHA256);
    let log = stdout(&run(&["log", case.to_str().unwrap()]));
    assert!(log.contains(&sum) && !log.contains(PASS), "{log}");
    assert!(run(&["verify", case.to_str().unwrap()]).status.success());
}

#[test]
fn a_wrong_filevault_key_names_the_volume_and_its_users_and_registers_nothing() {
    if !tools(&["tar", "xz"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let img = unpack(dir.path());
    let case = dir.path().join("case");
    let o = one_shot(
        "recover",
        &img,
        None,
        &case,
        &["--key", "password=heslo124"],
    );
    assert_eq!(o.status.code(), Some(2), "{}", stdout(&o));
    let err = stderr(&o);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("ev1/v0") && err.contains("868C54AC-D101-4045-8418-7487A919D97A"),
        "{err}"
    );
    assert!(!err.contains("heslo"), "{err}");
    assert_eq!(evidence_count(&case), 0);
}

#[test]
fn files_in_a_filevault_volume_come_back_bit_exact_and_bad_ciphertext_costs_its_sector() {
    if !tools(&["tar", "xz", "cryptsetup", "mkfs.vfat", "mcopy", "python3"]) {
        return;
    }
    assert!(
        sh("python3 -c 'import cryptography' 2>/dev/null"),
        "python3-cryptography (scripts/install-tools.sh)"
    );
    let dir = tempfile::tempdir().unwrap();
    let container = unpack(dir.path());
    // A 32 MiB FAT inside the 160 MiB logical volume.
    let plain = dir.path().join("plain.fat");
    assert!(sh(&format!(
        "mkfs.vfat -C -S 512 -s 4 {} 32768 >/dev/null",
        plain.display()
    )));
    let files = vec![
        ("BIG.BIN".to_string(), noise(700_000, 5)),
        (
            "Übersicht 2026.txt".to_string(),
            b"r\xc3\xa9sum\xc3\xa9\n".to_vec(),
        ),
        ("SMALL.DAT".to_string(), noise(3_000, 6)),
    ];
    for (n, b) in &files {
        let src = dir.path().join("src.tmp");
        std::fs::write(&src, b).unwrap();
        assert!(sh(&format!(
            "mcopy -i {} {} '::{n}'",
            plain.display(),
            src.display()
        )));
    }
    let img = dir.path().join("filevault-fat.img");
    let tool = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/tools/fvault_fill.py");
    assert!(sh(&format!(
        "python3 {} {} {PASS} {} {}",
        tool.display(),
        container.display(),
        plain.display(),
        img.display()
    )));
    let key = format!("password={PASS}");
    let clean = dir.path().join("clean");
    let arts = one_shot_ls("recover", &img, None, &clean, 0, &["--key", &key]);
    for (n, b) in &files {
        let a = arts
            .iter()
            .find(|a| a["path"] == format!("/{n}"))
            .unwrap_or_else(|| panic!("{n} not recovered: {arts:?}"));
        let got = std::fs::read(clean.join(a["extracted"].as_str().unwrap())).unwrap();
        assert!(got == *b, "{n} differs");
        let fp = a["forensic_path"].as_str().unwrap_or_default();
        assert!(fp.contains("/filevault2/fat"), "{fp}");
    }
    // 40 unreadable bytes 5 000 bytes into BIG.BIN's first run: the one
    // 512-byte plaintext sector over them is lost, nothing else.
    let big = arts.iter().find(|a| a["path"] == "/BIG.BIN").unwrap();
    let at = big["runs"][0]["image_offset"].as_u64().unwrap();
    let map = dir.path().join("bad.map");
    let size = std::fs::metadata(&img).unwrap().len();
    write_bad_map(&map, size, &[(at + 5000, 40)]);
    let case = dir.path().join("bad");
    let arts = one_shot_ls("recover", &img, Some(&map), &case, 3, &["--key", &key]);
    let big = arts.iter().find(|a| a["path"] == "/BIG.BIN").unwrap();
    assert_eq!(
        big["gaps"],
        serde_json::json!([{"file_offset": 4608, "len": 512, "why": "map-bad-sector"}])
    );
    let out = std::fs::read(case.join(big["extracted"].as_str().unwrap())).unwrap();
    let want = &files[0].1;
    assert_eq!(out.len(), want.len());
    assert!(out[..4608] == want[..4608] && out[5120..] == want[5120..]);
    assert!(out[4608..5120].iter().all(|&c| c == 0));
}
