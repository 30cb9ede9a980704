//! HEIC, the photo format of phones (issue 14): images made by libheif's
//! `heif-enc` from a PNG, laid into random bytes at 4 KiB boundaries. A whole one
//! comes back bit-exact as `.heic`, unverified (no checksum covers its items);
//! one cut after its meta box, so the items its `iloc` places are gone, is
//! partial there.

mod common;

use common::*;
use std::path::Path;

/// A 160×120 RGB PNG of gradients and noise, written with zlib by hand (the
/// input of the encoder; the HEIC is what heif-enc makes of it).
fn png(path: &Path) {
    let (w, h) = (160u32, 120u32);
    let noise = noise((w * h) as usize, 5);
    let mut raw = Vec::new();
    for y in 0..h {
        raw.push(0u8);
        for x in 0..w {
            let n = noise[(y * w + x) as usize] / 8;
            raw.extend([
                (x * 255 / w) as u8 ^ n,
                (y * 255 / h) as u8,
                n.wrapping_mul(3),
            ]);
        }
    }
    let chunk = |out: &mut Vec<u8>, ty: &[u8], data: &[u8]| {
        out.extend((data.len() as u32).to_be_bytes());
        let mut c = ty.to_vec();
        c.extend(data);
        out.extend(&c);
        out.extend(dredge_core::checksum::crc32(&c).to_be_bytes());
    };
    let mut ihdr = Vec::new();
    ihdr.extend(w.to_be_bytes());
    ihdr.extend(h.to_be_bytes());
    ihdr.extend([8, 2, 0, 0, 0]);
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    chunk(&mut out, b"IHDR", &ihdr);
    chunk(
        &mut out,
        b"IDAT",
        &miniz_oxide::deflate::compress_to_vec_zlib(&raw, 6),
    );
    chunk(&mut out, b"IEND", &[]);
    std::fs::write(path, out).unwrap();
}

/// Where each top-level box of an ISO-BMFF file begins: (type, offset, size).
fn boxes(b: &[u8]) -> Vec<([u8; 4], usize, usize)> {
    let mut at = 0;
    let mut out = Vec::new();
    while at + 8 <= b.len() {
        let size = u32::from_be_bytes(b[at..at + 4].try_into().unwrap()) as usize;
        out.push((b[at + 4..at + 8].try_into().unwrap(), at, size));
        if size < 8 {
            break;
        }
        at += size;
    }
    out
}

#[test]
fn heic_made_by_heif_enc_comes_back_whole_and_a_cut_one_partial() {
    if !tools(&["heif-enc"]) {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    png(&p.join("in.png"));
    assert!(sh(&format!(
        "cd {} && heif-enc -q 60 -o photo.heic in.png >/dev/null",
        p.display()
    )));
    let heic = std::fs::read(p.join("photo.heic")).unwrap();
    assert_eq!(&heic[4..12], b"ftypheic", "heif-enc made no HEIC");
    let tops = boxes(&heic);
    let mdat = tops
        .iter()
        .find(|b| &b.0 == b"mdat")
        .expect("an mdat box")
        .1;
    let cut = heic[..mdat].to_vec();

    let place = [(0x10000usize, &heic, true), (0x100000, &cut, false)];
    let laid: Vec<(usize, &[u8])> = place.iter().map(|(at, f, _)| (*at, f.as_slice())).collect();
    let arts = carve_laid(p, 2 << 20, 29, &laid, 3);
    for (off, f, whole) in &place {
        let a = carved_at(&arts, *off as u64, "mp4")
            .unwrap_or_else(|| panic!("nothing carved at {off:#x}: {arts:#?}"));
        assert!(a["path"].as_str().unwrap().ends_with(".heic"), "{a}");
        if *whole {
            assert_eq!(a["recovery"], "carved-unverified-contiguous", "{a}");
            assert_eq!(a["sha256"], sha256(f), "{off:#x} not bit-exact");
        } else {
            assert_eq!(a["status"], "partial", "{a}");
            assert_eq!(a["size"], mdat as u64, "{a}");
        }
    }
}
