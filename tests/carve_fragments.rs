//! Files in three fragments (issue 14): a PNG written by ImageMagick (libpng's
//! 8 KiB IDAT chunks) cut at two sector boundaries, its pieces laid with foreign
//! data between them, comes back whole and bit-exact, its three pieces in its
//! runs; the same file cut once still comes back in two.

mod common;

use common::*;

/// Lays `file` at `at` cut at `cuts` (file offsets, sector multiples) with
/// `gaps` (sector multiples) of foreign data between the pieces; returns the
/// image and the pieces' (image offset, length).
fn lay(
    len: usize,
    at: usize,
    file: &[u8],
    cuts: &[usize],
    gaps: &[usize],
) -> (Vec<u8>, Vec<(u64, u64)>) {
    let mut img = noise(len, 99);
    let mut pieces = Vec::new();
    let (mut from, mut to) = (0usize, at);
    for (i, &end) in cuts.iter().chain([file.len()].iter()).enumerate() {
        img[to..to + end - from].copy_from_slice(&file[from..end]);
        pieces.push((to as u64, (end - from) as u64));
        to += end - from + gaps.get(i).copied().unwrap_or(0);
        from = end;
    }
    (img, pieces)
}

#[test]
fn a_png_in_three_fragments_comes_back_whole() {
    if !tools(&["convert"]) {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    let png = made(
        p,
        "convert -size 320x240 plasma:fractal -seed 5 -define png:compression-level=1 a.png",
        "a.png",
    );
    assert!(png.len() > 64 << 10, "{} bytes", png.len());
    for (case, cuts, gaps) in [
        (
            "three",
            vec![0x4000usize, png.len() / 512 * 512 - 0x4000],
            vec![7 * 512usize, 61 * 512],
        ),
        ("two", vec![png.len() / 2 / 512 * 512], vec![19 * 512]),
    ] {
        let (img, pieces) = lay(4 << 20, 0x20000, &png, &cuts, &gaps);
        let dir = p.join(case);
        std::fs::create_dir(&dir).unwrap();
        std::fs::write(dir.join("img.raw"), &img).unwrap();
        let arts = one_shot_ls(
            "carve",
            &dir.join("img.raw"),
            None,
            &dir.join("case"),
            0,
            &[],
        );
        let a = carved_at(&arts, 0x20000, "png").unwrap_or_else(|| panic!("{case}: {arts:#?}"));
        assert_eq!(a["sha256"], sha256(&png), "{case}: {a}");
        assert_eq!(a["status"], "complete", "{case}: {a}");
        assert_eq!(image_runs(a), pieces, "{case}");
    }
}
