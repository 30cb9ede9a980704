//! The HTML and the PDF report as one document: its sections in order, their
//! tables and columns, and how much each lists, built once from the [`Model`].
//! `html.rs` and `pdf.rs` only lay this out (markup, page furniture), so a
//! section, a column or a limit changes here and in both reports at once.
//!
//! Cells hold text as recorded (evidence names, store values); each renderer
//! makes it safe for its own syntax, line by line.

use crate::text::{allocation, bytes, digest, gaps, head_line, signing_line};
use crate::Model;
use dredge_store::{ArtifactOrigin, ArtifactRecord, ArtifactStatus};
use std::collections::BTreeMap;

/// Unreadable ranges of an item that both reports list; past it they say how many
/// more there are (every one is in the DFXML and CASE reports).
pub(crate) const LISTED_GAPS: usize = 1000;
/// Findings of an item the PDF lists (Typst lays the whole document out in
/// memory). The HTML lists every finding: no other report holds them.
pub(crate) const PAPER_FINDINGS: usize = 1000;
/// Files the PDF lists at most, deleted, carved and partial ones first (see
/// [`listed_first`]); the HTML lists every file, paginated per group.
pub(crate) const PAPER_FILES: u64 = 2000;

/// Which report the document is laid out for: where they differ (how much is
/// listed), the difference is decided here.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Medium {
    /// HTML: everything, groups folded and paginated.
    Screen,
    /// PDF/A: laid out whole in memory, so long lists are cut.
    Paper,
}

#[derive(Clone, Copy)]
pub(crate) enum Width {
    Auto,
    /// The rest of the line.
    Rest,
    Percent(u8),
}

#[derive(Clone, Copy)]
pub(crate) enum Style {
    Plain,
    /// Monospace, for hashes and recorded options; on paper cut into lines of at
    /// most this many characters (never inside a hash).
    Mono(usize),
    Small,
}

pub(crate) struct Column {
    pub head: &'static str,
    pub width: Width,
    pub style: Style,
}

const fn col(head: &'static str, width: Width, style: Style) -> Column {
    Column { head, width, style }
}

/// Characters per line of the monospace cells on paper (6.5 pt DejaVu Sans Mono is
/// 3.9 pt a character): the evidence table's values, the options and custody
/// detail columns, the full-width hash row of the files table.
const VALUE_WIDTH: usize = 80;
const DETAIL_WIDTH: usize = 70;
pub(crate) const HASH_ROW_WIDTH: usize = 120;

/// A cell: its lines, each shown as it is.
pub(crate) type Cell = Vec<String>;

fn one(s: impl Into<String>) -> Cell {
    vec![s.into()]
}

pub(crate) enum Block {
    /// (key, value, style) rows.
    KeyValues(Vec<(&'static str, Cell, Style)>),
    /// The verification result, in green or in red.
    Verdict {
        ok: bool,
        text: String,
    },
    Heading(String),
    Para(String),
    Note(String),
    Table {
        columns: &'static [Column],
        rows: Vec<Vec<Cell>>,
    },
    /// A list shown folded on screen (opened when printed), in full on paper.
    Folded(&'static str, Box<Block>),
    /// Where on the medium the unreadable ranges (offset, length) lie.
    SectorMap {
        size: u64,
        gaps: Vec<(u64, u64)>,
    },
    /// The files, streamed from the store by the renderer (see [`FileRow`]).
    Files,
}

pub(crate) struct Section {
    /// The anchor of the section (HTML) and its place in the contents.
    pub id: &'static str,
    pub title: &'static str,
    pub blocks: Vec<Block>,
}

pub(crate) struct Doc {
    pub title: String,
    /// `SEQ:HASH` of the custody head the report was made from: on every page.
    pub head: String,
    /// The running line of every printed page.
    pub running: String,
    pub front: Vec<Block>,
    pub sections: Vec<Section>,
    pub colophon: String,
}

const GAP_COLUMNS: &[Column] = &[
    col("Offset", Width::Auto, Style::Plain),
    col("Length", Width::Auto, Style::Plain),
    col("Why", Width::Rest, Style::Plain),
];
const METHOD_COLUMNS: &[Column] = &[
    col("#", Width::Auto, Style::Plain),
    col("Command", Width::Auto, Style::Plain),
    col("Options", Width::Rest, Style::Mono(DETAIL_WIDTH)),
    col("Started / ended (UTC)", Width::Auto, Style::Small),
    col("Result", Width::Auto, Style::Plain),
];
const VOLUME_COLUMNS: &[Column] = &[
    col("#", Width::Auto, Style::Plain),
    col("Start", Width::Auto, Style::Plain),
    col("Length", Width::Auto, Style::Plain),
    col("Kind", Width::Auto, Style::Plain),
    col("Description / filesystems", Width::Rest, Style::Plain),
];
const FINDING_COLUMNS: &[Column] = &[
    col("Where", Width::Auto, Style::Plain),
    col("Offset", Width::Auto, Style::Plain),
    col("What", Width::Rest, Style::Plain),
    col("Expected", Width::Auto, Style::Plain),
    col("Found", Width::Auto, Style::Plain),
];
const GROUP_COLUMNS: &[Column] = &[
    col("Evidence", Width::Auto, Style::Plain),
    col("Source", Width::Rest, Style::Plain),
    col("Allocated", Width::Auto, Style::Plain),
    col("Deleted", Width::Auto, Style::Plain),
    col("Carved", Width::Auto, Style::Plain),
    col("Partial", Width::Auto, Style::Plain),
    col("Bytes", Width::Auto, Style::Plain),
];
/// The files table; each file's hashes and unreadable ranges take a full-width
/// row under it, so they copy out whole and no column is squeezed for them.
pub(crate) const FILE_COLUMNS: &[Column] = &[
    col("Path / forensic path", Width::Percent(26), Style::Plain),
    col("State", Width::Auto, Style::Plain),
    col("Size", Width::Auto, Style::Plain),
    col("Times (UTC, source)", Width::Percent(25), Style::Small),
    col("Recovery", Width::Rest, Style::Small),
];
pub(crate) const HASH_HEAD: &str = "Hashes; unreadable ranges (file offsets)";
const CUSTODY_COLUMNS: &[Column] = &[
    col("#", Width::Auto, Style::Plain),
    col("Time (UTC) / actor", Width::Auto, Style::Small),
    col("Action", Width::Auto, Style::Plain),
    col("Details and hash", Width::Rest, Style::Mono(DETAIL_WIDTH)),
];

impl Doc {
    pub(crate) fn build(model: &Model, medium: Medium) -> Doc {
        let c = &model.case;
        let number = c.info.case_number.as_deref().unwrap_or(&c.uuid);
        let head = head_line(model);
        let mut front = vec![Block::KeyValues(vec![
            (
                "Case number",
                one(c.info.case_number.as_deref().unwrap_or("—")),
                Style::Plain,
            ),
            ("Examiner", one(c.info.examiner.as_str()), Style::Plain),
            (
                "Description",
                one(c.info.description.as_deref().unwrap_or("—")),
                Style::Plain,
            ),
            ("Case identifier", one(c.uuid.as_str()), Style::Plain),
            (
                "Case opened (UTC)",
                one(c.created_utc.as_str()),
                Style::Plain,
            ),
            (
                "Report generated (UTC)",
                one(model.generated_utc.as_str()),
                Style::Plain,
            ),
            (
                "Tool",
                one(format!("dredge {}", dredge_core::TOOL_VERSION)),
                Style::Plain,
            ),
            (
                "Custody log signature",
                one(signing_line(model)),
                Style::Plain,
            ),
            (
                "Custody head (dredge verify CASE --head)",
                one(head.as_str()),
                Style::Mono(VALUE_WIDTH),
            ),
        ])];
        front.push(match &model.integrity {
            Ok(n) => Block::Verdict {
                ok: true,
                text: format!("Custody record verified: {n} events, hash chain intact and anchored; evidence and artifact records match the digests sealed in the log."),
            },
            Err(b) => Block::Verdict {
                ok: false,
                text: format!("VERIFICATION FAILED: the custody record does not hold at event {}: {}. The contents below are what the store holds now; they cannot be relied on until this is explained.", b.seq, b.detail),
            },
        });
        Doc {
            title: format!("Forensic examination report — case {number}"),
            running: format!(
                "dredge {} — case {number} — generated {}",
                dredge_core::TOOL_VERSION,
                model.generated_utc
            ),
            head,
            front,
            sections: vec![
                evidence(model),
                methods(model),
                volumes(model),
                findings(model, medium),
                files(model, medium),
                custody(model),
            ],
            colophon: format!(
                "Generated by dredge {} from the case store alone. This report's own SHA-256 is recorded in the custody log when it is written (action report.generate) and in the .sha256 file beside it.",
                dredge_core::TOOL_VERSION
            ),
        }
    }
}

fn evidence(model: &Model) -> Section {
    let mut blocks = Vec::new();
    for e in &model.evidence {
        let r = &e.row;
        blocks.push(Block::Heading(r.label.clone()));
        let pct = if r.size > 0 {
            format!(
                " — {:.4}% of the medium",
                r.bad_bytes as f64 * 100.0 / r.size as f64
            )
        } else {
            String::new()
        };
        let mut checks: Cell = e
            .verifications
            .iter()
            .map(|(t, res)| format!("{t}: verify — {res}"))
            .collect();
        checks.extend(
            e.unchanged
                .iter()
                .map(|(t, h)| format!("{t}: scan — SHA-256 before and after {h}")),
        );
        if checks.is_empty() {
            checks.push("not re-verified since it was registered".into());
        }
        let mono = Style::Mono(VALUE_WIDTH);
        blocks.push(Block::KeyValues(vec![
            ("Source", one(r.path.as_str()), Style::Plain),
            ("Kind", one(r.kind.as_str()), Style::Plain),
            ("Size", one(bytes(r.size)), Style::Plain),
            ("MD5 (acquisition)", one(digest(&r.md5)), mono),
            ("SHA-1 (acquisition)", one(digest(&r.sha1)), mono),
            ("SHA-256 (acquisition)", one(digest(&r.sha256)), mono),
            (
                "Bad-sector map",
                one(r.map_path.as_ref().map_or("none".into(), |m| {
                    format!("{m} (SHA-256 {})", r.map_sha256.as_deref().unwrap_or("?"))
                })),
                Style::Plain,
            ),
            (
                "Unreadable",
                one(format!(
                    "{} in {} ranges{pct}",
                    bytes(r.bad_bytes),
                    e.gaps.len()
                )),
                Style::Plain,
            ),
            ("Verification", checks, mono),
        ]));
        blocks.push(Block::SectorMap {
            size: r.size,
            gaps: e.gaps.iter().map(|g| (g.offset, g.len)).collect(),
        });
        if !e.gaps.is_empty() {
            let rows = e
                .gaps
                .iter()
                .take(LISTED_GAPS)
                .map(|g| {
                    vec![
                        one(g.offset.to_string()),
                        one(g.len.to_string()),
                        one(g.why.as_str()),
                    ]
                })
                .collect();
            blocks.push(Block::Folded(
                "Unreadable ranges",
                Box::new(Block::Table {
                    columns: GAP_COLUMNS,
                    rows,
                }),
            ));
            if e.gaps.len() > LISTED_GAPS {
                blocks.push(Block::Note(format!(
                    "… and {} more ranges, listed in the DFXML and CASE reports.",
                    e.gaps.len() - LISTED_GAPS
                )));
            }
        }
    }
    Section {
        id: "evidence",
        title: "Evidence",
        blocks,
    }
}

fn methods(model: &Model) -> Section {
    let rows = model
        .sessions
        .iter()
        .map(|x| {
            vec![
                one(x.id.to_string()),
                vec![x.command.clone(), format!("dredge {}", x.tool_version)],
                one(x.args.to_string()),
                vec![
                    x.started.clone(),
                    x.ended.clone().unwrap_or_else(|| "—".into()),
                ],
                one(x.status.as_str()),
            ]
        })
        .collect();
    Section {
        id: "methods",
        title: "Methods",
        blocks: vec![
            Block::Para(
                "Every command run on this case, with its exact options, as the custody log records it."
                    .into(),
            ),
            Block::Table {
                columns: METHOD_COLUMNS,
                rows,
            },
        ],
    }
}

fn volumes(model: &Model) -> Section {
    let mut blocks = Vec::new();
    for e in &model.evidence {
        blocks.push(Block::Heading(e.row.label.clone()));
        let rows = e
            .volumes
            .iter()
            .map(|v| {
                let fs: Vec<String> = v
                    .filesystems
                    .iter()
                    .map(|(t, l)| l.as_ref().map_or(t.clone(), |l| format!("{t} “{l}”")))
                    .collect();
                vec![
                    one(v.idx.to_string()),
                    one(v.start.to_string()),
                    one(v.len.to_string()),
                    one(v.kind.as_str()),
                    vec![v.description.clone(), fs.join(", ")],
                ]
            })
            .collect();
        blocks.push(Block::Table {
            columns: VOLUME_COLUMNS,
            rows,
        });
    }
    Section {
        id: "volumes",
        title: "Volumes and filesystems",
        blocks,
    }
}

fn findings(model: &Model, medium: Medium) -> Section {
    let mut blocks = vec![Block::Para(
        "Damaged or unusual structures the readers met and worked around.".into(),
    )];
    let limit = match medium {
        Medium::Screen => usize::MAX,
        Medium::Paper => PAPER_FINDINGS,
    };
    for e in &model.evidence {
        blocks.push(Block::Heading(format!(
            "{} — {} findings",
            e.row.label,
            e.findings.len()
        )));
        if e.findings.is_empty() {
            continue;
        }
        let rows = e
            .findings
            .iter()
            .take(limit)
            .map(|(unit, f)| {
                vec![
                    one(unit.as_str()),
                    one(f.offset.to_string()),
                    one(f.what.as_str()),
                    one(f.expected.as_deref().unwrap_or("")),
                    one(f.actual.as_deref().unwrap_or("")),
                ]
            })
            .collect();
        blocks.push(Block::Table {
            columns: FINDING_COLUMNS,
            rows,
        });
        if e.findings.len() > limit {
            blocks.push(Block::Note(format!(
                "… and {} more findings, every one listed in the HTML report.",
                e.findings.len() - limit
            )));
        }
    }
    Section {
        id: "findings",
        title: "Findings",
        blocks,
    }
}

/// Files per (evidence, unit): allocated, deleted, carved, partial, bytes.
pub(crate) fn groups(model: &Model) -> BTreeMap<(i64, String), [u64; 5]> {
    let mut groups: BTreeMap<(i64, String), [u64; 5]> = BTreeMap::new();
    for c in &model.counts {
        let g = groups.entry((c.evidence_id, c.unit.clone())).or_default();
        if c.origin == Some(ArtifactOrigin::Carved) {
            g[2] += c.count;
        } else if c.deleted {
            g[1] += c.count;
        } else {
            g[0] += c.count;
        }
        if c.status == Some(ArtifactStatus::Partial) {
            g[3] += c.count;
        }
        g[4] += c.bytes;
    }
    groups
}

fn files(model: &Model, medium: Medium) -> Section {
    let groups = groups(model);
    let rows = groups
        .iter()
        .map(|((ev, unit), g)| {
            let mut row = vec![one(model.label(*ev)), one(unit.as_str())];
            row.extend(g.iter().map(|n| one(n.to_string())));
            row
        })
        .collect();
    let total: u64 = model.counts.iter().map(|c| c.count).sum();
    let note = match medium {
        Medium::Screen => format!("{total} files in all. Each group below is paginated; open a page to see its files. Every file is also in the CSV, DFXML and CASE reports."),
        Medium::Paper if total > PAPER_FILES => format!("{total} files in all. This document lists {PAPER_FILES} of them: deleted, carved and partial files first. Every file, with its hashes, times and image ranges, is in the CSV, DFXML and CASE reports of this case (dredge report --format csv|dfxml|case)."),
        Medium::Paper => format!("{total} files in all."),
    };
    Section {
        id: "artifacts",
        title: "Recovered and carved files",
        blocks: vec![
            Block::Table {
                columns: GROUP_COLUMNS,
                rows,
            },
            Block::Note(note),
            Block::Files,
        ],
    }
}

fn custody(model: &Model) -> Section {
    let verdict = match &model.integrity {
        Ok(n) => Block::Verdict {
            ok: true,
            text: format!("{n} events; every event's hash chains to the one before and the newest matches custody.head."),
        },
        Err(b) => Block::Verdict {
            ok: false,
            text: format!("VERIFICATION FAILED at event {}: {}", b.seq, b.detail),
        },
    };
    let rows = model
        .events
        .iter()
        .map(|e| {
            vec![
                one(e.seq.to_string()),
                vec![e.time_utc.clone(), e.actor.clone()],
                one(e.action.as_str()),
                vec![e.params.clone(), format!("hash {}", e.hash)],
            ]
        })
        .collect();
    Section {
        id: "custody",
        title: "Custody log",
        blocks: vec![
            verdict,
            Block::Table {
                columns: CUSTODY_COLUMNS,
                rows,
            },
        ],
    }
}

/// The files the PDF lists before the others: those an examiner looks at first.
pub(crate) fn listed_first(a: &ArtifactRecord) -> bool {
    a.deleted || a.origin == ArtifactOrigin::Carved || a.status != ArtifactStatus::Complete
}

/// One file as both reports show it.
pub(crate) struct FileRow {
    pub path: String,
    pub other_names: Vec<String>,
    pub forensic_path: String,
    /// "allocated", "deleted" or "carved".
    pub allocation: &'static str,
    /// Its status when not complete.
    pub status: Option<ArtifactStatus>,
    pub size: u64,
    /// "UTC source" lines.
    pub times: Cell,
    pub recovery: Cell,
    /// MD5, SHA-1, SHA-256 lines, or why there are none; then the unreadable
    /// ranges, if any.
    pub hashes: Cell,
}

impl FileRow {
    pub(crate) fn of(a: &ArtifactRecord) -> FileRow {
        let mut hashes = a.digests.as_ref().map_or(one("no content"), |(m, s1, s2)| {
            vec![format!("MD5 {m}  SHA-1 {s1}"), format!("SHA-256 {s2}")]
        });
        // Beside the hashes, in the full-width monospace row, where a value is
        // never broken at a hyphen ("map-bad-sector") and copies out whole.
        if !a.gaps.is_empty() {
            hashes.push(format!(
                "Unreadable ({} bytes): {}",
                a.unreadable_bytes,
                gaps(&a.gaps)
            ));
        }
        FileRow {
            path: a.path.clone(),
            other_names: a.other_names.clone(),
            forensic_path: a.forensic_path.clone(),
            allocation: allocation(a),
            status: (a.status != ArtifactStatus::Complete).then_some(a.status),
            size: a.size,
            times: a
                .times
                .iter()
                .map(|(src, utc)| format!("{utc} {src}"))
                .collect(),
            recovery: one(a
                .recovery_detail
                .clone()
                .unwrap_or_else(|| a.recovery.as_str().to_string())),
            hashes,
        }
    }
}
