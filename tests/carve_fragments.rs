//! Files in three fragments (issue 14): a PNG written by ImageMagick (libpng's
//! 8 KiB IDAT chunks) and a JPEG written by ImageMagick (libjpeg), each cut at two
//! sector boundaries, their pieces laid with foreign data between them, come back
//! whole and bit-exact, their three pieces in their runs; the same files cut once
//! still come back in two. PDFs written by Ghostscript (and rewritten by qpdf)
//! cut once come back from their cross-references.

mod common;

use common::*;

/// Carves `file` laid at 0x20000 in pieces for each case (name, cuts, gaps) and
/// checks it comes back whole, complete, in exactly those pieces.
fn comes_back(
    p: &std::path::Path,
    file: &[u8],
    format: &str,
    cases: &[(&str, Vec<usize>, Vec<usize>)],
) {
    comes_back_among(p, file, format, cases, &[]);
}

/// `comes_back`, with `foreign` written at the start of the first gap.
fn comes_back_among(
    p: &std::path::Path,
    file: &[u8],
    format: &str,
    cases: &[(&str, Vec<usize>, Vec<usize>)],
    foreign: &[u8],
) {
    for (case, cuts, gaps) in cases {
        let (mut img, pieces) = lay(4 << 20, 0x20000, file, cuts, gaps);
        let at = (pieces[0].0 + pieces[0].1) as usize;
        assert!(
            foreign.len() <= gaps[0],
            "{case}: foreign data larger than the gap"
        );
        img[at..at + foreign.len()].copy_from_slice(foreign);
        let dir = p.join(format!("{format}-{case}"));
        std::fs::create_dir(&dir).unwrap();
        let arts = carve_image(&dir, &img, 0);
        let a = carved_at(&arts, 0x20000, format).unwrap_or_else(|| panic!("{case}: {arts:#?}"));
        assert_eq!(a["sha256"], sha256(file), "{format} {case}: {a}");
        assert_eq!(a["status"], "complete", "{format} {case}: {a}");
        assert_eq!(image_runs(a), pieces, "{format} {case}");
    }
}

#[test]
fn a_png_in_three_fragments_comes_back_whole() {
    if !tools(&["convert"]) {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    let png = made(
        p,
        "convert -size 320x240 -seed 5 plasma:fractal -define png:compression-level=1 a.png",
        "a.png",
    );
    assert!(png.len() > 64 << 10, "{} bytes", png.len());
    // The chunks: (start, end) of each IDAT.
    let mut idats = Vec::new();
    let mut at = 8;
    while at + 8 <= png.len() {
        let n = u32::from_be_bytes(png[at..at + 4].try_into().unwrap()) as usize;
        if &png[at + 4..at + 8] == b"IDAT" {
            idats.push((at, at + 12 + n));
        }
        at += 12 + n;
    }
    assert!(idats.len() >= 3, "{idats:?}");
    let (a, b) = (idats[1], idats[2]);
    assert!(a.1 - a.0 > 4096 && b.1 - b.0 > 2048, "{idats:?}");
    let up = |x: usize| x.div_ceil(512) * 512;
    comes_back(
        p,
        &png,
        "png",
        &[
            (
                "three",
                vec![0x4000usize, png.len() / 512 * 512 - 0x4000],
                vec![7 * 512usize, 61 * 512],
            ),
            ("two", vec![png.len() / 2 / 512 * 512], vec![19 * 512]),
            // Both cuts in one IDAT: its CRC places them and the first gap.
            (
                "one-chunk",
                vec![up(a.0 + 1024), up(a.0 + 1024) + 2048],
                vec![23 * 512, 5 * 512],
            ),
            // A cut near one chunk's end (its CRC after it) and one in the
            // next chunk: that chunk's header is found after the first gap
            // though its own CRC fails there.
            (
                "next-chunk-cut-too",
                vec![up(a.1 - 700), up(a.1 + 700)],
                vec![40 * 512, 9 * 512],
            ),
        ],
    );
}

/// A baseline JPEG (no restart markers: only its Huffman decoding finds where
/// foreign data begins) in three pieces, the middle one a few sectors long, or
/// most of the file; noise between them.
#[test]
fn a_jpeg_in_three_fragments_comes_back_whole() {
    if !tools(&["convert"]) {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    let jpg = made(
        p,
        "convert -size 512x384 -seed 7 plasma:fractal -quality 90 a.jpg",
        "a.jpg",
    );
    assert!(jpg.len() > 64 << 10, "{} bytes", jpg.len());
    let tail = jpg.len() / 512 * 512 - 0x2000;
    comes_back(
        p,
        &jpg,
        "jpeg",
        &[
            (
                "three",
                vec![0x3000usize, tail],
                vec![9 * 512usize, 140 * 512],
            ),
            (
                "short-middle",
                vec![0x5000usize, 0x5000 + 3 * 512],
                vec![33 * 512usize, 5 * 512],
            ),
            ("two", vec![jpg.len() / 2 / 512 * 512], vec![19 * 512]),
        ],
    );
}

/// A ZIP written by Info-ZIP's `zip` (five deflated or stored members) cut at two
/// sector boundaries in different members: the first moved header gives the
/// first gap, each member's CRC places its cut. Cut twice inside one member
/// (deflated text, stored random bytes, or random bytes deflate kept in stored
/// blocks), it comes back too.
#[test]
fn a_zip_in_three_fragments_comes_back_whole() {
    if !tools(&["zip"]) {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    let words = [
        "ledger", "harbour", "custody", "invoice", "shipment", "exhibit",
    ];
    let mut r = dredge_testkit::Rng::new(11);
    for i in 0..4 {
        let text: Vec<&str> = (0..4000)
            .map(|_| words[(r.next() >> 33) as usize % words.len()])
            .collect();
        std::fs::write(p.join(format!("note{i}.txt")), text.join(" ")).unwrap();
    }
    // The first note a ledger, numbers among the words: it deflates to
    // several sectors, room for two cuts.
    let ledger: Vec<String> = (0..3000)
        .map(|_| {
            let n = r.next() >> 40;
            format!("{} {n}", words[n as usize % words.len()])
        })
        .collect();
    std::fs::write(p.join("note0.txt"), ledger.join("\n")).unwrap();
    std::fs::write(p.join("photo.bin"), noise(9000, 5)).unwrap();
    let zip = made(
        p,
        "zip -q -X a.zip note0.txt photo.bin note1.txt note2.txt note3.txt",
        "a.zip",
    );
    // The members' local headers, in order (the directory's are `PK\1\2`).
    let heads: Vec<usize> = zip
        .windows(4)
        .enumerate()
        .filter(|(_, w)| *w == b"PK\x03\x04")
        .map(|(i, _)| i)
        .collect();
    assert_eq!(heads.len(), 5, "{heads:?}");
    let inside = |i: usize| (heads[i] + heads[i + 1]) / 2 / 512 * 512;
    assert!(inside(1) > heads[1] + 30 && inside(3) > heads[3] + 30);
    // Two cuts in one member's data: the first sector boundary a sector past
    // its header, and three sectors on.
    let twice = |i: usize| {
        let a = (heads[i] + 64).div_ceil(512) * 512 + 512;
        assert!(
            a + 2048 < heads[i + 1],
            "member {i} too short for two cuts: {heads:?}"
        );
        vec![a, a + 1536]
    };
    comes_back(
        p,
        &zip,
        "zip",
        &[
            (
                "three",
                vec![inside(1), inside(3)],
                vec![13 * 512usize, 77 * 512],
            ),
            ("two", vec![inside(2)], vec![5 * 512]),
            // Deflated text: where decoding stops places each cut.
            ("one-deflated-member", twice(0), vec![41 * 512, 6 * 512]),
            // Random bytes `zip` stored: the CRC alone.
            ("one-stored-member", twice(1), vec![3 * 512, 120 * 512]),
        ],
    );
    // Random bytes too long for `zip` to store: deflated, but kept in stored
    // blocks (zlib starts a new one at 32 KiB), cut twice in the first
    // block, the second block's header after both gaps.
    std::fs::write(p.join("big.bin"), noise(40_000, 17)).unwrap();
    let kept = made(p, "zip -q -X c.zip big.bin note1.txt", "c.zip");
    assert_eq!(&kept[8..10], &[8, 0], "big.bin is not deflated");
    comes_back(
        p,
        &kept,
        "zip",
        &[(
            "one-member-in-stored-blocks",
            vec![10 * 512, 30 * 512],
            vec![57 * 512, 11 * 512],
        )],
    );
    // Another archive in the first gap: its end record is the first one found
    // after the file's start, and its members have the same names (not the
    // same bytes).
    std::fs::create_dir(p.join("other")).unwrap();
    for i in 0..2 {
        let text: Vec<&str> = (0..3000)
            .map(|_| words[(r.next() >> 33) as usize % words.len()])
            .collect();
        std::fs::write(p.join(format!("other/note{i}.txt")), text.join(" ")).unwrap();
    }
    let other = made(
        p,
        "cd other && zip -q -X ../b.zip note0.txt note1.txt",
        "b.zip",
    );
    comes_back_among(
        p,
        &zip,
        "zip",
        &[(
            "other-archive-in-gap",
            vec![inside(0), inside(2)],
            vec![(other.len() / 512 + 3) * 512, 9 * 512],
        )],
        &other,
    );
}

/// A SQLite database written by Python's sqlite3 (a table with an index, rows
/// deleted so the freelist holds pages, blobs that spill into overflow pages)
/// in two fragments, cut at a page boundary and inside a page: back whole by
/// walking its b-trees. One page overwritten in place is no fragment: partial
/// up to that page, never called complete.
#[test]
fn a_sqlite_database_in_two_fragments_comes_back_whole() {
    if !tools(&["python3"]) {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    let py = r#"
import random, sqlite3
r = random.Random(3)
c = sqlite3.connect("a.db")
c.execute("CREATE TABLE msgs(id INTEGER PRIMARY KEY, sender TEXT, body TEXT, ts INTEGER)")
c.execute("CREATE INDEX by_sender ON msgs(sender)")
c.execute("CREATE TABLE blobs(k TEXT, v BLOB)")
words = ["meet", "at", "the", "harbour", "tonight", "bring", "cash"]
for i in range(3000):
    body = " ".join(r.choice(words) for _ in range(r.randrange(3, 40)))
    c.execute("INSERT INTO msgs(sender, body, ts) VALUES (?, ?, ?)", ("user%d" % r.randrange(50), body, 1700000000 + i))
for i in range(20):
    c.execute("INSERT INTO blobs VALUES (?, ?)", ("k%d" % i, r.randbytes(r.randrange(100, 20000))))
c.execute("DELETE FROM msgs WHERE id % 7 = 0")
c.commit()
root = c.execute("SELECT rootpage FROM sqlite_master WHERE name = 'by_sender'").fetchone()[0]
open("root.txt", "w").write(str(root))
"#;
    std::fs::write(p.join("a.py"), py).unwrap();
    let db = made(p, "python3 a.py", "a.db");
    let ps = u16::from_be_bytes([db[16], db[17]]) as usize;
    assert!(db.len() / ps > 100, "{} pages", db.len() / ps);
    let half = db.len() / 2 / ps * ps;
    comes_back(
        p,
        &db,
        "sqlite",
        &[
            ("page-boundary", vec![half], vec![37 * 512]),
            (
                "inside-a-page",
                vec![db.len() / 3 / ps * ps + 1024],
                vec![21 * 512],
            ),
        ],
    );
    // The index's root page overwritten with noise where it lies (a page the
    // walk must reach): no gap explains it.
    let root: usize = std::fs::read_to_string(p.join("root.txt"))
        .unwrap()
        .parse()
        .unwrap();
    let at = (root - 1) * ps;
    let mut damaged = db.clone();
    damaged[at..at + ps].copy_from_slice(&noise(ps, 8));
    let dir = p.join("damaged");
    std::fs::create_dir(&dir).unwrap();
    let arts = carve_laid(&dir, 4 << 20, 99, &[(0x20000, &damaged)], 3);
    let a = carved_at(&arts, 0x20000, "sqlite").unwrap_or_else(|| panic!("{arts:#?}"));
    assert_eq!(a["status"], "partial", "{a}");
    assert!(a["size"].as_u64().unwrap() <= at as u64, "{a}");
}

/// Two databases one program made alike (one schema, rowids from 1, the same
/// page layout), the first cut short inside a page and the second laid after
/// it: the second's pages pass for the first's rest page by page, and the
/// cut database came back "complete" with the other's tail (a held-out image
/// had it). Another database starting where a layout would read the rest is
/// no continuation: the cut one is partial, the other whole.
#[test]
fn a_cut_sqlite_database_does_not_take_an_alike_databases_pages() {
    if !tools(&["python3"]) {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    let py = r#"
import random, sqlite3, sys
r = random.Random(int(sys.argv[1]))
c = sqlite3.connect(sys.argv[2])
c.execute("CREATE TABLE t(id INTEGER PRIMARY KEY, who TEXT, note TEXT)")
for i in range(1500):
    c.execute("INSERT INTO t(who, note) VALUES (?, ?)", ("u%d" % r.randrange(40), " ".join(r.choice(["ledger", "harbour", "invoice", "witness"]) for _ in range(r.randrange(5, 30)))))
c.commit()
"#;
    std::fs::write(p.join("t.py"), py).unwrap();
    let a = made(p, "python3 t.py 3 a.db", "a.db");
    let b = made(p, "python3 t.py 4 b.db", "b.db");
    let ps = u16::from_be_bytes([a[16], a[17]]) as usize;
    let cut = (a.len() * 2 / 3) / ps * ps + 2048;
    let (at, b_at) = (0x20000usize, 0x20000 + (a.len() / 512 + 40) * 512);
    let dir = p.join("alike");
    std::fs::create_dir(&dir).unwrap();
    let arts = carve_laid(&dir, 4 << 20, 97, &[(at, &a[..cut]), (b_at, &b)], 3);
    let x = carved_at(&arts, at as u64, "sqlite").unwrap_or_else(|| panic!("{arts:#?}"));
    assert_eq!(x["status"], "partial", "{x}");
    let y = carved_at(&arts, b_at as u64, "sqlite").unwrap_or_else(|| panic!("{arts:#?}"));
    assert_eq!(
        (&y["status"], &y["sha256"]),
        (&"complete".into(), &sha256(&b).into())
    );
}

/// The (start, end) of the data of the longest stream whose dictionary
/// (the 200 bytes before `stream`) names `filter`.
fn longest_stream(pdf: &[u8], filter: &str) -> (usize, usize) {
    let mut best = (0, 0);
    let mut at = 0;
    while let Some(i) = find(&pdf[at..], b"stream\n").map(|i| i + at) {
        let data = i + 7;
        let dict = &pdf[i.saturating_sub(200)..i];
        let end = find(&pdf[data..], b"endstream").map_or(data, |e| data + e);
        if i > 3
            && &pdf[i - 3..i] != b"end"
            && find(dict, filter.as_bytes()).is_some()
            && end - data > best.1 - best.0
        {
            best = (data, end);
        }
        at = data;
    }
    best
}

fn find(h: &[u8], n: &[u8]) -> Option<usize> {
    h.windows(n.len()).position(|w| w == n)
}

/// A sector boundary inside the stream at `(start, end)`, near its middle.
fn mid((s, e): (usize, usize)) -> usize {
    let cut = (s + e) / 2 / 512 * 512;
    let cut = if cut <= s { cut + 512 } else { cut };
    assert!(s < cut && cut < e, "{s}..{e}");
    cut
}

/// Twelve pages of Ghostscript text and a photo (ImageMagick's JPEG through
/// Ghostscript's viewjpeg): Flate and DCT streams, `/Length` given as an
/// object written after its stream.
fn ghostscript_pdf(p: &std::path::Path) -> Vec<u8> {
    let mut ps = String::from("%!PS\n/Helvetica findfont 7 scalefont setfont\n");
    let words = [
        "meet", "at", "the", "harbour", "tonight", "bring", "cash", "ledger",
    ];
    let mut k = 0usize;
    for _ in 0..12 {
        for line in 0..90 {
            let text: Vec<&str> = (0..14)
                .map(|_| {
                    k = (k * 7 + 3) % 101;
                    words[k % 8]
                })
                .collect();
            ps.push_str(&format!(
                "30 {} moveto ({}) show\n",
                800 - 8 * line,
                text.join(" ")
            ));
        }
        ps.push_str("showpage\n");
    }
    std::fs::write(p.join("a.ps"), ps).unwrap();
    made(
        p,
        "convert -size 400x300 -seed 4 plasma:fractal -quality 85 a.jpg && \
         gs -q -dNOPAUSE -dBATCH -dNOSAFER -sDEVICE=pdfwrite -sOutputFile=a.pdf a.ps \
            $(ls /usr/share/ghostscript/*/lib/viewjpeg.ps | head -1) -c '(a.jpg) viewJPEG showpage'",
        "a.pdf",
    )
}

/// A PDF cut short (the rest overwritten): partial up to the end of its last
/// whole object, whether the cut falls in a Flate stream, in the photo or
/// right after an object, and not past another PDF's header laid after it.
#[test]
fn a_pdf_cut_short_is_partial_up_to_its_last_whole_object() {
    if !tools(&["gs", "convert"]) {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    let pdf = ghostscript_pdf(p);
    let mid = |(s, e): (usize, usize)| (s + e) / 2;
    let objs: Vec<usize> = (0..pdf.len())
        .filter(|&i| pdf[i..].starts_with(b"endobj"))
        .map(|i| i + 6)
        .collect();
    let last_before = |cut: usize| objs.iter().copied().filter(|&e| e <= cut).max().unwrap();
    let after_third = objs[2] + 1;
    // The second Flate stream of the file (Ghostscript's first is its first
    // object: a cut there leaves nothing).
    let first = find(&pdf, b"FlateDecode").unwrap() + 11;
    let flate = find(&pdf[first..], b"FlateDecode").unwrap() + first;
    let data = find(&pdf[flate..], b"stream\n").unwrap() + flate + 7;
    let data_end = find(&pdf[data..], b"endstream").unwrap() + data;
    for (case, cut) in [
        ("flate", mid((data, data_end))),
        ("jpeg", mid(longest_stream(&pdf, "DCTDecode"))),
        ("after-an-object", after_third),
    ] {
        let want = last_before(cut);
        let dir = p.join(format!("short-{case}"));
        std::fs::create_dir(&dir).unwrap();
        // Another PDF laid right after the cut (its header ends the walk).
        let mut short = pdf[..cut].to_vec();
        if case == "after-an-object" {
            short.extend_from_slice(&pdf);
        }
        let arts = carve_laid(&dir, 4 << 20, 99, &[(0x20000, &short)], 3);
        let a = carved_at(&arts, 0x20000, "pdf").unwrap_or_else(|| panic!("{case}: {arts:#?}"));
        assert_eq!(a["status"], "partial", "{case}: {a}");
        assert_eq!(
            a["size"].as_u64(),
            Some(want as u64),
            "{case}: cut at {cut}: {a}"
        );
        assert_eq!(a["sha256"], sha256(&pdf[..want]), "{case}");
    }
}

/// PDFs cut once, in a FlateDecode stream (its Adler-32 places the cut), in
/// the JPEG of a photo (its decoding places it), and in the cross-reference
/// table: as Ghostscript writes them, with object streams and an xref stream
/// (qpdf), and linearized (qpdf: `startxref` names the first-page section, the
/// main one is at the end). A sector overwritten in place is partial.
#[test]
fn a_pdf_in_two_fragments_comes_back_whole() {
    if !tools(&["gs", "qpdf", "convert"]) {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    let pdf = ghostscript_pdf(p);
    let os = made(p, "qpdf --object-streams=generate a.pdf os.pdf", "os.pdf");
    let lin = made(p, "qpdf --linearize a.pdf lin.pdf", "lin.pdf");
    let x = find(&pdf, b"\nxref\n").unwrap() + 1;
    let t = find(&pdf[x..], b"trailer").unwrap() + x;
    let in_table = (x / 512 + 1) * 512;
    assert!(in_table + 40 < t, "table {x}..{t}");
    comes_back(
        p,
        &pdf,
        "pdf",
        &[
            (
                "flate",
                vec![mid(longest_stream(&pdf, "FlateDecode"))],
                vec![23 * 512],
            ),
            (
                "jpeg",
                vec![mid(longest_stream(&pdf, "DCTDecode"))],
                vec![140 * 512],
            ),
            ("xref-table", vec![in_table], vec![9 * 512]),
        ],
    );
    comes_back(
        p,
        &os,
        "pdf",
        &[(
            "object-streams",
            vec![mid(longest_stream(&os, "FlateDecode"))],
            vec![77 * 512],
        )],
    );
    comes_back(
        p,
        &lin,
        "pdf",
        &[(
            "linearized",
            vec![mid(longest_stream(&lin, "FlateDecode"))],
            vec![31 * 512],
        )],
    );
    // A sector of the photo overwritten where it lies: no gap explains it.
    let at = mid(longest_stream(&pdf, "DCTDecode"));
    let mut damaged = pdf.clone();
    damaged[at..at + 512].copy_from_slice(&noise(512, 8));
    let dir = p.join("damaged");
    std::fs::create_dir(&dir).unwrap();
    let arts = carve_laid(&dir, 4 << 20, 99, &[(0x20000, &damaged)], 3);
    let a = carved_at(&arts, 0x20000, "pdf").unwrap_or_else(|| panic!("{arts:#?}"));
    assert_eq!(a["status"], "partial", "{a}");
    assert!(a["size"].as_u64().unwrap() <= at as u64, "{a}");
}

/// PDFs cut twice: the objects between the cuts are at neither the place
/// their offsets give nor the whole gap further, but one shorter gap further;
/// each cut is then placed as the one cut of two fragments is (a Flate
/// stream's Adler-32, the photo's decoding, an object header right after).
/// As Ghostscript writes them and with object streams (qpdf).
#[test]
fn a_pdf_in_three_fragments_comes_back_whole() {
    if !tools(&["gs", "qpdf", "convert"]) {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    let pdf = ghostscript_pdf(p);
    let os = made(p, "qpdf --object-streams=generate a.pdf os.pdf", "os.pdf");
    let (f1, j2) = (
        mid(longest_stream(&pdf, "FlateDecode")),
        mid(longest_stream(&pdf, "DCTDecode")),
    );
    assert!(f1 + 512 < j2, "{f1} {j2}");
    let (a, b) = (f1, j2);
    // With object streams: in an object stream's Flate data, then in the
    // photo.
    let (o1, o2) = (
        mid(longest_stream(&os, "FlateDecode")),
        mid(longest_stream(&os, "DCTDecode")),
    );
    assert!(o1 + 512 < o2, "{o1} {o2}");
    comes_back(
        p,
        &pdf,
        "pdf",
        &[("flate-and-jpeg", vec![a, b], vec![37 * 512, 11 * 512])],
    );
    comes_back(
        p,
        &os,
        "pdf",
        &[(
            "object-streams-twice",
            vec![o1, o2],
            vec![5 * 512, 91 * 512],
        )],
    );
}

/// A PDF of `n` small objects, the first padded by `pad` bytes, and the
/// offset of its cross-reference table's first row.
fn small_objects_pdf(n: usize, pad: usize) -> (Vec<u8>, usize) {
    let mut f = b"%PDF-1.4\n".to_vec();
    let mut offs = Vec::new();
    for k in 1..=n {
        offs.push(f.len());
        let fill = if k == 1 {
            "x".repeat(pad)
        } else {
            String::new()
        };
        let body = if k == 1 {
            format!("<< /Type /Catalog /Pages 2 0 R /Pad ({fill}) >>")
        } else if k == 2 {
            format!("<< /Type /Pages /Kids [] /Count 0 /Note (object {k}) >>")
        } else {
            format!("<< /Note (object {k} of the ledger, kept for the record) >>")
        };
        f.extend_from_slice(format!("{k} 0 obj\n{body}\nendobj\n").as_bytes());
    }
    let x = f.len();
    f.extend_from_slice(format!("xref\n0 {}\n0000000000 65535 f \n", n + 1).as_bytes());
    let rows = f.len() - 20;
    for o in offs {
        f.extend_from_slice(format!("{o:010} 00000 n \n").as_bytes());
    }
    f.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{x}\n%%EOF\n",
            n + 1
        )
        .as_bytes(),
    );
    (f, rows)
}

/// A PDF in three pieces with zeros between them, its second cut inside the
/// cross-reference table. PDF counts NUL as white space, and the table was
/// read as if the zeros were spaces between its rows: the file came back
/// "complete" in two pieces with the second gap's zeros inside it. A table's
/// rows now allow only spaces and line ends between them, so the file is
/// either its own bytes or not complete.
#[test]
fn zeros_inside_a_cross_reference_table_are_a_gap_not_white_space() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    // The second cut on a sector boundary at the space before a row's kind
    // (byte 16 of its 20): the rows read on across the zeros as if nothing
    // were cut, the trap the bug fell into.
    let (pdf, cut2) = (0..20)
        .find_map(|pad| {
            let (f, rows) = small_objects_pdf(160, pad);
            let b = (rows / 512 + 2) * 512;
            ((b - rows) % 20 == 16).then_some((f, b))
        })
        .unwrap();
    let (cuts, gaps) = (vec![7 * 512, cut2], vec![126 * 512, 60 * 512]);
    let (mut img, pieces) = lay(4 << 20, 0x20000, &pdf, &cuts, &gaps);
    for w in pieces.windows(2) {
        let (end, next) = ((w[0].0 + w[0].1) as usize, w[1].0 as usize);
        img[end..next].fill(0);
    }
    std::fs::write(p.join("img.raw"), &img).unwrap();
    // A partial carve ends the session with exit code 3.
    let o = one_shot("carve", &p.join("img.raw"), None, &p.join("case"), &[]);
    assert!(matches!(o.status.code(), Some(0 | 3)), "{}", stderr(&o));
    let arts = ls_json(&p.join("case"));
    let a = carved_at(&arts, 0x20000, "pdf").unwrap_or_else(|| panic!("{arts:#?}"));
    assert!(
        a["status"] != "complete" || a["sha256"] == sha256(&pdf),
        "a layout with the zeros inside called complete: {a}"
    );
}
