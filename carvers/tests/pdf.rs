//! The PDF carver ends a file at its last `%%EOF` that an incremental update
//! follows, and reads no further than the file once it has ended.

use dredge_carvers::{registry, Reader, Verdict};
use dredge_core::{Counted, ImageSource};
use dredge_image::{MemDevice, Sectored};
use std::sync::Arc;

fn pdf_part(body: &str, xref_at: usize) -> String {
    format!("{body}xref\n0 1\n0000000000 65535 f \ntrailer\n<< /Size 1 >>\nstartxref\n{xref_at}\n%%EOF\n")
}

/// A one-object PDF; with `update`, an incremental update appended.
fn pdf(update: bool) -> Vec<u8> {
    let head = "%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\n";
    let mut s = pdf_part(head, head.len());
    if update {
        let at = s.len();
        let body = "2 0 obj\n<< /Type /Page >>\nendobj\n";
        s += &pdf_part(body, at + body.len());
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
