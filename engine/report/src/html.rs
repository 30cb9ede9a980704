//! One self-contained HTML file (no external resources), readable in a browser and
//! printable, laid out from the report document (`doc.rs`): a picture of where the
//! unreadable areas lie, lists folded, and the files grouped per filesystem or
//! carving run and paginated, so a large case stays usable.

use crate::doc::{self, Block, Doc, FileRow, Medium, Style, FILE_COLUMNS, HASH_HEAD};
use crate::text::{bytes, markup};
use crate::{io_error, Model};
use dredge_store::{ArtifactRecord, ArtifactStatus, Store, StoreError};
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

/// The medium as a bar, unreadable ranges in red, at the bar's resolution: any
/// unreadable byte in a column marks the column.
fn sector_map(size: u64, g: &[(u64, u64)]) -> String {
    let mut cols = vec![false; MAP_W as usize];
    for (o, l) in g {
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

/// A cell's lines, each made safe for HTML.
fn lines(c: &[String]) -> String {
    c.iter().map(|l| markup(l)).collect::<Vec<_>>().join("<br>")
}

fn td(style: Style, c: &[String]) -> String {
    match style {
        Style::Plain => format!("<td>{}</td>", lines(c)),
        Style::Mono(_) => format!("<td class=mono>{}</td>", lines(c)),
        Style::Small => format!("<td class=small>{}</td>", lines(c)),
    }
}

fn block(s: &mut String, b: &Block) {
    match b {
        Block::KeyValues(rows) => {
            *s += "<table>";
            for (k, v, style) in rows {
                *s += &format!("<tr><th>{}</th>{}</tr>", markup(k), td(*style, v));
            }
            *s += "</table>\n";
        }
        Block::Verdict { ok, text } => {
            *s += &format!(
                "<p class={}>{}</p>\n",
                if *ok { "ok" } else { "fail" },
                markup(text)
            );
        }
        Block::Heading(h) => *s += &format!("<h3>{}</h3>\n", markup(h)),
        Block::Para(p) => *s += &format!("<p>{}</p>\n", markup(p)),
        Block::Note(p) => *s += &format!("<p class=small>{}</p>\n", markup(p)),
        Block::Table { columns, rows } => {
            *s += "<table><tr>";
            for c in columns.iter() {
                *s += &format!("<th>{}</th>", markup(c.head));
            }
            *s += "</tr>";
            for row in rows {
                *s += "<tr>";
                for (c, cell) in columns.iter().zip(row) {
                    *s += &td(c.style, cell);
                }
                *s += "</tr>";
            }
            *s += "</table>\n";
        }
        Block::Folded(summary, inner) => {
            *s += &format!("<details><summary>{}</summary>", markup(summary));
            block(s, inner);
            *s += "</details>\n";
        }
        Block::SectorMap { size, gaps } => *s += &sector_map(*size, gaps),
        // Streamed by `write`.
        Block::Files => {}
    }
}

fn file_row(a: &ArtifactRecord) -> String {
    let f = FileRow::of(a);
    let class = match f.allocation {
        "carved" => "carved",
        "deleted" => "del",
        _ => "alloc",
    };
    let mut tags = format!("<span class=\"tag {class}\">{}</span>", f.allocation);
    match f.status {
        Some(ArtifactStatus::Partial) => tags += "<span class=\"tag partial\">partial</span>",
        Some(st) => tags += &format!("<span class=tag>{}</span>", markup(st.as_str())),
        None => {}
    }
    let mut name = markup(&f.path);
    for n in &f.other_names {
        name += &format!("<br><span class=small>also {}</span>", markup(n));
    }
    format!(
        "<tr><td>{name}<br><span class=small>{}</span></td><td>{tags}</td><td>{}</td>{}{}</tr>\n<tr><td colspan={} class=mono>{}</td></tr>\n",
        markup(&f.forensic_path),
        f.size,
        td(Style::Small, &f.times),
        td(Style::Small, &f.recovery),
        FILE_COLUMNS.len(),
        lines(&f.hashes)
    )
}

/// The files, one folded group per evidence item and filesystem or carving run,
/// each paginated.
fn files(store: &Store, model: &Model, out: &mut dyn Write) -> Result<(), StoreError> {
    let groups = doc::groups(model);
    let mut row_head = String::from("<table><tr>");
    for c in FILE_COLUMNS {
        row_head += &format!("<th>{}</th>", markup(c.head));
    }
    row_head += &format!(
        "</tr><tr><th colspan={}>{HASH_HEAD}</th></tr>\n",
        FILE_COLUMNS.len()
    );
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
                "<details{}><summary>files {}–{}</summary>{row_head}",
                if n == 0 { " open" } else { "" },
                n + 1,
                n + PAGE
            )?;
        }
        n += 1;
        out.write_all(file_row(&a).as_bytes())
    })?;
    if current.is_some() {
        out.write_all(b"</table></details></details>\n")
            .map_err(io_error(store, "HTML"))?;
    }
    Ok(())
}

pub fn write(store: &Store, model: &Model, out: &mut dyn Write) -> Result<(), StoreError> {
    let io = io_error(store, "HTML");
    let doc = Doc::build(model, Medium::Screen);
    let mut s = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title><style>{STYLE}{}</style></head><body>\n<h1>Forensic examination report</h1>\n",
        markup(&doc.title),
        page_rule(&doc.head)
    );
    for b in &doc.front {
        block(&mut s, b);
    }
    // On screen the head sits here; printed, it is in every page's bottom margin
    // (`page_rule`) and this line is not repeated.
    s += &format!(
        "<div class=runhead>custody head {}</div>\n<p class=small>Contents:",
        markup(&doc.head)
    );
    for (i, sec) in doc.sections.iter().enumerate() {
        s += &format!(
            "{} <a href=\"#{}\">{} {}</a>",
            if i == 0 { "" } else { " ·" },
            sec.id,
            i + 1,
            sec.title
        );
    }
    s += "</p>\n";
    for (i, sec) in doc.sections.iter().enumerate() {
        s += &format!("<h2 id={}>{} {}</h2>\n", sec.id, i + 1, sec.title);
        for b in &sec.blocks {
            if let Block::Files = b {
                out.write_all(s.as_bytes()).map_err(&io)?;
                s.clear();
                files(store, model, out)?;
            } else {
                block(&mut s, b);
            }
        }
    }
    s += &format!(
        "<p class=small>{}</p>\n<script>{SCRIPT}</script>\n</body></html>\n",
        markup(&doc.colophon)
    );
    out.write_all(s.as_bytes()).map_err(&io)
}
