//! Scratch files for what a scan knows of every file between planning and
//! storing (issue 18, decision 0014): the plans of a million files do not fit
//! the memory a scan may use, so they go to a file on the case's disk, written
//! in order while the filesystems are walked and read back in order after the
//! pass. A scratch file is unlinked as soon as it is made: a killed scan leaves
//! nothing behind, and a resumed one plans again.

use crate::Failure;
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

/// A new scratch file in `dir`, already unlinked.
pub(crate) fn scratch(dir: &Path) -> Result<File, Failure> {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let at = dir.join(format!(".dredge-scratch-{}-{n}", std::process::id()));
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&at)
        .map_err(|e| Failure(format!("{}: {e}", at.display())))?;
    std::fs::remove_file(&at).map_err(|e| Failure(format!("{}: {e}", at.display())))?;
    Ok(f)
}

fn io(e: std::io::Error) -> Failure {
    Failure(format!("scratch file: {e}"))
}

/// Appends values to a record: integers as LEB128, strings length-first.
#[derive(Default)]
pub(crate) struct Enc(pub Vec<u8>);

impl Enc {
    pub fn u64(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.0.push((v as u8) | 0x80);
            v >>= 7;
        }
        self.0.push(v as u8);
    }

    pub fn bool(&mut self, v: bool) {
        self.0.push(u8::from(v));
    }

    pub fn str(&mut self, s: &str) {
        self.u64(s.len() as u64);
        self.0.extend_from_slice(s.as_bytes());
    }

    pub fn opt_str(&mut self, s: Option<&str>) {
        self.bool(s.is_some());
        if let Some(s) = s {
            self.str(s);
        }
    }

    pub fn opt_u64(&mut self, v: Option<u64>) {
        self.bool(v.is_some());
        if let Some(v) = v {
            self.u64(v);
        }
    }
}

/// Reads a record written by [`Enc`]. Scratch files are dredge's own, but a
/// short or garbled one is a failure with a message, never a panic.
pub(crate) struct Dec<'a> {
    b: &'a [u8],
    at: usize,
}

fn short() -> Failure {
    Failure("scratch file: a record ends early".into())
}

impl<'a> Dec<'a> {
    pub fn new(b: &'a [u8]) -> Self {
        Dec { b, at: 0 }
    }

    pub fn u64(&mut self) -> Result<u64, Failure> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = *self.b.get(self.at).ok_or_else(short)?;
            self.at += 1;
            v |= u64::from(byte & 0x7f) << shift;
            if byte < 0x80 {
                return Ok(v);
            }
        }
        Err(Failure("scratch file: an integer runs past 64 bits".into()))
    }

    pub fn bool(&mut self) -> Result<bool, Failure> {
        let byte = *self.b.get(self.at).ok_or_else(short)?;
        self.at += 1;
        Ok(byte != 0)
    }

    pub fn str(&mut self) -> Result<String, Failure> {
        let n = usize::try_from(self.u64()?).map_err(|_| short())?;
        let end = self.at.checked_add(n).ok_or_else(short)?;
        let s = self.b.get(self.at..end).ok_or_else(short)?;
        self.at = end;
        String::from_utf8(s.to_vec())
            .map_err(|_| Failure("scratch file: a name is not UTF-8".into()))
    }

    pub fn opt_str(&mut self) -> Result<Option<String>, Failure> {
        Ok(if self.bool()? {
            Some(self.str()?)
        } else {
            None
        })
    }

    pub fn opt_u64(&mut self) -> Result<Option<u64>, Failure> {
        Ok(if self.bool()? {
            Some(self.u64()?)
        } else {
            None
        })
    }

    /// A value's index into `all` (enums are written as their index).
    pub fn pick<T: Copy>(&mut self, all: &[T]) -> Result<T, Failure> {
        let i = usize::try_from(self.u64()?).unwrap_or(usize::MAX);
        all.get(i)
            .copied()
            .ok_or_else(|| Failure(format!("scratch file: no value {i} of {}", all.len())))
    }
}

/// The index of `v` in `all`, for [`Dec::pick`].
pub(crate) fn index_of<T: PartialEq>(all: &[T], v: &T) -> u64 {
    all.iter().position(|x| x == v).unwrap_or(0) as u64
}

/// Records appended to a scratch file, then read back in the order written.
pub(crate) struct Records {
    w: BufWriter<File>,
    count: u64,
    frame: Enc,
}

impl Records {
    pub(crate) fn new(dir: &Path) -> Result<Records, Failure> {
        Ok(Records {
            w: BufWriter::with_capacity(1 << 20, scratch(dir)?),
            count: 0,
            frame: Enc::default(),
        })
    }

    /// Appends one record, written by `put`.
    pub(crate) fn push(&mut self, put: impl FnOnce(&mut Enc)) -> Result<(), Failure> {
        self.frame.0.clear();
        put(&mut self.frame);
        write_frame(&mut self.w, &self.frame.0).map_err(io)?;
        self.count += 1;
        Ok(())
    }

    pub(crate) fn len(&self) -> u64 {
        self.count
    }

    /// The records from the first, each as its bytes.
    pub(crate) fn read(self) -> Result<Replay, Failure> {
        let mut f = self.w.into_inner().map_err(|e| io(e.into_error()))?;
        f.seek(SeekFrom::Start(0)).map_err(io)?;
        Ok(Replay {
            r: BufReader::with_capacity(1 << 20, f),
            left: self.count,
        })
    }
}

/// Records read back in order: each one's bytes, for its decoder.
pub(crate) struct Replay {
    r: BufReader<File>,
    left: u64,
}

impl Replay {
    /// Records left to read.
    pub(crate) fn len(&self) -> u64 {
        self.left
    }
}

impl Iterator for Replay {
    type Item = Result<Vec<u8>, Failure>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        Some(read_frame(&mut self.r))
    }
}

/// Writes one length-prefixed record (what `read_frame` reads); the bytes
/// written.
pub(crate) fn write_frame(w: &mut impl Write, body: &[u8]) -> std::io::Result<u64> {
    let mut len = Enc::default();
    len.u64(body.len() as u64);
    w.write_all(&len.0)?;
    w.write_all(body)?;
    Ok((len.0.len() + body.len()) as u64)
}

/// One length-prefixed record from `r`.
pub(crate) fn read_frame(r: &mut impl Read) -> Result<Vec<u8>, Failure> {
    let mut n = 0u64;
    for shift in (0..64).step_by(7) {
        let mut b = [0u8];
        r.read_exact(&mut b).map_err(io)?;
        n |= u64::from(b[0] & 0x7f) << shift;
        if b[0] < 0x80 {
            // A record is one file's plan: far below this.
            if n > 1 << 30 {
                return Err(Failure(format!("scratch file: a record of {n} bytes")));
            }
            let mut v = vec![0u8; n as usize];
            r.read_exact(&mut v).map_err(io)?;
            return Ok(v);
        }
    }
    Err(short())
}

/// Reads bytes `pos..end` of a file shared with other readers (each keeps its
/// own position: `pread`, not the file's offset).
pub(crate) struct Span {
    pub file: std::sync::Arc<File>,
    pub pos: u64,
    pub end: u64,
}

impl Read for Span {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.end.saturating_sub(self.pos).min(buf.len() as u64) as usize;
        if n == 0 {
            return Ok(0);
        }
        let got = self.file.read_at(&mut buf[..n], self.pos)?;
        self.pos += got as u64;
        Ok(got)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_read_back_as_written_and_short_records_fail() {
        let mut e = Enc::default();
        for v in [0u64, 1, 127, 128, 300, u64::MAX] {
            e.u64(v);
        }
        e.str("ünï/cödé");
        e.opt_str(None);
        e.opt_u64(Some(7));
        let mut d = Dec::new(&e.0);
        for v in [0u64, 1, 127, 128, 300, u64::MAX] {
            assert_eq!(d.u64().unwrap(), v);
        }
        assert_eq!(d.str().unwrap(), "ünï/cödé");
        assert_eq!(d.opt_str().unwrap(), None);
        assert_eq!(d.opt_u64().unwrap(), Some(7));
        assert!(d.u64().is_err());
        for cut in 0..e.0.len() {
            // Every prefix decodes to an error somewhere, never a panic.
            let mut d = Dec::new(&e.0[..cut]);
            let ok = (0..6).all(|_| d.u64().is_ok())
                && d.str().is_ok()
                && d.opt_str().is_ok()
                && d.opt_u64().is_ok();
            assert!(!ok, "a record cut at {cut} of {} decoded", e.0.len());
        }
    }

    #[test]
    fn records_come_back_in_order_from_an_unlinked_file() {
        let dir = tempfile::tempdir().unwrap();
        let mut r = Records::new(dir.path()).unwrap();
        for i in 0..10_000u64 {
            r.push(|e| {
                e.u64(i);
                e.str(&"x".repeat((i % 300) as usize));
            })
            .unwrap();
        }
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
        let back: Vec<(u64, usize)> = r
            .read()
            .unwrap()
            .map(|b| {
                let b = b.unwrap();
                let mut d = Dec::new(&b);
                (d.u64().unwrap(), d.str().unwrap().len())
            })
            .collect();
        assert_eq!(back.len(), 10_000);
        assert!(back
            .iter()
            .enumerate()
            .all(|(i, &(v, n))| v == i as u64 && n == i % 300));
    }
}
