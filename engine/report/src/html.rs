//! One self-contained HTML file (no external resources), readable in a browser and
//! printable: case, verification result, evidence with hashes and a picture of where
//! the unreadable areas lie, methods, volumes, findings, artifacts (grouped per
//! filesystem or carving run and paginated, so a large case stays usable), and the
//! custody log.

use crate::text::{allocation, bytes, gaps, markup};
use crate::{io_error, Model};
use dredge_store::{ArtifactOrigin, ArtifactRecord, ArtifactStatus, Store, StoreError};
use std::collections::BTreeMap;
use std::io::Write;

/// Rows per page of an artifact group.
const PAGE: u64 = 500;
/// Width of the sector map in SVG units (one unit is one column of the medium).
const MAP_W: u64 = 800;

const STYLE: &str = r#"
body{font-family:"DejaVu Sans",Arial,sans-serif;margin:2em auto;max-width:1100px;color:#111;line-height:1.35}
h1{font-size:1.6em;margin-bottom:.2em}h2{border-bottom:2px solid #333;margin-top:1.6em}
table{border-collapse:collapse;width:100%;margin:.5em 0;font-size:.85em}
th,td{border:1px solid #999;padding:3px 5px;vertical-align:top;text-align:left}
th{background:#e8e8e8}.mono{font-family:"DejaVu Sans Mono",monospace;word-break:break-all;font-size:.92em}
.ok{background:#e3f4e1;border:2px solid #2e7d32;padding:.8em;font-weight:bold}
.fail{background:#fde2e1;border:4px solid #c62828;padding:.8em;font-weight:bold;font-size:1.15em;color:#8e0000}
.tag{display:inline-block;padding:0 4px;border-radius:3px;font-size:.85em;margin-right:2px}
.del{background:#ffe0b2}.carved{background:#d1e8ff}.partial{background:#fde2e1;color:#8e0000}.alloc{background:#e3f4e1}
details{margin:.3em 0}summary{cursor:pointer;font-weight:bold}
.esc{color:#8e0000}.small{font-size:.85em;color:#444}
.runhead{font:.75em monospace;color:#444;margin:.5em 0}
@media print{body{margin:0 0 2em 0;max-width:none}details>summary{list-style:none}a{color:#000}.runhead{display:none}}
"#;

/// Opens every group before printing, so paper shows everything.
const SCRIPT: &str = r#"window.addEventListener('beforeprint',function(){document.querySelectorAll('details').forEach(function(d){d.open=true})});"#;

fn td(s: &str) -> String {
    format!("<td>{}</td>", markup(s))
}

fn mono(s: &str) -> String {
    format!("<td class=mono>{}</td>", markup(s))
}

/// The medium as a bar, unreadable ranges in red, at the bar's resolution: any
/// unreadable byte in a column marks the column.
fn sector_map(size: u64, g: &[dredge_core::Gap]) -> String {
    let mut cols = vec![false; MAP_W as usize];
    for (o, l) in g.iter().map(|g| (&g.offset, &g.len)) {
        if size == 0 || *l == 0 {
            continue;
        }
        let a = (u128::from(*o) * u128::from(MAP_W) / u128::from(size)) as usize;
        let b =
            (u128::from(o.saturating_add(*l - 1)) * u128::from(MAP_W) / u128::from(size)) as usize;
        for c in cols.iter_mut().take(b.min(MAP_W as usize - 1) + 1).skip(a) {
            *c = true;
        }
    }
    let mut rects = String::new();
    let mut i = 0;
    while i < cols.len() {
        if cols[i] {
            let j = cols[i..]
                .iter()
                .position(|&c| !c)
                .map_or(cols.len(), |p| i + p);
            rects += &format!(
                "<rect x=\"{i}\" y=\"0\" width=\"{}\" height=\"30\" fill=\"#c62828\"/>",
                j - i
            );
            i = j;
        } else {
            i += 1;
        }
    }
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {MAP_W} 48\" width=\"100%\" role=\"img\" aria-label=\"map of unreadable areas\">\
<rect x=\"0\" y=\"0\" width=\"{MAP_W}\" height=\"30\" fill=\"#81c784\"/>{rects}\
<text x=\"0\" y=\"44\" font-size=\"11\">offset 0</text>\
<text x=\"{MAP_W}\" y=\"44\" font-size=\"11\" text-anchor=\"end\">{size} bytes</text></svg>\
<div class=small>Green: read. Red: unreadable (zero-filled in every output; each column is {} of the medium).</div>",
        bytes(size.div_ceil(MAP_W))
    )
}

/// The print rule that puts the custody head in the bottom margin of every
/// page. A page margin box sits outside the page's content, so it never covers
/// a line of the report (a fixed element at the foot did, and hid the text under
/// it). The head comes from the store, which may be altered: only characters a
/// head is made of reach the CSS string.
fn page_rule(head: &str) -> String {
    let safe: String = head
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, ':' | ' ' | '(' | ')'))
        .collect();
    format!(
        "@page{{margin:1cm 1cm 1.5cm 1cm;@bottom-left{{content:\"custody head {safe}\";font:8pt monospace;color:#444}}}}"
    )
}

fn head(model: &Model) -> String {
    let c = &model.case;
    let mut s = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>dredge report — case {}</title><style>{STYLE}{}</style></head><body>\n",
        markup(c.info.case_number.as_deref().unwrap_or(&c.uuid)),
        page_rule(&crate::text::head_line(model))
    );
    s += "<h1>Forensic examination report</h1>\n<table>";
    for (k, v) in [
        ("Case number", c.info.case_number.as_deref().unwrap_or("—")),
        ("Examiner", c.info.examiner.as_str()),
        ("Description", c.info.description.as_deref().unwrap_or("—")),
        ("Case identifier", c.uuid.as_str()),
        ("Case opened (UTC)", c.created_utc.as_str()),
        ("Report generated (UTC)", model.generated_utc.as_str()),
        ("Tool", &format!("dredge {}", dredge_core::TOOL_VERSION)),
        ("Custody log signature", &crate::text::signing_line(model)),
    ] {
        s += &format!("<tr><th>{}</th>{}</tr>", k, td(v));
    }
    let head = crate::text::head_line(model);
    s += &format!(
        "<tr><th>Custody head (dredge verify CASE --head)</th>{}</tr></table>\n",
        mono(&head)
    );
    // On screen the head sits here; printed, it is in every page's bottom margin
    // (`page_rule`) and this line is not repeated.
    s += &format!("<div class=runhead>custody head {}</div>\n", markup(&head));
    s += &match &model.integrity {
        Ok(n) => format!(
            "<p class=ok>Custody record verified: {n} events, hash chain intact and anchored; evidence and artifact records match the digests sealed in the log.</p>\n"
        ),
        Err(b) => format!(
            "<p class=fail>VERIFICATION FAILED: the custody record does not hold at event {}: {}. The contents below are what the store holds now; they cannot be relied on until this is explained.</p>\n",
            b.seq,
            markup(&b.detail)
        ),
    };
    s += "<p class=small>Contents: <a href=\"#evidence\">1 Evidence</a> · <a href=\"#methods\">2 Methods</a> · <a href=\"#volumes\">3 Volumes and filesystems</a> · <a href=\"#findings\">4 Findings</a> · <a href=\"#artifacts\">5 Recovered and carved files</a> · <a href=\"#custody\">6 Custody log</a></p>\n";
    s
}

fn evidence(model: &Model) -> String {
    let mut s = String::from("<h2 id=evidence>1 Evidence</h2>\n");
    for e in &model.evidence {
        let r = &e.row;
        s += &format!("<h3>{}</h3>\n<table>", markup(&r.label));
        let pct = if r.size > 0 {
            format!(
                " — {:.4}% of the medium",
                r.bad_bytes as f64 * 100.0 / r.size as f64
            )
        } else {
            String::new()
        };
        for (k, v, m) in [
            ("Source", r.path.clone(), false),
            ("Kind", r.kind.clone(), false),
            ("Size", bytes(r.size), false),
            ("MD5 (acquisition)", crate::text::digest(&r.md5), true),
            ("SHA-1 (acquisition)", crate::text::digest(&r.sha1), true),
            (
                "SHA-256 (acquisition)",
                crate::text::digest(&r.sha256),
                true,
            ),
            (
                "Bad-sector map",
                r.map_path.as_ref().map_or("none".into(), |m| {
                    format!("{m} (SHA-256 {})", r.map_sha256.as_deref().unwrap_or("?"))
                }),
                false,
            ),
            (
                "Unreadable",
                format!("{} in {} ranges{pct}", bytes(r.bad_bytes), e.gaps.len()),
                false,
            ),
        ] {
            s += &format!("<tr><th>{k}</th>{}</tr>", if m { mono(&v) } else { td(&v) });
        }
        let mut checks = String::new();
        for (t, res) in &e.verifications {
            checks += &format!("{t}: verify — {res}<br>");
        }
        for (t, h) in &e.unchanged {
            checks += &format!("{t}: scan — SHA-256 before and after {h}<br>");
        }
        if checks.is_empty() {
            checks = "not re-verified since it was registered".into();
        }
        s += &format!(
            "<tr><th>Verification</th><td class=mono>{}</td></tr></table>\n",
            checks
        );
        s += &sector_map(r.size, &e.gaps);
        if !e.gaps.is_empty() {
            s += "<details><summary>Unreadable ranges</summary><table><tr><th>Offset</th><th>Length</th><th>Why</th></tr>";
            for (o, l, w) in e
                .gaps
                .iter()
                .map(|g| (g.offset, g.len, g.why.as_str()))
                .take(crate::HTML_LISTED_GAPS)
            {
                s += &format!("<tr><td>{o}</td><td>{l}</td>{}</tr>", td(w));
            }
            s += "</table>";
            if e.gaps.len() > crate::HTML_LISTED_GAPS {
                s += &format!(
                    "<p>… and {} more ranges (all are in the DFXML and CASE reports).</p>",
                    e.gaps.len() - crate::HTML_LISTED_GAPS
                );
            }
            s += "</details>\n";
        }
    }
    s
}

fn methods(model: &Model) -> String {
    let mut s = String::from(
        "<h2 id=methods>2 Methods</h2>\n<p>Every command run on this case, with its exact options, as the custody log records it.</p>\n<table><tr><th>#</th><th>Command</th><th>Options</th><th>Started (UTC)</th><th>Ended (UTC)</th><th>Result</th><th>Tool version</th></tr>",
    );
    for x in &model.sessions {
        s += &format!(
            "<tr><td>{}</td>{}{}{}{}{}{}</tr>",
            x.id,
            td(&x.command),
            mono(&x.args.to_string()),
            td(&x.started),
            td(x.ended.as_deref().unwrap_or("—")),
            td(&x.status),
            td(&x.tool_version)
        );
    }
    s + "</table>\n"
}

fn volumes(model: &Model) -> String {
    let mut s = String::from("<h2 id=volumes>3 Volumes and filesystems</h2>\n");
    for e in &model.evidence {
        s += &format!(
            "<h3>{}</h3><table><tr><th>#</th><th>Start</th><th>Length</th><th>Kind</th><th>Description</th><th>Filesystems</th></tr>",
            markup(&e.row.label)
        );
        for v in &e.volumes {
            let fs: Vec<String> = v
                .filesystems
                .iter()
                .map(|(t, l)| match l {
                    Some(l) => format!("{t} “{l}”"),
                    None => t.clone(),
                })
                .collect();
            s += &format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td>{}{}{}</tr>",
                v.idx,
                v.start,
                v.len,
                td(&v.kind),
                td(&v.description),
                td(&fs.join(", "))
            );
        }
        s += "</table>\n";
    }
    s
}

fn findings(model: &Model) -> String {
    let mut s = String::from("<h2 id=findings>4 Findings</h2>\n<p>Damaged or unusual structures the readers met and worked around.</p>\n");
    for e in &model.evidence {
        s += &format!(
            "<h3>{} — {} findings</h3>",
            markup(&e.row.label),
            e.findings.len()
        );
        if e.findings.is_empty() {
            continue;
        }
        s += "<table><tr><th>Where</th><th>Offset</th><th>What</th><th>Expected</th><th>Found</th></tr>";
        for (unit, f) in &e.findings {
            s += &format!(
                "<tr>{}<td>{}</td>{}{}{}</tr>",
                td(unit),
                f.offset,
                td(&f.what),
                td(f.expected.as_deref().unwrap_or("")),
                td(f.actual.as_deref().unwrap_or(""))
            );
        }
        s += "</table>\n";
    }
    s
}

fn artifact_row(a: &ArtifactRecord) -> String {
    let how = allocation(a);
    let class = match how {
        "carved" => "carved",
        "deleted" => "del",
        _ => "alloc",
    };
    let mut tags = format!("<span class=\"tag {class}\">{how}</span>");
    if a.status == ArtifactStatus::Partial {
        tags += "<span class=\"tag partial\">partial</span>";
    } else if a.status != ArtifactStatus::Complete {
        tags += &format!("<span class=tag>{}</span>", markup(a.status.as_str()));
    }
    let mut name = markup(&a.path);
    for n in &a.other_names {
        name += &format!("<br><span class=small>also {}</span>", markup(n));
    }
    let times: String = a
        .times
        .iter()
        .map(|(src, utc)| {
            format!(
                "{} <span class=small>{}</span><br>",
                markup(utc),
                markup(src)
            )
        })
        .collect();
    let hashes = a.digests.as_ref().map_or("—".to_string(), |(m, s1, s2)| {
        format!("MD5 {m}<br>SHA-1 {s1}<br>SHA-256 {s2}")
    });
    let mut detail = markup(a.recovery_detail.as_deref().unwrap_or(a.recovery.as_str()));
    if !a.gaps.is_empty() {
        detail += &format!(
            "<br><b>Unreadable ({} bytes):</b> {}",
            a.unreadable_bytes,
            markup(&gaps(&a.gaps))
        );
    }
    format!(
        "<tr><td>{name}<br><span class=small>{}</span></td><td>{tags}</td><td>{}</td><td>{times}</td><td class=mono>{hashes}</td><td>{detail}</td></tr>\n",
        markup(&a.forensic_path),
        a.size
    )
}

const ROW_HEAD: &str = "<table><tr><th>Path / forensic path</th><th>State</th><th>Size</th><th>Times (UTC, source)</th><th>Hashes</th><th>Recovery</th></tr>\n";

pub fn write(store: &Store, model: &Model, out: &mut dyn Write) -> Result<(), StoreError> {
    let io = io_error(store, "HTML");
    let mut s = head(model);
    s += &evidence(model);
    s += &methods(model);
    s += &volumes(model);
    s += &findings(model);
    s += "<h2 id=artifacts>5 Recovered and carved files</h2>\n<table><tr><th>Evidence</th><th>Source</th><th>Allocated</th><th>Deleted</th><th>Carved</th><th>Partial</th><th>Bytes</th></tr>";
    // (evidence, unit) -> [allocated, deleted, carved, partial, bytes]
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
    for ((ev, unit), g) in &groups {
        s += &format!(
            "<tr>{}{}<td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            td(model.label(*ev)),
            td(unit),
            g[0],
            g[1],
            g[2],
            g[3],
            g[4]
        );
    }
    s += "</table>\n<p class=small>Each group below is paginated; open a page to see its files. Every file is also in the CSV, DFXML and CASE reports.</p>\n";
    out.write_all(s.as_bytes()).map_err(&io)?;
    let mut current: Option<(i64, String)> = None;
    let mut n = 0u64;
    store.each_artifact(None, &mut |a| {
        let key = (a.evidence_id, a.unit.clone());
        if current.as_ref() != Some(&key) {
            if current.is_some() {
                out.write_all(b"</table></details></details>\n")?;
            }
            let total = groups.get(&key).map_or(0, |g| g[0] + g[1] + g[2]);
            writeln!(
                out,
                "<details class=group open><summary>{} — {}: {} files</summary>",
                markup(model.label(a.evidence_id)),
                markup(&a.unit),
                total
            )?;
            current = Some(key);
            n = 0;
        }
        if n.is_multiple_of(PAGE) {
            if n > 0 {
                out.write_all(b"</table></details>\n")?;
            }
            write!(
                out,
                "<details{}><summary>files {}–{}</summary>{ROW_HEAD}",
                if n == 0 { " open" } else { "" },
                n + 1,
                n + PAGE
            )?;
        }
        n += 1;
        out.write_all(artifact_row(&a).as_bytes())
    })?;
    let mut s = String::new();
    if current.is_some() {
        s += "</table></details></details>\n";
    }
    s += "<h2 id=custody>6 Custody log</h2>\n";
    s += &match &model.integrity {
        Ok(n) => format!("<p class=ok>{n} events; every event's hash chains to the one before and the newest matches custody.head.</p>"),
        Err(b) => format!("<p class=fail>VERIFICATION FAILED at event {}: {}</p>", b.seq, markup(&b.detail)),
    };
    s += "<table><tr><th>#</th><th>Time (UTC)</th><th>Actor</th><th>Action</th><th>Details</th><th>Hash</th></tr>";
    for e in &model.events {
        s += &format!(
            "<tr><td>{}</td>{}{}{}{}{}</tr>",
            e.seq,
            td(&e.time_utc),
            td(&e.actor),
            td(&e.action),
            mono(&e.params),
            mono(&e.hash)
        );
    }
    s += &format!(
        "</table>\n<p class=small>Generated by dredge {} from the case store alone. This report's own SHA-256 is recorded in the custody log when it is written (action report.generate) and in the .sha256 file beside it.</p>\n<script>{SCRIPT}</script>\n</body></html>\n",
        dredge_core::TOOL_VERSION
    );
    out.write_all(s.as_bytes()).map_err(&io)
}
