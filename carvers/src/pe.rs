//! PE (Windows executables) validator.

use crate::{Carver, Reader, Verdict};

/// PE (Windows executables and DLLs): the MZ header's pointer to `PE\0\0`, a known
/// machine, a PE32/PE32+ optional header, and the end at the furthest of: section raw
/// data, the headers, the certificate table (appended overlays cannot be known).
pub struct Pe;

impl Carver for Pe {
    fn name(&self) -> &'static str {
        "pe"
    }
    fn extension(&self, subtype: Option<&'static str>) -> &'static str {
        subtype.unwrap_or("exe")
    }
    fn headers(&self) -> &'static [&'static [u8]] {
        &[b"MZ"]
    }
    fn min_size(&self) -> u64 {
        512
    }
    fn max_size(&self) -> u64 {
        1 << 30
    }
    fn check(&self, r: &mut Reader<'_>) -> Verdict {
        let Some(lfanew) = r.le32(0x3C).map(u64::from) else {
            return Verdict::Reject;
        };
        if !(0x40..0x10000).contains(&lfanew) || r.get(lfanew, 4) != Some(b"PE\0\0") {
            return Verdict::Reject;
        }
        let (Some(machine), Some(nsec), Some(optsize), Some(chars)) = (
            r.le16(lfanew + 4),
            r.le16(lfanew + 6),
            r.le16(lfanew + 20),
            r.le16(lfanew + 22),
        ) else {
            return Verdict::Reject;
        };
        if !matches!(
            machine,
            0x14C | 0x8664 | 0x1C0 | 0x1C4 | 0xAA64 | 0x200 | 0x0
        ) || !(1..=96).contains(&nsec)
        {
            return Verdict::Reject;
        }
        let opt = lfanew + 24;
        let (dirs, magic) = match r.le16(opt) {
            Some(0x10B) => (opt + 96, "pe32"),
            Some(0x20B) => (opt + 112, "pe32+"),
            _ => return Verdict::Reject,
        };
        let _ = magic;
        let headers = r.le32(opt + 60).map_or(0, u64::from);
        let mut end = headers.max(opt + u64::from(optsize) + 40 * u64::from(nsec));
        let sections = opt + u64::from(optsize);
        for i in 0..u64::from(nsec) {
            let s = sections + 40 * i;
            let (Some(raw), Some(ptr)) = (r.le32(s + 16), r.le32(s + 20)) else {
                return Verdict::Partial {
                    len: s,
                    why: "section table cut off".into(),
                    subtype: None,
                };
            };
            if raw > 0 {
                end = end.max(u64::from(ptr) + u64::from(raw));
            }
        }
        // Data directory 4: the certificate table, given as a file offset.
        if u64::from(optsize) > dirs - opt + 40 {
            if let (Some(coff), Some(csize)) = (r.le32(dirs + 32), r.le32(dirs + 36)) {
                if coff > 0 && csize > 0 {
                    end = end.max(u64::from(coff) + u64::from(csize));
                }
            }
        }
        if end > self.max_size() {
            return Verdict::Reject;
        }
        let subtype = if chars & 0x2000 != 0 {
            Some("dll")
        } else {
            Some("exe")
        };
        if end > r.limit() {
            return Verdict::Partial {
                len: r.limit(),
                why: "cut off before its last section".into(),
                subtype,
            };
        }
        Verdict::Complete { len: end, subtype }
    }
}
