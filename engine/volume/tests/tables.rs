use dredge_core::{Extent, ImageSource, VolumeKind};
use dredge_image::{MemDevice, Sectored};
use dredge_volume::{detect, scan::scan, Layout, Scheme};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::AtomicBool;

fn shared(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/testdata")
        .join(rel)
}

fn gunzip(rel: &str) -> Vec<u8> {
    let out = Command::new("gzip")
        .arg("-dc")
        .arg(shared(rel))
        .output()
        .unwrap();
    assert!(out.status.success());
    out.stdout
}

fn src(data: Vec<u8>) -> Sectored<MemDevice> {
    Sectored::new(MemDevice::new(data))
}

fn parts(l: &Layout) -> Vec<(u64, u64, String)> {
    l.partitions()
        .map(|v| {
            (
                v.extent.start / 512,
                v.extent.len / 512,
                v.slot.clone().unwrap(),
            )
        })
        .collect()
}

fn assert_tiles(l: &Layout, size: u64) {
    let mut pos = 0;
    for v in &l.volumes {
        assert_eq!(
            v.extent.start, pos,
            "volumes must tile the image: {:?}",
            l.volumes
        );
        pos = v.extent.end();
    }
    assert_eq!(pos, size);
}

#[test]
fn dfvfs_mbr_with_an_extended_partition() {
    let data = gunzip("dfvfs/mbr.raw.gz");
    let size = data.len() as u64;
    let l = detect(&src(data)).unwrap();
    assert_eq!(l.scheme, Scheme::Mbr);
    assert_eq!(
        parts(&l),
        vec![(1, 129, "mbr:1".into()), (131, 129, "ebr:5".into())]
    );
    assert!(l.partitions().all(|p| p.description.contains("0x83")));
    let meta: Vec<u64> = l
        .volumes
        .iter()
        .filter(|v| v.kind == VolumeKind::Meta)
        .map(|v| v.extent.start / 512)
        .collect();
    assert_eq!(meta, vec![0, 130]);
    let unalloc: Vec<(u64, u64)> = l
        .volumes
        .iter()
        .filter(|v| v.kind == VolumeKind::Unallocated)
        .map(|v| (v.extent.start / 512, v.extent.len / 512))
        .collect();
    assert_eq!(unalloc, vec![(260, 8192 - 260)]);
    assert!(l.findings.is_empty(), "{:?}", l.findings);
    assert_tiles(&l, size);
}

#[test]
fn dfvfs_tsk_volume_system() {
    let data = gunzip("dfvfs/tsk_volume_system.raw.gz");
    let size = data.len() as u64;
    let l = detect(&src(data)).unwrap();
    assert_eq!(
        parts(&l),
        vec![(1, 350, "mbr:1".into()), (352, 2528, "ebr:5".into())]
    );
    assert_tiles(&l, size);
}

#[test]
fn a_filesystem_at_offset_zero_is_not_taken_for_a_table() {
    let mut f = std::fs::File::open(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testimages/sample/usb-stick.img"),
    )
    .unwrap();
    let mut data = Vec::new();
    f.read_to_end(&mut data).unwrap();
    let l = detect(&src(data)).unwrap();
    assert_eq!(l.scheme, Scheme::None);
    assert_eq!(l.volumes.len(), 1);
    assert_eq!(l.volumes[0].kind, VolumeKind::Whole);
}

#[test]
fn an_extended_chain_that_loops_is_a_finding_not_a_hang() {
    let mut d = vec![0u8; 1 << 20];
    let mbr = |d: &mut Vec<u8>, at: usize, slot: usize, t: u8, start: u32, count: u32| {
        let e = at + 446 + 16 * slot;
        d[e + 4] = t;
        d[e + 8..e + 12].copy_from_slice(&start.to_le_bytes());
        d[e + 12..e + 16].copy_from_slice(&count.to_le_bytes());
        d[at + 510] = 0x55;
        d[at + 511] = 0xAA;
    };
    mbr(&mut d, 0, 0, 0x05, 100, 1000);
    mbr(&mut d, 100 * 512, 0, 0x83, 1, 50); // logical 5 at 101
    mbr(&mut d, 100 * 512, 1, 0x05, 0, 10); // link back to the same EBR... start 0 ends the chain
    mbr(&mut d, 100 * 512, 1, 0x05, 200, 100); // link to 300
    mbr(&mut d, 300 * 512, 0, 0x83, 1, 50); // logical 6 at 301
    mbr(&mut d, 300 * 512, 1, 0x05, 200, 100); // links to itself: a loop
    let l = detect(&src(d)).unwrap();
    assert_eq!(
        parts(&l),
        vec![(101, 50, "ebr:5".into()), (301, 50, "ebr:6".into())]
    );
    assert!(
        l.findings.iter().any(|f| f.what.contains("loops")),
        "{:?}",
        l.findings
    );
    assert_tiles(&l, 1 << 20);
}

fn have(t: &str) -> bool {
    let ok = Command::new("sh")
        .args(["-c", &format!("command -v {t}")])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !ok {
        if std::env::var("DREDGE_REQUIRE_TOOLS").as_deref() == Ok("1") {
            panic!("{t} missing");
        }
        eprintln!("SKIPPED: {t} missing");
    }
    ok
}

fn gpt_image(dir: &Path) -> (PathBuf, Vec<u8>) {
    let p = dir.join("gpt.img");
    let f = std::fs::File::create(&p).unwrap();
    f.set_len(16 << 20).unwrap();
    drop(f);
    let o = Command::new("sgdisk")
        .args([
            "-n",
            "1:2048:+2M",
            "-t",
            "1:ef00",
            "-c",
            "1:EFI",
            "-n",
            "2:0:+4M",
            "-t",
            "2:0700",
            "-c",
            "2:data",
            "-n",
            "3:0:+3M",
            "-t",
            "3:8300",
        ])
        .arg(&p)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let d = std::fs::read(&p).unwrap();
    (p, d)
}

#[test]
fn gpt_made_by_sgdisk_and_its_backup_when_the_primary_is_damaged() {
    if !have("sgdisk") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (_, data) = gpt_image(dir.path());
    let size = data.len() as u64;
    let expect = vec![
        (2048, 4096, "gpt:1".to_string()),
        (6144, 8192, "gpt:2".into()),
        (14336, 6144, "gpt:3".into()),
    ];

    let l = detect(&src(data.clone())).unwrap();
    assert_eq!(l.scheme, Scheme::Gpt);
    assert_eq!(parts(&l), expect);
    assert!(l.volumes[1..]
        .iter()
        .any(|v| v.description.contains("EFI system \"EFI\"")));
    assert!(l.findings.is_empty(), "{:?}", l.findings);
    assert_tiles(&l, size);

    // Primary header zeroed (and the MBR too): the backup at the end is used.
    let mut d = data.clone();
    d[..1024].fill(0);
    let l = detect(&src(d)).unwrap();
    assert_eq!(l.scheme, Scheme::Gpt);
    assert_eq!(parts(&l), expect);
    assert!(
        l.findings.iter().any(|f| f.what.contains("backup GPT")),
        "{:?}",
        l.findings
    );
    assert_tiles(&l, size);

    // One byte of the primary entry array changed: its CRC fails, the backup's holds.
    let mut d = data.clone();
    d[1024 + 40] ^= 0xFF;
    let l = detect(&src(d)).unwrap();
    assert_eq!(parts(&l), expect);
    assert!(
        l.findings
            .iter()
            .any(|f| f.what.contains("entry array CRC")),
        "{:?}",
        l.findings
    );

    // Both headers gone: only the protective MBR's one 0xEE partition is left (the
    // lost-partition scan takes it from there), and we say why.
    let mut d = data.clone();
    d[512..1024].fill(0);
    let n = d.len();
    d[n - 512..].fill(0);
    let l = detect(&src(d)).unwrap();
    assert_eq!(l.scheme, Scheme::Mbr);
    assert_eq!(l.partitions().count(), 1);
    assert!(l.partitions().all(|p| p.description.contains("0xee")));
    assert!(
        l.findings.iter().any(|f| f.what.contains("protective MBR")),
        "{:?}",
        l.findings
    );
}

#[test]
fn scan_finds_a_fat_volume_and_an_ext4_volume_whose_primary_superblock_is_gone() {
    if !have("mkfs.ext4") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let sample = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testimages/sample/usb-stick.img"),
    )
    .unwrap();
    let ext = dir.path().join("ext.img");
    let f = std::fs::File::create(&ext).unwrap();
    f.set_len(16 << 20).unwrap();
    drop(f);
    let o = Command::new("mkfs.ext4")
        .args(["-q", "-F", "-b", "1024", "-g", "2048"])
        .arg(&ext)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let mut e = std::fs::read(&ext).unwrap();
    e[1024..2048].fill(0); // primary superblock destroyed
    let mut disk = vec![0u8; 1 << 20];
    disk.extend_from_slice(&sample);
    let ext_at = disk.len() as u64;
    disk.extend_from_slice(&e);
    disk.extend(std::iter::repeat_n(0u8, 1 << 20));
    let s = src(disk.clone());
    let c = scan(&s, Extent::new(0, s.size()), &AtomicBool::new(false)).unwrap();
    let fat = c.iter().find(|c| c.fs == "fat").expect("fat candidate");
    assert_eq!((fat.start, fat.len), (1 << 20, 4 << 20));
    let ext = c.iter().find(|c| c.fs == "ext").expect("ext candidate");
    assert_eq!(ext.start, ext_at);
    assert_eq!(ext.len, 16 << 20);
    assert!(
        ext.evidence.contains("backup superblock"),
        "{}",
        ext.evidence
    );
}
