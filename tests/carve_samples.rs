//! BMP, WAV and AIFF in pieces (issue 14, precision): their pixels and samples carry
//! no check, so a file carved contiguous across a gap used to pass as whole.
//! Their texture tells: a sector as rough as noise (varied, few small steps,
//! for pixels a colour as rough as noise's) among smooth ones is not the
//! file's. Files made by ImageMagick and ffmpeg, laid into an image whose gaps
//! hold noise (AIFF made from a WAV by ffmpeg too): whole ones stay whole (unverified); one in two pieces comes back
//! bit-exact, put together where its samples resume, and says so; one whose
//! gap starts with zeros is cut before them.

mod common;

use common::*;
use std::path::Path;

/// The files: BMPs of a plasma (24-bit), of ImageMagick's cartoon wizard
/// (black outlines, flat colour, a colour profile after the pixels) and of a
/// 32-bit rose with alpha; WAVs of two tones, 16-bit stereo and 24-bit, and
/// the first as AIFF (big-endian samples).
fn made_files(p: &Path) -> Vec<(&'static str, Vec<u8>)> {
    vec![
        (
            "plasma.bmp",
            made(
                p,
                "convert -seed 7 -size 420x300 plasma:fractal -type truecolor plasma.bmp",
                "plasma.bmp",
            ),
        ),
        (
            "wizard.bmp",
            made(p, "convert wizard: -resize 300x -type truecolor wizard.bmp", "wizard.bmp"),
        ),
        (
            "rose.bmp",
            made(
                p,
                "convert rose: -resize 300x -alpha set -define bmp:format=bmp4 rose.bmp",
                "rose.bmp",
            ),
        ),
        (
            "tones.wav",
            made(
                p,
                "ffmpeg -y -loglevel quiet -f lavfi -i \"aevalsrc=0.4*sin(440*2*PI*t)+0.2*sin(1234*2*PI*t):d=2\" -ac 2 tones.wav",
                "tones.wav",
            ),
        ),
        (
            "tones24.wav",
            made(
                p,
                "ffmpeg -y -loglevel quiet -f lavfi -i \"sine=frequency=330:duration=2\" -ac 2 -acodec pcm_s24le tones24.wav",
                "tones24.wav",
            ),
        ),
        (
            "tones.aiff",
            made(
                p,
                "ffmpeg -y -loglevel quiet -i tones.wav tones.aiff",
                "tones.aiff",
            ),
        ),
    ]
}

#[test]
fn bmp_and_wav_in_pieces_are_put_together_by_their_texture() {
    if !tools(&["convert", "ffmpeg"]) {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    let files = made_files(p);
    let mut img = noise(16 << 20, 41);
    let mut at = 0x10000usize;
    // (name, where laid, how: whole, in two pieces, or cut by zeros then noise)
    let mut laid = Vec::new();
    for (i, (name, f)) in files.iter().enumerate() {
        let sectors = f.len() / 512;
        assert!(sectors > 40, "{name}: {} bytes", f.len());
        // Whole.
        img[at..at + f.len()].copy_from_slice(f);
        laid.push((*name, at, "whole", 0, 0));
        at = (at + f.len() + 0x4000) / 512 * 512;
        // Two pieces, noise between (a gap of an odd number of sectors: the
        // rest's frames and pixels lie off the first piece's grid).
        let (cut, gap) = ((sectors / 3 + i) * 512, (7 + 4 * i) * 512);
        img[at..at + cut].copy_from_slice(&f[..cut]);
        img[at + cut + gap..at + gap + f.len()].copy_from_slice(&f[cut..]);
        laid.push((*name, at, "two", cut, gap));
        at = (at + f.len() + gap + 0x4000) / 512 * 512;
        // Two pieces, the gap beginning with zeros.
        img[at..at + cut].copy_from_slice(&f[..cut]);
        img[at + cut..at + cut + 1024].fill(0);
        img[at + cut + gap..at + gap + f.len()].copy_from_slice(&f[cut..]);
        laid.push((*name, at, "zeros", cut, gap));
        at = (at + f.len() + gap + 0x4000) / 512 * 512;
    }
    let arts = carve_image(p, &img, 3);
    for (name, off, how, cut, gap) in laid {
        let f = &files.iter().find(|(n, _)| *n == name).unwrap().1;
        let fmt = match &name[name.len() - 3..] {
            "bmp" => "bmp",
            "wav" => "riff",
            _ => "aiff",
        };
        let a = carved_at(&arts, off as u64, fmt)
            .unwrap_or_else(|| panic!("{name} {how} at {off:#x} not carved: {arts:#?}"));
        match how {
            "whole" => {
                assert_eq!(a["sha256"], sha256(f), "{name} {how}: {a}");
                assert_eq!(a["recovery"], "carved-unverified-contiguous", "{name}: {a}");
            }
            "two" => {
                assert_eq!(a["sha256"], sha256(f), "{name} {how}: {a}");
                assert_eq!(a["status"], "complete", "{name} {how}: {a}");
                assert_eq!(
                    image_runs(a),
                    [
                        (off as u64, cut as u64),
                        ((off + cut + gap) as u64, (f.len() - cut) as u64)
                    ],
                    "{name} {how}"
                );
                let why = a["recovery_detail"].as_str().unwrap();
                assert!(why.contains("samples resume"), "{name}: {why}");
            }
            _ => {
                assert_eq!(a["status"], "partial", "{name} {how}: {a}");
                assert_eq!(a["size"], cut as u64, "{name} {how}: {a}");
            }
        }
    }
}
