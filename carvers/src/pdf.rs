//! PDF validator.

use crate::{partial, Carver, Reader, Verdict};

/// Whether `b` begins an incremental update: `xref`, or an object header
/// (`12 0 obj`).
fn starts_update(b: &[u8]) -> bool {
    if b.starts_with(b"xref") {
        return true;
    }
    let mut parts = b
        .split(|c| c.is_ascii_whitespace())
        .filter(|p| !p.is_empty());
    let num = |p: Option<&[u8]>| p.is_some_and(|p| p.iter().all(u8::is_ascii_digit));
    num(parts.next()) && num(parts.next()) && parts.next().is_some_and(|p| p.starts_with(b"obj"))
}

/// PDF: the end is the last `%%EOF` (incremental updates add more) whose preceding
/// `startxref` points inside the file at an xref table or stream, before any next
/// `%PDF-` header.
pub struct Pdf;

impl Carver for Pdf {
    fn name(&self) -> &'static str {
        "pdf"
    }
    fn extension(&self, _: Option<&'static str>) -> &'static str {
        "pdf"
    }
    fn headers(&self) -> &'static [&'static [u8]] {
        &[b"%PDF-1.", b"%PDF-2."]
    }
    fn min_size(&self) -> u64 {
        64
    }
    fn max_size(&self) -> u64 {
        256 << 20
    }
    fn check(&self, r: &mut Reader<'_>) -> Verdict {
        let mut off = 8u64;
        let mut good: Option<u64> = None;
        // One forward scan: each %%EOF in turn, until the next PDF's header.
        while let Some((e, 0)) = r.find_any(off, &[b"%%EOF", b"%PDF-"]) {
            let from = e.saturating_sub(48);
            let tail = r
                .get(from, (e - from) as usize)
                .map(<[u8]>::to_vec)
                .unwrap_or_default();
            if let Some(i) = tail.windows(9).rposition(|w| w == b"startxref") {
                let num: String = tail[i + 9..]
                    .iter()
                    .map(|&c| char::from(c))
                    .filter(char::is_ascii_digit)
                    .collect();
                if let Ok(x) = num.parse::<u64>() {
                    let at = r.get(x, 4).map(<[u8]>::to_vec);
                    if x < e
                        && at.is_some_and(|b| &b == b"xref" || b.iter().all(u8::is_ascii_digit))
                    {
                        let mut end = e + 5;
                        while matches!(r.u8(end), Some(b'\r' | b'\n')) && end < e + 7 {
                            end += 1;
                        }
                        good = Some(end);
                        // An incremental update starts right after the %%EOF with
                        // an object (`12 0 obj`), an xref table or a comment;
                        // anything else is the end of this file, and nothing past
                        // it need be read.
                        let mut k = end;
                        while matches!(r.u8(k), Some(b' ' | b'\t' | b'\r' | b'\n')) && k < end + 16
                        {
                            k += 1;
                        }
                        let next = r.get(k, 24).map(<[u8]>::to_vec).unwrap_or_default();
                        if !starts_update(&next) {
                            break;
                        }
                    }
                }
            }
            off = e + 5;
        }
        match good {
            Some(len) => Verdict::Complete { len, subtype: None },
            None => partial(0, "no %%EOF consistent with startxref"),
        }
    }
}
