//! PDF/A-2b, typeset with Typst from the same model as the HTML report: A4, page
//! numbers ("page 3 of 12") and the case on every page, fonts embedded (Typst's own,
//! compiled in: the report looks the same on every machine).
//!
//! Typst lays out a whole document in memory, so the file table is limited to the
//! first [`PAPER_FILES`] files (deleted, carved and partial ones first); the report
//! says so and names the CSV, DFXML and CASE reports, which list every file. What
//! is listed, and in which sections and columns, is the report document's
//! (`doc.rs`), shared with the HTML report.

use crate::doc::{
    self, Block, Column, Doc, FileRow, Medium, Style, Width, FILE_COLUMNS, HASH_HEAD,
    HASH_ROW_WIDTH, PAPER_FILES,
};
use crate::text::visible;
use crate::{io_error, Model};
use dredge_store::{ArtifactRecord, Store, StoreError};
use std::io::Write;
use typst::diag::{FileError, FileResult};
use typst::foundations::{Bytes, Datetime, Duration};
use typst::syntax::{FileId, RootedPath, Source, VirtualPath, VirtualRoot};
use typst::text::{Font, FontBook};
use typst::utils::LazyHash;
use typst::{Library, LibraryExt, World};
use typst_layout::PagedDocument;

struct Typesetter {
    library: LazyHash<Library>,
    book: LazyHash<FontBook>,
    fonts: Vec<Font>,
    source: Source,
    today: Option<Datetime>,
}

impl World for Typesetter {
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

/// A cell's lines as one Typst string: each line made [`visible`], the lines kept
/// as line breaks.
fn lines(c: &[String]) -> String {
    quote(&joined(c))
}

fn joined(c: &[String]) -> String {
    c.iter()
        .map(|l| visible(l).into_owned())
        .collect::<Vec<_>>()
        .join("\n")
}

fn cell(style: Style, c: &[String]) -> String {
    match style {
        Style::Plain => lines(c),
        Style::Mono(width) => format!("mono({})", quote(&wrap_mono(&joined(c), width))),
        Style::Small => format!("small({})", lines(c)),
    }
}

/// A table's columns and its header, repeated on every page; `more` is a further
/// header row (the files table's hash row).
fn columns(cols: &[Column], more: &str) -> String {
    let w: Vec<String> = cols
        .iter()
        .map(|c| match c.width {
            Width::Auto => "auto".to_string(),
            Width::Rest => "1fr".to_string(),
            Width::Percent(p) => format!("{p}%"),
        })
        .collect();
    let mut heads: Vec<String> = cols
        .iter()
        .map(|c| format!("strong({})", quote(c.head)))
        .collect();
    if !more.is_empty() {
        heads.push(more.to_string());
    }
    format!(
        "columns: ({},), table.header({})",
        w.join(", "),
        heads.join(", ")
    )
}

/// The red marks of the medium's bar: ranges closer than 1/1000 of its size merged.
fn cuts(size: u64, gaps: &[(u64, u64)]) -> String {
    let size = size.max(1) as f64;
    let mut cuts: Vec<(f64, f64)> = Vec::new();
    for (o, l) in gaps {
        let (a, w) = (*o as f64 / size, *l as f64 / size);
        match cuts.last_mut() {
            Some(last) if a - (last.0 + last.1) < 0.001 => last.1 = a + w - last.0,
            _ => cuts.push((a, w)),
        }
    }
    cuts.iter()
        .map(|(a, w)| format!("({a:.6}, {w:.6}),"))
        .collect()
}

fn block(s: &mut String, b: &Block) {
    match b {
        Block::KeyValues(rows) => {
            *s += "#kv(\n";
            for (k, v, style) in rows {
                *s += &format!("  ({}, {}),\n", quote(k), cell(*style, v));
            }
            *s += ")\n";
        }
        Block::Verdict { ok, text } => {
            *s += &format!("#{}({})\n", if *ok { "ok" } else { "fail" }, lit1(text));
        }
        Block::Heading(h) => *s += &format!("#heading(level: 2, {})\n", lit1(h)),
        Block::Para(p) => *s += &format!("#{}\n\n", lit1(p)),
        Block::Note(p) => *s += &format!("#small({})\n\n", lit1(p)),
        Block::Table {
            columns: cols,
            rows,
        } => {
            *s += &format!("#table({},\n", columns(cols, ""));
            for row in rows {
                *s += "  ";
                for (c, v) in cols.iter().zip(row) {
                    *s += &cell(c.style, v);
                    *s += ", ";
                }
                *s += "\n";
            }
            *s += ")\n";
        }
        Block::Folded(_, inner) => block(s, inner),
        Block::SectorMap { size, gaps } => {
            *s += &format!(
                "#bar({size}, ({}))\n#small[Map of the medium, offset 0 to {size} bytes: green read, red unreadable (zero-filled in every output).]\n\n",
                cuts(*size, gaps)
            );
        }
        // Written by `files`.
        Block::Files => {}
    }
}

fn file_row(a: &ArtifactRecord) -> String {
    let f = FileRow::of(a);
    let mut state = f.allocation.to_string();
    if let Some(st) = f.status {
        state += &format!(", {st}");
    }
    let mut path = lit1(&f.path);
    for n in &f.other_names {
        path += &format!(" #linebreak() #small({})", lit1(&format!("also {n}")));
    }
    format!(
        "  [#{path} #linebreak() #small({})], {}, [{}], {}, {},\n  table.cell(colspan: {}, {}),\n",
        lit1(&f.forensic_path),
        quote(&state),
        f.size,
        cell(Style::Small, &f.times),
        cell(Style::Small, &f.recovery),
        FILE_COLUMNS.len(),
        cell(Style::Mono(HASH_ROW_WIDTH), &f.hashes)
    )
}

/// The files table: at most [`PAPER_FILES`] rows, those an examiner looks at
/// first before the rest (two passes over the store).
fn files(s: &mut String, store: &Store) -> Result<(), StoreError> {
    let hashes = format!(
        "table.cell(colspan: {}, strong({}))",
        FILE_COLUMNS.len(),
        quote(HASH_HEAD)
    );
    *s += &format!("#table({},\n", columns(FILE_COLUMNS, &hashes));
    let mut n = 0u64;
    for first in [true, false] {
        store.each_artifact(None, &mut |a| {
            if doc::listed_first(&a) == first && n < PAPER_FILES {
                *s += &file_row(&a);
                n += 1;
            }
            Ok(())
        })?;
    }
    *s += ")\n";
    Ok(())
}

/// Typst's diagnostics as one line.
fn messages(errs: &[typst::diag::SourceDiagnostic]) -> String {
    errs.iter()
        .map(|e| e.message.to_string())
        .collect::<Vec<_>>()
        .join("; ")
}

/// The Typst source of the report (also useful to see what the PDF was made from).
pub fn source(store: &Store, model: &Model) -> Result<String, StoreError> {
    let doc = Doc::build(model, Medium::Paper);
    let mut s = format!(
        "#set document(title: {}, author: {})\n",
        lit1(&doc.title),
        lit1(&model.case.info.examiner)
    );
    // Every page carries the custody head the report was made from: an examiner
    // can check a case against any single page (`dredge verify CASE --head`).
    s += &format!(
        "#set page(paper: \"a4\", margin: (x: 1.5cm, top: 1.6cm, bottom: 2.4cm), footer: context [#set text(size: 7.5pt); #{} #h(1fr) page #counter(page).display(\"1 of 1\", both: true) #linebreak() custody head #text(font: \"DejaVu Sans Mono\", size: 6.5pt, {})])\n",
        lit1(&doc.running),
        lit1(&doc.head)
    );
    s += PREAMBLE;
    s += "#text(size: 18pt, strong[Forensic examination report])\n\n";
    for b in &doc.front {
        block(&mut s, b);
    }
    // The contents are the PDF's bookmarks (one per heading), not a printed
    // outline: its leader dots would put invisible characters in the text.
    for (i, sec) in doc.sections.iter().enumerate() {
        s += &format!(
            "#heading(level: 1, {})\n",
            quote(&format!("{} {}", i + 1, sec.title))
        );
        for b in &sec.blocks {
            match b {
                Block::Files => files(&mut s, store)?,
                _ => block(&mut s, b),
            }
        }
    }
    s += &format!("#small({})\n", lit1(&doc.colophon));
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
    let world = Typesetter {
        library: LazyHash::new(Library::default()),
        book: LazyHash::new(FontBook::from_fonts(&fonts)),
        fonts,
        source: Source::new(id, text),
        today: parse_utc(&model.generated_utc),
    };
    let compiled = typst::compile::<PagedDocument>(&world);
    let document = compiled.output.map_err(|errs| fail(messages(&errs)))?;
    let standards = typst_pdf::PdfStandards::new(&[typst_pdf::PdfStandard::A_2b])
        .map_err(|e| fail(format!("{e:?}")))?;
    let options = typst_pdf::PdfOptions {
        ident: typst::foundations::Smart::Custom(model.case.uuid.clone()),
        creator: typst::foundations::Smart::Custom(Some(format!(
            "dredge {}",
            dredge_core::TOOL_VERSION
        ))),
        timestamp: world.today.map(typst_pdf::Timestamp::new_utc),
        standards,
        ..Default::default()
    };
    let bytes = typst_pdf::pdf(&document, &options).map_err(|errs| fail(messages(&errs)))?;
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
