//! What `dredge hashes` hands off, taken by hashcat itself (issue 13): a short
//! dictionary run with the known password among wrong ones finds it, for
//! BitLocker (the line, -m 22100), FileVault 2 (the line, -m 16700), FileVault on APFS (the lines, -m 18300), LUKS1 (the header file, -m 14600) and a
//! VeraCrypt container (the header file, -m 13721). hashcat runs on the CPU
//! through pocl (scripts/install-tools.sh installs both); its first run of a
//! mode compiles the kernel, about a minute each here.
//!
//! John the Ripper is not tried: Debian's `john` is the core edition, which
//! has none of these formats (they are in the jumbo edition).

mod common;

use common::*;
use std::path::Path;

/// hashcat's dictionary attack of mode `mode` on `target` (a file of lines,
/// or a header file) with `words`; the password it recovered, if any.
fn hashcat(mode: u32, target: &Path, words: &[&str], dir: &Path) -> Option<String> {
    let list = dir.join(format!("words-{mode}.txt"));
    std::fs::write(&list, words.join("\n") + "\n").unwrap();
    // --force: pocl's CPU device is one hashcat warns about; the session name
    // keeps concurrent tests' restore files apart.
    let o = std::process::Command::new("hashcat")
        .args(["-m", &mode.to_string(), "-a", "0", "-w", "3", "--quiet"])
        .args(["--potfile-disable", "--force", "--session"])
        .arg(format!("dredge-test-{mode}-{}", std::process::id()))
        .arg(target)
        .arg(&list)
        .current_dir(dir)
        .output()
        .unwrap();
    // 0: cracked, 1: exhausted; anything else is hashcat failing to run (no
    // OpenCL platform, a rejected target), whose text is no answer.
    assert!(
        matches!(o.status.code(), Some(0 | 1)),
        "hashcat -m {mode} failed: {}{}",
        stdout(&o),
        stderr(&o)
    );
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .find_map(|l| l.rsplit_once(':').map(|(_, pw)| pw.to_string()))
}

/// `dredge hashes CASE EXTRA…`, which must succeed: its lines that start
/// with `prefix`, and what it said on stderr.
fn hash_lines(case: &Path, extra: &[&str], prefix: &str) -> (Vec<String>, String) {
    let mut args = vec!["hashes", case.to_str().unwrap()];
    args.extend_from_slice(extra);
    let o = run(&args);
    assert!(o.status.success(), "{}", stderr(&o));
    let lines = stdout(&o)
        .lines()
        .filter(|l| l.starts_with(prefix))
        .map(String::from)
        .collect();
    (lines, stderr(&o))
}

fn new_case(dir: &Path, image: &Path) -> std::path::PathBuf {
    let case = dir.join("case");
    let cs = case.to_str().unwrap();
    assert!(run(&["case", "new", "--examiner", "t", cs])
        .status
        .success());
    let o = run(&["add", cs, image.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    case
}

/// A case of `image` and `dredge hashes CASE --out DIR`: the directory of
/// header files, and what dredge said of them (stderr).
fn header_files(dir: &Path, image: &Path) -> (std::path::PathBuf, String) {
    let case = new_case(dir, image);
    let out = dir.join("out");
    let o = run(&[
        "hashes",
        case.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    (out, stderr(&o))
}

#[test]
fn hashcat_recovers_a_bitlocker_password_from_the_line() {
    if !tools(&["hashcat", "tar", "xz"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    assert!(sh(&format!(
        "tar -xJf {} -C {} bitlk-aes-xts-128.img",
        shared("cryptsetup/bitlk-images.tar.xz").display(),
        dir.path().display()
    )));
    let case = new_case(dir.path(), &dir.path().join("bitlk-aes-xts-128.img"));
    let (line, _) = hash_lines(&case, &["--format", "hashcat"], "$bitlocker$1$");
    assert_eq!(line.len(), 1, "{line:?}");
    let hashes = dir.path().join("bitlocker.txt");
    std::fs::write(&hashes, format!("{}\n", line[0])).unwrap();
    // The password bitlk-images.conf gives for this image, among wrong ones.
    let found = hashcat(
        22100,
        &hashes,
        &["password", "anaconda1", "anaconda"],
        dir.path(),
    );
    assert_eq!(found.as_deref(), Some("anaconda"));
}

#[test]
fn hashcat_recovers_a_filevault_passphrase_from_the_line() {
    if !tools(&["hashcat", "tar", "xz"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let tarball = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testimages/external/cryptsetup/fvault2-images.tar.xz");
    assert!(sh(&format!(
        "tar -xJSf {} -C {}",
        tarball.display(),
        dir.path().display()
    )));
    let case = new_case(dir.path(), &dir.path().join("fvault2-images/small"));
    // hashcat's layout (mode 16700: $fvde$1$16$salt$iterations$wrapped KEK).
    let (line, err) = hash_lines(&case, &[], "$fvde$1$16$");
    assert_eq!(line.len(), 1, "{line:?}");
    let f: Vec<&str> = line[0].split('$').collect();
    assert_eq!(
        (f.len(), f[4].len(), f[6].len()),
        (7, 32, 48),
        "{}",
        line[0]
    );
    assert!(err.contains("hashcat -m 16700"), "{err}");
    let hashes = dir.path().join("fvde.txt");
    std::fs::write(&hashes, format!("{}\n", line[0])).unwrap();
    // The passphrase cryptsetup's test gives, among wrong ones.
    let found = hashcat(
        16700,
        &hashes,
        &["heslo", "heslo123", "heslo1234"],
        dir.path(),
    );
    assert_eq!(found.as_deref(), Some("heslo123"));
}

#[test]
fn hashcat_recovers_an_apfs_filevault_password_and_recovery_key_from_the_lines() {
    if !tools(&["hashcat", "python3", "gzip"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let plain = dfvfs(dir.path(), "apfs.raw");
    let enc = dir.path().join("filevault.raw");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("testimages/apfs-encrypt.py");
    assert!(sh(&format!(
        "python3 {} {} {} 'apfs-TEST' --recovery 'ABCD-EFGH-IJKL-MNOP-QRST-UVWX' >/dev/null",
        script.display(),
        plain.display(),
        enc.display()
    )));
    let case = new_case(dir.path(), &enc);
    // hashcat's layout (mode 18300: $fvde$2$16$salt$iterations$wrapped KEK),
    // one line per protector: the user's password and the recovery key.
    let (lines, err) = hash_lines(&case, &[], "$fvde$2$16$");
    assert_eq!(lines.len(), 2, "{lines:?}");
    for l in &lines {
        let f: Vec<&str> = l.split('$').collect();
        assert_eq!((f.len(), f[4].len(), f[6].len()), (7, 32, 80), "{l}");
    }
    assert!(err.contains("hashcat -m 18300"), "{err}");
    for (l, pw) in lines
        .iter()
        .zip(["apfs-TEST", "ABCD-EFGH-IJKL-MNOP-QRST-UVWX"])
    {
        let hashes = dir.path().join("apfs.txt");
        std::fs::write(&hashes, format!("{l}\n")).unwrap();
        let found = hashcat(
            18300,
            &hashes,
            &[
                "apfs-test",
                "apfs-TEST",
                "ABCD-EFGH-IJKL-MNOP-QRST-UVWX",
                "nope",
            ],
            dir.path(),
        );
        assert_eq!(found.as_deref(), Some(pw), "{l}");
    }
    // A volume converted from CoreStorage: its 128-bit KEKs are what
    // FileVault 2's mode takes (-m 16700, 24 wrapped bytes).
    let cs = dir.path().join("cs.raw");
    assert!(sh(&format!(
        "python3 {} {} {} 'apfs-TEST' --corestorage >/dev/null",
        script.display(),
        plain.display(),
        cs.display()
    )));
    let dir2 = tempfile::tempdir().unwrap();
    let case = new_case(dir2.path(), &cs);
    let (line, err) = hash_lines(&case, &[], "$fvde$1$16$");
    assert_eq!(line.len(), 1, "{line:?}");
    assert!(err.contains("hashcat -m 16700"), "{err}");
    let hashes = dir.path().join("apfs-cs.txt");
    std::fs::write(&hashes, format!("{}\n", line[0])).unwrap();
    let found = hashcat(16700, &hashes, &["apfs-test", "apfs-TEST"], dir.path());
    assert_eq!(found.as_deref(), Some("apfs-TEST"));
}

#[test]
fn hashcat_recovers_a_luks1_passphrase_from_the_header_file() {
    if !tools(&["hashcat", "cryptsetup", "python3"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("luks1.img");
    std::fs::File::create(&img)
        .unwrap()
        .set_len(4 << 20)
        .unwrap();
    let pass = dir.path().join("pass");
    std::fs::write(&pass, "correct horse").unwrap();
    cryptsetup(&[
        "luksFormat",
        "--type",
        "luks1",
        "--batch-mode",
        "--pbkdf-force-iterations",
        "1000",
        "--key-file",
        pass.to_str().unwrap(),
        img.to_str().unwrap(),
    ]);
    // hashcat accepts a candidate only when the first data sector decrypts
    // to something plausible, so the data area starts with an encrypted
    // (empty) filesystem sector, as on a used volume.
    let zeros = dir.path().join("zeros");
    std::fs::write(&zeros, vec![0u8; 4096]).unwrap();
    let tool = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/tools/luks1_fill.py");
    assert!(sh(&format!(
        "python3 {} {} 'correct horse' {}",
        tool.display(),
        img.display(),
        zeros.display()
    )));
    let (out, _) = header_files(dir.path(), &img);
    let found = hashcat(
        14600,
        &out.join("ev1-v0.luks1-header"),
        &["correct", "horse", "correct horse"],
        dir.path(),
    );
    assert_eq!(found.as_deref(), Some("correct horse"));
}

#[test]
fn hashcat_recovers_a_veracrypt_password_from_the_header_file() {
    if !tools(&["hashcat", "mkfs.fat", "python3"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let fat = dir.path().join("fat.img");
    std::fs::File::create(&fat)
        .unwrap()
        .set_len(8 << 20)
        .unwrap();
    assert!(sh(&format!("mkfs.fat {} >/dev/null", fat.display())));
    let hc = dir.path().join("vc.hc");
    let tool = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/tools/veracrypt_make.py");
    assert!(sh(&format!(
        "python3 {} {} {} 'Tr0ub4dor' 0",
        tool.display(),
        fat.display(),
        hc.display()
    )));
    let (out, said) = header_files(dir.path(), &hc);
    // The mode dredge names for it (VeraCrypt, SHA-512, one cipher).
    assert!(said.contains("hashcat -m 13721"), "{said}");
    let found = hashcat(
        13721,
        &out.join("ev1-v0.tc-header"),
        &["tr0ub4dor", "Tr0ub4dor"],
        dir.path(),
    );
    assert_eq!(found.as_deref(), Some("Tr0ub4dor"));
}
