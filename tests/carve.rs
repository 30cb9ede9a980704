//! Carving against ground truth (testimages/make-carving.py): recall and precision,
//! partial files marked partial, decoys ignored, and the same artifacts for threads
//! {1, 2, 4} × page sizes {1 MiB, 16 MiB}.

mod common;

use common::*;
use serde_json::Value;
use std::path::Path;

fn carve(out: &Path, threads: &str, page: &str) -> Vec<Value> {
    let img = Path::new(env!("CARGO_MANIFEST_DIR")).join("testimages/carving/ground-truth.img");
    one_shot_ls(
        "carve",
        &img,
        None,
        out,
        3,
        &["--threads", threads, "--page-size", page],
    )
}

#[test]
fn carving_meets_the_ground_truth() {
    let d = tempfile::tempdir().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("testimages/carving");
    let img = root.join("ground-truth.img");
    let witness = ReadOnlyWitness::new(&[&img]);
    let truth: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(root.join("MANIFEST.json")).unwrap())
            .unwrap();
    let arts = carve(&d.path().join("case"), "2", "16777216");
    let at = |off: u64| carved_at(&arts, off, "");
    let intact: Vec<&Value> = truth.iter().filter(|t| t["kind"] == "intact").collect();
    let mut hits = 0;
    for t in &intact {
        let a =
            at(t["offset"].as_u64().unwrap()).unwrap_or_else(|| panic!("intact {t} not carved"));
        assert_eq!(a["status"], "complete", "{t}");
        assert_eq!(a["sha256"], t["sha256"], "{t} not bit-exact");
        hits += 1;
    }
    let recall = hits as f64 / intact.len() as f64;
    assert_eq!(recall, 1.0);
    // A BMP's pixels and a WAV's samples carry no check that a fragmented
    // file carved as contiguous would fail: whole, but not called validated.
    // Every other intact file is (a SQLite database by walking its b-trees,
    // whose pages a gap would shift).
    for t in &intact {
        let a = at(t["offset"].as_u64().unwrap()).unwrap();
        let want = if matches!(t["format"].as_str(), Some("bmp" | "wav")) {
            "carved-unverified-contiguous"
        } else {
            "carved-complete"
        };
        assert_eq!(a["recovery"], want, "{t}");
    }
    for t in truth
        .iter()
        .filter(|t| t["kind"] == "truncated" || t["kind"] == "corrupt")
    {
        let a = at(t["offset"].as_u64().unwrap()).unwrap_or_else(|| panic!("{t} not carved"));
        assert_eq!(a["status"], "partial", "{t} must be marked partial");
        assert!(
            a["recovery_detail"]
                .as_str()
                .unwrap()
                .starts_with("carved: valid only up to byte"),
            "{a}"
        );
    }
    for t in truth.iter().filter(|t| t["kind"] == "decoy") {
        assert!(
            at(t["offset"].as_u64().unwrap()).is_none(),
            "decoy {t} was carved"
        );
    }
    // Two-fragment JPEG, PNG and ZIP files are reassembled bit-exact (gap carving),
    // with both pieces in their layout. The truncated JPEG above shares its tables
    // with the fragmented one, so its first half plus the other's second half also
    // decodes: it must stay partial, not be passed off as reassembled.
    for t in truth.iter().filter(|t| t["kind"] == "fragmented") {
        let a = at(t["offset"].as_u64().unwrap()).unwrap_or_else(|| panic!("{t} not carved"));
        assert_eq!(a["sha256"], t["sha256"], "fragmented {t}");
        assert_eq!(a["status"], "complete");
        let runs = image_runs(a);
        let want: Vec<(u64, u64)> = t["fragments"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| (f[0].as_u64().unwrap(), f[1].as_u64().unwrap()))
            .collect();
        assert_eq!(runs, want, "fragments of {t}");
    }
    // Precision: every complete artifact is a true file.
    let complete: Vec<&Value> = arts.iter().filter(|a| a["status"] == "complete").collect();
    let true_pos = complete
        .iter()
        .filter(|a| {
            truth
                .iter()
                .any(|t| t["sha256"] != "" && t["sha256"] == a["sha256"])
        })
        .count();
    let precision = true_pos as f64 / complete.len().max(1) as f64;
    assert!(precision >= 0.95, "precision {precision}");
    // OOXML, OLE2 Word and TIFF are recognised by their structure.
    for ext in [".docx", ".doc", ".tif"] {
        assert!(
            arts.iter()
                .any(|a| a["path"].as_str().unwrap().ends_with(ext)),
            "no {ext}"
        );
    }
    witness.assert_unchanged();
}

#[test]
fn the_same_artifacts_for_any_thread_count_and_page_size() {
    let d = tempfile::tempdir().unwrap();
    let mut first: Option<Vec<Value>> = None;
    for t in ["1", "2", "4"] {
        for p in ["1048576", "16777216"] {
            let arts = carve(&d.path().join(format!("c{t}-{p}")), t, p);
            match &first {
                None => first = Some(arts),
                Some(f) => assert_eq!(f, &arts, "threads {t}, page {p}"),
            }
        }
    }
}

#[test]
fn scan_carves_free_space_without_repeating_what_the_filesystem_recovered() {
    if !tools(&["mkfs.fat", "mcopy", "mdel"]) {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("testimages/carving");
    let gt = std::fs::read(root.join("ground-truth.img")).unwrap();
    let truth: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(root.join("MANIFEST.json")).unwrap())
            .unwrap();
    let pick = |fmt: &str| {
        let t = truth
            .iter()
            .find(|t| t["kind"] == "intact" && t["format"] == fmt)
            .unwrap();
        let (o, l) = (
            t["offset"].as_u64().unwrap() as usize,
            t["length"].as_u64().unwrap() as usize,
        );
        (
            gt[o..o + l].to_vec(),
            t["sha256"].as_str().unwrap().to_string(),
        )
    };
    let (jpg, jpg_sha) = pick("jpeg");
    let (png, png_sha) = pick("png");
    let img = d.path().join("fat.img");
    assert!(sh(&format!(
        "mkfs.fat -C -F 16 -s 1 {} 8192 >/dev/null",
        img.display()
    )));
    std::fs::write(d.path().join("PHOTO.JPG"), &jpg).unwrap();
    assert!(sh(&format!(
        "MTOOLS_SKIP_CHECK=1 mcopy -i {} {} ::/ && MTOOLS_SKIP_CHECK=1 mdel -i {} ::/PHOTO.JPG",
        img.display(),
        d.path().join("PHOTO.JPG").display(),
        img.display()
    )));
    // A PNG in free clusters near the end, with no directory entry at all.
    let mut b = std::fs::read(&img).unwrap();
    let at = b.len() - 256 * 1024;
    b[at..at + png.len()].copy_from_slice(&png);
    std::fs::write(&img, &b).unwrap();
    let out = d.path().join("case");
    let arts = one_shot_ls("recover", &img, None, &out, 0, &[]);
    let deleted = arts
        .iter()
        .find(|a| a["deleted"] == true && a["sha256"] == jpg_sha.as_str());
    assert!(
        deleted.is_some(),
        "the FAT reader recovers the deleted JPEG: {arts:?}"
    );
    let carved: Vec<&Value> = arts
        .iter()
        .filter(|a| a["path"].as_str().unwrap().starts_with("/$Carved/"))
        .collect();
    assert_eq!(carved.len(), 1, "{carved:?}");
    assert_eq!(carved[0]["sha256"], png_sha.as_str());
    assert!(carved[0]["forensic_path"]
        .as_str()
        .unwrap()
        .contains(&format!("@{at:#x}/png")));
    // The deleted JPEG was found in free space too, and left out as a duplicate.
    let log = stdout(&run(&["log", out.to_str().unwrap()]));
    assert!(
        log.contains("\"already_recovered_by_filesystem\":1"),
        "{log}"
    );
}

#[test]
fn a_carved_file_over_unreadable_sectors_is_partial_with_its_gaps() {
    let d = tempfile::tempdir().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("testimages/carving");
    let img = root.join("ground-truth.img");
    let truth: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(root.join("MANIFEST.json")).unwrap())
            .unwrap();
    let t = truth
        .iter()
        .find(|t| t["kind"] == "intact" && t["format"] == "zip")
        .unwrap();
    let bad_at = t["offset"].as_u64().unwrap() + 1024;
    let map = d.path().join("bad.map");
    write_bad_map(
        &map,
        std::fs::metadata(&img).unwrap().len(),
        &[(bad_at, 512)],
    );
    let out = d.path().join("case");
    let arts = one_shot_ls("carve", &img, Some(&map), &out, 3, &[]);
    let a = arts
        .iter()
        .find(|a| {
            a["forensic_path"]
                .as_str()
                .unwrap()
                .contains(&format!("@{:#x}/", t["offset"].as_u64().unwrap()))
        })
        .expect("the zip is still carved");
    assert_eq!(a["status"], "partial");
    assert_eq!(
        a["gaps"],
        serde_json::json!([{"file_offset": 1024, "len": 512, "why": "map-bad-sector"}])
    );
}

/// A ZIP cut off before its central directory is one partial file holding
/// the members that check out, not one "zip" partial per member header inside
/// it (the members' local headers are the damaged ZIP's own structure), and
/// an intact ZIP after it (whose end record the damaged one's search finds
/// first) is still carved whole.
#[test]
fn a_damaged_zip_is_one_partial_not_one_per_member() {
    if !tools(&["python3"]) {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let make = |name: &str, seed: u32| {
        let zip = d.path().join(name);
        assert!(sh(&format!(
            "python3 -c \"import zipfile,random; r=random.Random({seed}); z=zipfile.ZipFile('{}','w',zipfile.ZIP_STORED); [z.writestr('m%d.bin' % i, bytes(r.getrandbits(8) for _ in range(3000))) for i in range(4)]; z.close()\"",
            zip.display()
        )));
        std::fs::read(&zip).unwrap()
    };
    let a = make("a.zip", 5);
    let b = make("b.zip", 6);
    // A cut in its third member's data: two whole members, then damage.
    let member = 30 + 6 + 3000;
    let cut = 2 * member + 900;
    let mut img = vec![0u8; 1 << 20];
    img[65_536..65_536 + cut].copy_from_slice(&a[..cut]);
    img[262_144..262_144 + b.len()].copy_from_slice(&b);
    let p = d.path().join("img.raw");
    std::fs::write(&p, &img).unwrap();
    let arts = one_shot_ls("carve", &p, None, &d.path().join("case"), 3, &[]);
    let zips: Vec<&Value> = arts
        .iter()
        .filter(|a| a["path"].as_str().is_some_and(|p| p.ends_with(".zip")))
        .collect();
    assert_eq!(zips.len(), 2, "{zips:#?}");
    assert_eq!(zips[0]["status"], "partial");
    assert_eq!(zips[0]["size"], member as u64 * 2, "the two whole members");
    assert_eq!(zips[1]["status"], "complete");
    use sha2::Digest;
    assert_eq!(zips[1]["sha256"], hex::encode(sha2::Sha256::digest(&b)));
}

/// A BMP in two pieces is carved as one contiguous file (nothing in its pixels
/// can tell), which runs over whatever lies after its first piece. A PNG
/// lying there, whole and validated, was dropped as the BMP's content; pixels
/// hold no other file, so it now comes back (from the ground truth's PNG).
#[test]
fn a_validated_file_inside_a_bmp_carved_across_a_gap_is_kept() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("testimages/carving");
    let truth: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(root.join("MANIFEST.json")).unwrap())
            .unwrap();
    let gt = std::fs::read(root.join("ground-truth.img")).unwrap();
    let png = truth
        .iter()
        .find(|t| t["format"] == "png" && t["kind"] == "intact")
        .map(|t| {
            let at = t["offset"].as_u64().unwrap() as usize;
            gt[at..at + t["length"].as_u64().unwrap() as usize].to_vec()
        })
        .unwrap();
    // 24-bit BMP, 400 × 300: its pixels are 360 000 bytes.
    let (w, h) = (400u32, 300u32);
    let pixels = w * h * 3;
    let mut bmp = Vec::new();
    bmp.extend(b"BM");
    bmp.extend((54 + pixels).to_le_bytes());
    bmp.extend([0u8; 4]);
    bmp.extend(54u32.to_le_bytes());
    bmp.extend(40u32.to_le_bytes());
    bmp.extend(w.to_le_bytes());
    bmp.extend(h.to_le_bytes());
    bmp.extend(1u16.to_le_bytes());
    bmp.extend(24u16.to_le_bytes());
    bmp.extend([0u8; 4]);
    bmp.extend(pixels.to_le_bytes());
    bmp.extend([0u8; 16]);
    bmp.extend(noise(pixels as usize, 8));
    let d = tempfile::tempdir().unwrap();
    let at = 0x10000usize;
    let cut = 100 * 512;
    let png_at = at + cut + 2048;
    let mut img = noise(4 << 20, 9);
    img[at..at + cut].copy_from_slice(&bmp[..cut]);
    img[png_at..png_at + png.len()].copy_from_slice(&png);
    let rest = (png_at + png.len() + 4096).next_multiple_of(512);
    img[rest..rest + bmp.len() - cut].copy_from_slice(&bmp[cut..]);
    let arts = carve_image(d.path(), &img, 0);
    let b = carved_at(&arts, at as u64, "bmp").unwrap_or_else(|| panic!("{arts:#?}"));
    assert_eq!(b["recovery"], "carved-unverified-contiguous", "{b}");
    expect_carved(&arts, png_at as u64, "png", "png", Want::Complete(&png));
}
