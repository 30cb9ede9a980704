//! Progress output: a one-line bar on stderr for people, JSON lines on stdout for
//! lab automation.

use crate::ProgressMode;
use dredge_session::{hms, human_bytes, JobProgress};
use std::io::{IsTerminal, Write};

pub struct Reporter {
    mode: ProgressMode,
    bar_shown: bool,
    /// A shard's `progress.jsonl`: every JSON line also goes there, for
    /// `batch-status` to read while the shard runs.
    tee: Option<std::fs::File>,
}

impl Reporter {
    pub fn new(mode: ProgressMode) -> Self {
        let mode = match mode {
            ProgressMode::Auto if std::io::stderr().is_terminal() => ProgressMode::Bar,
            ProgressMode::Auto => ProgressMode::None,
            m => m,
        };
        Reporter {
            mode,
            bar_shown: false,
            tee: None,
        }
    }

    /// Appends the JSON lines from now on to `path` too (None: stop). A file that
    /// cannot be opened is said once on stderr; the run goes on without it.
    pub fn tee(&mut self, path: Option<std::path::PathBuf>) {
        self.tee = path.and_then(|p| {
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&p)
                .map_err(|e| eprintln!("dredge: {}: {e} (progress not kept there)", p.display()))
                .ok()
        });
    }

    pub fn is_json(&self) -> bool {
        self.mode == ProgressMode::Json
    }

    pub fn json(&self, v: serde_json::Value) {
        if let Some(mut f) = self.tee.as_ref() {
            let _ = writeln!(f, "{v}");
        }
        if self.is_json() {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{v}");
            let _ = out.flush();
        }
    }

    pub fn progress(&mut self, p: &JobProgress) {
        match self.mode {
            ProgressMode::Json => self.json(p.to_json()),
            ProgressMode::Bar => {
                let eta = p
                    .eta()
                    .map(|d| hms(d.as_secs()))
                    .unwrap_or_else(|| "-".into());
                let line = format!(
                    "\r{:<8} [{}] {:5.1}%  rescued {}  bad {}  {}/s  eta {}  {:<20}",
                    p.job,
                    p.bar(24),
                    p.fraction() * 100.0,
                    human_bytes(p.rescued),
                    human_bytes(p.bad),
                    human_bytes(p.rate as u64),
                    eta,
                    p.phase,
                );
                let mut err = std::io::stderr().lock();
                let _ = err.write_all(line.as_bytes());
                let _ = err.flush();
                self.bar_shown = true;
            }
            _ => {}
        }
    }

    /// Ends the bar line so the next output starts on a fresh line.
    pub fn clear(&mut self) {
        if self.bar_shown {
            eprintln!();
            self.bar_shown = false;
        }
    }
}
