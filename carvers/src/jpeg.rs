//! JPEG: SOI, then marker segments (each with its length) up to SOS; the
//! entropy-coded data that follows may contain only stuffed 0xFF 0x00 and restart
//! markers until the next real marker; EOI ends the file. A frame header (SOF) and a
//! scan (SOS) must both be seen, so stray FF D8 FF bytes do not pass.

use crate::{Carver, Reader, Verdict};

pub struct Jpeg;

impl Carver for Jpeg {
    fn name(&self) -> &'static str {
        "jpeg"
    }
    fn extension(&self, _: Option<&'static str>) -> &'static str {
        "jpg"
    }
    fn headers(&self) -> &'static [&'static [u8]] {
        &[b"\xFF\xD8\xFF"]
    }
    fn min_size(&self) -> u64 {
        125
    }
    fn max_size(&self) -> u64 {
        64 << 20
    }

    fn check(&self, r: &mut Reader<'_>) -> Verdict {
        let mut off = 2u64;
        let (mut sof, mut sos) = (false, false);
        // A damaged length can move `off` past the data; a prefix never exceeds it.
        let limit = r.limit();
        let partial = |len: u64, why: &str| Verdict::Partial {
            len: len.min(limit),
            why: why.into(),
            subtype: None,
        };
        loop {
            let Some(ff) = r.u8(off) else {
                return if sos {
                    partial(off, "ends before EOI")
                } else {
                    Verdict::Reject
                };
            };
            if ff != 0xFF {
                return if sos {
                    partial(off, "marker expected")
                } else {
                    Verdict::Reject
                };
            }
            // Fill bytes.
            let mut m = match r.u8(off + 1) {
                Some(m) => m,
                None => {
                    return if sos {
                        partial(off, "ends before EOI")
                    } else {
                        Verdict::Reject
                    }
                }
            };
            while m == 0xFF {
                off += 1;
                m = match r.u8(off + 1) {
                    Some(m) => m,
                    None => return Verdict::Reject,
                };
            }
            match m {
                0xD9 => {
                    return if sof && sos {
                        Verdict::Complete {
                            len: off + 2,
                            subtype: None,
                        }
                    } else {
                        Verdict::Reject
                    };
                }
                0x01 | 0xD0..=0xD7 => {
                    off += 2;
                    continue;
                }
                0x00 | 0xD8 => {
                    return if sos {
                        partial(off, "invalid marker")
                    } else {
                        Verdict::Reject
                    }
                }
                _ => {}
            }
            let Some(len) = r.be16(off + 2) else {
                return if sos {
                    partial(off, "cut inside a marker")
                } else {
                    Verdict::Reject
                };
            };
            if len < 2 {
                return if sos {
                    partial(off, "marker length below 2")
                } else {
                    Verdict::Reject
                };
            }
            if matches!(m, 0xC0..=0xC3 | 0xC5..=0xC7 | 0xC9..=0xCB | 0xCD..=0xCF) {
                sof = true;
            }
            off += 2 + u64::from(len);
            if m != 0xDA {
                continue;
            }
            sos = true;
            // Entropy-coded data: scan to the next marker that is not stuffing or RSTn.
            loop {
                let Some(b) = r.u8(off) else {
                    return partial(off, "entropy-coded data cut off");
                };
                if b != 0xFF {
                    off += 1;
                    continue;
                }
                let Some(n) = r.u8(off + 1) else {
                    return partial(off, "entropy-coded data cut off");
                };
                match n {
                    0x00 | 0xD0..=0xD7 => off += 2,
                    0xFF => off += 1,
                    _ => break,
                }
            }
            if r.unreadable > 0 {
                return partial(off, "unreadable sectors inside");
            }
        }
    }
}
