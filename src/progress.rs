//! Progress output: a one-line bar on stderr for people, JSON lines on stdout for
//! lab automation.

use crate::ProgressMode;
use dredge_session::{hms, human_bytes, JobProgress};
use std::io::{IsTerminal, Write};

pub struct Reporter {
    mode: ProgressMode,
    bar_shown: bool,
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
        }
    }

    pub fn is_json(&self) -> bool {
        self.mode == ProgressMode::Json
    }

    pub fn json(&self, v: serde_json::Value) {
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
