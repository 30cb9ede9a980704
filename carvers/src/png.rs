//! PNG: the 8-byte signature, IHDR first, then chunks whose CRC-32 (over type and
//! data) must match, up to IEND. A failing chunk makes the file partial at the last
//! good chunk.

use crate::{Carver, Reader, Verdict};
use dredge_core::checksum::crc32;

pub struct Png;

impl Carver for Png {
    fn name(&self) -> &'static str {
        "png"
    }
    fn extension(&self, _: Option<&'static str>) -> &'static str {
        "png"
    }
    fn headers(&self) -> &'static [&'static [u8]] {
        &[b"\x89PNG\r\n\x1a\n"]
    }
    fn min_size(&self) -> u64 {
        57
    }
    fn max_size(&self) -> u64 {
        256 << 20
    }

    fn check(&self, r: &mut Reader<'_>) -> Verdict {
        let mut off = 8u64;
        let mut first = true;
        loop {
            let (Some(len), Some(ty)) = (r.be32(off), r.get(off + 4, 4).map(<[u8]>::to_vec)) else {
                return if first {
                    Verdict::Reject
                } else {
                    Verdict::Partial {
                        len: off,
                        why: "cut before IEND".into(),
                        subtype: None,
                    }
                };
            };
            if !ty.iter().all(u8::is_ascii_alphabetic) || (first && &ty != b"IHDR") || len > 1 << 30
            {
                return if first {
                    Verdict::Reject
                } else {
                    Verdict::Partial {
                        len: off,
                        why: "invalid chunk header".into(),
                        subtype: None,
                    }
                };
            }
            let total = 12 + u64::from(len);
            let Some(body) = r.get(off + 4, 4 + len as usize).map(<[u8]>::to_vec) else {
                return Verdict::Partial {
                    len: off,
                    why: "cut inside a chunk".into(),
                    subtype: None,
                };
            };
            let Some(stored) = r.be32(off + 8 + u64::from(len)) else {
                return Verdict::Partial {
                    len: off,
                    why: "cut inside a chunk".into(),
                    subtype: None,
                };
            };
            if crc32(&body) != stored {
                return if first {
                    Verdict::Reject
                } else {
                    Verdict::Partial {
                        len: off,
                        why: format!("CRC mismatch in {} chunk", String::from_utf8_lossy(&ty)),
                        subtype: None,
                    }
                };
            }
            first = false;
            off += total;
            if &ty == b"IEND" {
                return Verdict::Complete {
                    len: off,
                    subtype: None,
                };
            }
        }
    }
}
