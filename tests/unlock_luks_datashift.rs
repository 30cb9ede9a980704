//! A LUKS2 encryption that moves the data, cut off mid-way (issue 13): a
//! disk whose owner ran `cryptsetup reencrypt --encrypt --reduce-device-size`
//! and was stopped (seized, unplugged) before it finished. cryptsetup makes
//! the volume here from an ext4 that `mkfs.ext4 -d` filled, and is killed
//! with SIGKILL at chosen points (resumed and killed again until the header
//! shows the state wanted). The window being moved when it was killed has
//! its new place overwritten with noise, as a write cut short leaves it: the
//! plaintext dredge exports must still be the filesystem byte for byte, and
//! its files their originals, whatever the state.

mod common;

use common::luks::{assert_plain_is, ext4_disk, header_json, in_flight, live};
use common::*;
use serde_json::Value;
use std::io::{Seek, SeekFrom, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Where the header says the encryption is.
#[derive(Debug, Clone, Copy, PartialEq)]
enum State {
    /// A window is being moved; it is the volume's first (its source is the
    /// moved segment at the device's end).
    FirstWindow,
    /// A window further on is being moved.
    Window,
    /// Between windows: some data moved and encrypted, some not yet.
    Between,
}

fn state(j: &Value) -> Option<State> {
    let segs = live(j);
    if segs.len() < 2 {
        return None;
    }
    let hot = segs.iter().position(|(_, s)| in_flight(s));
    let has = |t: &str| segs.iter().any(|(_, s)| s["type"] == t && !in_flight(s));
    match hot {
        Some(0) => Some(State::FirstWindow),
        Some(_) if has("linear") && has("crypt") => Some(State::Window),
        None if has("linear") && has("crypt") => Some(State::Between),
        _ => None,
    }
}

/// Runs (or resumes) the encryption and kills it once the header shows
/// `want`; false when it finished first or had left `want` when killed.
fn interrupt(img: &Path, keyfile: &Path, resume: bool, want: State, extra: &[&str]) -> bool {
    let mut cmd = Command::new("cryptsetup");
    cmd.arg("reencrypt");
    if resume {
        cmd.arg("--resume-only");
    } else {
        cmd.args(["--encrypt", "--type", "luks2", "--reduce-device-size", "4M"]);
        cmd.args(["--pbkdf", "pbkdf2", "--pbkdf-force-iterations", "1000"]);
        cmd.args(extra);
    }
    let mut child = cmd
        .args(["--batch-mode", "--key-file"])
        .arg(keyfile)
        .arg(img)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    loop {
        if header_json(img).and_then(|j| state(&j)) == Some(want) {
            child.kill().unwrap();
            child.wait().unwrap();
            // cryptsetup may have moved on between the look and the kill (a
            // window passes in milliseconds): only the state it was killed in
            // counts, and a miss is tried again by the caller.
            return header_json(img).and_then(|j| state(&j)) == Some(want);
        }
        if child.try_wait().unwrap().is_some() {
            return false;
        }
        assert!(start.elapsed() < Duration::from_secs(120), "no progress");
        std::thread::sleep(Duration::from_micros(500));
    }
}

struct Made {
    dir: tempfile::TempDir,
    img: std::path::PathBuf,
    key: std::path::PathBuf,
    fs: Vec<u8>,
    files: Vec<(&'static str, Vec<u8>)>,
}

/// An ext4 of 40 MiB on a 44 MiB disk (the 4 MiB the encryption needs are
/// free at its end), then encrypted (cryptsetup's options `extra`) until
/// killed in state `want`.
fn cut_off(want: State, seed: u64, extra: &[&str]) -> Option<Made> {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let files = vec![
        ("big.bin", noise(30 << 20, seed)),
        (
            "Notizen.txt",
            "Treffen um 3 Uhr\n".repeat(5_000).into_bytes(),
        ),
    ];
    let (img, fs) = ext4_disk(d, &files);
    let key = d.join("key");
    std::fs::write(&key, "moved while it ran").unwrap();
    let pristine = std::fs::read(&img).unwrap();
    // A kill can miss the state (it passes in milliseconds): resume and try
    // again, from the start when the encryption finished first.
    for round in 0..40 {
        let resume = round % 8 != 0 && header_json(&img).is_some_and(|j| !live(&j).is_empty());
        if !resume {
            std::fs::write(&img, &pristine).unwrap();
        }
        if interrupt(&img, &key, resume, want, extra) {
            let j = header_json(&img).unwrap();
            assert_eq!(state(&j), Some(want));
            return Some(Made {
                dir,
                img,
                key,
                fs,
                files,
            });
        }
    }
    None
}

/// Overwrites the window's new place with noise, as a write cut short may
/// leave it; returns the window's (offset, size) on the device.
fn spoil_window(m: &Made) -> Option<(u64, u64)> {
    let j = header_json(&m.img).unwrap();
    let (_, s) = live(&j).into_iter().find(|(_, s)| in_flight(s))?;
    let at: u64 = s["offset"].as_str().unwrap().parse().unwrap();
    let len: u64 = s["size"].as_str().unwrap().parse().unwrap();
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .open(&m.img)
        .unwrap();
    f.seek(SeekFrom::Start(at)).unwrap();
    f.write_all(&noise(len as usize, at)).unwrap();
    Some((at, len))
}

fn check(m: &Made, what: &str) {
    let key = format!("keyfile={}", m.key.display());
    let case = m.dir.path().join("case");
    let arts = one_shot_ls("recover", &m.img, None, &case, 0, &["--key", &key]);
    for (n, b) in &m.files {
        let a = arts
            .iter()
            .find(|a| {
                a["path"] == format!("/{n}")
                    && a["forensic_path"]
                        .as_str()
                        .unwrap_or_default()
                        .contains("luks")
            })
            .unwrap_or_else(|| panic!("{what}: {n} not recovered"));
        let got = std::fs::read(case.join(a["extracted"].as_str().unwrap())).unwrap();
        assert!(got == *b, "{what}: {n} differs");
    }
    let cs = case.to_str().unwrap();
    let show = stdout(&run(&["case", "show", cs]));
    assert!(show.contains("moves the data"), "{what}: {show}");
    let plain = export_plain(&case, &m.dir.path().join("out"), &key, what);
    assert_plain_is(&plain, &m.fs, what);
    assert!(run(&["verify", cs]).status.success());
}

#[test]
fn an_encryption_that_moves_the_data_cut_off_mid_window_gives_the_filesystem_back() {
    if !tools(&["cryptsetup", "mkfs.ext4"]) {
        return;
    }
    let m = cut_off(State::Window, 5, &[]).expect("no kill left a window in flight");
    assert!(spoil_window(&m).is_some());
    check(&m, "a window in flight");
}

#[test]
fn the_volumes_first_window_in_flight_is_read_from_the_copy_at_the_devices_end() {
    if !tools(&["cryptsetup", "mkfs.ext4"]) {
        return;
    }
    let m = cut_off(State::FirstWindow, 6, &["--key-size", "256"])
        .expect("no kill left the first window in flight");
    assert!(spoil_window(&m).is_some());
    check(&m, "the first window in flight");
}

#[test]
fn an_encryption_that_moves_the_data_cut_off_between_windows_gives_the_filesystem_back() {
    if !tools(&["cryptsetup", "mkfs.ext4"]) {
        return;
    }
    // 4 KiB sectors and CBC with ESSIV: the same reading, other parameters.
    let extra = [
        "--sector-size",
        "4096",
        "--cipher",
        "aes-cbc-essiv:sha256",
        "--key-size",
        "256",
    ];
    let m = cut_off(State::Between, 7, &extra).expect("no kill fell between windows");
    check(&m, "between windows");
}
