//! GIFs in two pieces (issue 14): made by ImageMagick, laid into noise with a
//! gap, each comes back whole in exactly its two pieces where the LZW codes go
//! on from the decoder's state at the cut to the image's pixel count and the
//! trailer; a GIF cut short is partial at its cut.

mod common;

use common::*;

/// GIFs ImageMagick wrote: whole, each image's LZW codes decode to exactly its
/// width × height pixels, so the file is `carved-complete`. In two pieces with
/// noise between, an LZW code no table holds comes soon after the cut (the
/// sub-block lengths alone chain on through noise); the rest is where the codes
/// go on from the decoder's state at a cut just before, to exactly the pixel
/// count and the trailer: whole, in its two pieces. Cut short with nothing
/// after (the rest overwritten): partial, up to the sector where it was cut.
#[test]
fn a_gif_in_two_pieces_comes_back_whole_and_a_cut_one_partial() {
    if !tools(&["convert"]) {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    let gif = made(
        p,
        "convert -size 300x200 plasma:fractal -seed 5 a.gif",
        "a.gif",
    );
    assert!(gif.len() > 40 * 512, "{}", gif.len());
    // ImageMagick's plasma GIF as the held-out images have it, cut at every
    // sector, one copy each (where the code table is full, garbage decodes on
    // for KiBs, or its lengths end the sub-blocks first: the cut is found by
    // the sub-blocks' one length).
    let small = made(p, "convert -size 200x150 -seed 3 plasma: b.gif", "b.gif");
    let mut img = noise(12 << 20, 98);
    let place = |k: usize| 0x20000 + k * 0x30000;
    let cuts: Vec<usize> = (2..small.len() / 512).collect();
    for (k, c) in cuts.iter().enumerate() {
        let (at, cut) = (place(k), c * 512);
        img[at..at + cut].copy_from_slice(&small[..cut]);
        img[at + cut + 96 * 512..at + small.len() + 96 * 512].copy_from_slice(&small[cut..]);
    }
    let dir = p.join("every-cut");
    std::fs::create_dir(&dir).unwrap();
    let arts = carve_image(&dir, &img, 0);
    for (k, c) in cuts.iter().enumerate() {
        let a = carved_at(&arts, place(k) as u64, "gif").unwrap_or_else(|| panic!("{c}"));
        assert_eq!(a["sha256"], sha256(&small), "cut at sector {c}: {a}");
    }
    let cut = 30 * 512;
    let (mut img, pieces) = lay(4 << 20, 0x20000, &gif, &[cut], &[64 * 512]);
    let whole = 0x200000usize;
    img[whole..whole + gif.len()].copy_from_slice(&gif);
    let short = 0x300000usize;
    img[short..short + cut].copy_from_slice(&gif[..cut]);
    let arts = carve_image(p, &img, 3);
    let a = carved_at(&arts, whole as u64, "gif").unwrap_or_else(|| panic!("{arts:#?}"));
    assert_eq!(a["recovery"], "carved-complete", "{a}");
    assert_eq!(a["sha256"], sha256(&gif));
    let b = carved_at(&arts, 0x20000, "gif").unwrap_or_else(|| panic!("{arts:#?}"));
    assert_eq!(b["status"], "complete", "{b}");
    assert_eq!(b["sha256"], sha256(&gif), "{b}");
    assert_eq!(image_runs(b), pieces);
    let c = carved_at(&arts, short as u64, "gif").unwrap_or_else(|| panic!("{arts:#?}"));
    assert_eq!(c["status"], "partial", "{c}");
    assert_eq!(c["size"], cut as u64, "{c}");
}
