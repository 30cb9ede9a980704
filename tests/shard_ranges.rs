//! One image's carving cut into byte ranges across shards (issue 16): the
//! registering shard hashes each range, the ranges' shards carve them, and the
//! merge stores what they found as a single run stores it, after checking every
//! range's bytes against the registration's; a range altered, missing or read
//! from changed evidence is refused with one line.

mod common;
use common::cases::*;
use common::*;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

const MIB: usize = 1 << 20;

/// A 12 MiB image of no filesystem (carved whole) from the carving ground
/// truth, laid so that files cross the 4 MiB range boundaries: the second
/// half of it, all of it twice, its first half.
fn big_image(to: &Path) {
    let gt = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("testimages/carving/ground-truth.img"),
    )
    .unwrap();
    let h = gt.len() / 2;
    let mut img = gt[h..].to_vec();
    img.extend_from_slice(&gt);
    img.extend_from_slice(&gt);
    img.extend_from_slice(&gt[..h]);
    assert_eq!(img.len(), 12 * MIB);
    std::fs::write(to, img).unwrap();
}

/// Items: the exFAT card, the 12 MiB image (cut into three ranges of 4 MiB by
/// a sharded run) and the card again, in one case.
const JOB: &str = r#"
case = "cases/all"
examiner = "Lab robot"
threads = 2
reports = ["csv"]
range_size = "4MiB"

[[item]]
image = "card.img"

[[item]]
image = "big.img"

[[item]]
image = "card2.img"
"#;

fn setup(dir: &Path) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("testimages");
    std::fs::copy(root.join("exfat/small.img"), dir.join("card.img")).unwrap();
    std::fs::copy(root.join("exfat/small.img"), dir.join("card2.img")).unwrap();
    big_image(&dir.join("big.img"));
    let job = dir.join("job.toml");
    std::fs::write(&job, JOB).unwrap();
    job
}

fn batch(job: &Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec!["batch", job.to_str().unwrap()];
    args.extend_from_slice(extra);
    run(&args)
}

fn shards(job: &Path, n: u32) {
    for k in 1..=n {
        let o = batch(job, &["--shard", &format!("{k}/{n}")]);
        assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    }
}

fn shard_dir(dir: &Path, k: u32, n: u32) -> PathBuf {
    dir.join(format!("cases/all.shards/{k}-of-{n}"))
}

/// The custody events of `case` with `action`, their params parsed.
fn events(case: &Path, action: &str) -> Vec<serde_json::Value> {
    let c = rusqlite::Connection::open_with_flags(
        case.join("case.sqlite"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    let mut st = c
        .prepare("SELECT params FROM custody WHERE action = ?1 ORDER BY seq")
        .unwrap();
    st.query_map([action], |r| r.get::<_, String>(0))
        .unwrap()
        .map(|t| serde_json::from_str(&t.unwrap()).unwrap())
        .collect()
}

/// The actions of a case as a multiset, without those a range cut adds.
fn actions(case: &Path) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for a in case_actions(case) {
        if !a.starts_with("carve.") {
            *m.entry(a).or_default() += 1;
        }
    }
    m
}

/// The merged case holds what the single run's does: every row (the sessions
/// aside: the cut item's scan session records its range cut and, having carved
/// nothing itself, no gaps), every file, the CSV report.
fn assert_same_as_single(single: &Path, merged: &Path) {
    let (mut a, mut b) = (case_rows(single), case_rows(merged));
    a.remove("sessions");
    b.remove("sessions");
    for (t, rows) in &a {
        assert_eq!(rows, &b[t], "table {t} differs");
    }
    assert!(!a["artifacts"].is_empty(), "nothing recovered");
    assert_eq!(case_files(single), case_files(merged), "files differ");
    assert_eq!(csv_report(single), csv_report(merged), "CSV reports differ");
    assert_eq!(actions(single), actions(merged), "custody actions differ");
}

#[test]
fn ranges_carved_by_other_shards_merge_into_the_single_run_case() {
    let d = tempfile::tempdir().unwrap();
    let job = setup(d.path());
    let o = batch(&job, &[]);
    assert!(matches!(o.status.code(), Some(0 | 3)), "{}", stderr(&o));
    let single = d.path().join("single");
    std::fs::rename(d.path().join("cases"), &single).unwrap();
    let big = std::fs::read(d.path().join("big.img")).unwrap();
    // Units: card, big, its ranges 1-3, card2. Five shards: the big item's
    // registration with the first card, each range a shard of its own. Two
    // shards: the registration and range 1 in one, ranges 2-3 in the other.
    for n in [5, 2] {
        shards(&job, n);
        let reg = shard_dir(d.path(), 1, n);
        let deferred = events(&reg, "carve.deferred");
        assert_eq!(deferred.len(), 1, "shard 1/{n}");
        let ranges = deferred[0]["ranges"].as_array().unwrap().clone();
        assert_eq!(ranges.len(), 3);
        // Each range's digest is the SHA-256 of those bytes of the image, and
        // the range's shard read the same.
        for (i, r) in ranges.iter().enumerate() {
            let want = sha256(&big[i * 4 * MIB..(i + 1) * 4 * MIB]);
            assert_eq!(r["sha256"], want.as_str(), "range {}", i + 1);
            let k = match n {
                5 => i as u32 + 2,
                _ => 1 + u32::from(i > 0),
            };
            let got = events(&shard_dir(d.path(), k, n), "carve.range");
            assert!(
                got.iter()
                    .any(|g| g["index"] == i as u64 + 1 && g["sha256"] == want.as_str()),
                "range {} in shard {k}/{n}: {got:?}",
                i + 1
            );
        }
        let o = batch(&job, &["--merge", &n.to_string()]);
        assert!(
            matches!(o.status.code(), Some(0 | 3)),
            "{}{}",
            stdout(&o),
            stderr(&o)
        );
        let merged = d.path().join("cases/all");
        assert_same_as_single(&single.join("all"), &merged);
        assert!(
            carved(&merged) > 20,
            "only {} carved files",
            carved(&merged)
        );
        let v = run(&["verify", merged.to_str().unwrap()]);
        assert_eq!(v.status.code(), Some(0), "{}{}", stdout(&v), stderr(&v));
        // What the merge stored names each range's shard and digest.
        let m = events(&merged, "carve.merge");
        assert_eq!(m.len(), 1);
        assert_eq!(m[0]["ranges"].as_array().unwrap().len(), 3);
        std::fs::remove_dir_all(d.path().join("cases")).unwrap();
    }
}

/// A finished sharded run of JOB in `dir` with five shards (each range of the
/// big image in shards 2, 3 and 4).
fn five(dir: &Path) -> PathBuf {
    let job = setup(dir);
    shards(&job, 5);
    job
}

fn refused(o: &std::process::Output, want: &[&str]) {
    assert_eq!(o.status.code(), Some(2), "{}{}", stdout(o), stderr(o));
    let err = stderr(o);
    let line = err
        .lines()
        .find(|l| l.starts_with("dredge:"))
        .unwrap_or_else(|| panic!("no error line in {err}"));
    for w in want {
        assert!(line.contains(w), "{w:?} not in {line}");
    }
}

#[test]
fn a_missing_or_altered_range_is_refused() {
    let d = tempfile::tempdir().unwrap();
    let job = five(d.path());
    // Missing: shard 3 holds range 2 of item 2.
    let aside = d.path().join("aside");
    std::fs::rename(shard_dir(d.path(), 3, 5), &aside).unwrap();
    refused(
        &batch(&job, &["--merge", "5"]),
        &["shard 3/5 is missing", "range 2 of item 2"],
    );
    assert!(!d.path().join("cases/all/case.sqlite").exists());
    std::fs::rename(&aside, shard_dir(d.path(), 3, 5)).unwrap();
    // Its findings altered after the shard ended: the file no longer has the
    // digest its carve.range recorded.
    let file = shard_dir(d.path(), 3, 5).join("ranges/ev2-2-of-3.json");
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(
        &file,
        text.replacen("\"complete\":true", "\"complete\":false", 1),
    )
    .unwrap();
    refused(
        &batch(&job, &["--merge", "5"]),
        &[
            "shard 3/5",
            "range 2/3 of evidence ev2",
            "altered after the shard",
        ],
    );
    // Refused before anything was written.
    assert!(!d.path().join("cases/all/case.sqlite").exists());
    std::fs::write(&file, text).unwrap();
    // Put back, the merge goes through.
    let o = batch(&job, &["--merge", "5"]);
    assert!(
        matches!(o.status.code(), Some(0 | 3)),
        "{}{}",
        stdout(&o),
        stderr(&o)
    );
    assert_eq!(events(&d.path().join("cases/all"), "carve.merge").len(), 1);
}

#[test]
fn evidence_changed_after_its_ranges_were_carved_is_refused() {
    let d = tempfile::tempdir().unwrap();
    let job = five(d.path());
    // A byte inside a complete file range 2 carved that no other complete
    // file holds (so the merge keeps it).
    let mut all = Vec::new();
    for r in 1..=3 {
        let file = shard_dir(d.path(), r + 1, 5).join(format!("ranges/ev2-{r}-of-3.json"));
        let body: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
        all.extend(body["carved"].as_array().unwrap().iter().cloned());
    }
    let span = |c: &serde_json::Value| {
        let o = c["offset"].as_u64().unwrap();
        (o, o + c["len"].as_u64().unwrap())
    };
    let whole: Vec<(u64, u64)> = all
        .iter()
        .filter(|c| c["complete"] == true)
        .map(span)
        .collect();
    let c = all
        .iter()
        .find(|c| {
            let (o, e) = span(c);
            c["complete"] == true
                && (4 << 20..8 << 20).contains(&o)
                && e - o > 1000
                && !whole.iter().any(|&(a, b)| a < o && o < b)
        })
        .expect("a complete carved file in range 2")
        .clone();
    let at = c["offset"].as_u64().unwrap() + c["len"].as_u64().unwrap() / 2;
    let img = d.path().join("big.img");
    let mut bytes = std::fs::read(&img).unwrap();
    bytes[at as usize] ^= 0xff;
    std::fs::write(&img, bytes).unwrap();
    refused(
        &batch(&job, &["--merge", "5"]),
        &[
            "big.img",
            &format!("at byte {}", c["offset"]),
            "when its range was carved",
        ],
    );
}

#[test]
fn a_range_shard_killed_mid_run_and_run_again_gives_the_same_case() {
    let d = tempfile::tempdir().unwrap();
    // A 48 MiB image in ranges of 16 MiB, so the kill lands while a range is
    // read: noise with the ground truth at three places.
    let job = setup(d.path());
    let gt = std::fs::read(root_gt()).unwrap();
    let mut big = noise(48 * MIB, 16);
    for at in [3 * MIB, 15 * MIB, 40 * MIB] {
        big[at..at + gt.len()].copy_from_slice(&gt);
    }
    std::fs::write(d.path().join("big.img"), &big).unwrap();
    std::fs::write(&job, JOB.replace("4MiB", "16MiB")).unwrap();
    let o = batch(&job, &[]);
    assert!(matches!(o.status.code(), Some(0 | 3)), "{}", stderr(&o));
    let single = d.path().join("single");
    std::fs::rename(d.path().join("cases"), &single).unwrap();
    // Units: card, big, its ranges 1-3, card2; four shards: shard 2 holds
    // range 1 alone. Killed once its progress shows.
    let shard = shard_dir(d.path(), 2, 4);
    kill_shard_mid_run(&job, "2/4", &shard);
    for k in [1, 3, 4] {
        let o = batch(&job, &["--shard", &format!("{k}/4")]);
        assert!(matches!(o.status.code(), Some(0 | 3)), "{}", stderr(&o));
    }
    let o = batch(&job, &["--merge", "4"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("did not finish"), "{}", stderr(&o));
    // Run again: the unfinished case is kept aside, the range redone.
    let o = batch(&job, &["--shard", "2/4"]);
    assert!(matches!(o.status.code(), Some(0 | 3)), "{}", stderr(&o));
    assert!(stdout(&o).contains("batch.shard.retry"));
    assert!(d.path().join("cases/all.shards/2-of-4.attempt-1").is_dir());
    let o = batch(&job, &["--merge", "4"]);
    assert!(matches!(o.status.code(), Some(0 | 3)), "{}", stderr(&o));
    assert_same_as_single(&single.join("all"), &d.path().join("cases/all"));
}

fn root_gt() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testimages/carving/ground-truth.img")
}

#[test]
fn a_case_per_item_job_cut_into_ranges_merges_each_case() {
    let d = tempfile::tempdir().unwrap();
    let job = setup(d.path());
    std::fs::write(
        &job,
        JOB.replace("case = \"cases/all\"", "cases_dir = \"cases\""),
    )
    .unwrap();
    let o = batch(&job, &[]);
    assert!(matches!(o.status.code(), Some(0 | 3)), "{}", stderr(&o));
    let single = d.path().join("single");
    std::fs::rename(d.path().join("cases"), &single).unwrap();
    shards(&job, 4);
    // Six units (three items, the big one's three ranges) over four shards.
    let s = run(&["--progress", "json", "batch-status", job.to_str().unwrap()]);
    let last = stdout(&s).lines().last().unwrap().to_string();
    let sum: serde_json::Value = serde_json::from_str(&last).unwrap();
    assert_eq!(
        (sum["items_done"].as_u64(), sum["units"].as_u64()),
        (Some(6), Some(6)),
        "{last}"
    );
    let o = batch(&job, &["--merge", "4"]);
    assert!(
        matches!(o.status.code(), Some(0 | 3)),
        "{}{}",
        stdout(&o),
        stderr(&o)
    );
    for name in ["card.img", "big.img", "card2.img"] {
        assert_same_as_single(&single.join(name), &d.path().join("cases").join(name));
    }
    assert!(carved(&d.path().join("cases/big.img")) > 20);
}

fn carved(case: &Path) -> usize {
    case_rows(case)["artifacts"]
        .iter()
        .filter(|r| r.contains("origin=Text(\"carved\")"))
        .count()
}

/// An encrypted item cut into ranges: each range's shard carves the
/// plaintext of the volume its keys open, and the merge copies the carved
/// files from the plaintext with the keys it is given (`batch --merge` the
/// job's; `case merge --key`), refusing without them.
#[test]
fn an_encrypted_item_cut_into_ranges_merges_with_its_keys() {
    if !tools(&["mkfs.ext4", "cryptsetup"]) {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let pass = dir.join("pass.txt");
    std::fs::write(&pass, "correct horse battery staple").unwrap();
    // An ext4 of 20 MiB with the ground truth in its free blocks, encrypted
    // in place (LUKS2, AES-XTS, PBKDF2 made fast) in a 40 MiB image.
    let img = dir.join("luks.img");
    std::fs::File::create(&img)
        .unwrap()
        .set_len(40 << 20)
        .unwrap();
    let tree = dir.join("tree");
    std::fs::create_dir(&tree).unwrap();
    std::fs::write(tree.join("notes.txt"), b"on the encrypted volume\n").unwrap();
    assert!(sh(&format!(
        "mkfs.ext4 -q -F -b 4096 -d {} {} 20M",
        tree.display(),
        img.display()
    )));
    let gt = std::fs::read(root_gt()).unwrap();
    let mut b = std::fs::read(&img).unwrap();
    b[12 * MIB..12 * MIB + gt.len()].copy_from_slice(&gt);
    std::fs::write(&img, &b).unwrap();
    luks2_encrypt_in_place(
        &img,
        ("aes-xts-plain64", "256", "512"),
        &pass,
        &["--pbkdf", "pbkdf2", "--pbkdf-force-iterations", "1000"],
    );
    let job = dir.join("job.toml");
    std::fs::write(
        &job,
        "case = \"cases/all\"\nthreads = 2\nreports = [\"csv\"]\nrange_size = \"8MiB\"\nkeys = [\"password-file=pass.txt\"]\n\n[[item]]\nimage = \"luks.img\"\n",
    )
    .unwrap();
    let o = batch(&job, &[]);
    assert!(matches!(o.status.code(), Some(0 | 3)), "{}", stderr(&o));
    let single = dir.join("single");
    std::fs::rename(dir.join("cases"), &single).unwrap();
    assert!(carved(&single.join("all")) > 10, "the plaintext is carved");
    // Six units (the item, five ranges) over three shards.
    shards(&job, 3);
    let all: Vec<PathBuf> = (1..=3).map(|k| shard_dir(dir, k, 3)).collect();
    let merge = |out: &Path, key: Option<&str>| {
        let mut args: Vec<String> = vec!["case".into(), "merge".into(), out.display().to_string()];
        args.extend(all.iter().map(|s| s.display().to_string()));
        if let Some(k) = key {
            args.extend(["--key".into(), k.to_string()]);
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        run(&args)
    };
    // Without the keys the carved files do not read as they were carved.
    let o = merge(&dir.join("no-keys"), None);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("were keys needed"), "{}", stderr(&o));
    // With them, as the job gives them: the single run's case.
    let o = merge(
        &dir.join("with-keys"),
        Some(&format!("password-file={}", pass.display())),
    );
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    let o = batch(&job, &["--merge", "3"]);
    assert!(matches!(o.status.code(), Some(0 | 3)), "{}", stderr(&o));
    assert_same_as_single(&single.join("all"), &dir.join("cases/all"));
    let (a, b) = (
        case_rows(&dir.join("cases/all")),
        case_rows(&dir.join("with-keys")),
    );
    assert_eq!(a["artifacts"], b["artifacts"], "case merge --key");
}
