//! Plain text carved from sector starts (issue 14: PhotoRec returns text files;
//! dredge returned none). Text files of several kinds lie at sector
//! boundaries of an image of random bytes (prose, UTF-8, HTML, mail, a
//! contact card, UTF-16 with its byte-order mark, Shift_JIS and EUC-JP by iconv), each followed by its last sector's
//! zero slack: every one comes back bit-exact, marked unverified (nothing in
//! text can be checked), and random bytes give no text, for any thread count
//! and page size.

mod common;

use common::*;
use serde_json::Value;

#[test]
fn text_files_at_sector_starts_come_back_whole_and_noise_gives_none() {
    if !tools(&["tar", "iconv"]) {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let mut img = noise(6 << 20, 77);
    let ascii: Vec<u8> = (0..3000)
        .map(|i| b"The quick brown fox jumps over the lazy dog.\n"[i % 45])
        .collect();
    let utf8 = "Grüße aus Köln – Привет, мир! Ελληνικά. 日本語のテキスト。\r\n"
        .repeat(30)
        .into_bytes();
    let html = b"<!DOCTYPE html>\n<html><head><title>t</title></head><body><p>evidence</p></body></html>\n"
        .repeat(9);
    // Over 64 KiB, with a two-byte character across each 64 KiB of the file
    // (the carver reads it in chunks).
    let mut long = b"x".to_vec();
    long.extend("ä".repeat(70_000).into_bytes());
    long.extend(b"\nend\n");
    let eml = b"Return-Path: <alice@example.org>\r\nReceived: from mail.example.org\r\n\tby mx.example.net\r\nFrom: Alice <alice@example.org>\r\nTo: bob@example.net\r\nSubject: meeting\r\nMIME-Version: 1.0\r\n\r\nSee you at 10.\r\n".to_vec();
    let vcf = b"BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Alice Example\r\nTEL;TYPE=CELL:+31 6 1234 5678\r\nEND:VCARD\r\n".to_vec();
    // UTF-16 with its byte-order mark, little- and big-endian, with a
    // character outside the Basic Multilingual Plane (a surrogate pair).
    let words = "Notepad saved this as Unicode: Grüße, Привет, 😀 end.\r\n".repeat(40);
    let mut u16le = vec![0xFF, 0xFE];
    u16le.extend(words.encode_utf16().flat_map(u16::to_le_bytes));
    let mut u16be = vec![0xFE, 0xFF];
    u16be.extend(words.encode_utf16().flat_map(u16::to_be_bytes));
    // Japanese text in Shift_JIS, as iconv writes it (not UTF-8: its
    // double-byte characters end a UTF-8 run at once).
    let ja = d.path().join("ja.txt");
    std::fs::write(
        &ja,
        "証拠品の記録：ディスクの画像を作成しました。\r\nハッシュ値を確認してください。 ABC-123\r\n"
            .repeat(25),
    )
    .unwrap();
    assert!(sh(&format!(
        "iconv -f UTF-8 -t SHIFT_JIS {} > {}.sjis",
        ja.display(),
        ja.display()
    )));
    let sjis = std::fs::read(ja.with_extension("txt.sjis")).unwrap();
    assert!(std::str::from_utf8(&sjis).is_err());
    // The same in EUC-JP (Unix mail and web pages).
    assert!(sh(&format!(
        "iconv -f UTF-8 -t EUC-JP {} > {}.euc",
        ja.display(),
        ja.display()
    )));
    let euc = std::fs::read(ja.with_extension("txt.euc")).unwrap();
    assert!(std::str::from_utf8(&euc).is_err() && euc != sjis);
    let files: Vec<(u64, &[u8], &str)> = vec![
        (0x120000, &sjis, ".txt"),
        (0x130000, &euc, ".txt"),
        (0x10000, &ascii, ".txt"),
        (0x20200, &utf8, ".txt"),
        (0x40000, &html, ".html"),
        (0x80000, &long, ".txt"),
        (0xC0000, &eml, ".eml"),
        (0xD0000, &vcf, ".vcf"),
        (0xE0000, &u16le, ".txt"),
        (0xF0000, &u16be, ".txt"),
    ];
    for (at, f, _) in &files {
        let at = *at as usize;
        img[at..at + f.len()].copy_from_slice(f);
        // The rest of its last sector is slack (zeros); the sector before
        // its first one is the random bytes around it.
        let end = (at + f.len()).next_multiple_of(512);
        img[at + f.len()..end].fill(0);
    }
    // A sector that begins with zeros then text does not start a text
    // (PhotoRec too looks at block starts only).
    img[0x100000..0x100000 + 512].fill(0);
    img[0x100000 + 10..0x100000 + 500].fill(b'z');
    // A TAR made by tar and cut inside its second member: a partial TAR,
    // and the text of its first member (at a sector start after its
    // header) is that archive's, not a text file as well.
    let src = d.path().join("notes.txt");
    std::fs::write(&src, "meeting notes, kept in an archive\n".repeat(40)).unwrap();
    std::fs::write(d.path().join("more.bin"), noise(3000, 8)).unwrap();
    assert!(sh(&format!(
        "cd {} && tar --format=gnu -cf notes.tar notes.txt more.bin",
        d.path().display()
    )));
    let tar = std::fs::read(d.path().join("notes.tar")).unwrap();
    let cut = &tar[..tar.len() / 2 + 600];
    img[0x110000..0x110000 + cut.len()].copy_from_slice(cut);
    let p = d.path().join("img.raw");
    std::fs::write(&p, &img).unwrap();
    let texts = |arts: &[Value]| -> Vec<Value> {
        arts.iter()
            .filter(|a| {
                let p = a["forensic_path"].as_str().unwrap();
                p.contains("/text") || p.contains("/utf16-text")
            })
            .cloned()
            .collect()
    };
    let arts = one_shot_ls(
        "carve",
        &p,
        None,
        &d.path().join("c1"),
        3,
        &["--threads", "1", "--page-size", "1048576"],
    );
    let got = texts(&arts);
    assert_eq!(got.len(), files.len(), "{got:#?}");
    for (at, f, ext) in &files {
        let a = carved_at(&got, *at, "")
            .unwrap_or_else(|| panic!("text at {at:#x} not carved: {got:#?}"));
        assert_eq!(a["sha256"], sha256(f), "text at {at:#x}");
        assert_eq!(a["recovery"], "carved-unverified-contiguous");
        assert!(a["path"].as_str().unwrap().ends_with(ext), "{a}");
    }
    let tars: Vec<&Value> = arts
        .iter()
        .filter(|a| a["forensic_path"].as_str().unwrap().contains("@0x110000/"))
        .collect();
    assert_eq!(tars.len(), 1, "{tars:#?}");
    assert_eq!(tars[0]["status"], "partial", "{tars:#?}");
    let again = one_shot_ls(
        "carve",
        &p,
        None,
        &d.path().join("c2"),
        3,
        &["--threads", "2", "--page-size", "16777216"],
    );
    assert_eq!(texts(&again), got, "the same for any threads and page size");
}

/// Text files followed not by zero slack but by noise (what lies past a file
/// whose last sector was not cleared, or a file cut short): random bytes are
/// printable three times in eight, and high bytes pass Shift_JIS's rules, so
/// the run went on a few bytes past the file's end and no copy was exact.
/// The run's last line is now cut before a byte the text never used, and one
/// or two letters or digits after the last line break are left out; an ASCII
/// file is read as ASCII even when the noise after it is longer as Shift_JIS.
#[test]
fn noise_right_after_a_text_file_is_not_the_files() {
    let d = tempfile::tempdir().unwrap();
    let mut img = noise(2 << 20, 5);
    let csv: String = (0..900)
        .map(|i| format!("{i},payment,{}\n", i * 37 % 1000))
        .collect();
    let prose = "the vessel left the harbour before the customs meeting\n".repeat(200);
    let json = format!(
        "{{\n{}  \"last\": 0\n}}",
        "  \"account\": 28727,\n".repeat(60)
    );
    let cases: [(&str, &[u8]); 5] = [
        (&csv, b"\r cU2\xea\x8bi"),
        (&prose, b"A\x9e\xed\x9dHA\x01"),
        (&prose, b"u\x00"),
        (&csv, b"g7\x02"),
        (&json, b"\x05"),
    ];
    let mut at = 0x10000;
    let mut want = Vec::new();
    for (text, after) in cases {
        img[at..at + text.len()].copy_from_slice(text.as_bytes());
        img[at + text.len()..at + text.len() + after.len()].copy_from_slice(after);
        want.push((at as u64, text.as_bytes()));
        at = (at + text.len() + 4096).next_multiple_of(4096);
        // The sector before the next file must not end in text.
        img[at - 1] = 0;
    }
    let arts = carve_image(d.path(), &img, 0);
    for (off, text) in want {
        expect_carved(&arts, off, "text", "txt", Want::Unverified(text));
    }
}

/// Text cut mid-line at a sector boundary, noise after it (a file in two
/// pieces, or cut short): the run stops within a few bytes of the boundary.
/// It was called whole; it is partial now, ending at the boundary. A file
/// that ends on a sector boundary after a line break, or a few bytes past
/// one in a line break, stays whole.
#[test]
fn text_cut_mid_line_at_a_sector_boundary_is_partial() {
    let d = tempfile::tempdir().unwrap();
    let mut img = noise(2 << 20, 6);
    let csv: String = (0..900)
        .map(|i| format!("{i},transfer,{}\n", i * 53 % 1000))
        .collect();
    // A cut in the middle of a line, on a sector boundary.
    let cut = (0..)
        .map(|k| 512 * (12 + k))
        .find(|&c| csv.as_bytes()[c - 1] != b'\n')
        .unwrap();
    let at = 0x10000;
    img[at..at + cut].copy_from_slice(&csv.as_bytes()[..cut]);
    // Exactly 8 sectors of lines, ending in a line break.
    let lines = "the ledger was signed at the harbour office, line\n";
    let mut whole = lines.repeat(4096 / lines.len() + 1).into_bytes();
    whole.truncate(4095);
    whole.push(b'\n');
    let at2 = 0x40000;
    img[at2..at2 + whole.len()].copy_from_slice(&whole);
    img[at2 - 1] = 0;
    // A file ending 7 bytes past a sector boundary, in a line break.
    let mut short = lines.repeat(4096 / lines.len() + 1).into_bytes();
    short.truncate(4096 + 6);
    short.push(b'\n');
    let at3 = 0x50000;
    img[at3..at3 + short.len()].copy_from_slice(&short);
    img[at3 - 1] = 0;
    let arts = carve_image(d.path(), &img, 3);
    expect_carved(&arts, at3 as u64, "text", "txt", Want::Unverified(&short));
    let a = carved_at(&arts, at as u64, "text").unwrap_or_else(|| panic!("{arts:#?}"));
    assert_eq!(a["status"], "partial", "{a}");
    assert_eq!(a["size"], cut as u64, "{a}");
    assert_eq!(a["sha256"], sha256(&csv.as_bytes()[..cut]));
    expect_carved(&arts, at2 as u64, "text", "txt", Want::Unverified(&whole));
}

/// A text file in two pieces with noise between (issue 14): its first piece
/// is cut mid-line at a sector boundary, and its second starts mid-line. The
/// second was carved as a file of its own, the first as partial; the two are
/// now put together when the line across the seam reads as one of the
/// file's. A cut file followed by another file's start stays partial, and
/// that file stays whole. The texts: a licence as Debian ships it, and
/// tables sqlite3 writes as CSV.
#[test]
fn a_text_file_in_two_pieces_is_put_together_where_its_line_resumes() {
    let licence = std::path::Path::new("/usr/share/common-licenses/GPL-3");
    if !tools(&["sqlite3"]) || !licence.exists() {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let csv = |n: u32, seed: u32| {
        let o = std::process::Command::new("sqlite3")
            .args(["-csv", "-header", ":memory:"])
            .arg(format!(
                "WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < {n}) \
                 SELECT i AS id, printf('acct-%d', (i * {seed}) % 997) AS account, (i * 7919 + {seed}) % 100000 AS amount FROM k;"
            ))
            .output()
            .unwrap();
        assert!(o.status.success());
        o.stdout
    };
    let prose = std::fs::read(licence).unwrap();
    let table = csv(3000, 31);
    let other = csv(400, 57);
    // A cut in the middle of a line (and of a word, for the prose).
    let cut_in = |b: &[u8], from: usize| {
        (from..)
            .map(|k| 512 * k)
            .find(|&c| b[c - 1].is_ascii_alphanumeric() && b[c].is_ascii_alphanumeric())
            .unwrap()
    };
    let mut img = noise(4 << 20, 8);
    let mut place = |at: usize, bytes: &[u8]| {
        img[at..at + bytes.len()].copy_from_slice(bytes);
        // Its last sector's slack.
        let end = (at + bytes.len()).next_multiple_of(512);
        img[at + bytes.len()..end].fill(0);
    };
    // Two files in two pieces: 23 and 61 sectors of noise between.
    let (p_at, p_cut) = (0x10000, cut_in(&prose, 30));
    place(p_at, &prose[..p_cut]);
    place(p_at + p_cut + 23 * 512, &prose[p_cut..]);
    let (t_at, t_cut) = (0x80000, cut_in(&table, 40));
    place(t_at, &table[..t_cut]);
    place(t_at + t_cut + 61 * 512, &table[t_cut..]);
    // A table cut short, another table's start 8 sectors on.
    let (c_at, c_cut) = (0x180000, cut_in(&table, 20));
    place(c_at, &table[..c_cut]);
    let o_at = c_at + c_cut + 8 * 512;
    place(o_at, &other);
    let arts = carve_image(d.path(), &img, 3);
    for (at, whole) in [(p_at, &prose), (t_at, &table)] {
        let a = carved_at(&arts, at as u64, "text").unwrap_or_else(|| panic!("{arts:#?}"));
        assert_eq!(a["sha256"], sha256(whole), "{a}");
        assert!(
            a["recovery_detail"]
                .as_str()
                .is_some_and(|r| r.contains("text resumes")),
            "{a}"
        );
    }
    // Neither second piece is a file of its own.
    for at in [p_at + p_cut + 23 * 512, t_at + t_cut + 61 * 512] {
        assert!(carved_at(&arts, at as u64, "text").is_none(), "{at:#x}");
    }
    let c = carved_at(&arts, c_at as u64, "text").unwrap();
    assert_eq!(
        (c["status"].as_str(), c["size"].as_u64()),
        (Some("partial"), Some(c_cut as u64)),
        "{c}"
    );
    expect_carved(&arts, o_at as u64, "text", "txt", Want::Unverified(&other));
}

/// A text file ends in a line break, and after it come two bytes of noise
/// that pass for text, a space and a letter: they are not the file's; nor
/// are a `^` and a line break the noise spells after an HTML page's end.
#[test]
fn a_space_and_a_letter_after_the_last_line_break_are_noise() {
    let d = tempfile::tempdir().unwrap();
    let mut img = noise(1 << 20, 12);
    let prose = "the vessel left the harbour before the customs meeting\n".repeat(40);
    let at = 0x10000;
    img[at - 1] = 0;
    img[at..at + prose.len()].copy_from_slice(prose.as_bytes());
    img[at + prose.len()..at + prose.len() + 4].copy_from_slice(b" S\xd6\xed");
    // Noise with a line break in it, after an HTML page's end.
    let html = "<p>the ledger was signed</p>\n".repeat(30) + "</body></html>\n";
    let at2 = 0x20000;
    img[at2 - 1] = 0;
    img[at2..at2 + html.len()].copy_from_slice(html.as_bytes());
    img[at2 + html.len()..at2 + html.len() + 5].copy_from_slice(b"^\n X\xa3");
    let arts = carve_image(d.path(), &img, 0);
    expect_carved(
        &arts,
        at as u64,
        "text",
        "txt",
        Want::Unverified(prose.as_bytes()),
    );
    expect_carved(
        &arts,
        at2 as u64,
        "text",
        "txt",
        Want::Unverified(html.as_bytes()),
    );
}
