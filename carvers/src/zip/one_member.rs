//! Both cuts of a three-fragment ZIP in one member: the members before it
//! are where the directory says, those after it lie the whole `shift` on, so
//! only that member's data has two unknown cuts and a first gap to place.
//!
//! - A stored member: its CRC-32 over the three pieces is computed for every
//!   (first cut, first gap, second cut) from prefix CRCs of the bytes, CRC-32
//!   being linear (`crc(X‖Y) = Z(|Y|)·crc(X) ⊕ crc(Y)`, `Z(n)` the register's
//!   map for n zero bytes), so each try costs two 32×32 bit products, not a
//!   pass over the member. One layout must match, not two.
//! - A deflated member kept in stored blocks (incompressible data): the
//!   same, over its bytes but the blocks' 5-byte headers.
//! - A deflated member: the stream decoded as it lies fails a little after the
//!   first cut, which bounds it to a few sectors; decoded again across each of
//!   those with each first gap, it fails a little after the second cut when
//!   the gap is right, which bounds that one; every layout so found is checked
//!   whole (inflated to its exact end, CRC-32 and size).

use super::fragments::boundaries;
use super::*;

/// How far before the point where a stream stops decoding its cut is looked
/// for: garbage decodes for a while before an invalid code.
const LAG: u64 = 4096;
/// Layouts of a stored member compared at most (about 0.4 µs each in a
/// release build on this 2-core machine: under 2 s a file).
const MAX_TRIES: u64 = 4 << 20;
/// A stored member longer than this is not searched (prefix tables grow with it).
const MAX_STORED: u64 = 16 << 20;

/// The raw CRC-32 register's linear map for feeding some zero bytes: column
/// `i` is where state `1 << i` goes.
#[derive(Clone, Copy)]
struct Zeros([u32; 32]);

impl Zeros {
    fn of(n: usize) -> Zeros {
        let z = vec![0u8; n];
        Zeros(std::array::from_fn(|i| crc32_update(1 << i, &z)))
    }

    fn apply(&self, mut v: u32) -> u32 {
        let mut out = 0;
        for col in &self.0 {
            if v == 0 {
                break;
            }
            if v & 1 != 0 {
                out ^= col;
            }
            v >>= 1;
        }
        out
    }

    /// `other`'s zeros, then this one's.
    fn after(&self, other: &Zeros) -> Zeros {
        Zeros(std::array::from_fn(|i| self.apply(other.0[i])))
    }
}

/// The CRC-32 of `b` as ZIP records it.
fn crc(b: &[u8]) -> u32 {
    !crc32_update(!0, b)
}

/// The member's local header as it lies: where its data starts.
fn data_start(r: &mut Reader<'_>, e: &Entry) -> Option<u64> {
    let nl = r.le16(e.local + 26)?;
    let xl = r.le16(e.local + 28)?;
    e.local.checked_add(30 + u64::from(nl) + u64::from(xl))
}

/// Looks for two cuts inside entry `entries[0]` whose data ends before the
/// next header (found `shift` on): the layouts its CRC accepts, checked with
/// every member from it on.
pub(super) fn both_cuts(
    r: &mut Reader<'_>,
    entries: &[Entry],
    shift: u64,
    spent: &mut u64,
) -> Option<Splice> {
    let e = entries.first()?;
    let data = data_start(r, e)?;
    let end = data.checked_add(e.csize)?;
    let check = |r: &mut Reader<'_>, sp: Splice, spent: &mut u64| {
        *spent <= BUDGET && members(r, sp, entries, spent).is_ok()
    };
    match e.method {
        0 if e.csize == e.usize && e.csize <= MAX_STORED => {
            let (s1, g1, s2) = stored(r, e.crc, (data, end), &[], shift, spent)?;
            let sp = Splice {
                split: s1,
                gap: g1,
                ..WHOLE
            }
            .then(s2, shift - g1)?;
            check(r, sp, spent).then_some(sp)
        }
        8 if e.csize <= MAX_STORED && stored_blocks(r, data, end, shift).is_some() => {
            // Incompressible data that `deflate` kept as it was: the blocks'
            // bytes are the member's, CRC and all.
            let heads = stored_blocks(r, data, end, shift)?;
            let (s1, g1, s2) = stored(r, e.crc, (data, end), &heads, shift, spent)?;
            let sp = Splice {
                split: s1,
                gap: g1,
                ..WHOLE
            }
            .then(s2, shift - g1)?;
            check(r, sp, spent).then_some(sp)
        }
        8 => deflated(r, data, end, shift, spent, &check),
        _ => None,
    }
}

/// The 5-byte block headers of a deflate stream at `[data, end)` made of
/// stored blocks only (incompressible data that `deflate` kept as it was):
/// garbage in a stored block decodes without an error, so where decoding
/// stops tells nothing, and the member's bytes are the stream's but for these.
fn stored_blocks(r: &mut Reader<'_>, data: u64, end: u64, shift: u64) -> Option<Vec<u64>> {
    let header = |r: &mut Reader<'_>, at: u64| -> Option<(u8, u16)> {
        let h = r.get(at, 5)?;
        let len = u16::from_le_bytes([h[1], h[2]]);
        (h[0] & 6 == 0 && len == !u16::from_le_bytes([h[3], h[4]])).then_some((h[0], len))
    };
    let mut at = data;
    let mut heads = Vec::new();
    // 64 KiB a block: a member up to `MAX_STORED`.
    while heads.len() <= (MAX_STORED >> 16) as usize {
        // Where it lies, or after both cuts (a header between them, where
        // the unknown first gap puts it, is not looked for).
        let (b0, len) = header(r, at).or_else(|| header(r, at + shift))?;
        heads.push(at);
        at += 5 + u64::from(len);
        if b0 & 1 == 1 {
            return (at == end).then_some(heads);
        }
    }
    None
}

/// CRCs of the bytes as they lie from a fixed grid point, at any offset: on
/// the grid from a table, off it from the table and the sector's first bytes
/// (cached: the same few offsets come back for every layout).
struct Prefix {
    q0: u64,
    grid: Vec<u32>,
    /// Z(k·512) for every k of the grid, and Z(r) for r below 512.
    sectors: Vec<Zeros>,
    bytes: Vec<Zeros>,
    off_grid: std::collections::HashMap<u64, u32>,
}

impl Prefix {
    fn zeros(&self, n: u64) -> Zeros {
        self.bytes[(n % SECTOR) as usize].after(&self.sectors[(n / SECTOR) as usize])
    }

    /// `v` moved on by `n` zero bytes: Z(n)·v, without forming Z(n).
    fn push(&self, n: u64, v: u32) -> u32 {
        if v == 0 {
            return 0;
        }
        self.bytes[(n % SECTOR) as usize].apply(self.sectors[(n / SECTOR) as usize].apply(v))
    }

    /// CRC of the bytes from `q0` to `x` (`x` ≥ `q0`).
    fn at(&mut self, r: &mut Reader<'_>, x: u64) -> Option<u32> {
        let k = (x - self.q0) / SECTOR;
        let g = self.q0 + k * SECTOR;
        if g == x {
            return self.grid.get(k as usize).copied();
        }
        if let Some(&c) = self.off_grid.get(&x) {
            return Some(c);
        }
        let part = crc(r.get(g, (x - g) as usize)?);
        let c = self.bytes[(x - g) as usize].apply(*self.grid.get(k as usize)?) ^ part;
        self.off_grid.insert(x, c);
        Some(c)
    }

    /// CRC of the bytes at `[a, b)`.
    fn range(&mut self, r: &mut Reader<'_>, a: u64, b: u64) -> Option<u32> {
        let (pa, pb) = (self.at(r, a)?, self.at(r, b)?);
        Some(pb ^ self.push(b - a, pa))
    }

    /// CRC of logical bytes `[x, y)` but `skips` (5-byte headers), lying `d` on.
    fn piece(&mut self, r: &mut Reader<'_>, x: u64, y: u64, d: u64, skips: &[u64]) -> Option<u32> {
        let mut c = 0u32;
        let mut u = x;
        for &h in skips.iter().filter(|&&h| h + 5 > x && h < y) {
            if h > u {
                let s = self.range(r, u + d, h + d)?;
                c = self.push(h - u, c) ^ s;
            }
            u = u.max(h + 5);
        }
        if y > u {
            let s = self.range(r, u + d, y + d)?;
            c = self.push(y - u, c) ^ s;
        }
        Some(c)
    }
}

/// The one (first cut, first gap, second cut) of a member of CRC `want`
/// whose bytes are logical `[lo, hi)` but the 5-byte `skips`, whose three
/// pieces checksum to it. Cuts fall on sector boundaries, not in a skip.
fn stored(
    r: &mut Reader<'_>,
    want: u32,
    (lo, hi): (u64, u64),
    skips: &[u64],
    shift: u64,
    spent: &mut u64,
) -> Option<(u64, u64, u64)> {
    let q0 = r.sector_from(lo + 1);
    if q0 >= hi || shift < 2 * SECTOR {
        return None;
    }
    let cuts: Vec<u64> = (0..=(hi - 1 - q0) / SECTOR)
        .map(|k| q0 + k * SECTOR)
        .filter(|&c| !skips.iter().any(|&h| c > h && c < h + 5))
        .collect();
    let gaps = shift / SECTOR - 1; // first gaps 512 … shift - 512
    let n = cuts.len() as u64;
    if n * n / 2 * gaps > MAX_TRIES {
        return None;
    }
    // The grid starts a sector before the first cut, at or before `lo`.
    let qs = q0.checked_sub(SECTOR)?;
    let last = hi + shift;
    let grid = (last - qs) / SECTOR;
    let z512 = Zeros::of(SECTOR as usize);
    let mut table = Vec::with_capacity(grid as usize + 1);
    table.push(0u32);
    for j in 0..grid {
        let c = crc(r.get(qs + j * SECTOR, SECTOR as usize)?);
        let p = table[j as usize];
        table.push(z512.apply(p) ^ c);
        *spent += SECTOR;
    }
    let one = Zeros::of(1);
    let mut bytes = vec![Zeros(std::array::from_fn(|i| 1 << i))];
    for k in 0..SECTOR as usize - 1 {
        let next = one.after(&bytes[k]);
        bytes.push(next);
    }
    let mut sectors = vec![bytes[0]];
    for k in 0..grid as usize {
        let next = z512.after(&sectors[k]);
        sectors.push(next);
    }
    let mut p = Prefix {
        q0: qs,
        grid: table,
        sectors,
        bytes,
        off_grid: std::collections::HashMap::new(),
    };
    // Bytes of logical `[x, y)` that are the member's (not a header's).
    let len =
        |x: u64, y: u64| (y - x) - 5 * skips.iter().filter(|&&h| h >= x && h < y).count() as u64;
    let mut found = None;
    for (i, &s1) in cuts.iter().enumerate() {
        // A: [lo, s1), where it lies.
        let ca = p.piece(r, lo, s1, 0, skips)?;
        for &s2 in &cuts[i + 1..] {
            let c = p.piece(r, s2, hi, shift, skips)?;
            let zb = p.zeros(len(s1, s2));
            let zc = p.zeros(len(s2, hi));
            let mid = zb.apply(ca);
            for g in 1..=gaps {
                let b = p.piece(r, s1, s2, g * SECTOR, skips)?;
                if zc.apply(mid ^ b) ^ c == want {
                    if found.is_some() {
                        // Two layouts agree with the CRC: neither is proved.
                        return None;
                    }
                    found = Some((s1, g * SECTOR, s2));
                }
            }
        }
    }
    found
}

/// Output bytes decoded before a byte value never seen yet is taken for
/// foreign data: text settles its alphabet within this much.
const WARM: u64 = 512;

/// Where decoding the member's data stops making sense, as it lies under
/// `sp` (an input offset), or None when it decodes to its end. Garbage in a
/// block of dynamic Huffman codes often decodes without an error for long,
/// so a member whose output has kept to a few byte values (text) is also
/// stopped at the first byte outside them.
fn stops(r: &mut Reader<'_>, sp: Splice, data: u64, end: u64, spent: &mut u64) -> Option<u64> {
    let mut seen = [false; 256];
    let mut kinds = 0usize;
    let mut total = 0u64;
    let run = inflate::inflate_in_steps(
        r,
        |r, at, n| sp.read(r, at, n),
        data,
        end,
        false,
        SECTOR as usize,
        |b| {
            for &x in b {
                if !seen[x as usize] {
                    // Binary data soon uses most values: no sign there.
                    if total >= WARM && kinds < 128 {
                        return false;
                    }
                    seen[x as usize] = true;
                    kinds += 1;
                }
                total += 1;
            }
            true
        },
    );
    *spent += (run.at - data) + run.total;
    // A final block met early is garbage too.
    (run.end != inflate::End::Done || run.at != end).then_some(run.at)
}

/// A deflated member: the first cut from where it stops decoding as it lies,
/// the first gap and second cut from where it stops across each candidate.
fn deflated(
    r: &mut Reader<'_>,
    data: u64,
    end: u64,
    shift: u64,
    spent: &mut u64,
    check: &dyn Fn(&mut Reader<'_>, Splice, &mut u64) -> bool,
) -> Option<Splice> {
    // A stop is reported at the start of the step (a sector of input) that
    // made it: the cut lies before that step's end.
    let f1 = stops(r, WHOLE, data, end, spent)? + SECTOR;
    let firsts: Vec<u64> =
        boundaries(r, f1.saturating_sub(LAG).max(data), f1.min(end - 1)).collect();
    for &s1 in firsts.iter().rev() {
        for g1 in (1..shift / SECTOR).map(|k| k * SECTOR) {
            if *spent > BUDGET {
                return None;
            }
            let one = Splice {
                split: s1,
                gap: g1,
                ..WHOLE
            };
            // Right: it decodes at least the one sector of the middle piece.
            let Some(f2) = stops(r, one, data, end, spent).map(|f| f + SECTOR) else {
                continue;
            };
            if f2 < s1 + SECTOR {
                continue;
            }
            let lo = f2.saturating_sub(LAG).max(s1);
            let seconds: Vec<u64> = boundaries(r, lo, f2.min(end - 1)).collect();
            for &s2 in seconds.iter().rev() {
                if let Some(sp) = one.then(s2, shift - g1) {
                    if check(r, sp, spent) {
                        return Some(sp);
                    }
                }
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use dredge_core::ImageSource;
    use dredge_image::{MemDevice, Sectored};

    /// A file of `len` bytes laid out in three pieces cut at `s1` and `s2`,
    /// with `g1` and `g2` bytes of filler before the second and third.
    fn laid_out(file: &[u8], s1: usize, s2: usize, g1: usize, g2: usize) -> Vec<u8> {
        let mut x = 7u32;
        let mut fill = |n: usize| -> Vec<u8> {
            (0..n)
                .map(|_| {
                    x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                    (x >> 16) as u8
                })
                .collect()
        };
        let mut v = file[..s1].to_vec();
        v.extend(fill(g1));
        v.extend_from_slice(&file[s1..s2]);
        v.extend(fill(g2));
        v.extend_from_slice(&file[s2..]);
        v.extend(fill(4096));
        v
    }

    fn noise(n: usize, seed: u32) -> Vec<u8> {
        let mut x = seed;
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x as u8
            })
            .collect()
    }

    #[test]
    fn a_stored_member_cut_twice_is_placed_by_its_crc_alone() {
        // 36 bytes before the member's data, as a local header with a name.
        let member = noise(9000, 3);
        let mut file = vec![0x50u8; 36];
        file.extend_from_slice(&member);
        let (s1, s2, g1, g2) = (2048, 6144, 3072, 1536);
        let src = Sectored::new(MemDevice::new(laid_out(&file, s1, s2, g1, g2)));
        let mut r = Reader::new(&src as &dyn ImageSource, 0, 1 << 20);
        let mut spent = 0;
        let want = crc(&member);
        let shift = (g1 + g2) as u64;
        let end = file.len() as u64;
        assert_eq!(
            stored(&mut r, want, (36, end), &[], shift, &mut spent),
            Some((s1 as u64, g1 as u64, s2 as u64))
        );
        // Another CRC: no layout.
        assert_eq!(
            stored(&mut r, want ^ 1, (36, end), &[], shift, &mut spent),
            None
        );
    }

    #[test]
    fn stored_deflate_blocks_are_checksummed_without_their_headers() {
        // Two stored blocks (the second final), as zlib writes random data.
        let (p1, p2) = (noise(5000, 5), noise(3000, 9));
        let mut stream = Vec::new();
        for (p, last) in [(&p1, 0u8), (&p2, 1u8)] {
            let n = p.len() as u16;
            stream.push(last);
            stream.extend(n.to_le_bytes());
            stream.extend((!n).to_le_bytes());
            stream.extend_from_slice(p);
        }
        let mut file = vec![0x50u8; 36];
        file.extend_from_slice(&stream);
        let end = file.len() as u64;
        // Both cuts in the first block: the second block's header lies after
        // both gaps.
        let (s1, s2, g1, g2) = (1024, 4608, 512, 2560);
        let src = Sectored::new(MemDevice::new(laid_out(&file, s1, s2, g1, g2)));
        let mut r = Reader::new(&src as &dyn ImageSource, 0, 1 << 20);
        let heads = stored_blocks(&mut r, 36, end, (g1 + g2) as u64).expect("stored blocks");
        assert_eq!(heads, vec![36, 36 + 5 + 5000]);
        let mut whole = p1.clone();
        whole.extend_from_slice(&p2);
        let mut spent = 0;
        assert_eq!(
            stored(
                &mut r,
                crc(&whole),
                (36, end),
                &heads,
                (g1 + g2) as u64,
                &mut spent
            ),
            Some((s1 as u64, g1 as u64, s2 as u64))
        );
    }
}
