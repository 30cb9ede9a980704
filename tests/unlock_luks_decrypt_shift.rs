//! A LUKS2 decryption that moves the data, cut off mid-way (issue 13): the
//! owner ran `cryptsetup reencrypt --decrypt --header FILE` on a volume whose
//! header sat at the device's start, so cryptsetup exported the header to
//! FILE and moves the plaintext back to where the header was, window by
//! window (`datashift-checksum` resilience), after moving the volume's first
//! bytes, still encrypted, to the device's start. A disk seized while that
//! ran, with the header file (found on another disk), must still give the
//! filesystem back byte for byte: killed with SIGKILL while a window is in
//! flight (its new place then overwritten with noise, as a write cut short
//! leaves it) and between two windows. Needs cryptsetup and mkfs.ext4;
//! skipped without them unless DREDGE_REQUIRE_TOOLS=1.

mod common;

use common::luks::{assert_plain_is, ext4_disk, header_json, in_flight, live};
use common::*;
use serde_json::Value;
use std::io::{Seek, SeekFrom, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq)]
enum State {
    /// A window being moved, some of the volume already plaintext.
    Window,
    /// Between windows: plaintext moved back, the rest still encrypted.
    Between,
}

fn state(j: &Value) -> Option<State> {
    let segs: Vec<Value> = live(j).into_iter().map(|(_, s)| s).collect();
    let settled = |t: &str| segs.iter().any(|s| s["type"] == t && !in_flight(s));
    if !(settled("linear") && settled("crypt")) {
        return None;
    }
    Some(if segs.iter().any(in_flight) {
        State::Window
    } else {
        State::Between
    })
}

struct Made {
    dir: tempfile::TempDir,
    img: PathBuf,
    hdr: PathBuf,
    key: PathBuf,
    fs: Vec<u8>,
    files: Vec<(&'static str, Vec<u8>)>,
}

/// An ext4 of 40 MiB on a 44 MiB disk, encrypted whole by cryptsetup (the
/// header at the start, the data moved 4 MiB on), then decrypted with the
/// header exported until killed in state `want`.
fn cut_off(want: State, seed: u64) -> Option<Made> {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let files = vec![
        ("big.bin", noise(28 << 20, seed)),
        (
            "Notizen.txt",
            "Treffen um 3 Uhr\n".repeat(5_000).into_bytes(),
        ),
    ];
    let (img, fs) = ext4_disk(d, &files);
    let key = d.join("key");
    std::fs::write(&key, "moved back while it ran").unwrap();
    let (i, k) = (img.to_str().unwrap(), key.to_str().unwrap());
    cryptsetup(&[
        "reencrypt",
        "--encrypt",
        "--type",
        "luks2",
        "--reduce-device-size",
        "4M",
        "--pbkdf",
        "pbkdf2",
        "--pbkdf-force-iterations",
        "1000",
        "--batch-mode",
        "--key-file",
        k,
        i,
    ]);
    let encrypted = std::fs::read(&img).unwrap();
    let hdr = d.join("header.img");
    // A kill can miss the state (a window passes in milliseconds): each try
    // starts again from the encrypted disk.
    for _ in 0..40 {
        std::fs::write(&img, &encrypted).unwrap();
        let _ = std::fs::remove_file(&hdr);
        let mut child = Command::new("cryptsetup")
            .args(["reencrypt", "--decrypt", "--header"])
            .arg(&hdr)
            .args(["--force-offline-reencrypt", "--hotzone-size", "1M"])
            .args(["--batch-mode", "--key-file", k, i])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let start = Instant::now();
        let mut got = false;
        while child.try_wait().unwrap().is_none() {
            if header_json(&hdr).and_then(|j| state(&j)) == Some(want) {
                child.kill().unwrap();
                child.wait().unwrap();
                got = header_json(&hdr).and_then(|j| state(&j)) == Some(want);
                break;
            }
            assert!(start.elapsed() < Duration::from_secs(120), "no progress");
            std::thread::sleep(Duration::from_micros(300));
        }
        if got {
            return Some(Made {
                dir,
                img,
                hdr,
                key,
                fs,
                files,
            });
        }
    }
    None
}

/// Overwrites the window's new place with noise; its (offset, size).
fn spoil_window(m: &Made) -> (u64, u64) {
    let j = header_json(&m.hdr).unwrap();
    let (_, s) = live(&j).into_iter().find(|(_, s)| in_flight(s)).unwrap();
    let at: u64 = s["offset"].as_str().unwrap().parse().unwrap();
    let len: u64 = s["size"].as_str().unwrap().parse().unwrap();
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .open(&m.img)
        .unwrap();
    f.seek(SeekFrom::Start(at)).unwrap();
    f.write_all(&noise(len as usize, at)).unwrap();
    (at, len)
}

fn check(m: &Made, what: &str) {
    let keys = [
        format!("keyfile={}", m.key.display()),
        format!("luks-header={}", m.hdr.display()),
    ];
    let case = m.dir.path().join("case");
    let extra = ["--key", &keys[0], "--key", &keys[1]];
    let arts = one_shot_ls("recover", &m.img, None, &case, 0, &extra);
    for (n, b) in &m.files {
        let a = arts
            .iter()
            .find(|a| a["path"] == format!("/{n}") && a["sha256"].is_string())
            .unwrap_or_else(|| panic!("{what}: {n} not recovered"));
        assert_eq!(a["sha256"], sha256(b).as_str(), "{what}: {n} differs");
    }
    let cs = case.to_str().unwrap();
    let show = stdout(&run(&["case", "show", cs]));
    assert!(show.contains("moves the data"), "{what}: {show}");
    let out = m.dir.path().join("out");
    let e = run(&[
        "export-volume",
        cs,
        "--out",
        out.to_str().unwrap(),
        "--key",
        &keys[0],
        "--key",
        &keys[1],
    ]);
    assert!(e.status.success(), "{what}: {}", stderr(&e));
    let plain: Vec<PathBuf> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".plain.raw"))
        .collect();
    assert_eq!(plain.len(), 1, "{what}: {plain:?}");
    let plain = std::fs::read(&plain[0]).unwrap();
    assert_plain_is(&plain, &m.fs, what);
    assert!(run(&["verify", cs]).status.success());
}

#[test]
fn a_decryption_that_moves_the_data_cut_off_mid_window_gives_the_filesystem_back() {
    if !tools(&["cryptsetup", "mkfs.ext4"]) {
        return;
    }
    let m = cut_off(State::Window, 11).expect("no kill left a window in flight");
    let (at, len) = spoil_window(&m);
    assert!(len > 0 && at < 44 << 20);
    check(&m, "a window in flight");
}

#[test]
fn a_decryption_that_moves_the_data_cut_off_between_windows_gives_the_filesystem_back() {
    if !tools(&["cryptsetup", "mkfs.ext4"]) {
        return;
    }
    let m = cut_off(State::Between, 12).expect("no kill fell between windows");
    check(&m, "between windows");
    // The header given for every volume with a wrong passphrase: the scan
    // goes on, and the case says the header opened nothing, and why.
    let wrong = m.dir.path().join("wrong");
    std::fs::write(&wrong, "not the passphrase").unwrap();
    let case = m.dir.path().join("wrong-case");
    let keys = [
        format!("keyfile={}", wrong.display()),
        format!("luks-header={}", m.hdr.display()),
    ];
    one_shot_ls(
        "recover",
        &m.img,
        None,
        &case,
        0,
        &["--key", &keys[0], "--key", &keys[1]],
    );
    let f = findings(&case);
    assert!(
        f.iter().any(|x| x
            .starts_with("the detached LUKS header given as key 2 opened no volume: ev1/v0 (byte 0): no key given opens")),
        "{f:?}"
    );
}
