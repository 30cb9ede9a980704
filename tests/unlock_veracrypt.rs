//! VeraCrypt containers opened read-only with a password and PIM (issue 13).
//! The containers are made here by tests/tools/veracrypt_make.py (hashlib's
//! PBKDF2 and the `cryptography` package's AES-XTS, nothing of dredge's)
//! around a FAT filesystem `mkfs.fat` and `mcopy` filled; cryptsetup's own
//! TrueCrypt/VeraCrypt images are opened in engine/crypt/tests/tcrypt_unlock.rs.

mod common;

use common::*;
use std::path::{Path, PathBuf};

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
