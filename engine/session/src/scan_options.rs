//! What a scan is asked to do (`ScanOptions`, `CarveScope`), and how a session
//! records those options and reads them back to run the same scan again.

use dredge_hash::Algorithms;
use serde_json::json;

/// What `scan` carves after the filesystems.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CarveScope {
    None,
    /// Free space of every filesystem, and volumes no filesystem claims.
    Unallocated,
    /// The whole image.
    All,
}

#[derive(Debug, Clone)]
pub struct ScanOptions {
    pub threads: usize,
    pub carve: CarveScope,
    /// Extract the filesystems' files (off for a carve-only run).
    pub filesystems: bool,
    pub page_size: u64,
    /// Re-hash each evidence item before and after the scan and compare with the
    /// registered hashes (on by default: the court wants it).
    pub rehash: bool,
    /// The evidence digests (`--hash`): a registration computes these; a scan
    /// checks those of them the registration recorded.
    pub hash: Algorithms,
    /// Keys for encrypted volumes (`--key`). Never recorded: the session's
    /// arguments name their kinds only.
    pub keys: Vec<dredge_crypt::KeySpec>,
    /// One memory limit for every unit of work (`--unit-memory`); None: each
    /// unit's default (`dredge_core::memory::unit_limit`). Recorded, so a resumed
    /// scan cuts the same units. The default options take the limit set for the
    /// process (`memory::fixed_limit`).
    pub unit_memory: Option<u64>,
    /// After the scan, try the keys on the extracted files that have a
    /// VeraCrypt/TrueCrypt container's shape (`--container-files`): each try
    /// costs a key-derivation sweep (seconds), so only when asked.
    pub container_files: bool,
    /// A sharded batch cut this item's carving into ranges of this many bytes
    /// (issue 16): the pass hashes each range and carves nothing; the shards
    /// of the ranges carve, and the merge stores what they found.
    pub carve_ranges: Option<u64>,
}

impl Default for ScanOptions {
    fn default() -> Self {
        ScanOptions {
            threads: std::thread::available_parallelism().map_or(2, |n| n.get()),
            carve: CarveScope::Unallocated,
            filesystems: true,
            page_size: 16 << 20,
            rehash: true,
            hash: Algorithms::ALL,
            unit_memory: dredge_core::memory::fixed_limit(),
            keys: Vec::new(),
            container_files: false,
            carve_ranges: None,
        }
    }
}

impl dredge_core::Word for CarveScope {
    const ALL: &'static [Self] = &[CarveScope::Unallocated, CarveScope::All, CarveScope::None];
    const WORDS: &'static [&'static str] = &["unallocated", "all", "none"];
}

impl CarveScope {
    pub fn as_str(&self) -> &'static str {
        dredge_core::Word::word(*self)
    }
}

impl ScanOptions {
    /// The options as the session records them: enough to run the same scan again
    /// (a resume, or a second examiner).
    pub fn to_args(&self) -> serde_json::Value {
        let mut a = json!({"threads": self.threads, "rehash": self.rehash, "carve": self.carve.as_str(),
               "filesystems": self.filesystems, "page_size": self.page_size,
               "hash": self.hash.names()});
        // Which kinds of key were given (never the keys); absent without keys,
        // so a keyless scan records what it always did.
        if !self.keys.is_empty() {
            a["keys"] = crate::unlock::key_kinds(&self.keys);
        }
        // Absent without a limit, likewise.
        if let Some(n) = self.unit_memory {
            a["unit_memory"] = n.into();
        }
        if self.container_files {
            a["container_files"] = true.into();
        }
        if let Some(n) = self.carve_ranges {
            a["carve_ranges"] = n.into();
        }
        a
    }

    /// Options from a recorded session's arguments; what a session of an older
    /// version did not record takes its default.
    pub fn from_args(args: &serde_json::Value) -> ScanOptions {
        let d = ScanOptions::default();
        ScanOptions {
            threads: args["threads"]
                .as_u64()
                .map_or(d.threads, |t| (t as usize).clamp(1, 256)),
            carve: match args["carve"].as_str() {
                Some("none") => CarveScope::None,
                Some("all") => CarveScope::All,
                _ => CarveScope::Unallocated,
            },
            filesystems: args["filesystems"].as_bool().unwrap_or(d.filesystems),
            page_size: args["page_size"]
                .as_u64()
                .map_or(d.page_size, |p| p.clamp(4096, 1 << 30)),
            rehash: args["rehash"].as_bool().unwrap_or(d.rehash),
            hash: args["hash"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str())
                        .collect::<Vec<_>>()
                        .join(",")
                })
                .and_then(|s| Algorithms::parse(&s).ok())
                .unwrap_or(d.hash),
            // A resumed run has no keys: they were never recorded.
            keys: Vec::new(),
            unit_memory: args["unit_memory"].as_u64(),
            container_files: args["container_files"].as_bool().unwrap_or(false),
            carve_ranges: args["carve_ranges"].as_u64().filter(|&n| n > 0),
        }
    }
}
