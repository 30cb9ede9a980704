//! BitLocker volumes as Windows Vista writes them (issue 13). No public test
//! image is from Vista, so tests/tools/bitlocker_vista.py encrypts an NTFS
//! that `mkntfs` and `ntfscp` made into one, from libbde's description of
//! the format (hashlib, `cryptography` and numpy: nothing of dredge's). Its
//! three 16 KiB metadata files are made in the filesystem first, as Vista
//! reserves them; `istat` says where they lie. The plaintext dredge exports
//! must then be the NTFS it was made from, byte for byte: the boot sector and
//! its backup put back from their `-FVE-FS-` marks, the 8 KiB left in the
//! clear, the metadata read as the zeros the files held, the rest decrypted.
//! Debian's dislocker, which shares no code with either, must agree on every
//! sector but the two boot sectors (its 0.7.3 predates its Vista fixes).

mod common;

use common::*;
use std::path::{Path, PathBuf};

const RECOVERY: &str = "111111-222222-333333-444444-555555-666666-121121-242242";

struct Vista {
    img: PathBuf,
    plain: PathBuf,
    /// What the tool printed: the FVEK and the protectors' GUIDs.
    made: serde_json::Value,
    files: Vec<(String, Vec<u8>)>,
}

/// The first byte of a file of the NTFS at `plain`, by `fls` and `istat`.
fn file_offset(plain: &Path, name: &str) -> u64 {
    let o = std::process::Command::new("fls")
        .arg(plain)
        .output()
        .unwrap();
    let list = String::from_utf8_lossy(&o.stdout).to_string();
    let line = list.lines().find(|l| l.ends_with(name)).unwrap();
    let inode = line.split_whitespace().nth(1).unwrap();
    let inode = inode.split('-').next().unwrap();
    let o = std::process::Command::new("istat")
        .arg(plain)
        .arg(inode)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&o.stdout).to_string();
    let clusters: Vec<u64> = text
        .lines()
        .last()
        .unwrap()
        .split_whitespace()
        .map(|c| c.parse().unwrap())
        .collect();
    // The tool lays each metadata copy over one contiguous file, as Vista's are.
    assert!(
        clusters.windows(2).all(|w| w[1] == w[0] + 1),
        "{name}: {clusters:?}"
    );
    clusters[0] * 4096
}

fn vista(dir: &Path, method: &str, seed: u64, sized: bool) -> Vista {
    let plain = dir.join(format!("plain-{method}.ntfs"));
    std::fs::File::create(&plain)
        .unwrap()
        .set_len(16 << 20)
        .unwrap();
    assert!(sh(&format!(
        "mkntfs -q -F -Q -s 512 -c 4096 -p 0 -H 0 -S 0 {} >/dev/null 2>&1",
        plain.display()
    )));
    let files = vec![
        ("big.bin".to_string(), noise(300_000, seed)),
        (
            "Bericht – März.txt".to_string(),
            "für das Gericht\n".as_bytes().to_vec(),
        ),
        ("small.dat".to_string(), noise(5_000, seed + 1)),
    ];
    let src = dir.join("src.tmp");
    let put = |n: &str, b: &[u8]| {
        std::fs::write(&src, b).unwrap();
        assert!(sh(&format!(
            "ntfscp -q {} {} '{n}'",
            plain.display(),
            src.display()
        )));
    };
    for (n, b) in &files {
        put(n, b);
    }
    let meta: Vec<String> = (1..=3)
        .map(|i| {
            let n = format!("FVE.{{0c1d2e3f-4a5b-6c7d-8e9f-a0b1c2d3e4f5}}.{i}");
            put(&n, &[0u8; 16384]);
            file_offset(&plain, &n).to_string()
        })
        .collect();
    let img = dir.join(format!("vista-{method}.img"));
    let tool = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/tools/bitlocker_vista.py");
    let o = std::process::Command::new("python3")
        .arg(tool)
        .args([
            plain.to_str().unwrap(),
            img.to_str().unwrap(),
            RECOVERY,
            method,
        ])
        .arg(seed.to_string())
        .args(&meta)
        .args(sized.then_some("sized"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let made = serde_json::from_slice(&o.stdout).unwrap();
    Vista {
        img,
        plain,
        made,
        files,
    }
}

fn needs() -> bool {
    tools(&["mkntfs", "ntfscp", "fls", "istat", "python3"])
        && (sh("python3 -c 'import cryptography, numpy' 2>/dev/null")
            || panic!("python3-cryptography and python3-numpy (scripts/install-tools.sh)"))
}

#[test]
fn a_vista_volume_opens_with_each_kind_of_key_and_decrypts_to_the_ntfs_it_was_made_from() {
    if !needs() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // Each method Vista offers, each opened by a different kind of key.
    for (i, method) in ["0x8000", "0x8001", "0x8002", "0x8003"].iter().enumerate() {
        let v = vista(dir.path(), method, 40 + i as u64, false);
        let bek = format!("bek={}.BEK", v.img.display());
        let fvek = format!("fvek={}", v.made["fvek"].as_str().unwrap());
        let key = match i {
            0 | 3 => format!("recovery={RECOVERY}"),
            1 => bek,
            _ => fvek,
        };
        let case = dir.path().join(format!("case-{method}"));
        let arts = one_shot_ls("recover", &v.img, None, &case, 0, &["--key", &key]);
        for (n, b) in &v.files {
            let a = arts
                .iter()
                .find(|a| a["path"] == format!("/{n}"))
                .unwrap_or_else(|| panic!("{method}: {n} not recovered"));
            let got = std::fs::read(case.join(a["extracted"].as_str().unwrap())).unwrap();
            assert!(got == *b, "{method}: {n} differs");
            let fp = a["forensic_path"].as_str().unwrap_or_default();
            assert!(fp.contains("/bitlocker/ntfs/"), "{fp}");
        }
        let cs = case.to_str().unwrap();
        let f = findings(&case);
        assert!(
            f.iter()
                .any(|l| l.contains("BitLocker (Windows Vista) encrypted volume")),
            "{method}: {f:?}"
        );
        let out = dir.path().join(format!("out-{method}"));
        let exported = export_plain(&case, &out, &key, method);
        let plain = std::fs::read(&v.plain).unwrap();
        assert_eq!(exported.len(), plain.len());
        let differ = differing_blocks(&exported, &plain, 512);
        assert!(
            differ.is_empty(),
            "{method}: sectors {differ:?} differ from the NTFS"
        );
        assert!(run(&["verify", cs]).status.success());
    }
}

#[test]
fn dislocker_decrypts_a_vista_volume_as_dredge_does_but_for_the_boot_sectors() {
    if !needs() || !tools(&["dislocker-file"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // With the volume's size in the block header, which dislocker 0.7.3
    // wants and Vista does not write (dredge reads both alike).
    let v = vista(dir.path(), "0x8000", 7, true);
    let key = format!("recovery={RECOVERY}");
    let case = dir.path().join("case");
    one_shot_ls("recover", &v.img, None, &case, 0, &["--key", &key]);
    let ours = export_plain(&case, &dir.path().join("out"), &key, "vista");
    let peer = dir.path().join("dislocker.raw");
    assert!(sh(&format!(
        "dislocker-file -V {} -p{RECOVERY} -- {} >/dev/null 2>&1",
        v.img.display(),
        peer.display()
    )));
    let theirs = std::fs::read(&peer).unwrap();
    assert_eq!(ours.len(), theirs.len());
    let sectors = ours.len() / 512;
    let differ = differing_blocks(&ours, &theirs, 512);
    // 0.7.3 leaves the metadata's cluster in the boot sector's MFT mirror
    // field, and decrypts the backup boot sector Vista left in the clear.
    assert!(
        differ.iter().all(|&s| s == 0 || s == sectors - 1),
        "sectors {differ:?} differ from dislocker's"
    );
    assert_eq!(ours[..56], theirs[..56]);
}

#[test]
fn a_wrong_key_names_the_vista_protectors_and_bad_ciphertext_costs_exactly_its_sector() {
    if !needs() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let v = vista(dir.path(), "0x8000", 11, false);
    let case = dir.path().join("wrong");
    let o = one_shot(
        "recover",
        &v.img,
        None,
        &case,
        &[
            "--key",
            "recovery=111111-222222-333333-444444-555555-666666-121121-121121",
        ],
    );
    assert_eq!(o.status.code(), Some(2), "{}", stdout(&o));
    let err = stderr(&o);
    assert_eq!(err.lines().count(), 1, "{err}");
    for g in ["recovery_protector", "startup_protector"] {
        assert!(
            err.contains(v.made[g].as_str().unwrap()),
            "{g} not named: {err}"
        );
    }
    assert!(!err.contains("121121-121121"), "{err}");
    assert_eq!(evidence_count(&case), 0);
    // `dredge hashes` hands off the recovery-password protector, and the
    // line opens with that password only.
    let hc = dir.path().join("hashes");
    let hs = hc.to_str().unwrap();
    assert!(run(&["case", "new", "--examiner", "t", hs])
        .status
        .success());
    assert!(run(&["add", hs, v.img.to_str().unwrap()]).status.success());
    let o = run(&["hashes", hs]);
    assert!(o.status.success(), "{}", stderr(&o));
    let line = stdout(&o).lines().next().unwrap_or_default().to_string();
    assert!(line.starts_with("$bitlocker$3$16$"), "{line}");
    assert!(dredge_crypt::bitlocker_line_opens(
        &line,
        RECOVERY.as_bytes()
    ));
    assert!(!dredge_crypt::bitlocker_line_opens(
        &line,
        b"111111-222222-333333-444444-555555-666666-121121-121121"
    ));
    // 50 unreadable bytes 3 000 bytes into big.bin: the one 512-byte
    // plaintext sector over them is lost, nothing else.
    let key = format!("recovery={RECOVERY}");
    let clean = one_shot_ls(
        "recover",
        &v.img,
        None,
        &dir.path().join("clean"),
        0,
        &["--key", &key],
    );
    let big = clean.iter().find(|a| a["path"] == "/big.bin").unwrap();
    let at = big["runs"][0]["image_offset"].as_u64().unwrap();
    let map = dir.path().join("bad.map");
    write_bad_map(&map, 16 << 20, &[(at + 3000, 50)]);
    let arts = one_shot_ls(
        "recover",
        &v.img,
        Some(&map),
        &dir.path().join("bad"),
        3,
        &["--key", &key],
    );
    let big = arts.iter().find(|a| a["path"] == "/big.bin").unwrap();
    assert_eq!(
        big["gaps"],
        serde_json::json!([{"file_offset": 2560, "len": 512, "why": "map-bad-sector"}])
    );
    let got = std::fs::read(
        dir.path()
            .join("bad")
            .join(big["extracted"].as_str().unwrap()),
    )
    .unwrap();
    let want = &v.files[0].1;
    assert!(got[..2560] == want[..2560] && got[3072..] == want[3072..]);
    assert!(got[2560..3072].iter().all(|&c| c == 0));
}

#[test]
fn garbled_vista_headers_and_metadata_cost_the_volume_at_most() {
    if !needs() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let v = vista(dir.path(), "0x8000", 13, false);
    let clean = std::fs::read(&v.img).unwrap();
    let meta = u64::from_le_bytes(clean[56..64].try_into().unwrap()) as usize * 4096;
    let last = clean.len() - 512;
    let key = format!("recovery={RECOVERY}");
    let mut rng = 0x5eed_u64;
    let mut next = |n: usize| {
        rng = rng
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (rng >> 33) as usize % n
    };
    for round in 0..30 {
        let mut img = clean.clone();
        // A few bytes of the boot sector's fields, the first metadata copy's
        // headers and entries, or the backup boot sector.
        for _ in 0..1 + next(4) {
            let at = match next(3) {
                0 => 11 + next(60),
                1 => meta + next(700),
                _ => last + next(512),
            };
            img[at] = next(256) as u8;
        }
        let path = dir.path().join("garbled.img");
        std::fs::write(&path, &img).unwrap();
        let case = dir.path().join(format!("g{round}"));
        let o = one_shot("recover", &path, None, &case, &["--key", &key]);
        let err = stderr(&o);
        assert!(
            matches!(o.status.code(), Some(0 | 2 | 3)) && !err.contains("panicked"),
            "round {round}: {:?} {err}",
            o.status.code()
        );
        // A refusal is one line naming the volume.
        if o.status.code() == Some(2) {
            assert_eq!(err.lines().count(), 1, "round {round}: {err}");
        }
    }
}
