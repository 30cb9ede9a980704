//! What the crate's tests over public test images share.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

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
