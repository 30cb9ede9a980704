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
    // Cut in half: made with threads, its block headers give each block's
    // compressed size, so the blocks before the cut are known whole; made
    // without (one block, or blocks without sizes), nothing is known to hold.
    let xz3 = made(
        p,
        "xz -T2 --block-size=16384 -c src/log.txt > sized.xz",
        "sized.xz",
    );
    let cut_xz = xz3[..xz3.len() / 2].to_vec();
    let cut_unsized = xz2[..xz2.len() / 2].to_vec();
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
        (0x7C0000, &cut_unsized, "none"),
    ];
    let laid: Vec<(usize, &[u8])> = place
        .iter()
        .map(|(at, f, ..)| (*at, f.as_slice()))
        .collect();
    let arts = carve_laid(p, 8 << 20, 11, &laid, 3);
    let at = |off: usize| carved_at(&arts, off as u64, "");
    for (off, f, kind) in &place {
        if *kind == "none" {
            assert!(at(*off).is_none(), "{off:#x}: {:?}", at(*off));
            continue;
        }
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
    // The cut stream keeps its blocks before the cut, whole: a prefix
    // ending where a block header begins.
    let cut = at(0x400000).unwrap();
    let kept = cut["size"].as_u64().unwrap() as usize;
    assert!(kept > 12 + 1024 && kept <= cut_xz.len(), "{cut}");
    assert_eq!(cut["sha256"], sha256(&xz3[..kept]), "{cut}");
    assert!(xz3[kept] != 0 && xz3[kept + 1] & 0x40 != 0, "{cut}");
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

/// bzip2 streams made by bzip2: one block (-9), many blocks (-1 over 450 KB,
/// marks off byte boundaries), one whose fourth block's CRC is damaged, one
/// whose third block has 4 KiB of other bytes inside it (its marks and CRCs
/// intact, so only decoding the block tells) and one cut in its middle, laid
/// into random bytes: the whole ones come back bit-exact and complete (every
/// block decoded to its CRC), the others partial up to the block that fails.
#[test]
fn bzip2_streams_made_by_bzip2_come_back_whole_and_damaged_ones_partial() {
    if !tools(&["bzip2"]) {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    let mut body = Vec::new();
    for i in 0..150u64 {
        body.extend(
            format!("entry {i}: read, never written\n")
                .repeat(40)
                .into_bytes(),
        );
        body.extend(noise(1500, i));
    }
    std::fs::write(p.join("log.txt"), &body).unwrap();
    let one = made(
        p,
        "head -c 20000 log.txt | bzip2 -9 -c > one.bz2",
        "one.bz2",
    );
    let many = made(p, "bzip2 -1 -c log.txt > many.bz2", "many.bz2");
    // Blocks of level 1 hold 100 000 bytes: this is a many-block stream.
    assert!(body.len() > 400_000);
    // The fourth block's magic, found bit by bit as the carver finds it.
    let magic = 0x3141_5926_5359u64;
    let bit = |b: &[u8], i: usize| (b[i / 8] >> (7 - i % 8)) & 1;
    let starts: Vec<usize> = (0..many.len() * 8 - 48)
        .filter(|&s| (0..48).fold(0u64, |v, j| v << 1 | u64::from(bit(&many, s + j))) == magic)
        .collect();
    assert!(starts.len() >= 4, "{} blocks", starts.len());
    let mut bad_crc = many.clone();
    let crc_byte = (starts[3] + 48) / 8 + 1;
    bad_crc[crc_byte] ^= 0x10;
    let cut = many[..many.len() / 2].to_vec();
    let mut inside = many.clone();
    let mid = (starts[2] + starts[3]) / 16;
    inside[mid - 2048..mid + 2048].copy_from_slice(&noise(4096, 77));

    let place = [
        (0x10000usize, &one, "whole"),
        (0x100000, &many, "whole"),
        (0x200000, &bad_crc, "partial"),
        (0x300000, &cut, "partial"),
        (0x400000, &inside, "partial"),
    ];
    let laid: Vec<(usize, &[u8])> = place
        .iter()
        .map(|(at, f, ..)| (*at, f.as_slice()))
        .collect();
    let arts = carve_laid(p, 5 << 20, 21, &laid, 3);
    let size = |off: u64| {
        carved_at(&arts, off, "bzip2").unwrap()["size"]
            .as_u64()
            .unwrap()
    };
    // A damaged block CRC, or other bytes inside a block: that block does
    // not decode to its CRC, and the stream is partial up to its magic.
    assert_eq!(size(0x200000), starts[3].div_ceil(8) as u64);
    assert_eq!(size(0x400000), starts[2].div_ceil(8) as u64);
    // Cut: the blocks before the cut, and the header of the block it cuts.
    let kept = size(0x300000);
    assert!(
        starts.iter().any(|&s| (s as u64 + 80).div_ceil(8) == kept),
        "{kept} ends at no block header ({starts:?})"
    );
    assert!(kept < cut.len() as u64);
    for (off, f, kind) in &place {
        let a = carved_at(&arts, *off as u64, "bzip2")
            .unwrap_or_else(|| panic!("nothing carved at {off:#x}: {arts:#?}"));
        if *kind == "whole" {
            assert_eq!(a["recovery"], "carved-complete", "{a}");
            assert_eq!(a["sha256"], sha256(f), "{off:#x} not bit-exact");
        } else {
            assert_eq!(a["status"], "partial", "{a}");
        }
    }
}

/// 7z archives made by 7-Zip (`7zz`): with its end header compressed (the
/// default) and plain (`-mhc=off`), laid into random bytes: both come back
/// whole and bit-exact, unverified (the packed streams' CRCs are of unpacked
/// data); one whose end header is damaged, and one cut before its end, are
/// partial.
#[test]
fn seven_zip_archives_made_by_7zz_come_back_whole_and_damaged_ones_partial() {
    if !tools(&["7zz"]) {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    let src = p.join("src");
    std::fs::create_dir_all(src.join("sub")).unwrap();
    let mut body = Vec::new();
    for i in 0..60u64 {
        body.extend(
            format!("record {i}: the chain holds\n")
                .repeat(30)
                .into_bytes(),
        );
        body.extend(noise(900, i));
    }
    std::fs::write(src.join("log.txt"), &body).unwrap();
    std::fs::write(src.join("sub/a.bin"), noise(20_000, 9)).unwrap();
    let packed = made(p, "7zz a -bd -bso0 -bsp0 packed.7z ./src", "packed.7z");
    let plain = made(
        p,
        "7zz a -bd -bso0 -bsp0 -mhc=off plain.7z ./src",
        "plain.7z",
    );
    let mut bad = plain.clone();
    let n = bad.len();
    bad[n - 10] ^= 0x01;
    let cut = packed[..packed.len() - 40].to_vec();

    let place = [
        (0x10000usize, &packed, "whole"),
        (0x100000, &plain, "whole"),
        (0x200000, &bad, "partial"),
        (0x300000, &cut, "partial"),
    ];
    let laid: Vec<(usize, &[u8])> = place
        .iter()
        .map(|(at, f, ..)| (*at, f.as_slice()))
        .collect();
    let arts = carve_laid(p, 4 << 20, 23, &laid, 3);
    for (off, f, kind) in &place {
        let a = carved_at(&arts, *off as u64, "7z")
            .unwrap_or_else(|| panic!("nothing carved at {off:#x}: {arts:#?}"));
        assert!(a["path"].as_str().unwrap().ends_with(".7z"), "{a}");
        if *kind == "whole" {
            assert_eq!(a["recovery"], "carved-unverified-contiguous", "{a}");
            assert_eq!(a["sha256"], sha256(f), "{off:#x} not bit-exact");
        } else {
            assert_eq!(a["status"], "partial", "{a}");
        }
    }
    // The damaged one is kept to its declared length, for 7-Zip's own repair.
    assert_eq!(
        carved_at(&arts, 0x200000, "7z").unwrap()["size"],
        bad.len() as u64
    );
}

/// Cabinets made by gcab: MSZIP-compressed (`-z`) and stored, laid into random
/// bytes: both come back whole, bit-exact and checked (every data block's
/// checksum); one with a byte of a data block changed is partial at that
/// block, one cut short partial.
#[test]
fn cabinets_made_by_gcab_come_back_whole_and_damaged_ones_partial() {
    if !tools(&["gcab"]) {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    let mut body = Vec::new();
    for i in 0..80u64 {
        body.extend(
            format!("driver {i}: signed, unsigned\n")
                .repeat(25)
                .into_bytes(),
        );
        body.extend(noise(700, i));
    }
    std::fs::write(p.join("setup.inf"), &body).unwrap();
    std::fs::write(p.join("driver.sys"), noise(70_000, 4)).unwrap();
    let zipped = made(
        p,
        "gcab -c -z zipped.cab setup.inf driver.sys",
        "zipped.cab",
    );
    let stored = made(p, "gcab -c stored.cab setup.inf driver.sys", "stored.cab");
    // A byte of the second data block (past the first block's 32 KiB).
    let mut bad = stored.clone();
    bad[40_000] ^= 0x04;
    let cut = zipped[..zipped.len() - 100].to_vec();

    let place = [
        (0x10000usize, &zipped, true),
        (0x100000, &stored, true),
        (0x200000, &bad, false),
        (0x300000, &cut, false),
    ];
    let laid: Vec<(usize, &[u8])> = place
        .iter()
        .map(|(at, f, ..)| (*at, f.as_slice()))
        .collect();
    let arts = carve_laid(p, 4 << 20, 37, &laid, 3);
    for (off, f, whole) in &place {
        let want = if *whole {
            Want::Complete(f)
        } else {
            Want::Partial(None)
        };
        expect_carved(&arts, *off as u64, "cab", "cab", want);
    }
    // The damaged one keeps the blocks before the damaged one: the header,
    // tables and first block.
    let kept = carved_at(&arts, 0x200000, "cab").unwrap()["size"]
        .as_u64()
        .unwrap();
    assert!(kept > 32_768 && kept < 40_000, "kept {kept}");
}

/// ISO 9660 images made by xorriso (Rock Ridge and Joliet, as `mkisofs -J -R`),
/// laid into random bytes: the whole one comes back bit-exact, as long as its
/// volume says, unverified (nothing in an ISO is checksummed); one cut short of
/// its end is partial.
#[test]
fn iso_images_made_by_xorriso_come_back_whole_and_cut_ones_partial() {
    if !tools(&["xorriso"]) {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    std::fs::create_dir_all(p.join("src/docs")).unwrap();
    std::fs::write(
        p.join("src/readme.txt"),
        "an installer's notes\n".repeat(400),
    )
    .unwrap();
    std::fs::write(p.join("src/docs/data.bin"), noise(90_000, 8)).unwrap();
    let iso = made(
        p,
        "xorriso -as mkisofs -quiet -J -R -V EVIDENCE -o disc.iso src 2>/dev/null",
        "disc.iso",
    );
    let cut = iso[..iso.len() - 4096].to_vec();
    let place = [(0x10000usize, &iso, true), (0x200000, &cut, false)];
    let laid: Vec<(usize, &[u8])> = place.iter().map(|(at, f, _)| (*at, f.as_slice())).collect();
    // The cut image is the last thing in the evidence: nothing follows it.
    let total = 0x200000 + cut.len();
    let arts = carve_laid(p, total, 41, &laid, 3);
    for (off, f, whole) in &place {
        let a = carved_at(&arts, *off as u64, "iso9660")
            .unwrap_or_else(|| panic!("nothing carved at {off:#x}: {arts:#?}"));
        assert!(a["path"].as_str().unwrap().ends_with(".iso"), "{a}");
        if *whole {
            assert_eq!(a["recovery"], "carved-unverified-contiguous", "{a}");
            assert_eq!(a["sha256"], sha256(f), "{off:#x} not bit-exact");
        } else {
            assert_eq!(a["status"], "partial", "{a}");
            assert_eq!(a["size"], cut.len() as u64, "{a}");
        }
    }
}

#[test]
fn lzip_files_made_by_lzip_come_back_whole_and_cut_ones_are_not_claimed() {
    if !tools(&["lzip"]) {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    let mut body = Vec::new();
    for i in 0..60u64 {
        body.extend(
            format!("entry {i}: custody log line\n")
                .repeat(40)
                .into_bytes(),
        );
        body.extend(noise(6000, i));
    }
    std::fs::write(p.join("log.txt"), &body).unwrap();
    // One member, and several (lzip -b: a new member past 100 KiB of output).
    let one = made(p, "lzip -k -c log.txt > one.lz", "one.lz");
    let many = made(p, "lzip -k -c -b 100KiB log.txt > many.lz", "many.lz");
    assert!(many.windows(5).filter(|w| *w == b"LZIP\x01").count() >= 3);
    // Cut before its trailer: no end to be known, not claimed.
    let cut = &one[..one.len() - 30];
    let place: [(usize, &[u8]); 3] = [(0x10000, &one), (0x80000, &many), (0x100000, cut)];
    let arts = carve_laid(p, 2 << 20, 83, &place, 0);
    expect_carved(&arts, 0x10000, "lzip", "lz", Want::Unverified(&one));
    expect_carved(&arts, 0x80000, "lzip", "lz", Want::Unverified(&many));
    assert!(carved_at(&arts, 0x100000, "lzip").is_none());
}

#[test]
fn lzop_files_made_by_lzop_come_back_whole_and_damaged_ones_partial() {
    if !tools(&["lzop"]) {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    let mut text = Vec::new();
    for i in 0..400u64 {
        text.extend(
            format!("entry {i}: the custody log goes on and on\n")
                .repeat(20)
                .into_bytes(),
        );
    }
    std::fs::write(p.join("log.txt"), &text).unwrap();
    std::fs::write(p.join("r.bin"), noise(600_000, 9)).unwrap();
    // Compressed blocks (Adler-32, and CRC-32 with --crc32): their checksums
    // are of decoded data, so unverified; random data is stored, and every
    // stored block's checksum is checked: complete.
    let adler = made(p, "lzop -c log.txt > a.lzo", "a.lzo");
    let crc = made(p, "lzop --crc32 -c log.txt > c.lzo", "c.lzo");
    let stored = made(p, "lzop -c r.bin > r.lzo", "r.lzo");
    let mut bad = stored.clone();
    let n = bad.len();
    bad[n - 1000] ^= 0x40;
    let cut = &adler[..adler.len() / 2];
    let place: [(usize, &[u8]); 5] = [
        (0x10000, &adler),
        (0x40000, &crc),
        (0x100000, &stored),
        (0x200000, &bad),
        (0x300000, cut),
    ];
    let arts = carve_laid(p, 4 << 20, 89, &place, 3);
    expect_carved(&arts, 0x10000, "lzop", "lzo", Want::Unverified(&adler));
    expect_carved(&arts, 0x40000, "lzop", "lzo", Want::Unverified(&crc));
    expect_carved(&arts, 0x100000, "lzop", "lzo", Want::Complete(&stored));
    let b = expect_carved(&arts, 0x200000, "lzop", "lzo", Want::Partial(None));
    assert!(b["size"].as_u64().unwrap() < n as u64 - 1000, "{b}");
    expect_carved(&arts, 0x300000, "lzop", "lzo", Want::Partial(None));
}

/// `compress` (a shell command writing `t.EXT` from `raw.bin`) run on 1 MiB
/// of base64 text, the result cut at a sector boundary at each of `cuts`
/// (fractions of its length) and laid into noise: the `format` carve at the
/// cut must be partial and a prefix of at least `least` bytes that ends by
/// the cut.
fn cut_inside_a_block(compress: &str, ext: &str, format: &str, cuts: &[f64], least: usize) {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    std::fs::write(p.join("raw.bin"), noise(768 << 10, 43)).unwrap();
    let out = format!("t.{ext}");
    let whole = made(p, &format!("base64 raw.bin | {compress} > {out}"), &out);
    for (k, f) in cuts.iter().enumerate() {
        let cut = ((whole.len() as f64 * f) as usize).next_multiple_of(512);
        let laid = [(0x10000usize, &whole[..cut])];
        let dir = p.join(format!("cut{k}"));
        std::fs::create_dir_all(&dir).unwrap();
        let arts = carve_laid(&dir, 4 << 20, 31 + k as u64, &laid, 3);
        let a = carved_at(&arts, 0x10000, format).unwrap_or_else(|| panic!("{arts:#?}"));
        assert_eq!(a["status"], "partial", "{a}");
        let size = a["size"].as_u64().unwrap() as usize;
        assert!(
            size >= least && size <= cut,
            "{format}: kept {size} of a stream cut at {cut}"
        );
        assert_eq!(a["sha256"], sha256(&whole[..size]));
    }
}

/// A Zstandard frame of several blocks, cut at a sector boundary inside a
/// block, noise after it: the next block header the walk meets is noise, so
/// the frame broke inside the block before it. The partial ends at that
/// block's start, a prefix of the file; before, it took in the block and ran
/// past the cut.
#[test]
fn a_zstd_frame_cut_inside_a_block_is_partial_before_the_cut() {
    if tools(&["zstd", "base64"]) {
        cut_inside_a_block("zstd -q -3 -c", "zst", "zstd", &[0.5], 1);
    }
}

/// A gzip stream of many deflate blocks, cut at a sector boundary inside a
/// block, noise after it: the noise inflates for a while through the block's
/// codes. The partial ends at the start of the block the stream broke in, a
/// prefix of the file; before, it ended where the noise stopped inflating,
/// past the cut.
#[test]
fn a_gzip_stream_cut_inside_a_block_is_partial_before_the_cut() {
    if tools(&["gzip", "base64"]) {
        cut_inside_a_block("gzip -6 -n -c", "gz", "gzip", &[0.33, 0.5, 0.8], 513);
    }
}

/// A gzip stream of one block cut at a sector boundary, zeros after the cut
/// and a text file laid in them (a stick whose freed clusters were wiped,
/// then reused): no block boundary says where it broke, and its codes decode
/// zeros and text for as long as they run. The partial stops where the bytes
/// cannot be compressed data, at the cut, and the text file is carved whole.
/// Before, the partial ran through the text to the end of a later stream.
#[test]
fn a_one_block_gzip_cut_before_zeros_stops_there_and_leaves_the_text() {
    if !tools(&["gzip"]) {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    // Lines of hex digits: text that compresses to dense codes (a highly
    // repetitive text compresses to sparse bytes, which end the partial
    // earlier, still a prefix).
    let text: String = noise(24 << 10, 60)
        .chunks(32)
        .enumerate()
        .map(|(i, c)| {
            let hex: String = c.iter().map(|b| format!("{b:02x}")).collect();
            format!("{i:05} {hex}\n")
        })
        .collect();
    std::fs::write(p.join("log.txt"), &text).unwrap();
    let gz = made(p, "gzip -9 -n -c log.txt > log.gz", "log.gz");
    // A stream cut in its first block, whatever the text compressed to.
    let cut = (gz.len() / 2) / 512 * 512;
    assert!(cut >= 1024, "{}", gz.len());
    let notes: Vec<u8> = (0..120)
        .map(|i| format!("note {i}: the examiner wrote this down\n"))
        .collect::<String>()
        .into_bytes();
    let mut img = noise(4 << 20, 61);
    let at = 0x20000;
    img[at..at + cut].copy_from_slice(&gz[..cut]);
    img[at + cut..at + cut + 64 * 512].fill(0);
    let text_at = at + cut + 8 * 512;
    img[text_at..text_at + notes.len()].copy_from_slice(&notes);
    let arts = carve_image(p, &img, 3);
    let a = carved_at(&arts, at as u64, "gzip").unwrap_or_else(|| panic!("{arts:#?}"));
    assert_eq!(a["status"], "partial", "{a}");
    assert_eq!(a["size"], cut as u64, "{a}");
    assert_eq!(a["sha256"], sha256(&gz[..cut]));
    let t = carved_at(&arts, text_at as u64, "").unwrap_or_else(|| panic!("{arts:#?}"));
    assert_eq!(t["sha256"], sha256(&notes), "{t}");
}
