//! Encrypted volumes opened with the examiner's key (issue 13): the plaintext
//! goes through the same pipeline as any volume. LUKS2 volumes are made here
//! the way a Linux installer leaves them: a real ext4 filesystem (`mkfs.ext4
//! -d`), encrypted in place by `cryptsetup reencrypt --encrypt` (no
//! device-mapper needed), with several ciphers, sector sizes and KDFs; the
//! files dredge recovers must equal the ones put in. cryptsetup's own LUKS1
//! images (GPL-2.0-or-later test data, ../shared/testdata/SOURCES.md) open
//! with their keyfile.

mod common;

use common::*;
use std::path::{Path, PathBuf};

/// Files put in the filesystem before encryption: name -> content.
fn originals(dir: &Path, seed: u64) -> Vec<(String, Vec<u8>)> {
    exhibit_files(dir, "", 700_000 + (seed % 64) as usize * 4099, 5000, seed)
}

/// How a volume is encrypted: cipher, key bits, sector size, KDF options.
type Format<'a> = (&'a str, &'a str, &'a str, &'a [&'a str]);

/// A LUKS2 image holding an ext4 filesystem with `files`, encrypted in place
/// as `format` says, opened by the passphrase in `pass`.
fn luks2_ext4(
    dir: &Path,
    name: &str,
    (cipher, key_bits, sector, kdf): Format<'_>,
    pass: &Path,
    seed: u64,
) -> (PathBuf, Vec<(String, Vec<u8>)>) {
    let content = dir.join(format!("{name}-content"));
    let files = originals(&content, seed);
    let img = dir.join(format!("{name}.img"));
    std::fs::File::create(&img)
        .unwrap()
        .set_len(40 << 20)
        .unwrap();
    // The filesystem leaves room at the end for the header reencryption adds.
    assert!(sh(&format!(
        "mkfs.ext4 -q -F -b 4096 -d {} {} 20M",
        content.display(),
        img.display()
    )));
    // The filesystem as it was, for tests of the plaintext as a whole.
    std::fs::copy(&img, dir.join(format!("{name}.before"))).unwrap();
    luks2_encrypt_in_place(&img, (cipher, key_bits, sector), pass, kdf);
    (img, files)
}

const FAST_PBKDF2: &[&str] = &["--pbkdf", "pbkdf2", "--pbkdf-force-iterations", "1000"];
const SMALL_ARGON2: &[&str] = &[
    "--pbkdf",
    "argon2id",
    "--pbkdf-memory",
    "8192",
    "--pbkdf-force-iterations",
    "4",
];

/// The recovered files' SHA-256 by name, and their forensic paths.
fn recovered(case: &Path) -> (Hashes, Vec<String>) {
    let arts = ls_json(case);
    let by_name = hashes(&arts)
        .into_iter()
        .map(|(p, h)| (p.trim_start_matches('/').to_string(), h))
        .collect();
    let paths = arts
        .iter()
        .filter(|a| a["kind"] == "file")
        .map(|a| a["forensic_path"].as_str().unwrap().to_string())
        .collect();
    (by_name, paths)
}

/// The description of the case's decrypted volume (how it opened).
fn decrypted_volume(case: &Path) -> String {
    rusqlite::Connection::open(case.join("case.sqlite"))
        .unwrap()
        .query_row(
            "SELECT description FROM volumes WHERE kind = 'decrypted'",
            [],
            |r| r.get::<_, String>(0),
        )
        .unwrap()
}

#[test]
fn luks2_volumes_open_with_the_key_and_their_files_come_back_bit_exact() {
    if !tools(&["cryptsetup", "mkfs.ext4"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let pass = dir.path().join("pass");
    // A passphrase as a person types it, not ASCII only.
    std::fs::write(&pass, "pässwörd-証拠-7").unwrap();
    let spec = format!("password-file={}", pass.display());
    for (i, (cipher, bits, sector, kdf)) in [
        ("aes-xts-plain64", "512", "512", FAST_PBKDF2),
        ("aes-xts-plain64", "256", "4096", SMALL_ARGON2),
        ("aes-cbc-essiv:sha256", "256", "512", FAST_PBKDF2),
        ("aes-cbc-plain64", "128", "4096", FAST_PBKDF2),
        // ESSIV's cipher keyed by the digest (AES-256 over AES-128 data),
        // ESSIV in front of XTS, and LRW's block count as a CBC IV.
        ("aes-cbc-essiv:sha256", "128", "4096", FAST_PBKDF2),
        ("aes-xts-essiv:sha256", "256", "512", FAST_PBKDF2),
        ("aes-cbc-benbi", "192", "512", FAST_PBKDF2),
    ]
    .into_iter()
    .enumerate()
    {
        let name = format!("v{i}");
        let (img, files) = luks2_ext4(
            dir.path(),
            &name,
            (cipher, bits, sector, kdf),
            &pass,
            i as u64 + 1,
        );
        let case = dir.path().join(format!("case-{name}"));
        let o = one_shot("recover", &img, None, &case, &["--key", &spec]);
        assert_eq!(
            o.status.code(),
            Some(0),
            "{cipher}/{sector}: {}{}",
            stdout(&o),
            stderr(&o)
        );
        assert!(stdout(&o).contains("ev1/v1:ext4"), "{}", stdout(&o));
        let (got, paths) = recovered(&case);
        for (n, b) in &files {
            assert_eq!(
                got.get(n),
                Some(&sha256(b)),
                "{cipher}/{sector}: {n} in {got:?}"
            );
        }
        // cryptsetup's header passes every check (its checksum among them).
        let f = findings(&case);
        assert!(f.iter().all(|w| !w.starts_with("LUKS header:")), "{f:?}");
        // Paths show the layer the files were read through.
        assert!(
            paths.iter().all(|p| p.contains("/luks2/ext4/")),
            "{paths:?}"
        );
        // The case records how the volume opened, never the key.
        let shown = stdout(&run(&["case", "show", case.to_str().unwrap()]));
        let log = stdout(&run(&["log", case.to_str().unwrap()]));
        assert!(!shown.contains("pässwörd") && !log.contains("pässwörd"));
        let sqlite = std::fs::read(case.join("case.sqlite")).unwrap();
        assert!(!sqlite.windows(6).any(|w| w == "pässw".as_bytes()));
        let v = decrypted_volume(&case);
        assert!(
            v.contains(&format!(
                "({cipher}, {sector}-byte sectors), opened by keyslot 0 with a password"
            )),
            "{v}"
        );
        assert!(run(&["verify", case.to_str().unwrap()]).status.success());
    }
}

#[test]
fn a_wrong_key_names_the_volume_and_keyslots_and_changes_nothing() {
    if !tools(&["cryptsetup", "mkfs.ext4"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let pass = dir.path().join("pass");
    std::fs::write(&pass, "right").unwrap();
    let (img, _) = luks2_ext4(
        dir.path(),
        "w",
        ("aes-xts-plain64", "512", "512", FAST_PBKDF2),
        &pass,
        9,
    );
    let case = dir.path().join("case");
    let o = one_shot(
        "recover",
        &img,
        None,
        &case,
        &["--key", "password=wrong", "--key", "password=also-wrong"],
    );
    assert_eq!(o.status.code(), Some(2), "{}", stdout(&o));
    let err = stderr(&o);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("ev1/v0") && err.contains("password on keyslots 0"),
        "{err}"
    );
    assert!(
        !err.contains("wrong"),
        "the keys tried are not printed: {err}"
    );
    // Nothing registered: no evidence, no artifacts.
    assert!(ls_json(&case).is_empty());
    assert_eq!(evidence_count(&case), 0);
    // A key aimed at another volume is not tried here; the right one opens it.
    let o = one_shot(
        "recover",
        &img,
        None,
        &dir.path().join("c2"),
        &["--key", "ev1/v3:password=right"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(!stdout(&o).contains("ext4"), "{}", stdout(&o));
    let o = one_shot(
        "recover",
        &img,
        None,
        &dir.path().join("c3"),
        &["--key", "ev1/v0:password=right"],
    );
    assert!(stdout(&o).contains("ev1/v1:ext4"), "{}", stdout(&o));
}

#[test]
fn unreadable_ciphertext_makes_exactly_its_plaintext_sectors_unreadable() {
    if !tools(&["cryptsetup", "mkfs.ext4"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let pass = dir.path().join("pass");
    std::fs::write(&pass, "k").unwrap();
    for sector in [512u64, 4096] {
        let (img, files) = luks2_ext4(
            dir.path(),
            &format!("b{sector}"),
            ("aes-xts-plain64", "512", &sector.to_string(), FAST_PBKDF2),
            &pass,
            sector,
        );
        // Where big.bin's ciphertext lies, from a clean recovery.
        let clean = dir.path().join(format!("clean{sector}"));
        let key = format!("keyfile={}", pass.display());
        let arts = one_shot_ls("recover", &img, None, &clean, 0, &["--key", &key]);
        let big = arts.iter().find(|a| a["path"] == "/big.bin").unwrap();
        let run0 = &big["runs"][0];
        let at = run0["image_offset"].as_u64().unwrap();
        assert!(run0["len"].as_u64().unwrap() > 20_000);
        // 100 bytes unreadable, 5 000 bytes into the file's first run.
        let map = dir.path().join(format!("bad{sector}.map"));
        let size = std::fs::metadata(&img).unwrap().len();
        write_bad_map(&map, size, &[(at + 5000, 100)]);
        let case = dir.path().join(format!("bad{sector}"));
        let arts = one_shot_ls("recover", &img, Some(&map), &case, 3, &["--key", &key]);
        let big = arts.iter().find(|a| a["path"] == "/big.bin").unwrap();
        let first = 5000 / sector * sector;
        assert_eq!(
            big["gaps"],
            serde_json::json!([{"file_offset": first, "len": sector, "why": "map-bad-sector"}]),
            "{sector}"
        );
        // Every other byte is the original.
        let out = std::fs::read(case.join(big["extracted"].as_str().unwrap())).unwrap();
        let want = &files.iter().find(|(n, _)| n == "big.bin").unwrap().1;
        let (a, b) = (first as usize, (first + sector) as usize);
        assert_eq!(out.len(), want.len());
        assert!(out[..a] == want[..a] && out[b..] == want[b..], "{sector}");
        assert!(out[a..b].iter().all(|&c| c == 0));
    }
}

#[test]
fn cryptsetups_luks1_images_open_with_their_keyfile() {
    if !tools(&["tar", "xz"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    assert!(sh(&format!(
        "tar -xJf {} -C {}",
        shared("cryptsetup/luks1-images.tar.xz").display(),
        dir.path().display()
    )));
    let key = format!("keyfile={}", dir.path().join("keyfile1").display());
    for name in [
        "luks1_aes-xts-plain64-sha256.img",
        "luks1_aes-cbc-essiv-sha256-sha1.img",
        "luks1_serpent-xts-plain64-sha1.img",
    ] {
        let img = dir.path().join(name);
        // The images keep only the first sectors of their data (the rest was
        // zeroed to compress them); those decrypt to a FAT12 boot sector,
        // which is what cryptsetup's own tests find there.
        let o = run(&["list", img.to_str().unwrap(), "--key", &key]);
        assert!(o.status.success(), "{name}: {}", stderr(&o));
        let case = dir.path().join(format!("case-{name}"));
        let o = one_shot(
            "recover",
            &img,
            None,
            &case,
            &["--key", "password=not-it", "--key", &key],
        );
        assert!(
            stdout(&o).contains("ev1/v1:fat12"),
            "{name}: {}{}",
            stdout(&o),
            stderr(&o)
        );
        let o = one_shot(
            "recover",
            &img,
            None,
            &dir.path().join(format!("w-{name}")),
            &["--key", "password=not-it"],
        );
        assert_eq!(o.status.code(), Some(2), "{name}");
    }
}

#[test]
fn a_case_scanned_before_the_key_was_found_takes_the_plaintext_later_and_verifies() {
    if !tools(&["cryptsetup", "mkfs.ext4"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let pass = dir.path().join("pass");
    std::fs::write(&pass, "found-later").unwrap();
    let (img, files) = luks2_ext4(
        dir.path(),
        "l",
        ("aes-xts-plain64", "512", "512", FAST_PBKDF2),
        &pass,
        5,
    );
    let case = dir.path().join("case");
    let c = case.to_str().unwrap();
    assert!(run(&["case", "new", c, "--examiner", "T"]).status.success());
    assert!(run(&["add", c, img.to_str().unwrap()]).status.success());
    assert!(run(&["scan", c]).status.success());
    assert!(recovered(&case).0.is_empty());
    let o = run(&[
        "scan",
        c,
        "--key",
        &format!("password-file={}", pass.display()),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let (got, _) = recovered(&case);
    for (n, b) in &files {
        assert_eq!(got.get(n), Some(&sha256(b)), "{n}");
    }
    let v = run(&["verify", c]);
    assert!(v.status.success(), "{}{}", stdout(&v), stderr(&v));
    // The plaintext volume's row is sealed like any other.
    let db = rusqlite::Connection::open(case.join("case.sqlite")).unwrap();
    db.execute(
        "UPDATE volumes SET description = 'x' WHERE kind = 'decrypted'",
        [],
    )
    .unwrap();
    assert_eq!(run(&["verify", c]).status.code(), Some(2));
}

#[test]
fn export_volume_writes_the_plaintext_the_volume_held_before_encryption() {
    if !tools(&["cryptsetup", "mkfs.ext4"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let pass = dir.path().join("pass");
    std::fs::write(&pass, "export-me").unwrap();
    let fmt = ("aes-xts-plain64", "512", "4096", FAST_PBKDF2);
    let (img, _) = luks2_ext4(dir.path(), "x", fmt, &pass, 11);
    let case = dir.path().join("case");
    let c = case.to_str().unwrap();
    let key = format!("keyfile={}", pass.display());
    let o = one_shot("recover", &img, None, &case, &["--key", &key]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = dir.path().join("out");
    let o = run(&[
        "export-volume",
        c,
        "ev1/v0",
        "--out",
        out.to_str().unwrap(),
        "--key",
        &key,
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    // `reencrypt --encrypt` keeps the data where it was, encrypted: the
    // plaintext begins with the 20 MiB filesystem image exactly as it was made.
    // (Past it, the data segment ends in bytes the reencryption left.)
    let plain = std::fs::read(out.join("ev1-v0.plain.raw")).unwrap();
    let before = std::fs::read(dir.path().join("x.before")).unwrap();
    let fs_len = 20 << 20;
    assert!(plain.len() >= fs_len);
    assert!(
        plain[..fs_len] == before[..fs_len],
        "the exported plaintext differs from the filesystem encrypted"
    );
    // Its digests are in the custody log, and the case still verifies.
    let log = stdout(&run(&["log", c]));
    assert!(log.contains(&sha256(&plain)), "{log}");
    assert!(run(&["verify", c]).status.success());
    // Never over an earlier export; no key, no export.
    let again = run(&[
        "export-volume",
        c,
        "--out",
        out.to_str().unwrap(),
        "--key",
        &key,
    ]);
    assert_eq!(again.status.code(), Some(2));
    let none = run(&[
        "export-volume",
        c,
        "ev1/v0",
        "--out",
        dir.path().join("o2").to_str().unwrap(),
        "--key",
        "password=no",
    ]);
    assert_eq!(none.status.code(), Some(2));
    assert!(stderr(&none).contains("ev1/v0"), "{}", stderr(&none));
}

/// A LUKS2 volume whose header is kept in a file of its own (`cryptsetup
/// --header`): the data volume alone is random bytes with no header. With
/// `--key luks-header=FILE` and the passphrase every file comes back, and the
/// case names the header file by its SHA-256; aimed at the volume with a wrong
/// passphrase, the scan fails naming the volume and the detached header.
#[test]
fn a_detached_luks2_header_opens_its_data_volume() {
    if !tools(&["cryptsetup", "mkfs.ext4"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let files = originals(&d.join("content"), 9);
    let (img, hdr, pass) = (d.join("data.img"), d.join("header.img"), d.join("pass"));
    std::fs::write(&pass, "detached-證據").unwrap();
    assert!(sh(&format!(
        "mkfs.ext4 -q -F -b 4096 -d {} {} 24M && truncate -s 16M {}",
        d.join("content").display(),
        img.display(),
        hdr.display()
    )));
    let mut args = vec![
        "reencrypt",
        "--encrypt",
        "--type",
        "luks2",
        "--header",
        hdr.to_str().unwrap(),
        "--batch-mode",
        "--key-file",
        pass.to_str().unwrap(),
    ];
    args.extend_from_slice(FAST_PBKDF2);
    args.push(img.to_str().unwrap());
    cryptsetup(&args);
    let data = std::fs::read(&img).unwrap();
    assert!(
        !data.windows(6).any(|w| w == b"LUKS\xba\xbe"),
        "the data holds a header"
    );

    let key = format!("password-file={}", pass.display());
    let header = format!("luks-header={}", hdr.display());
    let case = d.join("case");
    let o = one_shot(
        "recover",
        &img,
        None,
        &case,
        &["--key", &key, "--key", &header],
    );
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    let (got, paths) = recovered(&case);
    for (n, b) in &files {
        assert_eq!(got.get(n), Some(&sha256(b)), "{n} in {got:?}");
    }
    assert!(
        paths.iter().all(|p| p.contains("/luks2/ext4/")),
        "{paths:?}"
    );
    let v = decrypted_volume(&case);
    let hdr_sha = sha256_file(&hdr);
    assert!(
        v.contains(&format!(
            "keyslot 0 with a password, detached header SHA-256 {hdr_sha}"
        )),
        "{v}"
    );
    assert!(run(&["verify", case.to_str().unwrap()]).status.success());

    // Without the header the passphrase opens nothing: no file of the volume.
    let bare = d.join("bare");
    one_shot("recover", &img, None, &bare, &["--key", &key]);
    let (got, _) = recovered(&bare);
    assert!(files.iter().all(|(n, _)| !got.contains_key(n)), "{got:?}");

    // Aimed at the volume with a wrong passphrase: one line naming both.
    std::fs::write(d.join("wrong"), "not it").unwrap();
    let wrong = format!("ev1/v0:password-file={}", d.join("wrong").display());
    let aimed = format!("ev1/v0:luks-header={}", hdr.display());
    let o = one_shot(
        "recover",
        &img,
        None,
        &d.join("wrong-case"),
        &["--key", &wrong, "--key", &aimed],
    );
    assert_eq!(o.status.code(), Some(2), "{}{}", stdout(&o), stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("ev1/v0") && err.contains("detached LUKS header"),
        "{err}"
    );
}
