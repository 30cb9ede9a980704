//! Imaging a drive (`dredge acquire`): raw with a ddrescue mapfile, or E01 written
//! from the raw working copy, registered in the case with its digests.

use crate::{
    abs, fail, lock_for_job, open_case, AcquireOptions, Algorithm, Algorithms, Compression,
    EvidenceRow, Failure, JobProgress, Outcome, ProgressFn, SessionCommand,
};
use dredge_core::BlockDevice;
use dredge_core::Word;
use dredge_hash::sha256_hex;
use dredge_image::FileDevice;
use dredge_store::{NewEvidence, Store};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

#[derive(Debug, Clone)]
pub struct AcquireRequest<'a> {
    pub source: &'a Path,
    pub image: &'a Path,
    pub map: &'a Path,
    pub case_dir: Option<&'a Path>,
    pub options: AcquireOptions,
    /// Write an E01 set (IMAGE must end in .E01) instead of a raw image.
    pub e01: Option<E01Options>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct E01Options {
    pub segment_size: u64,
    pub compression: dredge_image::Compression,
    pub evidence_number: String,
    pub notes: String,
}

impl E01Options {
    /// 1.4 GiB, the CLI's `--segment-size` default.
    pub const DEFAULT_SEGMENT: u64 = 1_503_238_553;
}

/// Where the acquisition itself writes when the result is to be an E01: a raw
/// working image beside it, kept until the E01 is complete (so a killed run resumes).
pub(crate) fn working_raw(image: &Path) -> PathBuf {
    let mut s = image.as_os_str().to_owned();
    s.push(".partial.raw");
    PathBuf::from(s)
}

pub(crate) fn unhex<const N: usize>(h: &str) -> [u8; N] {
    let mut out = [0u8; N];
    for (i, o) in out.iter_mut().enumerate() {
        *o = h
            .get(i * 2..i * 2 + 2)
            .and_then(|x| u8::from_str_radix(x, 16).ok())
            .unwrap_or(0);
    }
    out
}

/// Turns the finished raw working image into an E01 set. Returns its segments.
pub(crate) fn write_e01(
    raw: &Path,
    image: &Path,
    opts: &E01Options,
    header: dredge_image::EwfHeader,
    result: &dredge_acquire::AcquireResult,
) -> Result<Vec<PathBuf>, Failure> {
    use std::io::Read;
    let d = result
        .digests
        .as_ref()
        .ok_or_else(|| Failure("no hashes: acquisition incomplete".into()))?;
    let err = |e: std::io::Error| Failure(format!("{}: cannot write E01: {e}", image.display()));
    let mut w = dredge_image::EwfWriter::create(
        image,
        result.size,
        opts.segment_size,
        opts.compression,
        header,
    )
    .map_err(err)?;
    let mut f = std::fs::File::open(raw).map_err(|e| Failure(format!("{}: {e}", raw.display())))?;
    let mut buf = vec![0u8; w.chunk_size()];
    let mut left = result.size;
    while left > 0 {
        let n = (left as usize).min(buf.len());
        f.read_exact(&mut buf[..n])
            .map_err(|e| Failure(format!("{}: {e}", raw.display())))?;
        w.write_chunk(&buf[..n]).map_err(err)?;
        left -= n as u64;
    }
    let bad: Vec<(u64, u64)> = result
        .bad_extents
        .iter()
        .map(|e| (e.start / 512, e.end().div_ceil(512) - e.start / 512))
        .collect();
    // The acquisition hashes MD5 and SHA-1 whenever it writes an E01 (its hash
    // sections hold them); a zero digest would be a false record, so refuse.
    let (Some(md5), Some(sha1)) = (&d.md5, &d.sha1) else {
        return Err(Failure(format!(
            "{}: an E01 stores MD5 and SHA-1, and they were not computed",
            image.display()
        )));
    };
    w.finish(&unhex::<16>(md5), &unhex::<20>(sha1), &bad)
        .map_err(err)
}

#[derive(Debug, Clone)]
pub struct AcquireReport {
    pub outcome: Outcome,
    pub result: dredge_acquire::AcquireResult,
    pub evidence: Option<EvidenceRow>,
}

/// Images a (possibly failing) device; with a case, records the acquisition and
/// registers the image as evidence.
pub fn acquire(
    req: &AcquireRequest<'_>,
    interrupt: &AtomicBool,
    progress: ProgressFn<'_>,
) -> Result<AcquireReport, Failure> {
    let src_abs = abs(req.source);
    if let (Ok(a), Ok(b)) = (
        std::fs::canonicalize(req.source),
        std::fs::canonicalize(req.image),
    ) {
        if a == b {
            return Err(fail(format!(
                "{}: the image would overwrite the source",
                req.image.display()
            )));
        }
    }
    let mut store = match req.case_dir {
        Some(d) => Some(open_case(d)?),
        None => None,
    };
    let _lock = match store.as_mut() {
        Some(st) => Some(lock_for_job(st)?),
        None => None,
    };
    let params = args(req, &src_abs);
    match store.as_mut() {
        Some(store) => crate::in_session(
            store,
            SessionCommand::Acquire,
            params.clone(),
            |store, sid| {
                let r = image_and_register(req, &params, Some((store, sid)), interrupt, progress)?;
                let summary = json!({
                    "rescued": r.result.rescued,
                    "bad_bytes": r.result.bad_bytes,
                    "read_errors": r.result.read_errors,
                    "resumed": r.result.resumed,
                    "elapsed_s": r.result.elapsed.as_secs_f64(),
                });
                let status = r.outcome.status();
                Ok((r, status, summary))
            },
        ),
        None => image_and_register(req, &params, None, interrupt, progress),
    }
}

/// The acquisition itself (image, E01 segments) and, with a case's session, the
/// image registered as evidence.
fn image_and_register(
    req: &AcquireRequest<'_>,
    params: &Value,
    session: Option<(&mut Store, i64)>,
    interrupt: &AtomicBool,
    progress: ProgressFn<'_>,
) -> Result<AcquireReport, Failure> {
    if req.e01.is_some() {
        let ok = req
            .image
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("e01"));
        if !ok {
            return Err(fail(format!(
                "{}: an E01 image's name must end in .E01",
                req.image.display()
            )));
        }
    }
    let case = session.as_ref().and_then(|(s, _)| s.case().ok());
    let header = dredge_image::EwfHeader {
        case_number: case
            .as_ref()
            .and_then(|c| c.info.case_number.clone())
            .unwrap_or_default(),
        examiner: case
            .as_ref()
            .map(|c| c.info.examiner.clone())
            .unwrap_or_default(),
        description: format!("acquired by dredge from {}", abs(req.source)),
        evidence_number: req
            .e01
            .as_ref()
            .map(|o| o.evidence_number.clone())
            .unwrap_or_default(),
        notes: req
            .e01
            .as_ref()
            .map(|o| o.notes.clone())
            .unwrap_or_default(),
        acquired: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0),
    };
    let (outcome, result) = run_acquire(req, interrupt, progress)?;
    let segments = match (&req.e01, &result.digests) {
        (Some(opts), Some(_)) => {
            let raw = working_raw(req.image);
            let segs = write_e01(&raw, req.image, opts, header, &result)?;
            let _ = std::fs::remove_file(&raw);
            segs
        }
        _ => vec![req.image.to_path_buf()],
    };
    let segments: Vec<String> = segments.iter().map(|p| abs(p)).collect();
    let mut evidence = None;
    if let (Some((store, sid)), Some(d)) = (session, &result.digests) {
        let gaps: Vec<dredge_core::Gap> = result
            .bad_extents
            .iter()
            .map(|e| dredge_core::Gap::new(e.start, e.len, dredge_core::Why::AcquisitionUnreadable))
            .collect();
        let map_sha256 = std::fs::read(req.map).ok().map(|b| sha256_hex(&b));
        let row = store
            .add_evidence(
                &NewEvidence {
                    path: abs(req.image),
                    segments,
                    kind: if req.e01.is_some() {
                        "ewf".into()
                    } else {
                        "acquired".into()
                    },
                    size: result.size,
                    md5: d.md5.clone(),
                    sha1: d.sha1.clone(),
                    sha256: d.sha256.clone(),
                    // An E01 carries its unreadable sectors itself (error2).
                    map_path: if req.e01.is_some() {
                        None
                    } else {
                        Some(abs(req.map))
                    },
                    map_sha256,
                    bad_bytes: result.bad_bytes,
                    gaps,
                    extra: json!({"acquisition": params, "read_errors": result.read_errors}),
                },
                Some(sid),
            )
            .map_err(fail)?;
        evidence = Some(row);
    }
    Ok(AcquireReport {
        outcome,
        result,
        evidence,
    })
}

/// The acquisition's recorded arguments: written here when it starts, and read
/// back by [`resumed`] when an unfinished one is run again.
fn args(req: &AcquireRequest<'_>, src_abs: &str) -> Value {
    json!({
        "source": src_abs,
        "source_device": describe_source(req.source),
        "image": abs(req.image),
        "map": abs(req.map),
        "retries": req.options.retries,
        "cluster_size": req.options.cluster,
        "map_interval_s": req.options.map_interval.as_secs_f64(),
        "hash": acquire_hashes(req).names(),
        "format": if req.e01.is_some() { "e01" } else { "raw" },
        "e01": req.e01.as_ref().map(|o| json!({
            "segment_size": o.segment_size,
            "compression": o.compression.word(),
            "evidence_number": o.evidence_number,
            "notes": o.notes,
        })),
    })
}

/// The acquisition a session recorded with [`args`], to run it again; None when
/// the arguments do not say enough.
pub(crate) fn resumed(a: &Value) -> Option<crate::Job> {
    let path = |k: &str| a[k].as_str().map(PathBuf::from);
    Some(crate::Job::Acquire {
        source: path("source")?,
        image: path("image")?,
        map: path("map"),
        retries: a["retries"].as_u64().map_or(0, |r| r.min(100) as u32),
        cluster: a["cluster_size"].as_u64().map_or(65536, |c| c as usize),
        map_interval: a["map_interval_s"].as_f64().unwrap_or(1.0),
        e01: (a["format"] == "e01").then(|| {
            let e = &a["e01"];
            E01Options {
                segment_size: e["segment_size"]
                    .as_u64()
                    .unwrap_or(E01Options::DEFAULT_SEGMENT),
                compression: e["compression"]
                    .as_str()
                    .and_then(Compression::from_word)
                    .unwrap_or(Compression::Fast),
                evidence_number: e["evidence_number"].as_str().unwrap_or("").into(),
                notes: e["notes"].as_str().unwrap_or("").into(),
            }
        }),
    })
}

/// What an examiner needs to identify the source later: size, sector size, and for
/// block devices the model and serial the kernel reports.
pub(crate) fn describe_source(p: &Path) -> Value {
    let dev = match FileDevice::open(p) {
        Ok(d) => d,
        Err(e) => return json!({"error": e.to_string()}),
    };
    let mut v = json!({
        "size": dev.size(),
        "sector_size": dev.sector_size(),
        "block_device": dev.is_block_device(),
    });
    if dev.is_block_device() {
        if let Some(name) = std::fs::canonicalize(p)
            .ok()
            .and_then(|c| c.file_name().map(|n| n.to_string_lossy().into_owned()))
        {
            let sys = Path::new("/sys/class/block").join(&name);
            for (key, rel) in [
                ("model", "device/model"),
                ("vendor", "device/vendor"),
                ("serial", "device/serial"),
                ("wwid", "device/wwid"),
            ] {
                if let Ok(t) = std::fs::read_to_string(sys.join(rel)) {
                    v[key] = json!(t.trim());
                }
            }
        }
    }
    v
}

/// The digests an acquisition computes: the examiner's choice, plus MD5 and SHA-1
/// when it writes an E01, whose hash sections hold them.
pub(crate) fn acquire_hashes(req: &AcquireRequest<'_>) -> Algorithms {
    match req.e01 {
        Some(_) => req.options.hash.with(Algorithm::Md5).with(Algorithm::Sha1),
        None => req.options.hash,
    }
}

pub(crate) fn run_acquire(
    req: &AcquireRequest<'_>,
    interrupt: &AtomicBool,
    progress: ProgressFn<'_>,
) -> Result<(Outcome, dredge_acquire::AcquireResult), Failure> {
    let dev = FileDevice::open(req.source).map_err(fail)?;
    if dev.size() == 0 {
        return Err(fail(format!(
            "{}: is empty (0 bytes): nothing to acquire",
            req.source.display()
        )));
    }
    let mut cb = |p: &dredge_acquire::Progress| {
        progress(&JobProgress {
            job: "acquire",
            phase: format!("{} pass {}", p.phase.as_str(), p.pass),
            unit: "bytes",
            done: p.rescued + p.bad,
            total: p.size,
            rescued: p.rescued,
            bad: p.bad,
            rate: p.rate(),
            elapsed: p.elapsed,
            found: 0,
            unreadable: p.bad,
        })
    };
    let target = if req.e01.is_some() {
        working_raw(req.image)
    } else {
        req.image.to_path_buf()
    };
    let r = dredge_acquire::acquire(
        &dev,
        &target,
        req.map,
        dredge_acquire::AcquireOptions {
            hash: acquire_hashes(req),
            ..req.options.clone()
        },
        interrupt,
        &mut cb,
    )
    .map_err(fail)?;
    let outcome = if r.interrupted() {
        Outcome::Interrupted
    } else if r.bad_bytes > 0 {
        Outcome::CompleteWithGaps
    } else {
        Outcome::Complete
    };
    Ok((outcome, r))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_resumed_acquisition_runs_with_the_arguments_it_recorded() {
        let d = tempfile::tempdir().unwrap();
        let source = d.path().join("disk");
        std::fs::write(&source, [0u8; 4096]).unwrap();
        let (image, map) = (d.path().join("img.E01"), d.path().join("img.map"));
        let e01 = E01Options {
            segment_size: 3 << 20,
            compression: Compression::Best,
            evidence_number: "EV-7".into(),
            notes: "seized 2026-12-01".into(),
        };
        let req = AcquireRequest {
            source: &source,
            image: &image,
            map: &map,
            case_dir: None,
            options: AcquireOptions {
                retries: 3,
                cluster: 1 << 17,
                ..Default::default()
            },
            e01: Some(e01.clone()),
        };
        let recorded = args(&req, &abs(&source));
        let Some(crate::Job::Acquire {
            source: s,
            image: i,
            map: m,
            retries,
            cluster,
            e01: e,
            ..
        }) = resumed(&recorded)
        else {
            panic!("not an acquisition: {recorded}");
        };
        assert_eq!((s, i, m), (source, image, Some(map)));
        assert_eq!((retries, cluster), (3, 1 << 17));
        assert_eq!(e, Some(e01));
    }
}
