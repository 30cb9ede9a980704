//! A FLAC frame's length read from its subframes (RFC 9639 9.2 and 9.3). A
//! frame does not store its length: its end is where its CRC-16 holds. That
//! is enough where another frame follows, but the last frame of a stream has
//! nothing after it, and a CRC-16 of zero is met by chance once in 65 536
//! bytes: a last frame of 10 KiB ends early in one stream in seven. Walking
//! the subframes (their sizes follow from the header, the warm-up samples
//! and the Rice-coded residual) gives the one byte where the frame ends.
//! Nothing is decoded to samples.

/// Bits of `b`, most significant first.
struct Bits<'a> {
    b: &'a [u8],
    /// The next bit, counted from the start of `b`.
    pos: u64,
}

impl Bits<'_> {
    fn left(&self) -> u64 {
        (self.b.len() as u64 * 8).saturating_sub(self.pos)
    }

    fn skip(&mut self, n: u64) -> Option<()> {
        (n <= self.left()).then(|| self.pos += n)
    }

    /// `n` bits (at most 32) as a number.
    fn read(&mut self, n: u32) -> Option<u32> {
        if u64::from(n) > self.left() {
            return None;
        }
        let mut v = 0u32;
        for _ in 0..n {
            let byte = self.b[(self.pos / 8) as usize];
            v = v << 1 | u32::from(byte >> (7 - self.pos % 8) & 1);
            self.pos += 1;
        }
        Some(v)
    }

    /// The zeros before the next one bit (a unary number), and that bit.
    fn unary(&mut self) -> Option<u64> {
        let mut n = 0u64;
        loop {
            let i = (self.pos / 8) as usize;
            let byte = *self.b.get(i)? << (self.pos % 8);
            if byte != 0 {
                let z = u64::from(byte.leading_zeros());
                self.pos += z + 1;
                return Some(n + z);
            }
            let rest = 8 - self.pos % 8;
            n += rest;
            self.pos += rest;
        }
    }
}

/// What a frame's header says its subframes hold.
pub(crate) struct Shape {
    /// Samples per channel.
    pub block: u64,
    /// The channel assignment (the high four bits of the header's fourth byte).
    pub assignment: u8,
    /// Bits per sample.
    pub bps: u32,
}

/// The length of the frame whose header is the first `hlen` bytes of `b`,
/// its CRC-16 footer included; None when its subframes do not parse within
/// `b` (reserved values, or bytes run out).
pub(crate) fn frame_len(b: &[u8], hlen: usize, s: &Shape) -> Option<usize> {
    let mut bits = Bits {
        b,
        pos: hlen as u64 * 8,
    };
    // Independent channels, or a stereo pair with a side channel (one more
    // bit: the difference of two samples).
    let widths: Vec<u32> = match s.assignment {
        a @ 0..=7 => vec![s.bps; usize::from(a) + 1],
        8 | 10 => vec![s.bps, s.bps + 1],
        9 => vec![s.bps + 1, s.bps],
        _ => return None,
    };
    for bps in widths {
        subframe(&mut bits, s.block, bps)?;
    }
    let end = bits.pos.div_ceil(8) as usize + 2;
    (end <= b.len()).then_some(end)
}

fn subframe(bits: &mut Bits<'_>, block: u64, bps: u32) -> Option<()> {
    if bits.read(1)? != 0 {
        return None;
    }
    let kind = bits.read(6)?;
    let mut bps = bps;
    if bits.read(1)? == 1 {
        let wasted = u32::try_from(bits.unary()? + 1).ok()?;
        bps = bps.checked_sub(wasted).filter(|&b| b > 0)?;
    }
    let bps = u64::from(bps);
    match kind {
        // CONSTANT: one sample.
        0 => bits.skip(bps),
        // VERBATIM: every sample as it is.
        1 => bits.skip(block.checked_mul(bps)?),
        // FIXED predictor of order 0 to 4: its warm-up samples, the residual.
        8..=12 => {
            let order = u64::from(kind - 8);
            bits.skip(order * bps)?;
            residual(bits, block, order)
        }
        // LPC of order 1 to 32: warm-up samples, the coefficients' precision
        // and shift, the coefficients, the residual.
        32..=63 => {
            let order = u64::from(kind - 31);
            bits.skip(order * bps)?;
            let precision = bits.read(4)?;
            if precision == 15 {
                return None;
            }
            bits.skip(5)?;
            bits.skip(order * u64::from(precision + 1))?;
            residual(bits, block, order)
        }
        _ => None,
    }
}

/// The Rice-coded residual of a subframe whose predictor has `order` warm-up
/// samples: partitions of equal size (the first less the warm-up), each with
/// its Rice parameter, or an escape and raw samples of a stated width.
fn residual(bits: &mut Bits<'_>, block: u64, order: u64) -> Option<()> {
    let (param_bits, escape) = match bits.read(2)? {
        0 => (4, 15),
        1 => (5, 31),
        _ => return None,
    };
    let po = bits.read(4)?;
    let per = block >> po;
    if per << po != block || per < order {
        return None;
    }
    for i in 0..1u64 << po {
        let n = if i == 0 { per - order } else { per };
        let k = bits.read(param_bits)?;
        if k == escape {
            let width = u64::from(bits.read(5)?);
            bits.skip(n.checked_mul(width)?)?;
            continue;
        }
        for _ in 0..n {
            bits.unary()?;
            bits.skip(u64::from(k))?;
        }
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_verbatim_and_a_constant_subframe_give_the_frame_length() {
        // A header of 6 bytes (not read here), then a stereo pair
        // (independent, 8 bits): channel 0 CONSTANT (8 + 8 bits), channel 1
        // VERBATIM of 4 samples (8 + 32 bits): 56 bits, 7 bytes, then the
        // CRC-16.
        let mut b = vec![0u8; 6];
        b.extend([0x00, 0x7F, 0x02, 1, 2, 3, 4]);
        b.extend([0xAB, 0xCD]);
        let s = Shape {
            block: 4,
            assignment: 1,
            bps: 8,
        };
        assert_eq!(frame_len(&b, 6, &s), Some(15));
        // One byte short of the footer: not there.
        assert_eq!(frame_len(&b[..14], 6, &s), None);
        // A reserved subframe type.
        let mut bad = b.clone();
        bad[6] = 0x04;
        assert_eq!(frame_len(&bad, 6, &s), None);
    }

    #[test]
    fn a_fixed_subframe_reads_its_rice_residual() {
        // Mono, 8 bits, 4 samples, FIXED order 1: 8 warm-up bits, then a
        // residual: method 0, partition order 0, parameter 1, three samples
        // (unary 0 then one bit: "1x" each).
        let mut w = BitWriter::default();
        w.put(0, 1);
        w.put(9, 6); // FIXED, order 1
        w.put(0, 1); // no wasted bits
        w.put(0x55, 8); // warm-up
        w.put(0, 2); // Rice, 4-bit parameters
        w.put(0, 4); // one partition
        w.put(1, 4); // parameter 1
        for _ in 0..3 {
            w.put(1, 1);
            w.put(1, 1);
        }
        let mut b = vec![0u8; 3];
        let body = w.bytes();
        b.extend(&body);
        b.extend([0, 0]);
        let s = Shape {
            block: 4,
            assignment: 0,
            bps: 8,
        };
        assert_eq!(frame_len(&b, 3, &s), Some(3 + body.len() + 2));
    }

    /// Random bytes under every shape a header can state: no panic, and a
    /// length, when one comes, within the bytes.
    #[test]
    fn random_bytes_never_panic_and_lengths_stay_inside() {
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for _ in 0..20_000 {
            let n = (next() % 2048) as usize;
            let b: Vec<u8> = (0..n).map(|_| next() as u8).collect();
            let s = Shape {
                block: 1 + next() % 65_536,
                assignment: (next() % 16) as u8,
                bps: 1 + (next() % 32) as u32,
            };
            let hlen = (next() % 16) as usize;
            if let Some(len) = frame_len(&b, hlen.min(n), &s) {
                assert!(len <= n);
            }
        }
    }

    #[derive(Default)]
    struct BitWriter {
        bits: Vec<bool>,
    }

    impl BitWriter {
        fn put(&mut self, v: u32, n: u32) {
            for i in (0..n).rev() {
                self.bits.push(v >> i & 1 == 1);
            }
        }
        fn bytes(&self) -> Vec<u8> {
            self.bits
                .chunks(8)
                .map(|c| {
                    c.iter()
                        .enumerate()
                        .fold(0u8, |b, (i, &x)| b | u8::from(x) << (7 - i))
                })
                .collect()
        }
    }
}
