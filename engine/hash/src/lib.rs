//! Digests of one byte stream. One core does SHA-256 at ~1.8 GB/s but all three in
//! one loop at ~0.38 GB/s (CRATES.md), so each digest runs on its own thread and
//! the buffers are shared, not copied. The evidence gets the algorithms the
//! examiner chose (`Algorithms`, all three by default); extracted files always get
//! all three (`Digester`), since they are small next to the image and a copy is
//! verified by its SHA-256.

use crossbeam_channel::{bounded, Sender};
use dredge_core::{ImageSource, ReadReport, SourceError};
use sha2::Digest;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

mod ranges;
pub use ranges::RangeHasher;

/// Lower-case hex digests.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Digests {
    pub md5: String,
    pub sha1: String,
    pub sha256: String,
}

type Chunk = Arc<Vec<u8>>;

/// One digest algorithm an examiner can choose for the evidence.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Algorithm {
    Md5,
    Sha1,
    Sha256,
}

impl Algorithm {
    pub const ALL: [Algorithm; 3] = [Algorithm::Md5, Algorithm::Sha1, Algorithm::Sha256];

    /// The name on the command line and in custody records.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Md5 => "md5",
            Algorithm::Sha1 => "sha1",
            Algorithm::Sha256 => "sha256",
        }
    }

    /// The name in reports and messages.
    pub fn label(self) -> &'static str {
        match self {
            Algorithm::Md5 => "MD5",
            Algorithm::Sha1 => "SHA-1",
            Algorithm::Sha256 => "SHA-256",
        }
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

/// The digests computed over an evidence item (`--hash md5,sha1,sha256`): never
/// empty, all three by default.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Algorithms(u8);

impl Default for Algorithms {
    fn default() -> Self {
        Self::ALL
    }
}

impl Algorithms {
    pub const ALL: Algorithms = Algorithms(0b111);

    pub fn only(a: Algorithm) -> Self {
        Algorithms(a.bit())
    }

    pub fn contains(self, a: Algorithm) -> bool {
        self.0 & a.bit() != 0
    }

    pub fn with(self, a: Algorithm) -> Self {
        Algorithms(self.0 | a.bit())
    }

    /// The algorithms in both sets; `None` when they share none.
    pub fn intersect(self, other: Algorithms) -> Option<Self> {
        let b = self.0 & other.0;
        (b != 0).then_some(Algorithms(b))
    }

    pub fn iter(self) -> impl Iterator<Item = Algorithm> {
        Algorithm::ALL
            .into_iter()
            .filter(move |a| self.contains(*a))
    }

    /// The names, in a fixed order (what custody records).
    pub fn names(self) -> Vec<&'static str> {
        self.iter().map(Algorithm::name).collect()
    }

    /// The labels for people: "MD5, SHA-1 and SHA-256", "SHA-256".
    pub fn labels(self) -> String {
        let l: Vec<&str> = self.iter().map(Algorithm::label).collect();
        match l.split_last() {
            Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
            _ => l.join(""),
        }
    }

    /// Parses `md5,sha1,sha256` (any order, any case, `sha-256` accepted); an
    /// unknown name or an empty list is an error naming what was given.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut bits = 0u8;
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let a = match part.to_ascii_lowercase().replace('-', "").as_str() {
                "md5" => Algorithm::Md5,
                "sha1" => Algorithm::Sha1,
                "sha256" => Algorithm::Sha256,
                "all" => {
                    bits |= Self::ALL.0;
                    continue;
                }
                _ => {
                    return Err(format!(
                        "unknown hash {part:?} in {text:?} (choose from md5, sha1, sha256)"
                    ))
                }
            };
            bits |= a.bit();
        }
        if bits == 0 {
            return Err(format!(
                "no hash chosen in {text:?} (choose from md5, sha1, sha256)"
            ));
        }
        Ok(Algorithms(bits))
    }

    /// The algorithms whose digests `d` holds; `None` when it holds none.
    pub fn of(d: &ImageDigests) -> Option<Self> {
        let mut bits = 0u8;
        for a in Algorithm::ALL {
            if d.get(a).is_some() {
                bits |= a.bit();
            }
        }
        (bits != 0).then_some(Algorithms(bits))
    }
}

impl std::fmt::Display for Algorithms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.names().join(","))
    }
}

/// The digests of an evidence item: the chosen algorithms are `Some`.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct ImageDigests {
    pub md5: Option<String>,
    pub sha1: Option<String>,
    pub sha256: Option<String>,
}

impl ImageDigests {
    pub fn get(&self, a: Algorithm) -> Option<&str> {
        match a {
            Algorithm::Md5 => self.md5.as_deref(),
            Algorithm::Sha1 => self.sha1.as_deref(),
            Algorithm::Sha256 => self.sha256.as_deref(),
        }
    }

    fn set(&mut self, a: Algorithm, v: String) {
        match a {
            Algorithm::Md5 => self.md5 = Some(v),
            Algorithm::Sha1 => self.sha1 = Some(v),
            Algorithm::Sha256 => self.sha256 = Some(v),
        }
    }
}

impl From<Digests> for ImageDigests {
    fn from(d: Digests) -> Self {
        ImageDigests {
            md5: Some(d.md5),
            sha1: Some(d.sha1),
            sha256: Some(d.sha256),
        }
    }
}

/// Feeds chunks to one hashing thread per chosen algorithm. Dropping it without
/// `finish` stops them.
pub struct MultiHasher {
    senders: Vec<Sender<Chunk>>,
    handles: Vec<(Algorithm, JoinHandle<String>)>,
    bytes: u64,
}

fn spawn<D: Digest + Send + 'static>(depth: usize) -> (Sender<Chunk>, JoinHandle<String>) {
    let (tx, rx) = bounded::<Chunk>(depth);
    let h = std::thread::spawn(move || {
        let mut d = D::new();
        for c in rx {
            d.update(&c[..]);
        }
        hex::encode(d.finalize())
    });
    (tx, h)
}

impl Default for MultiHasher {
    fn default() -> Self {
        Self::new(Algorithms::ALL)
    }
}

impl MultiHasher {
    pub fn new(algorithms: Algorithms) -> Self {
        // A few chunks in flight per digest keep MD5 (the slowest) busy without
        // letting memory grow.
        let depth = 4;
        let mut senders = Vec::new();
        let mut handles = Vec::new();
        for a in algorithms.iter() {
            let (tx, h) = match a {
                Algorithm::Md5 => spawn::<md5::Md5>(depth),
                Algorithm::Sha1 => spawn::<sha1::Sha1>(depth),
                Algorithm::Sha256 => spawn::<sha2::Sha256>(depth),
            };
            senders.push(tx);
            handles.push((a, h));
        }
        MultiHasher {
            senders,
            handles,
            bytes: 0,
        }
    }

    pub fn update(&mut self, chunk: Chunk) {
        self.bytes += chunk.len() as u64;
        for s in &self.senders {
            // A send fails only if the thread died, which `finish` reports.
            let _ = s.send(Arc::clone(&chunk));
        }
    }

    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Whether every digest's queue has room for another chunk, so `update`
    /// would not wait: a caller with other work feeds only then.
    pub fn has_room(&self) -> bool {
        self.senders.iter().all(|s| !s.is_full())
    }

    pub fn finish(self) -> ImageDigests {
        drop(self.senders);
        let mut out = ImageDigests::default();
        for (a, h) in self.handles {
            // A hashing thread cannot panic on data; if it somehow did, the digest
            // is left out (and the evidence check then fails), never invented.
            if let Ok(v) = h.join() {
                out.set(a, v);
            }
        }
        out
    }
}

/// MD5, SHA-1 and SHA-256 on the calling thread: for workers of a pool, where the
/// parallelism comes from running many of them at once.
pub struct Digester {
    md5: md5::Md5,
    sha1: sha1::Sha1,
    sha256: sha2::Sha256,
}

impl Default for Digester {
    fn default() -> Self {
        Self::new()
    }
}

impl Digester {
    pub fn new() -> Self {
        Digester {
            md5: md5::Md5::new(),
            sha1: sha1::Sha1::new(),
            sha256: sha2::Sha256::new(),
        }
    }

    pub fn update(&mut self, data: &[u8]) {
        self.md5.update(data);
        self.sha1.update(data);
        self.sha256.update(data);
    }

    pub fn finish(self) -> Digests {
        Digests {
            md5: hex::encode(self.md5.finalize()),
            sha1: hex::encode(self.sha1.finalize()),
            sha256: hex::encode(self.sha256.finalize()),
        }
    }
}

/// Digests of bytes in memory (small inputs: custody records, reports, tests).
pub fn digest_bytes(data: &[u8]) -> Digests {
    Digests {
        md5: hex::encode(md5::Md5::digest(data)),
        sha1: hex::encode(sha1::Sha1::digest(data)),
        sha256: hex::encode(sha2::Sha256::digest(data)),
    }
}

/// SHA-256 of a file, streamed.
pub fn sha256_file(path: &std::path::Path) -> std::io::Result<String> {
    use std::io::Read;
    let mut f = std::fs::File::open(path)?;
    let mut h = sha2::Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex::encode(h.finalize()))
}

pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(sha2::Sha256::digest(data))
}

/// Result of hashing a whole source.
#[derive(Debug, Clone, Default)]
pub struct SourceHash {
    pub digests: ImageDigests,
    pub size: u64,
    /// Every range that was zero-filled while reading.
    pub synthesized: ReadReport,
    pub interrupted: bool,
}

pub const HASH_CHUNK: usize = 4 << 20;

/// Reads a whole source in order and hashes it. `progress` is called with the bytes
/// done and how many of them were unreadable (zero-filled) so far.
pub fn hash_source(
    src: &dyn ImageSource,
    algorithms: Algorithms,
    interrupt: &AtomicBool,
    mut progress: impl FnMut(u64, u64),
) -> Result<SourceHash, SourceError> {
    let size = src.size();
    let mut h = MultiHasher::new(algorithms);
    let mut report = ReadReport::clean(0);
    let mut off = 0u64;
    let mut unreadable = 0u64;
    while off < size {
        if interrupt.load(Ordering::Relaxed) {
            return Ok(SourceHash {
                digests: h.finish(),
                size,
                synthesized: report,
                interrupted: true,
            });
        }
        let n = (size - off).min(HASH_CHUNK as u64) as usize;
        let mut buf = vec![0u8; n];
        let r = src.read_at(off, &mut buf)?;
        unreadable += r.synthesized_bytes();
        report.extend(&r);
        h.update(Arc::new(buf));
        off += n as u64;
        progress(off, unreadable);
    }
    report.len = usize::try_from(size).unwrap_or(usize::MAX);
    Ok(SourceHash {
        digests: h.finish(),
        size,
        synthesized: report,
        interrupted: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_vectors_split_across_chunks() {
        let mut h = MultiHasher::new(Algorithms::ALL);
        h.update(Arc::new(b"a".to_vec()));
        h.update(Arc::new(b"bc".to_vec()));
        let d = h.finish();
        assert_eq!(d.md5.as_deref(), Some("900150983cd24fb0d6963f7d28e17f72"));
        assert_eq!(
            d.sha1.as_deref(),
            Some("a9993e364706816aba3e25717850c26c9cd0d89d")
        );
        assert_eq!(
            d.sha256.as_deref(),
            Some("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        );
        assert_eq!(d, ImageDigests::from(digest_bytes(b"abc")));
        let mut s = Digester::new();
        s.update(b"ab");
        s.update(b"c");
        assert_eq!(ImageDigests::from(s.finish()), d);
    }

    #[test]
    fn a_chosen_subset_computes_only_those() {
        let set = Algorithms::parse("SHA-256, md5").unwrap();
        assert_eq!(set.to_string(), "md5,sha256");
        assert_eq!(set.labels(), "MD5 and SHA-256");
        assert_eq!(Algorithms::ALL.labels(), "MD5, SHA-1 and SHA-256");
        assert_eq!(Algorithms::only(Algorithm::Sha1).labels(), "SHA-1");
        let mut h = MultiHasher::new(set);
        h.update(Arc::new(b"abc".to_vec()));
        let d = h.finish();
        assert!(d.sha1.is_none());
        assert_eq!(d.md5.as_deref(), Some("900150983cd24fb0d6963f7d28e17f72"));
        assert_eq!(Algorithms::of(&d), Some(set));
        assert!(Algorithms::parse("crc32").unwrap_err().contains("crc32"));
        assert!(Algorithms::parse(" , ").is_err());
        assert_eq!(Algorithms::parse("all").unwrap(), Algorithms::ALL);
        assert_eq!(
            set.intersect(Algorithms::only(Algorithm::Sha1)),
            None,
            "no common digest"
        );
    }
}
