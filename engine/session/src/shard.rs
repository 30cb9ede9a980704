//! Sharded batches (decision 0020): which items a shard runs, the shard's own
//! case, and `case merge`, which builds the one case a single run would have
//! written from the finished shards, after checking every one of them.

use crate::{fail, lock_for_job, Failure};
use dredge_store::{CaseInfo, MergeCount, ShardMark, Store};
use serde_json::json;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Shard K of N (1-based).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShardSpec {
    pub k: u32,
    pub n: u32,
}

impl ShardSpec {
    /// `K/N`; `auto` (K from Slurm's `SLURM_ARRAY_TASK_ID` and N from
    /// `SLURM_ARRAY_TASK_COUNT`, or K from a Kubernetes Indexed Job's 0-based
    /// `JOB_COMPLETION_INDEX` and N from `DREDGE_SHARD_COUNT`); `auto/N` (K from
    /// the scheduler, N given: what a resubmission of some shards needs, as its
    /// array is smaller than N). `var` reads the environment.
    pub fn parse(spec: &str, var: impl Fn(&str) -> Option<String>) -> Result<ShardSpec, Failure> {
        let bad = |why: &str| Failure(format!("--shard {spec:?}: {why}"));
        let num = |name: &str, s: &str| -> Result<u32, Failure> {
            s.trim()
                .parse::<u32>()
                .map_err(|_| bad(&format!("{name} is {s:?}, not a number")))
        };
        let (k, n) = match spec.split_once('/') {
            Some(("auto", n)) => (None, Some(num("N", n)?)),
            Some((k, n)) => (Some(num("K", k)?), Some(num("N", n)?)),
            None if spec == "auto" => (None, None),
            None => return Err(bad("give K/N, auto or auto/N")),
        };
        let (k, n) = match k {
            Some(k) => (k, n.unwrap_or(0)),
            None => {
                if let Some(id) = var("SLURM_ARRAY_TASK_ID") {
                    // The array index is K itself (`--array=1-N`, or a list of
                    // shards to run again, `--array=2,4`): never counted from the
                    // array's first index, which a resubmission changes.
                    let id = num("SLURM_ARRAY_TASK_ID", &id)?;
                    if id == 0 {
                        return Err(bad(
                            "SLURM_ARRAY_TASK_ID is 0: shards are numbered from 1 (submit --array=1-N)",
                        ));
                    }
                    // N: given, or the array's size (right for a whole array only).
                    let count = match n {
                        Some(n) => n,
                        None => num(
                            "SLURM_ARRAY_TASK_COUNT",
                            &var("SLURM_ARRAY_TASK_COUNT").unwrap_or_default(),
                        )?,
                    };
                    (id, count)
                } else if let Some(ix) = var("JOB_COMPLETION_INDEX") {
                    let ix = num("JOB_COMPLETION_INDEX", &ix)?;
                    let count = match n {
                        Some(n) => n,
                        None => num(
                            "DREDGE_SHARD_COUNT",
                            &var("DREDGE_SHARD_COUNT").unwrap_or_default(),
                        )?,
                    };
                    (ix + 1, count)
                } else {
                    return Err(bad(
                        "neither SLURM_ARRAY_TASK_ID nor JOB_COMPLETION_INDEX is set",
                    ));
                }
            }
        };
        if n == 0 || k == 0 || k > n {
            return Err(bad(&format!("shard {k} of {n} does not exist")));
        }
        Ok(ShardSpec { k, n })
    }

    /// The shard (1-based) that runs item `i` (0-based) of a job of `items`:
    /// contiguous runs of items, so merging shards in order registers the items
    /// in the job's order.
    pub fn of_item(i: u32, items: u32, n: u32) -> u32 {
        (u64::from(i) * u64::from(n) / u64::from(items.max(1))) as u32 + 1
    }

    /// Whether this shard runs item `i` (0-based) of `items`.
    pub fn runs(&self, i: u32, items: u32) -> bool {
        Self::of_item(i, items, self.n) == self.k
    }

    /// The shard that runs unit `u` of `total` (contiguous runs, as items).
    pub fn of_unit(u: usize, total: usize, n: u32) -> u32 {
        (u as u64 * u64::from(n) / total.max(1) as u64) as u32 + 1
    }

    /// The units of a job of `items` items cut by `splits` that this shard runs.
    pub fn holds(&self, items: u32, splits: &[u32]) -> Vec<Unit> {
        let all = units(items, splits);
        let total = all.len();
        all.into_iter()
            .enumerate()
            .filter(|&(u, _)| Self::of_unit(u, total, self.n) == self.k)
            .map(|(_, unit)| unit)
            .collect()
    }

    /// Where this shard writes the part of the case a single run writes at `case`:
    /// `<case>.shards/K-of-N`.
    pub fn dir(&self, case: &Path) -> PathBuf {
        shards_dir(case).join(format!("{}-of-{}", self.k, self.n))
    }
}

/// One piece of a sharded job's work (issue 16).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Item `i` (0-based): registered and read once, its files extracted, and
    /// its free space carved unless the job cuts that into ranges.
    Item(u32),
    /// Range `r` (1-based) of item `i`'s carving.
    Range(u32, u32),
}

/// A job's units in order: each item, then the ranges of its carving where
/// `splits` (per item, the number of ranges; 0 or absent: not cut) cuts it.
/// Without cuts, unit `i` is item `i`, and the assignment is the items' own.
pub fn units(items: u32, splits: &[u32]) -> Vec<Unit> {
    let mut out = Vec::new();
    for i in 0..items {
        out.push(Unit::Item(i));
        let r = splits.get(i as usize).copied().unwrap_or(0);
        out.extend((1..=r).map(|r| Unit::Range(i, r)));
    }
    out
}

/// The shards (sorted, each once) that hold a unit of `case_items` (0-based).
pub fn shards_of_items(case_items: &[usize], items: u32, splits: &[u32], n: u32) -> Vec<u32> {
    let all = units(items, splits);
    let total = all.len();
    let mut ks: Vec<u32> = all
        .iter()
        .enumerate()
        .filter(|(_, u)| {
            let (Unit::Item(i) | Unit::Range(i, _)) = **u;
            case_items.contains(&(i as usize))
        })
        .map(|(u, _)| ShardSpec::of_unit(u, total, n))
        .collect();
    ks.dedup();
    ks
}

/// `<case>.shards`, beside the case.
pub fn shards_dir(case: &Path) -> PathBuf {
    let mut s = case.as_os_str().to_owned();
    s.push(".shards");
    PathBuf::from(s)
}

/// What [`shard_case`] found.
pub enum ShardCase {
    /// A new shard case, marked and held (the lock is kept until the shard ends);
    /// `moved`: an unfinished one was moved there.
    Fresh {
        moved: Option<PathBuf>,
        lock: crate::CaseLock,
    },
    /// The shard finished before: nothing to redo.
    Done,
}

/// Makes the shard case at `dir` for `mark`. A finished one is left as it is; one
/// left by a run that did not finish (killed, or its node died) is moved aside to
/// `<dir>.attempt-<n>` (kept, not deleted) and the shard starts again from nothing,
/// so a resubmitted shard redoes exactly its own items.
pub fn shard_case(
    dir: &Path,
    info: &CaseInfo,
    signing_key: Option<&Path>,
    mark: &ShardMark,
) -> Result<ShardCase, Failure> {
    let mut moved = None;
    if dir.exists() && crate::shard_lock(dir)?.is_none() {
        return Err(Failure(format!(
            "{}: shard {}/{} is running in another process",
            dir.display(),
            mark.shard,
            mark.of
        )));
    }
    if dir.join(crate::CASE_DB).exists() {
        let store = Store::open(dir).map_err(fail)?;
        if store.shard_mark().map_err(fail)?.as_ref() == Some(mark)
            && store.shard_ended().map_err(fail)?
        {
            return Ok(ShardCase::Done);
        }
        drop(store);
        let mut n = 1;
        let aside = loop {
            let mut s = dir.as_os_str().to_owned();
            s.push(format!(".attempt-{n}"));
            let p = PathBuf::from(s);
            if !p.exists() {
                break p;
            }
            n += 1;
        };
        std::fs::rename(dir, &aside)
            .map_err(|e| Failure(format!("{}: cannot move aside: {e}", dir.display())))?;
        moved = Some(aside);
    }
    if let Some(parent) = dir.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| Failure(format!("{}: {e}", parent.display())))?;
    }
    let mut store = crate::case_new_signed(dir, info, signing_key)?;
    store.start_shard(mark).map_err(fail)?;
    let lock = crate::shard_lock(dir)?.ok_or_else(|| {
        Failure(format!(
            "{}: taken by another process as it was made",
            dir.display()
        ))
    })?;
    Ok(ShardCase::Fresh { moved, lock })
}

/// Records that the shard's items are done.
pub fn end_shard(dir: &Path, summary: serde_json::Value) -> Result<(), Failure> {
    let mut store = Store::open(dir).map_err(fail)?;
    store.end_shard(summary).map_err(fail)
}

/// What a merge did, per shard in order.
#[derive(Debug, Default)]
pub struct MergeReport {
    /// (K, what was copied) of each shard merged now.
    pub merged: Vec<(u32, MergeCount)>,
    /// Shards found merged by an earlier run of the same merge.
    pub already: Vec<u32>,
    /// Items carved by ranges whose carving this merge stored.
    pub ranges: Vec<crate::RangesMerged>,
}

struct Shard {
    dir: PathBuf,
    store: Store,
    mark: ShardMark,
}

fn name(s: &Shard) -> String {
    format!("{} (shard {}/{})", s.dir.display(), s.mark.shard, s.mark.of)
}

/// Opens and checks one shard: a shard case, finished, its chain, head and sealed
/// rows intact.
fn open_shard(dir: &Path) -> Result<Shard, Failure> {
    let store = Store::open(dir).map_err(fail)?;
    let mark = store.shard_mark().map_err(fail)?.ok_or_else(|| {
        Failure(format!(
            "{}: not a shard case (no shard.start event)",
            dir.display()
        ))
    })?;
    let s = Shard {
        dir: dir.to_path_buf(),
        store,
        mark,
    };
    if let Err(b) = s.store.integrity().map_err(fail)? {
        return Err(Failure(format!(
            "{}: verification FAILED at custody event {}: {}",
            name(&s),
            b.seq,
            b.detail
        )));
    }
    if !s.store.shard_ended().map_err(fail)? {
        return Err(Failure(format!(
            "{}: did not finish (no shard.end): run the shard again",
            name(&s)
        )));
    }
    Ok(s)
}

/// The items and ranges (1-based item numbers) each shard of a merged case holds, by K.
type Held = (Vec<u32>, Vec<[u32; 2]>);

fn expected(mark: &ShardMark) -> BTreeMap<u32, Held> {
    let mut m: BTreeMap<u32, Held> = BTreeMap::new();
    let all = units(mark.job_items, &mark.splits);
    let total = all.len();
    for (u, unit) in all.into_iter().enumerate() {
        let k = ShardSpec::of_unit(u, total, mark.of);
        match unit {
            Unit::Item(i) if mark.case_items.contains(&(i + 1)) => {
                m.entry(k).or_default().0.push(i + 1)
            }
            Unit::Range(i, r) if mark.case_items.contains(&(i + 1)) => {
                m.entry(k).or_default().1.push([i + 1, r])
            }
            _ => {}
        }
    }
    m
}

/// Checks the shards against each other: one job, one N, no shard twice, none
/// missing, items where the assignment puts them, no evidence item in two shards
/// and no image registered with different digests. Returns them in K order.
fn check_set(mut shards: Vec<Shard>) -> Result<Vec<Shard>, Failure> {
    let Some(first) = shards.first() else {
        return Err(Failure("case merge: no shard cases given".into()));
    };
    let first_mark = first.mark.clone();
    let (job, of, case_items) = (
        first_mark.job.clone(),
        first_mark.of,
        first_mark.case_items.clone(),
    );
    let first_name = name(first);
    for s in &shards[1..] {
        if s.mark.job != job {
            return Err(Failure(format!(
                "{}: of job {}, but {} is of job {}: shards of different jobs",
                name(s),
                s.mark.job,
                first_name,
                job
            )));
        }
        if s.mark.of != of || s.mark.case_items != case_items || s.mark.splits != first_mark.splits
        {
            return Err(Failure(format!(
                "{}: cut for another case or shard count than {} ({} shards, items {:?})",
                name(s),
                first_name,
                of,
                case_items
            )));
        }
    }
    shards.sort_by_key(|s| s.mark.shard);
    for w in shards.windows(2) {
        if w[0].mark.shard == w[1].mark.shard {
            return Err(Failure(format!(
                "shard {}/{of} given twice: {} and {}",
                w[0].mark.shard,
                w[0].dir.display(),
                w[1].dir.display()
            )));
        }
    }
    let want = expected(&first_mark);
    for (k, (items, ranges)) in &want {
        match shards.iter().find(|s| s.mark.shard == *k) {
            None => {
                let mut what: Vec<String> = items.iter().map(|i| format!("item {i}")).collect();
                what.extend(ranges.iter().map(|[i, r]| format!("range {r} of item {i}")));
                return Err(Failure(format!(
                    "shard {k}/{of} is missing (it holds {}): give its case, or run it",
                    what.join(", ")
                )));
            }
            Some(s) if &s.mark.items != items => {
                return Err(Failure(format!(
                    "{}: holds items {:?} where the job puts {:?}",
                    name(s),
                    s.mark.items,
                    items
                )))
            }
            Some(s) if &s.mark.ranges != ranges => {
                return Err(Failure(format!(
                    "{}: carves ranges {:?} where the job puts {:?}",
                    name(s),
                    s.mark.ranges,
                    ranges
                )))
            }
            Some(_) => {}
        }
    }
    for s in &shards {
        if (!s.mark.items.is_empty() || !s.mark.ranges.is_empty())
            && !want.contains_key(&s.mark.shard)
        {
            return Err(Failure(format!(
                "{}: holds items {:?} of another case",
                name(s),
                s.mark.items
            )));
        }
    }
    // Evidence: a label in one shard only; one image, one set of digests.
    let mut labels: BTreeMap<String, String> = BTreeMap::new();
    let mut images: BTreeMap<String, (String, [Option<String>; 3])> = BTreeMap::new();
    for s in &shards {
        for e in s.store.evidence().map_err(fail)? {
            if let Some(other) = labels.insert(e.label.clone(), name(s)) {
                return Err(Failure(format!(
                    "evidence {} is in {} and in {}",
                    e.label,
                    other,
                    name(s)
                )));
            }
            let digests = [e.md5.clone(), e.sha1.clone(), e.sha256.clone()];
            if let Some((other, d)) = images.get(&e.path) {
                for (i, alg) in ["md5", "sha1", "sha256"].iter().enumerate() {
                    if let (Some(a), Some(b)) = (&d[i], &digests[i]) {
                        if a != b {
                            return Err(Failure(format!(
                                "{}: evidence {} has {alg} {b}, but {other} registered it with {a}",
                                name(s),
                                e.path
                            )));
                        }
                    }
                }
            } else {
                images.insert(e.path.clone(), (name(s), digests));
            }
        }
    }
    Ok(shards)
}

/// Hard-links (or copies, across filesystems) the shard's extracted files into `out`.
fn copy_files(shard: &Shard, out: &Path) -> Result<(), Failure> {
    for rel in shard.store.extracted_paths().map_err(fail)? {
        let rel_path = Path::new(&rel);
        if rel_path.is_absolute()
            || rel_path
                .components()
                .any(|c| matches!(c, std::path::Component::ParentDir))
        {
            return Err(Failure(format!(
                "{}: extracted path {rel:?} leaves the case",
                name(shard)
            )));
        }
        let src = shard.dir.join(rel_path);
        let dst = out.join(rel_path);
        if let Some(p) = dst.parent() {
            std::fs::create_dir_all(p).map_err(|e| Failure(format!("{}: {e}", p.display())))?;
        }
        if dst.exists() {
            std::fs::remove_file(&dst).map_err(|e| Failure(format!("{}: {e}", dst.display())))?;
        }
        if std::fs::hard_link(&src, &dst).is_err() {
            std::fs::copy(&src, &dst).map_err(|e| {
                Failure(format!(
                    "{}: cannot copy to {}: {e}",
                    src.display(),
                    dst.display()
                ))
            })?;
        }
    }
    Ok(())
}

/// `dredge case merge OUT SHARD…`: checks every shard (each alone, then the set),
/// then merges them in order into `out`, created with the first shard's case
/// details (and `signing_key`, if given) when it does not exist. A merge that
/// stopped part way is finished by running it again: shards already in `out`
/// (same case, same head) are skipped.
pub fn case_merge(
    out: &Path,
    shard_dirs: &[PathBuf],
    signing_key: Option<&Path>,
    job: Option<&str>,
    keys: &[dredge_crypt::KeySpec],
) -> Result<MergeReport, Failure> {
    let shards = shard_dirs
        .iter()
        .map(|d| open_shard(d))
        .collect::<Result<Vec<_>, _>>()?;
    if let Some(job) = job {
        if let Some(s) = shards.iter().find(|s| s.mark.job != job) {
            return Err(Failure(format!(
                "{}: of job {}, not of this job file ({job})",
                name(s),
                s.mark.job
            )));
        }
    }
    let shards = check_set(shards)?;
    let sources: Vec<crate::range_merge::RangeSource<'_>> = shards
        .iter()
        .map(|s| crate::range_merge::RangeSource {
            dir: &s.dir,
            store: &s.store,
            name: name(s),
        })
        .collect();
    // Every range a shard's registration left to others is checked before
    // anything is written.
    crate::range_merge::check_ranges(&sources)?;
    let mut store = if out.join(crate::CASE_DB).exists() {
        Store::open(out).map_err(fail)?
    } else {
        let c = shards[0].store.case().map_err(fail)?;
        crate::case_new_signed(out, &c.info, signing_key)?
    };
    let _lock = lock_for_job(&mut store)?;
    let done = store.merges().map_err(fail)?;
    if done.is_empty() && !store.evidence().map_err(fail)?.is_empty() {
        return Err(Failure(format!(
            "{}: holds evidence of its own: merge into a new case",
            out.display()
        )));
    }
    let mut report = MergeReport::default();
    let mut last_merged = 0;
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    for s in &shards {
        let uuid = s.store.case().map_err(fail)?.uuid;
        let head = s
            .store
            .events()
            .map_err(fail)?
            .last()
            .map(|e| json!({"seq": e.seq, "hash": e.hash}));
        if let Some(m) = done
            .iter()
            .find(|m| m["shard"] == json!(s.mark.shard) || m["shard_case_uuid"] == json!(uuid))
        {
            if m["job"] != json!(s.mark.job) {
                return Err(Failure(format!(
                    "{}: {} holds shards of another job",
                    name(s),
                    out.display()
                )));
            }
            if m["shard_case_uuid"] != json!(uuid) || Some(&m["shard_head"]) != head.as_ref() {
                return Err(Failure(format!(
                    "{}: shard {}/{} was merged into {} from another case or an earlier head ({})",
                    name(s),
                    s.mark.shard,
                    s.mark.of,
                    out.display(),
                    m["shard_head"]
                )));
            }
            report.already.push(s.mark.shard);
            last_merged = s.mark.shard;
            // A merge stopped between this shard and its item's ranges.
            report.ranges.extend(crate::range_merge::merge_ranges(
                &mut store, &sources, keys, threads,
            )?);
            continue;
        }
        if s.mark.shard < last_merged {
            return Err(Failure(format!(
                "{}: a later shard is merged already; merge shards in order",
                name(s)
            )));
        }
        copy_files(s, out)?;
        let record = json!({
            "shard": s.mark.shard, "of": s.mark.of, "job": s.mark.job,
            "items": s.mark.items, "shard_case": crate::abs(&s.dir),
        });
        let count = store.merge_shard(&s.store, record).map_err(fail)?;
        last_merged = s.mark.shard;
        report.merged.push((s.mark.shard, count));
        // An item of this shard whose carving its ranges' shards did: stored
        // now, before the next shard's rows, where a single run puts it.
        report.ranges.extend(crate::range_merge::merge_ranges(
            &mut store, &sources, keys, threads,
        )?);
    }
    Ok(report)
}

/// SHA-256 of a job file's bytes, the job's identity in every shard's mark.
pub fn job_digest(path: &Path) -> Result<String, Failure> {
    std::fs::read(path)
        .map(|b| dredge_hash::sha256_hex(&b))
        .map_err(|e| Failure(format!("{}: cannot read: {e}", path.display())))
}

/// Records, before a batch item runs, which item of which job it is and the label
/// its registration takes (`batch.item`).
pub fn announce_batch_item(case: &Path, params: serde_json::Value) -> Result<(), Failure> {
    let mut store = Store::open(case).map_err(fail)?;
    store
        .append_event(dredge_store::Action::BatchItem, params, None)
        .map(|_| ())
        .map_err(fail)
}
