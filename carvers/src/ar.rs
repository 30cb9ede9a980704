//! Unix `ar` archive validator: Debian packages (`.deb`), static libraries
//! (`.a`, GNU and BSD name tables).

use crate::{partial, Carver, Reader, Verdict};

/// ar: `!<arch>\n`, then member headers of 60 bytes walked one after another
/// (a name, decimal mtime, uid, gid, octal mode and decimal size, padded with
/// spaces, ending in "`\n"), each member's data padded to an even offset. An
/// archive has no end mark: it ends after the last member whose header checks,
/// and its data carry no check: `Unverified`. A Debian package is named `.deb`
/// (its first member `debian-binary`).
pub struct Ar;

impl Carver for Ar {
    fn name(&self) -> &'static str {
        "ar"
    }
    fn extension(&self, subtype: Option<&'static str>) -> &'static str {
        subtype.unwrap_or("a")
    }
    fn headers(&self) -> &'static [&'static [u8]] {
        &[b"!<arch>\n"]
    }
    fn min_size(&self) -> u64 {
        8 + 60 + 1
    }
    fn max_size(&self) -> u64 {
        1 << 40
    }
    fn check(&self, r: &mut Reader<'_>) -> Verdict {
        let mut at = 8u64;
        let mut members = 0u64;
        let mut last_end = 8u64;
        let mut sub = None;
        while let Some(h) = r.get(at, 60).map(<[u8]>::to_vec) {
            let Some(size) = header_size(&h) else {
                break;
            };
            if members == 0 && h.starts_with(b"debian-binary") {
                sub = Some("deb");
            }
            let end = at + 60 + size;
            if end > r.limit() {
                return partial(at, "a member runs past the image");
            }
            members += 1;
            last_end = end;
            at = end + end % 2;
            if !r.spend(64) {
                return partial(at, "too many members");
            }
        }
        if members == 0 {
            return Verdict::Reject;
        }
        // After odd data ar writes a '\n' pad byte; a last member's is kept when
        // it is there.
        let len = if last_end % 2 == 1 && r.u8(last_end) == Some(b'\n') {
            last_end + 1
        } else {
            last_end
        };
        Verdict::Unverified { len, subtype: sub }
    }
}

/// A member header's data size, if the header checks.
fn header_size(h: &[u8]) -> Option<u64> {
    if &h[58..60] != b"`\n" {
        return None;
    }
    let name_ok = h[..16].iter().all(|c| (0x20..0x7F).contains(c));
    let num = |from: usize, len: usize, radix: u32| -> Option<u64> {
        let s = std::str::from_utf8(&h[from..from + len])
            .ok()?
            .trim_end_matches(' ');
        if s.is_empty() {
            return Some(0);
        }
        u64::from_str_radix(s, radix).ok()
    };
    // mtime, uid, gid, mode (octal), size: the fields a tool fills.
    num(16, 12, 10)?;
    num(28, 6, 10)?;
    num(34, 6, 10)?;
    num(40, 8, 8)?;
    let size = num(48, 10, 10)?;
    name_ok.then_some(size)
}
