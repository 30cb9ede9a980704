//! OLE2 compound files (MS-CFB: .doc, .xls, .ppt, .msg, and many others): the header
//! must be consistent (byte order, sector sizes for version 3 or 4), the FAT is read
//! through the header's DIFAT and the DIFAT chain, the directory chain must end, and
//! its first entry must be the root. The file ends after the highest sector the FAT
//! marks as used. The stream names tell Word, Excel, PowerPoint and Outlook apart.

use crate::{partial_as, Carver, Reader, Verdict};

pub struct Ole;

const FREE: u32 = 0xFFFF_FFFF;
const END: u32 = 0xFFFF_FFFE;
/// Highest regular sector number (above it are the special markers).
const MAXREG: u32 = 0xFFFF_FFFA;

impl Carver for Ole {
    fn name(&self) -> &'static str {
        "ole"
    }
    fn extension(&self, subtype: Option<&'static str>) -> &'static str {
        subtype.unwrap_or("ole")
    }
    fn headers(&self) -> &'static [&'static [u8]] {
        &[b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1"]
    }
    fn min_size(&self) -> u64 {
        1536
    }
    fn max_size(&self) -> u64 {
        1 << 30
    }

    fn check(&self, r: &mut Reader<'_>) -> Verdict {
        let (Some(major), Some(order), Some(shift), Some(mini)) =
            (r.le16(26), r.le16(28), r.le16(30), r.le16(32))
        else {
            return Verdict::Reject;
        };
        if order != 0xFFFE || mini != 6 || !matches!((major, shift), (3, 9) | (4, 12)) {
            return Verdict::Reject;
        }
        let ss = 1u64 << shift;
        let per = ss / 4;
        let sector = |n: u32| (u64::from(n) + 1) * ss;
        let (Some(nfat), Some(dir), Some(difat), Some(ndifat)) =
            (r.le32(44), r.le32(48), r.le32(68), r.le32(72))
        else {
            return Verdict::Reject;
        };
        // The FAT cannot describe more than the largest file we carve.
        let most = self.max_size() / ss;
        if u64::from(nfat) > most / per + 1 || u64::from(ndifat) > most / per + 1 || dir > MAXREG {
            return Verdict::Reject;
        }
        // FAT sector numbers: 109 in the header, the rest in the DIFAT chain.
        let mut fat_sectors = Vec::new();
        for i in 0..109u64 {
            match r.le32(76 + 4 * i) {
                Some(FREE) => break,
                Some(n) if n <= MAXREG => fat_sectors.push(n),
                _ => return Verdict::Reject,
            }
        }
        let mut next = difat;
        for _ in 0..ndifat {
            if next > MAXREG {
                break;
            }
            for i in 0..per - 1 {
                match r.le32(sector(next) + 4 * i) {
                    Some(FREE) => {}
                    Some(n) if n <= MAXREG => fat_sectors.push(n),
                    Some(_) => return partial_as(sector(next), "damaged DIFAT", None),
                    None => return partial_as(r.limit(), "cut off inside the DIFAT", None),
                }
            }
            next = r.le32(sector(next) + 4 * (per - 1)).unwrap_or(END);
        }
        fat_sectors.truncate(nfat as usize);
        if fat_sectors.len() != nfat as usize || nfat == 0 {
            return Verdict::Reject;
        }
        // The highest used sector decides the size; the FAT itself is kept to follow
        // the directory chain.
        let mut fat: Vec<u32> = Vec::new();
        let mut last_used: Option<u64> = None;
        for &fs in &fat_sectors {
            let Some(b) = r.get(sector(fs), ss as usize) else {
                return partial_as(sector(fs).min(r.limit()), "cut off inside the FAT", None);
            };
            for c in b.chunks_exact(4) {
                let v = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
                if v != FREE {
                    last_used = Some(fat.len() as u64);
                }
                fat.push(v);
            }
        }
        let Some(last_used) = last_used else {
            return Verdict::Reject;
        };
        let end = (last_used + 2) * ss;
        // The directory chain must end within the FAT, without loops.
        let mut names: Vec<Vec<u8>> = Vec::new();
        let mut s = dir;
        for step in 0.. {
            if s == END {
                break;
            }
            if step > fat.len() || s as usize >= fat.len() {
                return Verdict::Reject;
            }
            for e in 0..ss / 128 {
                let at = sector(s) + 128 * e;
                let Some(d) = r.get(at, 128) else {
                    return partial_as(at.min(r.limit()), "cut off inside the directory", None);
                };
                let (len, ty) = (usize::from(u16::from_le_bytes([d[64], d[65]])), d[66]);
                let name: Vec<u8> = d[..len.min(64)]
                    .chunks_exact(2)
                    .map(|c| c[0])
                    .take_while(|&c| c != 0)
                    .collect();
                if step == 0 && e == 0 && (ty != 5 || name != b"Root Entry") {
                    return Verdict::Reject;
                }
                if ty == 2 {
                    names.push(name);
                }
            }
            s = fat[s as usize];
        }
        let has = |n: &[u8]| names.iter().any(|x| x == n);
        let subtype = if has(b"WordDocument") {
            Some("doc")
        } else if has(b"Workbook") || has(b"Book") {
            Some("xls")
        } else if has(b"PowerPoint Document") {
            Some("ppt")
        } else if names.iter().any(|x| x.starts_with(b"__substg1.0_")) {
            Some("msg")
        } else {
            None
        };
        if end > r.limit() {
            return partial_as(r.limit(), "cut off before its last sector", subtype);
        }
        if r.unreadable > 0 {
            return partial_as(end, "unreadable sectors inside", subtype);
        }
        Verdict::Complete { len: end, subtype }
    }
}
