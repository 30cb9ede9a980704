//! Real block devices: a read-only loop device over an image, with 512- and
//! 4096-byte logical sectors. Needs root and losetup; skipped otherwise unless
//! DREDGE_REQUIRE_TOOLS=1.

mod common;

use common::*;
use std::process::Command;

struct Loop(String);

impl Loop {
    fn attach(img: &std::path::Path, sector: u32) -> Option<Loop> {
        let o = Command::new("losetup")
            .args(["-f", "--show", "-r", "--sector-size", &sector.to_string()])
            .arg(img)
            .output()
            .ok()?;
        o.status
            .success()
            .then(|| Loop(String::from_utf8_lossy(&o.stdout).trim().to_string()))
    }
}

impl Drop for Loop {
    fn drop(&mut self) {
        let _ = Command::new("losetup").args(["-d", &self.0]).status();
    }
}

#[test]
fn acquire_and_add_a_loop_device_with_512_and_4096_byte_sectors() {
    if !tools(&["losetup"]) {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let img = d.path().join("disk.img");
    std::fs::write(&img, noise(3 << 20, 11)).unwrap();
    let witness = ReadOnlyWitness::new(&[&img]);
    for sector in [512u32, 4096] {
        let Some(dev) = Loop::attach(&img, sector) else {
            skip("cannot attach a loop device (root needed)");
            return;
        };
        let case = d.path().join(format!("case{sector}"));
        let o = run(&["case", "new", case.to_str().unwrap(), "--examiner", "T"]);
        assert!(o.status.success());
        let out = d.path().join(format!("copy{sector}.img"));
        let o = run(&[
            "--progress",
            "json",
            "acquire",
            &dev.0,
            out.to_str().unwrap(),
            "--case",
            case.to_str().unwrap(),
        ]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        assert_eq!(sha256_file(&out), sha256_file(&img));
        let o = run(&["add", case.to_str().unwrap(), &dev.0]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        let o = run(&["--progress", "json", "case", "show", case.to_str().unwrap()]);
        let v: serde_json::Value = serde_json::from_str(stdout(&o).trim()).unwrap();
        let ev = v["evidence"].as_array().unwrap();
        assert_eq!(ev.len(), 2);
        assert_eq!(ev[1]["kind"], "device");
        assert_eq!(ev[0]["sha256"], ev[1]["sha256"]);
        let log = stdout(&run(&["log", case.to_str().unwrap()]));
        assert!(log.contains(&format!("\"sector_size\":{sector}")), "{log}");
        assert!(log.contains("\"block_device\":true"));
    }
    witness.assert_unchanged();
}
