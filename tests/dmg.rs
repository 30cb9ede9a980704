//! Apple disk images (UDIF) as evidence (issue 15): dfvfs's
//! `hfsplus_zlib.dmg` (made by macOS's `hdiutil create -format UDZO`,
//! Apache-2.0, testimages/external/dfvfs/SOURCES.md). Its decoded bytes are
//! checked against a decoder that shares nothing with dredge (Python's
//! `plistlib` and `zlib`, in the test), the HFS+ volume in it is read, its
//! stored CRC-32s are checked as it is registered and verified, and damage
//! is accounted for: a chunk that does not decode is an unreadable range,
//! a stored checksum that does not hold fails `verify`.

mod common;

use common::*;
use std::path::{Path, PathBuf};

fn dmg() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testimages/external/dfvfs/hfsplus_zlib.dmg")
}

/// SHA-256 of the disk the DMG holds, decoded by Python alone.
fn python_sha256(img: &Path) -> String {
    let script = r#"
import hashlib, plistlib, struct, sys, zlib
d = open(sys.argv[1], 'rb').read()
k = d[-512:]
xo, xl = struct.unpack('>QQ', k[216:232])
out = bytearray(struct.unpack('>Q', k[492:500])[0] * 512)
for b in plistlib.loads(d[xo:xo + xl])['resource-fork']['blkx']:
    m = b['Data']
    first, doff = struct.unpack('>Q', m[8:16])[0], struct.unpack('>Q', m[24:32])[0]
    for i in range(struct.unpack('>I', m[200:204])[0]):
        t, _, s, n, co, cl = struct.unpack('>IIQQQQ', m[204 + 40 * i:244 + 40 * i])
        at = (first + s) * 512
        if t == 0x80000005:
            out[at:at + n * 512] = zlib.decompress(d[doff + co:doff + co + cl])
        elif t == 1:
            out[at:at + n * 512] = d[doff + co:doff + co + n * 512]
print(hashlib.sha256(out).hexdigest())
"#;
    let o = std::process::Command::new("python3")
        .args(["-c", script])
        .arg(img)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    stdout(&o).trim().to_string()
}

#[test]
fn a_dmg_is_read_as_the_disk_it_holds_and_its_checksums_are_checked() {
    if !tools(&["python3"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let case = dir.path().join("case");
    let arts = one_shot_ls("recover", &dmg(), None, &case, 0, &[]);
    let show = stdout(&run(&["case", "show", case.to_str().unwrap()]));
    assert!(
        show.contains("[dmg]") && show.contains("hfsplus \"hfsplus_test\""),
        "{show}"
    );
    assert!(show.contains(&python_sha256(&dmg())), "{show}");
    let by = |p: &str| {
        arts.iter()
            .find(|a| a["path"] == p)
            .unwrap_or_else(|| panic!("{p}"))
    };
    let read = |p: &str| std::fs::read(case.join(by(p)["extracted"].as_str().unwrap())).unwrap();
    assert_eq!(
        read("/a_directory/a_resourcefork:rsrc"),
        b"My resource fork\n"
    );
    assert_eq!(
        read("/a_directory/another_file"),
        b"This is another file.\n"
    );
    assert!(read("/passwords.txt").starts_with(b"place,user,password\n"));
    // The stored CRC-32s are recorded as checked, and hold on verify.
    let log = stdout(&run(&["log", case.to_str().unwrap()]));
    assert!(log.contains(r#""master_crc32_check":"match""#), "{log}");
    assert!(!log.contains("MISMATCH"), "{log}");
    assert!(run(&["verify", case.to_str().unwrap()]).status.success());
}

#[test]
fn a_damaged_dmg_chunk_is_an_unreadable_range_and_a_forged_checksum_fails_verify() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = std::fs::read(dmg()).unwrap();
    // A byte inside the HFS+ partition's first zlib chunk (data fork offset
    // 6482, 5502 bytes: the volume header and catalog): it no longer inflates.
    let mut bad = bytes.clone();
    bad[6482 + 2000] ^= 0xFF;
    let img = dir.path().join("bad.dmg");
    std::fs::write(&img, &bad).unwrap();
    let cs = dir.path().join("c1");
    assert!(
        run(&["case", "new", "--examiner", "t", cs.to_str().unwrap()])
            .status
            .success()
    );
    let o = run(&[
        "--progress",
        "json",
        "add",
        cs.to_str().unwrap(),
        img.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let out = stdout(&o);
    // The chunk's 2 010 sectors (from sector 40) are the gap, and nothing else.
    assert!(
        out.contains(r#""len":1029120"#)
            && out.contains(r#""start":20480"#)
            && out.contains("dmg-bad-chunk"),
        "{out}"
    );
    // The master checksum forged: registration says so, verify fails.
    let mut forged = bytes.clone();
    let k = forged.len() - 512;
    forged[k + 360] ^= 1;
    let img = dir.path().join("forged.dmg");
    std::fs::write(&img, &forged).unwrap();
    let cs = dir.path().join("c2");
    assert!(
        run(&["case", "new", "--examiner", "t", cs.to_str().unwrap()])
            .status
            .success()
    );
    let o = run(&["add", cs.to_str().unwrap(), img.to_str().unwrap()]);
    assert!(
        stdout(&o).contains("DMG master CRC-32: MISMATCH"),
        "{}",
        stdout(&o)
    );
    let v = run(&["verify", cs.to_str().unwrap()]);
    assert!(!v.status.success());
    assert!(
        stdout(&v).contains("CRC-32 stored in the DMG")
            || stderr(&v).contains("CRC-32 stored in the DMG"),
        "{}{}",
        stdout(&v),
        stderr(&v)
    );
}

#[test]
fn lzfse_bzip2_and_lzma_dmgs_read_as_the_same_disk_with_their_checksums_holding() {
    if !tools(&["python3"]) {
        return;
    }
    let lzfse = python_module("lzfse");
    if !lzfse {
        skip("the python3 module lzfse (PyPI) is missing: only bzip2 is checked");
    }
    let dir = tempfile::tempdir().unwrap();
    let zlib_case = dir.path().join("zlib");
    let want = hashes(&one_shot_ls("recover", &dmg(), None, &zlib_case, 0, &[]));
    let disk = python_sha256(&dmg());
    let methods: &[(&str, &[u8])] = if lzfse {
        &[
            ("lzfse", b"bvx2"),
            ("bzip2", b"BZh9"),
            ("lzma", b"\xFD7zXZ\0"),
        ]
    } else {
        &[("bzip2", b"BZh9"), ("lzma", b"\xFD7zXZ\0")]
    };
    for &(method, magic) in methods {
        // The dfvfs image with every zlib chunk recompressed (by Apple's
        // reference LZFSE encoder, Python's bz2 or liblzma's .xz), as
        // `hdiutil convert -format ULFO`, `UDBZ` or `ULMO` would.
        let made = dir.path().join(format!("{method}.dmg"));
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("testimages/dmg-recompress.py");
        let o = std::process::Command::new("python3")
            .arg(&script)
            .arg(dmg())
            .arg(&made)
            .arg(method)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
        let raw = std::fs::read(&made).unwrap();
        assert!(
            raw.windows(magic.len()).any(|w| w == magic),
            "no {method} chunk"
        );
        let case = dir.path().join(method);
        let arts = one_shot_ls("recover", &made, None, &case, 0, &[]);
        let show = stdout(&run(&["case", "show", case.to_str().unwrap()]));
        // The disk is the one the zlib image holds, as Python decodes that.
        assert!(show.contains(&disk), "{method}: {show}");
        assert!(show.contains("0 unreadable"), "{method}: {show}");
        assert_eq!(hashes(&arts), want, "{method}");
        let log = stdout(&run(&["log", case.to_str().unwrap()]));
        assert!(log.contains(r#""master_crc32_check":"match""#), "{log}");
        assert!(run(&["verify", case.to_str().unwrap()]).status.success());
    }
}
