//! decmpfs, Apple's transparent compression (HFS+ since 10.6, APFS): a file
//! with `UF_COMPRESSED` keeps its content in the `com.apple.decmpfs`
//! attribute (a 16-byte header — magic `fpmc`, method, uncompressed size —
//! then, for the inline methods, the data) or in its resource fork, as a
//! table of chunks of 64 KiB of output each.
//!
//! Inline data is decoded when the entry is made (an attribute holds at most
//! a few kilobytes; what it may decode to is held to [`MAX_INLINE`]). Data in
//! the resource fork is a [`Decode`] stream: one chunk is read and decoded
//! at a time as the file is read, so memory is one chunk whatever the sizes
//! claim, and stored bytes the image could not give are gaps of the chunk
//! they belong to.
//!
//! Methods: 1 (uncompressed, inline), 3/4 (zlib, inline / resource fork),
//! 7/8 (LZVN), 9/10 (uncompressed chunks), 11/12 (LZFSE, our own decoder),
//! 13/14 (LZBITMAP, our own decoder, `lzbitmap.rs`).

mod fork;
mod lzbitmap;

pub use fork::ForkStream;

use dredge_core::bytes::{le32, le64};
use dredge_core::{Decoded, ImageSource, Run, RunData};
use std::sync::Arc;

/// Output of one chunk.
pub const CHUNK: u64 = 65536;
/// The most an inline attribute is decoded to.
pub const MAX_INLINE: u64 = 16 << 20;

/// How a compressed file's data is stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    Raw,
    Zlib,
    Lzvn,
    Lzfse,
    Lzbitmap,
    /// Not decoded (unknown): the method number.
    Other(u32),
}

/// The attribute's header: method, whether the data is in the resource
/// fork, and the uncompressed size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    pub kind: u32,
    pub method: Method,
    pub in_fork: bool,
    pub size: u64,
}

/// Parses the `com.apple.decmpfs` attribute's header; `None` when it is not
/// one.
pub fn header(attr: &[u8]) -> Option<Header> {
    if attr.len() < 16 || &attr[..4] != b"fpmc" {
        return None;
    }
    let kind: u32 = le32(attr, 4);
    let (method, in_fork) = match kind {
        1 => (Method::Raw, false),
        3 => (Method::Zlib, false),
        4 => (Method::Zlib, true),
        7 => (Method::Lzvn, false),
        8 => (Method::Lzvn, true),
        9 => (Method::Raw, false),
        10 => (Method::Raw, true),
        11 => (Method::Lzfse, false),
        12 => (Method::Lzfse, true),
        13 => (Method::Lzbitmap, false),
        14 => (Method::Lzbitmap, true),
        k => (Method::Other(k), k % 2 == 0),
    };
    Some(Header {
        kind,
        method,
        in_fork,
        size: le64(attr, 8),
    })
}

/// Decodes one stored chunk (or inline payload) of `method` into `out`
/// (its expected length); Err(n) when only `n` bytes could be made.
pub fn chunk(method: Method, stored: &[u8], out: &mut [u8]) -> Result<(), usize> {
    let raw = |from: &[u8], out: &mut [u8]| {
        let n = from.len().min(out.len());
        out[..n].copy_from_slice(&from[..n]);
        if n == out.len() {
            Ok(())
        } else {
            Err(n)
        }
    };
    let Some(&first) = stored.first() else {
        return if out.is_empty() { Ok(()) } else { Err(0) };
    };
    match method {
        Method::Raw => raw(stored, out),
        // A chunk that did not compress is stored after a marker byte.
        Method::Zlib if first & 0x0F == 0x0F => raw(&stored[1..], out),
        Method::Lzvn if first == 0x06 => raw(&stored[1..], out),
        Method::Zlib => {
            match miniz_oxide::inflate::decompress_to_vec_zlib_with_limit(stored, out.len()) {
                Ok(d) => raw(&d, out),
                // More output than the chunk holds fills it; less is damage.
                Err(e) => raw(&e.output, out),
            }
        }
        // A chunk LZFSE could not shrink is stored after the LZVN marker.
        Method::Lzfse if first == 0x06 => raw(&stored[1..], out),
        Method::Lzfse => {
            // What decodes before any damage is kept; short output is the
            // damage's measure.
            let mut made = Vec::with_capacity(out.len());
            let _ = dredge_lzfse::decode(stored, &mut made, out.len());
            raw(&made, out)
        }
        // An LZBITMAP stream opens with its magic, `ZBM\x09`; a chunk that
        // did not compress is stored after a marker byte (low nibble 0xF).
        Method::Lzbitmap if first == b'Z' => lzbitmap::decode(stored, out),
        Method::Lzbitmap if first & 0x0F == 0x0F => raw(&stored[1..], out),
        Method::Lzbitmap => Err(0),
        Method::Lzvn => match lzvn::decode_raw_into(stored, out) {
            Ok(n) if n == out.len() => Ok(()),
            Ok(n) => Err(n),
            Err(_) => Err(0),
        },
        Method::Other(_) => Err(0),
    }
}

/// A resource fork as the filesystem lays it out: the source its runs are
/// in, the runs, and its length.
pub type Fork = (Arc<dyn ImageSource>, Vec<Run>, u64);

/// A compressed file's size and runs, from its `com.apple.decmpfs`
/// attribute and, where the data is there, its resource fork: inline data
/// decoded now (one inline run), fork data a [`ForkStream`] decoded as it is
/// read. `fork` lays the resource fork out, called only when the data is
/// there (laying it out may read extent records). Err: why the content
/// cannot be made (the caller lists the stored streams instead).
pub fn content(
    attr: &[u8],
    fork: impl FnOnce() -> Option<Fork>,
) -> Result<(u64, Vec<Run>), String> {
    let h = header(attr).ok_or("a com.apple.decmpfs attribute without its header")?;
    if !h.in_fork {
        let data = inline(&h, attr)?;
        let runs = if data.is_empty() {
            Vec::new()
        } else {
            vec![Run {
                file_offset: 0,
                len: data.len() as u64,
                data: RunData::Inline(Arc::from(data)),
            }]
        };
        return Ok((h.size, runs));
    }
    let (src, runs, len) = fork().ok_or("no resource fork")?;
    let s = ForkStream::new(src, &h, runs, len)?;
    Ok((
        h.size,
        vec![Run {
            file_offset: 0,
            len: h.size,
            data: RunData::Decoded(Decoded(Arc::new(s))),
        }],
    ))
}

/// The content of a file whose data is inline in its attribute.
pub fn inline(h: &Header, attr: &[u8]) -> Result<Vec<u8>, String> {
    if h.size > MAX_INLINE {
        return Err(format!(
            "decmpfs attribute claims {} bytes inline (at most {MAX_INLINE} are decoded)",
            h.size
        ));
    }
    let mut out = vec![0u8; h.size as usize];
    match chunk(h.method, &attr[16..], &mut out) {
        Ok(()) => Ok(out),
        Err(n) => Err(format!(
            "decmpfs method {} inline data decodes to {n} of {} bytes",
            h.kind, h.size
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attr(kind: u32, size: u64, payload: &[u8]) -> Vec<u8> {
        let mut a = b"fpmc".to_vec();
        a.extend_from_slice(&kind.to_le_bytes());
        a.extend_from_slice(&size.to_le_bytes());
        a.extend_from_slice(payload);
        a
    }

    #[test]
    fn inline_zlib_lzvn_and_stored_payloads_decode() {
        let text = b"the quick brown fox jumps over the lazy dog, again and again and again";
        let z = miniz_oxide::deflate::compress_to_vec_zlib(text, 9);
        let a = attr(3, text.len() as u64, &z);
        assert_eq!(inline(&header(&a).unwrap(), &a).unwrap(), text);
        let v = lzvn::encode_raw(text);
        let a = attr(7, text.len() as u64, &v);
        assert_eq!(inline(&header(&a).unwrap(), &a).unwrap(), text);
        // Stored after the marker byte.
        let mut m = vec![0xFF];
        m.extend_from_slice(text);
        let a = attr(3, text.len() as u64, &m);
        assert_eq!(inline(&header(&a).unwrap(), &a).unwrap(), text);
        m[0] = 0x06;
        let a = attr(7, text.len() as u64, &m);
        assert_eq!(inline(&header(&a).unwrap(), &a).unwrap(), text);
    }

    #[test]
    fn damaged_or_oversized_inline_data_is_an_error_not_a_guess() {
        let text = vec![b'x'; 5000];
        let mut z = miniz_oxide::deflate::compress_to_vec_zlib(&text, 9);
        let n = z.len();
        z[n / 2] ^= 0x55;
        let a = attr(3, 5000, &z);
        assert!(inline(&header(&a).unwrap(), &a).is_err());
        let a = attr(3, u64::MAX, &z);
        assert!(inline(&header(&a).unwrap(), &a).is_err());
        // An unknown method is recognised and not decoded; a cut LZBITMAP or
        // LZFSE stream is an error.
        let a = attr(15, 10, b"ZBM\x09");
        assert_eq!(header(&a).unwrap().method, Method::Other(15));
        assert!(inline(&header(&a).unwrap(), &a).is_err());
        let a = attr(13, 10, b"ZBM\x09");
        assert_eq!(header(&a).unwrap().method, Method::Lzbitmap);
        assert!(inline(&header(&a).unwrap(), &a).is_err());
        let a = attr(11, 10, b"bvx2");
        assert!(inline(&header(&a).unwrap(), &a).is_err());
        assert!(header(b"nope").is_none());
    }
}
