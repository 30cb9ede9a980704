//! Code, fonts, archives and application files carved to their structural end
//! (issue 14: code; archives; apps): Java classes compiled by javac, TrueType
//! fonts (DejaVu, and one cut down by fontTools), static libraries by `ar` and a
//! Debian package by dpkg-deb, RAR 4 and RAR 5 archives written by RAR
//! (libarchive's test data, `testimages/carving/SOURCES.md`), cpio archives in
//! its three portable forms, a torrent by mktorrent and SQLite rollback
//! journals copied out of a live transaction, laid into random bytes: each
//! comes back whole and bit-exact. A class whose constant pool is damaged, a
//! font with a changed glyph byte, a RAR 5 archive with a damaged block header
//! and a checksummed cpio with a changed data byte come back partial, each
//! before its damage.

mod common;

use common::*;
use std::path::Path;

fn repo(rel: &str) -> Vec<u8> {
    std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)).unwrap()
}

#[test]
fn classes_fonts_and_ar_archives_come_back_whole_and_damaged_ones_partial() {
    if !tools(&["javac", "ar", "dpkg-deb", "pyftsubset"]) {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    std::fs::write(
        p.join("Notes.java"),
        "import java.util.*;\npublic class Notes implements Comparable<Notes> {\n  private final String body; private static long count = 1L << 40; double w = 2.5;\n  public Notes(String b) { body = b; }\n  public int compareTo(Notes o) { return body.compareTo(o.body); }\n  public static void main(String[] a) { List<Notes> l = new ArrayList<>(); l.add(new Notes(\"evidence\")); Collections.sort(l); Runnable r = () -> System.out.println(l.size() + count); r.run(); }\n}\n",
    )
    .unwrap();
    let class = made(p, "javac -d . Notes.java", "Notes.class");
    let inner: Vec<u8> = std::fs::read_dir(p)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|f| {
            f.extension().is_some_and(|x| x == "class") && f.file_name().unwrap() != "Notes.class"
        })
        .map(|f| std::fs::read(f).unwrap())
        .unwrap_or_else(|| class.clone());
    // The constant pool's 20th entry given a tag no pool has.
    let mut bad_class = class.clone();
    let mut at = 10usize;
    for _ in 1..20 {
        at += match bad_class[at] {
            1 => 3 + usize::from(u16::from_be_bytes([bad_class[at + 1], bad_class[at + 2]])),
            7 | 8 | 16 | 19 | 20 => 3,
            15 => 4,
            5 | 6 => 9,
            _ => 5,
        };
    }
    bad_class[at] = 0x7E;
    let ttf = std::fs::read("/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf").unwrap();
    let small = made(
        p,
        "pyftsubset /usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf --text=evidence --output-file=s.ttf 2>/dev/null",
        "s.ttf",
    );
    // A byte of the glyphs ('glyf') changed: partial where that table begins.
    let n = usize::from(u16::from_be_bytes([ttf[4], ttf[5]]));
    let glyf = (0..n)
        .map(|i| 12 + 16 * i)
        .find(|&r| &ttf[r..r + 4] == b"glyf")
        .unwrap();
    let glyf_at = u32::from_be_bytes(ttf[glyf + 8..glyf + 12].try_into().unwrap()) as usize;
    let mut bad_ttf = ttf.clone();
    bad_ttf[glyf_at + 1000] ^= 0x10;
    std::fs::write(
        p.join("a.txt"),
        "evidence is read, never written\n".repeat(40),
    )
    .unwrap();
    std::fs::write(p.join("b.bin"), noise(3001, 4)).unwrap();
    let lib = made(p, "ar rcD lib.a a.txt b.bin Notes.class", "lib.a");
    std::fs::create_dir_all(p.join("pkg/DEBIAN")).unwrap();
    std::fs::create_dir_all(p.join("pkg/usr/share/doc/notes")).unwrap();
    std::fs::write(
        p.join("pkg/DEBIAN/control"),
        "Package: notes\nVersion: 1.0\nArchitecture: all\nMaintainer: dredge <dredge@example.org>\nDescription: notes\n",
    )
    .unwrap();
    std::fs::copy(p.join("b.bin"), p.join("pkg/usr/share/doc/notes/b.bin")).unwrap();
    let deb = made(
        p,
        "dpkg-deb --root-owner-group -Zxz --build pkg notes.deb >/dev/null",
        "notes.deb",
    );
    let place: [(usize, &[u8]); 9] = [
        (0x10000, &class),
        (0x20000, &inner),
        (0x30000, &bad_class),
        (0x100000, &ttf),
        (0x200000, &small),
        (0x300000, &bad_ttf),
        (0x400000, &lib),
        (0x410000, &deb),
        (0x420000, &small),
    ];
    let arts = carve_laid(p, 5 << 20, 71, &place, 3);
    expect_carved(
        &arts,
        0x10000,
        "java-class",
        "class",
        Want::Unverified(&class),
    );
    expect_carved(
        &arts,
        0x20000,
        "java-class",
        "class",
        Want::Unverified(&inner),
    );
    expect_carved(
        &arts,
        0x30000,
        "java-class",
        "class",
        Want::Partial(Some(at as u64)),
    );
    expect_carved(&arts, 0x100000, "font", "ttf", Want::Complete(&ttf));
    expect_carved(&arts, 0x200000, "font", "ttf", Want::Complete(&small));
    expect_carved(
        &arts,
        0x300000,
        "font",
        "ttf",
        Want::Partial(Some(glyf_at as u64)),
    );
    expect_carved(&arts, 0x400000, "ar", "a", Want::Unverified(&lib));
    expect_carved(&arts, 0x410000, "ar", "deb", Want::Unverified(&deb));
    // The class inside the library is the library's.
    assert!(
        !arts.iter().any(|a| a["forensic_path"]
            .as_str()
            .unwrap_or("")
            .contains("/java-class")
            && a["path"].as_str().unwrap_or("").contains("0000004")),
        "a member of the library carved on its own"
    );
}

#[test]
fn rar_cpio_torrents_and_journals_come_back_whole_and_damaged_ones_partial() {
    if !tools(&["cpio", "mktorrent", "python3"]) {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    let names = [
        "rar",
        "rar_compress_best",
        "rar_unicode",
        "rar_windows",
        "rar_noeof",
        "rar5_compressed",
        "rar5_multiple_files",
        "rar5_unicode",
        "rar5_solid",
        "rar5_stored",
    ];
    let rars: Vec<Vec<u8>> = names
        .iter()
        .map(|n| repo(&format!("testimages/carving/rar/{n}.rar")))
        .collect();
    // RAR 5: the third block header's CRC no longer matches.
    let mut bad_rar5 = rars[6].clone();
    let mut at = 8usize;
    for _ in 0..2 {
        let (mut size, mut k, mut shift) = (0usize, at + 4, 0);
        loop {
            size |= usize::from(bad_rar5[k] & 0x7F) << shift;
            shift += 7;
            k += 1;
            if bad_rar5[k - 1] & 0x80 == 0 {
                break;
            }
        }
        // The data area, when the header has one (flags bit 2).
        let mut j = k;
        let mut vint = |b: &[u8]| {
            let (mut v, mut s) = (0usize, 0);
            loop {
                v |= usize::from(b[j] & 0x7F) << s;
                s += 7;
                j += 1;
                if b[j - 1] & 0x80 == 0 {
                    return v;
                }
            }
        };
        let _kind = vint(&bad_rar5);
        let flags = vint(&bad_rar5);
        if flags & 1 != 0 {
            vint(&bad_rar5);
        }
        let data = if flags & 2 != 0 { vint(&bad_rar5) } else { 0 };
        at = k + size + data;
    }
    bad_rar5[at + 6] ^= 0x40;
    std::fs::create_dir(p.join("t")).unwrap();
    std::fs::write(
        p.join("t/notes.txt"),
        "evidence is read, never written\n".repeat(50),
    )
    .unwrap();
    std::fs::write(p.join("t/b.bin"), noise(5000, 9)).unwrap();
    let newc = made(
        p,
        "cd t && printf 'notes.txt\\nb.bin\\n' | cpio --quiet -o -H newc > ../a.cpio",
        "a.cpio",
    );
    let crc = made(
        p,
        "cd t && printf 'notes.txt\\nb.bin\\n' | cpio --quiet -o -H crc > ../b.cpio",
        "b.cpio",
    );
    let odc = made(
        p,
        "cd t && printf 'notes.txt\\nb.bin\\n' | cpio --quiet -o -H odc > ../c.cpio",
        "c.cpio",
    );
    // A data byte of the second member changed: its checksum fails.
    let second = crc
        .windows(6)
        .enumerate()
        .skip(1)
        .find(|(_, w)| w == b"070702")
        .unwrap()
        .0;
    let mut bad_crc = crc.clone();
    bad_crc[second + 200] ^= 1;
    let torrent = made(
        p,
        "mktorrent -a http://tracker.example/announce -c evidence -o t.torrent t >/dev/null",
        "t.torrent",
    );
    let py = r#"
import shutil, sqlite3
c = sqlite3.connect("j.db", isolation_level=None)
c.execute("PRAGMA page_size=1024")
c.execute("CREATE TABLE notes(id INTEGER PRIMARY KEY, body TEXT)")
for i in range(200):
    c.execute("INSERT INTO notes(body) VALUES (?)", ("note %d " % i * 20,))
c.execute("PRAGMA cache_size=2")
c.execute("BEGIN")
c.execute("UPDATE notes SET body = 'changed' WHERE id <= 60")
shutil.copyfile("j.db-journal", "hot.journal")
c.execute("ROLLBACK")
"#;
    std::fs::write(p.join("j.py"), py).unwrap();
    let journal = made(p, "python3 j.py", "hot.journal");
    let mut place: Vec<(usize, &[u8])> = rars
        .iter()
        .enumerate()
        .map(|(i, r)| (0x10000 * (i + 1), r.as_slice()))
        .collect();
    place.extend([
        (0x100000, bad_rar5.as_slice()),
        (0x200000, &newc),
        (0x210000, &crc),
        (0x220000, &odc),
        (0x230000, &bad_crc),
        (0x300000, &torrent),
        (0x400000, &journal),
    ]);
    let arts = carve_laid(p, 5 << 20, 73, &place, 3);
    for (i, r) in rars.iter().enumerate() {
        expect_carved(
            &arts,
            0x10000 * (i as u64 + 1),
            "rar",
            "rar",
            Want::Unverified(r),
        );
    }
    expect_carved(
        &arts,
        0x100000,
        "rar",
        "rar",
        Want::Partial(Some(at as u64)),
    );
    expect_carved(&arts, 0x200000, "cpio", "cpio", Want::Unverified(&newc));
    expect_carved(&arts, 0x210000, "cpio", "cpio", Want::Complete(&crc));
    expect_carved(&arts, 0x220000, "cpio", "cpio", Want::Unverified(&odc));
    expect_carved(
        &arts,
        0x230000,
        "cpio",
        "cpio",
        Want::Partial(Some(second as u64)),
    );
    expect_carved(
        &arts,
        0x300000,
        "torrent",
        "torrent",
        Want::Unverified(&torrent),
    );
    expect_carved(
        &arts,
        0x400000,
        "sqlite-journal",
        "db-journal",
        Want::Unverified(&journal),
    );
}

/// A LEB128 at `at`: its value and length.
fn leb(m: &[u8], at: usize) -> (usize, usize) {
    let (mut v, mut k) = (0usize, 0);
    loop {
        v |= usize::from(m[at + k] & 0x7F) << (7 * k);
        k += 1;
        if m[at + k - 1] & 0x80 == 0 {
            return (v, k);
        }
    }
}

/// The offset of the first section with `id` of a WebAssembly module, and
/// where its body starts.
fn wasm_section(m: &[u8], id: u8) -> (usize, usize) {
    let mut at = 8;
    loop {
        let (size, k) = leb(m, at + 1);
        if m[at] == id {
            return (at, at + 1 + k);
        }
        at += 1 + k + size;
    }
}

#[test]
fn webassembly_modules_come_back_whole_and_damaged_code_partial() {
    if !tools(&["wat2wasm"]) {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    // Imports, memory, a global, data, exports, a start function and
    // several bodies; once with a name section (wat2wasm --debug-names).
    std::fs::write(
        p.join("m.wat"),
        r#"(module
  (type $t (func (param i32 i32) (result i32)))
  (import "env" "log" (func $log (param i32)))
  (memory (export "mem") 1)
  (global $g (mut i64) (i64.const 1099511627776))
  (data (i32.const 16) "evidence is read, never written")
  (func $add (export "add") (type $t) (i32.add (local.get 0) (local.get 1)))
  (func $fib (export "fib") (param $n i32) (result i32)
    (if (result i32) (i32.lt_s (local.get $n) (i32.const 2))
      (then (local.get $n))
      (else (i32.add (call $fib (i32.sub (local.get $n) (i32.const 1)))
                     (call $fib (i32.sub (local.get $n) (i32.const 2)))))))
  (func (export "f") (param f64) (result f64) (f64.mul (local.get 0) (f64.const 2.5)))
  (start 4)
  (func (call $log (i32.const 7))))"#,
    )
    .unwrap();
    let named = made(p, "wat2wasm --debug-names m.wat -o n.wasm", "n.wasm");
    let plain = made(p, "wat2wasm m.wat -o p.wasm", "p.wasm");
    // The first function body's closing `end` changed.
    let mut bad = plain.clone();
    let (code, body) = wasm_section(&bad, 10);
    let (_, k) = leb(&bad, body); // the body count
    let (size, n) = leb(&bad, body + k);
    let body_end = body + k + n + size - 1;
    assert_eq!(bad[body_end], 0x0B);
    bad[body_end] = 0x01;
    // A module followed by zeros ends at its last section.
    let mut then_zeros = named.clone();
    then_zeros.extend_from_slice(&[0u8; 4096]);
    let place: [(usize, &[u8]); 3] = [(0x10000, &then_zeros), (0x20000, &plain), (0x30000, &bad)];
    let arts = carve_laid(p, 1 << 20, 73, &place, 3);
    expect_carved(&arts, 0x10000, "wasm", "wasm", Want::Unverified(&named));
    expect_carved(&arts, 0x20000, "wasm", "wasm", Want::Unverified(&plain));
    expect_carved(
        &arts,
        0x30000,
        "wasm",
        "wasm",
        Want::Partial(Some(code as u64)),
    );
}

#[test]
fn ds_store_files_come_back_whole_and_a_damaged_tree_partial() {
    if !tools(&["python3"]) {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    // Written by the ds_store library (PyPI ds-store, what dmgbuild uses to
    // write the Finder's files): one leaf, and a tree of several nodes.
    let script = r#"
import sys
from ds_store import DSStore
with DSStore.open(sys.argv[1] + '/small.DS_Store', 'w+') as d:
    d['evidence.txt']['Iloc'] = (104, 116)
    d['.']['vSrn'] = ('long', 1)
with DSStore.open(sys.argv[1] + '/big.DS_Store', 'w+') as d:
    d['photo.jpg']['Iloc'] = (204, 116)
    d['.']['icvp'] = {'gridSpacing': 54.0, 'textSize': 12.0, 'arrangeBy': 'none'}
    for i in range(300):
        d[f'ledger {i:04d}.xlsx']['Iloc'] = (i, 2 * i)
"#;
    let o = std::process::Command::new("python3")
        .args(["-c", script])
        .arg(p)
        .output()
        .unwrap();
    if !o.status.success() {
        skip(&format!("python3 ds_store (PyPI ds-store): {}", stderr(&o)));
        return;
    }
    let small = std::fs::read(p.join("small.DS_Store")).unwrap();
    let big = std::fs::read(p.join("big.DS_Store")).unwrap();
    // A record's type (the last blob) made unknown.
    let mut bad = big.clone();
    let at = bad
        .windows(4)
        .rposition(|w| w == b"blob")
        .expect("a blob record");
    bad[at..at + 4].copy_from_slice(b"xxxx");
    let place: [(usize, &[u8]); 3] = [(0x10000, &small), (0x20000, &big), (0x40000, &bad)];
    let arts = carve_laid(p, 1 << 20, 79, &place, 3);
    expect_carved(
        &arts,
        0x10000,
        "ds-store",
        "DS_Store",
        Want::Complete(&small),
    );
    expect_carved(&arts, 0x20000, "ds-store", "DS_Store", Want::Complete(&big));
    expect_carved(
        &arts,
        0x40000,
        "ds-store",
        "DS_Store",
        Want::Partial(Some(bad.len() as u64)),
    );
}
