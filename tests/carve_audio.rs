//! Audio carved to its structural end (issue 14, phone and PC media): FLAC made
//! by flac (with tags, and a seek table and padding as flac writes them), Ogg
//! Vorbis by oggenc, Opus by opusenc and FLAC in Ogg by `flac --ogg`, laid into
//! random bytes at 4 KiB boundaries: each comes back whole, bit-exact and
//! checked (every audio byte is under a frame or page CRC), named by its codec;
//! a FLAC with one audio byte changed and an Ogg cut in its middle are partial,
//! each ending where its damage begins.

mod common;

use common::*;
use std::path::Path;

/// A 16-bit stereo WAV of `secs` seconds: two tones and a little noise, so the
/// encoders have something to do and the frames are of varied sizes.
fn wav(path: &Path, secs: usize) {
    let rate = 44_100usize;
    let noise = noise(secs * rate * 2, 3);
    let mut pcm = Vec::with_capacity(secs * rate * 4);
    for i in 0..secs * rate {
        let t = i as f64 / rate as f64;
        for (ch, f) in [440.0, 660.0].iter().enumerate() {
            let tone = (t * f * std::f64::consts::TAU).sin() * 9000.0;
            let v = tone as i16 + i16::from(noise[i * 2 + ch] as i8) * 8;
            pcm.extend(v.to_le_bytes());
        }
    }
    let mut w = Vec::new();
    w.extend(b"RIFF");
    w.extend((36 + pcm.len() as u32).to_le_bytes());
    w.extend(b"WAVEfmt ");
    w.extend(16u32.to_le_bytes());
    w.extend(1u16.to_le_bytes());
    w.extend(2u16.to_le_bytes());
    w.extend((rate as u32).to_le_bytes());
    w.extend((rate as u32 * 4).to_le_bytes());
    w.extend(4u16.to_le_bytes());
    w.extend(16u16.to_le_bytes());
    w.extend(b"data");
    w.extend((pcm.len() as u32).to_le_bytes());
    w.extend(pcm);
    std::fs::write(path, w).unwrap();
}

#[test]
fn audio_made_by_its_encoders_comes_back_whole_and_damaged_audio_partial() {
    if !tools(&["flac", "oggenc", "opusenc"]) {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    wav(&p.join("a.wav"), 3);
    let flac = made(
        p,
        "flac -s --tag=TITLE=evidence --tag=ARTIST=dredge -o a.flac a.wav",
        "a.flac",
    );
    let vorbis = made(p, "oggenc -Q -o a.ogg a.wav", "a.ogg");
    let opus = made(p, "opusenc --quiet a.wav a.opus", "a.opus");
    let oga = made(p, "flac -s --ogg -o a.oga a.wav", "a.oga");
    // One audio byte changed, well past the metadata: its frame fails its CRC.
    let mut flac_bad = flac.clone();
    let hit = flac.len() * 2 / 3;
    flac_bad[hit] ^= 0x10;
    let cut_ogg = vorbis[..vorbis.len() / 2].to_vec();

    let place = [
        (0x10000usize, &flac, "flac", "flac", true),
        (0x200000, &vorbis, "ogg", "ogg", true),
        (0x400000, &opus, "ogg", "opus", true),
        (0x600000, &oga, "ogg", "oga", true),
        (0x800000, &flac_bad, "flac", "flac", false),
        (0xA00000, &cut_ogg, "ogg", "ogg", false),
    ];
    // Each fits before the next one's place.
    assert!(place.iter().all(|(_, f, ..)| f.len() < 0x1F0000));
    let laid: Vec<(usize, &[u8])> = place
        .iter()
        .map(|(at, f, ..)| (*at, f.as_slice()))
        .collect();
    let arts = carve_laid(p, 12 << 20, 17, &laid, 3);
    for (off, f, format, ext, whole) in &place {
        let a = carved_at(&arts, *off as u64, format)
            .unwrap_or_else(|| panic!("nothing carved at {off:#x}: {arts:#?}"));
        assert!(
            a["path"].as_str().unwrap().ends_with(&format!(".{ext}")),
            "{a}"
        );
        if *whole {
            assert_eq!(a["recovery"], "carved-complete", "{a}");
            assert_eq!(a["sha256"], sha256(f), "{off:#x} not bit-exact");
        } else {
            assert_eq!(a["status"], "partial", "{a}");
        }
    }
    // The damaged FLAC ends at the frame holding the changed byte; the cut Ogg
    // at the last whole page before the cut.
    let size = |off: usize, format: &str| {
        carved_at(&arts, off as u64, format).unwrap()["size"]
            .as_u64()
            .unwrap()
    };
    let bad = size(0x800000, "flac") as usize;
    assert!(
        bad <= hit && hit - bad < 64 << 10,
        "kept {bad}, damage at {hit}"
    );
    let cut = size(0xA00000, "ogg") as usize;
    assert!(
        cut <= cut_ogg.len() && cut_ogg.len() - cut < 70_000,
        "kept {cut} of {}",
        cut_ogg.len()
    );
    assert_eq!(
        &vorbis[cut..cut + 4],
        b"OggS",
        "the cut Ogg ends before a page"
    );
    // Nothing else is carved, from inside them either (FLAC in Ogg holds a
    // `fLaC` STREAMINFO in its first page).
    assert_eq!(arts.len(), place.len(), "{arts:#?}");
}

/// A FLAC cut inside the 8 KiB of padding flac writes, noise after it (a
/// stream in two pieces, or cut short): the padding is zeros, so the partial
/// ends at the cut, a prefix of the file. Before, the noise passed as padding
/// and the partial ran on to the first frame header it did not find.
#[test]
fn a_flac_cut_in_its_padding_is_partial_at_the_cut() {
    if !tools(&["flac"]) {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    wav(&p.join("a.wav"), 5);
    let flac = made(p, "flac -s -o a.flac a.wav", "a.flac");
    // The padding block: after STREAMINFO, the seek table and the tags.
    let (mut at, mut padding) = (4usize, None);
    loop {
        let h = u32::from_be_bytes(flac[at..at + 4].try_into().unwrap());
        let len = (h & 0xFF_FFFF) as usize;
        if (h >> 24) & 0x7F == 1 {
            padding = Some((at + 4, len));
        }
        at += 4 + len;
        if h & 0x8000_0000 != 0 {
            break;
        }
    }
    let (pad, len) = padding.expect("flac wrote no padding");
    let cut = (pad + 1).next_multiple_of(512);
    assert!(cut + 512 < pad + len, "padding too small to cut inside");
    let laid = [(0x10000usize, &flac[..cut])];
    let arts = carve_laid(p, 1 << 20, 23, &laid, 3);
    let a = carved_at(&arts, 0x10000, "flac").unwrap_or_else(|| panic!("{arts:#?}"));
    assert_eq!(a["status"], "partial", "{a}");
    assert_eq!(a["size"].as_u64(), Some(cut as u64), "{a}");
    assert_eq!(a["sha256"], sha256(&flac[..cut]));
}

/// MP3 made by LAME: plain (its Info frame first), and with ID3v2 and ID3v1
/// tags, laid into random bytes: both come back whole and bit-exact, tags
/// included, unverified (MP3 frames carry no checksum); nothing else is carved
/// from inside them.
#[test]
fn mp3_made_by_lame_comes_back_whole_with_its_tags() {
    if !tools(&["lame"]) {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    let (plain, tagged) = lame_pair(p);
    assert!(tagged.starts_with(b"ID3"), "lame wrote no ID3v2 tag");
    assert_eq!(&tagged[tagged.len() - 128..tagged.len() - 125], b"TAG");
    let place = [(0x10000usize, &plain), (0x100000, &tagged)];
    let laid: Vec<(usize, &[u8])> = place.iter().map(|(at, f)| (*at, f.as_slice())).collect();
    let arts = carve_laid(p, 4 << 20, 31, &laid, 0);
    for (off, f) in &place {
        let a = carved_at(&arts, *off as u64, "mp3")
            .unwrap_or_else(|| panic!("nothing carved at {off:#x}: {arts:#?}"));
        assert!(a["path"].as_str().unwrap().ends_with(".mp3"), "{a}");
        assert_eq!(a["recovery"], "carved-unverified-contiguous", "{a}");
        assert_eq!(a["sha256"], sha256(f), "{off:#x} not bit-exact");
    }
    assert_eq!(arts.len(), place.len(), "{arts:#?}");
}

/// MP3s lame wrote (its Info header states the stream's length), laid into
/// random bytes in two pieces with a gap of noise between: each comes back
/// whole in those two pieces, the rest found where the cut frame's length
/// puts the next header and the frames ending exactly at the stated length;
/// one cut short is partial at the sector where it was cut, where before it
/// ran on while noise parsed as frames and was called whole. No frame inside
/// the second piece is carved as an MP3 of its own.
#[test]
fn mp3_in_two_pieces_comes_back_by_its_stated_length() {
    if !tools(&["lame"]) {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    let (plain, tagged) = lame_pair(p);
    for (name, f, cut, gap) in [
        ("plain", &plain, 25 * 512, 7 * 512),
        ("tagged", &tagged, 40 * 512, 300 * 512),
    ] {
        let at = 0x10000usize;
        let mut img = noise(4 << 20, 77);
        img[at..at + cut].copy_from_slice(&f[..cut]);
        let rest = at + cut + gap;
        img[rest..rest + f.len() - cut].copy_from_slice(&f[cut..]);
        // The same file cut short, further on.
        let short = 0x200000usize;
        img[short..short + cut].copy_from_slice(&f[..cut]);
        let dir = p.join(name);
        std::fs::create_dir(&dir).unwrap();
        // Exit 3: complete, with a partial file.
        let arts = carve_image(&dir, &img, 3);
        let a = carved_at(&arts, at as u64, "mp3").unwrap_or_else(|| panic!("{name}: {arts:#?}"));
        assert_eq!(a["sha256"], sha256(f), "{name}: {a}");
        assert_eq!(
            image_runs(a),
            [
                (at as u64, cut as u64),
                (rest as u64, (f.len() - cut) as u64)
            ],
            "{name}"
        );
        let b =
            carved_at(&arts, short as u64, "mp3").unwrap_or_else(|| panic!("{name}: {arts:#?}"));
        assert_eq!(b["status"], "partial", "{name}: {b}");
        assert_eq!(b["size"], cut as u64, "{name}: {b}");
        assert!(
            carved_at(&arts, rest as u64, "").is_none()
                && !arts.iter().any(|x| {
                    let o = image_runs(x)[0].0;
                    o > rest as u64 && o < (rest + f.len() - cut) as u64
                }),
            "{name}: the second piece carved on its own: {arts:#?}"
        );
    }
}

/// Two MP3s of a 2-second WAV made by LAME in `p`: constant bitrate with its
/// Info frame, and VBR with ID3v2 and ID3v1 tags.
fn lame_pair(p: &Path) -> (Vec<u8>, Vec<u8>) {
    wav(&p.join("a.wav"), 2);
    let plain = made(p, "lame --quiet -b 128 a.wav plain.mp3", "plain.mp3");
    let tagged = made(
        p,
        "lame --quiet -V 4 --add-id3v2 --tt evidence --ta dredge a.wav tagged.mp3",
        "tagged.mp3",
    );
    (plain, tagged)
}

/// AAC in ADTS frames as ffmpeg's encoder writes it (`.aac`): stereo music
/// quality and mono voice-memo quality, laid into random bytes, each comes back
/// whole and bit-exact, unverified (ADTS frames carry no checksum of their
/// audio), and nothing else is carved from inside them.
#[test]
fn aac_made_by_ffmpeg_comes_back_whole() {
    if !tools(&["ffmpeg"]) {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    wav(&p.join("a.wav"), 2);
    let stereo = made(
        p,
        "ffmpeg -loglevel error -y -i a.wav -c:a aac -b:a 128k stereo.aac",
        "stereo.aac",
    );
    let voice = made(
        p,
        "ffmpeg -loglevel error -y -i a.wav -ac 1 -ar 16000 -c:a aac -b:a 32k voice.aac",
        "voice.aac",
    );
    for f in [&stereo, &voice] {
        assert_eq!(&f[..2], b"\xFF\xF1", "ffmpeg wrote no ADTS stream");
    }
    let place = [(0x10000usize, &stereo), (0x100000, &voice)];
    let laid: Vec<(usize, &[u8])> = place.iter().map(|(at, f)| (*at, f.as_slice())).collect();
    let arts = carve_laid(p, 4 << 20, 37, &laid, 0);
    for (off, f) in &place {
        expect_carved(&arts, *off as u64, "aac", "aac", Want::Unverified(f));
    }
    assert_eq!(arts.len(), place.len(), "{arts:#?}");
}

/// Ogg files in two pieces (a cut on a sector boundary inside a page, then a
/// gap of noise, of zeros, or holding another Ogg file's first pages): the
/// rest is found by its next page, the cut by the broken page's CRC, and the
/// file comes back whole in exactly its two pieces. Before, each was partial
/// at the page the cut fell in.
#[test]
fn an_ogg_in_two_pieces_comes_back_whole() {
    if !tools(&["oggenc", "opusenc"]) {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    wav(&p.join("a.wav"), 3);
    let vorbis = made(p, "oggenc -Q -o a.ogg a.wav", "a.ogg");
    let opus = made(p, "opusenc --quiet a.wav a.opus", "a.opus");
    // (file, cut in sectors, gap in sectors, what the gap holds)
    let cases: [(&[u8], usize, usize, &str); 4] = [
        (&vorbis, 20, 37, "noise"),
        (&vorbis, vorbis.len() / 1024, 5, "zeros"),
        (&opus, opus.len() / 1536, 64, "an Ogg"),
        (&opus, 3, 300, "noise"),
    ];
    for (i, (file, cut, gap, filler)) in cases.into_iter().enumerate() {
        let (cut, gap) = (cut * 512, gap * 512);
        assert!(cut > 512 && cut < file.len() - 512, "case {i}");
        let other = (filler == "an Ogg").then_some(&vorbis[..]);
        comes_back_in_two(
            &p.join(format!("case{i}")),
            "ogg",
            file,
            (cut, gap),
            filler,
            other,
        );
    }
}

/// `file` laid at 0x20000 in 4 MiB of noise, cut at `cut` with `gap` bytes
/// before its rest, the gap noise, zeros, or beginning with 8 KiB of `other`
/// (another file of the format, whose start is carved too, cut short: exit
/// 3); carved into `dir`, it must come back as `format`, complete, bit-exact,
/// in exactly its two pieces.
fn comes_back_in_two(
    dir: &Path,
    format: &str,
    file: &[u8],
    (cut, gap): (usize, usize),
    filler: &str,
    other: Option<&[u8]>,
) {
    let at = 0x20000;
    let (mut img, pieces) = lay(4 << 20, at, file, &[cut], &[gap]);
    let hole = at + cut..at + cut + gap;
    match other {
        Some(o) => img[hole.start..hole.start + 8192].copy_from_slice(&o[..8192]),
        None if filler == "zeros" => img[hole].fill(0),
        None => {}
    }
    std::fs::create_dir(dir).unwrap();
    let arts = carve_image(dir, &img, if other.is_some() { 3 } else { 0 });
    let a = carved_at(&arts, at as u64, format).unwrap_or_else(|| panic!("{filler}: {arts:#?}"));
    assert_eq!(
        a["sha256"],
        sha256(file),
        "{} ({filler}): {a}",
        dir.display()
    );
    assert_eq!(a["status"], "complete", "{}: {a}", dir.display());
    assert_eq!(image_runs(a), pieces, "{}", dir.display());
}

/// FLAC files made by flac in two pieces (a cut on a sector boundary among
/// the frames, then a gap of noise, of zeros, or holding another FLAC's
/// start): the rest is found by the next frame's header, numbered as the
/// frame due, the cut and gap by the broken frame's CRC-16, and the file
/// comes back whole in exactly its two pieces. Before, each was partial at
/// the frame the cut fell in. A frame changed in place stays partial (the
/// first test).
#[test]
fn a_flac_in_two_pieces_comes_back_whole() {
    if !tools(&["flac"]) {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    wav(&p.join("a.wav"), 4);
    let fixed = made(p, "flac -s -o a.flac a.wav", "a.flac");
    let small = made(p, "flac -s -0 --blocksize=1152 -o b.flac a.wav", "b.flac");
    let frames_from = |f: &[u8]| f.windows(2).position(|w| w == [0xFF, 0xF8]).unwrap();
    // (file, cut in sectors past the first frame, gap in sectors, what the gap holds)
    let cases: [(&[u8], usize, usize, &str); 5] = [
        (&fixed, 7, 37, "noise"),
        (&fixed, 60, 5, "zeros"),
        (&small, 30, 90, "a FLAC"),
        (&small, 1, 1, "noise"),
        (&fixed, 120, 2000, "noise"),
    ];
    for (i, (file, cut, gap, filler)) in cases.into_iter().enumerate() {
        let cut = (frames_from(file) + cut * 512).next_multiple_of(512);
        assert!(cut < file.len() - 512, "case {i}");
        let other = (filler == "a FLAC").then_some(&fixed[..]);
        let dir = p.join(format!("case{i}"));
        comes_back_in_two(&dir, "flac", file, (cut, gap * 512), filler, other);
    }
}

/// The frame headers of a fixed-block-size FLAC's frames from `from`: sync,
/// then a CRC-8 (0x07) over the header that matches (RFC 9639 9.1).
fn flac_frame_starts(f: &[u8], from: usize) -> Vec<usize> {
    let crc8 = |b: &[u8]| {
        b.iter().fold(0u8, |mut c, &x| {
            c ^= x;
            for _ in 0..8 {
                c = if c & 0x80 != 0 { (c << 1) ^ 7 } else { c << 1 };
            }
            c
        })
    };
    (from..f.len().saturating_sub(16))
        .filter(|&i| {
            let b = &f[i..i + 16];
            if b[0] != 0xFF || b[1] != 0xF8 {
                return false;
            }
            let mut n = 5 + (b[4].leading_ones() as usize).saturating_sub(1);
            n += match b[2] >> 4 {
                6 => 1,
                7 => 2,
                _ => 0,
            };
            n += match b[2] & 15 {
                12 => 1,
                13 | 14 => 2,
                _ => 0,
            };
            n < 16 && crc8(&b[..n]) == b[n]
        })
        .collect()
}

/// A FLAC cut exactly between two frames (the file laid so that the frame
/// boundary falls on a sector boundary), the rest after a gap: the walk meets
/// the earlier frame's end missing (no header follows it), and the rest is
/// found with nothing of that frame after the gap.
#[test]
fn a_flac_cut_between_two_frames_comes_back_whole() {
    if !tools(&["flac"]) {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    wav(&p.join("a.wav"), 3);
    let file = made(p, "flac -s -o a.flac a.wav", "a.flac");
    let first = file.windows(2).position(|w| w == [0xFF, 0xF8]).unwrap();
    let starts = flac_frame_starts(&file, first);
    assert!(starts.len() > 20, "{} frames", starts.len());
    let cut = starts[starts.len() / 2];
    let at = 0x20000 + 512 - cut % 512;
    let gap = 77 * 512;
    let (img, pieces) = lay(4 << 20, at, &file, &[cut], &[gap]);
    let arts = carve_image(p, &img, 0);
    let a = carved_at(&arts, at as u64, "flac").unwrap_or_else(|| panic!("{arts:#?}"));
    assert_eq!(a["sha256"], sha256(&file), "{a}");
    assert_eq!(a["status"], "complete", "{a}");
    assert_eq!(image_runs(a), pieces);
}
