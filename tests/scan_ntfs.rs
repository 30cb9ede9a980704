//! NTFS: the public ntfs-crate image, and images written through ntfs-3g with
//! deleted files, an alternate data stream, an LZNT1-compressed file and a sparse
//! file. Needs mkntfs, ntfs-3g and FUSE for the latter; skipped without them unless
//! DREDGE_REQUIRE_TOOLS=1.

mod common;

use common::*;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

fn recover(img: &Path, out: &Path) -> std::process::Output {
    one_shot("recover", img, None, out, &[])
}

#[test]
fn the_ntfs_crate_public_image_lists_as_its_sources_say() {
    let d = tempfile::tempdir().unwrap();
    let img = d.path().join("testfs1");
    let gz = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/testdata/ntfs-crate/testfs1.gz");
    let o = Command::new("gzip").arg("-dc").arg(&gz).output().unwrap();
    std::fs::write(&img, o.stdout).unwrap();
    let out = d.path().join("case");
    let o = recover(&img, &out);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    let arts = ls_json(&out);
    let h = hashes(&arts);
    assert_eq!(h["/file-with-12345"], sha256(b"12345"));
    assert_eq!(h["/1000-bytes-file"], sha256(&b"12345".repeat(200)));
    assert_eq!(h["/empty-file"], sha256(b""));
    let mut sparse = vec![0u8; 500_005];
    sparse[..5].copy_from_slice(b"12345");
    sparse[500_000..].copy_from_slice(b"11111");
    assert_eq!(h["/sparse-file"], sha256(&sparse));
    for i in [1, 256, 512] {
        assert!(
            arts.iter()
                .any(|a| a["path"] == format!("/many_subdirs/{i}") && a["kind"] == "dir"),
            "many_subdirs/{i}"
        );
    }
    assert_eq!(
        arts.iter()
            .filter(|a| a["path"].as_str().unwrap().starts_with("/many_subdirs/"))
            .count(),
        512
    );
    let empty = arts.iter().find(|a| a["path"] == "/empty-file").unwrap();
    let m = empty["times"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["source"] == "ntfs.si.modified")
        .unwrap();
    assert_eq!(m["utc"].as_str().unwrap(), "2021-01-01T12:37:00.000000Z");
    let conn = rusqlite::Connection::open(out.join("case.sqlite")).unwrap();
    let label: String = conn
        .query_row("SELECT label FROM filesystems", [], |r| r.get(0))
        .unwrap();
    assert_eq!(label, "mylabel");
    let findings: i64 = conn
        .query_row("SELECT COUNT(*) FROM findings", [], |r| r.get(0))
        .unwrap();
    assert_eq!(findings, 0, "an undamaged image yields no findings");
}

/// An NTFS image written through ntfs-3g; returns (image, kept, deleted) hashes.
fn ntfs3g_image(dir: &Path) -> Option<(PathBuf, Hashes, Hashes)> {
    let img = dir.join("ntfs.img");
    let mnt = dir.join("mnt");
    std::fs::create_dir_all(&mnt).unwrap();
    let f = std::fs::File::create(&img).unwrap();
    f.set_len(32 << 20).unwrap();
    drop(f);
    assert!(sh(&format!(
        "mkntfs -F -f -q -L evidence {} 2>/dev/null",
        img.display()
    )));
    if !sh(&format!(
        "ntfs-3g -o streams_interface=windows,compression {} {}",
        img.display(),
        mnt.display()
    )) {
        skip("cannot mount with ntfs-3g");
        return None;
    }
    let mut keep = Hashes::new();
    let mut gone = Hashes::new();
    std::fs::create_dir_all(mnt.join("docs")).unwrap();
    std::fs::create_dir_all(mnt.join("packed")).unwrap();
    // Files created in "packed" are compressed (FILE_ATTRIBUTE_COMPRESSED, 0x800).
    let name = std::ffi::CString::new("system.ntfs_attrib_be").unwrap();
    let path = std::ffi::CString::new(mnt.join("packed").to_str().unwrap()).unwrap();
    let v = 0x800u32.to_be_bytes();
    assert_eq!(
        unsafe { libc::setxattr(path.as_ptr(), name.as_ptr(), v.as_ptr().cast(), 4, 0) },
        0
    );
    let mut put = |rel: &str, data: &[u8], keep_it: bool| {
        std::fs::write(mnt.join(rel), data).unwrap();
        let set = if keep_it { &mut keep } else { &mut gone };
        set.insert(format!("/{rel}"), sha256(data));
    };
    put(
        "packed/log.txt",
        &b"the same line again and again\n".repeat(20_000),
        true,
    );
    put("docs/report.txt", b"visible text\n", true);
    // Bytes that do not compress, in the compressed folder: LZNT1 stores
    // them in chunks with a header each, so the stored bytes run past the
    // data size (a 4 097-byte file takes 4 101), and read only up to the
    // data size the last chunk did not decode.
    for (i, n) in [4095usize, 4096, 4097, 70_000, 131_073]
        .into_iter()
        .enumerate()
    {
        put(
            &format!("packed/noise{i}.bin"),
            &noise(n, 700 + i as u64),
            true,
        );
    }
    put("docs/report.txt:hidden", b"secret in a stream\n", true);
    for i in 0..6u64 {
        put(
            &format!("docs/f{i}.bin"),
            &noise(40_000 + i as usize * 9000, 300 + i),
            i % 2 == 0,
        );
    }
    let mut sparse = vec![0u8; 5_000_003];
    sparse[5_000_000..].copy_from_slice(b"end");
    {
        use std::io::{Seek, SeekFrom, Write};
        let mut f = std::fs::File::create(mnt.join("sparse.bin")).unwrap();
        f.seek(SeekFrom::Start(5_000_000)).unwrap();
        f.write_all(b"end").unwrap();
    }
    keep.insert("/sparse.bin".into(), sha256(&sparse));
    // One file under three names in two folders (hard links): one artifact.
    let one = b"one file, three names\n";
    std::fs::write(mnt.join("docs/linked.txt"), one).unwrap();
    // (Which name is its path is the reader's choice: checked apart.)
    std::fs::hard_link(mnt.join("docs/linked.txt"), mnt.join("linked.txt")).unwrap();
    std::fs::hard_link(mnt.join("docs/linked.txt"), mnt.join("docs/again.txt")).unwrap();
    std::fs::write(
        mnt.join("linked.txt:side"),
        b"a stream of the linked file\n",
    )
    .unwrap();
    assert!(sh("sync"));
    for p in gone.keys() {
        std::fs::remove_file(mnt.join(p.trim_start_matches('/'))).unwrap();
    }
    assert!(sh(&format!("umount {}", mnt.display())));
    Some((img, keep, gone))
}

#[test]
fn ntfs3g_image_with_deleted_compressed_sparse_files_and_a_stream() {
    if !tools(&["mkntfs", "ntfs-3g", "tsk_recover"]) {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let Some((img, keep, gone)) = ntfs3g_image(d.path()) else {
        return;
    };
    let witness = ReadOnlyWitness::new(&[&img]);
    let out = d.path().join("case");
    let o = recover(&img, &out);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    let arts = ls_json(&out);
    let h = hashes(&arts);
    for (p, s) in keep.iter().chain(gone.iter()) {
        assert_eq!(h.get(p), Some(s), "{p}");
    }
    for p in gone.keys() {
        let a = arts.iter().find(|a| a["path"] == p.as_str()).unwrap();
        assert_eq!(a["deleted"], true, "{p}");
        assert_eq!(a["recovery"], "deleted-intact", "{p}");
    }
    // A file's other names (hard links) are full paths, as ext's are; its
    // stream is reached through each name likewise.
    for (content, suffix) in [
        (&b"one file, three names\n"[..], ""),
        (b"a stream of the linked file\n", ":side"),
    ] {
        let linked = arts
            .iter()
            .find(|a| a["sha256"] == sha256(content))
            .unwrap();
        let mut names: BTreeSet<String> = linked["other_names"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n.as_str().unwrap().to_string())
            .collect();
        names.insert(linked["path"].as_str().unwrap().to_string());
        let want = ["/docs/again.txt", "/docs/linked.txt", "/linked.txt"];
        let want: BTreeSet<String> = want.iter().map(|s| format!("{s}{suffix}")).collect();
        assert_eq!(names, want, "{linked}");
    }
    let tsk = tsk_recovered(&img, &d.path().join("tsk"));
    let ours: BTreeSet<String> = h.into_values().collect();
    let missing: Vec<&String> = tsk.difference(&ours).collect();
    assert!(
        missing.is_empty(),
        "tsk_recover recovered content dredge did not: {missing:?}"
    );
    witness.assert_unchanged();
}

#[test]
fn ntfs_with_its_primary_boot_sector_zeroed_is_read_through_the_backup() {
    if !tools(&["mkntfs", "ntfs-3g", "tsk_recover"]) {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let Some((img, keep, _)) = ntfs3g_image(d.path()) else {
        return;
    };
    let mut b = std::fs::read(&img).unwrap();
    b[..512].fill(0);
    let broken = d.path().join("broken.img");
    std::fs::write(&broken, &b).unwrap();
    let out = d.path().join("case");
    let o = recover(&broken, &out);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    let h = hashes(&ls_json(&out));
    for (p, s) in &keep {
        assert_eq!(h.get(p), Some(s), "{p}");
    }
    let conn = rusqlite::Connection::open(out.join("case.sqlite")).unwrap();
    let n: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM findings WHERE what LIKE '%backup boot sector%used%'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(n, 1);
    assert!(
        tsk_recovered(&broken, &d.path().join("tsk")).is_empty(),
        "tsk_recover unexpectedly read the damaged volume"
    );
}

#[test]
fn a_damaged_mft_record_zero_is_replaced_by_the_mirror() {
    if !tools(&["mkntfs", "ntfs-3g"]) {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let Some((img, keep, _)) = ntfs3g_image(d.path()) else {
        return;
    };
    let mut b = std::fs::read(&img).unwrap();
    let bps = u16::from_le_bytes([b[11], b[12]]) as u64;
    let cs = bps * b[13] as u64;
    let mft = u64::from_le_bytes(b[0x30..0x38].try_into().unwrap()) * cs;
    b[mft as usize..mft as usize + 1024].fill(0xAB);
    let broken = d.path().join("nomft0.img");
    std::fs::write(&broken, &b).unwrap();
    let out = d.path().join("case");
    let o = recover(&broken, &out);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    let h = hashes(&ls_json(&out));
    for (p, s) in &keep {
        assert_eq!(h.get(p), Some(s), "{p}");
    }
}

/// An exFAT filesystem mounted through exfat-fuse on a loop device, unmounted and
/// detached when dropped.
struct ExfatMount {
    mnt: PathBuf,
    loop_dev: String,
}

impl ExfatMount {
    fn new(dir: &Path) -> Option<ExfatMount> {
        let img = dir.join("out-exfat.img");
        std::fs::File::create(&img)
            .unwrap()
            .set_len(96 << 20)
            .unwrap();
        if !sh(&format!("mkfs.exfat {} >/dev/null 2>&1", img.display())) {
            return None;
        }
        let o = Command::new("losetup")
            .args(["-f", "--show"])
            .arg(&img)
            .output()
            .ok()?;
        if !o.status.success() {
            return None;
        }
        let loop_dev = String::from_utf8_lossy(&o.stdout).trim().to_string();
        let mnt = dir.join("out-mnt");
        std::fs::create_dir_all(&mnt).unwrap();
        if !sh(&format!(
            "mount.exfat-fuse {loop_dev} {} 2>/dev/null",
            mnt.display()
        )) {
            sh(&format!("losetup -d {loop_dev}"));
            return None;
        }
        Some(ExfatMount { mnt, loop_dev })
    }
}

impl Drop for ExfatMount {
    fn drop(&mut self) {
        sh(&format!("umount {}", self.mnt.display()));
        sh(&format!("losetup -d {}", self.loop_dev));
    }
}

#[test]
fn a_case_on_exfat_learns_its_naming_rules_and_keeps_streams_beside_their_files() {
    if !tools(&[
        "mkntfs",
        "ntfs-3g",
        "mkfs.exfat",
        "mount.exfat-fuse",
        "losetup",
    ]) {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let Some((img, keep, _)) = ntfs3g_image(d.path()) else {
        return;
    };
    let Some(m) = ExfatMount::new(d.path()) else {
        skip("cannot mount exFAT through a loop device");
        return;
    };
    let out = m.mnt.join("case");
    let o = recover(&img, &out);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    // The rules exFAT showed when the case was made are in its first custody event.
    let conn = rusqlite::Connection::open(out.join("case.sqlite")).unwrap();
    let params: String = conn
        .query_row(
            "SELECT params FROM custody WHERE action = 'case.create'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let rules: serde_json::Value = serde_json::from_str(&params).unwrap();
    let rules = &rules["output_rules"];
    assert!(
        rules["forbidden"].as_str().unwrap().contains(':'),
        "{rules}"
    );
    assert_eq!(rules["case_insensitive"], true, "{rules}");
    let arts = ls_json(&out);
    let stream = arts
        .iter()
        .find(|a| a["path"] == "/docs/report.txt:hidden")
        .expect("the stream is listed");
    // The stream's copy sits beside its file under an escaped name, not in by-id.
    let ex = stream["extracted"].as_str().unwrap();
    assert!(ex.ends_with("/docs/report.txt%3Ahidden"), "{ex}");
    assert_eq!(
        sha256(&std::fs::read(out.join(ex)).unwrap()),
        keep["/docs/report.txt:hidden"]
    );
    assert!(
        !arts.iter().any(|a| a["extracted"]
            .as_str()
            .is_some_and(|e| e.contains("/by-id/"))),
        "nothing fell back to by-id"
    );
    let o = dredge().arg("verify").arg(&out).output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
}
