//! Containers this project has never seen: `mkapfs` (apfsprogs, written from
//! Apple's reference with no code shared with dredge) formats sparse files
//! of several sizes, from one chunk-info block to several; each opens, lists
//! its volume's root as empty, passes `apfsck`, and has exactly the free
//! blocks The Sleuth Kit's `pstat` counts.

use dredge_core::{Extent, FileSystem, ImageSource, VolumeReader};
use dredge_fs_apfs::{probe, ApfsFs};
use dredge_image::{FileDevice, Sectored};
use std::process::Command;
use std::sync::Arc;

fn have(tool: &str) -> bool {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .is_ok_and(|o| o.status.success());
    if !found && std::env::var_os("DREDGE_REQUIRE_TOOLS").is_some() {
        panic!("{tool} is required (DREDGE_REQUIRE_TOOLS)");
    }
    found
}

#[test]
fn containers_mkapfs_made_match_pstat_free_space() {
    if !have("mkapfs") || !have("pstat") || !have("apfsck") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    for (i, size) in ["600M", "5G", "40G"].iter().enumerate() {
        let img = dir.path().join(format!("c{i}.img"));
        assert!(Command::new("truncate")
            .args(["-s", size])
            .arg(&img)
            .status()
            .unwrap()
            .success());
        let label = format!("case{i}");
        assert!(Command::new("mkapfs")
            .args(["-L", &label])
            .arg(&img)
            .status()
            .unwrap()
            .success());
        assert!(Command::new("apfsck").arg(&img).status().unwrap().success());
        let src: Arc<dyn ImageSource> = Arc::new(Sectored::new(FileDevice::open(&img).unwrap()));
        let vol = VolumeReader::new(Arc::clone(&src), Extent::new(0, src.size()));
        assert!(probe(&vol), "{size}");
        let fs = ApfsFs::open(vol).unwrap();
        assert_eq!(fs.label().as_deref(), Some(label.as_str()));
        let mut paths = Vec::new();
        let mut findings = Vec::new();
        fs.walk(&mut |e| paths.push(e.path), &mut findings);
        assert!(
            paths.iter().all(|p| p.starts_with(&format!("/{label}/$"))),
            "{paths:?}"
        );
        let free: u64 = fs
            .unallocated(&mut findings)
            .iter()
            .map(|x| x.len)
            .sum::<u64>()
            / 4096;
        let o = Command::new("pstat").arg(&img).output().unwrap();
        let tsk: u64 = String::from_utf8_lossy(&o.stdout)
            .lines()
            .find_map(|l| {
                l.strip_prefix("Number of Free Blocks: ")
                    .map(|n| n.trim().parse().unwrap())
            })
            .expect("pstat counts free blocks");
        assert_eq!(free, tsk, "{size}");
        assert!(findings.is_empty(), "{size}: {findings:?}");
    }
}
