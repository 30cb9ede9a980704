//! Read the evidence once (issue 18): the bytes the reader counted, reported by
//! every scan. `recover` and `carve` register and scan in one sequential pass;
//! `scan` of a registered item hashes, carves and writes files in one. Everything
//! else read (metadata, carved files, validators' look-ahead) is counted apart
//! and bounded here.

mod common;

use common::*;
use serde_json::Value;
use std::path::{Path, PathBuf};

fn repo(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// The carving ground truth nine times over, after 1.5 MiB of noise, so files
/// cross the pass's 4 MiB blocks: 37.5 MiB.
fn dense_image(dir: &Path) -> PathBuf {
    let one = std::fs::read(repo("testimages/carving/ground-truth.img")).unwrap();
    let mut img = noise(3 << 19, 18);
    for _ in 0..9 {
        img.extend_from_slice(&one);
    }
    let p = dir.join("dense.img");
    std::fs::write(&p, &img).unwrap();
    p
}

/// The `read` figures of a command's JSON result line.
fn reads(o: &std::process::Output) -> (u64, u64, u64) {
    let r = stdout(o)
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|v| v["event"] == "result" && v["read"].is_object())
        .unwrap_or_else(|| panic!("no result with reads: {}", stdout(o)));
    let g = |k: &str| r["read"][k].as_u64().unwrap();
    (g("image_bytes"), g("pass_bytes"), g("other_bytes"))
}

/// Bytes of content the case extracted or carved: what may be read again.
fn extracted_bytes(case: &Path) -> u64 {
    ls_json(case)
        .iter()
        .filter(|a| a["sha256"].is_string())
        .map(|a| a["size"].as_u64().unwrap())
        .sum()
}

fn json_run(args: &[&str]) -> std::process::Output {
    let mut all = vec!["--progress", "json"];
    all.extend_from_slice(args);
    run(&all)
}

#[test]
fn carve_reads_the_image_once_and_finds_what_two_passes_found() {
    let d = tempfile::tempdir().unwrap();
    let img = dense_image(d.path());
    let size = std::fs::metadata(&img).unwrap().len();
    let one = d.path().join("one");
    let o = json_run(&[
        "carve",
        img.to_str().unwrap(),
        "--out",
        one.to_str().unwrap(),
    ]);
    assert!(matches!(o.status.code(), Some(0 | 3)), "{}", stderr(&o));
    let (image, pass, other) = reads(&o);
    assert_eq!(image, size);
    assert_eq!(pass, size, "the registration's read is the carve's read");
    let carved = extracted_bytes(&one);
    assert!(carved > 0);
    assert!(
        other <= size / 10 + carved,
        "read {other} besides the pass; carved {carved} of {size}"
    );
    // The same artifacts as registering first and scanning after (two reads).
    let two = d.path().join("two");
    let t = two.to_str().unwrap();
    assert!(run(&["case", "new", t, "--examiner", "T"]).status.success());
    assert!(run(&["add", t, img.to_str().unwrap()]).status.success());
    let s = json_run(&["scan", t, "--no-filesystems", "--carve", "all"]);
    assert!(matches!(s.status.code(), Some(0 | 3)), "{}", stderr(&s));
    let (_, pass2, _) = reads(&s);
    assert_eq!(pass2, size, "a scan of registered evidence reads it once");
    let ids = |c: &Path| -> Vec<(String, String)> {
        ls_json(c)
            .iter()
            .map(|a| {
                (
                    a["id"].as_str().unwrap().to_string(),
                    a["sha256"].as_str().unwrap_or("").to_string(),
                )
            })
            .collect()
    };
    assert_eq!(ids(&one), ids(&two));
    let v = run(&["verify", one.to_str().unwrap()]);
    assert_eq!(v.status.code(), Some(0), "{}", stdout(&v));
}

#[test]
fn recover_reads_the_stick_once_plus_its_metadata_and_files() {
    let d = tempfile::tempdir().unwrap();
    let img = repo("testimages/sample/usb-stick.img");
    let map = repo("testimages/sample/usb-stick.map");
    let size = std::fs::metadata(&img).unwrap().len();
    let case = d.path().join("case");
    let o = json_run(&[
        "recover",
        img.to_str().unwrap(),
        "--map",
        map.to_str().unwrap(),
        "--out",
        case.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let (image, pass, other) = reads(&o);
    assert_eq!((image, pass), (size, size));
    // The files' content came from the pass: the rest is metadata.
    assert!(other <= size / 10, "{other} besides the pass");
    assert!(extracted_bytes(&case) > 0);
    // Scanned again: every unit is sealed, so nothing is analysed and the image
    // is not read again.
    let again = json_run(&["scan", case.to_str().unwrap()]);
    assert!(
        matches!(again.status.code(), Some(0 | 3)),
        "{}",
        stderr(&again)
    );
    let (_, pass2, _) = reads(&again);
    assert_eq!(pass2, 0);
    // The custody log records the reads of the scan.
    let log = run(&["log", case.to_str().unwrap(), "--json"]);
    assert!(stdout(&log).contains("\"pass_bytes\""), "{}", stdout(&log));
}

/// Every artifact as `ls --progress json` lists it (runs, gaps, hashes, copy).
fn listing(case: &Path) -> Vec<Value> {
    let mut v = ls_json(case);
    v.sort_by(|a, b| a["id"].as_str().cmp(&b["id"].as_str()));
    v
}

/// Files written from the registration's pass (`recover`) and from the scan's
/// pass (`add` then `scan`): the same rows, runs, gaps, hashes and copies, on
/// images with unreadable sectors, sparse, inline and resident files.
#[test]
fn files_are_the_same_from_the_registration_pass_and_the_scan_pass() {
    let d = tempfile::tempdir().unwrap();
    let mut images: Vec<(PathBuf, Option<PathBuf>)> = vec![
        (
            repo("testimages/sample/usb-stick.img"),
            Some(repo("testimages/sample/usb-stick.map")),
        ),
        (repo("testimages/exfat/small.img"), None),
    ];
    if tools(&["mkfs.ext4"]) {
        let src = d.path().join("tree");
        std::fs::create_dir_all(src.join("sub")).unwrap();
        std::fs::write(src.join("tiny.txt"), b"inline bytes").unwrap();
        std::fs::write(src.join("sub/noise.bin"), noise(300_000, 4)).unwrap();
        // One extent across several of the pass's 4 MiB blocks: its writer
        // hashes it block by block as it writes it.
        std::fs::write(src.join("sub/large.bin"), noise(6 << 20, 5)).unwrap();
        let sparse = std::fs::File::create(src.join("sparse.bin")).unwrap();
        sparse.set_len(5 << 20).unwrap();
        use std::os::unix::fs::FileExt;
        sparse.write_all_at(b"middle", 2 << 20).unwrap();
        let img = d.path().join("ext4.img");
        assert!(sh(&format!(
            "mkfs.ext4 -q -F -b 4096 -O inline_data -d '{}' '{}' 32M",
            src.display(),
            img.display()
        )));
        images.push((img, None));
    }
    for (k, (img, map)) in images.iter().enumerate() {
        let i = img.to_str().unwrap();
        let one = d.path().join(format!("recover-{k}"));
        let mut args = vec!["recover", i, "--out", one.to_str().unwrap()];
        if let Some(m) = map {
            args.extend(["--map", m.to_str().unwrap()]);
        }
        let o = run(&args);
        assert!(matches!(o.status.code(), Some(0 | 3)), "{}", stderr(&o));
        let two = d.path().join(format!("scan-{k}"));
        let t = two.to_str().unwrap();
        assert!(run(&["case", "new", t, "--examiner", "T"]).status.success());
        // The digests stored are those of the copies (hashed by the pass's
        // writers or read back after it).
        for x in listing(&one) {
            if let (Some(rel), Some(sha)) = (x["extracted"].as_str(), x["sha256"].as_str()) {
                assert_eq!(sha256_file(&one.join(rel)), sha, "{rel}");
            }
        }
        let mut add = vec!["add", t, i];
        if let Some(m) = map {
            add.extend(["--map", m.to_str().unwrap()]);
        }
        assert!(matches!(run(&add).status.code(), Some(0 | 3)));
        let s = json_run(&["scan", t]);
        assert!(matches!(s.status.code(), Some(0 | 3)), "{}", stderr(&s));
        let (size, pass, _) = reads(&s);
        assert_eq!(pass, size, "{}: one pass", img.display());
        let (a, b) = (listing(&one), listing(&two));
        assert_eq!(a.len(), b.len(), "{}", img.display());
        if img.ends_with("ext4.img") {
            // The layouts this is about are there: a file in an inline directory,
            // inline bytes, a hole.
            let kinds: Vec<&str> = a
                .iter()
                .flat_map(|x| x["runs"].as_array().unwrap())
                .map(|r| r["kind"].as_str().unwrap())
                .collect();
            assert!(
                kinds.contains(&"inline") && kinds.contains(&"sparse"),
                "{kinds:?}"
            );
            assert!(a.iter().any(|x| x["path"] == "/sub/noise.bin"), "{a:?}");
            let large = a.iter().find(|x| x["path"] == "/sub/large.bin").unwrap();
            let runs = large["runs"].as_array().unwrap();
            assert!(
                runs.len() == 1 && runs[0]["len"].as_u64() > Some(4 << 20),
                "{large}"
            );
        }
        for (x, y) in a.iter().zip(&b) {
            assert_eq!(x, y, "{}", img.display());
            if let Some(rel) = x["extracted"].as_str() {
                assert_eq!(sha256_file(&one.join(rel)), sha256_file(&two.join(rel)));
            }
        }
        let v = run(&["verify", t]);
        assert_eq!(v.status.code(), Some(0), "{}", stdout(&v));
    }
}

/// An ext4 volume of many files with the carving ground truth written into its
/// free space: the pass writes file copies, carves and hashes at once.
fn files_and_free_space(dir: &Path) -> PathBuf {
    let src = dir.join("tree");
    for i in 0..120 {
        let sub = src.join(format!("d{}", i % 6));
        std::fs::create_dir_all(&sub).unwrap();
        std::fs::write(
            sub.join(format!("f{i}.bin")),
            noise(20_000 + i * 1_500, i as u64),
        )
        .unwrap();
    }
    let img = dir.join("fs.img");
    assert!(sh(&format!(
        "mkfs.ext4 -q -F -b 4096 -d '{}' '{}' 96M >/dev/null 2>&1",
        src.display(),
        img.display()
    )));
    // From 40 MiB on, past the 26 MiB of files, in free space: the ground truth
    // twelve times, enough work that the pass is seen under way.
    let gt = std::fs::read(repo("testimages/carving/ground-truth.img")).unwrap();
    use std::os::unix::fs::FileExt;
    let f = std::fs::OpenOptions::new().write(true).open(&img).unwrap();
    for k in 0..12u64 {
        f.write_all_at(&gt, (40 << 20) + k * gt.len() as u64)
            .unwrap();
    }
    img
}

/// `kill -9` while the pass is under way (files half written, carving half done,
/// hashes unfinished), then the same command again: the same artifacts, ids,
/// hashes and copies as an uninterrupted run (whatever the thread count), and a
/// case that verifies.
#[test]
fn a_scan_killed_with_sigkill_mid_pass_reruns_to_the_same_case() {
    use std::io::BufRead;
    if !tools(&["mkfs.ext4"]) {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let img = files_and_free_space(d.path());
    let i = img.to_str().unwrap();
    let reference = d.path().join("ref");
    let r = reference.to_str().unwrap();
    assert!(run(&["case", "new", r, "--examiner", "T"]).status.success());
    assert!(run(&["add", r, i]).status.success());
    let o = run(&["--progress", "none", "scan", r, "--threads", "2"]);
    assert!(matches!(o.status.code(), Some(0 | 3)), "{}", stderr(&o));
    let want = listing(&reference);
    let carved = want
        .iter()
        .filter(|a| a["id"].as_str().unwrap().contains("/carve/"))
        .count();
    assert!(carved >= 10, "free space carved: {carved}");
    assert!(want.iter().filter(|a| a["kind"] == "file").count() >= 120 + carved);

    let mut caught = 0;
    // `scan` of registered evidence killed early and late; `recover` killed in
    // the registration's pass (which is also its scan's), then run again as is.
    for (k, (fraction, recover)) in [(0.15f64, false), (0.6, false), (0.4, true)]
        .into_iter()
        .enumerate()
    {
        let case = d.path().join(format!("killed{k}"));
        let c = case.to_str().unwrap();
        let command: Vec<&str> = if recover {
            vec!["recover", i, "--out", c, "--examiner", "T"]
        } else {
            assert!(run(&["case", "new", c, "--examiner", "T"]).status.success());
            assert!(run(&["add", c, i]).status.success());
            vec!["scan", c]
        };
        let mut child = dredge()
            .args(["--progress", "json"])
            .args(&command)
            .args(["--threads", "2"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let out = std::io::BufReader::new(child.stdout.take().unwrap());
        for line in out.lines() {
            let Ok(v) = serde_json::from_str::<Value>(&line.unwrap()) else {
                continue;
            };
            let (done, total) = (v["done"].as_u64(), v["total"].as_u64());
            let in_pass = v["phase"]
                .as_str()
                .is_some_and(|p| p.starts_with("one pass"));
            if let (true, Some(done), Some(total)) = (in_pass, done, total) {
                if done as f64 >= total as f64 * fraction && done < total {
                    child.kill().unwrap(); // SIGKILL
                    caught += 1;
                    break;
                }
            }
        }
        let _ = child.wait();
        let mut again = vec!["--progress", "none"];
        again.extend(&command);
        again.extend(["--threads", "1"]);
        let again = run(&again);
        assert!(
            matches!(again.status.code(), Some(0 | 3)),
            "{}",
            stderr(&again)
        );
        let got = listing(&case);
        assert_eq!(got.len(), want.len(), "killed at {fraction}");
        for (x, y) in got.iter().zip(&want) {
            assert_eq!(x, y, "killed at {fraction}");
            if let Some(rel) = x["extracted"].as_str() {
                assert_eq!(
                    sha256_file(&case.join(rel)),
                    y["sha256"].as_str().unwrap(),
                    "{rel}: the copy left by the killed run was rewritten"
                );
            }
        }
        let v = run(&["verify", c]);
        assert_eq!(v.status.code(), Some(0), "{}", stdout(&v));
    }
    assert!(caught >= 1, "the pass was never caught under way");
    // The same one-shot command with another image is refused: one case, one item.
    let other = repo("testimages/carving/ground-truth.img");
    let killed = d.path().join("killed2");
    let o = run(&[
        "recover",
        other.to_str().unwrap(),
        "--out",
        killed.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("holding other evidence"),
        "{}",
        stderr(&o)
    );
}

/// The lost-partition scan looks for boot sectors in the pass's own blocks: an
/// image with no table and no filesystem at its start (a raw dump, a wiped
/// table) is read once when nothing is found there, and a second time only when
/// a lost filesystem is found, whose files then come back.
#[test]
fn the_lost_partition_scan_rides_the_pass() {
    let d = tempfile::tempdir().unwrap();
    // Nothing to find: the dense carving image, as `recover` (not `carve`) sees it.
    let img = dense_image(d.path());
    let size = std::fs::metadata(&img).unwrap().len();
    let case = d.path().join("dense");
    let o = json_run(&[
        "recover",
        img.to_str().unwrap(),
        "--out",
        case.to_str().unwrap(),
    ]);
    assert!(matches!(o.status.code(), Some(0 | 3)), "{}", stderr(&o));
    let (_, pass, other) = reads(&o);
    assert_eq!(pass, size, "one pass");
    let carved = extracted_bytes(&case);
    assert!(
        other <= size / 10 + carved,
        "{other} read besides the pass ({carved} carved): the scan for lost filesystems read the image again"
    );

    if !tools(&["mkfs.fat", "mcopy"]) {
        return;
    }
    // A FAT volume 3 MiB into an image with no partition table.
    let fat = d.path().join("fat.img");
    assert!(sh(&format!(
        "mkfs.fat -C -i 1234abcd --invariant '{}' 8192 >/dev/null",
        fat.display()
    )));
    let mut want = std::collections::BTreeMap::new();
    for i in 0..5u64 {
        let data = noise(30_000 + i as usize * 7_000, 40 + i);
        let f = d.path().join(format!("lost{i}.bin"));
        std::fs::write(&f, &data).unwrap();
        assert!(sh(&format!(
            "MTOOLS_SKIP_CHECK=1 mcopy -i '{}' '{}' ::/",
            fat.display(),
            f.display()
        )));
        want.insert(format!("/lost{i}.bin"), sha256_file(&f));
    }
    let mut bytes = noise(3 << 20, 77);
    bytes.extend(std::fs::read(&fat).unwrap());
    bytes.extend(noise(1 << 20, 78));
    let img = d.path().join("lost.img");
    std::fs::write(&img, &bytes).unwrap();
    let size = bytes.len() as u64;
    let case = d.path().join("lost");
    let o = json_run(&[
        "recover",
        img.to_str().unwrap(),
        "--out",
        case.to_str().unwrap(),
    ]);
    assert!(matches!(o.status.code(), Some(0 | 3)), "{}", stderr(&o));
    let (_, pass, _) = reads(&o);
    assert_eq!(pass, 2 * size, "read again for the lost volume's files");
    let got = hashes(&ls_json(&case));
    for (p, h) in &want {
        assert_eq!(got.get(p), Some(h), "{p} from the lost volume");
    }
    // `list`, which has no pass, scans before reading and finds the same files.
    let l = run(&["list", img.to_str().unwrap()]);
    for p in want.keys() {
        assert!(stdout(&l).contains(p.as_str()), "{p}: {}", stdout(&l));
    }
    // The registration's pass and a scan's pass give the same case.
    let two = d.path().join("two");
    let t = two.to_str().unwrap();
    assert!(run(&["case", "new", t, "--examiner", "T"]).status.success());
    assert!(run(&["add", t, img.to_str().unwrap()]).status.success());
    let s = json_run(&["scan", t]);
    assert!(matches!(s.status.code(), Some(0 | 3)), "{}", stderr(&s));
    assert_eq!(listing(&case), listing(&two));
    let v = run(&["verify", case.to_str().unwrap()]);
    assert_eq!(v.status.code(), Some(0), "{}", stdout(&v));
}
