//! Windows XML event log (EVTX, Vista and later) validator: the logs an
//! examiner reads first on a Windows system (logons, services, PowerShell).
//! Layout as documented by libyal's "Windows XML Event Log (EVTX) format" and
//! [MS-EVEN6]: a 4 KiB file header, then chunks of 64 KiB.

use crate::{partial, Carver, Reader, Verdict};
use dredge_core::checksum::{crc32, crc32_update};

/// EVTX: the file header (signature, header size 128, format version 3.1 or
/// 3.2, header block 4096 bytes, its CRC-32 over the first 120 bytes), then
/// the chunks in order, each with its signature, its header CRC-32 (bytes
/// 0–120 and 128–512) and its records' CRC-32 (from byte 512 to the chunk's
/// free space). The header counts the chunks in use; a log not closed cleanly
/// (its dirty flag set) may have more, so chunks are taken while they check.
/// Every chunk checked: `Complete`, the header and those chunks; a chunk the
/// header counts failing its checks: `Partial` before it. The space a log
/// preallocates past its last chunk (zeros until used) is not part of what is
/// carved: it holds no records.
pub struct Evtx;

const HEADER_BLOCK: u64 = 4096;
const CHUNK: u64 = 65536;

/// Whether the chunk at `at` is one, whole and checked.
fn chunk_checks(r: &mut Reader<'_>, at: u64) -> Option<bool> {
    let h = r.get(at, 512)?.to_vec();
    if &h[..8] != b"ElfChnk\0" {
        return Some(false);
    }
    let le32 = |i: usize| u32::from_le_bytes([h[i], h[i + 1], h[i + 2], h[i + 3]]);
    let header_crc = !crc32_update(crc32_update(!0, &h[..120]), &h[128..512]);
    if le32(40) != 128 || header_crc != le32(124) {
        return Some(false);
    }
    let free = u64::from(le32(48));
    if !(512..=CHUNK).contains(&free) {
        return Some(false);
    }
    let records = r.get(at + 512, (free - 512) as usize)?;
    Some(crc32(records) == le32(52))
}

impl Carver for Evtx {
    fn name(&self) -> &'static str {
        "evtx"
    }
    fn extension(&self, _: Option<&'static str>) -> &'static str {
        "evtx"
    }
    fn headers(&self) -> &'static [&'static [u8]] {
        &[b"ElfFile\0"]
    }
    fn min_size(&self) -> u64 {
        HEADER_BLOCK
    }
    fn max_size(&self) -> u64 {
        HEADER_BLOCK + 0xffff * CHUNK
    }
    fn check(&self, r: &mut Reader<'_>) -> Verdict {
        let Some(h) = r.get(0, 128).map(<[u8]>::to_vec) else {
            return Verdict::Reject;
        };
        let le16 = |i: usize| u16::from_le_bytes([h[i], h[i + 1]]);
        let le32 = |i: usize| u32::from_le_bytes([h[i], h[i + 1], h[i + 2], h[i + 3]]);
        if le32(32) != 128
            || le16(38) != 3
            || !(1..=2).contains(&le16(36))
            || u64::from(le16(40)) != HEADER_BLOCK
            || crc32(&h[..120]) != le32(124)
        {
            return Verdict::Reject;
        }
        let counted = u64::from(le16(42));
        let mut chunks = 0u64;
        while chunks < 0xffff {
            let at = HEADER_BLOCK + chunks * CHUNK;
            match chunk_checks(r, at) {
                Some(true) => chunks += 1,
                // Past the chunks the header counts, the first one that does
                // not check ends the log (zeros of the preallocated space).
                _ if chunks >= counted => break,
                None => return partial(at, "the event log is cut off in a chunk"),
                Some(false) => return partial(at, "a chunk of the event log fails its checksums"),
            }
        }
        Verdict::Complete {
            len: HEADER_BLOCK + chunks * CHUNK,
            subtype: None,
        }
    }
}
