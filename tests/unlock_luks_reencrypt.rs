//! A LUKS2 volume whose change of key was interrupted (issue 13): a machine
//! seized, or switched off, while `cryptsetup reencrypt` was rewriting it.
//! The volume is made here by cryptsetup itself: an ext4 filesystem encrypted
//! in place, then re-keyed in 64 KiB windows, and killed with SIGKILL once
//! the window being rewritten is some MiB in. dredge must open it with the
//! passphrase (two keys: the new one for the part done, the old one for the
//! rest, and for the window being rewritten whatever its resilience says:
//! the journal's copy, or block by block the stored checksums) and give back
//! the filesystem exactly as it was encrypted.

mod common;

use common::*;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The primary LUKS2 JSON metadata as it is on disk now, to watch the
/// change of key progress (`None` while cryptsetup is half-way through
/// writing it).
fn header_json(img: &Path) -> Option<serde_json::Value> {
    let mut f = std::fs::File::open(img).ok()?;
    f.seek(SeekFrom::Start(4096)).ok()?;
    let mut b = vec![0u8; 12288];
    f.read_exact(&mut b).ok()?;
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    serde_json::from_slice(&b[..end]).ok()
}

/// The offset of the window being rewritten, if a reencryption is under way.
fn hotzone(j: &serde_json::Value) -> Option<u64> {
    j["segments"].as_object()?.values().find_map(|s| {
        let flags = s["flags"].as_array()?;
        flags
            .iter()
            .any(|f| f == "in-reencryption")
            .then(|| s["offset"].as_str()?.parse().ok())?
    })
}

/// Runs (or resumes) the change of key on `img` with `resilience` (and
/// cryptsetup's options `extra`) and kills it with SIGKILL once the window
/// being rewritten is at byte `at` or beyond.
/// `watch`: the file holding the header (the image, or a detached header).
fn interrupt(img: &Path, watch: &Path, keyfile: &str, at: u64, resilience: &str, extra: &[&str]) {
    let mut child = Command::new("cryptsetup")
        .args(["reencrypt", "--resilience", resilience])
        .args(extra)
        .args(["--hotzone-size", "64k"])
        .args([
            "--batch-mode",
            "--force-offline-reencrypt",
            "--key-file",
            keyfile,
        ])
        .args(["--pbkdf", "pbkdf2", "--pbkdf-force-iterations", "1000"])
        .arg(img)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    loop {
        if header_json(watch)
            .and_then(|j| hotzone(&j))
            .is_some_and(|h| h >= at)
        {
            child.kill().unwrap();
            break;
        }
        if let Some(st) = child.try_wait().unwrap() {
            let mut err = String::new();
            let _ = child.stderr.take().map(|mut e| e.read_to_string(&mut err));
            panic!("cryptsetup ended ({st}) before it could be interrupted at byte {at}: {err}");
        }
        assert!(start.elapsed() < Duration::from_secs(120), "no progress");
        std::thread::sleep(Duration::from_millis(2));
    }
    child.wait().unwrap();
}

/// The filesystem, its files, and what it is encrypted with.
struct Volume {
    dir: tempfile::TempDir,
    img: std::path::PathBuf,
    pass: String,
    files: Vec<(&'static str, Vec<u8>)>,
    /// The plaintext filesystem, before any encryption.
    before: Vec<u8>,
    /// The image once encrypted under the first key (the old one).
    encrypted: Vec<u8>,
    /// cryptsetup's options for the change of key (`--sector-size 4096`).
    extra: Vec<String>,
    /// A detached header, when the image holds none.
    header: Option<std::path::PathBuf>,
    /// Where the data starts in the image.
    data_at: u64,
}

/// An ext4 filesystem encrypted in place by cryptsetup (LUKS2, 16 MiB of
/// header in front of the data).
fn encrypted_ext4() -> Volume {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let pass = d.join("pass");
    std::fs::write(&pass, "re-keyed at 3 a.m.").unwrap();
    let content = d.join("content");
    std::fs::create_dir_all(&content).unwrap();
    let files = vec![
        ("big.bin", noise(9 << 20, 41)),
        (
            "ledger.txt",
            (0..40_000)
                .map(|i| format!("entry {i}\n"))
                .collect::<String>()
                .into_bytes(),
        ),
    ];
    for (n, b) in &files {
        std::fs::write(content.join(n), b).unwrap();
    }
    let img = d.join("disk.img");
    std::fs::File::create(&img)
        .unwrap()
        .set_len(48 << 20)
        .unwrap();
    assert!(sh(&format!(
        "mkfs.ext4 -q -F -b 4096 -d {} {} 32M",
        content.display(),
        img.display()
    )));
    let before = std::fs::read(&img).unwrap();
    let (i, k) = (img.to_str().unwrap(), pass.to_str().unwrap());
    let mut args = vec!["reencrypt", "--encrypt", "--type", "luks2"];
    args.extend([
        "--reduce-device-size",
        "16M",
        "--batch-mode",
        "--key-file",
        k,
    ]);
    args.extend(["--pbkdf", "pbkdf2", "--pbkdf-force-iterations", "1000"]);
    args.push(i);
    cryptsetup(&args);
    let encrypted = std::fs::read(&img).unwrap();
    let pass = k.to_string();
    Volume {
        dir,
        img,
        pass,
        files,
        before,
        encrypted,
        extra: Vec::new(),
        header: None,
        data_at: 16 << 20,
    }
}

/// The same filesystem encrypted in place with its LUKS2 header in a file
/// apart (`--header`): the image is the data alone, from its first byte.
fn encrypted_ext4_detached() -> Volume {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let pass = d.join("pass");
    std::fs::write(&pass, "the header is on a USB stick").unwrap();
    let files = vec![("big.bin", noise(9 << 20, 43))];
    let content = d.join("content");
    std::fs::create_dir_all(&content).unwrap();
    std::fs::write(content.join(files[0].0), &files[0].1).unwrap();
    let img = d.join("disk.img");
    assert!(sh(&format!(
        "mkfs.ext4 -q -F -b 4096 -d {} {} 32M",
        content.display(),
        img.display()
    )));
    let before = std::fs::read(&img).unwrap();
    let hdr = d.join("header.img");
    let (i, k, h) = (
        img.to_str().unwrap(),
        pass.to_str().unwrap(),
        hdr.to_str().unwrap(),
    );
    cryptsetup(&[
        "reencrypt",
        "--encrypt",
        "--type",
        "luks2",
        "--header",
        h,
        "--batch-mode",
        "--key-file",
        k,
        "--pbkdf",
        "pbkdf2",
        "--pbkdf-force-iterations",
        "1000",
        i,
    ]);
    let encrypted = std::fs::read(&img).unwrap();
    Volume {
        pass: k.to_string(),
        extra: vec!["--header".into(), h.to_string()],
        header: Some(hdr),
        dir,
        img,
        files,
        before,
        encrypted,
        data_at: 0,
    }
}

/// The change of key, killed once its window is 6 MiB into the data (the
/// data starts at 16 MiB); 64 KiB windows keep it at it for seconds. A kill
/// that lands between two windows leaves no window being rewritten: the
/// change is resumed (cryptsetup picks it up from its header) and killed
/// again further on. Returns the header cryptsetup reads and the window's
/// offset and length.
fn kill_mid_way(v: &Volume, resilience: &str) -> (serde_json::Value, u64, u64) {
    let i = v.header.as_deref().unwrap_or(&v.img).to_str().unwrap();
    let extra: Vec<&str> = v.extra.iter().map(String::as_str).collect();
    for round in 0..6u64 {
        interrupt(
            &v.img,
            Path::new(i),
            &v.pass,
            v.data_at + ((6 + 2 * round) << 20),
            resilience,
            &extra,
        );
        // The header as cryptsetup reads it (the valid copy of the two).
        let dump = Command::new("cryptsetup")
            .args(["luksDump", "--dump-json-metadata", i])
            .output()
            .unwrap();
        let j: Option<serde_json::Value> = serde_json::from_slice(&dump.stdout).ok();
        if let Some((j, hot)) = j.and_then(|j| Some((j.clone(), hotzone(&j)?))) {
            let len = j["segments"]
                .as_object()
                .unwrap()
                .values()
                .find(|s| s["offset"].as_str() == Some(&hot.to_string()))
                .and_then(|s| s["size"].as_str()?.parse().ok())
                .unwrap();
            return (j, hot, len);
        }
        // A kill in the middle of a header update: cryptsetup wants its own
        // recovery run before it goes on.
        let _ = Command::new("cryptsetup")
            .args(["repair", "--batch-mode", "--key-file", &v.pass, i])
            .output();
    }
    panic!("no kill left a window being rewritten");
}

/// Opens the case with the passphrase; every file must come back bit-exact,
/// the description must say how the volume was read (returned), and the
/// exported plaintext must be the filesystem block for block.
fn check_opens(v: &Volume) -> String {
    let d = v.dir.path();
    let case = d.join("case");
    let key = format!("keyfile={}", v.pass);
    let mut keys = vec!["--key".to_string(), key];
    if let Some(h) = &v.header {
        keys.extend(["--key".to_string(), format!("luks-header={}", h.display())]);
    }
    let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
    let o = one_shot("recover", &v.img, None, &case, &keys);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let got = hashes(&ls_json(&case));
    for (n, b) in &v.files {
        assert_eq!(
            got.get(&format!("/{n}")).map(String::as_str),
            Some(sha256(b).as_str()),
            "{n}: {got:?}"
        );
    }
    let how: String = rusqlite::Connection::open(case.join("case.sqlite"))
        .unwrap()
        .query_row(
            "SELECT description FROM volumes WHERE kind = 'decrypted'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(how.contains("interrupted reencryption"), "{how}");
    let out = d.join("out");
    let o = run(&[
        "export-volume",
        case.to_str().unwrap(),
        "ev1/v0",
        "--out",
        out.to_str().unwrap(),
    ]
    .into_iter()
    .chain(keys.iter().copied())
    .collect::<Vec<&str>>());
    assert!(o.status.success(), "{}", stderr(&o));
    let plain = std::fs::read(out.join("ev1-v0.plain.raw")).unwrap();
    let fs_len = 32 << 20;
    assert!(plain.len() >= fs_len);
    let bad: Vec<usize> = (0..fs_len / 4096)
        .filter(|b| plain[b * 4096..(b + 1) * 4096] != v.before[b * 4096..(b + 1) * 4096])
        .collect();
    assert!(
        bad.is_empty(),
        "{} blocks of the plaintext differ from the filesystem, first {:?}",
        bad.len(),
        &bad[..bad.len().min(8)]
    );
    assert!(run(&["verify", case.to_str().unwrap()]).status.success());
    how
}

fn write_at(img: &Path, at: u64, b: &[u8]) {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new().write(true).open(img).unwrap();
    f.seek(SeekFrom::Start(at)).unwrap();
    f.write_all(b).unwrap();
}

#[test]
fn a_reencryption_killed_mid_way_opens_and_gives_the_filesystem_back() {
    if !tools(&["cryptsetup", "mkfs.ext4"]) {
        return;
    }
    let v = encrypted_ext4();
    let (_, hot, _) = kill_mid_way(&v, "journal");
    // What the window holds is undefined once its rewriting has begun (part
    // new ciphertext, part old): make it noise, so only the journal's copy
    // can give its plaintext back.
    write_at(&v.img, hot, &noise(64 << 10, 7));
    // The part under the new key, the window from the journal, the rest
    // under the old key.
    check_opens(&v);
}

/// The same with the header in a file apart from the image (`--header`): the
/// journal's copy of the window is in that file, so the window's plaintext
/// comes from there, read when the volume is opened and held.
#[test]
fn a_detached_header_s_journal_gives_the_window_back() {
    if !tools(&["cryptsetup", "mkfs.ext4"]) {
        return;
    }
    let v = encrypted_ext4_detached();
    let (_, hot, _) = kill_mid_way(&v, "journal");
    write_at(&v.img, hot, &noise(64 << 10, 11));
    let how = check_opens(&v);
    assert!(how.contains("of the detached header"), "{how}");
}

/// With checksum resilience there is no copy of the window: cryptsetup
/// stored a hash of each block's old ciphertext before rewriting it. A kill
/// in the middle of the window's write leaves some blocks old, some new; the
/// window here is made so on purpose, from the two states cryptsetup itself
/// produced: the old ciphertext (the image before the change of key) and the
/// new (a copy of the killed image that `cryptsetup repair` recovered: the
/// window rewritten under the same new key, which the header holds).
#[test]
fn a_checksum_protected_window_half_rewritten_reads_block_by_block() {
    if !tools(&["cryptsetup", "mkfs.ext4"]) {
        return;
    }
    let how = half_rewritten(&encrypted_ext4());
    assert!(
        how.contains("512-byte sectors") || !how.contains("4096"),
        "{how}"
    );
}

/// A change of key that also changes the sector size (`--sector-size
/// 4096`): the part done decrypts in 4 KiB sectors, the rest in 512-byte
/// ones, the window block by block under either.
#[test]
fn a_change_of_sector_size_killed_mid_way_reads_each_part_in_its_own_sectors() {
    if !tools(&["cryptsetup", "mkfs.ext4"]) {
        return;
    }
    let mut v = encrypted_ext4();
    v.extra = vec!["--sector-size".into(), "4096".into()];
    half_rewritten(&v);
    // Before a window is touched too: the two parts alone.
    let mut v = encrypted_ext4();
    v.extra = vec!["--sector-size".into(), "4096".into()];
    let (_, hot, _) = kill_mid_way(&v, "journal");
    write_at(&v.img, hot, &noise(64 << 10, 9));
    check_opens(&v);
}

/// The checksum-protected window of `v`'s change of key, killed mid-way,
/// made half old and half new; the volume's description.
fn half_rewritten(v: &Volume) -> String {
    let (j, hot, len) = kill_mid_way(v, "checksum");
    let area = j["keyslots"]
        .as_object()
        .unwrap()
        .values()
        .find(|k| k["type"] == "reencrypt")
        .map(|k| k["area"].clone())
        .unwrap();
    assert_eq!(area["type"], "checksum", "{area}");
    let block: usize = area["sector_size"].as_u64().unwrap_or(512) as usize;
    let done = v.dir.path().join("done.img");
    std::fs::copy(&v.img, &done).unwrap();
    // cryptsetup's own recovery of the crashed window: every block of it
    // rewritten under the new key.
    cryptsetup(&[
        "repair",
        "--batch-mode",
        "--key-file",
        &v.pass,
        done.to_str().unwrap(),
    ]);
    let new = std::fs::read(&done).unwrap();
    // Blocks 1, 4, 7, … of the window new, the others old: runs of one and
    // of two, starting with an old one.
    let (h, l) = (hot as usize, len as usize);
    let mut window = Vec::with_capacity(l);
    for (n, at) in (h..h + l).step_by(block).enumerate() {
        let from = if n % 3 == 1 { &new } else { &v.encrypted };
        window.extend_from_slice(&from[at..at + block]);
    }
    assert_ne!(new[h..h + l], v.encrypted[h..h + l]);
    write_at(&v.img, hot, &window);
    let how = check_opens(v);
    let news = (l / block + 1) / 3;
    assert!(
        how.contains(&format!("{} still old", l / block - news))
            && how.contains(&format!("{news} already rewritten")),
        "{how}"
    );
    how
}
