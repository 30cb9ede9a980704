//! MP3 validator: MPEG-1, MPEG-2 and MPEG-2.5 Layer III streams, with their ID3
//! tags.

use crate::{Carver, Reader, Verdict, SECTOR};

/// MP3: an optional ID3v2 tag (its syncsafe size places the audio), then
/// Layer III frames, each header valid (no reserved or free bitrate, no reserved
/// sample rate or emphasis) and of the first frame's version and sample rate, its
/// length from bitrate, sample rate and padding placing the next; at least
/// `MIN_FRAMES` of them, then an optional ID3v1 tag. Frames carry no checksum
/// (the optional CRC-16 covers only side information): a whole stream is
/// `carved-unverified-contiguous`, and where it ends is where the frames stop.
pub struct Mp3;

/// Frames a stream must have before it is believed (random bytes hold a frame
/// header every few kilobytes, and their chains break within a frame or two).
const MIN_FRAMES: u32 = 8;

/// Layer III bitrates in kbit/s by index, MPEG-1 and MPEG-2/2.5.
const RATES_1: [u32; 15] = [
    0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320,
];
const RATES_2: [u32; 15] = [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160];

/// A Layer III frame header: (its length in bytes, version, sample rate index).
fn frame(h: &[u8]) -> Option<(u64, u8, u8)> {
    if h.len() < 4 || h[0] != 0xFF || h[1] & 0xE0 != 0xE0 {
        return None;
    }
    let version = (h[1] >> 3) & 3;
    let layer = (h[1] >> 1) & 3;
    let (bitrate, rate, pad) = (h[2] >> 4, (h[2] >> 2) & 3, u64::from((h[2] >> 1) & 1));
    if version == 1 || layer != 1 || bitrate == 0 || bitrate == 15 || rate == 3 || h[3] & 3 == 2 {
        return None;
    }
    let hz = [44_100u64, 48_000, 32_000][usize::from(rate)]
        >> match version {
            3 => 0,
            2 => 1,
            _ => 2,
        };
    let (kbps, per) = if version == 3 {
        (RATES_1[usize::from(bitrate)], 144)
    } else {
        (RATES_2[usize::from(bitrate)], 72)
    };
    Some((per * u64::from(kbps) * 1000 / hz + pad, version, rate))
}

impl Carver for Mp3 {
    fn name(&self) -> &'static str {
        "mp3"
    }
    fn extension(&self, _: Option<&'static str>) -> &'static str {
        "mp3"
    }
    fn headers(&self) -> &'static [&'static [u8]] {
        // ID3v2.2-2.4, or a Layer III frame of MPEG-1, -2 or -2.5 (CRC or not).
        &[
            b"ID3\x02",
            b"ID3\x03",
            b"ID3\x04",
            b"\xFF\xFB",
            b"\xFF\xFA",
            b"\xFF\xF3",
            b"\xFF\xF2",
            b"\xFF\xE3",
            b"\xFF\xE2",
        ]
    }
    fn min_size(&self) -> u64 {
        u64::from(MIN_FRAMES) * 24
    }
    fn max_size(&self) -> u64 {
        1 << 31
    }
    fn check(&self, r: &mut Reader<'_>) -> Verdict {
        let mut audio = 0u64;
        if let Some(id3) = r
            .get(0, 10)
            .filter(|h| h.starts_with(b"ID3"))
            .map(<[u8]>::to_vec)
        {
            if id3[6..10].iter().any(|&b| b & 0x80 != 0) || id3[5] & 0x0F != 0 {
                return Verdict::Reject;
            }
            let size = id3[6..10].iter().fold(0u64, |v, &b| v << 7 | u64::from(b));
            let footer = if id3[5] & 0x10 != 0 { 10 } else { 0 };
            audio = 10 + size + footer;
        } else if !r.start().is_multiple_of(SECTOR) {
            // Untagged frames start a file only where a file can start: frames
            // met inside other data are the rest of a stream (in pieces).
            return Verdict::Reject;
        }
        let Some(first) = r.get(audio, 4).and_then(frame) else {
            return Verdict::Reject;
        };
        let (version, rate) = (first.1, first.2);
        let ends = info_bytes(r, audio)
            .map(|n| [audio + n, n])
            .unwrap_or_default();
        let c = chain(r, audio, (version, rate), &ends);
        if c.frames < MIN_FRAMES {
            return Verdict::Reject;
        }
        let mut at = c.end;
        let wanted = ends.iter().copied().filter(|&e| e > audio).min();
        if wanted.is_some_and(|w| at < w && !ends.contains(&at)) {
            // The Xing/Info header says the stream runs on: it broke at a
            // sector boundary before the frame that failed.
            let cut = r.sector_before(at);
            if cut > audio {
                // Either reading of the stated length (with or without the ID3v2 tag).
                for want in ends.iter().copied().filter(|&e| e > cut) {
                    if let Some(f) = rest_after_gap(r, cut, c.end, (version, rate), want) {
                        return Verdict::Fragmented {
                            fragments: f,
                            subtype: None,
                        };
                    }
                }
                return Verdict::Partial {
                    len: cut,
                    why: "the frames stop before the length the stream's Xing/Info header gives"
                        .into(),
                    subtype: None,
                };
            }
        }
        if r.get(at, 3) == Some(b"TAG") && at + 128 <= r.limit() {
            at += 128;
        }
        Verdict::Unverified {
            len: at,
            subtype: None,
        }
    }
}

/// How far past a break the rest of a stream is looked for.
const GAP_MAX: u64 = 4 << 20;

/// Where a chain of frames ran: the end of its last frame, and how many
/// frames.
struct Chain {
    end: u64,
    frames: u32,
}

/// Follows frames of one version and sample rate from `at`, stopping at the
/// first that is not one or at an end in `stop` (a length the stream states).
fn chain(r: &mut Reader<'_>, mut at: u64, kind: (u8, u8), stop: &[u64]) -> Chain {
    let mut c = Chain { end: at, frames: 0 };
    while let Some((len, v, s)) = r.get(at, 4).and_then(frame) {
        if (v, s) != kind || at + len > r.limit() {
            break;
        }
        c.frames += 1;
        at += len;
        c.end = at;
        if stop.contains(&at) {
            break;
        }
    }
    c
}

/// The stream's length in bytes from a Xing or Info header (LAME and most
/// encoders write one in the first frame), if there is one. Encoders differ
/// on whether it counts an ID3v2 tag, so both readings are tried.
fn info_bytes(r: &mut Reader<'_>, audio: u64) -> Option<u64> {
    let h = r.get(audio, 4)?.to_vec();
    let mono = h[3] >> 6 == 3;
    let side = match ((h[1] >> 3) & 3 == 3, mono) {
        (true, true) => 17,
        (true, false) => 32,
        (false, true) => 9,
        (false, false) => 17,
    };
    let crc = if h[1] & 1 == 0 { 2 } else { 0 };
    let at = audio + 4 + crc + side;
    let tag = r.get(at, 16)?.to_vec();
    if &tag[..4] != b"Xing" && &tag[..4] != b"Info" {
        return None;
    }
    let flags = u32::from_be_bytes(tag[4..8].try_into().ok()?);
    if flags & 2 == 0 {
        return None;
    }
    let field = if flags & 1 != 0 { 12 } else { 8 };
    let n = u64::from(u32::from_be_bytes(tag[field..field + 4].try_into().ok()?));
    (n > 4).then_some(n)
}

/// The rest of a stream broken at `cut` (its frames chained to `next`, where
/// the header that failed was looked for), looked for at sector boundaries up
/// to `GAP_MAX` on: the frame the cut split must continue there with a frame
/// header where its length puts one, and frames from there must end exactly at `want`, the length
/// the stream states (then an ID3v1 tag, if one follows, is the file's). The
/// nearest such place is taken.
fn rest_after_gap(
    r: &mut Reader<'_>,
    cut: u64,
    next: u64,
    kind: (u8, u8),
    want: u64,
) -> Option<Vec<(u64, u64)>> {
    // The next header's offset past the continuation's start (`cut` is the
    // sector boundary at or before `next`).
    let into = next - cut;
    let mut gap = SECTOR;
    while gap <= GAP_MAX && cut + gap + (want - cut) <= r.limit() {
        let at = cut + gap + into;
        if r.get(at, 4)
            .and_then(frame)
            .is_some_and(|f| (f.1, f.2) == kind)
        {
            let end = cut + gap + (want - cut);
            let c = chain(r, at, kind, &[end]);
            if c.end == end {
                // An ID3v1 tag after the frames is the file's too.
                let tag = if r.get(end, 3) == Some(b"TAG") && end + 128 <= r.limit() {
                    128
                } else {
                    0
                };
                return Some(vec![(0, cut), (cut + gap, want - cut + tag)]);
            }
        }
        if r.exhausted() {
            return None;
        }
        gap += SECTOR;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::frame;

    #[test]
    fn frame_lengths_follow_bitrate_and_sample_rate() {
        // MPEG-1 Layer III, 128 kbit/s, 44.1 kHz: 417 bytes, 418 padded.
        assert_eq!(frame(&[0xFF, 0xFB, 0x90, 0x00]), Some((417, 3, 0)));
        assert_eq!(frame(&[0xFF, 0xFB, 0x92, 0x00]), Some((418, 3, 0)));
        // MPEG-2 Layer III, 64 kbit/s, 22.05 kHz: 208 bytes.
        assert_eq!(frame(&[0xFF, 0xF3, 0x80, 0x00]), Some((208, 2, 0)));
        // Free bitrate, reserved sample rate, Layer I: not frames here.
        assert_eq!(frame(&[0xFF, 0xFB, 0x00, 0x00]), None);
        assert_eq!(frame(&[0xFF, 0xFB, 0x9C, 0x00]), None);
        assert_eq!(frame(&[0xFF, 0xFF, 0x90, 0x00]), None);
    }
}
