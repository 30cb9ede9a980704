//! Encrypted volumes are recognised and described, never listed as unknown space
//! or carved (issue 13, detection). The LUKS1 images are cryptsetup's own test
//! data (`tests/luks1-images.tar.xz` of cryptsetup, GPL-2.0-or-later; see
//! ../shared/testdata/SOURCES.md), read where the workspace keeps them; the LUKS2
//! volume is made here by `cryptsetup luksFormat` on a file. What dredge reports
//! is checked against `cryptsetup luksUUID` and `luksDump`.

mod common;

use common::*;

/// The value of `Key:` in `luksDump` output (first occurrence).
fn dump_field(dump: &str, key: &str) -> String {
    dump.lines()
        .find_map(|l| l.trim().strip_prefix(key))
        .map(|v| v.trim().to_string())
        .unwrap_or_default()
}

#[test]
fn luks1_volumes_are_described_as_cryptsetup_reads_them_and_not_carved() {
    if !tools(&["cryptsetup", "tar", "xz"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let tar = shared("cryptsetup/luks1-images.tar.xz");
    assert!(sh(&format!(
        "tar -xJf {} -C {}",
        tar.display(),
        dir.path().display()
    )));
    let mut seen = 0;
    for name in [
        "luks1_aes-xts-plain64-sha256.img",
        "luks1_aes-cbc-essiv-sha256-sha1.img",
        "luks1_serpent-xts-plain64-sha1.img",
    ] {
        let img = dir.path().join(name);
        let case = dir.path().join(format!("case-{name}"));
        let arts = one_shot_ls("recover", &img, None, &case, 0, &[]);
        // Ciphertext holds nothing to list or carve.
        assert!(arts.is_empty(), "{name}: {arts:?}");
        let dump = cryptsetup(&["luksDump", img.to_str().unwrap()]);
        let want = format!(
            "LUKS1 encrypted volume {}: {}-{}, {}-bit key",
            cryptsetup(&["luksUUID", img.to_str().unwrap()]),
            dump_field(&dump, "Cipher name:"),
            dump_field(&dump, "Cipher mode:"),
            dump_field(&dump, "MK bits:")
        );
        let f = findings(&case);
        let hit = f.iter().find(|w| w.starts_with(&want));
        let hit = hit.unwrap_or_else(|| panic!("{name}: {want} not in {f:?}"));
        // The one keyslot that opens these images, with cryptsetup's iterations.
        let iters = dump_field(&dump, "Iterations:");
        assert!(hit.contains(&format!("{iters} iterations")), "{hit}");
        seen += 1;
    }
    assert_eq!(seen, 3);
}

#[test]
fn a_luks2_volume_names_its_keyslot_kdf_and_segment_and_its_ciphertext_is_not_carved() {
    if !tools(&["cryptsetup", "python3"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("luks2.img");
    let key = dir.path().join("key");
    std::fs::write(&key, noise(64, 7)).unwrap();
    std::fs::File::create(&img)
        .unwrap()
        .set_len(24 << 20)
        .unwrap();
    cryptsetup(&[
        "luksFormat",
        "--type",
        "luks2",
        "-q",
        "--pbkdf",
        "argon2id",
        "--pbkdf-memory",
        "32768",
        "--pbkdf-force-iterations",
        "4",
        "--label",
        "exhibit-7",
        "--key-file",
        key.to_str().unwrap(),
        img.to_str().unwrap(),
    ]);
    // Where ciphertext would be, bytes a carver recognises: an encrypted volume
    // must not have them carved (here they stand for noise that looks like a
    // file, which ciphertext makes by chance on a large disk).
    let zip = dir.path().join("z.zip");
    assert!(sh(&format!(
        "python3 -c \"import zipfile; z = zipfile.ZipFile('{}', 'w'); z.writestr('a.txt', 'evidence ' * 400); z.close()\"",
        zip.display()
    )));
    let z = std::fs::read(&zip).unwrap();
    let mut bytes = std::fs::read(&img).unwrap();
    bytes[18 << 20..(18 << 20) + z.len()].copy_from_slice(&z);
    std::fs::write(&img, &bytes).unwrap();

    let case = dir.path().join("case");
    let arts = one_shot_ls("recover", &img, None, &case, 0, &[]);
    assert!(arts.is_empty(), "{arts:?}");
    let dump = cryptsetup(&["luksDump", img.to_str().unwrap()]);
    let uuid = cryptsetup(&["luksUUID", img.to_str().unwrap()]);
    let f = findings(&case);
    let hit = f
        .iter()
        .find(|w| w.starts_with(&format!("LUKS2 encrypted volume {uuid}: aes-xts-plain64")))
        .unwrap_or_else(|| panic!("{f:?}"));
    assert!(hit.contains("label exhibit-7"), "{hit}");
    let offset = dump_field(&dump, "offset:");
    let offset = offset.split_whitespace().next().unwrap();
    assert!(hit.contains(&format!("data at byte {offset}")), "{hit}");
    assert!(
        hit.contains("keyslot 0: luks2, 512-bit key, argon2id, time 4, memory 32768 KiB"),
        "{hit}"
    );
    assert!(
        hit.contains(&format!(
            "segment 0: crypt at byte {offset}, to the end of the volume"
        )),
        "{hit}"
    );
    // The summary names what the volume is.
    let ls = run(&["case", "show", case.to_str().unwrap()]);
    assert!(stdout(&ls).contains("luks2"), "{}", stdout(&ls));
}

/// `KEY=VALUE` lines of one `[section]` of cryptsetup's bitlk-images.conf.
fn conf_sections(text: &str) -> Vec<(String, std::collections::HashMap<String, String>)> {
    let mut out: Vec<(String, std::collections::HashMap<String, String>)> = Vec::new();
    for line in text.lines().map(str::trim) {
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            out.push((name.to_string(), Default::default()));
        } else if let (Some((k, v)), Some(last)) = (line.split_once('='), out.last_mut()) {
            last.1.insert(k.to_string(), v.to_string());
        }
    }
    out
}

#[test]
fn bitlocker_volumes_name_their_guid_method_and_protectors_as_cryptsetup_reads_them() {
    if !tools(&["cryptsetup", "tar", "xz"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    assert!(sh(&format!(
        "tar -xJf {} -C {}",
        shared("cryptsetup/bitlk-images.tar.xz").display(),
        dir.path().display()
    )));
    let conf = std::fs::read_to_string(shared("cryptsetup/bitlk-images.conf")).unwrap();
    let mut seen = 0;
    for (name, c) in conf_sections(&conf) {
        let img = dir.path().join(format!("{name}.img"));
        if !img.exists() {
            continue;
        }
        let case = dir.path().join(format!("case-{name}"));
        // Carving on (the default), no key: ciphertext must give nothing. A
        // volume with its protection suspended opens by its clear key, and
        // its plaintext is a volume of its own (tests/unlock_bitlocker.rs).
        let arts = one_shot_ls("recover", &img, None, &case, 0, &[]);
        let clear = c.get("CLEARKEY_VMK_GUID").is_some_and(|g| !g.is_empty());
        assert!(
            clear || arts.iter().all(|a| a["origin"] != "carved"),
            "{name}: ciphertext carved: {arts:?}"
        );
        let dump = cryptsetup(&["bitlkDump", img.to_str().unwrap()]);
        let togo = if name.contains("togo") { " To Go" } else { "" };
        let want = format!("BitLocker{togo} encrypted volume {}: ", c["GUID"]);
        let f = findings(&case);
        let hit = f.iter().find(|w| w.starts_with(&want));
        let hit = hit.unwrap_or_else(|| panic!("{name}: {want} not in {f:?}"));
        let method = match c["CIPHER"].as_str() {
            "aes-cbc-elephant" => "-CBC with the Elephant diffuser",
            "aes-cbc-eboiv" => "-CBC,",
            _ => "-XTS,",
        };
        assert!(hit.contains(method), "{name}: {hit}");
        let desc = dump_field(&dump, "Description:");
        assert!(
            hit.contains(&format!("description \"{desc}\"")),
            "{name}: {hit}"
        );
        for (k, p) in [
            ("PW_VMK_GUID", "password"),
            ("RP_VMK_GUID", "recovery password"),
            ("CLEARKEY_VMK_GUID", "clear key"),
            ("SK_VMK_GUID", "startup key"),
        ] {
            if let Some(g) = c.get(k).filter(|g| !g.is_empty()) {
                assert!(
                    hit.contains(&format!("protector {g}: {p}")),
                    "{name}: {hit}"
                );
            }
        }
        assert!(hit.contains("fully encrypted"), "{name}: {hit}");
        seen += 1;
    }
    assert!(seen >= 5, "only {seen} BitLocker images checked");
}
