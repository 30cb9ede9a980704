//! AAC in ADTS framing (`.aac`): what phones' voice recorders, radio streams and
//! ffmpeg write as raw AAC.

use crate::{Carver, Reader, Verdict};

/// ADTS: a chain of frames, each a 7-byte header (9 with its CRC) whose 13-bit
/// `frame_length` covers the header and places the next frame. Every header has
/// the sync word, layer 0, a sample-rate index of the table (0–12), and the
/// first frame's MPEG version, profile, sample rate and channel configuration; at
/// least `MIN_FRAMES` of them. Frames carry no checksum over the audio (the
/// optional CRC covers a few bits): a whole stream is
/// `carved-unverified-contiguous`, ending where the frames stop.
pub struct Adts;

/// Frames a stream must have before it is believed: a chance header in random
/// bytes is followed by another at its stated length one time in thousands.
const MIN_FRAMES: u32 = 8;

/// The fields every frame of one stream shares, and the frame's length.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
struct Frame {
    len: u64,
    /// MPEG version, profile, sample-rate index, channel configuration.
    kind: (u8, u8, u8, u8),
}

fn frame(h: &[u8]) -> Option<Frame> {
    if h.len() < 7 || h[0] != 0xFF || h[1] & 0xF6 != 0xF0 {
        return None;
    }
    let crc = h[1] & 1 == 0;
    let profile = h[2] >> 6;
    let rate = (h[2] >> 2) & 0x0F;
    let channels = ((h[2] & 1) << 2) | (h[3] >> 6);
    if rate > 12 {
        return None;
    }
    let len = (u64::from(h[3] & 3) << 11) | (u64::from(h[4]) << 3) | u64::from(h[5] >> 5);
    if len < if crc { 9 } else { 7 } + 1 {
        return None;
    }
    Some(Frame {
        len,
        kind: ((h[1] >> 3) & 1, profile, rate, channels),
    })
}

impl Carver for Adts {
    fn name(&self) -> &'static str {
        "aac"
    }
    fn extension(&self, _: Option<&'static str>) -> &'static str {
        "aac"
    }
    fn headers(&self) -> &'static [&'static [u8]] {
        // Sync word, MPEG-4 or MPEG-2, layer 0, with or without a CRC.
        &[b"\xFF\xF1", b"\xFF\xF9", b"\xFF\xF0", b"\xFF\xF8"]
    }
    fn min_size(&self) -> u64 {
        u64::from(MIN_FRAMES) * 8
    }
    fn max_size(&self) -> u64 {
        1 << 31
    }
    fn check(&self, r: &mut Reader<'_>) -> Verdict {
        let Some(first) = r.get(0, 7).and_then(frame) else {
            return Verdict::Reject;
        };
        let mut at = first.len;
        let mut frames = 1u32;
        while let Some(f) = r.get(at, 7).and_then(frame) {
            if f.kind != first.kind || at + f.len > r.limit() {
                break;
            }
            frames += 1;
            at += f.len;
        }
        if frames < MIN_FRAMES || at > r.limit() {
            return Verdict::Reject;
        }
        Verdict::Unverified {
            len: at,
            subtype: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{frame, Frame};

    #[test]
    fn headers_give_length_and_kind() {
        // MPEG-4, no CRC, AAC LC (profile 1), 44.1 kHz (index 4), stereo, 371 bytes.
        let len: u16 = 371;
        let h = [
            0xFF,
            0xF1,
            0x50,
            0x80 | (len >> 11) as u8,
            (len >> 3) as u8,
            ((len & 7) << 5) as u8 | 0x1F,
            0xFC,
        ];
        assert_eq!(
            frame(&h),
            Some(Frame {
                len: 371,
                kind: (0, 1, 4, 2)
            })
        );
        // A reserved sample-rate index, a layer other than 0, a length shorter
        // than the header: not frames.
        assert_eq!(frame(&[0xFF, 0xF1, 0x74, 0x80, 0x2E, 0x7F, 0xFC]), None);
        assert_eq!(frame(&[0xFF, 0xF3, 0x50, 0x80, 0x2E, 0x7F, 0xFC]), None);
        assert_eq!(frame(&[0xFF, 0xF1, 0x50, 0x80, 0x00, 0xDF, 0xFC]), None);
    }
}
