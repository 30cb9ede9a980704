//! Small modal forms: a new case, evidence to add, a scan's or an acquisition's
//! options. Text fields are typed into; choice fields cycle with Space or ←/→.

use crate::key::Key;
use dredge_session::{
    parse_size, visible, CarveScope, Compression, E01Options, Job, ReportFormat, ScanOptions, Word,
};
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};
use ratatui::Frame;
use std::path::PathBuf;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FormKind {
    NewCase,
    Add,
    Scan,
    Acquire,
    Report,
}

pub struct Field {
    pub label: &'static str,
    pub value: String,
    /// For a choice field, the values it cycles through (`value` is one of them).
    pub choices: &'static [&'static str],
}

pub struct Form {
    pub kind: FormKind,
    pub title: &'static str,
    pub fields: Vec<Field>,
    pub sel: usize,
    /// Why the last submit was refused, shown under the fields.
    pub error: Option<String>,
}

pub enum FormResult {
    Editing,
    Submit,
    Cancel,
}

/// Paths as the session records them, so a resumed job finds the same files
/// whatever directory the UI runs in.
fn absolute(p: &str) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| PathBuf::from(p))
}

fn text(label: &'static str, value: &str) -> Field {
    Field {
        label,
        value: value.to_string(),
        choices: &[],
    }
}

/// The report form's choices: two bundles, then each format by its word.
fn report_choices() -> &'static [&'static str] {
    static CHOICES: std::sync::OnceLock<Vec<&'static str>> = std::sync::OnceLock::new();
    CHOICES.get_or_init(|| {
        ["html + pdf", "all six"]
            .into_iter()
            .chain(ReportFormat::WORDS.iter().copied())
            .collect()
    })
}

fn choice(label: &'static str, choices: &'static [&'static str]) -> Field {
    Field {
        label,
        value: choices[0].to_string(),
        choices,
    }
}

impl Form {
    pub fn new_case(dir: &str, examiner: &str) -> Form {
        Form {
            kind: FormKind::NewCase,
            title: "New case",
            fields: vec![
                text("case directory", dir),
                text("examiner", examiner),
                text("case number", ""),
                text("description", ""),
                text("signing key (optional)", ""),
            ],
            sel: if dir.is_empty() { 0 } else { 1 },
            error: None,
        }
    }

    pub fn add() -> Form {
        Form {
            kind: FormKind::Add,
            title: "Add evidence (raw, split .001/.aa, E01, or a block device)",
            fields: vec![text("image", ""), text("ddrescue mapfile (optional)", "")],
            sel: 0,
            error: None,
        }
    }

    pub fn scan(threads: usize) -> Form {
        Form {
            kind: FormKind::Scan,
            title: "Scan every evidence item",
            fields: vec![
                choice("carve", CarveScope::WORDS),
                choice("filesystems", &["yes", "no"]),
                choice("re-hash before/after", &["yes", "no"]),
                text("threads", &threads.to_string()),
                text("carving page size", "16MiB"),
                text(
                    "key for encrypted volumes (password-file=, keyfile=, master-key=)",
                    "",
                ),
                // Second choice, not the default: each file tried costs a
                // key-derivation sweep of seconds.
                choice(
                    "try container-sized random files with the key",
                    &["no", "yes"],
                ),
            ],
            sel: 0,
            error: None,
        }
    }

    pub fn acquire() -> Form {
        Form {
            kind: FormKind::Acquire,
            title: "Acquire a device or file into an image (resumes from its mapfile)",
            fields: vec![
                text("source (device or file)", ""),
                text("image to write", ""),
                text("mapfile (default IMAGE.map)", ""),
                text("retry passes", "0"),
                text("read size (bytes)", "65536"),
                text("mapfile save interval (s)", "1"),
                choice("format", &["raw", "e01"]),
                choice("E01 compression", Compression::WORDS),
                text("E01 segment size", "1.4GiB"),
                text("E01 evidence number", ""),
                text("E01 notes", ""),
            ],
            sel: 0,
            error: None,
        }
    }

    pub fn report() -> Form {
        Form {
            kind: FormKind::Report,
            title: "Reports into CASE/reports (each hashed, in the custody log)",
            fields: vec![choice("format", report_choices())],
            sel: 0,
            error: None,
        }
    }

    pub fn value(&self, i: usize) -> &str {
        self.fields.get(i).map_or("", |f| f.value.trim())
    }

    /// The job the form asks for, or why it cannot run (one line, naming the field).
    pub fn job(&self) -> Result<Job, String> {
        let existing = |i: usize, what: &str| -> Result<PathBuf, String> {
            let v = self.value(i);
            if v.is_empty() {
                return Err(format!("{what}: a path is needed"));
            }
            let p = absolute(v);
            if !p.exists() {
                return Err(format!("{what}: {v}: no such file or device"));
            }
            Ok(p)
        };
        let optional = |i: usize, what: &str| -> Result<Option<PathBuf>, String> {
            if self.value(i).is_empty() {
                Ok(None)
            } else {
                existing(i, what).map(Some)
            }
        };
        let number = |i: usize, what: &str| -> Result<u64, String> {
            self.value(i)
                .parse()
                .map_err(|_| format!("{what}: {:?} is not a number", self.value(i)))
        };
        match self.kind {
            FormKind::NewCase => Err("a case form starts no job".into()),
            FormKind::Report => {
                use ReportFormat::*;
                Ok(Job::Report(match self.value(0) {
                    "all six" => ReportFormat::ALL.to_vec(),
                    w => ReportFormat::from_word(w).map_or(vec![Html, Pdf], |f| vec![f]),
                }))
            }
            FormKind::Add => Ok(Job::Add {
                image: existing(0, "image")?,
                map: optional(1, "mapfile")?,
            }),
            FormKind::Scan => {
                let threads = number(3, "threads")?;
                if !(1..=256).contains(&threads) {
                    return Err(format!("threads: {threads} is not between 1 and 256"));
                }
                Ok(Job::Scan(ScanOptions {
                    threads: threads as usize,
                    carve: CarveScope::from_word(self.value(0)).unwrap_or(CarveScope::Unallocated),
                    filesystems: self.value(1) == "yes",
                    rehash: self.value(2) == "yes",
                    page_size: parse_size(self.value(4))
                        .map_err(|e| format!("carving page size: {e}"))?
                        .clamp(4096, 1 << 30),
                    // The TUI checks every digest the registration recorded.
                    hash: Default::default(),
                    keys: match self.value(5) {
                        "" => Vec::new(),
                        k if k.starts_with("password=") => {
                            return Err("key: the screen would show a password typed here; put it in a file and give password-file=PATH".into())
                        }
                        k => vec![dredge_session::KeySpec::parse(k).map_err(|e| format!("key: {e}"))?],
                    },
                    // The limit given to `dredge tui` (`--unit-memory`), if any.
                    unit_memory: ScanOptions::default().unit_memory,
                    container_files: self.value(6) == "yes",
                    // Ranges are a sharded batch's cut, never a scan's.
                    carve_ranges: None,
                }))
            }
            FormKind::Acquire => {
                let image = self.value(1);
                if image.is_empty() {
                    return Err("image to write: a path is needed".into());
                }
                let cluster = number(4, "read size")?;
                if cluster < 512 || cluster % 512 != 0 || cluster > 64 << 20 {
                    return Err(format!(
                        "read size: {cluster} must be a multiple of 512 between 512 and 64 MiB"
                    ));
                }
                let named_e01 = image.to_ascii_lowercase().ends_with(".e01");
                let e01 = if self.value(6) == "e01" {
                    if !named_e01 {
                        return Err("image to write: an E01 image's name must end in .E01".into());
                    }
                    let seg =
                        parse_size(self.value(8)).map_err(|e| format!("E01 segment size: {e}"))?;
                    if !(1 << 20..=2u64 << 30).contains(&seg) {
                        return Err("E01 segment size: between 1MiB and 2GiB".into());
                    }
                    Some(E01Options {
                        segment_size: seg,
                        compression: Compression::from_word(self.value(7))
                            .unwrap_or(Compression::Fast),
                        evidence_number: self.value(9).to_string(),
                        notes: self.value(10).to_string(),
                    })
                } else if named_e01 {
                    return Err("image to write: a raw image named .E01 would mislead; choose format e01 or another name".into());
                } else {
                    None
                };
                let image = absolute(image);
                let map = match self.value(2) {
                    "" => {
                        let mut m = image.clone().into_os_string();
                        m.push(".map");
                        PathBuf::from(m)
                    }
                    m => absolute(m),
                };
                Ok(Job::Acquire {
                    source: existing(0, "source")?,
                    image,
                    map: Some(map),
                    retries: number(3, "retry passes")?.min(100) as u32,
                    cluster: cluster as usize,
                    map_interval: self
                        .value(5)
                        .parse::<f64>()
                        .ok()
                        .filter(|s| s.is_finite() && (0.0..=3600.0).contains(s))
                        .ok_or_else(|| {
                            format!(
                                "mapfile save interval: {:?} is not a number of seconds (0 to 3600)",
                                self.value(5)
                            )
                        })?,
                    e01,
                })
            }
        }
    }

    pub fn key(&mut self, k: Key) -> FormResult {
        let n = self.fields.len();
        let Some(f) = self.fields.get_mut(self.sel) else {
            return FormResult::Cancel;
        };
        let cycle = |f: &mut Field, step: isize| {
            let c = f.choices;
            let i = c.iter().position(|v| *v == f.value).unwrap_or(0) as isize;
            f.value = c[(i + step).rem_euclid(c.len() as isize) as usize].to_string();
        };
        match k {
            Key::Esc => return FormResult::Cancel,
            Key::Enter => return FormResult::Submit,
            Key::Tab | Key::Down => self.sel = (self.sel + 1) % n,
            Key::Up => self.sel = (self.sel + n - 1) % n,
            Key::Left if !f.choices.is_empty() => cycle(f, -1),
            Key::Right | Key::Char(' ') if !f.choices.is_empty() => cycle(f, 1),
            Key::Char(c) if f.choices.is_empty() => f.value.push(c),
            Key::Backspace if f.choices.is_empty() => {
                f.value.pop();
            }
            _ => {}
        }
        FormResult::Editing
    }

    pub fn draw(&self, f: &mut Frame, area: Rect) {
        let w = 76.min(area.width);
        let h = (self.fields.len() as u16 + 4 + u16::from(self.error.is_some())).min(area.height);
        let r = Rect::new(
            area.x + (area.width - w) / 2,
            area.y + (area.height - h) / 2,
            w,
            h,
        );
        let mut lines: Vec<Line> = self
            .fields
            .iter()
            .enumerate()
            .map(|(i, fl)| {
                let on = i == self.sel;
                let v = if fl.choices.is_empty() {
                    format!("{}{}", visible(&fl.value), if on { "▏" } else { "" })
                } else {
                    format!("< {} >", fl.value)
                };
                let st = if on {
                    Style::default().add_modifier(Modifier::REVERSED)
                } else {
                    Style::default()
                };
                Line::from(vec![
                    Span::raw(format!("{:<28} ", fl.label)),
                    Span::styled(v, st),
                ])
            })
            .collect();
        lines.push(Line::from(""));
        if let Some(e) = &self.error {
            lines.push(Line::from(Span::styled(
                visible(e).into_owned(),
                Style::default().add_modifier(Modifier::BOLD),
            )));
        }
        lines.push(Line::from(
            "Tab/↑↓ field  Space/←→ choice  Enter start  Esc cancel",
        ));
        f.render_widget(Clear, r);
        f.render_widget(
            Paragraph::new(lines)
                .wrap(Wrap { trim: false })
                .block(Block::default().borders(Borders::ALL).title(self.title)),
            r,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The scan form tries container files only when asked (its last field
    /// turned to "yes"), and with the key given there.
    #[test]
    fn the_scan_form_asks_for_container_files_and_passes_the_choice_on() {
        let opts = |f: &Form| match f.job() {
            Ok(Job::Scan(o)) => o,
            _ => panic!("not a scan"),
        };
        let mut f = Form::scan(2);
        assert!(!opts(&f).container_files, "tried without being asked");
        while f.sel != 5 {
            f.key(Key::Down);
        }
        for c in "pim=3".chars() {
            f.key(Key::Char(c));
        }
        f.key(Key::Down);
        f.key(Key::Right);
        let o = opts(&f);
        assert!(o.container_files);
        assert_eq!(o.keys.len(), 1);
    }
}
