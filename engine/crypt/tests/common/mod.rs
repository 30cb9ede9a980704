//! What the crate's tests over public test images share.
#![allow(dead_code)]

use dredge_core::{ImageSource, ReadReport, SourceError};
use std::process::Command;

/// An image in memory.
pub struct Mem(pub Vec<u8>);
impl ImageSource for Mem {
    fn size(&self) -> u64 {
        self.0.len() as u64
    }
    fn read_at(&self, off: u64, buf: &mut [u8]) -> Result<ReadReport, SourceError> {
        let s = (off as usize).min(self.0.len());
        let n = buf.len().min(self.0.len() - s);
        buf[..n].copy_from_slice(&self.0[s..s + n]);
        buf[n..].fill(0);
        Ok(ReadReport::clean(n))
    }
    fn describe(&self) -> String {
        "test image".into()
    }
}

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
