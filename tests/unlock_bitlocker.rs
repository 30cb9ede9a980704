//! BitLocker volumes opened read-only with the examiner's keys (issue 13):
//! cryptsetup's BitLocker test images (`tests/bitlk-images.tar.xz` of
//! cryptsetup, GPL-2.0-or-later; ../shared/testdata/SOURCES.md), each opened
//! by a scan with one of the keys `bitlk-images.conf` gives (password,
//! recovery password, startup key file, or none when its protection is
//! suspended). `dredge export-volume` must then write the plaintext volume
//! with the SHA-256 the conf publishes (that of cryptsetup's own mapping), and
//! record it in the custody log; a wrong key fails the scan with one line
//! naming the volume and its protectors, and registers nothing.

mod common;

use common::*;
use std::collections::HashMap;
use std::path::Path;

fn conf_sections(text: &str) -> Vec<(String, HashMap<String, String>)> {
    let mut out: Vec<(String, HashMap<String, String>)> = Vec::new();
    for line in text.lines().map(str::trim) {
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            out.push((name.to_string(), HashMap::new()));
        } else if let (Some((k, v)), Some(last)) = (line.split_once('='), out.last_mut()) {
            last.1.insert(k.to_string(), v.to_string());
        }
    }
    out
}

fn unpack(dir: &Path) -> Vec<(String, HashMap<String, String>)> {
    assert!(sh(&format!(
        "tar -xJf {} -C {}",
        shared("cryptsetup/bitlk-images.tar.xz").display(),
        dir.display()
    )));
    conf_sections(&std::fs::read_to_string(shared("cryptsetup/bitlk-images.conf")).unwrap())
}

#[test]
fn every_bitlocker_image_opens_and_exports_the_plaintext_cryptsetup_maps() {
    if !tools(&["tar", "xz"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut seen = 0;
    for (i, (name, c)) in unpack(dir.path()).into_iter().enumerate() {
        let img = dir.path().join(format!("{name}.img"));
        let get = |k: &str| c.get(k).filter(|v| !v.is_empty()).cloned();
        // A different kind of key from image to image, each image's own.
        let mut keys: Vec<String> = Vec::new();
        if let Some(g) = get("SK_VMK_GUID") {
            let bek = dir.path().join(format!("{}.BEK", g.to_uppercase()));
            keys.push(format!("bek={}", bek.display()));
        }
        if let Some(pw) = get("PW") {
            keys.push(format!("password={pw}"));
        }
        if let Some(rp) = get("RP") {
            keys.push(format!("recovery={rp}"));
        }
        let key = (!keys.is_empty()).then(|| keys[i % keys.len()].clone());
        let args: Vec<&str> = key.iter().flat_map(|k| ["--key", k.as_str()]).collect();
        let case = dir.path().join(format!("case-{name}"));
        let o = one_shot("recover", &img, None, &case, &args);
        // These images' plaintext is random past its boot sector: what its
        // filesystem reader makes of it may be partial (exit 3).
        assert!(
            matches!(o.status.code(), Some(0 | 3)),
            "{name}: {}",
            stderr(&o)
        );
        // The plaintext is a volume of its own, and says how it was opened.
        let show = stdout(&run(&["case", "show", case.to_str().unwrap()]));
        assert!(show.contains("bitlocker"), "{name}: {show}");
        let out = dir.path().join(format!("out-{name}"));
        let mut export = vec![
            "export-volume",
            case.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ];
        // Keys are never kept; a volume that needed none needs none again,
        // but the command wants one: any does.
        let again = key.clone().unwrap_or_else(|| "password=unused".into());
        export.extend(["--key", again.as_str()]);
        let e = run(&export);
        assert!(e.status.success(), "{name}: {}", stderr(&e));
        let plain = out.join("ev1-v0.plain.raw");
        let sum = sha256_file(&plain);
        assert_eq!(Some(sum.clone()), get("SHA256SUM"), "{name} ({key:?})");
        let log = stdout(&run(&["log", case.to_str().unwrap()]));
        assert!(log.contains(&sum), "{name}: {log}");
        assert!(run(&["verify", case.to_str().unwrap()]).status.success());
        seen += 1;
    }
    assert!(seen >= 7, "only {seen} images");
}

#[test]
fn a_wrong_bitlocker_key_names_the_volume_and_its_protectors_and_registers_nothing() {
    if !tools(&["tar", "xz"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let sections = unpack(dir.path());
    let (name, c) = sections
        .iter()
        .find(|(_, c)| c.get("PW").is_some_and(|p| !p.is_empty()))
        .unwrap();
    let img = dir.path().join(format!("{name}.img"));
    let case = dir.path().join("case");
    let o = one_shot(
        "recover",
        &img,
        None,
        &case,
        &[
            "--key",
            "password=not-it",
            "--key",
            "recovery=111111-222222-333333-444444-555555-111111-222222-333333",
        ],
    );
    assert_eq!(o.status.code(), Some(2), "{}", stdout(&o));
    let err = stderr(&o);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("ev1/v0"), "{err}");
    for k in ["PW_VMK_GUID", "RP_VMK_GUID"] {
        assert!(err.contains(&c[k]), "{k} not named: {err}");
    }
    assert!(!err.contains("not-it") && !err.contains("111111"), "{err}");
    assert!(ls_json(&case).is_empty());
    assert_eq!(evidence_count(&case), 0);
    // A recovery password of the wrong form is refused before anything runs.
    let o = one_shot(
        "recover",
        &img,
        None,
        &dir.path().join("c2"),
        &["--key", "recovery=12345"],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("recovery"), "{}", stderr(&o));
}

/// The conf's AES-XTS image (not To Go) that a password opens.
fn xts_with_password(
    sections: &[(String, HashMap<String, String>)],
) -> (&String, &HashMap<String, String>) {
    sections
        .iter()
        .find(|(n, c)| {
            c["CIPHER"] == "aes-xts-plain64" && !c["PW"].is_empty() && !n.contains("togo")
        })
        .map(|(n, c)| (n, c))
        .unwrap()
}

/// A BitLocker volume holding an NTFS of our own: cryptsetup's AES-XTS test
/// image with `mkntfs`'s filesystem encrypted into it by
/// tests/tools/bitlocker_fill.py (the key from `cryptsetup bitlkDump
/// --dump-volume-key`, the cipher from Python's `cryptography`: nothing of
/// dredge's). Returns the image and the files put in it.
fn bitlocker_ntfs(dir: &Path, seed: u64) -> (std::path::PathBuf, String, Vec<(String, Vec<u8>)>) {
    let sections = unpack(dir);
    let (name, c) = xts_with_password(&sections);
    let container = dir.join(format!("{name}.img"));
    let size = std::fs::metadata(&container).unwrap().len();
    let plain = dir.join("plain.ntfs");
    std::fs::File::create(&plain)
        .unwrap()
        .set_len(size)
        .unwrap();
    assert!(sh(&format!(
        "mkntfs -q -F -Q -s 512 -p 0 -H 0 -S 0 {} >/dev/null 2>&1",
        plain.display()
    )));
    let files = vec![
        ("big.bin".to_string(), noise(300_000, seed)),
        (
            "Übersicht – 2026.txt".to_string(),
            b"r\xc3\xa9sum\xc3\xa9\n".to_vec(),
        ),
        ("small.dat".to_string(), noise(5_000, seed + 1)),
    ];
    for (n, b) in &files {
        let src = dir.join("src.tmp");
        std::fs::write(&src, b).unwrap();
        assert!(sh(&format!(
            "ntfscp -q {} {} '{n}'",
            plain.display(),
            src.display()
        )));
    }
    let img = dir.join("bitlocker-ntfs.img");
    let tool = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/tools/bitlocker_fill.py");
    assert!(sh(&format!(
        "python3 {} {} '{}' {} {}",
        tool.display(),
        container.display(),
        c["PW"],
        plain.display(),
        img.display()
    )));
    (img, c["PW"].clone(), files)
}

#[test]
fn files_in_a_bitlocker_ntfs_come_back_bit_exact_and_bad_ciphertext_costs_exactly_its_sector() {
    if !tools(&["cryptsetup", "mkntfs", "ntfscp", "python3", "tar", "xz"]) {
        return;
    }
    assert!(
        sh("python3 -c 'import cryptography' 2>/dev/null"),
        "python3-cryptography (scripts/install-tools.sh)"
    );
    let dir = tempfile::tempdir().unwrap();
    let (img, pw, files) = bitlocker_ntfs(dir.path(), 21);
    let key = format!("password={pw}");
    let clean = dir.path().join("clean");
    let arts = one_shot_ls("recover", &img, None, &clean, 0, &["--key", &key]);
    for (n, b) in &files {
        let a = arts
            .iter()
            .find(|a| a["path"] == format!("/{n}"))
            .unwrap_or_else(|| panic!("{n} not recovered: {arts:?}"));
        let got = std::fs::read(clean.join(a["extracted"].as_str().unwrap())).unwrap();
        assert!(got == *b, "{n} differs");
        // The path shows the layer the file was read through.
        let fp = a["forensic_path"].as_str().unwrap_or_default();
        assert!(fp.contains("/bitlocker/ntfs/"), "{fp}");
    }
    // The plaintext volume is what dislocker (a peer that shares no code)
    // decrypts, byte for byte.
    if tools(&["dislocker-file"]) {
        let out = dir.path().join("exported");
        let e = run(&[
            "export-volume",
            clean.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--key",
            &key,
        ]);
        assert!(e.status.success(), "{}", stderr(&e));
        let peer = dir.path().join("dislocker.raw");
        assert!(sh(&format!(
            "dislocker-file -V {} -u'{pw}' -- {} >/dev/null 2>&1",
            img.display(),
            peer.display()
        )));
        assert_eq!(
            sha256_file(&out.join("ev1-v0.plain.raw")),
            sha256_file(&peer),
            "dredge's plaintext differs from dislocker's"
        );
    }
    // 50 unreadable bytes 3 000 bytes into big.bin's first run: the one
    // 512-byte plaintext sector over them is lost, nothing else.
    let big = arts.iter().find(|a| a["path"] == "/big.bin").unwrap();
    let at = big["runs"][0]["image_offset"].as_u64().unwrap();
    let map = dir.path().join("bad.map");
    let size = std::fs::metadata(&img).unwrap().len();
    write_bad_map(&map, size, &[(at + 3000, 50)]);
    let case = dir.path().join("bad");
    let arts = one_shot_ls("recover", &img, Some(&map), &case, 3, &["--key", &key]);
    let big = arts.iter().find(|a| a["path"] == "/big.bin").unwrap();
    assert_eq!(
        big["gaps"],
        serde_json::json!([{"file_offset": 2560, "len": 512, "why": "map-bad-sector"}])
    );
    let out = std::fs::read(case.join(big["extracted"].as_str().unwrap())).unwrap();
    let want = &files[0].1;
    assert_eq!(out.len(), want.len());
    assert!(out[..2560] == want[..2560] && out[3072..] == want[3072..]);
    assert!(out[2560..3072].iter().all(|&c| c == 0));
}

#[test]
fn hashes_hands_off_a_line_per_password_protector_that_its_password_opens() {
    if !tools(&["tar", "xz"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut checked = 0;
    for (name, c) in unpack(dir.path()) {
        let case = dir.path().join(format!("case-{name}"));
        let cs = case.to_str().unwrap();
        assert!(run(&["case", "new", "--examiner", "t", cs])
            .status
            .success());
        let img = dir.path().join(format!("{name}.img"));
        assert!(run(&["add", cs, img.to_str().unwrap()]).status.success());
        let o = run(&["hashes", cs]);
        assert!(o.status.success(), "{}", stderr(&o));
        let lines: Vec<String> = stdout(&o).lines().map(String::from).collect();
        let about = stderr(&o);
        for (guid, secret, t) in [("PW_VMK_GUID", "PW", "1"), ("RP_VMK_GUID", "RP", "3")] {
            let (Some(g), Some(s)) = (
                c.get(guid).filter(|v| !v.is_empty()),
                c.get(secret).filter(|v| !v.is_empty()),
            ) else {
                continue;
            };
            // hashcat's layout (mode 22100: $bitlocker$T$16$salt$1048576$12$nonce$60$data).
            let at = about.lines().position(|l| l.contains(g.as_str()));
            let at = at.unwrap_or_else(|| panic!("{name}: {g} not named: {about}"));
            let line = &lines[at];
            let f: Vec<&str> = line.split('$').collect();
            assert_eq!(
                (f.len(), f[1], f[2], f[3], f[5], f[6], f[8]),
                (10, "bitlocker", t, "16", "1048576", "12", "60"),
                "{line}"
            );
            assert_eq!((f[4].len(), f[7].len(), f[9].len()), (32, 24, 120));
            assert!(
                dredge_crypt::bitlocker_line_opens(line, s.as_bytes()),
                "{name}: {line}"
            );
            assert!(
                !dredge_crypt::bitlocker_line_opens(line, b"wrong"),
                "{name}"
            );
            checked += 1;
        }
        // John's layout names the volume and protector; the custody log
        // records what was handed off.
        let john = stdout(&run(&["hashes", cs, "--format", "john"]));
        for (l, h) in john.lines().zip(&lines) {
            assert!(
                l.starts_with("ev1/v0/") && l.ends_with(&format!(":{h}")),
                "{l}"
            );
        }
        if let Some(h) = lines.first() {
            assert!(stdout(&run(&["log", cs])).contains(h.as_str()));
        }
    }
    assert!(checked >= 11, "{checked}");
}

#[test]
fn a_batch_job_unlocks_with_the_keys_its_items_name() {
    if !tools(&["tar", "xz"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let sections = unpack(dir.path());
    let (name, c) = xts_with_password(&sections);
    std::fs::write(dir.path().join("pw.txt"), format!("{}\n", c["PW"])).unwrap();
    let job = dir.path().join("job.toml");
    let write_job = |keys: &str| {
        std::fs::write(
            &job,
            format!(
                "cases_dir = \"cases\"\nexaminer = \"t\"\ncarve = \"none\"\n\n[[item]]\nimage = \"{name}.img\"\nkeys = [{keys}]\n"
            ),
        )
        .unwrap()
    };
    // A bad spec refuses the job before anything runs, without its value.
    write_job("\"recovery=12-34\"");
    let o = run(&["batch", job.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", stdout(&o));
    assert!(stderr(&o).contains("keys: recovery") && !stderr(&o).contains("12-34"));
    assert!(!dir.path().join("cases").exists());
    write_job("\"password-file=pw.txt\"");
    let o = run(&["batch", job.to_str().unwrap()]);
    assert!(matches!(o.status.code(), Some(0 | 3)), "{}", stderr(&o));
    let case = dir.path().join("cases").join(format!("{name}.img"));
    let case = if case.exists() {
        case
    } else {
        dir.path().join("cases").join(name)
    };
    let show = stdout(&run(&["case", "show", case.to_str().unwrap()]));
    assert!(
        show.contains("decrypted") && show.contains("bitlocker"),
        "{show}"
    );
    let log = stdout(&run(&["log", case.to_str().unwrap()]));
    assert!(
        log.contains("password-file") || log.contains("\"password\""),
        "{log}"
    );
    assert!(
        !log.contains(c["PW"].as_str()),
        "the password is not recorded"
    );
}

#[test]
fn resuming_a_scan_whose_decrypted_volume_is_unfinished_asks_for_the_key_again() {
    if !tools(&["cryptsetup", "mkntfs", "ntfscp", "python3", "tar", "xz"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (img, pw, files) = bitlocker_ntfs(dir.path(), 33);
    let key = format!("password={pw}");
    let case = dir.path().join("case");
    let cs = case.to_str().unwrap();
    let o = one_shot("recover", &img, None, &case, &["--key", &key]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    // As if the scan had stopped before sealing the decrypted volume's unit.
    let db = rusqlite::Connection::open(case.join("case.sqlite")).unwrap();
    assert_eq!(
        db.execute("DELETE FROM scan_units WHERE unit = 'v1'", [])
            .unwrap(),
        1
    );
    drop(db);
    // Resumed without the key: refused, one line, not a silent "complete".
    let o = run(&["--progress", "none", "scan", cs]);
    assert_eq!(o.status.code(), Some(2), "{}", stdout(&o));
    let err = stderr(&o);
    assert!(
        err.contains("ev1/v1") && err.contains("--key again"),
        "{err}"
    );
    // With it, the volume is finished and its files are there.
    let o = run(&["--progress", "none", "scan", cs, "--key", &key]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let arts = ls_json(&case);
    let big = arts.iter().find(|a| a["path"] == "/big.bin").unwrap();
    let got = std::fs::read(case.join(big["extracted"].as_str().unwrap())).unwrap();
    assert!(got == files[0].1);
}
