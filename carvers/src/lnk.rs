//! Windows shortcut (LNK, [MS-SHLLINK]) validator: shortcuts Windows makes for
//! every document opened (Recent, Office, jump lists' streams), naming the
//! target's path, volume serial number, machine and times.

use crate::{partial, Carver, Reader, Verdict};

/// LNK: the 76-byte header (its size, the shell link CLSID, reserved fields
/// zero, a known show command), then each structure its flags announce, in
/// order, each placed by the one before: the target's ID list (item sizes
/// summing to the list's size, ending in a zero item), the link info (its
/// size, a known header size, offsets inside it), the five strings (counted,
/// ANSI or UTF-16), then extra data blocks (known signatures 0xA0000001–
/// 0xA000000C) to the terminal block. Nothing checksums it:
/// `carved-unverified-contiguous`. A structure that does not fit: `Partial`
/// after the header and the structures before it.
pub struct Lnk;

/// Header size (0x4C) and the shell link CLSID 00021401-0000-0000-C000-000000000046.
const MAGIC: &[u8] = b"\x4c\0\0\0\x01\x14\x02\0\0\0\0\0\xc0\0\0\0\0\0\0\x46";

/// A shortcut is small; what a header claims past this is not one.
const MAX: u64 = 1 << 20;

fn le16(b: &[u8], i: usize) -> u64 {
    u64::from(u16::from_le_bytes([b[i], b[i + 1]]))
}

fn le32(b: &[u8], i: usize) -> u64 {
    u64::from(u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]))
}

/// The end of the ID list at `at`, or why not.
fn id_list(r: &mut Reader<'_>, at: u64) -> Result<u64, &'static str> {
    let size = r.le16(at).ok_or("cut off in the ID list")?;
    let end = at + 2 + u64::from(size);
    let mut i = at + 2;
    loop {
        let n = u64::from(r.le16(i).ok_or("cut off in the ID list")?);
        if n == 0 {
            // The terminal item is the list's last two bytes.
            return if i + 2 == end {
                Ok(end)
            } else {
                Err("the ID list's items do not add up to its size")
            };
        }
        if n < 2 || i + n > end {
            return Err("an ID list item runs past the list");
        }
        i += n;
    }
}

/// The end of the link info at `at`, or why not.
fn link_info(r: &mut Reader<'_>, at: u64) -> Result<u64, &'static str> {
    let h = r.get(at, 28).ok_or("cut off in the link info")?.to_vec();
    let (size, header) = (le32(&h, 0), le32(&h, 4));
    if !(28..=MAX).contains(&size) || !(header == 0x1c || (0x24..size).contains(&header)) {
        return Err("a link info of an impossible size");
    }
    // Offsets of its parts (0 where absent) lie inside it, past its header.
    let flags = le32(&h, 8);
    if flags & !3 != 0 {
        return Err("link info flags unknown");
    }
    for i in [12, 16, 20, 24] {
        let o = le32(&h, i);
        if o != 0 && (o < header || o >= size) {
            return Err("a link info offset points outside it");
        }
    }
    Ok(at + size)
}

impl Carver for Lnk {
    fn name(&self) -> &'static str {
        "lnk"
    }
    fn extension(&self, _: Option<&'static str>) -> &'static str {
        "lnk"
    }
    fn headers(&self) -> &'static [&'static [u8]] {
        &[MAGIC]
    }
    fn min_size(&self) -> u64 {
        0x4c + 4
    }
    fn max_size(&self) -> u64 {
        MAX
    }
    fn check(&self, r: &mut Reader<'_>) -> Verdict {
        let Some(h) = r.get(0, 0x4c).map(<[u8]>::to_vec) else {
            return Verdict::Reject;
        };
        let flags = le32(&h, 20);
        // Show command: normal, maximised, minimised (not active).
        let shown = le32(&h, 60);
        if &h[..20] != MAGIC
            || !matches!(shown, 1 | 3 | 7)
            || le16(&h, 66) != 0
            || le32(&h, 68) != 0
            || le32(&h, 72) != 0
            || flags >> 27 != 0
        {
            return Verdict::Reject;
        }
        let mut at = 0x4c;
        if flags & 1 != 0 {
            match id_list(r, at) {
                Ok(end) => at = end,
                Err(why) => return partial(at, why),
            }
        }
        if flags & 2 != 0 {
            match link_info(r, at) {
                Ok(end) => at = end,
                Err(why) => return partial(at, why),
            }
        }
        // Name, relative path, working directory, arguments, icon location.
        let unit = if flags & 0x80 != 0 { 2 } else { 1 };
        for bit in 2..7 {
            if flags & (1 << bit) != 0 {
                let Some(n) = r.le16(at) else {
                    return partial(at, "cut off in a string");
                };
                at += 2 + u64::from(n) * unit;
            }
        }
        // Extra data blocks, to the terminal block.
        loop {
            if at > MAX {
                return partial(0x4c, "extra data past any shortcut's size");
            }
            let Some(size) = r.le32(at).map(u64::from) else {
                return partial(at.min(r.limit()), "cut off in the extra data");
            };
            if size < 4 {
                at += 4;
                break;
            }
            let Some(sig) = r.le32(at + 4) else {
                return partial(at, "cut off in the extra data");
            };
            if size < 8 || !(0xA000_0001..=0xA000_000C).contains(&sig) {
                return partial(at, "an extra data block of no known kind");
            }
            at += size;
        }
        if at > r.limit() {
            return partial(r.limit(), "the shortcut runs past what is readable");
        }
        Verdict::Unverified {
            len: at,
            subtype: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dredge_core::ImageSource;
    use dredge_image::{MemDevice, Sectored};

    fn verdict(b: Vec<u8>) -> Verdict {
        let src = Sectored::new(MemDevice::new(b));
        let mut r = Reader::new(&src as &dyn ImageSource, 0, Lnk.max_size());
        Lnk.validate(&mut r)
    }

    /// Every shortcut Windows wrote in the samples ends exactly where its
    /// structures say, with noise after it.
    #[test]
    fn written_shortcuts_end_where_their_structures_do() {
        let dir =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../testimages/carving/lnk");
        let mut n = 0;
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_none_or(|x| x != "lnk") {
                continue;
            }
            let mut b = std::fs::read(&p).unwrap();
            let len = b.len() as u64;
            b.extend((0..4096u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8));
            assert_eq!(
                verdict(b),
                Verdict::Unverified { len, subtype: None },
                "{}",
                p.display()
            );
            n += 1;
        }
        assert!(n >= 20);
    }
}
