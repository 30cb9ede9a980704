//! PDF/A-2b, typeset with Typst from the same model as the HTML report: A4, page
//! numbers ("page 3 of 12") and the case on every page, fonts embedded (Typst's own,
//! compiled in: the report looks the same on every machine).
//!
//! Typst lays out a whole document in memory, so the file table is limited to the
//! first [`MAX_ROWS`] files (deleted, carved and partial ones first); the report says
//! so and names the CSV, DFXML and CASE reports, which list every file.

use crate::text::visible;
use crate::{io_error, Model};
use dredge_store::{ArtifactOrigin, ArtifactRecord, ArtifactStatus, Store, StoreError};
use std::io::Write;
use typst::diag::{FileError, FileResult};
use typst::foundations::{Bytes, Datetime, Duration};
use typst::syntax::{FileId, RootedPath, Source, VirtualPath, VirtualRoot};
use typst::text::{Font, FontBook};
use typst::utils::LazyHash;
use typst::{Library, LibraryExt, World};
use typst_layout::PagedDocument;

/// Files listed in the PDF at most.
pub const MAX_ROWS: u64 = 2000;

struct Doc {
    library: LazyHash<Library>,
    book: LazyHash<FontBook>,
    fonts: Vec<Font>,
    source: Source,
    today: Option<Datetime>,
}

impl World for Doc {
    fn library(&self) -> &LazyHash<Library> {
        &self.library
    }
    fn book(&self) -> &LazyHash<FontBook> {
        &self.book
    }
    fn main(&self) -> FileId {
        self.source.id()
    }
    fn source(&self, id: FileId) -> FileResult<Source> {
        if id == self.source.id() {
            Ok(self.source.clone())
        } else {
            Err(FileError::AccessDenied)
        }
    }
    fn file(&self, _: FileId) -> FileResult<Bytes> {
        // The report is one self-contained source: nothing is read from disk.
        Err(FileError::AccessDenied)
    }
    fn font(&self, index: usize) -> Option<Font> {
        self.fonts.get(index).cloned()
    }
    fn today(&self, _: Option<Duration>) -> Option<Datetime> {
        self.today
    }
}

/// A Typst string literal of `s` as it is.
fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// One value from evidence as a Typst string: never parsed as markup, control
/// characters (line breaks included) shown as escapes.
fn lit1(s: &str) -> String {
    quote(&visible(s))
}

/// Text of ours in lines: each line made [`visible`], the lines kept as line breaks.
fn lit(s: &str) -> String {
    quote(
        &s.split('\n')
            .map(|l| visible(l).into_owned())
            .collect::<Vec<_>>()
            .join("\n"),
    )
}

/// `s` cut into lines of at most `width` characters, for a monospace cell: breaks
/// after separators where it can, hard breaks where it must, and never inside a
/// run of 32 or more hex digits (a hash), which starts a line of its own instead.
/// Only real line breaks are added: a value copied out of the PDF (or read by
/// `pdftotext`) is the value, with no zero-width characters or hyphens in it.
fn wrap_mono(s: &str, width: usize) -> String {
    let mut lines: Vec<String> = Vec::new();
    for text in s.split('\n') {
        // Tokens end after a separator or a space.
        let mut tokens: Vec<String> = Vec::new();
        let mut cur = String::new();
        for c in text.chars() {
            cur.push(c);
            if matches!(c, ',' | ':' | '/' | '&' | ';' | ' ') {
                tokens.push(std::mem::take(&mut cur));
            }
        }
        if !cur.is_empty() {
            tokens.push(cur);
        }
        let mut line = String::new();
        for t in tokens {
            let (tl, ll) = (t.chars().count(), line.chars().count());
            if ll + tl <= width {
                line.push_str(&t);
                continue;
            }
            if !line.is_empty() {
                lines.push(std::mem::take(&mut line));
            }
            let hexrun = t.chars().filter(char::is_ascii_hexdigit).count() >= 32;
            if tl <= width || hexrun {
                line = t;
                continue;
            }
            let chars: Vec<char> = t.chars().collect();
            for piece in chars.chunks(width) {
                if !line.is_empty() {
                    lines.push(std::mem::take(&mut line));
                }
                line = piece.iter().collect();
            }
        }
        lines.push(line);
    }
    lines.join("\n")
}

/// Characters per line of the monospace cells (6.5 pt DejaVu Sans Mono is 3.9 pt a
/// character): the evidence table's value column, the options and custody detail
/// columns, the full-width hash row of the files table.
const EVIDENCE_WIDTH: usize = 80;
const DETAIL_WIDTH: usize = 70;
const HASH_ROW_WIDTH: usize = 120;

/// `Y-M-D` and `h:m:s` of a stored UTC time.
fn parse_utc(utc: &str) -> Option<Datetime> {
    let (y, mo, d, h, mi, s) = crate::text::utc_fields(utc)?;
    let b = |v: u32| u8::try_from(v).ok();
    Datetime::from_ymd_hms(i32::try_from(y).ok()?, b(mo)?, b(d)?, b(h)?, b(mi)?, b(s)?)
}

const PREAMBLE: &str = r##"
#let mono(s) = text(font: "DejaVu Sans Mono", size: 6.5pt, s)
#let small(s) = text(size: 7.5pt, fill: rgb("#444444"), s)
#let ok(body) = block(fill: rgb("#e3f4e1"), stroke: 1.5pt + rgb("#2e7d32"), inset: 8pt, width: 100%, strong(body))
#let fail(body) = block(fill: rgb("#fde2e1"), stroke: 3pt + rgb("#c62828"), inset: 10pt, width: 100%, text(size: 12pt, fill: rgb("#8e0000"), strong(body)))
#let kv(..pairs) = table(columns: (32%, 68%), stroke: 0.4pt + gray, fill: (x, y) => if x == 0 { rgb("#eeeeee") }, ..pairs.pos().flatten())
#let bar(size, cuts) = box(width: 100%, height: 12pt, {
  place(rect(width: 100%, height: 12pt, fill: rgb("#81c784"), stroke: none))
  for (a, w) in cuts { place(dx: a * 100%, rect(width: calc.max(w, 0.002) * 100%, height: 12pt, fill: rgb("#c62828"), stroke: none)) }
})
#set text(font: "Libertinus Serif", size: 9.5pt)
#set table(stroke: 0.4pt + gray, inset: 4pt)
#show heading.where(level: 1): it => { v(6pt); block(below: 6pt, text(size: 14pt, it.body)); line(length: 100%, stroke: 1pt) }
#show heading.where(level: 2): it => block(above: 10pt, below: 4pt, text(size: 11pt, it.body))
"##;

fn head(model: &Model) -> String {
    let c = &model.case;
    let number = c.info.case_number.as_deref().unwrap_or(&c.uuid);
    let mut s = format!(
        "#set document(title: {}, author: {})\n",
        lit(&format!("Forensic examination report — case {number}")),
        lit(&c.info.examiner)
    );
    // Every page carries the custody head the report was made from: an examiner
    // can check a case against any single page (`dredge verify CASE --head`).
    s += &format!(
        "#set page(paper: \"a4\", margin: (x: 1.5cm, top: 1.6cm, bottom: 2.4cm), footer: context [#set text(size: 7.5pt); #{} #h(1fr) page #counter(page).display(\"1 of 1\", both: true) #linebreak() custody head #text(font: \"DejaVu Sans Mono\", size: 6.5pt, {})])\n",
        lit(&format!("dredge {} — case {number} — generated {}", dredge_core::TOOL_VERSION, model.generated_utc)),
        lit(&crate::text::head_line(model))
    );
    s += PREAMBLE;
    s += "#text(size: 18pt, strong[Forensic examination report])\n\n#kv(\n";
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
        s += &format!("  ({}, {}),\n", lit(k), lit1(v));
    }
    s += ")\n";
    s += &match &model.integrity {
        Ok(n) => format!("#ok({})\n", lit(&format!("Custody record verified: {n} events, hash chain intact and anchored; evidence and artifact records match the digests sealed in the log."))),
        Err(b) => format!("#fail({})\n", lit(&format!("VERIFICATION FAILED: the custody record does not hold at event {}: {}. The contents below are what the store holds now; they cannot be relied on until this is explained.", b.seq, b.detail))),
    };
    s
}

fn evidence(model: &Model) -> String {
    let mut s = String::from("= 1 Evidence\n");
    for e in &model.evidence {
        let r = &e.row;
        s += &format!("#heading(level: 2, {})\n#kv(\n", lit1(&r.label));
        let mut rows: Vec<(String, String, bool)> = vec![
            ("Source".into(), r.path.clone(), false),
            ("Kind".into(), r.kind.clone(), false),
            ("Size".into(), crate::text::bytes(r.size), false),
            (
                "MD5 (acquisition)".into(),
                crate::text::digest(&r.md5),
                true,
            ),
            (
                "SHA-1 (acquisition)".into(),
                crate::text::digest(&r.sha1),
                true,
            ),
            (
                "SHA-256 (acquisition)".into(),
                crate::text::digest(&r.sha256),
                true,
            ),
            (
                "Unreadable".into(),
                format!(
                    "{} in {} ranges",
                    crate::text::bytes(r.bad_bytes),
                    e.gaps.len()
                ),
                false,
            ),
        ];
        if let Some(m) = &r.map_path {
            rows.push((
                "Bad-sector map".into(),
                format!("{m} (SHA-256 {})", r.map_sha256.as_deref().unwrap_or("?")),
                false,
            ));
        }
        let mut checks: Vec<String> = e
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
        rows.push(("Verification".into(), checks.join("\n"), true));
        for (k, v, m) in rows {
            if m {
                s += &format!(
                    "  ({}, mono({})),\n",
                    lit(&k),
                    lit(&wrap_mono(&v, EVIDENCE_WIDTH))
                );
            } else {
                s += &format!("  ({}, {}),\n", lit(&k), lit1(&v));
            }
        }
        s += ")\n";
        // Where on the medium the unreadable areas lie, at 1/1000 of its size.
        let size = r.size.max(1) as f64;
        let mut cuts: Vec<(f64, f64)> = Vec::new();
        for g in &e.gaps {
            let (a, w) = (g.offset as f64 / size, g.len as f64 / size);
            match cuts.last_mut() {
                Some(last) if a - (last.0 + last.1) < 0.001 => last.1 = a + w - last.0,
                _ => cuts.push((a, w)),
            }
        }
        let cuts: Vec<String> = cuts
            .iter()
            .map(|(a, w)| format!("({a:.6}, {w:.6})"))
            .collect();
        s += &format!(
            "#bar({}, ({}))\n#small[Map of the medium, offset 0 to {} bytes: green read, red unreadable (zero-filled in every output).]\n",
            r.size,
            if cuts.is_empty() { String::new() } else { cuts.join(", ") + "," },
            r.size
        );
        if !e.gaps.is_empty() {
            s += "#table(columns: (auto, auto, 1fr), [*Offset*], [*Length*], [*Why*],\n";
            for (o, l, w) in e
                .gaps
                .iter()
                .map(|g| (g.offset, g.len, g.why.as_str()))
                .take(crate::PDF_LISTED_GAPS)
            {
                s += &format!("  [{o}], [{l}], {},\n", lit(w));
            }
            s += ")\n";
            if e.gaps.len() > crate::PDF_LISTED_GAPS {
                s += &format!(
                    "#small[… and {} more ranges, listed in the DFXML and CASE reports.]\n",
                    e.gaps.len() - crate::PDF_LISTED_GAPS
                );
            }
        }
    }
    s
}

fn methods(model: &Model) -> String {
    let mut s = String::from("= 2 Methods\nEvery command run on this case, with its exact options, as the custody log records it.\n#table(columns: (auto, auto, 1fr, auto, auto), [*\\#*], [*Command*], [*Options*], [*Started / ended (UTC)*], [*Result*],\n");
    for x in &model.sessions {
        s += &format!(
            "  [{}], {}, mono({}), small({}), {},\n",
            x.id,
            lit(&format!("{} (dredge {})", x.command, x.tool_version)),
            lit(&wrap_mono(&x.args.to_string(), DETAIL_WIDTH)),
            lit(&format!(
                "{}\n{}",
                x.started,
                x.ended.as_deref().unwrap_or("—")
            )),
            lit(&x.status)
        );
    }
    s + ")\n"
}

fn volumes_and_findings(model: &Model) -> String {
    let mut s = String::from("= 3 Volumes and filesystems\n");
    for e in &model.evidence {
        s += &format!("#heading(level: 2, {})\n#table(columns: (auto, auto, auto, auto, 1fr), [*\\#*], [*Start*], [*Length*], [*Kind*], [*Description / filesystems*],\n", lit1(&e.row.label));
        for v in &e.volumes {
            let fs: Vec<String> = v
                .filesystems
                .iter()
                .map(|(t, l)| l.as_ref().map_or(t.clone(), |l| format!("{t} “{l}”")))
                .collect();
            s += &format!(
                "  [{}], [{}], [{}], {}, {},\n",
                v.idx,
                v.start,
                v.len,
                lit1(&v.kind),
                lit1(&format!("{} — {}", v.description, fs.join(", ")))
            );
        }
        s += ")\n";
    }
    s += "= 4 Findings\nDamaged or unusual structures the readers met and worked around.\n";
    for e in &model.evidence {
        s += &format!(
            "#heading(level: 2, {})\n",
            lit1(&format!("{} — {} findings", e.row.label, e.findings.len()))
        );
        if e.findings.is_empty() {
            continue;
        }
        s += "#table(columns: (auto, auto, 1fr, auto, auto), [*Where*], [*Offset*], [*What*], [*Expected*], [*Found*],\n";
        for (unit, f) in e.findings.iter().take(crate::PDF_LISTED_FINDINGS) {
            s += &format!(
                "  {}, [{}], {}, {}, {},\n",
                lit1(unit),
                f.offset,
                lit1(&f.what),
                lit1(f.expected.as_deref().unwrap_or("")),
                lit1(f.actual.as_deref().unwrap_or(""))
            );
        }
        s += ")\n";
        if e.findings.len() > crate::PDF_LISTED_FINDINGS {
            s += &format!(
                "#small[… and {} more findings, every one listed in the HTML report.]\n",
                e.findings.len() - crate::PDF_LISTED_FINDINGS
            );
        }
    }
    s
}

fn file_row(a: &ArtifactRecord) -> String {
    let mut state = crate::text::allocation(a).to_string();
    if a.status != ArtifactStatus::Complete {
        state += &format!(", {}", a.status);
    }
    let hashes = a
        .digests
        .as_ref()
        .map_or("no content".to_string(), |(m, s1, s2)| {
            format!("MD5 {m}  SHA-1 {s1}\nSHA-256 {s2}")
        });
    let mut detail = a
        .recovery_detail
        .clone()
        .unwrap_or_else(|| a.recovery.as_str().to_string());
    if !a.gaps.is_empty() {
        detail += &format!(
            "; unreadable {} bytes: {}",
            a.unreadable_bytes,
            crate::text::gaps(&a.gaps)
        );
    }
    let times: Vec<String> = a
        .times
        .iter()
        .map(|(src, utc)| format!("{utc} {src}"))
        .collect();
    format!(
        "  [#{} #linebreak() #small({})], {}, [{}], small({}), small({}),\n  table.cell(colspan: 5, mono({})),\n",
        lit1(&a.path),
        lit1(&a.forensic_path),
        lit(&state),
        a.size,
        lit(&times.join("\n")),
        lit(&detail),
        lit(&wrap_mono(&hashes, HASH_ROW_WIDTH))
    )
}

fn files(store: &Store, model: &Model) -> Result<String, StoreError> {
    let total: u64 = model.counts.iter().map(|c| c.count).sum();
    let mut s = format!("= 5 Recovered and carved files\n{total} files in all.");
    if total > MAX_ROWS {
        s += &format!(" This document lists {MAX_ROWS} of them: deleted, carved and partial files first. Every file, with its hashes, times and image ranges, is in the CSV, DFXML and CASE reports of this case (`dredge report --format csv|dfxml|case`).");
    }
    // Hashes take a full-width row under each file: on one line each, they copy
    // out whole, and no column has to be squeezed for them.
    s += "\n#table(columns: (26%, auto, auto, 25%, 1fr), [*Path / forensic path*], [*State*], [*Size*], [*Times (UTC, source)*], [*Recovery*], table.cell(colspan: 5)[*Hashes*],\n";
    // Two passes over the store: the files an examiner looks at first, then the rest.
    let mut n = 0u64;
    for interesting in [true, false] {
        store.each_artifact(None, &mut |a| {
            let is = a.deleted
                || a.origin == ArtifactOrigin::Carved
                || a.status != ArtifactStatus::Complete;
            if is == interesting && n < MAX_ROWS {
                s += &file_row(&a);
                n += 1;
            }
            Ok(())
        })?;
    }
    s += ")\n";
    Ok(s)
}

fn custody(model: &Model) -> String {
    let mut s = String::from("= 6 Custody log\n");
    s += &match &model.integrity {
        Ok(n) => format!("#ok({})\n", lit(&format!("{n} events; every event's hash chains to the one before and the newest matches custody.head."))),
        Err(b) => format!("#fail({})\n", lit(&format!("VERIFICATION FAILED at event {}: {}", b.seq, b.detail))),
    };
    s += "#table(columns: (auto, auto, auto, 1fr), [*\\#*], [*Time (UTC) / actor*], [*Action*], [*Details and hash*],\n";
    for e in &model.events {
        s += &format!(
            "  [{}], small({}), {}, mono({}),\n",
            e.seq,
            lit(&format!("{}\n{}", e.time_utc, e.actor)),
            lit(&e.action),
            lit(&wrap_mono(
                &format!("{}\nhash {}", e.params, e.hash),
                DETAIL_WIDTH
            ))
        );
    }
    s += ")\n";
    s += &format!(
        "#small[Generated by dredge {} from the case store alone. This document's SHA-256 is recorded in the custody log when it is written (action report.generate) and in the .sha256 file beside it.]\n",
        dredge_core::TOOL_VERSION
    );
    s
}

/// The Typst source of the report (also useful to see what the PDF was made from).
pub fn source(store: &Store, model: &Model) -> Result<String, StoreError> {
    let mut s = head(model);
    s += &evidence(model);
    s += &methods(model);
    s += &volumes_and_findings(model);
    s += &files(store, model)?;
    s += &custody(model);
    Ok(s)
}

pub fn write(store: &Store, model: &Model, out: &mut dyn Write) -> Result<(), StoreError> {
    let fail = |what: String| StoreError {
        path: store.dir().join("reports"),
        detail: format!("typesetting the PDF report: {what}"),
    };
    let text = source(store, model)?;
    let id = FileId::new(RootedPath::new(
        VirtualRoot::Project,
        VirtualPath::new("report.typ").map_err(|e| fail(format!("{e:?}")))?,
    ));
    let fonts: Vec<Font> = typst_assets::fonts()
        .flat_map(|b| Font::iter(Bytes::new(b)))
        .collect();
    let doc = Doc {
        library: LazyHash::new(Library::default()),
        book: LazyHash::new(FontBook::from_fonts(&fonts)),
        fonts,
        source: Source::new(id, text),
        today: parse_utc(&model.generated_utc),
    };
    let compiled = typst::compile::<PagedDocument>(&doc);
    let document = compiled.output.map_err(|errs| {
        fail(
            errs.iter()
                .map(|e| e.message.to_string())
                .collect::<Vec<_>>()
                .join("; "),
        )
    })?;
    let standards = typst_pdf::PdfStandards::new(&[typst_pdf::PdfStandard::A_2b])
        .map_err(|e| fail(format!("{e:?}")))?;
    let options = typst_pdf::PdfOptions {
        ident: typst::foundations::Smart::Custom(model.case.uuid.clone()),
        creator: typst::foundations::Smart::Custom(Some(format!(
            "dredge {}",
            dredge_core::TOOL_VERSION
        ))),
        timestamp: doc.today.map(typst_pdf::Timestamp::new_utc),
        standards,
        ..Default::default()
    };
    let bytes = typst_pdf::pdf(&document, &options).map_err(|errs| {
        fail(
            errs.iter()
                .map(|e| e.message.to_string())
                .collect::<Vec<_>>()
                .join("; "),
        )
    })?;
    out.write_all(&bytes).map_err(io_error(store, "PDF"))
}

#[cfg(test)]
mod tests {
    use super::wrap_mono;

    #[test]
    fn hashes_stay_whole_and_lines_stay_short() {
        let h = "ab".repeat(32);
        let w = wrap_mono(&format!("{{\"sha256\":\"{h}\",\"path\":\"/a/b\"}}"), 40);
        assert!(w.lines().any(|l| l.contains(&h)), "{w}");
        assert!(
            w.lines().all(|l| l.chars().count() <= 40 || l.contains(&h)),
            "{w}"
        );
        let long = "x".repeat(100);
        let w = wrap_mono(&long, 30);
        assert_eq!(w.replace('\n', ""), long);
        assert!(w.lines().all(|l| l.chars().count() <= 30));
        assert!(!w.contains('\u{200B}') && !w.contains('\u{AD}'));
    }
}
