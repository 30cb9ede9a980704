//! NTFS names from the change journal (issue 14): plaso's `UsnJrnl.raw`, 19
//! records Windows wrote (a file created as `Nieuw - Tekstdocument.txt`,
//! renamed `first.txt`, copied as `Kopie van first.txt`, renamed
//! `second.txt`), as the `$J` of `$Extend/$UsnJrnl` on a volume made by
//! mkntfs and ntfs-3g (ntfs-3g keeps no journal and will not write in
//! `$Extend`, so the file is written in the root and its parent reference
//! moved to `$Extend` in its MFT record). Their MFT records (30 and 31) are
//! empty on this volume, so every name comes back as a name-only entry with
//! its reasons, USNs and journal times, and the root's own records give
//! nothing. Needs mkntfs, ntfs-3g and FUSE.

mod common;

use common::*;
use std::path::Path;

fn le(b: &[u8], at: usize, n: usize) -> u64 {
    let mut v = [0u8; 8];
    v[..n].copy_from_slice(&b[at..at + n]);
    u64::from_le_bytes(v)
}

/// Moves record `n`'s $FILE_NAME under $Extend (record 11, sequence 11).
fn reparent(img: &Path, n: u64) {
    let mut b = std::fs::read(img).unwrap();
    let cs = le(&b, 11, 2) * le(&b, 13, 1);
    let rec = (le(&b, 0x30, 8) * cs + n * 1024) as usize;
    assert_eq!(&b[rec..rec + 4], b"FILE");
    let mut p = rec + le(&b, rec + 20, 2) as usize;
    loop {
        let ty = le(&b, p, 4);
        assert_ne!(ty, 0xFFFF_FFFF, "no $FILE_NAME in record {n}");
        if ty == 0x30 {
            let v = p + le(&b, p + 20, 2) as usize;
            assert_eq!(le(&b, v, 8), 5 | 5 << 48, "parent is the root");
            assert!((v - rec) % 512 < 504, "not across a fixup");
            b[v..v + 8].copy_from_slice(&(11u64 | 11 << 48).to_le_bytes());
            break;
        }
        p += le(&b, p + 4, 4) as usize;
    }
    std::fs::write(img, b).unwrap();
}

#[test]
fn names_the_change_journal_holds_come_back_with_their_reasons() {
    if !tools(&["mkntfs", "ntfs-3g", "ifind"]) {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let img = d.path().join("ntfs.img");
    let mnt = d.path().join("mnt");
    std::fs::create_dir_all(&mnt).unwrap();
    std::fs::File::create(&img)
        .unwrap()
        .set_len(16 << 20)
        .unwrap();
    assert!(sh(&format!(
        "mkntfs -F -f -q {} 2>/dev/null",
        img.display()
    )));
    if !sh(&format!(
        "ntfs-3g -o streams_interface=windows {} {}",
        img.display(),
        mnt.display()
    )) {
        skip("cannot mount with ntfs-3g");
        return;
    }
    let journal =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("testimages/external/plaso/UsnJrnl.raw");
    std::fs::write(mnt.join("$UsnJrnl"), b"").unwrap();
    std::fs::write(mnt.join("$UsnJrnl:$J"), std::fs::read(&journal).unwrap()).unwrap();
    assert!(sh(&format!("umount {}", mnt.display())));
    let o = std::process::Command::new("ifind")
        .args(["-n", "/$UsnJrnl", img.to_str().unwrap()])
        .output()
        .unwrap();
    let n: u64 = String::from_utf8_lossy(&o.stdout).trim().parse().unwrap();
    reparent(&img, n);
    let out = d.path().join("case");
    let arts = one_shot_ls("recover", &img, None, &out, 0, &[]);
    assert!(
        arts.iter().any(|a| a["path"] == "/$Extend/$UsnJrnl:$J"),
        "the journal stream is listed where Windows keeps it"
    );
    let usn: Vec<&serde_json::Value> = arts
        .iter()
        .filter(|a| {
            a["recovery_detail"]
                .as_str()
                .is_some_and(|s| s.contains("$UsnJrnl:$J"))
        })
        .collect();
    let detail = |p: &str| {
        usn.iter()
            .find(|a| a["path"] == p)
            .unwrap_or_else(|| panic!("{p} not listed: {usn:#?}"))["recovery_detail"]
            .as_str()
            .unwrap()
            .to_string()
    };
    // Four names of two files; the root's "." records are the root's.
    assert_eq!(usn.len(), 4, "{usn:#?}");
    let created = detail("/Nieuw - Tekstdocument.txt");
    assert!(created.contains("USN 0..224"), "{created}");
    assert!(created.contains("FILE_CREATE"), "{created}");
    assert!(created.contains("RENAME_OLD_NAME"), "{created}");
    assert!(created.contains("MFT record 30 (sequence 1)"), "{created}");
    assert!(created.contains("parent record 5"), "{created}");
    assert!(detail("/first.txt").contains("RENAME_NEW_NAME"));
    assert!(detail("/Kopie van first.txt").contains("MFT record 31"));
    assert!(detail("/second.txt").contains("USN 1504..1584"));
    let a = usn
        .iter()
        .find(|a| a["path"] == "/Nieuw - Tekstdocument.txt")
        .unwrap();
    assert_eq!(a["deleted"], true);
    let first = a["times"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["source"] == "ntfs.usn.first")
        .unwrap();
    // 0x01D12BB43C0CC012 as FILETIME.
    assert!(
        first["utc"]
            .as_str()
            .unwrap()
            .starts_with("2015-11-30T21:15:27.2031"),
        "{first}"
    );
}
