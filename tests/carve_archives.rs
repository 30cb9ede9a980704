//! Archives carved to their structural end (issue 14, carving breadth): XZ
//! streams made by xz (one block, and many with --block-size), TAR
//! archives made by GNU tar (gnu and posix formats) and Zstandard frames
//! made by zstd and LZ4 frames made by lz4 (whole, but unverified: their
//! checksums are of decoded bytes; an LZ4 frame with block checksums is
//! checked whole, and partial at a damaged block), laid into random bytes
//! at 4 KiB boundaries: each comes back whole and bit-exact; a cut XZ and a
//! TAR whose third header is damaged are partial, the TAR after its two
//! whole members (the members after the damage are an archive of their own).

mod common;

use common::*;
use serde_json::Value;
use std::path::Path;

fn made(dir: &Path, cmd: &str, out: &str) -> Vec<u8> {
    assert!(sh(&format!("cd {} && {cmd}", dir.display())), "{cmd}");
    std::fs::read(dir.join(out)).unwrap()
}

#[test]
fn xz_and_tar_made_by_their_tools_come_back_whole_and_cut_ones_partial() {
    if !tools(&["xz", "tar", "zstd", "lz4"]) {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let src = d.path().join("src");
    std::fs::create_dir(&src).unwrap();
    // Compressible content: text with random runs.
    let mut body = Vec::new();
    for i in 0..40u64 {
        body.extend(
            format!("line {i}: the evidence log goes on\n")
                .repeat(50)
                .into_bytes(),
        );
        body.extend(noise(2000, i));
    }
    std::fs::write(src.join("log.txt"), &body).unwrap();
    std::fs::write(src.join("a.bin"), noise(30_000, 5)).unwrap();
    std::fs::write(src.join("b.bin"), noise(700, 6)).unwrap();
    std::fs::create_dir(src.join("sub")).unwrap();
    std::fs::write(src.join("sub/c.bin"), noise(5000, 7)).unwrap();
    let p = d.path();
    let xz1 = made(p, "xz -T1 -c src/log.txt > one.xz", "one.xz");
    let xz2 = made(
        p,
        "xz -T1 --block-size=16384 -c src/log.txt > many.xz",
        "many.xz",
    );
    let tar_gnu = made(p, "tar --format=gnu -cf gnu.tar -C src .", "gnu.tar");
    let tar_posix = made(p, "tar --format=posix -cf posix.tar -C src .", "posix.tar");
    // A TAR whose third header is damaged: its first two members stand.
    let headers: Vec<usize> = (0..tar_gnu.len())
        .step_by(512)
        .filter(|&o| tar_gnu[o + 257..o + 262] == *b"ustar")
        .collect();
    let mut tar_bad = tar_gnu.clone();
    tar_bad[headers[2] + 150] ^= 0x5A;
    let cut_xz = xz2[..xz2.len() / 2].to_vec();
    let zst = made(p, "zstd -q -c src/log.txt > log.zst", "log.zst");
    let lz4 = made(p, "lz4 -q -c src/log.txt > log.lz4", "log.lz4");
    let lz4_sums = made(p, "lz4 -q -BX -B4 -c src/log.txt > sums.lz4", "sums.lz4");
    let mut lz4_bad = lz4_sums.clone();
    let mid = lz4_bad.len() / 2;
    lz4_bad[mid] ^= 0x20;
    let big = made(
        p,
        "cat src/*.bin src/log.txt src/sub/c.bin | zstd -q -1 -c > big.zst",
        "big.zst",
    );

    let mut img = noise(8 << 20, 11);
    let place = [
        (0x10000usize, &xz1, "whole"),
        (0x80000, &xz2, "whole"),
        (0x100000, &tar_gnu, "whole"),
        (0x200000, &tar_posix, "whole"),
        (0x300000, &tar_bad, "partial"),
        (0x400000, &cut_xz, "partial"),
        (0x500000, &zst, "unverified"),
        (0x600000, &big, "unverified"),
        (0x680000, &lz4, "unverified"),
        (0x700000, &lz4_sums, "whole"),
        (0x780000, &lz4_bad, "partial"),
    ];
    for (at, f, _) in &place {
        img[*at..*at + f.len()].copy_from_slice(f);
    }
    let path = p.join("img.raw");
    std::fs::write(&path, &img).unwrap();
    let arts = one_shot_ls("carve", &path, None, &p.join("case"), 3, &[]);
    let at = |off: usize| carved_at(&arts, off as u64, "");
    for (off, f, kind) in &place {
        let a = at(*off).unwrap_or_else(|| panic!("nothing carved at {off:#x}: {arts:#?}"));
        if *kind == "whole" {
            assert_eq!(a["status"], "complete", "{a}");
            assert_eq!(a["recovery"], "carved-complete", "{a}");
            assert_eq!(a["sha256"], sha256(f), "{off:#x} not bit-exact");
        } else if *kind == "unverified" {
            // Zstandard's checksum is of the decoded content: not checked.
            assert_eq!(a["recovery"], "carved-unverified-contiguous", "{a}");
            assert_eq!(a["sha256"], sha256(f), "{off:#x} not bit-exact");
        } else {
            assert_eq!(a["status"], "partial", "{a}");
        }
    }
    // The damaged TAR keeps exactly its first two members (their headers
    // and data blocks).
    let bad = at(0x300000).unwrap();
    assert_eq!(bad["size"], headers[2] as u64, "{bad}");
    // Member headers inside a carved TAR are not carved again; after the
    // damaged header, the members that follow are an archive of their own.
    let tars: Vec<&Value> = arts
        .iter()
        .filter(|a| a["path"].as_str().unwrap().ends_with(".tar"))
        .collect();
    assert_eq!(tars.len(), 4, "{tars:#?}");
    let tail = at(0x300000 + headers[3]).expect("the members after the damage");
    assert_eq!(tail["status"], "complete");
}
