//! FLAC validator (RFC 9639), native FLAC streams, whole or in two pieces.

use crate::{partial, Carver, Reader, Verdict, SECTOR};

/// FLAC: `fLaC`, metadata blocks (STREAMINFO first, no invalid type) to the
/// last, then audio frames, each header with its CRC-8 and each frame with its
/// CRC-16, until the frames hold STREAMINFO's total samples. A frame's length is
/// not stored: it ends where the CRC-16 of its bytes, footer included, is zero
/// and the next frame's header (or the stream's end by the sample count)
/// follows. Every audio byte is under a CRC: `Complete`; metadata (tags, album
/// art) is walked by its lengths only. A stream whose frames break is looked
/// for in two pieces (`rejoin`).
pub struct Flac;

/// The first byte in `len` bytes from `at` that is not zero (`None` when
/// all are, or when they cannot be read: the walk then says where).
fn not_zero(r: &mut Reader<'_>, at: u64, len: u64) -> Option<u64> {
    let mut p = at;
    while p < at + len {
        let n = (at + len - p).min(64 << 10);
        let b = r.get(p, n as usize)?;
        if let Some(i) = b.iter().position(|&x| x != 0) {
            return Some(p + i as u64);
        }
        p += n;
    }
    None
}

fn crc8(b: &[u8]) -> u8 {
    let mut c = 0u8;
    for &x in b {
        c ^= x;
        for _ in 0..8 {
            c = if c & 0x80 != 0 {
                (c << 1) ^ 0x07
            } else {
                c << 1
            };
        }
    }
    c
}

/// CRC-16 (polynomial 0x8005, not reflected, initial 0) table, one byte a step.
const CRC16: [u16; 256] = {
    let mut t = [0u16; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = (i as u16) << 8;
        let mut k = 0;
        while k < 8 {
            c = if c & 0x8000 != 0 {
                (c << 1) ^ 0x8005
            } else {
                c << 1
            };
            k += 1;
        }
        t[i] = c;
        i += 1;
    }
    t
};

fn crc16(c: u16, x: u8) -> u16 {
    (c << 8) ^ CRC16[usize::from((c >> 8) as u8 ^ x)]
}

/// What STREAMINFO says the frames must agree with.
struct Info {
    /// Samples in the stream (0: not known).
    total: u64,
    /// Largest frame in bytes (0: not known).
    max_frame: u64,
    /// Fixed or variable block size (the frames' blocking strategy).
    variable: bool,
    /// Bits per sample.
    bps: u32,
}

/// What the frame header at the start of `b` (one `header` took, of `block`
/// samples) says its subframes hold.
fn shape(b: &[u8], block: u64, info: &Info) -> crate::flac_frame::Shape {
    let bps = match (b[3] >> 1) & 7 {
        1 => 8,
        2 => 12,
        4 => 16,
        5 => 20,
        6 => 24,
        7 => 32,
        _ => info.bps,
    };
    crate::flac_frame::Shape {
        block,
        assignment: b[3] >> 4,
        bps,
    }
}

/// A frame header at the start of `b`: (its length, samples in the frame, its
/// coded number: the frame's index with a fixed block size, its first
/// sample's with a variable one), or None when it is not one (bad sync,
/// reserved values, CRC-8).
fn header(b: &[u8], info: &Info) -> Option<(usize, u64, u64)> {
    if b.len() < 6 || b[0] != 0xFF || b[1] & 0xFE != 0xF8 {
        return None;
    }
    if (b[1] & 1 == 1) != info.variable {
        return None;
    }
    let (bs, rate) = (b[2] >> 4, b[2] & 0x0F);
    let (chan, size) = (b[3] >> 4, (b[3] >> 1) & 7);
    if bs == 0 || rate == 15 || chan > 10 || size == 3 || b[3] & 1 != 0 {
        return None;
    }
    // The coded frame or sample number: UTF-8-like, 1 to 7 bytes.
    let lead = b[4];
    let extra = match lead.leading_ones() {
        0 => 0,
        n @ 2..=7 => n as usize - 1,
        _ => return None,
    };
    let mut at = 5 + extra;
    if b.len() < at + 3 || b[5..at].iter().any(|&c| c & 0xC0 != 0x80) {
        return None;
    }
    let number = b[5..at].iter().fold(
        // The lead byte's bits after its length prefix (`1…10`, or `0`).
        u64::from(lead & (0x7F >> (extra + usize::from(extra > 0)))),
        |n, &c| n << 6 | u64::from(c & 0x3F),
    );
    let samples = match bs {
        1 => 192,
        2..=5 => 576 << (bs - 2),
        6 => {
            at += 1;
            u64::from(b[at - 1]) + 1
        }
        7 => {
            at += 2;
            u64::from(u16::from_be_bytes([b[at - 2], b[at - 1]])) + 1
        }
        _ => 256 << (bs - 8),
    };
    at += match rate {
        12 => 1,
        13 | 14 => 2,
        _ => 0,
    };
    if b.len() <= at || crc8(&b[..at]) != b[at] {
        return None;
    }
    Some((at + 1, samples, number))
}

/// [`header`] of the frame at `at`, read from the image.
fn header_at(r: &mut Reader<'_>, at: u64, info: &Info) -> Option<(usize, u64, u64)> {
    let room = r.limit().saturating_sub(at).min(16) as usize;
    r.get(at, room).and_then(|b| header(b, info))
}

impl Carver for Flac {
    fn name(&self) -> &'static str {
        "flac"
    }
    fn extension(&self, _: Option<&'static str>) -> &'static str {
        "flac"
    }
    fn headers(&self) -> &'static [&'static [u8]] {
        // The marker and a STREAMINFO block header (type 0, last or not, 34 bytes).
        &[b"fLaC\x00\x00\x00\x22", b"fLaC\x80\x00\x00\x22"]
    }
    fn min_size(&self) -> u64 {
        42
    }
    fn max_size(&self) -> u64 {
        1 << 32
    }
    fn check(&self, r: &mut Reader<'_>) -> Verdict {
        let Some(si) = r.get(8, 34).map(<[u8]>::to_vec) else {
            return Verdict::Reject;
        };
        let min_block = u16::from_be_bytes([si[0], si[1]]);
        let max_block = u16::from_be_bytes([si[2], si[3]]);
        let be24 =
            |i: usize| u64::from(si[i]) << 16 | u64::from(si[i + 1]) << 8 | u64::from(si[i + 2]);
        let rate = be24(10) >> 4;
        if min_block < 16 || max_block < min_block || rate == 0 {
            return Verdict::Reject;
        }
        let total = (u64::from(si[13] & 0x0F) << 32)
            | u64::from(u32::from_be_bytes([si[14], si[15], si[16], si[17]]));
        let mut info = Info {
            total,
            max_frame: be24(7),
            variable: min_block != max_block,
            bps: (u32::from(si[12] & 1) << 4 | u32::from(si[13] >> 4)) + 1,
        };
        // The metadata blocks after STREAMINFO, to the one marked last.
        let mut at = 42u64;
        let mut last = r.u8(4).is_some_and(|h| h & 0x80 != 0);
        while !last {
            let Some(h) = r.be32(at) else {
                return partial(at, "cut off in its metadata");
            };
            if (h >> 24) & 0x7F == 127 || (h >> 24) & 0x7F == 0 {
                return partial(at, "a metadata block of an invalid type");
            }
            last = h & 0x8000_0000 != 0;
            let len = u64::from(h & 0x00FF_FFFF);
            // PADDING is zeros (RFC 9639 8.3; flac and metaflac write 8 KiB
            // of it by default): bytes that are not were never the file's,
            // a stream in pieces or cut short within it.
            if (h >> 24) & 0x7F == 1 {
                if let Some(q) = not_zero(r, at + 4, len) {
                    let cut = r.sector_before(q).max(at + 4);
                    return partial(
                        cut,
                        "its padding holds bytes that are not zeros: data that is not the file's",
                    );
                }
            }
            at += 4 + len;
        }
        // Fixed-size streams say so by equal block sizes; a first frame of the
        // other strategy means STREAMINFO's sizes are only bounds.
        if r.get(at, 2).is_some_and(|b| b[0] == 0xFF && b[1] == 0xF9) {
            info.variable = true;
        }
        let first = Pos {
            at,
            samples: 0,
            frames: 0,
        };
        match frames(r, &info, first) {
            Ok(end) => Verdict::Complete {
                len: end,
                subtype: None,
            },
            Err((p, why)) => {
                if let Some(fragments) = rejoin(r, &info, p, &why) {
                    return Verdict::Fragmented {
                        fragments,
                        subtype: None,
                    };
                }
                let at = match why {
                    Broke::TooMany(end) => end,
                    _ => p.at,
                };
                partial(at, why.says())
            }
        }
    }
}

/// Where a walk of the frames stands: the next frame's offset, and the
/// samples and frames before it.
#[derive(Clone, Copy)]
struct Pos {
    at: u64,
    samples: u64,
    frames: u64,
}

/// Why a walk of the frames stopped short of the stream's end.
enum Broke {
    NoHeader,
    /// The frame's header is there, its end (CRC-16) is not.
    NoEnd,
    NoCount,
    /// The frames hold more samples than STREAMINFO counts (the walk's end).
    TooMany(u64),
}

impl Broke {
    fn says(&self) -> &'static str {
        match self {
            Broke::NoHeader => "no frame header where a frame is due",
            Broke::NoEnd => "a frame fails its CRC-16",
            // Without a sample count, the last frame's end is where no frame
            // follows: not told from a frame cut off.
            Broke::NoCount => {
                "STREAMINFO does not count the samples: the last frame's end is not known"
            }
            Broke::TooMany(_) => "more samples than STREAMINFO counts",
        }
    }
}

/// How far a frame may run: STREAMINFO's largest frame, or 16 MiB.
fn reach(info: &Info) -> u64 {
    if info.max_frame > 0 {
        info.max_frame
    } else {
        16 << 20
    }
}

/// The frames from `p` to the stream's end (STREAMINFO's sample count): the
/// end, or where and why the walk broke.
fn frames(r: &mut Reader<'_>, info: &Info, mut p: Pos) -> Result<u64, (Pos, Broke)> {
    let reach = reach(info);
    loop {
        let at = p.at;
        let Some((hlen, n, _)) = header_at(r, at, info) else {
            return Err((p, Broke::NoHeader));
        };
        let samples = p.samples + n;
        let last = info.total > 0 && samples >= info.total;
        // The frame's CRC-16, footer included, is zero where it ends.
        let mut c = 0u16;
        let mut end = None;
        // The last frame has no header after it to confirm where its CRC-16
        // comes to zero: its subframes say where it ends (a frame they do not
        // parse in is left to the CRC alone, as before).
        if last {
            let room = (reach + 2).min(r.limit().saturating_sub(at));
            if let Some(b) = r.get(at, room as usize).map(<[u8]>::to_vec) {
                if let Some(len) = crate::flac_frame::frame_len(&b, hlen, &shape(&b, n, info)) {
                    if b[..len].iter().fold(0u16, |c, &x| crc16(c, x)) != 0 {
                        return Err((p, Broke::NoEnd));
                    }
                    end = Some(at + len as u64);
                }
            }
        }
        let mut q0 = at;
        while end.is_none() && q0 < at + reach + 2 && q0 < r.limit() {
            let step = (at + reach + 2 - q0).min(r.limit() - q0).min(64 << 10);
            let Some(chunk) = r.get(q0, step as usize).map(<[u8]>::to_vec) else {
                break;
            };
            for (i, &x) in chunk.iter().enumerate() {
                c = crc16(c, x);
                let q = q0 + i as u64 + 1;
                if c != 0 || q < at + hlen as u64 + 2 {
                    continue;
                }
                let next = last || header_at(r, q, info).is_some();
                if next {
                    end = Some(q);
                    break;
                }
            }
            if end.is_some() {
                break;
            }
            q0 += step;
        }
        let Some(q) = end else {
            let why = if info.total == 0 {
                Broke::NoCount
            } else {
                Broke::NoEnd
            };
            return Err((p, why));
        };
        p = Pos {
            at: q,
            samples,
            frames: p.frames + 1,
        };
        if last {
            if samples > info.total + 65_535 {
                return Err((p, Broke::TooMany(q)));
            }
            return Ok(q);
        }
    }
}

/// How far past a break the rest of a stream in two pieces is looked for.
const MAX_GAP: u64 = 4 << 20;
/// Frame headers tried as the first after the gap.
const MAX_CONTINUATIONS: usize = 16;
/// The largest frame a cut inside is looked across: the pairs of cut and gap
/// tried grow as its square (a frame of 64 KiB: 8 000 pairs).
const MAX_JOINED_FRAME: u64 = 64 << 10;

/// The number the frame at `p` carries: its index with a fixed block size,
/// its first sample's with a variable one.
fn number_at(info: &Info, p: Pos) -> u64 {
    if info.variable {
        p.samples
    } else {
        p.frames
    }
}

/// A stream in two pieces whose walk broke at `p`: the pieces as (offset,
/// length), or None. Cuts and gaps lie on the image's sector boundaries.
///
/// The rest is found by a frame header numbered as the frame due: the one
/// at `p` when the cut fell between frames (no header where one is due, on
/// a sector boundary), or the one after it when the cut fell inside the
/// frame at `p` (its header is there, its end is not). Then, for a cut
/// inside, the cut and gap are where the frame's bytes put together give its
/// CRC-16, and exactly one pair may fit. Every frame after must then check to
/// STREAMINFO's sample count.
fn rejoin(r: &mut Reader<'_>, info: &Info, p: Pos, why: &Broke) -> Option<Vec<(u64, u64)>> {
    let sync: &[u8] = if info.variable {
        &[0xFF, 0xF9]
    } else {
        &[0xFF, 0xF8]
    };
    match why {
        Broke::NoHeader => {
            if !(r.start() + p.at).is_multiple_of(SECTOR) {
                return None;
            }
            let due = number_at(info, p);
            let mut q = p.at + SECTOR;
            while q <= p.at + MAX_GAP && q < r.limit() {
                if r.exhausted() {
                    return None;
                }
                if header_at(r, q, info).is_some_and(|(_, _, num)| num == due) {
                    if let Ok(end) = frames(r, info, Pos { at: q, ..p }) {
                        return Some(vec![(0, p.at), (q, end - q)]);
                    }
                }
                q += SECTOR;
            }
            None
        }
        Broke::NoEnd => {
            let (hlen, n, _) = header_at(r, p.at, info)?;
            let reach = reach(info);
            if reach > MAX_JOINED_FRAME {
                return None;
            }
            let after = Pos {
                at: 0,
                samples: p.samples + n,
                frames: p.frames + 1,
            };
            let due = number_at(info, after);
            let mut from = p.at + hlen as u64;
            // Syncs in noise (one in 64 KiB) cost a header check each; only
            // headers numbered as the frame due count as tries.
            let mut tries = 0;
            while tries < MAX_CONTINUATIONS {
                let q = r
                    .find(from, sync)
                    .filter(|&q| q <= p.at + reach + MAX_GAP)?;
                from = q + 1;
                if header_at(r, q, info).is_none_or(|(_, _, num)| num != due) {
                    continue;
                }
                tries += 1;
                let Some((c, g)) = joined(r, p.at, hlen as u64, q, reach) else {
                    continue;
                };
                if let Ok(end) = frames(r, info, Pos { at: q, ..after }) {
                    return Some(vec![(0, c), (c + g, end - c - g)]);
                }
            }
            None
        }
        _ => None,
    }
}

/// The cut `c` and gap `g` that put the frame at `at` (header `hlen` bytes)
/// back together ending at `q`, where the next frame starts: its bytes
/// `[at, c)` and `[c + g, q)` give a CRC-16 of zero, the frame no longer
/// than `reach`. None when no pair fits, or more than one does.
fn joined(r: &mut Reader<'_>, at: u64, hlen: u64, q: u64, reach: u64) -> Option<(u64, u64)> {
    let first = r.sector_from(at + hlen);
    let head_end = (at + reach + 2).min(q);
    if first >= head_end {
        return None;
    }
    let a = r.get(at, (head_end - at) as usize)?.to_vec();
    let tail_from = q.saturating_sub(reach + 2).max(at);
    let b = r.get(tail_from, (q - tail_from) as usize)?.to_vec();
    let mut found = None;
    let mut state = a[..(first - at) as usize]
        .iter()
        .fold(0u16, |c, &x| crc16(c, x));
    let mut c = first;
    while c < head_end {
        // The rest of the frame, at most what its length leaves.
        let left = (reach + 2).saturating_sub(c - at);
        let mut g = SECTOR
            .max((q - c).saturating_sub(left))
            .next_multiple_of(SECTOR);
        // (The second piece may hold none of the frame: a cut between two
        // frames, met as the earlier one's end missing.)
        while c + g <= q {
            if !r.spend(q - c - g) {
                return None;
            }
            let rest = &b[(c + g - tail_from) as usize..];
            if rest.iter().fold(state, |s, &x| crc16(s, x)) == 0 {
                if found.is_some() {
                    return None;
                }
                found = Some((c, g));
            }
            g += SECTOR;
        }
        // The next cut: the sector before it joins the first piece.
        let next = (c + SECTOR).min(head_end);
        state = a[(c - at) as usize..(next - at) as usize]
            .iter()
            .fold(state, |s, &x| crc16(s, x));
        c += SECTOR;
    }
    found
}

#[cfg(test)]
mod tests {
    use super::{crc16, crc8, header, shape, Info};

    /// Raw PCM of `secs` seconds, little-endian signed: tones per channel and
    /// a little noise, scaled to `bps` bits.
    fn pcm(channels: usize, bps: u32, rate: u32, secs: f64, seed: u64) -> Vec<u8> {
        let mut x = seed;
        let mut out = Vec::new();
        let n = (f64::from(rate) * secs) as usize;
        let full = ((1i64 << (bps - 1)) - 1) as f64;
        for i in 0..n {
            for c in 0..channels {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let noise = ((x >> 33) as f64 / f64::from(1u32 << 31) - 0.5) * 0.05;
                let t = i as f64 / f64::from(rate);
                let v = (t * 2.0 * std::f64::consts::PI * (220.0 + 110.0 * c as f64)).sin() * 0.6;
                let s = ((v + noise) * full) as i64;
                out.extend_from_slice(&s.to_le_bytes()[..(bps / 8) as usize]);
            }
        }
        out
    }

    /// Every frame of FLAC streams flac made (1 to 6 channels, 8 to 32 bits,
    /// compression levels 0 to 8, block sizes 192 to 16 384): its length read
    /// from its subframes is where the next frame's header starts, or the
    /// stream's end for the last, and its CRC-16 holds there.
    #[test]
    fn subframes_give_every_frame_length_of_streams_flac_made() {
        let ok = std::process::Command::new("flac").arg("--version").output();
        if !ok.is_ok_and(|o| o.status.success()) {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let cases = [
            (1usize, 8u32, 8000u32, "-0", None),
            (2, 16, 44100, "-5", None),
            (2, 16, 44100, "-8", Some(4608)),
            (2, 16, 48000, "-3", Some(192)),
            (6, 24, 96000, "-8", None),
            (3, 24, 44100, "-1", Some(16384)),
            (2, 32, 44100, "-5", None),
            (1, 16, 22050, "-8", Some(1152)),
        ];
        for (i, (ch, bps, rate, level, bs)) in cases.into_iter().enumerate() {
            let raw = dir.path().join(format!("{i}.raw"));
            let out = dir.path().join(format!("{i}.flac"));
            std::fs::write(&raw, pcm(ch, bps, rate, 0.7, i as u64)).unwrap();
            let mut cmd = std::process::Command::new("flac");
            cmd.args([
                "-s",
                "-f",
                "--force-raw-format",
                "--endian=little",
                "--sign=signed",
            ])
            .arg(format!("--channels={ch}"))
            .arg(format!("--bps={bps}"))
            .arg(format!("--sample-rate={rate}"))
            .arg(level);
            if let Some(b) = bs {
                cmd.arg(format!("--blocksize={b}")).arg("--lax");
            }
            let st = cmd.arg("-o").arg(&out).arg(&raw).status().unwrap();
            if !st.success() {
                // (An older flac without 32-bit input.)
                assert_eq!(bps, 32, "case {i}: flac failed");
                continue;
            }
            let f = std::fs::read(&out).unwrap();
            let si = &f[8..42];
            let info = Info {
                total: 0,
                max_frame: 0,
                variable: false,
                bps: (u32::from(si[12] & 1) << 4 | u32::from(si[13] >> 4)) + 1,
            };
            let mut at = f.windows(2).position(|w| w == [0xFF, 0xF8]).unwrap();
            let mut frames = 0;
            while at < f.len() {
                let (hlen, n, _) = header(&f[at..], &info)
                    .unwrap_or_else(|| panic!("case {i}: no header at {at}"));
                let len = crate::flac_frame::frame_len(&f[at..], hlen, &shape(&f[at..], n, &info))
                    .unwrap_or_else(|| panic!("case {i}: frame {frames} at {at} does not parse"));
                assert_eq!(
                    f[at..at + len].iter().fold(0, |c, &x| crc16(c, x)),
                    0,
                    "case {i}: frame {frames}"
                );
                at += len;
                frames += 1;
            }
            assert_eq!(at, f.len(), "case {i}");
            assert!(frames > 1, "case {i}");
        }
    }

    #[test]
    fn the_flac_crcs_match_their_reference_values() {
        // CRC-8 (0x07, init 0) and CRC-16/UMTS (0x8005, init 0) of "123456789".
        assert_eq!(crc8(b"123456789"), 0xF4);
        assert_eq!(b"123456789".iter().fold(0, |c, &x| crc16(c, x)), 0xFEE8);
    }
}
