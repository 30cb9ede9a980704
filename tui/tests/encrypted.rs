//! The evidence screen with an encrypted volume (issue 13), rendered with
//! TestBackend: cryptsetup's BitLocker test image (`tests/bitlk-images.tar.xz`
//! of cryptsetup, GPL-2.0-or-later; ../shared/testdata/SOURCES.md) scanned
//! without its key (locked, its protectors named, ciphertext marked E on the
//! sector map) and with it (opened as a decrypted volume, marked +).

mod common;
use common::*;
use dredge_session::{self as session, CaseInfo, KeySpec, ScanOptions};
use dredge_tui::{App, CaseData};
use ratatui::style::Color;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::AtomicBool;

fn case_of(dir: &Path, img: &Path, keys: Vec<KeySpec>) -> std::path::PathBuf {
    let case = dir.join(format!("case{}", keys.len()));
    let info = CaseInfo {
        case_number: Some("BL-1".into()),
        examiner: "Screen Test".into(),
        description: None,
    };
    session::case_new(&case, &info).unwrap();
    let stop = AtomicBool::new(false);
    session::add_evidence(&case, img, None, &stop, &mut |_| {}).unwrap();
    let opts = ScanOptions {
        threads: 2,
        keys,
        ..Default::default()
    };
    session::scan(&case, &opts, &stop, &mut |_| {}).unwrap();
    case
}

fn cells(buf: &ratatui::buffer::Buffer, sym: &str, fg: Color) -> usize {
    let a = buf.area;
    (0..a.width)
        .flat_map(|x| (0..a.height).map(move |y| (x, y)))
        .filter(|&(x, y)| buf[(x, y)].symbol() == sym && buf[(x, y)].fg == fg)
        .count()
}

/// Whether python3 can import `module` (else, unless tools are required,
/// the test is skipped).
fn python_with(module: &str) -> bool {
    let ok = Command::new("sh")
        .args([
            "-c",
            &format!("command -v python3 && python3 -c 'import {module}'"),
        ])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var_os("DREDGE_REQUIRE_TOOLS").is_none(),
            "python3 with python3-cryptography"
        );
    }
    ok
}

/// dfvfs's `NAME.raw.gz` (Apache-2.0) unpacked into `dir` and given to
/// `testimages/SCRIPT PLAIN OUT ARGS…`: the image it writes.
fn made_from_dfvfs(dir: &Path, name: &str, script: &str, args: &[&str]) -> std::path::PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let plain = dir.join(format!("{name}.raw"));
    let img = dir.join(format!("{name}.{script}.img"));
    let gz = root.join(format!("testimages/external/dfvfs/{name}.raw.gz"));
    assert!(Command::new("sh")
        .arg("-c")
        .arg(format!("gzip -dc {} > {}", gz.display(), plain.display()))
        .status()
        .unwrap()
        .success());
    assert!(Command::new("python3")
        .arg(root.join("testimages").join(script))
        .arg(&plain)
        .arg(&img)
        .args(args)
        .output()
        .unwrap()
        .status
        .success());
    img
}

#[test]
fn a_bitlocker_volume_is_marked_locked_then_opened() {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/testdata/cryptsetup");
    let ok = Command::new("sh")
        .args(["-c", "command -v tar && command -v xz"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok || !data.exists() {
        assert!(
            std::env::var_os("DREDGE_REQUIRE_TOOLS").is_none(),
            "tar, xz and ../shared/testdata"
        );
        return;
    }
    let d = tempfile::tempdir().unwrap();
    assert!(Command::new("tar")
        .arg("-xJf")
        .arg(data.join("bitlk-images.tar.xz"))
        .arg("-C")
        .arg(d.path())
        .arg("bitlk-aes-xts-128.img")
        .status()
        .unwrap()
        .success());
    let img = d.path().join("bitlk-aes-xts-128.img");

    let locked = case_of(d.path(), &img, Vec::new());
    let mut app = App::new(CaseData::load(&locked).unwrap(), true);
    let (s, buf) = render(&mut app, 100, 24);
    for want in [
        "vol0 BitLocker encrypted, locked",
        "password, recovery password",
        "E locked",
    ] {
        assert!(s.contains(want), "{want:?} not on the screen:\n{s}");
    }
    assert!(cells(&buf, "E", Color::Magenta) > 100, "{s}");

    let key = KeySpec::parse("password=anaconda").unwrap();
    let opened = case_of(d.path(), &img, vec![key]);
    let mut app = App::new(CaseData::load(&opened).unwrap(), true);
    let (s, buf) = render(&mut app, 100, 24);
    assert!(
        s.contains("vol0 BitLocker encrypted, opened as vol1"),
        "{s}"
    );
    assert!(cells(&buf, "E", Color::Magenta) == 0, "{s}");
    assert!(cells(&buf, "+", Color::Blue) > 100, "{s}");
}

#[test]
fn a_filevault_apfs_volume_is_marked_locked_then_opened() {
    if !python_with("cryptography") {
        return;
    }
    // dfvfs's apfs.raw, encrypted as FileVault does.
    let d = tempfile::tempdir().unwrap();
    let img = made_from_dfvfs(
        d.path(),
        "apfs",
        "apfs-encrypt.py",
        &["pw-1", "--recovery", "RK"],
    );
    let locked = case_of(d.path(), &img, Vec::new());
    let mut app = App::new(CaseData::load(&locked).unwrap(), true);
    let (s, _) = render(&mut app, 100, 24);
    for want in [
        "vol0 FileVault (APFS) encrypted, locked",
        "password, personal recovery key",
    ] {
        assert!(s.contains(want), "{want:?} not on the screen:\n{s}");
    }
    let key = KeySpec::parse("password=RK").unwrap();
    let opened = case_of(d.path(), &img, vec![key]);
    let mut app = App::new(CaseData::load(&opened).unwrap(), true);
    let (s, _) = render(&mut app, 100, 24);
    assert!(
        s.contains("vol0 FileVault (APFS) encrypted, opened as vol1"),
        "{s}"
    );
}

#[test]
fn an_encrypted_disk_image_is_marked_locked_then_opened() {
    if !python_with("cryptography.hazmat.decrepit") {
        return;
    }
    // dfvfs's hfsplus.raw, encrypted as hdiutil does.
    let d = tempfile::tempdir().unwrap();
    let img = made_from_dfvfs(d.path(), "hfsplus", "dmg-encrypt.py", &["pw-1"]);
    let locked = case_of(d.path(), &img, Vec::new());
    let mut app = App::new(CaseData::load(&locked).unwrap(), true);
    let (s, _) = render(&mut app, 100, 24);
    for want in ["vol0 encrypted disk image encrypted, locked", "password"] {
        assert!(s.contains(want), "{want:?} not on the screen:\n{s}");
    }
    let key = KeySpec::parse("password=pw-1").unwrap();
    let opened = case_of(d.path(), &img, vec![key]);
    let mut app = App::new(CaseData::load(&opened).unwrap(), true);
    let (s, _) = render(&mut app, 100, 24);
    assert!(
        s.contains("vol0 encrypted disk image encrypted, opened as vol1"),
        "{s}"
    );
}
