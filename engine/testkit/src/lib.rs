//! What the damaged-input tests share. Every reader and carver has a mutation test:
//! a known-good input is damaged thousands of ways and must never panic or allocate
//! without bound. The damage is drawn from one deterministic generator, so a failing
//! case can be repeated, and two variables widen the search locally:
//! `DREDGE_MUTATION_SEED` (another set of cases) and `DREDGE_MUTATION_CASES` (more).

/// xorshift64: fast, deterministic, good enough to pick bytes and places to damage.
pub struct Rng(pub u64);

/// An image held in memory, clean everywhere; reads past its end are zeros
/// and the report's length counts only the bytes inside it.
pub struct MemSource(pub Vec<u8>);

impl dredge_core::ImageSource for MemSource {
    fn size(&self) -> u64 {
        self.0.len() as u64
    }
    fn read_at(
        &self,
        off: u64,
        buf: &mut [u8],
    ) -> Result<dredge_core::ReadReport, dredge_core::SourceError> {
        let s = usize::try_from(off).unwrap_or(usize::MAX).min(self.0.len());
        let n = buf.len().min(self.0.len() - s);
        buf[..n].copy_from_slice(&self.0[s..s + n]);
        buf[n..].fill(0);
        Ok(dredge_core::ReadReport::clean(n))
    }
    fn describe(&self) -> String {
        "test image in memory".into()
    }
}

impl Rng {
    pub fn new(seed: u64) -> Rng {
        // Zero is xorshift's one fixed point.
        Rng(seed | 1)
    }

    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A number in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    /// A position in `0..n` (0 when `n` is 0): [`Rng::below`] for lengths.
    pub fn index(&mut self, n: usize) -> usize {
        self.below(n as u64) as usize
    }

    /// `len` bytes of the stream, one per step (the low byte of each number).
    pub fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next() as u8).collect()
    }
}

/// A mutation test's generator and number of cases: its own seed and 2400 cases,
/// unless `DREDGE_MUTATION_SEED` / `DREDGE_MUTATION_CASES` say otherwise.
pub fn mutation_setup(default_seed: u64) -> (Rng, usize) {
    let env = |k: &str| std::env::var(k).ok().and_then(|v| v.parse::<u64>().ok());
    let seed = env("DREDGE_MUTATION_SEED").unwrap_or(default_seed);
    let cases = env("DREDGE_MUTATION_CASES").unwrap_or(2400);
    (Rng::new(seed), usize::try_from(cases).unwrap_or(usize::MAX))
}

/// What a filesystem's walk holds beyond the entries it hands out, at most, seen
/// at each entry (each is dropped there, as the session hands it on); with the
/// number of entries and the walk's findings. A first walk warms what the reader
/// caches, so this is the walk's own memory. Counted only in a test binary that
/// installs `dredge_core::memory::Counting` as its allocator.
pub fn walk_held(fs: &dyn dredge_core::FileSystem) -> (u64, usize, Vec<dredge_core::Finding>) {
    use dredge_core::memory;
    fs.walk(&mut |_| {}, &mut Vec::new());
    let _unit = memory::Scope::enter(u64::MAX - 1);
    let (mut most, mut n) = (0, 0);
    let mut findings = Vec::new();
    fs.walk(
        &mut |e| {
            drop(e);
            most = most.max(memory::unit_held());
            n += 1;
        },
        &mut findings,
    );
    (most, n, findings)
}

/// How many bytes more a file the walk of `large` holds than the walk of
/// `small` (each a filesystem and the files it holds), by [`walk_held`]; both
/// walks must list every file and find nothing wrong.
pub fn walk_growth_per_file(
    (small, small_files): (&dyn dredge_core::FileSystem, usize),
    (large, large_files): (&dyn dredge_core::FileSystem, usize),
) -> u64 {
    let (s, sn, sf) = walk_held(small);
    let (l, ln, lf) = walk_held(large);
    assert!(sf.is_empty() && lf.is_empty(), "{sf:?} {lf:?}");
    assert!(
        sn > small_files && ln > large_files,
        "{sn} entries of {small_files} files, {ln} of {large_files}"
    );
    let per_file = l.saturating_sub(s) / (large_files - small_files) as u64;
    eprintln!("{s} bytes held for {small_files} files, {l} for {large_files}: {per_file} a file");
    per_file
}

/// An image held in memory, read as one volume from its first byte to its last.
pub fn whole_volume(data: Vec<u8>) -> dredge_core::VolumeReader {
    let len = data.len() as u64;
    dredge_core::VolumeReader::new(
        std::sync::Arc::new(MemSource(data)),
        dredge_core::Extent::new(0, len),
    )
}

/// SHA-256 of bytes, in hex: the one every test compares recovered content with.
pub fn sha256(b: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(b))
}

/// Whether an outside tool runs (`tool ARG` exits 0, or says something on stderr
/// as tools without a version flag do). Without it a test is skipped, and fails
/// instead under `DREDGE_REQUIRE_TOOLS=1` (CI installs every tool).
pub fn have_tool(tool: &str, arg: &str) -> bool {
    let ok = std::process::Command::new(tool)
        .arg(arg)
        .output()
        .is_ok_and(|o| o.status.success() || !o.stderr.is_empty());
    if !ok {
        assert_ne!(
            std::env::var("DREDGE_REQUIRE_TOOLS").as_deref(),
            Ok("1"),
            "{tool} missing; DREDGE_REQUIRE_TOOLS=1 so this is a failure"
        );
        eprintln!("SKIPPED: {tool} missing");
    }
    ok
}

/// What the scan's pass would find for a filesystem's hunt over an image held
/// in memory: every block of its grid inside its extents that its test
/// accepts, up to its limit.
pub fn hunted_blocks(h: &dredge_core::Hunt, img: &[u8]) -> Vec<u64> {
    let mut found = Vec::new();
    for x in &h.extents {
        let mut p = h.origin + x.start.saturating_sub(h.origin).div_ceil(h.unit) * h.unit;
        while p + h.unit <= x.end().min(img.len() as u64) {
            if (h.test)(&img[p as usize..(p + h.unit) as usize]) && found.len() < h.limit {
                found.push(p);
            }
            p += h.unit;
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_generator_repeats_and_stays_in_range() {
        let (mut a, mut b) = (Rng::new(7), Rng::new(7));
        let xs: Vec<u64> = (0..100).map(|_| a.below(10)).collect();
        let ys: Vec<u64> = (0..100).map(|_| b.below(10)).collect();
        assert_eq!(xs, ys);
        assert!(xs.iter().all(|&x| x < 10));
        assert!(xs.iter().any(|&x| x != xs[0]));
        assert_eq!(Rng::new(0).next(), Rng::new(1).next());
        assert_eq!(Rng::new(3).below(0), 0);
    }
}
