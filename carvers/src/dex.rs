//! Android Dalvik executable (DEX) validator: the code of every Android app
//! (`classes.dex` in an APK, and the optimised copies the system keeps), as
//! the Android documentation "Dalvik executable format" describes it.

use crate::{partial, Carver, Reader, Verdict};
use sha1::{Digest, Sha1};

/// DEX: the header (`dex\n` and a version 035–041, header size 0x70, the
/// little-endian tag, a file size, the map list inside the file), the map
/// list (its first item the header at 0, its own item where the header puts
/// it, items in ascending order inside the file), then the header's two
/// checks of the whole file: the Adler-32 of every byte after the checksum
/// and the SHA-1 of every byte after the signature. Both hold: `Complete` at
/// the stated size; either fails, or the map does not check: `Partial` at
/// the stated size (the header is there, its bytes are not all the file's:
/// where they stop being so, no check says).
pub struct Dex;

/// Apps' DEX files run to tens of MiB; a size past this is not one.
const MAX: u64 = 1 << 30;
/// Bytes read at a time for the checks.
const STEP: u64 = 1 << 16;

fn le32(b: &[u8], i: usize) -> u64 {
    u64::from(u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]))
}

/// Whether the map list at `at` describes a file of `size` bytes.
fn map_checks(r: &mut Reader<'_>, at: u64, size: u64) -> Option<bool> {
    let n = u64::from(r.le32(at)?);
    if n == 0 || at + 4 + n * 12 > size {
        return Some(false);
    }
    let mut last = None;
    let (mut header, mut itself) = (false, false);
    for i in 0..n {
        let e = r.get(at + 4 + i * 12, 12)?.to_vec();
        let (ty, off) = (u16::from_le_bytes([e[0], e[1]]), le32(&e, 8));
        if off >= size || last.is_some_and(|l| off < l) {
            return Some(false);
        }
        header |= ty == 0 && off == 0;
        itself |= ty == 0x1000 && off == at;
        last = Some(off);
    }
    Some(header && itself)
}

impl Carver for Dex {
    fn name(&self) -> &'static str {
        "dex"
    }
    fn extension(&self, _: Option<&'static str>) -> &'static str {
        "dex"
    }
    fn headers(&self) -> &'static [&'static [u8]] {
        &[b"dex\n03", b"dex\n04"]
    }
    fn min_size(&self) -> u64 {
        0x70
    }
    fn max_size(&self) -> u64 {
        MAX
    }
    fn check(&self, r: &mut Reader<'_>) -> Verdict {
        let Some(h) = r.get(0, 0x70).map(<[u8]>::to_vec) else {
            return Verdict::Reject;
        };
        let version = &h[4..8];
        let size = le32(&h, 32);
        let map = le32(&h, 52);
        if !matches!(
            version,
            b"035\0" | b"037\0" | b"038\0" | b"039\0" | b"040\0" | b"041\0"
        ) || le32(&h, 36) != 0x70
            || le32(&h, 40) != 0x1234_5678
            || !(0x70..=MAX).contains(&size)
            || map < 0x70
            || map >= size
        {
            return Verdict::Reject;
        }
        // The map list is near the end: a file cut short or overwritten there
        // keeps its header's claims, which no random bytes make.
        match map_checks(r, map, size) {
            Some(true) => {}
            Some(false) => {
                return partial(
                    size.min(r.limit()),
                    "the DEX file's map list does not check",
                )
            }
            None => return partial(map.min(r.limit()), "the DEX file is cut off in its map"),
        }
        // Adler-32 from byte 12, SHA-1 from byte 32, to the stated size.
        let (mut a, mut b) = (1u32, 0u32);
        let mut sha = Sha1::new();
        let mut at = 12u64;
        while at < size {
            let n = (size - at).min(STEP) as usize;
            let Some(bytes) = r.get(at, n) else {
                return partial(at, "the DEX file is cut off before its stated size");
            };
            for chunk in bytes.chunks(5552) {
                for &x in chunk {
                    a += u32::from(x);
                    b += a;
                }
                a %= 65521;
                b %= 65521;
            }
            let from_sig = 32u64.saturating_sub(at).min(n as u64) as usize;
            sha.update(&bytes[from_sig..]);
            at += n as u64;
        }
        if u64::from(b << 16 | a) != le32(&h, 8) || sha.finalize()[..] != h[12..32] {
            return partial(
                size,
                "the DEX file's checksum or signature does not match its bytes",
            );
        }
        Verdict::Complete {
            len: size,
            subtype: None,
        }
    }
}
