//! Apple's encrypted disk images (`encrcdsa` version 2, issue 15): dfvfs's
//! `hfsplus.raw` (an HFS+ volume macOS made) encrypted by
//! `testimages/dmg-encrypt.py` as `hdiutil create -encryption` lays it out.
//! Debian's `vfdecrypt` (dmg2img), given the AES and HMAC keys, decrypts
//! what the script writes back to the volume, so the data's encryption is
//! checked against a reader that is not ours (its password path copies the
//! HMAC key from the blob's first byte, which apfs-fuse and sparsebundlefs
//! do not, so it is not used). Without a key the image is described and
//! neither listed nor carved; with its password, or with its keys as
//! `master-key=`, every file comes back with the hashes a scan of the bare
//! volume gives; a wrong password fails with one line and registers
//! nothing; an unreadable ciphertext block costs exactly its plaintext
//! block.

mod common;

use common::*;
use std::path::{Path, PathBuf};

const PASS: &str = "Geheimnis über alles 7";

fn hfs(dir: &Path) -> PathBuf {
    let raw = dir.join("hfsplus.raw");
    std::fs::write(
        &raw,
        gunzip(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("testimages/external/dfvfs/hfsplus.raw.gz"),
        ),
    )
    .unwrap();
    raw
}

/// `dmg-encrypt.py SRC OUT PASS EXTRA…`; the AES and HMAC keys in hex.
fn encrypt(src: &Path, out: &Path, extra: &str) -> String {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("testimages/dmg-encrypt.py");
    let keys = out.with_extension("keys");
    assert!(sh(&format!(
        "python3 {} {} {} '{PASS}' {extra} --keys-out {}",
        script.display(),
        src.display(),
        out.display(),
        keys.display()
    )));
    std::fs::read_to_string(keys).unwrap().trim().to_string()
}

/// What `recover` of an unencrypted image gives: path -> SHA-256.
fn recovered(img: &Path, case: &Path) -> Hashes {
    let want = hashes(&one_shot_ls("recover", img, None, case, 0, &[]));
    assert!(want.len() > 5, "{want:?}");
    want
}

/// What `recover --key KEY` of `img` into `case` gives: path -> SHA-256.
fn unlocked(img: &Path, case: &Path, key: &str) -> Hashes {
    hashes(&one_shot_ls("recover", img, None, case, 0, &["--key", key]))
}

fn ready() -> bool {
    if !tools(&["python3"]) {
        return false;
    }
    assert!(
        sh("python3 -c 'import cryptography.hazmat.decrepit' 2>/dev/null"),
        "python3-cryptography with Triple DES (scripts/install-tools.sh)"
    );
    true
}

#[test]
fn an_encrypted_image_is_described_without_its_key_and_every_file_comes_back_with_it() {
    if !ready() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let raw = hfs(dir.path());
    let want = recovered(&raw, &dir.path().join("bare-hfs"));
    let img = dir.path().join("enc.dmg");
    let keys = encrypt(&raw, &img, "");
    // vfdecrypt, with the keys, gives the volume back: the encryption is
    // Apple's as another reader knows it.
    if tools(&["vfdecrypt"]) {
        let out = dir.path().join("vf.raw");
        assert!(sh(&format!(
            "vfdecrypt -k {keys} -i {} -o {} 2>/dev/null",
            img.display(),
            out.display()
        )));
        assert!(std::fs::read(&out).unwrap() == std::fs::read(&raw).unwrap());
    }
    // No key: one finding naming the container; nothing listed or carved.
    let bare = dir.path().join("bare");
    let arts = one_shot_ls("recover", &img, None, &bare, 0, &[]);
    assert!(arts.is_empty(), "ciphertext listed or carved: {arts:?}");
    let f = findings(&bare).join("\n");
    assert!(
        f.contains("encrypted Apple disk image")
            && f.contains("AES-128")
            && f.contains("1000 iterations"),
        "{f}"
    );
    // The password: the same files, bit-exact; the plaintext exported is
    // the volume, and no key is in the case.
    let case = dir.path().join("case");
    let key = format!("password={PASS}");
    let got = unlocked(&img, &case, &key);
    assert_eq!(got, want);
    let show = stdout(&run(&["case", "show", case.to_str().unwrap()]));
    assert!(
        show.contains("decrypted") && show.contains("password key 0"),
        "{show}"
    );
    assert!(!show.contains("Geheimnis"), "{show}");
    let plain = export_plain(&case, &dir.path().join("out"), &key, "dmg");
    assert!(plain == std::fs::read(&raw).unwrap());
    assert!(run(&["verify", case.to_str().unwrap()]).status.success());
}

#[test]
fn aes_256_images_open_with_their_keys_and_a_wrong_password_registers_nothing() {
    if !ready() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let raw = hfs(dir.path());
    let want = recovered(&raw, &dir.path().join("bare-hfs"));
    // Other places and costs than the first test's: the reader takes them
    // from the header.
    let img = dir.path().join("enc256.dmg");
    let keys = encrypt(
        &raw,
        &img,
        "--bits 256 --iterations 25000 --data-offset 65536 --key-at 96",
    );
    let case = dir.path().join("case");
    let key = format!("master-key={keys}");
    let got = unlocked(&img, &case, &key);
    assert_eq!(got, want);
    let case = dir.path().join("case-pw");
    let got = unlocked(&img, &case, &format!("password={PASS}"));
    assert_eq!(got, want);
    // A wrong password: one line naming the volume and what was tried.
    let case = dir.path().join("wrong");
    let o = one_shot(
        "recover",
        &img,
        None,
        &case,
        &["--key", "password=Geheimnis"],
    );
    assert_eq!(o.status.code(), Some(2), "{}", stdout(&o));
    let err = stderr(&o);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("ev1/v0") && err.contains("password key"),
        "{err}"
    );
    assert!(!err.contains("Geheimnis"), "{err}");
    assert_eq!(evidence_count(&case), 0);
}

#[test]
fn an_unreadable_ciphertext_block_costs_exactly_its_plaintext_block() {
    if !ready() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let raw = hfs(dir.path());
    let img = dir.path().join("enc.dmg");
    encrypt(&raw, &img, "");
    let key = format!("password={PASS}");
    let arts = one_shot_ls(
        "recover",
        &img,
        None,
        &dir.path().join("good"),
        0,
        &["--key", &key],
    );
    // The file with the longest run; a block wholly inside it (data at byte
    // 4096, 4096-byte blocks).
    let (art, longest) = arts
        .iter()
        .filter(|a| a["kind"] == "file")
        .flat_map(|a| {
            a["runs"]
                .as_array()
                .into_iter()
                .flatten()
                .map(move |r| (a, r))
        })
        .max_by_key(|(_, r)| r["len"].as_u64().unwrap_or(0))
        .unwrap();
    let (img_at, file_at) = (
        longest["image_offset"].as_u64().unwrap(),
        longest["file_offset"].as_u64().unwrap(),
    );
    assert!(longest["len"].as_u64().unwrap() >= 3 * 4096, "{longest}");
    let block = (img_at - 4096) / 4096 + 1;
    let block_at = 4096 + block * 4096;
    let map = dir.path().join("bad.map");
    let size = std::fs::metadata(&img).unwrap().len();
    // One 512-byte sector of that block's ciphertext.
    write_bad_map(&map, size, &[(block_at + 1024, 512)]);
    let case = dir.path().join("bad");
    let arts = one_shot_ls("recover", &img, Some(&map), &case, 3, &["--key", &key]);
    let got = arts.iter().find(|a| a["path"] == art["path"]).unwrap();
    assert_eq!(
        got["gaps"],
        serde_json::json!([{"file_offset": file_at + block_at - img_at, "len": 4096, "why": "map-bad-sector"}])
    );
    // Exported, the plaintext differs in that block alone (exit 3: bytes
    // unreadable, which a mapfile beside it names).
    let plain = export_plain_exit(&case, &dir.path().join("out"), &key, 3, "dmg");
    let want = std::fs::read(&raw).unwrap();
    assert_eq!(differing_blocks(&plain, &want, 4096), vec![block as usize]);
}

#[test]
fn a_udif_image_inside_is_registered_as_evidence_of_its_own_and_read_once() {
    if !ready() {
        return;
    }
    // What `hdiutil create -encryption` makes of every .dmg format: the
    // UDIF image (here dfvfs's UDZO, made by hdiutil) encrypted whole.
    let dir = tempfile::tempdir().unwrap();
    let udif =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("testimages/external/dfvfs/hfsplus_zlib.dmg");
    let want = recovered(&udif, &dir.path().join("bare"));
    let img = dir.path().join("enc.dmg");
    encrypt(&udif, &img, "--bits 256");
    let case = dir.path().join("case");
    let key = format!("password={PASS}");
    let o = one_shot("recover", &img, None, &case, &["--key", &key]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).contains("registered as ev2"), "{}", stdout(&o));
    assert_eq!(hashes(&ls_json(&case)), want);
    // The plaintext registered is the UDIF image, byte for byte, and read
    // as one (its checksums checked).
    let show = stdout(&run(&["case", "show", case.to_str().unwrap()]));
    assert!(show.contains("ev2") && show.contains("[dmg]"), "{show}");
    let copy = case.join("decrypted/ev1-v0.plain.raw");
    assert!(std::fs::read(&copy).unwrap() == std::fs::read(&udif).unwrap());
    // A second scan with the key does not register it again.
    let o = run(&[
        "--progress",
        "none",
        "scan",
        case.to_str().unwrap(),
        "--key",
        &key,
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(evidence_count(&case), 2);
    assert!(run(&["verify", case.to_str().unwrap()]).status.success());
}

#[test]
fn hashes_hands_john_the_image_s_key_header_and_its_first_and_last_blocks() {
    if !ready() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let raw = hfs(dir.path());
    let img = dir.path().join("enc.dmg");
    encrypt(&raw, &img, "--iterations 3000");
    let case = dir.path().join("case");
    one_shot_ls("recover", &img, None, &case, 0, &[]);
    let o = run(&["hashes", case.to_str().unwrap(), "--format", "john"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    let (who, line) = out.trim().split_once(':').unwrap();
    assert_eq!(who, "ev1/v0/password-key@680", "{out}");
    // John's dmg layout, each field from the image's own bytes: the key
    // header at byte 680 (salt at +16, IV field at +52, blob at +104), the
    // data at 4096 in 4096-byte blocks.
    let file = std::fs::read(&img).unwrap();
    let len = std::fs::metadata(&raw).unwrap().len() as usize;
    let n = len.div_ceil(4096) - 2;
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    let f: Vec<&str> = line.split('*').collect();
    assert_eq!(f.len(), 13, "{line}");
    assert_eq!(
        (f[0], f[1], f[3], f[5], f[10], f[12]),
        ("$dmg$2", "20", "32", "48", "1", "3000")
    );
    assert_eq!(f[2], hex(&file[680 + 16..680 + 36]));
    assert_eq!(f[4], hex(&file[680 + 52..680 + 84]));
    assert_eq!(f[6], hex(&file[680 + 104..680 + 152]));
    assert_eq!(f[7], n.to_string());
    assert_eq!(f[8], (len - n * 4096).to_string());
    assert_eq!(f[9], hex(&file[4096 + n * 4096..4096 + len]));
    assert_eq!(f[11], hex(&file[4096..8192]));
    // The line alone tells the password from a wrong one.
    assert!(dredge_crypt::dmg_line_opens(line, PASS.as_bytes()));
    assert!(!dredge_crypt::dmg_line_opens(line, b"Geheimnis"));
}

#[test]
fn a_sparse_image_inside_is_registered_as_evidence_of_its_own() {
    if !ready() {
        return;
    }
    // `hdiutil create -type SPARSE -encryption`: the sparse image (written
    // by testimages/sparseimage.py from hfsplus.raw, 64-sector bands)
    // encrypted whole.
    let dir = tempfile::tempdir().unwrap();
    let raw = hfs(dir.path());
    let want = recovered(&raw, &dir.path().join("bare"));
    let sparse = dir.path().join("hfs.sparseimage");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("testimages/sparseimage.py");
    assert!(sh(&format!(
        "python3 {} {} {} 64 >/dev/null",
        script.display(),
        raw.display(),
        sparse.display()
    )));
    let img = dir.path().join("enc.sparseimage");
    encrypt(&sparse, &img, "");
    let case = dir.path().join("case");
    assert_eq!(unlocked(&img, &case, &format!("password={PASS}")), want);
    let show = stdout(&run(&["case", "show", case.to_str().unwrap()]));
    assert!(
        show.contains("holding a sparse image") && show.contains("ev2"),
        "{show}"
    );
}

#[test]
fn version_1_images_open_with_their_password_and_hand_john_their_wrapped_keys() {
    if !ready() {
        return;
    }
    // Mac OS X 10.2–10.4's layout: the data first, the header a trailer
    // ending `cdsaencr`, each key wrapped as RFC 3217 does. No reader here
    // decrypts version 1 (Debian's vfdecrypt reads every image as version
    // 2), so this checks dredge against the script written from vfdecrypt's
    // and apfs-fuse's readers.
    let dir = tempfile::tempdir().unwrap();
    let raw = hfs(dir.path());
    let want = recovered(&raw, &dir.path().join("bare"));
    let img = dir.path().join("v1.dmg");
    encrypt(&raw, &img, "--v1");
    let case = dir.path().join("case");
    assert_eq!(unlocked(&img, &case, &format!("password={PASS}")), want);
    let f = findings(&case).join("\n");
    assert!(
        f.contains("encrcdsa version 1") && f.contains("protector trailer@"),
        "{f}"
    );
    let o = run(&["hashes", case.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let line = stdout(&o).trim().to_string();
    assert!(line.starts_with("$dmg$1*20*"), "{line}");
    assert!(dredge_crypt::dmg_line_opens(&line, PASS.as_bytes()));
    assert!(!dredge_crypt::dmg_line_opens(&line, b"Geheimnis"));
    let wrong = dir.path().join("wrong");
    let o = one_shot(
        "recover",
        &img,
        None,
        &wrong,
        &["--key", "password=Geheimnis"],
    );
    assert_eq!(o.status.code(), Some(2), "{}", stdout(&o));
    assert_eq!(evidence_count(&wrong), 0);
}
