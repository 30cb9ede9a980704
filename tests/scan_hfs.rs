//! HFS+ (issue 15): dfvfs's `hfsplus.raw`, made by macOS (Apache-2.0,
//! testimages/external/dfvfs/SOURCES.md), recovered by `dredge recover`. The
//! Sleuth Kit, which shares no code with dredge, is the oracle: every file
//! `fls -r -p` lists is listed with the same path, and every data and
//! resource fork extracted is byte for byte what `icat` gives.

mod common;

use common::*;
use std::collections::BTreeSet;
use std::path::Path;

fn unpack(dir: &Path) -> std::path::PathBuf {
    dfvfs(dir, "hfsplus.raw")
}

/// TSK's display of a name: control characters as '^'.
fn tsk_name(p: &str) -> String {
    p.chars()
        .map(|c| if c.is_control() { '^' } else { c })
        .collect()
}

#[test]
fn hfsplus_files_match_the_sleuth_kit_path_for_path_and_byte_for_byte() {
    if !tools(&["gzip", "fls", "icat"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let img = unpack(dir.path());
    let case = dir.path().join("case");
    let arts = one_shot_ls("recover", &img, None, &case, 0, &[]);
    let show = stdout(&run(&["case", "show", case.to_str().unwrap()]));
    assert!(show.contains("hfsplus \"hfsplus_test\""), "{show}");

    // Paths: TSK's list (less its bad-blocks file, which dredge does not
    // list) against ours (less attribute streams, `name:attribute`).
    let fls = std::process::Command::new("fls")
        .args(["-r", "-p"])
        .arg(&img)
        .output()
        .unwrap();
    let theirs: BTreeSet<String> = String::from_utf8_lossy(&fls.stdout)
        .lines()
        .filter_map(|l| l.split_once(":\t").map(|(_, p)| format!("/{p}")))
        .filter(|p| p != "/$BadBlockFile")
        .collect();
    let ours: BTreeSet<String> = arts
        .iter()
        .map(|a| tsk_name(a["path"].as_str().unwrap()))
        .filter(|p| !p.rsplit('/').next().unwrap().contains(':'))
        .collect();
    assert_eq!(ours, theirs);

    // Content: every fork extracted, as icat reads it (resource forks are
    // TSK's attribute type 4353).
    let mut forks = 0;
    for a in &arts {
        let Some(x) = a["extracted"].as_str() else {
            continue;
        };
        let fp = a["forensic_path"].as_str().unwrap();
        let n: u64 = fp.rsplit_once("file:").unwrap().1.parse().unwrap();
        let spec = match n >> 48 {
            0 => n.to_string(),
            1 => format!("{}-4353", n & 0xFFFF_FFFF),
            // Extended attributes: checked against the generating script.
            _ => continue,
        };
        let want = std::process::Command::new("icat")
            .arg(&img)
            .arg(&spec)
            .output()
            .unwrap()
            .stdout;
        let got = std::fs::read(case.join(x)).unwrap();
        assert!(got == want, "{} differs from icat {spec}", a["path"]);
        forks += 1;
    }
    assert!(forks >= 10, "{forks}");
    // What the generating script wrote.
    let by = |p: &str| {
        arts.iter()
            .find(|a| a["path"] == p)
            .unwrap_or_else(|| panic!("{p}"))
    };
    let rsrc = by("/a_directory/a_resourcefork:rsrc");
    let got = std::fs::read(case.join(rsrc["extracted"].as_str().unwrap())).unwrap();
    assert_eq!(got, b"My resource fork\n");
    let x = by("/a_directory/a_file:myxattr");
    let got = std::fs::read(case.join(x["extracted"].as_str().unwrap())).unwrap();
    assert_eq!(got, b"My extended attribute");
    assert_eq!(by("/a_link")["kind"], "symlink");
    let pw = by("/passwords.txt");
    assert_eq!(pw["size"], 116);
    let t: Vec<&str> = pw["times"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["source"].as_str().unwrap())
        .collect();
    assert!(
        t.contains(&"hfs.create") && t.contains(&"hfs.modify"),
        "{t:?}"
    );
    // Access, modification, change and creation times, to the second, as
    // TSK's body file has them (its zeros: times the special files lack).
    let body = std::process::Command::new("fls")
        .args(["-r", "-m", "/"])
        .arg(&img)
        .output()
        .unwrap();
    let mut timed = 0;
    for l in String::from_utf8_lossy(&body.stdout).lines() {
        let f: Vec<&str> = l.split('|').collect();
        let name = f[1].split(" -> ").next().unwrap();
        let Some(a) = arts
            .iter()
            .find(|a| tsk_name(a["path"].as_str().unwrap()) == name)
        else {
            continue;
        };
        for (col, source) in [
            (7, "hfs.access"),
            (8, "hfs.modify"),
            (9, "hfs.change"),
            (10, "hfs.create"),
        ] {
            let tsk: i64 = f[col].parse().unwrap();
            if tsk == 0 {
                continue;
            }
            let ours = a["times"]
                .as_array()
                .unwrap()
                .iter()
                .find(|t| t["source"] == source)
                .unwrap_or_else(|| panic!("{name}: no {source}"));
            let ours = ours["utc"].as_str().unwrap();
            assert!(
                ours.starts_with(&utc_seconds(tsk)),
                "{name} {source}: {ours} vs {tsk}"
            );
            timed += 1;
        }
    }
    assert!(timed >= 40, "{timed}");
    assert!(run(&["verify", case.to_str().unwrap()]).status.success());
}

#[test]
fn decmpfs_compressed_files_are_decoded_as_tsk_decodes_them_and_a_bad_chunk_costs_that_chunk() {
    if !tools(&["gzip", "python3", "icat"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let img = unpack(dir.path());
    let icat = |made: &Path, cnid: &str| {
        std::process::Command::new("icat")
            .arg(made)
            .arg(cnid)
            .output()
            .unwrap()
            .stdout
    };
    decmpfs_cases("hfs", dir.path(), &img, "/passwords.txt", &icat);
}

#[test]
fn an_hfsplus_volume_in_an_apple_partition_map_gives_the_same_files() {
    if !tools(&["gzip", "parted", "mmls"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let img = unpack(dir.path());
    let vol = std::fs::read(&img).unwrap();
    // An 8 MiB disk with a mac label (parted), the HFS+ volume written into
    // its first partition, which starts at sector 2048.
    let disk = dir.path().join("apm.img");
    std::fs::File::create(&disk)
        .unwrap()
        .set_len(8 << 20)
        .unwrap();
    let end = (2048 + vol.len() / 512 - 1).to_string();
    let o = std::process::Command::new("parted")
        .arg("-s")
        .arg(&disk)
        .args([
            "unit", "s", "mklabel", "mac", "mkpart", "macos", "hfs+", "2048", &end,
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let mut d = std::fs::read(&disk).unwrap();
    d[2048 * 512..2048 * 512 + vol.len()].copy_from_slice(&vol);
    std::fs::write(&disk, &d).unwrap();
    let mmls = stdout(
        &std::process::Command::new("mmls")
            .arg(&disk)
            .output()
            .unwrap(),
    );
    assert!(
        mmls.contains("MAC Partition Map") && mmls.contains("0000002048"),
        "{mmls}"
    );

    let bare = one_shot_ls("recover", &img, None, &dir.path().join("bare"), 0, &[]);
    let case = dir.path().join("case");
    let arts = one_shot_ls("recover", &disk, None, &case, 0, &[]);
    let show = stdout(&run(&["case", "show", case.to_str().unwrap()]));
    assert!(show.contains("Apple_HFS \"macos\""), "{show}");
    assert!(show.contains("hfsplus \"hfsplus_test\""), "{show}");
    assert_eq!(hashes(&arts), hashes(&bare));
}

#[test]
fn with_the_primary_volume_header_destroyed_the_alternate_gives_every_file_back() {
    if !tools(&["gzip", "fls"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let img = unpack(dir.path());
    let good = one_shot_ls("recover", &img, None, &dir.path().join("good"), 0, &[]);
    // The volume header (byte 1024, 512 bytes) zeroed, then overwritten
    // with other bytes; the alternate copy 1024 bytes before the volume's
    // end is left (with other bytes it is believed because it gives the
    // volume's exact size).
    let intact = std::fs::read(&img).unwrap();
    let mut bad = dir.path().join("bad.raw");
    let mut arts = Vec::new();
    for (round, with) in [vec![0u8; 512], noise(512, 7)].into_iter().enumerate() {
        let mut d = intact.clone();
        d[1024..1536].copy_from_slice(&with);
        bad = dir.path().join(format!("bad{round}.raw"));
        std::fs::write(&bad, &d).unwrap();
        let case = dir.path().join(format!("case{round}"));
        arts = one_shot_ls("recover", &bad, None, &case, 0, &[]);
        assert_eq!(hashes(&arts), hashes(&good), "round {round}");
        assert!(hashes(&arts).len() >= 8);
        let f = findings(&case);
        assert!(f.iter().any(|x| x.contains("alternate")), "{f:?}");
    }
    // The Sleuth Kit on the same damaged volume.
    let fls = std::process::Command::new("fls")
        .args(["-r", "-p"])
        .arg(&bad)
        .output()
        .unwrap();
    eprintln!(
        "TSK fls on the volume without its primary header: {} ({} entries); dredge: {} files, as on the intact volume",
        if fls.status.success() { "lists" } else { "fails" },
        String::from_utf8_lossy(&fls.stdout).lines().count(),
        hashes(&arts).len()
    );
}

#[test]
fn an_hfsplus_volume_in_an_hfs_wrapper_gives_the_same_files() {
    if !tools(&["gzip", "python3", "fls"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let img = unpack(dir.path());
    let wrapped = dir.path().join("wrapped.raw");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("testimages/hfs-wrap.py");
    assert!(std::process::Command::new("python3")
        .arg(script)
        .arg(&img)
        .arg(&wrapped)
        .status()
        .unwrap()
        .success());
    let bare = one_shot_ls("recover", &img, None, &dir.path().join("bare"), 0, &[]);
    let case = dir.path().join("wrapped");
    let arts = one_shot_ls("recover", &wrapped, None, &case, 0, &[]);
    assert!(hashes(&bare).len() >= 10);
    assert_eq!(hashes(&arts), hashes(&bare));
    // The same bytes, 8 KiB further in (the wrapper's blocks before it).
    let at = |arts: &[serde_json::Value]| {
        arts.iter()
            .find(|a| a["path"] == "/a_directory/a_file")
            .unwrap()["runs"][0]["image_offset"]
            .as_u64()
            .unwrap()
    };
    assert_eq!(at(&arts), at(&bare) + 8192);
    assert!(
        findings(&case).iter().any(|f| f.contains("HFS wrapper")),
        "{:?}",
        findings(&case)
    );
    // The Sleuth Kit lists the same files in the wrapped volume.
    let fls = |p: &Path| {
        std::process::Command::new("fls")
            .args(["-r", "-p"])
            .arg(p)
            .output()
            .unwrap()
            .stdout
    };
    assert_eq!(fls(&wrapped), fls(&img));
}

/// An attribute whose fork needs more than the eight extents of its record:
/// `testimages/hfs-xattr.py` writes 20 blocks, each an extent of its own, as a
/// fork record and two extents records (TN1150). The stream is the whole
/// value, in order; before the extents records were followed it stopped at
/// its eighth block.
#[test]
fn an_attribute_in_more_than_eight_extents_comes_back_whole() {
    if !tools(&["gzip", "python3"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let img = unpack(dir.path());
    // 20 blocks of 4 KiB and a part block; no block repeats another.
    let value: Vec<u8> = (0..81_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let content = dir.path().join("value.bin");
    std::fs::write(&content, &value).unwrap();
    let out = dir.path().join("xattr.raw");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("testimages/hfs-xattr.py");
    let o = std::process::Command::new("python3")
        .arg(script)
        .arg(&img)
        .args(["passwords.txt", "com.example.large"])
        .arg(&content)
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stdout).ends_with(" 20\n"));
    let case = dir.path().join("case");
    let arts = one_shot_ls("recover", &out, None, &case, 0, &[]);
    let x = arts
        .iter()
        .find(|a| a["path"] == "/passwords.txt:com.example.large")
        .expect("the attribute's stream");
    assert_eq!(x["size"], value.len() as u64);
    assert_eq!(x["status"], "complete", "{x}");
    let got = std::fs::read(case.join(x["extracted"].as_str().unwrap())).unwrap();
    assert!(got == value, "the stream differs from the value written");
    // Twenty extents a block apart: no two join into one run.
    assert_eq!(x["runs"].as_array().unwrap().len(), 20, "{}", x["runs"]);
    // The data fork beside it is untouched.
    let pw = arts.iter().find(|a| a["path"] == "/passwords.txt").unwrap();
    assert_eq!(pw["size"], 116);
}

/// LZBITMAP (decmpfs methods 13 and 14, macOS 11 and later), on HFS+ and on
/// APFS (dfvfs's `apfs.raw`): files whose attribute holds, or whose resource
/// fork's one chunk is, an LZBITMAP stream from libzbitmap's test vectors
/// (testimages/external/libzbitmap, made with Apple's compressor) decode to
/// the vector's original bytes.
#[test]
fn lzbitmap_compressed_files_decode_to_the_original_bytes() {
    if !tools(&["gzip", "python3"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let vectors = Path::new(env!("CARGO_MANIFEST_DIR")).join("testimages/external/libzbitmap");
    for (fs, mode, n) in [
        ("hfs", "inline", "005"),
        ("hfs", "fork", "014"),
        ("hfs", "fork", "007"),
        ("apfs", "inline", "005"),
        ("apfs", "fork", "014"),
    ] {
        let img = dfvfs(
            dir.path(),
            &format!("{}.raw", if fs == "hfs" { "hfsplus" } else { "apfs" }),
        );
        let original = std::fs::read(vectors.join(format!("{n}-original"))).unwrap();
        let stream = vectors.join(format!("{n}-compressed"));
        let method = format!("lzbitmap:{}", stream.display());
        let (made, _) = apple_compress(fs, dir.path(), &img, &original, (mode, &method));
        let case = dir.path().join(format!("case-{fs}-{mode}-{n}"));
        let arts = one_shot_ls("recover", &made, None, &case, 0, &[]);
        // The APFS volume's files are under its name.
        let path = if fs == "hfs" {
            "/passwords.txt"
        } else {
            "/apfs_test/passwords.txt"
        };
        let a = arts.iter().find(|a| a["path"] == path).unwrap();
        assert_eq!(a["size"], original.len() as u64, "{fs} {mode} {n}");
        assert_eq!(a["status"], "complete", "{fs} {mode} {n}: {a}");
        let got = std::fs::read(case.join(a["extracted"].as_str().unwrap())).unwrap();
        assert!(
            got == original,
            "{fs} {mode} {n}: the decoded content differs"
        );
    }
}

/// The catalog's and the attributes file's header nodes (node 0 of each)
/// on bad sectors (a ddrescue map beside the image): the node size is taken
/// from the other nodes, whose leaves are read in node order, and every
/// file and attribute comes back as from the intact volume, with a finding
/// for each tree. Before, an unreadable header node cost every file of the
/// catalog, and every attribute.
#[test]
fn with_a_b_tree_header_node_on_bad_sectors_every_file_still_comes_back() {
    if !tools(&["gzip"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let img = unpack(dir.path());
    let good = one_shot_ls("recover", &img, None, &dir.path().join("good"), 0, &[]);
    let d = std::fs::read(&img).unwrap();
    let bs = u64::from(u32::from_be_bytes(
        d[1024 + 40..1024 + 44].try_into().unwrap(),
    ));
    // The first extent of each special file's fork: its first block.
    let first_block = |fork: usize| {
        u64::from(u32::from_be_bytes(
            d[1024 + fork + 16..1024 + fork + 20].try_into().unwrap(),
        ))
    };
    let (catalog, attributes) = (first_block(272) * bs, first_block(352) * bs);
    let map = dir.path().join("bad.map");
    let mut bad = [(catalog, 512), (attributes, 512)];
    bad.sort();
    write_bad_map(&map, d.len() as u64, &bad);
    let case = dir.path().join("case");
    let arts = one_shot_ls("recover", &img, Some(&map), &case, 3, &[]);
    // The two special files hold the bad sectors themselves.
    let files = |a: &[serde_json::Value]| {
        let mut h = hashes(a);
        h.retain(|p, _| p != "/$CatalogFile" && p != "/$AttributesFile");
        h
    };
    assert_eq!(files(&arts), files(&good));
    assert!(files(&arts).len() >= 8);
    let f = findings(&case);
    for tree in ["catalog", "attributes file"] {
        assert!(
            f.iter().any(|x| x.contains(&format!(
                "HFS+ {tree} header node unreadable: its node size"
            ))),
            "{tree}: {f:?}"
        );
    }
}
