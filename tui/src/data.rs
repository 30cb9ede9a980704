//! What the screens show, read through the session API when a case is opened (and
//! again after anything changes it). Artifacts stay in the store: the browser holds
//! the row ids it shows and fetches the rows in view, and a file's details on
//! selection.

use dredge_session::{
    ArtifactRecord, Browse, Event, EvidenceRow, ImageRun, Job, SessionRow, Store, VolumeRow,
};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

pub struct Evidence {
    pub row: EvidenceRow,
    pub gaps: Vec<dredge_session::Gap>,
    pub volumes: Vec<VolumeRow>,
    /// Every file run that lies in the image (empty until [`CaseData::runs_ready`]).
    pub runs: Vec<dredge_session::ImageRun>,
    /// Its encrypted volumes, opened or not.
    pub encrypted: Vec<crate::crypt::Encrypted>,
}

pub struct CaseData {
    pub dir: PathBuf,
    pub store: Store,
    pub title: String,
    pub examiner: String,
    pub evidence: Vec<Evidence>,
    /// How many artifacts the case holds. The artifacts themselves stay in the
    /// store: the browser asks it for the ids it shows and the rows it draws
    /// (issue 18: a million files must not be read whole).
    pub total: u64,
    pub events: Vec<Event>,
    /// Every session the case has recorded, oldest first.
    pub sessions: Vec<SessionRow>,
    /// A job of another process holds the case (its lock) as this was read.
    pub busy_elsewhere: bool,
    /// Jobs whose newest session was interrupted or killed: what `R` resumes.
    pub unfinished: Vec<(SessionRow, Job)>,
    /// What a large case's second connection is still working out.
    preparing: Option<crossbeam_channel::Receiver<Prepared>>,
}

/// Each evidence item's file runs, by evidence id.
type EvidenceRuns = Vec<(i64, Vec<ImageRun>)>;

/// What is read and worked out beside the first frame: the sector map's file runs,
/// and the browse tables (ranks, modification times, tree places) of the
/// connection that did it (`Store::prepare_browse`).
struct Prepared {
    runs: EvidenceRuns,
    store: Option<Store>,
}

/// A case with more artifacts than this is prepared in the background, on a
/// connection of its own, swapped in when done: the first frame waits for
/// neither a million runs nor a million sorted names (issue 18). A smaller one
/// is prepared before its first frame (under half a second at this size).
pub const PREPARE_IN_BACKGROUND: u64 = 100_000;

fn prepare(store: &Store, ids: &[i64]) -> EvidenceRuns {
    // A table that cannot be prepared is made again when it is first used, and
    // fails there with its error on the screen.
    let _ = store.prepare_browse(dredge_session::pick_modified, crate::tree::key);
    ids.iter()
        .map(|&id| (id, store.image_runs(id).unwrap_or_default()))
        .collect()
}

impl CaseData {
    pub fn load(dir: &Path) -> Result<CaseData, String> {
        let store = dredge_session::open_case(dir).map_err(|e| e.0)?;
        let s = |e: dredge_session::StoreError| e.to_string();
        let case = store.case().map_err(s)?;
        let mut evidence = Vec::new();
        for row in store.evidence().map_err(s)? {
            let volumes = store.volumes(row.id).map_err(s)?;
            let encrypted =
                crate::crypt::encrypted(&volumes, || store.findings(row.id).unwrap_or_default());
            evidence.push(Evidence {
                gaps: store.evidence_gaps(row.id).map_err(s)?,
                volumes,
                runs: Vec::new(),
                encrypted,
                row,
            });
        }
        let total = store.artifact_total().map_err(s)?;
        let ids: Vec<i64> = evidence.iter().map(|e| e.row.id).collect();
        let (tx, rx) = crossbeam_channel::bounded(1);
        if total > PREPARE_IN_BACKGROUND {
            let dir = dir.to_path_buf();
            std::thread::spawn(move || {
                let Ok(store) = dredge_session::open_case(&dir) else {
                    return;
                };
                let runs = prepare(&store, &ids);
                let _ = tx.send(Prepared {
                    runs,
                    store: Some(store),
                });
            });
        } else {
            let runs = prepare(&store, &ids);
            let _ = tx.send(Prepared { runs, store: None });
        }
        let events = store.events().map_err(s)?;
        let sessions = store.sessions().map_err(s)?;
        // One look at the lock serves both: what is unfinished depends on it.
        let busy_elsewhere = dredge_session::job_running(dir);
        let unfinished = dredge_session::unfinished_jobs(&sessions, busy_elsewhere);
        Ok(CaseData {
            dir: dir.to_path_buf(),
            title: case
                .info
                .case_number
                .clone()
                .unwrap_or_else(|| case.uuid.clone()),
            examiner: case.info.examiner.clone(),
            store,
            evidence,
            total,
            events,
            sessions,
            unfinished,
            busy_elsewhere,
            preparing: Some(rx),
        }
        .with_runs_if_ready())
    }

    fn with_runs_if_ready(mut self) -> Self {
        self.runs_ready();
        self
    }

    /// Takes what was prepared once it is; whether the sector map has its runs.
    pub fn runs_ready(&mut self) -> bool {
        match self.preparing.as_ref().map(|rx| rx.try_recv()) {
            None => true,
            Some(Ok(p)) => {
                self.place(p);
                true
            }
            Some(Err(crossbeam_channel::TryRecvError::Empty)) => false,
            Some(Err(crossbeam_channel::TryRecvError::Disconnected)) => {
                self.preparing = None;
                true
            }
        }
    }

    /// The sector map still waits for the file runs.
    pub fn runs_pending(&self) -> bool {
        self.preparing.is_some()
    }

    /// Waits for what is prepared (tests and benchmarks that need the whole map).
    pub fn wait_runs(&mut self) {
        if let Some(p) = self.preparing.as_ref().and_then(|rx| rx.recv().ok()) {
            self.place(p);
        }
        self.preparing = None;
    }

    fn place(&mut self, p: Prepared) {
        for (id, mut runs) in p.runs {
            if let Some(e) = self.evidence.iter_mut().find(|e| e.row.id == id) {
                // Read as rows are collected (capacity up to twice the runs).
                runs.shrink_to_fit();
                e.runs = runs;
            }
        }
        if let Some(store) = p.store {
            // Row ids are the same on every connection to the case: what the
            // browser shows stays valid.
            self.store = store;
        }
        self.preparing = None;
    }

    /// The row ids of the artifacts shown, filtered and sorted by the store.
    pub fn browse(&self, b: &Browse) -> Result<Vec<i64>, String> {
        self.store
            .browse(b, dredge_session::pick_modified)
            .map_err(|e| e.to_string())
    }

    /// The artifacts with these row ids (what one screen draws), by id.
    pub fn window(&self, rowids: &[i64]) -> HashMap<i64, ArtifactRecord> {
        self.store
            .artifacts_at(rowids)
            .unwrap_or_default()
            .into_iter()
            .collect()
    }

    /// One artifact, without its times, runs and gaps.
    pub fn artifact(&self, rowid: i64) -> Option<ArtifactRecord> {
        self.store
            .artifacts_at(&[rowid])
            .ok()?
            .pop()
            .map(|(_, a)| a)
    }

    /// Times, runs and gaps of one artifact (not loaded for all of them up front).
    pub fn details(&self, rowid: i64) -> Option<ArtifactRecord> {
        let mut a = self.artifact(rowid)?;
        self.store.artifact_details(&mut a).ok()?;
        Some(a)
    }

    /// The modification time the browser sorts by (UTC).
    pub fn mtime(&self, a: &ArtifactRecord) -> Option<String> {
        let times = self.store.artifact_times(&a.id).ok()?;
        dredge_session::pick_modified(&times)
    }

    /// [`CaseData::mtime`] of one artifact by row id.
    pub fn mtime_of(&self, rowid: i64) -> Option<String> {
        self.mtime(&self.artifact(rowid)?)
    }

    pub fn label(&self, evidence_id: i64) -> &str {
        self.evidence
            .iter()
            .find(|e| e.row.id == evidence_id)
            .map_or("?", |e| e.row.label.as_str())
    }
}
