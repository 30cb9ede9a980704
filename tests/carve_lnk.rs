//! Windows shortcuts (LNK) carved from random bytes: shortcuts Windows wrote
//! (LnkParse3's test samples, `testimages/carving/SOURCES.md`, and the example
//! of [MS-SHLLINK]) come back whole and bit-exact, each structure placed by the
//! one before (unverified: nothing checksums a shortcut); one cut short in its
//! extra data and one whose ID list is damaged come back partial.

mod common;
use common::*;
use std::path::Path;

#[test]
fn shortcuts_written_by_windows_come_back_whole_and_damaged_ones_partial() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("testimages/carving/lnk");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".lnk"))
        .collect();
    names.sort();
    assert!(names.len() >= 20, "{names:?}");
    let files: Vec<Vec<u8>> = names
        .iter()
        .map(|n| std::fs::read(dir.join(n)).unwrap())
        .collect();
    // The first sample with an ID list: its first item's size made too large.
    let with_list = files.iter().find(|f| f[20] & 1 != 0).unwrap();
    let mut bad = with_list.clone();
    bad[0x4e] = 0xff;
    bad[0x4f] = 0x7f;
    // The last one cut 3 bytes short of its terminal block (noise follows).
    let whole = files.last().unwrap();
    let cut = whole[..whole.len() - 3].to_vec();

    let d = tempfile::tempdir().unwrap();
    let mut place: Vec<(usize, &[u8], Option<&str>)> = files
        .iter()
        .enumerate()
        .map(|(i, f)| (0x10000 * (i + 1), f.as_slice(), None))
        .collect();
    let n = place.len();
    place.push((0x10000 * (n + 1), &bad, Some("ID list")));
    place.push((0x10000 * (n + 2), &cut, Some("cut")));
    let laid: Vec<(usize, &[u8])> = place.iter().map(|(at, f, _)| (*at, *f)).collect();
    let arts = carve_laid(d.path(), 0x10000 * (n + 4), 47, &laid, 3);
    for (off, f, damaged) in &place {
        let want = match damaged {
            None => Want::Unverified(f),
            Some(_) => Want::Partial(None),
        };
        expect_carved(&arts, *off as u64, "lnk", "lnk", want);
    }
}
