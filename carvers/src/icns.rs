//! Apple icon image validator (`.icns`): application and document icons in every
//! macOS bundle, and on Mac-formatted media.

use crate::{partial, Carver, Reader, Verdict};

/// ICNS: `icns` and the file's length, then elements (a four-character type and a
/// length that counts its own 8-byte header) tiling the file exactly, the first
/// one of a known kind (an icon, a table of contents, a version). The images
/// (PNG, JPEG 2000, packed pixels) are not checked: `Unverified`.
pub struct Icns;

impl Carver for Icns {
    fn name(&self) -> &'static str {
        "icns"
    }
    fn extension(&self, _: Option<&'static str>) -> &'static str {
        "icns"
    }
    fn headers(&self) -> &'static [&'static [u8]] {
        &[b"icns"]
    }
    fn min_size(&self) -> u64 {
        16
    }
    fn max_size(&self) -> u64 {
        64 << 20
    }
    fn check(&self, r: &mut Reader<'_>) -> Verdict {
        let Some(total) = r.be32(4).map(u64::from) else {
            return Verdict::Reject;
        };
        if total < 16 || total > self.max_size() {
            return Verdict::Reject;
        }
        let mut at = 8u64;
        while at < total {
            let Some(e) = r.get(at, 8).map(<[u8]>::to_vec) else {
                return partial(at, "the icon file breaks off in an element header");
            };
            let len = u64::from(u32::from_be_bytes([e[4], e[5], e[6], e[7]]));
            let typed = e[..4]
                .iter()
                .all(|c| c.is_ascii_alphanumeric() || *c == b' ');
            if !typed || len < 8 || at + len > total {
                return if at == 8 {
                    Verdict::Reject
                } else {
                    partial(at, "an element header is not one")
                };
            }
            if at == 8 && !first_kind(&e[..4]) {
                return Verdict::Reject;
            }
            at += len;
            if !r.spend(32) {
                return partial(at, "too many elements");
            }
        }
        Verdict::Unverified {
            len: total,
            subtype: None,
        }
    }
}

/// Element types an icon file begins with: icon sizes and their masks
/// (`is32`, `s8mk`, `ic07`…, `icp4`…, `ih32`, `it32`, `ICN#`…), the table of
/// contents (`TOC `) and the version (`icnV`).
fn first_kind(t: &[u8]) -> bool {
    t == b"TOC "
        || t == b"icnV"
        || t == b"info"
        || t == b"name"
        || t.starts_with(b"ic")
        || t.starts_with(b"is")
        || t.starts_with(b"il")
        || t.starts_with(b"ih")
        || t.starts_with(b"it")
        || t.starts_with(b"ICN")
        || t.starts_with(b"icm")
        || t.starts_with(b"s8")
        || t.starts_with(b"l8")
        || t.starts_with(b"h8")
        || t.starts_with(b"t8")
        || t.starts_with(b"sb")
}
