//! What the screens show, read through the session API when a case is opened (and
//! again after anything changes it). Artifact details are fetched on selection.

use dredge_session::{ArtifactRecord, Event, EvidenceRow, Job, SessionRow, Store, VolumeRow};
use std::path::{Path, PathBuf};

pub struct Evidence {
    pub row: EvidenceRow,
    pub gaps: Vec<dredge_session::Gap>,
    pub volumes: Vec<VolumeRow>,
    /// Every file run that lies in the image.
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
    pub artifacts: Vec<ArtifactRecord>,
    pub events: Vec<Event>,
    /// Every session the case has recorded, oldest first.
    pub sessions: Vec<SessionRow>,
    /// Per artifact, by index: the path in lower case, the type (extension), and the
    /// modification time (UTC) — worked out once here, so searching, sorting and
    /// the tree never redo them on a keystroke.
    pub lower: Vec<String>,
    pub types: Vec<String>,
    pub mtime: Vec<Option<String>>,
    pub tree: crate::tree::TreeIndex,
    /// A job of another process holds the case (its lock) as this was read.
    pub busy_elsewhere: bool,
    /// Jobs whose newest session was interrupted or killed: what `R` resumes.
    pub unfinished: Vec<(SessionRow, Job)>,
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
                runs: store.image_runs(row.id).map_err(s)?,
                encrypted,
                row,
            });
        }
        let artifacts = store.artifacts(None).map_err(s)?;
        let events = store.events().map_err(s)?;
        let sessions = store.sessions().map_err(s)?;
        // One look at the lock serves both: what is unfinished depends on it.
        let busy_elsewhere = dredge_session::job_running(dir);
        let unfinished = dredge_session::unfinished_jobs(&sessions, busy_elsewhere);
        let mut mtimes = dredge_session::modified_times(&store).map_err(|e| e.0)?;
        let lower = artifacts.iter().map(|a| a.path.to_lowercase()).collect();
        let types: Vec<String> = artifacts.iter().map(|a| file_type(&a.path)).collect();
        let mtime = artifacts.iter().map(|a| mtimes.remove(&a.id)).collect();
        let tree = crate::tree::TreeIndex::new(&artifacts, &types);
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
            artifacts,
            events,
            sessions,
            unfinished,
            busy_elsewhere,
            lower,
            types,
            mtime,
            tree,
        })
    }

    /// Times, runs and gaps of one artifact (not loaded for all of them up front).
    pub fn details(&self, i: usize) -> Option<ArtifactRecord> {
        let mut a = self.artifacts.get(i)?.clone();
        self.store.artifact_details(&mut a).ok()?;
        Some(a)
    }

    pub fn label(&self, evidence_id: i64) -> &str {
        self.evidence
            .iter()
            .find(|e| e.row.id == evidence_id)
            .map_or("?", |e| e.row.label.as_str())
    }
}

/// A file's type for sorting and grouping: its extension, lower case ("" for none).
pub fn file_type(path: &str) -> String {
    let name = path.rsplit('/').next().unwrap_or(path);
    match name.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() => ext.to_lowercase(),
        _ => String::new(),
    }
}
