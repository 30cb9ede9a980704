//! What the crate's tests over public test images share.
#![allow(dead_code)]

use dredge_core::ImageSource;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

/// An image in memory.
#[allow(unused_imports)]
pub use dredge_testkit::MemSource as Mem;

/// Whether `tool` is installed; a failure when DREDGE_REQUIRE_TOOLS is set and it is not.
pub fn have(tool: &str) -> bool {
    let ok = Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        ok || std::env::var_os("DREDGE_REQUIRE_TOOLS").is_none(),
        "{tool} is required (DREDGE_REQUIRE_TOOLS)"
    );
    ok
}

/// Where the workspace keeps cryptsetup's test images (../shared/testdata).
pub fn cryptsetup_data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/testdata/cryptsetup")
}

/// Unpacks `tarball` of [`cryptsetup_data`] (only `names`, if any) into a new
/// directory of the system's temp dir named after `tag` and this process.
pub fn unpack(tarball: &str, tag: &str, names: &[&str]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    assert!(Command::new("tar")
        .arg("-xJf")
        .arg(cryptsetup_data().join(tarball))
        .arg("-C")
        .arg(&dir)
        .args(names)
        .status()
        .unwrap()
        .success());
    dir
}

/// An image file read positionally.
pub struct File(pub std::fs::File, pub u64);

impl ImageSource for File {
    fn size(&self) -> u64 {
        self.1
    }
    fn read_at(
        &self,
        off: u64,
        buf: &mut [u8],
    ) -> Result<dredge_core::ReadReport, dredge_core::SourceError> {
        use std::os::unix::fs::FileExt;
        let n = buf.len().min(self.1.saturating_sub(off) as usize);
        self.0.read_exact_at(&mut buf[..n], off).unwrap();
        buf[n..].fill(0);
        Ok(dredge_core::ReadReport::clean(n))
    }
    fn describe(&self) -> String {
        "test image".into()
    }
}

/// An image shared by every case, with a few bytes changed.
pub struct Patched(pub Arc<Vec<u8>>, pub Vec<(usize, u8)>);

fn copy_out(img: &[u8], off: u64, buf: &mut [u8]) -> usize {
    let s = (off as usize).min(img.len());
    let n = buf.len().min(img.len() - s);
    buf[..n].copy_from_slice(&img[s..s + n]);
    buf[n..].fill(0);
    n
}

impl ImageSource for Patched {
    fn size(&self) -> u64 {
        self.0.len() as u64
    }
    fn read_at(
        &self,
        off: u64,
        buf: &mut [u8],
    ) -> Result<dredge_core::ReadReport, dredge_core::SourceError> {
        let n = copy_out(&self.0, off, buf);
        let s = off as usize;
        for &(at, b) in &self.1 {
            if (s..s + n).contains(&at) {
                buf[at - s] = b;
            }
        }
        Ok(dredge_core::ReadReport::clean(n))
    }
    fn describe(&self) -> String {
        "patched test image".into()
    }
}
