//! Standard MIDI file validator (SMF, `.mid`): ringtones, music software.

use crate::{partial, Carver, Reader, Verdict};

/// SMF: `MThd` of length 6 (format 0, 1 or 2; format 0 with one track), then as
/// many `MTrk` chunks as the header counts (other chunk types skipped by their
/// length, as the standard asks), each track's events parsed (delta times,
/// running status, channel messages whose data bytes are below 0x80, meta and
/// SysEx events by their lengths) to an End of Track event that ends exactly at
/// the chunk's end. A gap of foreign bytes inside a track breaks the event
/// syntax or moves the End of Track, so a whole file is `Complete`.
pub struct Midi;

/// Bytes a channel message's status is followed by.
fn data_bytes(status: u8) -> u64 {
    match status & 0xF0 {
        0xC0 | 0xD0 => 1,
        _ => 2,
    }
}

/// A variable-length quantity (at most 4 bytes) at `at`; its value and length.
fn vlq(r: &mut Reader<'_>, at: u64) -> Option<(u64, u64)> {
    let mut v = 0u64;
    for k in 0..4 {
        let b = r.u8(at + k)?;
        v = v << 7 | u64::from(b & 0x7F);
        if b & 0x80 == 0 {
            return Some((v, k + 1));
        }
    }
    None
}

/// Whether the events of a track from `at` to `end` parse and end in End of Track
/// exactly at `end`.
fn track(r: &mut Reader<'_>, mut at: u64, end: u64) -> bool {
    let mut running: Option<u8> = None;
    while at < end {
        if !r.spend(8) {
            return false;
        }
        let Some((_, n)) = vlq(r, at) else {
            return false;
        };
        at += n;
        let Some(s) = r.u8(at) else {
            return false;
        };
        match s {
            0xFF => {
                let (Some(kind), Some((len, n))) = (r.u8(at + 1), vlq(r, at + 2)) else {
                    return false;
                };
                at += 2 + n + len;
                if kind == 0x2F {
                    return len == 0 && at == end;
                }
                running = None;
            }
            0xF0 | 0xF7 => {
                let Some((len, n)) = vlq(r, at + 1) else {
                    return false;
                };
                at += 1 + n + len;
                running = None;
            }
            0x80..=0xEF => {
                running = Some(s);
                at = match data(r, at + 1, data_bytes(s)) {
                    Some(a) => a,
                    None => return false,
                };
            }
            0xF1..=0xFE => return false,
            _ => {
                // Running status: this byte is the first data byte.
                let Some(st) = running else {
                    return false;
                };
                at = match data(r, at, data_bytes(st)) {
                    Some(a) => a,
                    None => return false,
                };
            }
        }
    }
    false
}

/// `n` data bytes at `at`, each below 0x80; where they end.
fn data(r: &mut Reader<'_>, at: u64, n: u64) -> Option<u64> {
    let b = r.get(at, n as usize)?;
    b.iter().all(|&x| x < 0x80).then_some(at + n)
}

impl Carver for Midi {
    fn name(&self) -> &'static str {
        "midi"
    }
    fn extension(&self, _: Option<&'static str>) -> &'static str {
        "mid"
    }
    fn headers(&self) -> &'static [&'static [u8]] {
        &[b"MThd\0\0\0\x06"]
    }
    fn min_size(&self) -> u64 {
        14 + 12
    }
    fn max_size(&self) -> u64 {
        64 << 20
    }
    fn check(&self, r: &mut Reader<'_>) -> Verdict {
        let (Some(format), Some(tracks)) = (r.be16(8), r.be16(10)) else {
            return Verdict::Reject;
        };
        if format > 2 || tracks == 0 || (format == 0 && tracks != 1) {
            return Verdict::Reject;
        }
        let mut at = 14u64;
        let mut seen = 0u16;
        while seen < tracks {
            let Some(c) = r.get(at, 8).map(<[u8]>::to_vec) else {
                return cut(seen, at, "the file breaks off in a chunk header");
            };
            let len = u64::from(u32::from_be_bytes([c[4], c[5], c[6], c[7]]));
            if !c[..4].iter().all(|b| b.is_ascii_alphanumeric()) {
                return cut(seen, at, "a chunk header is not one");
            }
            if &c[..4] == b"MTrk" {
                if !track(r, at + 8, at + 8 + len) {
                    return cut(
                        seen,
                        at,
                        "a track's events do not parse to End of Track at its end",
                    );
                }
                seen += 1;
            }
            at += 8 + len;
            if !r.spend(32) {
                return partial(at, "too many chunks");
            }
        }
        Verdict::Complete {
            len: at,
            subtype: None,
        }
    }
}

fn cut(seen: u16, at: u64, why: &str) -> Verdict {
    if seen == 0 {
        Verdict::Reject
    } else {
        partial(at, why)
    }
}
