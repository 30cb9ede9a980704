//! `dredge report`: every format from the store alone, validated by the tools that
//! consume them (xmllint against the DFXML schema, mactime, Chromium), recorded in
//! the custody log with its own hash, and honest about a store that was tampered with.

mod common;
use common::*;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn sample() -> (PathBuf, PathBuf) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("testimages/sample");
    (root.join("usb-stick.img"), root.join("usb-stick.map"))
}

/// A case holding the sample stick, with its bad-sector map, scanned.
fn case_with_sample(dir: &Path) -> PathBuf {
    let (img, map) = sample();
    let case = dir.join("case");
    let o = one_shot(
        "recover",
        &img,
        Some(&map),
        &case,
        &["--examiner", "Det. Ada Example"],
    );
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    case
}

/// The SHA-256 the case registered for its (one) evidence item.
fn evidence_sha256(case: &Path) -> String {
    rusqlite::Connection::open(case.join("case.sqlite"))
        .unwrap()
        .query_row("SELECT sha256 FROM evidence", [], |r| r.get(0))
        .unwrap()
}

/// xmllint accepts the file against the DFXML working group's schema (public
/// domain, copied from ../shared/schemas).
fn assert_valid_dfxml(dfxml: &Path, what: &str) {
    let xsd = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/schemas/dfxml.xsd");
    let x = std::process::Command::new("xmllint")
        .args(["--noout", "--schema"])
        .arg(&xsd)
        .arg(dfxml)
        .output()
        .unwrap();
    assert!(
        x.status.success(),
        "{what}: {}",
        String::from_utf8_lossy(&x.stderr)
    );
}

/// File names the consuming tools recognise (rdflib picks its parser by extension).
fn ext(format: &str) -> &str {
    if format == "case" {
        "jsonld"
    } else {
        format
    }
}

#[test]
fn every_format_is_written_recorded_and_valid() {
    let d = tempfile::tempdir().unwrap();
    let case = case_with_sample(d.path());
    let arts = ls_json(&case);
    let files: Vec<&serde_json::Value> = arts.iter().filter(|a| a["kind"] == "file").collect();
    assert!(files.len() >= 5);
    for f in ["html", "pdf", "dfxml", "case", "csv", "bodyfile"] {
        let out = d.path().join(format!("report.{}", ext(f)));
        let o = report(&case, f, &out);
        assert!(o.status.success(), "{f}: {}", stderr(&o));
        // The hash printed, the one beside the file and the one in the custody log
        // are the file's.
        let sha = sha256_file(&out);
        assert!(stdout(&o).starts_with(&sha), "{}", stdout(&o));
        let side = std::fs::read_to_string(format!("{}.sha256", out.display())).unwrap();
        assert_eq!(side, format!("{sha}  report.{}\n", ext(f)));
        let log = stdout(&run(&["log", case.to_str().unwrap(), "--json"]));
        let ev: serde_json::Value = log
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .rfind(|e| e["action"] == "report.generate")
            .expect("report event");
        assert_eq!(ev["params"]["sha256"], sha.as_str());
        assert_eq!(ev["params"]["format"], f);
    }
    // Writing reports does not break the chain.
    let v = run(&["--progress", "none", "verify", case.to_str().unwrap()]);
    assert!(v.status.success(), "{}", stdout(&v));

    let html = std::fs::read_to_string(d.path().join("report.html")).unwrap();
    // With the bad-sector map applied the evidence hash covers the bytes as read.
    let evidence_sha = evidence_sha256(&case);
    for fact in [
        evidence_sha.as_str(),
        "Det. Ada Example",
        "Custody record verified",
        "4096 bytes",
        "secret plans.txt",
        "deleted",
        "map-bad-sector",
    ] {
        assert!(html.contains(fact), "HTML lacks {fact:?}");
    }
    for a in &files {
        assert!(html.contains(a["sha256"].as_str().unwrap()), "{a}");
    }
    // Self-contained: nothing is fetched from anywhere.
    assert!(!html.contains("src=\"http") && !html.contains("href=\"http"));
    // The sector map marks the two unreadable ranges of the medium.
    assert!(html.contains("fill=\"#c62828\""));

    // CSV: one row per artifact, hashes as in the store.
    let csv = std::fs::read_to_string(d.path().join("report.csv")).unwrap();
    assert_eq!(csv.lines().count(), arts.len() + 1);
    for a in &files {
        assert!(csv.contains(a["sha256"].as_str().unwrap()));
    }

    // CASE/UCO: the files, with their hashes and image ranges, and the actions.
    let jsonld: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.path().join("report.jsonld")).unwrap())
            .unwrap();
    let graph = jsonld["@graph"].as_array().unwrap();
    let text = jsonld.to_string();
    for a in &files {
        assert!(text.contains(a["sha256"].as_str().unwrap()));
    }
    assert!(graph
        .iter()
        .any(|n| n["@type"] == "case-investigation:InvestigativeAction"
            && n["uco-core:name"] == "dredge scan"));
    assert!(text.contains("\"uco-observable:rangeOffsetType\":\"image\""));

    if !tools(&["xmllint", "mactime", "fls", "case_validate"]) {
        return;
    }
    let cv = std::process::Command::new("case_validate")
        .arg(d.path().join("report.jsonld"))
        .output()
        .unwrap();
    assert!(
        cv.status.success(),
        "case_validate: {}",
        String::from_utf8_lossy(&cv.stdout)
    );
    let dfxml = d.path().join("report.dfxml");
    assert_valid_dfxml(&dfxml, "sample");
    let xml = std::fs::read_to_string(&dfxml).unwrap();
    assert!(
        xml.contains(
            "<dredge:unreadable file_offset=\"20480\" len=\"4096\" why=\"map-bad-sector\"/>"
        ),
        "PHOTO.RAW's gap"
    );
    assert!(xml.contains(&format!("sha256=\"{evidence_sha}\"")));

    // The body file gives mactime what fls -m gives it for the same files.
    let body = d.path().join("report.bodyfile");
    let m = std::process::Command::new("mactime")
        .args(["-b"])
        .arg(&body)
        .args(["-d", "-z", "UTC"])
        .output()
        .unwrap();
    assert!(m.status.success());
    assert!(String::from_utf8_lossy(&m.stdout).contains("/ledger/ACCOUNTS.CSV"));
    let fls = std::process::Command::new("fls")
        .args(["-m", "/", "-r"])
        .arg(sample().0)
        .output()
        .unwrap();
    // name -> (atime, mtime, crtime); TSK names deleted entries "… (deleted)" too.
    let parse = |text: &str| -> BTreeMap<String, (String, String, String)> {
        text.lines()
            .filter_map(|l| {
                let f: Vec<&str> = l.split('|').collect();
                (f.len() == 11).then(|| {
                    (
                        f[1].trim_start_matches('/').replace("//", "/"),
                        (f[7].to_string(), f[8].to_string(), f[10].to_string()),
                    )
                })
            })
            .collect()
    };
    let ours = parse(&std::fs::read_to_string(&body).unwrap());
    let theirs = parse(&String::from_utf8_lossy(&fls.stdout));
    let mut compared = 0;
    for (name, t) in &theirs {
        if let Some(o) = ours.get(name) {
            assert_eq!(o, t, "{name}");
            compared += 1;
        }
    }
    assert!(
        compared >= 5,
        "compared {compared}: ours {ours:?} theirs {theirs:?}"
    );
}

#[test]
fn a_tampered_store_is_reported_as_failing_verification() {
    let d = tempfile::tempdir().unwrap();
    let case = case_with_sample(d.path());
    let db = rusqlite::Connection::open(case.join("case.sqlite")).unwrap();
    let n = db
        .execute(
            "UPDATE artifacts SET sha256 = '00' || substr(sha256, 3) WHERE path = '/NOTES.TXT'",
            [],
        )
        .unwrap();
    assert_eq!(n, 1);
    drop(db);
    let out = d.path().join("r.html");
    let o = report(&case, "html", &out);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("verification FAILED"), "{}", stderr(&o));
    let html = std::fs::read_to_string(&out).expect("the report is still written");
    let banner = html.find("VERIFICATION FAILED").expect("banner");
    // Prominent: before the evidence section.
    assert!(banner < html.find("id=evidence").unwrap());
    assert!(!html.contains("Custody record verified"));
}

#[test]
fn hostile_names_are_escaped_in_every_report() {
    if !tools(&["mkfs.ext4"]) {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let src = d.path().join("src");
    std::fs::create_dir(&src).unwrap();
    let evil = "bad\x1b[31mred\nline\x07\x7f\u{9b}\u{202e}gpj\u{200b}<script>.txt";
    // How the one sanitizer shows it, everywhere.
    let tail = "\\x07\\x7f\\u{9b}\\u{202e}gpj\\u{200b}";
    let raw = ['\x1b', '\x07', '\x7f', '\u{9b}', '\u{202e}', '\u{200b}'];
    std::fs::write(src.join(evil), b"hostile name").unwrap();
    let img = d.path().join("evil.img");
    assert!(sh(&format!(
        "mkfs.ext4 -q -F -d {} {} 4M",
        src.display(),
        img.display()
    )));
    let case = d.path().join("case");
    let o = one_shot("recover", &img, None, &case, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    // The terminal commands: ls, list, log, case show.
    for args in [
        vec!["ls", case.to_str().unwrap()],
        vec!["ls", case.to_str().unwrap(), "--long"],
        vec!["list", img.to_str().unwrap()],
        vec!["log", case.to_str().unwrap()],
        vec!["case", "show", case.to_str().unwrap()],
    ] {
        let o = run(&args);
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
        let out = stdout(&o) + &stderr(&o);
        assert!(
            !out.contains(raw),
            "{args:?}: raw control or format character"
        );
        if args[0] != "log" && args[0] != "case" {
            assert!(
                out.contains(&format!("bad\\x1b[31mred\\x0aline{tail}")),
                "{args:?}: {out}"
            );
        }
    }
    for f in ["html", "pdf", "dfxml", "case", "csv", "bodyfile"] {
        let out = d.path().join(format!("r.{}", ext(f)));
        assert!(report(&case, f, &out).status.success());
        if f == "pdf" {
            if tools(&["pdftotext"]) {
                let t = pdf_text(&out);
                assert!(!t.contains(raw), "pdf: raw control or format character");
                assert!(
                    t.contains(&format!("bad\\x1b[31mred\\x0aline{tail}")),
                    "pdf: {t}"
                );
            }
            continue;
        }
        let text = std::fs::read(&out).unwrap();
        let s = String::from_utf8(text).unwrap();
        assert!(!s.contains(raw), "{f}: raw control or format character");
        // JSON writes the escape's backslash as \\.
        let shown = if f == "case" {
            format!("bad\\\\x1b[31mred\\\\x0aline{}", tail.replace('\\', "\\\\"))
        } else {
            format!("bad\\x1b[31mred\\x0aline{tail}")
        };
        assert!(s.contains(&shown), "{f}");
        if f == "html" || f == "dfxml" {
            assert!(!s.contains("<script>.txt"), "{f}: raw markup");
        }
    }
}

#[test]
fn the_html_renders_in_chromium_with_its_facts() {
    if !tools(&["chromium", "pdftotext", "pdftoppm"]) {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let case = case_with_sample(d.path());
    let html = d.path().join("r.html");
    assert!(report(&case, "html", &html).status.success());
    let url = format!("file://{}", html.display());
    let chromium = |args: &[&str]| {
        let o = std::process::Command::new("chromium")
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--hide-scrollbars",
            ])
            .args(args)
            .arg(&url)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    };
    let png = d.path().join("r.png");
    chromium(&[
        "--window-size=1200,2000",
        &format!("--screenshot={}", png.display()),
    ]);
    let bytes = std::fs::read(&png).unwrap();
    assert!(bytes.starts_with(b"\x89PNG") && bytes.len() > 20_000);
    // Printed (the way a court gets it), every group opens and the facts are there.
    let pdf = d.path().join("r.pdf");
    chromium(&[
        &format!("--print-to-pdf={}", pdf.display()),
        "--no-pdf-header-footer",
    ]);
    let t = std::process::Command::new("pdftotext")
        .arg(&pdf)
        .arg("-")
        .output()
        .unwrap();
    let text: String = String::from_utf8_lossy(&t.stdout)
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    let evidence_sha = evidence_sha256(&case);
    for fact in [
        evidence_sha.as_str(),
        "Custodyrecordverified",
        "20480+4096(map-bad-sector)",
        "secretplans.txt",
        "f905a3d0aa3257d59e04bb20ae66dae166a170985222c49685d1334c91c82874",
    ] {
        assert!(text.contains(fact), "printed report lacks {fact}");
    }
    // Printed, every page carries the custody head: `custody head SEQ:HASH`.
    let pages = pdf_pages(&pdf);
    assert!(pages >= 2);
    let head_on = |t: &str| {
        t.split("custodyhead").skip(1).any(|rest| {
            let (seq, hash) = rest.split_once(':').unwrap_or(("", ""));
            !seq.is_empty()
                && seq.bytes().all(|b| b.is_ascii_digit())
                && hash.len() >= 64
                && hash[..64].bytes().all(|b| b.is_ascii_hexdigit())
        })
    };
    for p in 1..=pages {
        let t: String = page_text(&pdf, p).split_whitespace().collect();
        assert!(head_on(&t), "printed page {p} lacks the head");
    }
    let page = d.path().join("page");
    let o = std::process::Command::new("pdftoppm")
        .args(["-png", "-r", "60", "-f", "1", "-l", "1"])
        .arg(&pdf)
        .arg(&page)
        .output()
        .unwrap();
    assert!(o.status.success());
    let first = std::fs::read_dir(d.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .find(|e| e.file_name().to_string_lossy().starts_with("page"))
        .expect("a rendered page");
    assert!(std::fs::metadata(first.path()).unwrap().len() > 5_000);
}

/// The text of a PDF, without whitespace or the zero-width spaces that let long
/// hashes wrap.
/// The text of page `p` of a PDF, as pdftotext gives it.
fn page_text(pdf: &Path, p: u32) -> String {
    let o = std::process::Command::new("pdftotext")
        .args(["-f", &p.to_string(), "-l", &p.to_string()])
        .arg(pdf)
        .arg("-")
        .output()
        .unwrap();
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// The page count pdfinfo reports.
fn pdf_pages(pdf: &Path) -> u32 {
    let info = std::process::Command::new("pdfinfo")
        .arg(pdf)
        .output()
        .unwrap();
    String::from_utf8_lossy(&info.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("Pages:").map(|n| n.trim().parse().unwrap()))
        .unwrap()
}

fn pdf_text(pdf: &Path) -> String {
    let t = std::process::Command::new("pdftotext")
        .arg(pdf)
        .arg("-")
        .output()
        .unwrap();
    assert!(t.status.success());
    String::from_utf8_lossy(&t.stdout)
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '\u{200B}')
        .collect()
}

#[test]
fn the_pdf_is_pdf_a_paginated_and_holds_the_facts() {
    if !tools(&["pdftotext", "pdftoppm", "pdfinfo"]) {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let case = case_with_sample(d.path());
    let pdf = d.path().join("r.pdf");
    let o = report(&case, "pdf", &pdf);
    assert!(o.status.success(), "{}", stderr(&o));
    let info = std::process::Command::new("pdfinfo")
        .arg("-meta")
        .arg(&pdf)
        .output()
        .unwrap();
    let meta = String::from_utf8_lossy(&info.stdout);
    assert!(meta.contains("<pdfaid:part>2</pdfaid:part>"), "{meta}");
    assert!(meta.contains("<pdfaid:conformance>B</pdfaid:conformance>"));
    let pages = pdf_pages(&pdf);
    assert!(pages >= 2);
    let text = pdf_text(&pdf);
    let evidence_sha = evidence_sha256(&case);
    for fact in [
        evidence_sha.as_str(),
        "Custodyrecordverified",
        "Det.AdaExample",
        "20480+4096(map-bad-sector)",
        "secretplans.txt",
        "f905a3d0aa3257d59e04bb20ae66dae166a170985222c49685d1334c91c82874",
        &format!("page1of{pages}"),
        &format!("page{pages}of{pages}"),
    ] {
        assert!(text.contains(fact), "PDF lacks {fact}");
    }
    // Hashes copy out whole: in the raw text (no whitespace removed) every evidence
    // and artifact SHA-256 stands intact, and nothing invisible is in the text.
    let raw = String::from_utf8(
        std::process::Command::new("pdftotext")
            .args(["-layout"])
            .arg(&pdf)
            .arg("-")
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    assert!(!raw.contains(['\u{200B}', '\u{AD}', '\u{2060}']));
    let db = rusqlite::Connection::open(case.join("case.sqlite")).unwrap();
    let mut shas: Vec<String> = db
        .prepare("SELECT sha256 FROM artifacts WHERE sha256 IS NOT NULL")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert!(shas.len() > 3);
    shas.push(evidence_sha.clone());
    for h in &shas {
        assert!(raw.contains(h.as_str()), "PDF text lacks {h} in one piece");
    }
    // Every page names the custody head the report was made from: the newest
    // event before the report's own session, seq and hash as stored.
    let (seq, hash): (i64, String) = db
        .query_row(
            "SELECT seq, hash FROM custody WHERE seq < (SELECT MAX(seq) FROM custody WHERE action = 'session.start') ORDER BY seq DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    drop(db);
    for p in 1..=pages {
        let t = page_text(&pdf, p);
        assert!(
            t.contains(&format!("custody head {seq}:{hash}")),
            "page {p} lacks the head: {t}"
        );
    }
    let o = std::process::Command::new("pdftoppm")
        .args(["-png", "-r", "50", "-f", "1", "-l", "1"])
        .arg(&pdf)
        .arg(d.path().join("page"))
        .output()
        .unwrap();
    assert!(o.status.success());

    // Tampered: the first page says so.
    let db = rusqlite::Connection::open(case.join("case.sqlite")).unwrap();
    db.execute(
        "UPDATE evidence SET md5 = '00000000000000000000000000000000'",
        [],
    )
    .unwrap();
    drop(db);
    let bad = d.path().join("bad.pdf");
    assert_eq!(report(&case, "pdf", &bad).status.code(), Some(2));
    let first = std::process::Command::new("pdftotext")
        .args(["-f", "1", "-l", "1"])
        .arg(&bad)
        .arg("-")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&first.stdout).contains("VERIFICATION FAILED"));
}

#[test]
fn dfxml_and_case_reports_of_every_test_image_validate() {
    if !tools(&["xmllint", "case_validate"]) {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("testimages");
    // Filesystem recovery on exFAT, carving on the ground truth (fragments, partial
    // files), and the FAT stick with its bad sectors (in the first test).
    for (name, cmd, img) in [
        ("exfat", "recover", root.join("exfat/small.img")),
        ("carving", "carve", root.join("carving/ground-truth.img")),
    ] {
        let case = d.path().join(name);
        let o = run(&[
            "--progress",
            "none",
            cmd,
            img.to_str().unwrap(),
            "--out",
            case.to_str().unwrap(),
        ]);
        assert!(matches!(o.status.code(), Some(0 | 3)), "{}", stderr(&o));
        let dfxml = d.path().join(format!("{name}.dfxml"));
        let jsonld = d.path().join(format!("{name}.jsonld"));
        assert!(report(&case, "dfxml", &dfxml).status.success());
        assert!(report(&case, "case", &jsonld).status.success());
        assert_valid_dfxml(&dfxml, name);
        let c = std::process::Command::new("case_validate")
            .arg(&jsonld)
            .output()
            .unwrap();
        assert!(
            c.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&c.stdout)
        );
        let n = ls_json(&case).len();
        let objects = std::fs::read_to_string(&dfxml)
            .unwrap()
            .matches("<fileobject>")
            .count();
        assert_eq!(objects, n, "{name}: one fileobject per artifact");
    }
}

#[test]
fn the_html_lists_every_finding_and_the_pdf_says_how_many_it_left_out() {
    let d = tempfile::tempdir().unwrap();
    let case = case_with_sample(d.path());
    // More findings than the PDF lists, added behind the seal's back (the reports
    // are still written, and say the record does not verify).
    let c = rusqlite::Connection::open(case.join("case.sqlite")).unwrap();
    for i in 0..1234 {
        c.execute(
            "INSERT INTO findings (evidence_id, unit, offset, what) VALUES (1, 'v0', ?1, ?2)",
            rusqlite::params![i * 512, format!("damage number {i}")],
        )
        .unwrap();
    }
    drop(c);
    let html = d.path().join("r.html");
    assert!(html_or_pdf_written(&case, "html", &html));
    let text = std::fs::read_to_string(&html).unwrap();
    assert!(text.contains("damage number 0<") && text.contains("damage number 1233<"));
    if !tools(&["pdftotext"]) {
        return;
    }
    let pdf = d.path().join("r.pdf");
    assert!(html_or_pdf_written(&case, "pdf", &pdf));
    let t = pdf_text(&pdf);
    assert!(t.contains("damagenumber999"), "the first 1 000 are listed");
    assert!(!t.contains("damagenumber1000"));
    assert!(
        t.contains("…and234morefindings"),
        "and the rest are counted"
    );
}

/// Writes a report of an altered case: written, and the command says it failed.
fn html_or_pdf_written(case: &Path, format: &str, out: &Path) -> bool {
    let o = report(case, format, out);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    out.is_file()
}
