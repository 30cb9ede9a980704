//! Apple sparse bundles as evidence (issue 15): dfvfs's macOS-made
//! `hfsplus.raw` written as a bundle of 256 KiB bands by
//! `testimages/make-sparsebundle.py` (all-zero bands left out, as a real
//! bundle never writes them) is registered with the raw image's SHA-256 and
//! gives the same files; a changed band fails `verify`; a band the system
//! cannot read is an unreadable range of exactly that band; an encrypted
//! bundle and a broken `Info.plist` are refused in one line naming the file.

mod common;

use common::*;
use std::path::{Path, PathBuf};

fn bundle(dir: &Path, img: &Path) -> PathBuf {
    let out = dir.join("disk.sparsebundle");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("testimages/make-sparsebundle.py");
    let o = std::process::Command::new("python3")
        .arg(script)
        .arg(img)
        .arg(&out)
        .arg("262144")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let said = stdout(&o);
    let (written, bands) = said.trim().split_once(' ').unwrap();
    // Some bands are absent: the reader must make their zeros.
    assert!(
        written.parse::<u32>().unwrap() < bands.parse().unwrap(),
        "{said}"
    );
    out
}

#[test]
fn a_sparse_bundle_reads_as_the_disk_it_holds() {
    if !tools(&["python3", "gzip"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let img = dfvfs(dir.path(), "hfsplus.raw");
    let b = bundle(dir.path(), &img);
    let raw = one_shot_ls("recover", &img, None, &dir.path().join("raw"), 0, &[]);
    let case = dir.path().join("case");
    let arts = one_shot_ls("recover", &b, None, &case, 0, &[]);
    let show = stdout(&run(&["case", "show", case.to_str().unwrap()]));
    assert!(show.contains("[sparsebundle]"), "{show}");
    assert!(show.contains(&sha256_file(&img)), "{show}");
    assert!(show.contains("0 unreadable"), "{show}");
    assert!(show.contains("hfsplus \"hfsplus_test\""), "{show}");
    assert_eq!(hashes(&arts), hashes(&raw));
    assert!(run(&["verify", case.to_str().unwrap()]).status.success());

    // One byte of a band changed after registration: verify says so.
    let band = b.join("bands/0");
    let mut d = std::fs::read(&band).unwrap();
    d[2000] ^= 0xFF;
    std::fs::write(&band, &d).unwrap();
    assert!(!run(&["verify", case.to_str().unwrap()]).status.success());

    // A band the system cannot read (here a directory where its file
    // belongs): exactly that band is unreadable, the rest is read.
    let b2 = bundle(&dir.path().join("second"), &img);
    std::fs::remove_file(b2.join("bands/2")).unwrap();
    std::fs::create_dir(b2.join("bands/2")).unwrap();
    let case2 = dir.path().join("case2");
    let o = one_shot("recover", &b2, None, &case2, &[]);
    let out = stdout(&o) + &stderr(&o);
    assert!(out.contains("262144 bytes unreadable"), "{out}");
}

#[test]
fn an_encrypted_bundle_or_a_broken_plist_is_refused_in_one_line() {
    if !tools(&["python3", "gzip"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let img = dfvfs(dir.path(), "hfsplus.raw");
    let b = bundle(dir.path(), &img);
    std::fs::write(b.join("token"), b"encrcdsa\0\0\0\x02rest of a header").unwrap();
    let o = one_shot("recover", &b, None, &dir.path().join("c1"), &[]);
    assert!(!o.status.success());
    let err = stderr(&o);
    assert!(err.contains("token") && err.contains("encrypted"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");

    std::fs::write(b.join("token"), b"").unwrap();
    std::fs::write(b.join("Info.plist"), b"<plist><dict><key>band-size</key>").unwrap();
    let o = one_shot("recover", &b, None, &dir.path().join("c2"), &[]);
    assert!(!o.status.success());
    let err = stderr(&o);
    assert!(err.contains("Info.plist"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
}
