//! VeraCrypt containers opened read-only with a password and PIM (issue 13).
//! The containers are made here by tests/tools/veracrypt_make.py (hashlib's
//! PBKDF2 and the `cryptography` package's AES-XTS, nothing of dredge's)
//! around a FAT filesystem `mkfs.fat` and `mcopy` filled; cryptsetup's own
//! TrueCrypt/VeraCrypt images are opened in engine/crypt/tests/tcrypt_unlock.rs.

mod common;

use common::*;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// `dredge batch`'s JSON-lines events.
fn events(o: &std::process::Output) -> Vec<Value> {
    stdout(o)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// A VeraCrypt container holding a FAT filesystem with `files`.
fn container(dir: &Path, name: &str, pw: &str, pim: u32, files: &[(&str, Vec<u8>)]) -> PathBuf {
    let fat = dir.join(format!("{name}.fat"));
    std::fs::File::create(&fat)
        .unwrap()
        .set_len(8 << 20)
        .unwrap();
    assert!(sh(&format!("mkfs.fat {} >/dev/null", fat.display())));
    for (n, b) in files {
        let src = dir.join("src.tmp");
        std::fs::write(&src, b).unwrap();
        assert!(sh(&format!(
            "mcopy -i {} {} '::{n}'",
            fat.display(),
            src.display()
        )));
    }
    let out = dir.join(format!("{name}.hc"));
    let tool = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/tools/veracrypt_make.py");
    assert!(sh(&format!(
        "python3 {} {} {} '{pw}' {pim}",
        tool.display(),
        fat.display(),
        out.display()
    )));
    out
}

#[test]
fn a_veracrypt_container_opens_with_password_and_pim_alone_or_in_a_partition() {
    if !tools(&["mkfs.fat", "mcopy", "python3", "sfdisk"]) {
        return;
    }
    assert!(
        sh("python3 -c 'import cryptography' 2>/dev/null"),
        "python3-cryptography (scripts/install-tools.sh)"
    );
    let dir = tempfile::tempdir().unwrap();
    let files = [
        ("report.pdf", noise(200_000, 5)),
        ("notes.txt", b"meeting at 10\n".to_vec()),
    ];
    let pw = "pässwörd 7";
    let hc = container(dir.path(), "c", pw, 7, &files);
    // The container alone, and inside the second partition of a disk.
    let disk = dir.path().join("disk.img");
    let hc_len = std::fs::metadata(&hc).unwrap().len();
    std::fs::File::create(&disk)
        .unwrap()
        .set_len((4 << 20) + hc_len + (1 << 20))
        .unwrap();
    assert!(sh(&format!(
        "printf 'start=2048, size=4096, type=83\\nstart=8192, size={}, type=7\\n' | sfdisk -q {} && dd if={} of={} bs=1M seek=4 conv=notrunc status=none",
        hc_len / 512,
        disk.display(),
        hc.display(),
        disk.display()
    )));
    for (img, vol) in [(&hc, "v0"), (&disk, "v")] {
        let case = dir.path().join(format!("case-{vol}"));
        let key = format!("password={pw}");
        let arts = one_shot_ls(
            "recover",
            img,
            None,
            &case,
            0,
            &["--key", &key, "--key", "pim=7"],
        );
        for (n, b) in &files {
            let a = arts
                .iter()
                .find(|a| a["path"] == format!("/{n}"))
                .unwrap_or_else(|| panic!("{n} not recovered from {}: {arts:?}", img.display()));
            let got = std::fs::read(case.join(a["extracted"].as_str().unwrap())).unwrap();
            assert!(got == *b, "{n} differs");
            let fp = a["forensic_path"].as_str().unwrap_or_default();
            assert!(fp.contains("/veracrypt/"), "{fp}");
        }
        let show = stdout(&run(&["case", "show", case.to_str().unwrap()]));
        assert!(show.contains("opened by the normal header"), "{show}");
        assert!(!show.contains(pw), "the password is not recorded: {show}");
    }
    // Without a key it is only a possible container, said so in a finding.
    let case = dir.path().join("nokey");
    assert_eq!(
        one_shot("recover", &hc, None, &case, &[]).status.code(),
        Some(0)
    );
    let f = findings(&case);
    assert!(
        f.iter()
            .any(|w| w.starts_with("possible VeraCrypt/TrueCrypt container")),
        "{f:?}"
    );
    // Without the PIM the iterations differ: a key aimed at the volume
    // fails, with one line, and nothing is registered.
    let case = dir.path().join("wrong");
    let o = one_shot(
        "recover",
        &hc,
        None,
        &case,
        &["--key", &format!("ev1/v0:password={pw}")],
    );
    assert_eq!(o.status.code(), Some(2), "{}", stdout(&o));
    let err = stderr(&o);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("ev1/v0") && err.contains("VeraCrypt"), "{err}");
    assert!(!err.contains(pw), "{err}");
    assert!(ls_json(&case).is_empty());
}

#[test]
fn hashes_writes_header_files_for_luks1_and_possible_veracrypt_containers() {
    if !tools(&["mkfs.fat", "mcopy", "python3", "cryptsetup", "tar", "xz"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let hc = container(dir.path(), "h", "secret", 0, &[("a.txt", b"a".to_vec())]);
    assert!(sh(&format!(
        "tar -xJf {} -C {} luks1_aes-xts-plain64-sha256.img keyfile1",
        shared("cryptsetup/luks1-images.tar.xz").display(),
        dir.path().display()
    )));
    let luks = dir.path().join("luks1_aes-xts-plain64-sha256.img");
    let case = dir.path().join("case");
    let cs = case.to_str().unwrap();
    assert!(run(&["case", "new", "--examiner", "t", cs])
        .status
        .success());
    for img in [&luks, &hc] {
        assert!(run(&["add", cs, img.to_str().unwrap()]).status.success());
    }
    let out = dir.path().join("out");
    let o = run(&["hashes", cs, "--out", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("hashcat -m 14600") && err.contains("hashcat -m 13721"),
        "{err}"
    );
    // LUKS1: header, keyslot material and the first data sector; enough for
    // cryptsetup itself to recover the volume key from it with the keyfile.
    let h = std::fs::read(out.join("ev1-v0.luks1-header")).unwrap();
    let image = std::fs::read(&luks).unwrap();
    assert!(h.len() > 592 && h.len() % 512 == 0 && image.starts_with(&h));
    let dump = cryptsetup(&[
        "luksDump",
        "--dump-volume-key",
        "--batch-mode",
        "--key-file",
        dir.path().join("keyfile1").to_str().unwrap(),
        out.join("ev1-v0.luks1-header").to_str().unwrap(),
    ]);
    assert!(dump.contains("MK dump:"), "{dump}");
    let tc = std::fs::read(&hc).unwrap();
    assert_eq!(
        std::fs::read(out.join("ev2-v0.tc-header")).unwrap(),
        tc[..512]
    );
    assert_eq!(
        std::fs::read(out.join("ev2-v0.tc-hidden-header")).unwrap(),
        tc[65536..66048]
    );
    // What was handed off is in the custody log, with each file's digest.
    let log = stdout(&run(&["log", cs]));
    assert!(
        log.contains(&sha256_file(&out.join("ev2-v0.tc-header"))),
        "{log}"
    );
    // Never over an earlier hand-off.
    assert_eq!(
        run(&["hashes", cs, "--out", out.to_str().unwrap()])
            .status
            .code(),
        Some(2)
    );
}

/// A container kept as a file, as most are: a USB stick's NTFS holding it
/// among files that are compressed, random but of no container's size, or
/// empty. The scan names the container file alone as a possible container
/// (size, random first sector, random throughout) and says how to open it;
/// done so (its copy registered as evidence and scanned with the key), its
/// files come back; and `recover` with the key does it in one command.
#[test]
fn a_container_kept_as_a_file_is_named_and_opens_once_its_copy_is_added() {
    if !tools(&["mkfs.fat", "mcopy", "mkntfs", "ntfscp", "python3", "zip"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let inner = [("Kontoauszug.txt", b"IBAN DE00 1234\n".repeat(300))];
    // A small PIM keeps the key derivation of each try short.
    let hc = container(dir.path(), "f", "stick pw", 3, &inner);
    let ntfs = dir.path().join("stick.ntfs");
    std::fs::File::create(&ntfs)
        .unwrap()
        .set_len(24 << 20)
        .unwrap();
    assert!(sh(&format!(
        "mkfs.ntfs -q -F -Q {} >/dev/null 2>&1",
        ntfs.display()
    )));
    let put = |src: &Path, name: &str| {
        assert!(sh(&format!(
            "ntfscp -q {} {} '{name}'",
            ntfs.display(),
            src.display()
        )));
    };
    put(&hc, "backup.dat");
    // Random but of no container's size; a container's size but a zip; a
    // container's size but zeros.
    let odd = dir.path().join("odd");
    std::fs::write(&odd, noise(300_001, 3)).unwrap();
    put(&odd, "noise.bin");
    let z = dir.path().join("z.zip");
    std::fs::write(dir.path().join("n"), noise(600_000, 4)).unwrap();
    assert!(sh(&format!(
        "cd {} && zip -q -0 z.zip n",
        dir.path().display()
    )));
    let zl = std::fs::metadata(&z).unwrap().len();
    std::fs::OpenOptions::new()
        .append(true)
        .open(&z)
        .unwrap()
        .set_len(zl.div_ceil(512) * 512)
        .unwrap();
    put(&z, "photos.zip");
    let zeros = dir.path().join("zeros");
    std::fs::write(&zeros, vec![0u8; 512 << 10]).unwrap();
    put(&zeros, "empty.img");
    let case = dir.path().join("case");
    let cs = case.to_str().unwrap();
    let arts = one_shot_ls("recover", &ntfs, None, &case, 0, &[]);
    let f: Vec<String> = findings(&case)
        .into_iter()
        .filter(|w| w.contains("possible VeraCrypt/TrueCrypt container file"))
        .collect();
    assert_eq!(f.len(), 1, "{f:?}");
    assert!(f[0].contains("/backup.dat"), "{f:?}");
    // As the finding says: its copy registered, and scanned with the key.
    let a = arts.iter().find(|a| a["path"] == "/backup.dat").unwrap();
    let copy = case.join(a["extracted"].as_str().unwrap());
    assert!(f[0].contains(a["extracted"].as_str().unwrap()), "{f:?}");
    let o = run(&["add", cs, copy.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = run(&[
        "--progress",
        "none",
        "scan",
        cs,
        "--key",
        "password=stick pw",
        "--key",
        "pim=3",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let opened = |case: &Path| {
        let got = ls_json(case);
        let t = got
            .iter()
            .find(|a| a["path"] == "/Kontoauszug.txt")
            .expect("the container's file")
            .clone();
        assert!(
            t["forensic_path"].as_str().unwrap().starts_with("ev2/"),
            "{t}"
        );
        let b = std::fs::read(case.join(t["extracted"].as_str().unwrap())).unwrap();
        assert_eq!(b, inner[0].1);
    };
    opened(&case);
    assert!(run(&["verify", cs]).status.success());
    // In one command: `recover` with the key and `--container-files` opens
    // the container file it finds, registers its copy and scans it; a scan
    // again does not register it twice.
    let one = dir.path().join("one");
    let o = one_shot(
        "recover",
        &ntfs,
        None,
        &one,
        &[
            "--key",
            "password=stick pw",
            "--key",
            "pim=3",
            "--container-files",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains("container file /backup.dat") && out.contains("registered as ev2"),
        "{out}"
    );
    opened(&one);
    let o = run(&[
        "--progress",
        "none",
        "scan",
        one.to_str().unwrap(),
        "--key",
        "password=stick pw",
        "--key",
        "pim=3",
        "--container-files",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(evidence_count(&one), 2);
    assert!(run(&["verify", one.to_str().unwrap()]).status.success());
    // `batch` with `container_files = true`: a case of its own opens the file
    // after its item; a case the items share opens it after the last item,
    // so the second item keeps label ev2 and the container becomes ev3. Run
    // in two shards and merged, the merge opens it as the single run does.
    let mut cases = Vec::new();
    for (shared, label, sharded) in [
        (false, "ev2", false),
        (true, "ev3", false),
        (false, "ev2", true),
        (true, "ev3", true),
    ] {
        let jd = dir.path().join(format!("job-{shared}-{sharded}"));
        std::fs::create_dir(&jd).unwrap();
        std::fs::copy(&ntfs, jd.join("stick.ntfs")).unwrap();
        std::fs::write(jd.join("blank.img"), vec![0u8; 1 << 20]).unwrap();
        let (place, second) = if shared {
            ("case = \"all\"", "\n[[item]]\nimage = \"blank.img\"\n")
        } else {
            ("cases_dir = \"cases\"", "")
        };
        let job = jd.join("job.toml");
        std::fs::write(
            &job,
            format!("{place}\ncontainer_files = true\nkeys = [\"password=stick pw\", \"pim=3\"]\n\n[[item]]\nimage = \"stick.ntfs\"\n{second}"),
        )
        .unwrap();
        let js = job.to_str().unwrap();
        let o = if sharded {
            for k in ["1/2", "2/2"] {
                let o = run(&["batch", js, "--shard", k]);
                assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
                assert!(!events(&o)
                    .iter()
                    .any(|e| e["event"] == "batch.container_file"));
            }
            run(&["batch", js, "--merge"])
        } else {
            run(&["batch", js])
        };
        assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
        let opened_ev: Vec<Value> = events(&o)
            .into_iter()
            .filter(|e| e["event"] == "batch.container_file")
            .collect();
        assert_eq!(opened_ev.len(), 1, "{}{}", stdout(&o), stderr(&o));
        assert_eq!(opened_ev[0]["path"], "/backup.dat");
        assert_eq!(opened_ev[0]["evidence"], label);
        let case = if shared {
            jd.join("all")
        } else {
            jd.join("cases/stick.ntfs")
        };
        let t = ls_json(&case)
            .into_iter()
            .find(|a| a["path"] == "/Kontoauszug.txt")
            .expect("the container's file");
        assert!(
            t["forensic_path"]
                .as_str()
                .unwrap()
                .starts_with(&format!("{label}/")),
            "{t}"
        );
        let b = std::fs::read(case.join(t["extracted"].as_str().unwrap())).unwrap();
        assert_eq!(b, inner[0].1);
        if shared {
            let ev2 = std::process::Command::new("sqlite3")
                .arg(case.join("case.sqlite"))
                .arg("SELECT path FROM evidence WHERE label = 'ev2'")
                .output()
                .unwrap();
            assert!(String::from_utf8_lossy(&ev2.stdout)
                .trim()
                .ends_with("blank.img"));
        }
        assert!(run(&["verify", case.to_str().unwrap()]).status.success());
        // Labels, content digests and artifact ids, to compare with the
        // other way of running the same job.
        let rows = std::process::Command::new("sqlite3")
            .arg(case.join("case.sqlite"))
            .arg("SELECT e.label, a.id, a.sha256 FROM artifacts a JOIN evidence e ON e.id = a.evidence_id ORDER BY a.id")
            .output()
            .unwrap()
            .stdout;
        cases.push(((shared, label), rows));
    }
    for (single, merged) in cases[..2].iter().zip(&cases[2..]) {
        assert_eq!(single.0, merged.0);
        assert!(
            single.1 == merged.1,
            "{:?}: single and merged cases differ",
            single.0
        );
    }
    // The TUI's scan job (its form's "try container-sized random files"):
    // the same opening after the scan, said in the job's summary.
    let tui = dir.path().join("tui");
    let o = one_shot("recover", &ntfs, None, &tui, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let opts = dredge_session::ScanOptions {
        keys: ["password=stick pw", "pim=3"]
            .iter()
            .map(|k| dredge_session::KeySpec::parse(k).unwrap())
            .collect(),
        container_files: true,
        ..Default::default()
    };
    let end = dredge_session::Job::Scan(opts)
        .run(
            &tui,
            &std::sync::atomic::AtomicBool::new(false),
            &mut |_| {},
        )
        .unwrap();
    assert!(
        end.summary.contains("container file /backup.dat")
            && end.summary.contains("registered as ev2"),
        "{}",
        end.summary
    );
    opened(&tui);
}
