use dredge_acquire::{acquire, AcquireOptions, AcquireResult};
use dredge_core::{BlockDevice, DeviceError, Extent};
use dredge_image::{read_mapfile, MapStatus, MemDevice};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

fn data(len: usize) -> Vec<u8> {
    dredge_testkit::Rng::new(0x9E37_79B9_7F4A_7C15).bytes(len)
}

fn opts() -> AcquireOptions {
    AcquireOptions {
        map_interval: Duration::from_millis(0),
        command_line: "test".into(),
        ..Default::default()
    }
}

fn run(dev: &dyn BlockDevice, dir: &Path, o: AcquireOptions) -> AcquireResult {
    let never = AtomicBool::new(false);
    acquire(
        dev,
        &dir.join("out.img"),
        &dir.join("out.map"),
        o,
        &never,
        &mut |_| {},
    )
    .unwrap()
}

use dredge_testkit::sha256;

fn expected_image(orig: &[u8], bad: &[Extent]) -> Vec<u8> {
    let mut v = orig.to_vec();
    for e in bad {
        v[e.start as usize..e.end() as usize].fill(0);
    }
    v
}

#[test]
fn a_healthy_source_is_copied_exactly_with_its_three_hashes() {
    let d = tempfile::tempdir().unwrap();
    let orig = data(3 * 1024 * 1024 + 1234); // not a multiple of the sector size
    let r = run(&MemDevice::new(orig.clone()), d.path(), opts());
    let img = std::fs::read(d.path().join("out.img")).unwrap();
    assert_eq!(img, orig);
    assert_eq!(r.bad_bytes, 0);
    assert_eq!(r.rescued, orig.len() as u64);
    let dg = r.digests.unwrap();
    assert_eq!(dg.sha256, Some(sha256(&orig)));
    assert_eq!(dg.md5.map(|m| m.len()), Some(32));
    let m = read_mapfile(&d.path().join("out.map")).unwrap();
    assert_eq!(m.blocks.len(), 1);
    assert_eq!(m.blocks[0].status, MapStatus::Finished);
    assert_eq!(m.current_status, '+');
    assert!(m.preamble.iter().any(|l| l == "# Finished"));
}

#[test]
fn bad_sectors_are_mapped_exactly_and_everything_else_is_rescued() {
    let d = tempfile::tempdir().unwrap();
    let orig = data(4 * 1024 * 1024);
    let bad = [
        Extent::new(512, 512),          // inside the first cluster
        Extent::new(1024 * 1024, 4096), // a page
        Extent::new(1024 * 1024 + 65536, 3 * 512),
        Extent::new(3 * 1024 * 1024 - 512, 1024), // across a cluster boundary
        Extent::new(4 * 1024 * 1024 - 512, 512),  // the last sector
    ];
    let mut dev = MemDevice::new(orig.clone());
    for e in bad {
        dev = dev.with_bad(e);
    }
    let r = run(&dev, d.path(), opts());
    let img = std::fs::read(d.path().join("out.img")).unwrap();
    let expect = expected_image(&orig, &bad);
    assert!(
        img == expect,
        "image differs from the original outside the bad ranges"
    );
    assert_eq!(r.bad_bytes, bad.iter().map(|e| e.len).sum::<u64>());
    assert_eq!(r.bad_extents, bad.to_vec());
    assert_eq!(r.digests.unwrap().sha256, Some(sha256(&expect)));
    let m = read_mapfile(&d.path().join("out.map")).unwrap();
    let minus: Vec<Extent> = m
        .blocks
        .iter()
        .filter(|b| b.status == MapStatus::BadSector)
        .map(|b| b.extent())
        .collect();
    assert_eq!(minus, bad.to_vec());
    assert!(m
        .blocks
        .iter()
        .all(|b| matches!(b.status, MapStatus::BadSector | MapStatus::Finished)));
}

/// Bad sectors that read on the Nth attempt, as marginal sectors sometimes do.
struct Flaky {
    inner: MemDevice,
    weak: Extent,
    fails_left: AtomicU64,
}

impl BlockDevice for Flaky {
    fn size(&self) -> u64 {
        self.inner.size()
    }
    fn sector_size(&self) -> u32 {
        512
    }
    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), DeviceError> {
        if Extent::new(offset, buf.len() as u64).overlaps(&self.weak)
            && self
                .fails_left
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |v| v.checked_sub(1))
                .is_ok()
        {
            return Err(DeviceError::Media);
        }
        self.inner.read_exact_at(offset, buf)
    }
    fn describe(&self) -> String {
        "flaky".into()
    }
}

#[test]
fn retry_passes_recover_marginal_sectors() {
    let orig = data(256 * 1024);
    let mk = || Flaky {
        inner: MemDevice::new(orig.clone()),
        weak: Extent::new(100 * 512, 512),
        // copy, copy pass 2 is skipped (nothing left), trim (1 read) -> 2 failures
        // then the sector reads on the first retry.
        fails_left: AtomicU64::new(2),
    };
    let d = tempfile::tempdir().unwrap();
    let r = run(&mk(), d.path(), opts());
    assert_eq!(
        r.bad_bytes, 512,
        "without retries the weak sector stays bad"
    );
    // Its zeros are hashed as soon as it is marked bad (nothing reads it again).
    let weak = [Extent::new(100 * 512, 512)];
    assert_eq!(
        r.digests.unwrap().sha256,
        Some(sha256(&expected_image(&orig, &weak)))
    );
    let d = tempfile::tempdir().unwrap();
    let r = run(
        &mk(),
        d.path(),
        AcquireOptions {
            retries: 2,
            ..opts()
        },
    );
    assert_eq!(r.bad_bytes, 0);
    assert_eq!(std::fs::read(d.path().join("out.img")).unwrap(), orig);
    // With retry passes a bad sector is not final: the hashes waited for it.
    assert_eq!(r.digests.unwrap().sha256, Some(sha256(&orig)));
}

/// Raises the interrupt flag after a number of reads, as Ctrl-C would.
struct StopAfter<'a> {
    inner: MemDevice,
    flag: &'a AtomicBool,
    after: u64,
}

impl BlockDevice for StopAfter<'_> {
    fn size(&self) -> u64 {
        self.inner.size()
    }
    fn sector_size(&self) -> u32 {
        512
    }
    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), DeviceError> {
        if self.inner.reads() + 1 >= self.after {
            self.flag.store(true, Ordering::Relaxed);
        }
        self.inner.read_exact_at(offset, buf)
    }
    fn describe(&self) -> String {
        "stop-after".into()
    }
}

#[test]
fn an_interrupted_run_resumes_to_the_same_image_map_and_hashes() {
    let orig = data(2 * 1024 * 1024);
    let bad = [Extent::new(300 * 1024, 2048), Extent::new(1500 * 1024, 512)];
    let mk = || {
        let mut dev = MemDevice::new(orig.clone());
        for e in bad {
            dev = dev.with_bad(e);
        }
        dev
    };
    let whole = tempfile::tempdir().unwrap();
    let full = run(&mk(), whole.path(), opts());

    for stop_after in [1u64, 7, 20, 140] {
        let d = tempfile::tempdir().unwrap();
        let flag = AtomicBool::new(false);
        let o = AcquireOptions {
            cluster: 16 * 1024,
            ..opts()
        };
        let dev = StopAfter {
            inner: mk(),
            flag: &flag,
            after: stop_after,
        };
        let first = acquire(
            &dev,
            &d.path().join("out.img"),
            &d.path().join("out.map"),
            o.clone(),
            &flag,
            &mut |_| {},
        )
        .unwrap();
        assert!(
            first.interrupted(),
            "run {stop_after} should have been interrupted"
        );
        let m = read_mapfile(&d.path().join("out.map")).unwrap();
        assert!(m.blocks.iter().any(|b| b.status != MapStatus::Finished));
        let second = run(&mk(), d.path(), o);
        assert!(second.resumed);
        assert_eq!(
            std::fs::read(d.path().join("out.img")).unwrap(),
            std::fs::read(whole.path().join("out.img")).unwrap()
        );
        assert_eq!(second.digests, full.digests);
        assert_eq!(second.bad_extents, full.bad_extents);
        let a = read_mapfile(&d.path().join("out.map")).unwrap();
        let b = read_mapfile(&whole.path().join("out.map")).unwrap();
        assert_eq!(a.blocks, b.blocks);
    }
}

#[test]
fn a_vanishing_source_fails_with_its_offset_and_keeps_the_map() {
    let orig = data(1024 * 1024);
    let d = tempfile::tempdir().unwrap();
    let never = AtomicBool::new(false);
    let e = acquire(
        &MemDevice::new(orig.clone()).vanishing_after(5),
        &d.path().join("out.img"),
        &d.path().join("out.map"),
        opts(),
        &never,
        &mut |_| {},
    )
    .unwrap_err();
    assert_eq!(e.offset, Some(5 * 65536));
    assert!(e.to_string().contains("vanished"), "{e}");
    let m = read_mapfile(&d.path().join("out.map")).unwrap();
    assert_eq!(m.blocks[0].extent(), Extent::new(0, 5 * 65536));
    assert_eq!(m.blocks[0].status, MapStatus::Finished);
    // Resuming with the device back finishes the job.
    let r = run(&MemDevice::new(orig.clone()), d.path(), opts());
    assert!(r.resumed);
    assert_eq!(std::fs::read(d.path().join("out.img")).unwrap(), orig);
}

#[test]
fn refuses_to_overwrite_an_image_without_its_mapfile_or_resume_a_foreign_map() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("out.img"), b"precious").unwrap();
    let never = AtomicBool::new(false);
    let dev = MemDevice::new(data(8192));
    let e = acquire(
        &dev,
        &d.path().join("out.img"),
        &d.path().join("out.map"),
        opts(),
        &never,
        &mut |_| {},
    )
    .unwrap_err();
    assert!(e.to_string().contains("refusing to overwrite"), "{e}");
    assert_eq!(
        std::fs::read(d.path().join("out.img")).unwrap(),
        b"precious"
    );

    std::fs::write(d.path().join("other.map"), "0x0 + 1\n0x0 0x1000 +\n").unwrap();
    let e = acquire(
        &dev,
        &d.path().join("new.img"),
        &d.path().join("other.map"),
        opts(),
        &never,
        &mut |_| {},
    )
    .unwrap_err();
    assert!(e.to_string().contains("not written for this source"), "{e}");
}

/// A drive read through the kernel: a read that meets a bad sector returns the
/// bytes before it (a short read), as a block device or FUSE mount does.
struct ShortReads {
    inner: MemDevice,
    bad: Vec<Extent>,
    reads: AtomicU64,
}

impl BlockDevice for ShortReads {
    fn size(&self) -> u64 {
        self.inner.size()
    }
    fn sector_size(&self) -> u32 {
        512
    }
    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), DeviceError> {
        match self.read_good_prefix(offset, buf)? {
            n if n == buf.len() => Ok(()),
            _ => Err(DeviceError::Media),
        }
    }
    fn read_good_prefix(&self, offset: u64, buf: &mut [u8]) -> Result<usize, DeviceError> {
        self.reads.fetch_add(1, Ordering::Relaxed);
        let want = Extent::new(offset, buf.len() as u64);
        let first_bad = self
            .bad
            .iter()
            .filter(|b| b.overlaps(&want))
            .map(|b| b.start.max(offset))
            .min();
        let good = first_bad.map_or(buf.len(), |b| (b - offset) as usize);
        self.inner.read_exact_at(offset, &mut buf[..good])?;
        Ok(good)
    }
    fn describe(&self) -> String {
        "short-reads".into()
    }
}

/// The bytes a short read returned before the failure are kept, as GNU
/// ddrescue keeps them: the same image, map and hashes as a drive that fails
/// whole reads, with trimming reading only from the failure on, so fewer
/// reads in all.
#[test]
fn a_short_read_before_a_bad_sector_keeps_its_bytes_and_trims_less() {
    let orig = data(4 * 1024 * 1024);
    let bad = [
        Extent::new(40 * 1024, 512),
        Extent::new(1024 * 1024 + 60 * 1024, 4096),
        Extent::new(3 * 1024 * 1024 + 512, 1024),
    ];
    let mut whole = MemDevice::new(orig.clone());
    for e in bad {
        whole = whole.with_bad(e);
    }
    let short = ShortReads {
        inner: MemDevice::new(orig.clone()),
        bad: bad.to_vec(),
        reads: AtomicU64::new(0),
    };
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let ra = run(&whole, a.path(), opts());
    let rb = run(&short, b.path(), opts());
    let img = |d: &tempfile::TempDir| std::fs::read(d.path().join("out.img")).unwrap();
    assert_eq!(img(&b), expected_image(&orig, &bad));
    assert_eq!(img(&a), img(&b));
    assert_eq!(rb.bad_extents, bad.to_vec());
    assert_eq!(ra.digests.unwrap().sha256, rb.digests.unwrap().sha256);
    let (na, nb) = (whole.reads(), short.reads.load(Ordering::Relaxed));
    assert!(nb + 100 < na, "reads: {nb} with short reads, {na} without");
}
