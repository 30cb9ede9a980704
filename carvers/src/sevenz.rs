//! 7z archive validator (the 7z format as 7-Zip documents it in `7zFormat.txt`).

use crate::{partial, Carver, Reader, Verdict};
use dredge_core::checksum::crc32;

/// 7z: the signature header (version 0.2–0.4) and its CRC-32, which places the
/// end header (`NextHeaderOffset`, `NextHeaderSize`) at the archive's end; the
/// end header's CRC-32, and it must begin as a header or an encoded header does.
/// The packed streams between carry CRCs of their unpacked data only, which is
/// not decoded: a whole archive is `carved-unverified-contiguous` (a fragmented
/// one whose end header lies elsewhere fails its CRC: partial, kept to its
/// declared length for 7-Zip's own recovery).
pub struct SevenZ;

/// An end header larger than this is not believed (7-Zip's own headers of a
/// million files stay far below it).
const MAX_END_HEADER: u64 = 256 << 20;

impl Carver for SevenZ {
    fn name(&self) -> &'static str {
        "7z"
    }
    fn extension(&self, _: Option<&'static str>) -> &'static str {
        "7z"
    }
    fn headers(&self) -> &'static [&'static [u8]] {
        &[b"7z\xBC\xAF\x27\x1C\x00"]
    }
    fn min_size(&self) -> u64 {
        33
    }
    fn max_size(&self) -> u64 {
        1 << 40
    }
    fn check(&self, r: &mut Reader<'_>) -> Verdict {
        let Some(h) = r.get(0, 32).map(<[u8]>::to_vec) else {
            return Verdict::Reject;
        };
        let le64 = |i: usize| u64::from_le_bytes(h[i..i + 8].try_into().unwrap_or([0; 8]));
        let le32 = |i: usize| u32::from_le_bytes(h[i..i + 4].try_into().unwrap_or([0; 4]));
        if !(2..=4).contains(&h[7]) || crc32(&h[12..32]) != le32(8) {
            return Verdict::Reject;
        }
        let (off, size, sum) = (le64(12), le64(20), le32(28));
        if size == 0 || size > MAX_END_HEADER {
            return Verdict::Reject;
        }
        let Some(end) = off.checked_add(32).and_then(|e| e.checked_add(size)) else {
            return Verdict::Reject;
        };
        if end > r.limit() {
            return partial(
                r.limit(),
                "the end header lies past the image or the largest archive carved",
            );
        }
        let Some(tail) = r.get(32 + off, size as usize) else {
            return partial(32, "the end header cannot be read");
        };
        if crc32(tail) != sum || !matches!(tail[0], 0x01 | 0x17) {
            return partial(end, "the end header fails its CRC-32");
        }
        Verdict::Unverified {
            len: end,
            subtype: None,
        }
    }
}
