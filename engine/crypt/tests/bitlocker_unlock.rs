//! Unlocking cryptsetup's BitLocker test images (`tests/bitlk-images.tar.xz`
//! of cryptsetup, GPL-2.0-or-later; ../shared/testdata/SOURCES.md) with every
//! key `bitlk-images.conf` gives for them: the password, the recovery
//! password, the startup key (.BEK) and, for the image whose protection is
//! suspended, no key at all. The plaintext volume must have the SHA-256 the
//! conf publishes (that of cryptsetup's own mapping). Every image in the conf
//! is tried, whatever its method, so images added to it are covered.

mod common;

use common::{cryptsetup_data, have, unpack, File};
use dredge_core::{Extent, ImageSource, VolumeReader};
use dredge_crypt::{unlock, Layered, Secret};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;

/// `[section]` → key → value.
fn conf(text: &str) -> BTreeMap<String, BTreeMap<String, String>> {
    let mut out: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    let mut cur = String::new();
    for line in text.lines().map(str::trim) {
        if let Some(s) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            cur = s.to_string();
        } else if let Some((k, v)) = line.split_once('=') {
            out.entry(cur.clone())
                .or_default()
                .insert(k.to_string(), v.to_string());
        }
    }
    out
}

fn sha256_of_plaintext(src: Arc<dyn ImageSource>, layer: dredge_crypt::Layer) -> String {
    let e = layer.extent;
    let plain = Layered::new(src, vec![layer]);
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut at = e.start;
    while at < e.end() {
        let n = (e.end() - at).min(buf.len() as u64) as usize;
        let rep = plain.read_at(at, &mut buf[..n]).unwrap();
        assert!(rep.is_clean(), "{rep:?}");
        h.update(&buf[..n]);
        at += n as u64;
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// The volume key `cryptsetup bitlkDump --dump-volume-key` prints.
fn dumped_key(img: &Path, pass: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut c = Command::new("cryptsetup")
        .args(["bitlkDump", "--dump-volume-key"])
        .arg(img)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    c.stdin.take().unwrap().write_all(pass).unwrap();
    let out = String::from_utf8(c.wait_with_output().unwrap().stdout).unwrap();
    let mut hex = String::new();
    let mut on = false;
    for l in out.lines() {
        if let Some(rest) = l.strip_prefix("MK dump:") {
            on = true;
            hex.push_str(rest);
        } else if on && l.starts_with('\t') && !l.contains(':') {
            hex.push_str(l);
        } else if on {
            break;
        }
    }
    let hex: String = hex.chars().filter(char::is_ascii_hexdigit).collect();
    assert!(!hex.is_empty(), "{out}");
    (0..hex.len() / 2)
        .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap())
        .collect()
}

#[test]
fn every_image_opens_with_every_key_the_conf_gives_and_wrong_keys_name_the_protectors() {
    if !have("tar") || !have("xz") {
        return;
    }
    let data = cryptsetup_data();
    let dir = unpack("bitlk-images.tar.xz", "dredge-bitlk-open", &[]);
    let sections = conf(&std::fs::read_to_string(data.join("bitlk-images.conf")).unwrap());
    assert!(sections.len() >= 7, "{sections:?}");
    let mut opened = 0;
    for (name, c) in &sections {
        let path = dir.join(format!("{name}.img"));
        let f = std::fs::File::open(&path).unwrap();
        let n = f.metadata().unwrap().len();
        let src: Arc<dyn ImageSource> = Arc::new(File(f, n));
        let vol = VolumeReader::new(Arc::clone(&src), Extent::new(0, n));
        let get = |k: &str| c.get(k).filter(|v| !v.is_empty());
        let mut keys: Vec<(&str, Secret)> = Vec::new();
        if let Some(pw) = get("PW") {
            keys.push(("password", Secret::Password(pw.as_bytes().to_vec())));
        }
        if let Some(rp) = get("RP") {
            keys.push(("recovery", Secret::Recovery(rp.as_bytes().to_vec())));
        }
        if let Some(g) = get("SK_VMK_GUID") {
            let bek = dir.join(format!("{}.BEK", g.to_uppercase()));
            keys.push(("bek", Secret::Bek(std::fs::read(bek).unwrap())));
        }
        let clear = get("CLEARKEY_VMK_GUID").is_some();
        let want = get("SHA256SUM").unwrap();
        if clear {
            let o = unlock(&vol, &[]).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(o.by.contains("clear key"), "{name}: {}", o.by);
            assert_eq!(
                &sha256_of_plaintext(Arc::clone(&src), o.layer),
                want,
                "{name}"
            );
            opened += 1;
        }
        for (kind, key) in &keys {
            let o = unlock(&vol, &[key]).unwrap_or_else(|e| panic!("{name} {kind}: {e}"));
            assert_eq!(o.kind, "bitlocker");
            assert_eq!(
                &sha256_of_plaintext(Arc::clone(&src), o.layer),
                want,
                "{name} with its {kind}"
            );
            opened += 1;
        }
        // The key cryptsetup derives (`bitlkDump --dump-volume-key`), given as
        // `fvek=`, opens the volume to the same plaintext; a changed one does not.
        if let Some((_, Secret::Password(p) | Secret::Recovery(p))) =
            keys.iter().find(|(k, _)| *k != "bek")
        {
            if have("cryptsetup") {
                let fvek = dumped_key(&path, p);
                let o = unlock(&vol, &[&Secret::VolumeKey(fvek.clone())])
                    .unwrap_or_else(|e| panic!("{name} fvek: {e}"));
                assert_eq!(
                    &sha256_of_plaintext(Arc::clone(&src), o.layer),
                    want,
                    "{name} fvek"
                );
                let mut bad = fvek;
                bad[0] ^= 1;
                assert!(unlock(&vol, &[&Secret::VolumeKey(bad)]).is_err(), "{name}");
                opened += 1;
            }
        }
        if !clear {
            let wrong = Secret::Password("not anaconda".into());
            let e = unlock(&vol, &[&wrong]).unwrap_err();
            for g in ["PW_VMK_GUID", "RP_VMK_GUID", "SK_VMK_GUID"] {
                if let Some(g) = get(g) {
                    assert!(e.contains(g.as_str()), "{name}: {e}");
                }
            }
            assert!(!e.contains("not anaconda"), "{e}");
        }
    }
    assert!(opened >= 13, "{opened}");
    std::fs::remove_dir_all(&dir).unwrap();
}
