//! The merge's side of an item carved by ranges (ranges.rs): each range's
//! `carve.range` checked against the registration's `carve.deferred`, their
//! files settled together and stored as the single run's `carve` unit.

use crate::carve::{carve_into_case, settle, Carved};
use crate::{fail, Failure};
use dredge_core::{Extent, Finding, ImageSource, VolumeKind};
use dredge_store::{Action, Store};
use serde_json::{json, Value};
use std::collections::HashSet;
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

/// A shard case the merge was given: its directory, store and name for messages.
pub(crate) struct RangeSource<'a> {
    pub dir: &'a Path,
    pub store: &'a Store,
    pub name: String,
}

/// What one item's ranges added.
#[derive(Debug, Clone, Default)]
pub struct RangesMerged {
    pub label: String,
    pub ranges: u32,
    pub carved: u64,
    pub partial: u64,
}

/// Names read back from a range's file, each made `'static` once (carver
/// names and extensions: a few dozen words per process).
fn interned(word: &str, seen: &mut HashSet<&'static str>) -> &'static str {
    if let Some(w) = seen.get(word) {
        return w;
    }
    let w: &'static str = Box::leak(word.to_owned().into_boxed_str());
    seen.insert(w);
    w
}

fn bad(who: &str, what: impl std::fmt::Display) -> Failure {
    Failure(format!("{who}: {what}"))
}

fn parse_carved(
    v: &Value,
    seen: &mut HashSet<&'static str>,
    who: &str,
) -> Result<(Carved, String), Failure> {
    let num = |k: &str| {
        v[k].as_u64()
            .ok_or_else(|| bad(who, format!("a carved file has no {k}")))
    };
    let word = |k: &str| v[k].as_str();
    let fragments = v["fragments"]
        .as_array()
        .ok_or_else(|| bad(who, "a carved file has no fragments"))?
        .iter()
        .map(|f| match (f[0].as_u64(), f[1].as_u64()) {
            (Some(s), Some(l)) => Ok(Extent::new(s, l)),
            _ => Err(bad(who, "a fragment is not [start, len]")),
        })
        .collect::<Result<Vec<_>, _>>()?;
    let carved = Carved {
        offset: num("offset")?,
        len: num("len")?,
        fragments,
        format: interned(
            word("format").ok_or_else(|| bad(who, "a carved file has no format"))?,
            seen,
        ),
        subtype: word("subtype").map(|s| interned(s, seen)),
        extension: interned(word("extension").unwrap_or("bin"), seen),
        complete: v["complete"].as_bool().unwrap_or(false),
        unverified: v["unverified"].as_bool().unwrap_or(false),
        joined: v["joined"].as_bool().unwrap_or(false),
        why: word("why").map(str::to_string),
    };
    let sha = word("sha256").unwrap_or_default().to_string();
    Ok((carved, sha))
}

fn parse_note(v: &Value) -> Finding {
    Finding {
        offset: v["offset"].as_u64().unwrap_or(0),
        what: v["what"].as_str().unwrap_or("").to_string(),
        expected: v["expected"].as_str().map(str::to_string),
        actual: v["actual"].as_str().map(str::to_string),
        unit_cut_short: v["cut_short"].as_bool().unwrap_or(false),
    }
}

/// The `carve.range` of range `index` of `of` of evidence `label`, in exactly one shard.
fn find_range<'a>(
    sources: &'a [RangeSource<'a>],
    label: &str,
    index: u64,
    of: u64,
) -> Result<(&'a RangeSource<'a>, Value), Failure> {
    let mut hit: Option<(&'a RangeSource<'a>, Value)> = None;
    for s in sources {
        for e in s.store.events().map_err(fail)? {
            if !e.is(Action::CarveRange) {
                continue;
            }
            let p: Value = serde_json::from_str(&e.params).unwrap_or(Value::Null);
            if p["evidence"] == json!(label) && p["index"] == json!(index) && p["of"] == json!(of) {
                if let Some((other, _)) = &hit {
                    return Err(Failure(format!(
                        "range {index}/{of} of evidence {label} is carved in {} and in {}",
                        other.name, s.name
                    )));
                }
                hit = Some((s, p));
            }
        }
    }
    hit.ok_or_else(|| {
        Failure(format!(
            "range {index}/{of} of evidence {label} was carved by no shard given: give its shard case, or run it"
        ))
    })
}

/// Range `w` (of `of`) of evidence `label`, as the registration's
/// `carve.deferred` describes it: its `carve.range` in exactly one shard, with
/// the same bounds, space and SHA-256 of its bytes, and its file with the
/// digest that event recorded. Returns the shard, the event's params, the
/// file's bytes and the shard's name for messages.
fn checked_range<'a>(
    sources: &'a [RangeSource<'a>],
    label: &str,
    w: &Value,
    of: u64,
) -> Result<(&'a RangeSource<'a>, Value, Vec<u8>, String), Failure> {
    let index = w["index"].as_u64().unwrap_or(0);
    let (src, got) = find_range(sources, label, index, of)?;
    let who = format!("{}: range {index}/{of} of evidence {label}", src.name);
    for k in ["start", "len", "space_sha256", "sha256"] {
        if got[k] != w[k] {
            let what = match k {
                "sha256" => "the SHA-256 of the bytes it carved",
                "space_sha256" => "the space it carved",
                _ => "its bounds",
            };
            return Err(bad(
                &who,
                format!(
                    "{what} ({k} {}) is not what the registration's pass recorded ({})",
                    got[k], w[k]
                ),
            ));
        }
    }
    let rel = got["results"].as_str().unwrap_or_default();
    if Path::new(rel).is_absolute() || rel.split('/').any(|c| c == "..") {
        return Err(bad(&who, format!("results path {rel:?} leaves the case")));
    }
    let path = src.dir.join(rel);
    let text = std::fs::read(&path).map_err(|e| bad(&who, format!("{}: {e}", path.display())))?;
    let sha = dredge_hash::sha256_hex(&text);
    if got["results_sha256"] != json!(sha) {
        return Err(bad(
            &who,
            format!(
                "{} has SHA-256 {sha}, but its carve.range recorded {}: altered after the shard",
                path.display(),
                got["results_sha256"]
            ),
        ));
    }
    Ok((src, got, text, who))
}

/// Before anything is merged: every range of every item a shard's
/// registration left to its ranges is there, read the registered bytes, and
/// holds the findings its shard recorded ([`checked_range`]).
pub(crate) fn check_ranges(sources: &[RangeSource<'_>]) -> Result<(), Failure> {
    for s in sources {
        for e in s.store.events().map_err(fail)? {
            if !e.is(Action::CarveDeferred) {
                continue;
            }
            let p: Value = serde_json::from_str(&e.params).map_err(fail)?;
            let label = p["evidence"].as_str().unwrap_or_default();
            let want = p["ranges"].as_array().cloned().unwrap_or_default();
            for w in &want {
                checked_range(sources, label, w, want.len() as u64)?;
            }
        }
    }
    Ok(())
}

/// Stores the carving of every item of `store` whose registration left it to
/// its ranges and whose `carve` unit is not sealed yet, from the ranges found
/// in `sources`. Keys: those the item's scan was given (a carved file inside
/// an unlocked volume is copied from its plaintext).
pub(crate) fn merge_ranges(
    store: &mut Store,
    sources: &[RangeSource<'_>],
    keys: &[dredge_crypt::KeySpec],
    threads: usize,
) -> Result<Vec<RangesMerged>, Failure> {
    let mut out = Vec::new();
    let deferred: Vec<_> = store
        .events()
        .map_err(fail)?
        .into_iter()
        .filter(|e| e.is(Action::CarveDeferred))
        .collect();
    let mut seen = HashSet::new();
    for d in deferred {
        let p: Value = serde_json::from_str(&d.params).map_err(fail)?;
        let label = p["evidence"].as_str().unwrap_or_default().to_string();
        let Some(ev) = store
            .evidence()
            .map_err(fail)?
            .into_iter()
            .find(|e| e.label == label)
        else {
            return Err(Failure(format!(
                "carve.deferred (custody event {}) names evidence {label:?}, which the case does not hold",
                d.seq
            )));
        };
        if store.unit_done(ev.id, "carve").map_err(fail)? {
            continue;
        }
        let want = p["ranges"].as_array().cloned().unwrap_or_default();
        let of = want.len() as u64;
        let (mut carved, mut notes, mut digests, mut record) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for w in &want {
            let (src, got, text, who) = checked_range(sources, &label, w, of)?;
            let index = got["index"].as_u64().unwrap_or(0);
            let sha = dredge_hash::sha256_hex(&text);
            let path = src.dir.join(got["results"].as_str().unwrap_or_default());
            let body: Value = serde_json::from_slice(&text)
                .map_err(|e| bad(&who, format!("{}: not JSON: {e}", path.display())))?;
            for c in body["carved"].as_array().into_iter().flatten() {
                let (c, sha) = parse_carved(c, &mut seen, &who)?;
                digests.push(((c.offset, c.format), sha));
                carved.push(c);
            }
            notes.extend(
                body["notes"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(parse_note),
            );
            record.push(
                json!({"index": index, "shard": src.name, "sha256": got["sha256"],
                               "results_sha256": sha}),
            );
        }
        let digests: std::collections::HashMap<(u64, &str), String> = digests.into_iter().collect();
        let (carved, notes) = settle(carved, notes);
        let src = open_plain(&ev, &label, keys)?;
        // The bytes copied now must be those the range's shard carved (and
        // hashed as it read the range the registration's digest covers):
        // each copy's SHA-256 is checked as it is made, before its row is
        // stored. A mismatch stops the merge with the unit unsealed, so a
        // merge run again redoes it.
        let check = |offset: u64, format: &str, now: &str| -> Result<(), Failure> {
            let then = digests
                .get(&(offset, format))
                .map(String::as_str)
                .unwrap_or_default();
            if now == then {
                return Ok(());
            }
            Err(Failure(format!(
                "{}: the carved {format} at byte {offset} reads with SHA-256 {now} now, {then} when its range was carved{}",
                ev.path,
                if keys.is_empty() { " (were keys needed? give them with --key, or merge with `batch --merge`, which gives the job's)" } else { "" }
            )))
        };
        let volumes: Vec<(usize, Extent)> = store
            .volumes(ev.id)
            .map_err(fail)?
            .iter()
            .filter(|v| v.volume_kind() != Some(VolumeKind::Meta))
            .map(|v| (v.idx as usize, Extent::new(v.start, v.len)))
            .collect();
        let sid = d.session_id.ok_or_else(|| {
            Failure(format!(
                "carve.deferred (custody event {}) names no session",
                d.seq
            ))
        })?;
        let stats = carve_into_case(
            store,
            sid,
            &ev,
            &src,
            (carved, notes),
            &volumes,
            threads,
            &AtomicBool::new(false),
            &mut |_| {},
            Some(&check),
        )?;
        store
            .append_event(
                Action::CarveMerge,
                json!({"evidence": label, "ranges": record, "carved": stats.carved,
                       "partial": stats.partial, "findings": stats.findings}),
                Some(sid),
            )
            .map_err(fail)?;
        out.push(RangesMerged {
            label,
            ranges: of as u32,
            carved: stats.carved,
            partial: stats.partial,
        });
    }
    Ok(out)
}

/// The evidence as the scan read it: its plaintext where the keys open a volume.
fn open_plain(
    ev: &dredge_store::EvidenceRow,
    label: &str,
    keys: &[dredge_crypt::KeySpec],
) -> Result<Arc<dyn ImageSource>, Failure> {
    let map = ev.map_path.as_ref().map(std::path::PathBuf::from);
    let opened = dredge_image::open_evidence(Path::new(&ev.path), map.as_deref()).map_err(fail)?;
    let raw: Arc<dyn ImageSource> = Arc::from(opened.source);
    Ok(crate::unlock::unlock(&raw, label, keys, &AtomicBool::new(false))?.src)
}
