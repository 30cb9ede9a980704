//! Video, audio and image families carved to their structural end (issue 14,
//! phone and PC media; images and design): Matroska and WebM made by mkvmerge,
//! AIFF decoded by flac, MIDI written by abc2midi, icons by icotool and
//! png2icns, Photoshop documents by ImageMagick, laid into random bytes: each
//! comes back whole and bit-exact, named by its kind (`.webm`, `.mka`, `.mid`,
//! `.ico`, `.icns`, `.psd`). A Matroska file with a cluster's element damaged,
//! and one cut in half, are partial; a MIDI file whose second track no longer
//! parses is partial before that track.

mod common;

use common::*;
use std::path::Path;

/// A mono 16-bit WAV at 48 kHz of `secs` seconds: a tone and some noise.
fn wav(dir: &Path, secs: usize) {
    let n = 48_000 * secs;
    let noise = noise(n, 11);
    let mut pcm = Vec::with_capacity(n * 2);
    for (i, z) in noise.iter().enumerate() {
        let v = ((i as f64 * 0.031).sin() * 9000.0) as i16 + i16::from(*z as i8) * 4;
        pcm.extend(v.to_le_bytes());
    }
    let mut w = Vec::new();
    w.extend(b"RIFF");
    w.extend((36 + pcm.len() as u32).to_le_bytes());
    w.extend(b"WAVEfmt ");
    w.extend(16u32.to_le_bytes());
    w.extend(1u16.to_le_bytes());
    w.extend(1u16.to_le_bytes());
    w.extend(48_000u32.to_le_bytes());
    w.extend(96_000u32.to_le_bytes());
    w.extend(2u16.to_le_bytes());
    w.extend(16u16.to_le_bytes());
    w.extend(b"data");
    w.extend((pcm.len() as u32).to_le_bytes());
    w.extend(pcm);
    std::fs::write(dir.join("tone.wav"), w).unwrap();
}

/// A `size`×`size` RGBA PNG gradient, written by hand (a source for the tools).
fn png(path: &Path, size: u32) {
    let mut raw = Vec::new();
    for y in 0..size {
        raw.push(0);
        for x in 0..size {
            raw.extend([(x * 7) as u8, (y * 5) as u8, ((x ^ y) * 3) as u8, 255]);
        }
    }
    let chunk = |t: &[u8], d: &[u8]| {
        let mut c = (d.len() as u32).to_be_bytes().to_vec();
        c.extend(t);
        c.extend(d);
        let mut h = Vec::from(t);
        h.extend(d);
        c.extend(dredge_core::checksum::crc32(&h).to_be_bytes());
        c
    };
    let mut ihdr = size.to_be_bytes().to_vec();
    ihdr.extend(size.to_be_bytes());
    ihdr.extend([8, 6, 0, 0, 0]);
    let mut f = b"\x89PNG\r\n\x1a\n".to_vec();
    f.extend(chunk(b"IHDR", &ihdr));
    f.extend(chunk(
        b"IDAT",
        &miniz_oxide::deflate::compress_to_vec_zlib(&raw, 9),
    ));
    f.extend(chunk(b"IEND", b""));
    std::fs::write(path, f).unwrap();
}

#[test]
fn matroska_aiff_and_midi_come_back_whole_and_damaged_ones_partial() {
    if !tools(&["mkvmerge", "opusenc", "flac", "abc2midi"]) {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    wav(p, 3);
    let webm = made(
        p,
        "opusenc --quiet tone.wav tone.opus && mkvmerge -q --webm -o a.webm tone.opus",
        "a.webm",
    );
    let mka = made(
        p,
        "flac -s -f tone.wav -o tone.flac && mkvmerge -q -o b.mkv tone.flac",
        "b.mkv",
    );
    let aiff = made(
        p,
        "flac -s -d -f --force-aiff-format -o tone.aiff tone.flac",
        "tone.aiff",
    );
    std::fs::write(
        p.join("tune.abc"),
        "X:1\nT:Tune\nM:4/4\nL:1/8\nQ:1/4=120\nK:G\nV:1\nGABc dedB|dedB dedB|c2ec B2dB|c2A2 A2BA|\nV:2\nG,4 D,4|G,4 D,4|C,4 G,4|D,4 G,4|]\n",
    )
    .unwrap();
    let midi = made(p, "abc2midi tune.abc -o tune.mid >/dev/null", "tune.mid");
    // Damage: a byte of a Simple Block's element id in the middle of the WebM
    // (its clusters no longer parse), the Matroska file cut in half, the MIDI
    // file's last track without its End of Track.
    let mut bad_webm = webm.clone();
    let mid = webm.len() / 2;
    let block = (mid..webm.len())
        .find(|&i| webm[i] == 0xA3 && webm[i + 1] & 0x80 == 0 && webm[i + 1] != 0)
        .unwrap();
    bad_webm[block] = 0x11;
    let cut_mka = mka[..mka.len() / 2].to_vec();
    let tracks: Vec<usize> = (0..midi.len() - 4)
        .filter(|&i| &midi[i..i + 4] == b"MTrk")
        .collect();
    assert!(
        tracks.len() >= 2,
        "abc2midi writes a tempo track and a voice track"
    );
    let mut bad_midi = midi.clone();
    let second = tracks[tracks.len() - 1];
    let len = u32::from_be_bytes(midi[second + 4..second + 8].try_into().unwrap()) as usize;
    assert_eq!(
        midi[second + 8 + len - 3..second + 8 + len],
        [0xFF, 0x2F, 0]
    );
    // Its End of Track made a text event: the track no longer ends.
    bad_midi[second + 8 + len - 2] = 0x01;
    let place: [(usize, &[u8]); 7] = [
        (0x10000, &webm),
        (0x100000, &mka),
        (0x200000, &aiff),
        (0x400000, &midi),
        (0x500000, &bad_webm),
        (0x600000, &cut_mka),
        (0x700000, &bad_midi),
    ];
    let arts = carve_laid(p, 8 << 20, 61, &place, 3);
    expect_carved(&arts, 0x10000, "matroska", "webm", Want::Unverified(&webm));
    expect_carved(&arts, 0x100000, "matroska", "mka", Want::Unverified(&mka));
    expect_carved(&arts, 0x200000, "aiff", "aiff", Want::Unverified(&aiff));
    expect_carved(&arts, 0x400000, "midi", "mid", Want::Complete(&midi));
    let a = expect_carved(&arts, 0x500000, "matroska", "webm", Want::Partial(None));
    assert!(a["size"].as_u64().unwrap() <= block as u64, "{a}");
    expect_carved(&arts, 0x600000, "matroska", "mka", Want::Partial(None));
    expect_carved(
        &arts,
        0x700000,
        "midi",
        "mid",
        Want::Partial(Some(second as u64)),
    );
}

#[test]
fn icons_and_photoshop_documents_come_back_whole() {
    if !tools(&["icotool", "png2icns", "convert-im6.q16"]) {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    for s in [16, 32, 48, 128, 256] {
        png(&p.join(format!("g{s}.png")), s);
    }
    // Bitmap icons, and one with its 256-pixel image kept as PNG.
    let ico = made(p, "icotool -c -o a.ico g16.png g32.png g48.png", "a.ico");
    let ico_png = made(
        p,
        "icotool -c -r g256.png -o b.ico g16.png g32.png",
        "b.ico",
    );
    let icns = made(
        p,
        "png2icns a.icns g16.png g32.png g48.png g128.png g256.png >/dev/null",
        "a.icns",
    );
    // RLE-compressed (ImageMagick's default) and uncompressed documents.
    let psd = made(p, "convert-im6.q16 g128.png a.psd", "a.psd");
    let psd_raw = made(p, "convert-im6.q16 g48.png -compress None b.psd", "b.psd");
    let place: [(usize, &[u8]); 5] = [
        (0x10000, &ico),
        (0x80000, &ico_png),
        (0x100000, &icns),
        (0x200000, &psd),
        (0x300000, &psd_raw),
    ];
    let arts = carve_laid(p, 4 << 20, 67, &place, 0);
    expect_carved(&arts, 0x10000, "ico", "ico", Want::Unverified(&ico));
    expect_carved(&arts, 0x80000, "ico", "ico", Want::Unverified(&ico_png));
    expect_carved(&arts, 0x100000, "icns", "icns", Want::Unverified(&icns));
    expect_carved(&arts, 0x200000, "psd", "psd", Want::Unverified(&psd));
    expect_carved(&arts, 0x300000, "psd", "psd", Want::Unverified(&psd_raw));
    // The icons' images are theirs, not PNGs of their own.
    let inside = arts.iter().filter(|a| {
        let fp = a["forensic_path"].as_str().unwrap_or("");
        fp.contains("/png")
            && (0x80000..0x80000 + ico_png.len() as u64).any(|o| fp.contains(&format!("@{o:#x}/")))
    });
    assert_eq!(
        inside.count(),
        0,
        "a PNG inside an icon is carved on its own"
    );
}

/// A TIFF ImageMagick wrote (uncompressed RGB strips, the IFD after them) in
/// two pieces, noise between: the IFD the header points to is a gap further
/// on, and the pixels turn as rough as noise at the cut and resume as smooth
/// exactly that gap later. The file comes back whole in its two pieces, put
/// together by the samples' texture (no check covers them, and the recovery
/// says so). Before, nothing was carved: the first IFD read as garbage.
#[test]
fn a_tiff_in_two_pieces_comes_back_whole_by_its_samples() {
    if !tools(&["convert"]) {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    let tif = made(
        p,
        "convert -size 300x200 -seed 9 plasma:fractal t.tif",
        "t.tif",
    );
    assert!(tif.len() > 300 * 200 * 3, "{}", tif.len());
    // ImageMagick's default 16-bit samples, and 8-bit ones.
    let tif8 = made(
        p,
        "convert -size 300x200 -seed 4 plasma:fractal -depth 8 t8.tif",
        "t8.tif",
    );
    for (i, (tif, cut, gap)) in [
        (&tif, 200 * 512, 100 * 512),
        (&tif, 37 * 512, 3000 * 512),
        (&tif8, 100 * 512, 20 * 512),
    ]
    .into_iter()
    .enumerate()
    {
        let at = 0x20000;
        let (img, pieces) = lay(4 << 20, at, tif, &[cut], &[gap]);
        let dir = p.join(format!("case{i}"));
        std::fs::create_dir(&dir).unwrap();
        let arts = carve_image(&dir, &img, 0);
        let a = carved_at(&arts, at as u64, "tiff").unwrap_or_else(|| panic!("{i}: {arts:#?}"));
        assert_eq!(a["sha256"], sha256(tif), "case {i}: {a}");
        assert_eq!(a["status"], "complete", "case {i}: {a}");
        assert!(
            a["recovery_detail"].as_str().unwrap().contains("samples"),
            "case {i}: {a}"
        );
        assert_eq!(image_runs(a), pieces, "case {i}");
    }
}
