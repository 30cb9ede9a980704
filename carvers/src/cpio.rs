//! cpio archive validator, in the portable ASCII forms: "new" (`070701`, as
//! Linux initramfs images and RPM payloads use), "new" with checksums (`070702`)
//! and "old" POSIX (`070707`, odc).

use crate::{partial, Carver, Reader, Verdict};

/// cpio: member headers walked from the first (every field hexadecimal or octal
/// digits as its form writes them, a name of the size given, NUL-terminated),
/// each member's data skipped by its size (with the new forms' 4-byte padding)
/// to the `TRAILER!!!` member, then the zero padding cpio writes to its
/// 512-byte blocks. The `070702` form's checksum (the sum of the data's bytes) is
/// checked for every member: such an archive is `Complete`; the others are
/// `Unverified` (their data carries no check). A header that fails where one is
/// due: partial before it.
pub struct Cpio;

impl Carver for Cpio {
    fn name(&self) -> &'static str {
        "cpio"
    }
    fn extension(&self, _: Option<&'static str>) -> &'static str {
        "cpio"
    }
    fn headers(&self) -> &'static [&'static [u8]] {
        &[b"070701", b"070702", b"070707"]
    }
    fn min_size(&self) -> u64 {
        76 + 11
    }
    fn max_size(&self) -> u64 {
        1 << 40
    }
    fn check(&self, r: &mut Reader<'_>) -> Verdict {
        let Some(magic) = r.get(0, 6).map(<[u8]>::to_vec) else {
            return Verdict::Reject;
        };
        let odc = &magic[..] == b"070707";
        let summed = &magic[..] == b"070702";
        let (head, align) = if odc { (76u64, 1u64) } else { (110, 4) };
        let pad = |x: u64| x.div_ceil(align) * align;
        let mut at = 0u64;
        let mut members = 0u64;
        loop {
            let Some(h) = r.get(at, head as usize).map(<[u8]>::to_vec) else {
                return cut(members, at, "the archive breaks off in a member header");
            };
            if h[..6] != magic[..] {
                return cut(members, at, "a member header is not one");
            }
            let field = |from: usize, len: usize| -> Option<u64> {
                let s = std::str::from_utf8(&h[from..from + len]).ok()?;
                u64::from_str_radix(s, if odc { 8 } else { 16 }).ok()
            };
            let (name, size, sum) = if odc {
                (field(59, 6), field(65, 11), Some(0))
            } else {
                (field(94, 8), field(54, 8), field(102, 8))
            };
            let (Some(name), Some(size), Some(sum)) = (name, size, sum) else {
                return cut(
                    members,
                    at,
                    "a member header has a field that is not a number",
                );
            };
            if name == 0 || name > 4096 {
                return cut(members, at, "a member's name size is out of range");
            }
            let Some(n) = r.get(at + head, name as usize).map(<[u8]>::to_vec) else {
                return cut(members, at, "the archive breaks off in a member name");
            };
            if n[n.len() - 1] != 0 || n[..n.len() - 1].contains(&0) {
                return cut(
                    members,
                    at,
                    "a member's name is not terminated where its size says",
                );
            }
            let data = pad(at + head + name);
            if summed && !sum_ok(r, data, size, sum) {
                return cut(members, at, "a member's data fails its checksum");
            }
            let next = pad(data.saturating_add(size));
            members += 1;
            if &n[..] == b"TRAILER!!!\0" {
                // cpio fills its last 512-byte block with zeros.
                let block = next.div_ceil(512) * 512;
                let zeros = r
                    .get(next, (block - next) as usize)
                    .is_some_and(|z| z.iter().all(|&b| b == 0));
                let len = if zeros { block } else { next };
                return Verdict::whole(len, None, summed);
            }
            at = next;
            if !r.spend(64) {
                return partial(at, "too many members");
            }
        }
    }
}

/// Whether the `size` bytes at `at` sum (as a 32-bit count) to `want`.
fn sum_ok(r: &mut Reader<'_>, at: u64, size: u64, want: u64) -> bool {
    let mut s = 0u32;
    let mut off = 0u64;
    while off < size {
        let n = (size - off).min(1 << 20);
        let Some(b) = r.get(at + off, n as usize) else {
            return false;
        };
        s = b.iter().fold(s, |s, &x| s.wrapping_add(u32::from(x)));
        off += n;
    }
    u64::from(s) == want
}

fn cut(members: u64, at: u64, why: &str) -> Verdict {
    if members == 0 {
        Verdict::Reject
    } else {
        partial(at, why)
    }
}
