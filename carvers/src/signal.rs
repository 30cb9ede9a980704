//! Continuity of sampled signals: PCM audio and uncompressed raster pixels.
//!
//! Neither carries a checksum, so a WAV or BMP carved contiguous across a gap
//! passes every structural check. But natural sound and images are smooth: a
//! sample differs little from its neighbour. Foreign data that a gap holds is
//! most often compressed or encrypted (photos, archives, video), whose bytes
//! look like noise: neighbouring "samples" differ by a third of their range on
//! average. A sector far rougher than the file's own typical sector is not the
//! file's. Where the roughness is clear-cut, the file is cut there, or, when
//! the rough run ends and the signal resumes as smooth as before for exactly
//! the bytes the header still owes, put together from its two pieces.
//!
//! This never upgrades a file to validated: a gap holding zeros or another
//! recording is as smooth as the file, so a file with no rough sector stays
//! `carved-unverified-contiguous`.

use crate::{Reader, SECTOR};

/// Where a file's samples lie and how to read one.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Signal {
    /// The samples' span, from the candidate's start: `[at, end)`.
    pub(crate) at: u64,
    pub(crate) end: u64,
    /// Bytes from a sample to its neighbour in the same channel (PCM: the frame;
    /// pixels: the pixel).
    pub(crate) step: usize,
    /// Bytes of one sample value (channel of a pixel: 1).
    pub(crate) width: usize,
    pub(crate) big_endian: bool,
    /// Whether values are signed (PCM of 16 bits and more) or unsigned (8-bit
    /// PCM, pixel channels).
    pub(crate) signed: bool,
    /// Colour pixels (blue, green, red first in each step): their colour, not
    /// only their brightness, must change as roughly as noise's for a sector
    /// to be foreign.
    pub(crate) pixels: bool,
}

/// What the samples say about the carve.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Continuity {
    /// No sector stands out (nothing proves the file whole, either).
    Smooth,
    /// The file's own samples are too rough to tell foreign data from them.
    Undecided,
    /// Foreign data from `at` (a sector boundary): the file is whole only up to there.
    Cut { at: u64 },
    /// `gap` foreign bytes at `at`, then the rest of the file, as smooth as its
    /// start and running exactly to the declared end plus the gap.
    Gap { at: u64, gap: u64 },
}

/// The longest run of foreign sectors searched across.
const MAX_GAP: u64 = 4 << 20;
/// The longest span of samples measured (a sector's texture is kept for each,
/// so this bounds the memory a declared size can ask for).
const MAX_SPAN: u64 = 1 << 30;
/// The widest frame or pixel read (16 channels of 32 bits): wider ones are
/// rare, and a sector would hold too few of them to judge.
const MAX_STEP: usize = 64;
/// Sectors a decision needs: fewer say too little about the file's texture.
const MIN_SECTORS: usize = 8;
/// Roughness is a fraction of what random bytes give (1.0): a file whose median
/// sector is rougher than this is noise-like itself, and nothing is concluded.
/// Pixels may be rougher (a detailed photo), since their colour tells noise
/// apart on its own.
const FILE_MAX: f32 = 0.10;
const FILE_MAX_PIXELS: f32 = 0.25;
/// A sector is foreign when at least this rough, `FACTOR` times the file's
/// median, its bytes take at least `DISTINCT` values (random bytes take about
/// 221 of 256 in a sector), and fewer than `CALM` of its steps are small (a
/// 32nd of the range: random values make about 6 % of them). Sharp content
/// (the text of a screenshot or a diagram: black to white and back, with a
/// JPEG's ringing around each stroke) is rough too, but most of its steps
/// are still small.
const FLOOR: f32 = 0.40;
const FACTOR: f32 = 6.0;
const DISTINCT: u16 = 160;
const CALM: f32 = 0.15;
/// Pixels: the colour (green less blue, green less red) changes from pixel to
/// pixel by about 119 levels in random bytes, and by at most about 60 in the
/// sharpest colour diagram; a sector is foreign only at this much or more,
/// and the file's own only below `CHROMA_OWN`.
const CHROMA: f32 = 80.0;
const CHROMA_OWN: f32 = 64.0;

/// What a sector of samples looks like.
#[derive(Clone, Copy, Debug)]
struct Texture {
    /// Mean absolute difference of neighbouring samples, as a fraction of what
    /// independent uniform random values give.
    rough: f32,
    /// Distinct byte values in the sector.
    distinct: u16,
    /// The fraction of steps smaller than a 32nd of the range.
    calm: f32,
    /// Pixels: the mean change of colour from pixel to pixel (0 for samples).
    chroma: f32,
    /// Every byte is printable ASCII or a line break or tab: text, such as
    /// a gap may hold after noise.
    printable: bool,
}

impl Signal {
    /// The sample value at `i` in `b` (most significant 16 bits, or the byte).
    fn value(&self, b: &[u8], i: usize) -> i32 {
        if self.width == 1 {
            return if self.signed {
                i32::from(b[i] as i8)
            } else {
                i32::from(b[i])
            };
        }
        let (hi, lo) = if self.big_endian {
            (b[i], b[i + 1])
        } else {
            (b[i + self.width - 1], b[i + self.width - 2])
        };
        let v = u16::from_be_bytes([hi, lo]);
        if self.signed {
            i32::from(v as i16)
        } else {
            i32::from(v)
        }
    }

    /// The texture of the samples in `b` (at multiples of `width` from
    /// `first`), each against the one `step` bytes before it. None: fewer
    /// than two samples, or a constant run (zeros say nothing either way).
    fn texture(&self, b: &[u8], first: usize) -> Option<Texture> {
        if first >= b.len() {
            return None;
        }
        let mut sum = 0u64;
        let mut n = 0u64;
        let mut small = 0u64;
        let step_small = if self.width == 1 { 8 } else { 2048 };
        let (mut lo, mut hi) = (i32::MAX, i32::MIN);
        let mut i = first + self.step;
        while i + self.width <= b.len() {
            let (v, u) = (self.value(b, i), self.value(b, i - self.step));
            let d = v.abs_diff(u);
            sum += u64::from(d);
            small += u64::from(d < step_small);
            lo = lo.min(v);
            hi = hi.max(v);
            n += 1;
            i += self.width;
        }
        if n < 2 || lo == hi {
            return None;
        }
        let mut seen = [false; 256];
        for &x in &b[first..] {
            seen[usize::from(x)] = true;
        }
        let printable = b[first..]
            .iter()
            .all(|&x| (0x20..0x7F).contains(&x) || matches!(x, b'\t' | b'\n' | b'\r'));
        let mut chroma = 0.0;
        if self.pixels && self.step >= 3 {
            let colour = |p: usize| {
                let (b0, g, r) = (i32::from(b[p]), i32::from(b[p + 1]), i32::from(b[p + 2]));
                (g - b0, g - r)
            };
            let (mut sum, mut n) = (0u64, 0u64);
            let mut p = first + self.step;
            while p + 3 <= b.len() {
                let (a, c) = (colour(p), colour(p - self.step));
                sum += u64::from(a.0.abs_diff(c.0) + a.1.abs_diff(c.1));
                n += 2;
                p += self.step;
            }
            chroma = sum as f32 / n.max(1) as f32;
        }
        let random = if self.width == 1 { 85.33 } else { 21845.33 };
        Some(Texture {
            rough: sum as f32 / n as f32 / random,
            distinct: seen.iter().filter(|&&x| x).count() as u16,
            calm: small as f32 / n as f32,
            chroma,
            printable,
        })
    }

    /// The texture of the sector at `s` (a sector boundary, from the
    /// candidate's start), its first samples compared with those `step` bytes
    /// back, on the grid of frames or pixels that starts `shift` bytes after
    /// the samples do (the rest of a file in pieces lies a gap further on).
    /// None: past what can be read.
    fn sector(&self, r: &mut Reader<'_>, s: u64, shift: u64) -> Option<Option<Texture>> {
        let origin = self.at + shift;
        let from = s.saturating_sub(self.step as u64).max(origin);
        // The first frame or pixel at or after `from` (a BMP's row padding
        // shifts its grid a little; neighbours stay neighbours).
        let w = self.step as u64;
        let first = from + (w - (from - origin) % w) % w;
        let b = r.get(first, (s + SECTOR).checked_sub(first)? as usize)?;
        Some(self.texture(b, 0))
    }

    /// Clearly noise: rough, varied, with few small steps, and for pixels
    /// with a colour as rough as noise's.
    fn noise(&self, t: &Texture) -> bool {
        t.rough >= FLOOR
            && t.distinct >= DISTINCT
            && t.calm < CALM
            && (!self.pixels || t.chroma >= CHROMA)
    }
}

/// The file's texture, from the sectors before the first that looks foreign.
struct Baseline {
    median: f32,
}

impl Baseline {
    /// Far rougher than the file (samples; for pixels, noise's colour
    /// suffices).
    fn foreign(&self, s: &Signal, t: &Texture) -> bool {
        s.noise(t) && (s.pixels || t.rough >= FACTOR * self.median)
    }

    /// Text: all printable, and rougher than the file (a smooth mid-tone
    /// region may be printable too, but not rough).
    fn text(&self, t: &Texture) -> bool {
        t.printable && t.rough >= 3.0 * self.median
    }

    /// Of the file's own texture: not text, no rougher than the file allows,
    /// and for pixels with a colour no rougher than drawings have.
    fn own(&self, s: &Signal, t: &Texture) -> bool {
        !self.text(t) && t.rough < FACTOR * self.median && (!s.pixels || t.chroma < CHROMA_OWN)
    }
}

/// Checks the samples sector by sector for data that is not the file's.
pub(crate) fn continuity(r: &mut Reader<'_>, s: &Signal) -> Continuity {
    if s.step == 0
        || s.width == 0
        || s.width > s.step
        || s.width > 4
        || s.step > MAX_STEP
        || s.end.saturating_sub(s.at) > MAX_SPAN
    {
        return Continuity::Undecided;
    }
    // Whole sectors of the image inside the samples, each with a full step of
    // samples before it, in order up to the first that is noise. The file's
    // texture is the median of those before it (after a gap, a grid of frames
    // that the gap does not keep would make the rest look rough).
    let first = r.sector_from(s.at + s.step as u64);
    let end = s.end.min(r.limit());
    let mut rough: Vec<f32> = Vec::new();
    // The first of the constant sectors right before this one.
    let mut constant_from: Option<u64> = None;
    let mut at = first;
    let (cut, base) = loop {
        if at + SECTOR > end {
            return if rough.len() >= MIN_SECTORS && median(&mut rough) <= file_max(s) {
                Continuity::Smooth
            } else {
                Continuity::Undecided
            };
        }
        match s.sector(r, at, 0) {
            None => return Continuity::Undecided,
            Some(None) => {
                constant_from.get_or_insert(at);
            }
            Some(Some(t)) if s.noise(&t) => {
                if rough.len() < MIN_SECTORS {
                    return Continuity::Undecided;
                }
                let base = Baseline {
                    median: median(&mut rough),
                };
                if base.median > file_max(s) || !base.foreign(s, &t) {
                    return Continuity::Undecided;
                }
                // Constant sectors (zeros, say) right before the rough one
                // may be the gap's start as well as the file's: the seam is
                // not clear, and the cut goes before them.
                if let Some(z) = constant_from {
                    return Continuity::Cut { at: z };
                }
                break (at, base);
            }
            Some(Some(t)) => {
                constant_from = None;
                rough.push(t.rough);
            }
        }
        at += SECTOR;
    };
    // The gap: the run of foreign sectors (noise, then maybe text), looked at
    // past the declared end too (the rest lies beyond it by the gap's
    // length). It must end in a sector of the file's own texture on the
    // file's grid: a constant or middling one may be the gap's as well.
    let mut gap_end = cut;
    loop {
        if gap_end - cut > MAX_GAP {
            return Continuity::Cut { at: cut };
        }
        let Some(t) = s.sector(r, gap_end, 0) else {
            return Continuity::Cut { at: cut };
        };
        if t.is_some_and(|t| base.foreign(s, &t) || base.text(&t)) {
            gap_end += SECTOR;
            continue;
        }
        let shifted = s.sector(r, gap_end, gap_end - cut).flatten();
        if !shifted.is_some_and(|t| base.own(s, &t)) {
            return Continuity::Cut { at: cut };
        }
        break;
    }
    let gap = gap_end - cut;
    // The rest, sector by sector, of the file's own texture (or constant).
    let rest_end = s.end + gap;
    let mut at = gap_end + SECTOR;
    while at + SECTOR <= rest_end {
        match s.sector(r, at, gap) {
            Some(None) => {}
            Some(Some(t)) if base.own(s, &t) => {}
            _ => return Continuity::Cut { at: cut },
        }
        at += SECTOR;
    }
    // The seam itself: the samples either side of the gap, joined.
    let before = cut.saturating_sub(SECTOR / 2).max(s.at);
    let (Some(a), Some(b)) = (
        r.get(before, (cut - before) as usize).map(<[u8]>::to_vec),
        r.get(gap_end, (SECTOR / 2) as usize).map(<[u8]>::to_vec),
    ) else {
        return Continuity::Cut { at: cut };
    };
    let joined = [a, b].concat();
    let w = s.step as u64;
    let skip = ((w - (before - s.at) % w) % w) as usize;
    if !s.texture(&joined, skip).is_some_and(|t| base.own(s, &t)) {
        return Continuity::Cut { at: cut };
    }
    Continuity::Gap { at: cut, gap }
}

fn file_max(s: &Signal) -> f32 {
    if s.pixels {
        FILE_MAX_PIXELS
    } else {
        FILE_MAX
    }
}

fn median(v: &mut [f32]) -> f32 {
    v.sort_by(f32::total_cmp);
    v[v.len() / 2]
}

#[cfg(test)]
mod tests {
    use super::{continuity, Continuity, Signal, SECTOR};
    use crate::Reader;
    use dredge_core::ImageSource;
    use dredge_image::{MemDevice, Sectored};

    /// Noise, as compressed data looks.
    fn noise(n: usize, seed: u64) -> Vec<u8> {
        dredge_testkit::Rng::new(seed).bytes(n)
    }

    /// 16-bit mono PCM: a 440 Hz tone at 44.1 kHz, `n` bytes.
    fn tone(n: usize) -> Vec<u8> {
        (0..n / 2)
            .flat_map(|i| {
                let t = i as f64 / 44_100.0;
                (((t * 440.0 * std::f64::consts::TAU).sin() * 6000.0) as i16).to_le_bytes()
            })
            .collect()
    }

    const PCM: Signal = Signal {
        at: 0,
        end: 0,
        step: 2,
        width: 2,
        big_endian: false,
        signed: true,
        pixels: false,
    };

    /// The verdict on `file` laid at 0 of an image whose bytes after it are
    /// `after`, its samples declared to be `len` bytes.
    fn judge(img: &[u8], len: u64, s: Signal) -> Continuity {
        let src = Sectored::new(MemDevice::new(img.to_vec()));
        let mut r = Reader::new(&src as &dyn ImageSource, 0, img.len() as u64);
        continuity(&mut r, &Signal { end: len, ..s })
    }

    #[test]
    fn a_noise_gap_is_found_and_the_rest_after_it() {
        let file = tone(400 * 512);
        assert_eq!(judge(&file, file.len() as u64, PCM), Continuity::Smooth);
        // Two pieces, 10 sectors of noise between.
        let (k, gap) = (150 * 512, 10 * 512);
        let mut img = file[..k].to_vec();
        img.extend(noise(gap, 7));
        img.extend(&file[k..]);
        img.extend(noise(4096, 8));
        assert_eq!(
            judge(&img, file.len() as u64, PCM),
            Continuity::Gap {
                at: k as u64,
                gap: gap as u64
            }
        );
        // The image ends before the rest does: cut where the noise begins.
        let short = &img[..img.len() - 4096 - 20 * 512];
        assert_eq!(
            judge(short, file.len() as u64, PCM),
            Continuity::Cut { at: k as u64 }
        );
    }

    #[test]
    fn zeros_before_the_noise_put_the_cut_before_them() {
        let file = tone(300 * 512);
        let k = 100 * 512;
        let mut img = file[..k].to_vec();
        img.extend(vec![0; 3 * SECTOR as usize]);
        img.extend(noise(5 * 512, 9));
        img.extend(&file[k..]);
        assert_eq!(
            judge(&img, file.len() as u64, PCM),
            Continuity::Cut { at: k as u64 }
        );
    }

    #[test]
    fn a_gap_ending_in_data_of_another_texture_is_only_a_cut() {
        // The noise is followed by text: where the file resumes is not clear.
        let file = tone(300 * 512);
        let k = 120 * 512;
        let mut img = file[..k].to_vec();
        img.extend(noise(4 * 512, 10));
        img.extend(b"the ledger of the vessel, line after line\n".repeat(30));
        img.extend(&file[k..]);
        assert_eq!(
            judge(&img, file.len() as u64, PCM),
            Continuity::Cut { at: k as u64 }
        );
    }

    #[test]
    fn sharp_few_valued_pixels_and_noise_like_files_are_not_cut() {
        // A screenshot's worth of 24-bit pixels: white, with a band of "text"
        // (black and white pixels at random) in the middle.
        let bits = noise(200 * 512, 11);
        let mut px = vec![0xFFu8; 200 * 512];
        for (i, b) in px.iter_mut().enumerate().skip(90 * 512).take(20 * 512) {
            if bits[i / 3] & 1 == 0 {
                *b = 0;
            }
        }
        // A little texture in the white, so the median is of smooth sectors.
        for (i, b) in px.iter_mut().enumerate() {
            if i % 97 == 0 {
                *b = 0xFE;
            }
        }
        let rgb = Signal {
            step: 3,
            width: 1,
            signed: false,
            pixels: true,
            ..PCM
        };
        assert_eq!(judge(&px, px.len() as u64, rgb), Continuity::Smooth);
        // Noise all through: nothing can be said.
        let n = noise(200 * 512, 12);
        assert_eq!(judge(&n, n.len() as u64, PCM), Continuity::Undecided);
    }

    #[test]
    fn any_layout_on_any_bytes_never_panics() {
        // Frames of every width, spans past the data, smooth and noisy bytes.
        let mut data = tone(64 * 512);
        data.extend(noise(32 * 512, 13));
        data.extend(tone(64 * 512));
        for step in 0..=70 {
            for width in 0..=5 {
                for (at, end) in [(0, 1 << 20), (3, 90 * 512), (44, 44), (7000, 100)] {
                    let s = Signal {
                        at,
                        end,
                        step,
                        width,
                        big_endian: step % 2 == 0,
                        signed: width % 2 == 0,
                        pixels: step % 3 == 0,
                    };
                    judge(&data, end, s);
                }
            }
        }
    }
}
