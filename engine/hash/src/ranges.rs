//! SHA-256 of each aligned byte range of a stream (issue 16): the pass of a
//! sharded item's registration records one digest per range, and the shard that
//! carves a range records the digest of the bytes it read, so the merge can
//! prove every range was carved from the registered bytes without one machine
//! reading the whole image again.

use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::thread::JoinHandle;

type Chunk = Arc<Vec<u8>>;

/// Hashes a stream fed in order on its own thread, one SHA-256 per `range`
/// bytes (the last range may be shorter).
pub struct RangeHasher {
    tx: crossbeam_channel::Sender<Chunk>,
    handle: JoinHandle<Vec<String>>,
}

impl RangeHasher {
    /// `range` must be non-zero.
    pub fn new(range: u64) -> Self {
        let range = range.max(1);
        let (tx, rx) = crossbeam_channel::bounded::<Chunk>(4);
        let handle = std::thread::spawn(move || {
            let mut out = Vec::new();
            let mut h = Sha256::new();
            let mut filled = 0u64;
            for c in rx {
                let mut rest = &c[..];
                while !rest.is_empty() {
                    // A chunk may end one range and start the next.
                    let take = rest.len().min((range - filled) as usize);
                    h.update(&rest[..take]);
                    filled += take as u64;
                    rest = &rest[take..];
                    if filled == range {
                        out.push(hex::encode(h.finalize_reset()));
                        filled = 0;
                    }
                }
            }
            if filled > 0 {
                out.push(hex::encode(h.finalize()));
            }
            out
        });
        RangeHasher { tx, handle }
    }

    pub fn update(&mut self, chunk: Chunk) {
        // Fails only if the thread died, which `finish` reports.
        let _ = self.tx.send(chunk);
    }

    /// The digests, one per range fed; empty if the thread died (the merge then
    /// finds no digest to match, and says so, never an invented one).
    pub fn finish(self) -> Vec<String> {
        drop(self.tx);
        self.handle.join().unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_range_is_hashed_alone_whatever_the_chunks() {
        let data: Vec<u8> = (0..10_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let want: Vec<String> = data
            .chunks(4096)
            .map(|c| hex::encode(Sha256::digest(c)))
            .collect();
        for chunk in [1usize, 1000, 4096, 5000, 10_000] {
            let mut r = RangeHasher::new(4096);
            for c in data.chunks(chunk) {
                r.update(Arc::new(c.to_vec()));
            }
            assert_eq!(r.finish(), want, "chunks of {chunk}");
        }
    }
}
