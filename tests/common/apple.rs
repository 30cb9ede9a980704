//! Apple media fixtures: dfvfs's images unpacked, and files made
//! decmpfs-compressed by `testimages/{apfs,hfs}-compress.py`.

use super::sh;
use std::path::{Path, PathBuf};
use std::process::Command;

/// `testimages/external/dfvfs/<name>.gz` unpacked into `dir`.
pub fn dfvfs(dir: &Path, name: &str) -> PathBuf {
    let gz = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testimages/external/dfvfs")
        .join(format!("{name}.gz"));
    let img = dir.join(name);
    assert!(sh(&format!(
        "gzip -dc {} > {}",
        gz.display(),
        img.display()
    )));
    img
}

/// `YYYY-MM-DDTHH:MM:SS` of seconds since 1970, by `date` (as TSK's body
/// files count them).
pub fn utc_seconds(t: i64) -> String {
    let o = Command::new("date")
        .args(["-u", "-d", &format!("@{t}"), "+%Y-%m-%dT%H:%M:%S"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

/// Whether python3 can import `module` (PyPI modules install-tools adds).
pub fn python_module(module: &str) -> bool {
    Command::new("python3")
        .args(["-c", &format!("import {module}")])
        .status()
        .is_ok_and(|s| s.success())
}

/// Text that zlib shrinks about sevenfold: four 64 KiB chunks and a part.
pub fn compressible() -> Vec<u8> {
    let words = [
        "evidence", "disk", "sector", "court", "exhibit", "hash", "custody",
    ];
    let mut x = 7u64;
    let mut s = String::new();
    for i in 0..3000 {
        s += &format!("{i:06}");
        for _ in 0..12 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            s.push(' ');
            s += words[(x >> 33) as usize % words.len()];
        }
        s.push('\n');
    }
    s.into_bytes()
}

/// `testimages/<fs>-compress.py` on `passwords.txt` of `img`, with
/// `content` stored `mode` (inline or fork) by `method` (zlib, lzfse, or
/// `lzbitmap:STREAM`, a given LZBITMAP stream of `content`):
/// (the image made, its stdout).
pub fn apple_compress(
    fs: &str,
    dir: &Path,
    img: &Path,
    content: &[u8],
    (mode, method): (&str, &str),
) -> (PathBuf, String) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testimages")
        .join(format!("{fs}-compress.py"));
    // `lzbitmap:PATH` names a stream file: only its base in the names here.
    let tag = method
        .rsplit('/')
        .next()
        .unwrap_or(method)
        .replace(':', "-");
    let src = dir.join(format!("{fs}-{mode}-{tag}.content"));
    std::fs::write(&src, content).unwrap();
    let made = dir.join(format!("{fs}-{mode}-{tag}.raw"));
    let o = Command::new("python3")
        .arg(&script)
        .arg(img)
        .arg("passwords.txt")
        .arg(&src)
        .arg(&made)
        .arg(mode)
        .arg(method)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    (made, String::from_utf8_lossy(&o.stdout).into_owned())
}

/// A compressed file read over a bad sector: partial, its gaps whole 64 KiB
/// chunks (zeros in the copy), fewer than half of them, and every other
/// byte the original's.
pub fn lost_only_whole_chunks(case: &Path, a: &serde_json::Value, want: &[u8]) {
    assert_eq!(a["status"], "partial", "{a}");
    let got = std::fs::read(case.join(a["extracted"].as_str().unwrap())).unwrap();
    assert_eq!(got.len(), want.len());
    let gaps: Vec<(usize, usize)> = a["gaps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            let o = g["file_offset"].as_u64().unwrap() as usize;
            (o, o + g["len"].as_u64().unwrap() as usize)
        })
        .collect();
    assert!(!gaps.is_empty(), "{a}");
    let lost: usize = gaps.iter().map(|g| g.1 - g.0).sum();
    assert!(lost < want.len() / 2, "{gaps:?}");
    assert_eq!(a["unreadable_bytes"], lost as u64);
    for &(s, e) in &gaps {
        assert!(
            s % 65536 == 0 && (e % 65536 == 0 || e == want.len()),
            "{gaps:?}"
        );
        assert!(got[s..e].iter().all(|&c| c == 0));
    }
    let inside = |i: usize| gaps.iter().any(|&(s, e)| (s..e).contains(&i));
    assert!((0..want.len()).all(|i| inside(i) || got[i] == want[i]));
}

/// The decmpfs cases on one filesystem (`fs`: apfs or hfs, whose script
/// makes the image from `img`), zlib and LZFSE: `path` stored inline and in
/// the resource fork reads back as the content given; for zlib also as
/// `icat(image, id)` (The Sleuth Kit) reads it (TSK does not decode LZFSE:
/// what it gives is printed). Then with a bad sector in the resource fork,
/// the file is partial by whole chunks only.
pub fn decmpfs_cases(
    fs: &str,
    dir: &Path,
    img: &Path,
    path: &str,
    icat: &dyn Fn(&Path, &str) -> Vec<u8>,
) {
    use super::*;
    let big = compressible();
    let lzfse = python_module("lzfse");
    if !lzfse {
        skip("the python3 module lzfse (PyPI) is missing: LZFSE cases not run");
    }
    let methods: &[&str] = if lzfse { &["zlib", "lzfse"] } else { &["zlib"] };
    for &method in methods {
        for (mode, content) in [("inline", &big[..100]), ("fork", &big[..])] {
            let (made, said) = apple_compress(fs, dir, img, content, (mode, method));
            let id = said.split_whitespace().next().unwrap().to_string();
            let case = dir.join(format!("case-{mode}-{method}"));
            let arts = one_shot_ls("recover", &made, None, &case, 0, &[]);
            let a = arts.iter().find(|a| a["path"] == path).unwrap();
            assert_eq!(a["status"], "complete", "{a}");
            assert_eq!(a["size"], content.len() as u64);
            let got = std::fs::read(case.join(a["extracted"].as_str().unwrap())).unwrap();
            assert!(
                got == content,
                "{fs} {mode} {method}: the decoded content differs"
            );
            let tsk = icat(&made, &id);
            if method == "zlib" {
                assert!(tsk == content, "{fs} {mode}: TSK reads other bytes");
            } else {
                eprintln!(
                    "{fs} {mode} {method}: dredge {} of {} bytes right, TSK icat {} bytes{}",
                    got.len(),
                    content.len(),
                    tsk.len(),
                    if tsk == content {
                        " (right)"
                    } else {
                        " (not the content)"
                    }
                );
            }
            assert!(findings(&case)
                .iter()
                .any(|f| f.contains("compressed (decmpfs)")));
            // The stored streams are listed beside the decoded file.
            let attr = format!("{path}:com.apple.decmpfs");
            assert!(arts.iter().any(|a| a["path"] == attr.as_str()));
        }

        // A bad sector in the resource fork (its sixth block).
        let (made, said) = apple_compress(fs, dir, img, &big, ("fork", method));
        let mut w = said.split_whitespace().skip(1);
        let first: u64 = w.next().unwrap().parse().unwrap();
        let block = 4096;
        let map = dir.join(format!("{fs}-{method}-fork.map"));
        let size = std::fs::metadata(&made).unwrap().len();
        write_bad_map(&map, size, &[((first + 5) * block, block)]);
        let case = dir.join(format!("case-bad-{method}"));
        let arts = one_shot_ls("recover", &made, Some(&map), &case, 3, &[]);
        let a = arts.iter().find(|a| a["path"] == path).unwrap();
        lost_only_whole_chunks(&case, a, &big);
        assert!(run(&["verify", case.to_str().unwrap()]).status.success());
    }
}
