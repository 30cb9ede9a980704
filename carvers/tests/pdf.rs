//! The PDF carver ends a file at its last `%%EOF` that an incremental update
//! follows, and reads no further than the file once it has ended.

use dredge_carvers::{registry, Reader, Verdict};
use dredge_core::{Counted, ImageSource};
use dredge_image::{MemDevice, Sectored};
use std::sync::Arc;

/// `body` (one object, `num 0 obj`, at `at`) then its cross-reference
/// section (`prev`: the section before it) and trailer.
fn pdf_part(s: &mut String, num: u32, body: &str, prev: Option<usize>) -> usize {
    let at = s.len();
    s.push_str(body);
    let x = s.len();
    let prev = prev.map(|p| format!(" /Prev {p}")).unwrap_or_default();
    s.push_str(&format!(
        "xref\n0 1\n0000000000 65535 f \n{num} 1\n{at:010} 00000 n \ntrailer\n<< /Size {} /Root 1 0 R{prev} >>\nstartxref\n{x}\n%%EOF\n",
        num + 1
    ));
    x
}

/// A one-object PDF; with `update`, an incremental update appended.
fn pdf(update: bool) -> Vec<u8> {
    let mut s = "%PDF-1.4\n".to_string();
    let x = pdf_part(&mut s, 1, "1 0 obj\n<< /Type /Catalog >>\nendobj\n", None);
    if update {
        pdf_part(&mut s, 2, "2 0 obj\n<< /Type /Page >>\nendobj\n", Some(x));
    }
    s.into_bytes()
}

fn carve(bytes: Vec<u8>) -> (Verdict, u64) {
    let src = Counted::new(Arc::new(Sectored::new(MemDevice::new(bytes))));
    let c = registry().into_iter().find(|c| c.name() == "pdf").unwrap();
    let mut r = Reader::new(&src as &dyn ImageSource, 0, c.max_size());
    (c.validate(&mut r), src.bytes())
}

fn noise(n: usize) -> Vec<u8> {
    let mut r = dredge_testkit::Rng::new(0x9e3779b97f4a7c15);
    // No digits, so no stray `12 0 obj` and no `%%EOF`.
    (0..n).map(|_| b'a' + (r.next() % 26) as u8).collect()
}

#[test]
fn an_incremental_update_is_part_of_the_file() {
    let one = pdf(false);
    let two = pdf(true);
    let mut img = two.clone();
    img.extend(noise(64 << 10));
    match carve(img).0 {
        Verdict::Complete { len, .. } => assert_eq!(len as usize, two.len(), "{}", one.len()),
        v => panic!("{v:?}"),
    }
}

#[test]
fn nothing_past_the_end_of_a_finished_file_is_read() {
    let one = pdf(false);
    let mut img = one.clone();
    img.extend(noise(32 << 20));
    let (v, read) = carve(img);
    match v {
        Verdict::Complete { len, .. } => assert_eq!(len as usize, one.len()),
        v => panic!("{v:?}"),
    }
    // The first window and its growth, not the 32 MiB after the file.
    assert!(read < 4 << 20, "read {read} bytes");
}

/// A PDF of a catalog and `streams` FlateDecode content streams of `each`
/// bytes of text, its cross-reference giving every object's offset; and the
/// (start, end) of each stream's data.
fn with_streams(streams: usize, each: usize) -> (Vec<u8>, Vec<(usize, usize)>) {
    let mut r = dredge_testkit::Rng::new(7);
    let words = ["meet", "at", "the", "harbour", "tonight", "bring", "cash"];
    let mut b = b"%PDF-1.5\n%\xe2\xe3\xcf\xd3\n".to_vec();
    let mut offs = vec![b.len()];
    b.extend_from_slice(b"1 0 obj\n<< /Type /Catalog >>\nendobj\n");
    let mut spans = Vec::new();
    for k in 0..streams {
        let mut text = String::new();
        while text.len() < each {
            text.push_str(&format!("({}) Tj\n", words[(r.next() % 7) as usize]));
            text.push_str(&format!("{} {} Td\n", r.next() % 600, r.next() % 800));
        }
        let z = miniz_oxide::deflate::compress_to_vec_zlib(text.as_bytes(), 6);
        offs.push(b.len());
        b.extend_from_slice(
            format!(
                "{} 0 obj\n<< /Length {} /Filter /FlateDecode >>\nstream\n",
                k + 2,
                z.len()
            )
            .as_bytes(),
        );
        spans.push((b.len(), b.len() + z.len()));
        b.extend_from_slice(&z);
        b.extend_from_slice(b"\nendstream\nendobj\n");
    }
    let x = b.len();
    b.extend_from_slice(format!("xref\n0 {}\n0000000000 65535 f \n", offs.len() + 1).as_bytes());
    for o in &offs {
        b.extend_from_slice(format!("{o:010} 00000 n \n").as_bytes());
    }
    b.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{x}\n%%EOF\n",
            offs.len() + 1
        )
        .as_bytes(),
    );
    (b, spans)
}

#[test]
fn every_object_is_checked_where_the_cross_reference_puts_it() {
    let (pdf, spans) = with_streams(6, 20_000);
    let mut img = pdf.clone();
    img.extend(noise(64 << 10));
    match carve(img).0 {
        Verdict::Complete { len, .. } => assert_eq!(len as usize, pdf.len()),
        v => panic!("{v:?}"),
    }
    // A sector of a stream overwritten in place: its zlib data no longer
    // checks out, so the file is partial up to that object, never complete.
    let (s, e) = spans[3];
    let at = (s + e) / 2 / 512 * 512;
    let mut bad = pdf.clone();
    bad[at..at + 512].copy_from_slice(&noise(512));
    bad.extend(noise(64 << 10));
    match carve(bad).0 {
        Verdict::Partial { len, .. } => assert!(len as usize <= s && len > 0, "{len} {s}"),
        v => panic!("{v:?}"),
    }
    // An offset in the cross-reference one byte off: not complete either.
    let mut off = pdf.clone();
    let x = pdf.windows(6).rposition(|w| w == b"\nxref\n").unwrap() + 1;
    let row = x + "xref\n0 8\n".len() + 20 * 2;
    assert_eq!(&off[row + 17..row + 18], b"n");
    off[row + 9] = if off[row + 9] == b'9' {
        b'0'
    } else {
        off[row + 9] + 1
    };
    off.extend(noise(64 << 10));
    assert!(matches!(carve(off).0, Verdict::Partial { .. }));
}

#[test]
fn a_pdf_cut_in_two_comes_back_from_its_offsets() {
    let (pdf, spans) = with_streams(6, 20_000);
    let (s, e) = spans[2];
    in_two(&pdf, (s + e) / 2 / 512 * 512);
    // A cut inside the cross-reference table itself (80 objects: 1.6 KB of
    // rows): the rows before the gap, the rest and the trailer after it.
    let (pdf, _) = with_streams(80, 100);
    let x = pdf.windows(6).rposition(|w| w == b"\nxref\n").unwrap() + 1;
    let cut = (x / 512 + 2) * 512;
    let t = pdf.windows(7).rposition(|w| w == b"trailer").unwrap();
    assert!(cut < t, "{cut} {t}");
    in_two(&pdf, cut);
}

/// `pdf` cut at `cut` with 37 sectors of noise between the pieces comes
/// back in exactly those two pieces.
fn in_two(pdf: &[u8], cut: usize) {
    let gap = 37 * 512;
    let mut img = pdf[..cut].to_vec();
    img.extend(noise(gap));
    img.extend_from_slice(&pdf[cut..]);
    img.extend(noise(64 << 10));
    match carve(img).0 {
        Verdict::Fragmented { fragments, .. } => assert_eq!(
            fragments,
            vec![
                (0, cut as u64),
                ((cut + gap) as u64, (pdf.len() - cut) as u64)
            ]
        ),
        v => panic!("{v:?}"),
    }
}

/// A PDF cut short, as Ghostscript lays its streams (`/Length` an object
/// written after the stream): partial up to the end of the last object whole
/// before the cut, wherever the cut falls; nothing at all when the cut falls
/// in the first object.
#[test]
fn a_pdf_cut_short_keeps_the_objects_whole_before_the_cut() {
    let mut r = dredge_testkit::Rng::new(11);
    let mut b = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n".to_vec();
    let mut ends = vec![b.len() - 1];
    for k in 0..5u32 {
        let text: String = (0..4000)
            .map(|_| format!("{} {} Td ", r.next() % 600, r.next() % 800))
            .collect();
        let z = miniz_oxide::deflate::compress_to_vec_zlib(text.as_bytes(), 6);
        let (n, len) = (2 + 2 * k, 3 + 2 * k);
        b.extend_from_slice(
            format!("{n} 0 obj\n<< /Length {len} 0 R /Filter /FlateDecode >>\nstream\n").as_bytes(),
        );
        b.extend_from_slice(&z);
        b.extend_from_slice(b"\nendstream\nendobj\n");
        ends.push(b.len() - 1);
        b.extend_from_slice(format!("{len} 0 obj\n{}\nendobj\n", z.len()).as_bytes());
        ends.push(b.len() - 1);
    }
    for cut in [ends[3] + 1, ends[4] - 100, ends[6] + 7, ends[9] - 3, 30] {
        let mut img = b[..cut].to_vec();
        img.extend(noise(256 << 10));
        let want = ends
            .iter()
            .copied()
            .filter(|&e| e <= cut)
            .max()
            .unwrap_or(0);
        match carve(img).0 {
            Verdict::Partial { len, .. } => assert_eq!(len as usize, want, "cut at {cut}"),
            v => panic!("cut at {cut}: {v:?}"),
        }
    }
    // A stream whose data was overwritten no longer inflates: the file ends
    // before it, though its `endstream` is still there.
    let mut img = b.clone();
    let s = ends[2] + 60;
    img[s..s + 40].copy_from_slice(&noise(40));
    img.truncate(ends[8] + 1);
    img.extend(noise(256 << 10));
    match carve(img).0 {
        Verdict::Partial { len, .. } => assert_eq!(len as usize, ends[2], "damaged stream"),
        v => panic!("{v:?}"),
    }
}
