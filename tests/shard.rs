//! Sharded batches (issue 16, decision 0020): shards merged into the case a single
//! run of the job writes; merges that refuse tampered, missing, duplicate or
//! foreign shards, each with one line; a killed shard run again.

mod common;
use common::cases::*;
use common::*;
use std::path::{Path, PathBuf};

fn setup(dir: &Path) {
    copy_items(dir);
}

const SHARED: &str = r#"
case = "cases/all"
examiner = "Lab robot"
case_number = "2026-0200"
threads = 2
reports = ["csv"]

[[item]]
image = "stick.img"
map = "stick.map"

[[item]]
image = "card.img"

[[item]]
image = "mac.dmg"
"#;

/// A job file in `dir` with `text`, and a single run of it whose case is moved
/// to `single/`.
fn job_and_single_run(dir: &Path, text: &str) -> PathBuf {
    setup(dir);
    let job = dir.join("job.toml");
    std::fs::write(&job, text).unwrap();
    let o = run(&["batch", job.to_str().unwrap()]);
    assert!(matches!(o.status.code(), Some(0 | 3)), "{}", stderr(&o));
    std::fs::rename(dir.join("cases"), dir.join("single")).unwrap();
    job
}

fn batch(job: &Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec!["batch", job.to_str().unwrap()];
    args.extend_from_slice(extra);
    run(&args)
}

fn shard_dir(dir: &Path, k: u32, n: u32) -> PathBuf {
    dir.join(format!("cases/all.shards/{k}-of-{n}"))
}

#[test]
fn shards_run_in_any_order_merge_into_the_single_run_case() {
    let d = tempfile::tempdir().unwrap();
    let job = job_and_single_run(d.path(), SHARED);
    // Four shards for three items (one shard has none), run last to first.
    for k in (1..=4).rev() {
        let o = batch(&job, &["--shard", &format!("{k}/4")]);
        assert!(matches!(o.status.code(), Some(0 | 3)), "{}", stderr(&o));
        assert!(shard_dir(d.path(), k, 4).join("progress.jsonl").is_file());
    }
    let o = batch(&job, &["--merge"]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    let merged = d.path().join("cases/all");
    assert_same_case(&d.path().join("single/all"), &merged);
    // The merged chain verifies, and holds one shard.merge per shard with its head.
    let v = run(&["verify", merged.to_str().unwrap()]);
    assert_eq!(v.status.code(), Some(0), "{}{}", stdout(&v), stderr(&v));
    let log = stdout(&run(&[
        "--progress",
        "json",
        "log",
        merged.to_str().unwrap(),
    ]));
    let merges: Vec<serde_json::Value> = log
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|e| e["action"] == "shard.merge")
        .collect();
    assert_eq!(merges.len(), 4, "{log}");
    for (i, m) in merges.iter().enumerate() {
        let p: serde_json::Value = match &m["params"] {
            serde_json::Value::String(s) => serde_json::from_str(s).unwrap(),
            v => v.clone(),
        };
        assert_eq!(p["shard"], i as u64 + 1);
        let shard = shard_dir(d.path(), i as u32 + 1, 4);
        let head = std::fs::read_to_string(shard.join("custody.head")).unwrap();
        let (seq, hash) = head.trim().split_once(' ').unwrap();
        assert_eq!(p["shard_head"]["seq"].to_string(), seq);
        assert_eq!(p["shard_head"]["hash"], hash);
    }
    // verify re-verifies the shard cases still there…
    assert_eq!(
        stdout(&v)
            .matches("re-verified, holds the merged head")
            .count(),
        4,
        "{}",
        stdout(&v)
    );
    // …and a shard altered after the merge fails the merged case's verify.
    sql(
        &shard_dir(d.path(), 2, 4),
        "DROP TRIGGER custody_no_update; UPDATE custody SET params = replace(params, 'card.img', 'card2.img') WHERE action = 'evidence.add'",
    );
    let v = run(&["verify", merged.to_str().unwrap()]);
    assert_eq!(v.status.code(), Some(2), "{}", stdout(&v));
    assert!(stdout(&v).contains("shard 2/4"), "{}", stdout(&v));
    assert!(stderr(&v).contains("shard 2/4"), "{}", stderr(&v));
    // batch-status sees four finished shards.
    let s = run(&["--progress", "json", "batch-status", job.to_str().unwrap()]);
    let last = stdout(&s).lines().last().unwrap().to_string();
    let sum: serde_json::Value = serde_json::from_str(&last).unwrap();
    assert_eq!(
        (sum["shards"].as_u64(), sum["done"].as_u64()),
        (Some(4), Some(4)),
        "{last}"
    );
    assert_eq!(sum["items_done"], 3);
}

#[test]
fn a_case_per_item_job_merges_each_case() {
    let d = tempfile::tempdir().unwrap();
    let job = job_and_single_run(
        d.path(),
        &SHARED.replace("case = \"cases/all\"", "cases_dir = \"cases\""),
    );
    for k in 1..=2 {
        let o = batch(&job, &["--shard", &format!("{k}/2")]);
        assert!(matches!(o.status.code(), Some(0 | 3)), "{}", stderr(&o));
    }
    let o = batch(&job, &["--merge", "2"]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    for name in ["stick.img", "card.img", "mac.dmg"] {
        assert_same_case(
            &d.path().join("single").join(name),
            &d.path().join("cases").join(name),
        );
    }
}

/// A sharded run of SHARED in `dir` (N shards), not merged.
fn shards(dir: &Path, n: u32) -> PathBuf {
    setup(dir);
    let job = dir.join("job.toml");
    std::fs::write(&job, SHARED).unwrap();
    for k in 1..=n {
        let o = batch(&job, &["--shard", &format!("{k}/{n}")]);
        assert!(matches!(o.status.code(), Some(0 | 3)), "{}", stderr(&o));
    }
    job
}

fn merge(out: &Path, shards: &[PathBuf]) -> std::process::Output {
    let mut args = vec![
        "case".to_string(),
        "merge".into(),
        out.display().to_string(),
    ];
    args.extend(shards.iter().map(|s| s.display().to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    run(&args)
}

/// The merge failed with exit 2 and one line on stderr holding every `want`;
/// nothing was merged.
fn refused(o: &std::process::Output, out: &Path, want: &[&str]) {
    assert_eq!(o.status.code(), Some(2), "{}{}", stdout(o), stderr(o));
    let err = stderr(o);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    for w in want {
        assert!(err.contains(w), "{w:?} not in {err}");
    }
    assert!(!out.join("case.sqlite").exists(), "{err}");
}

fn sql(case: &Path, statement: &str) {
    let c = rusqlite::Connection::open(case.join("case.sqlite")).unwrap();
    c.execute_batch(statement).unwrap();
}

#[test]
fn merge_refuses_tampered_missing_duplicate_and_foreign_shards() {
    let d = tempfile::tempdir().unwrap();
    shards(d.path(), 3);
    let all: Vec<PathBuf> = (1..=3).map(|k| shard_dir(d.path(), k, 3)).collect();
    let out = d.path().join("merged");

    // Missing: shard 2 of 3 holds item 2.
    refused(
        &merge(&out, &[all[0].clone(), all[2].clone()]),
        &out,
        &["shard 2/3 is missing", "item 2"],
    );
    // Twice.
    refused(
        &merge(
            &out,
            &[
                all[0].clone(),
                all[1].clone(),
                all[1].clone(),
                all[2].clone(),
            ],
        ),
        &out,
        &["shard 2/3 given twice"],
    );
    // A shard of another job (the job file changed: another examiner).
    let other = d.path().join("other");
    std::fs::create_dir(&other).unwrap();
    let job2 = other.join("job.toml");
    setup(&other);
    std::fs::write(&job2, SHARED.replace("Lab robot", "Lab robot 2")).unwrap();
    assert!(matches!(
        batch(&job2, &["--shard", "2/3"]).status.code(),
        Some(0 | 3)
    ));
    let foreign = other.join("cases/all.shards/2-of-3");
    refused(
        &merge(&out, &[all[0].clone(), foreign, all[2].clone()]),
        &out,
        &["different jobs", "2-of-3"],
    );

    // A row changed after the shard finished (a stored hash).
    let t = d.path().join("tampered-row");
    copy_dir(&all[1], &t);
    sql(&t, "UPDATE artifacts SET sha256 = 'ab' || substr(sha256, 3) WHERE sha256 IS NOT NULL AND rowid = (SELECT min(rowid) FROM artifacts WHERE sha256 IS NOT NULL)");
    refused(
        &merge(&out, &[all[0].clone(), t.clone(), all[2].clone()]),
        &out,
        &["tampered-row", "shard 2/3", "verification FAILED"],
    );
    // A custody event changed (its params), triggers and all.
    let t = d.path().join("tampered-event");
    copy_dir(&all[1], &t);
    sql(&t, "DROP TRIGGER custody_no_update; UPDATE custody SET params = replace(params, 'card.img', 'card2.img') WHERE action = 'evidence.add'");
    refused(
        &merge(&out, &[all[0].clone(), t, all[2].clone()]),
        &out,
        &["tampered-event", "verification FAILED", "altered"],
    );
    // The last event removed (the head file names it).
    let t = d.path().join("cut-event");
    copy_dir(&all[1], &t);
    sql(&t, "DROP TRIGGER custody_no_delete; DELETE FROM custody WHERE seq = (SELECT max(seq) FROM custody)");
    refused(
        &merge(&out, &[all[0].clone(), t, all[2].clone()]),
        &out,
        &["cut-event", "verification FAILED"],
    );

    // And the untouched set merges.
    let o = merge(&out, &all);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    // A second merge of the same shards finds them merged and adds nothing.
    let o = merge(&out, &all);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        stderr(&o).matches("merged before").count(),
        3,
        "{}",
        stderr(&o)
    );
}

#[test]
fn merge_refuses_an_image_whose_digests_changed_between_shards() {
    let d = tempfile::tempdir().unwrap();
    setup(d.path());
    let job = d.path().join("job.toml");
    std::fs::write(
        &job,
        "case = \"cases/all\"\nexaminer = \"Lab\"\ncarve = \"none\"\n[[item]]\nimage = \"card.img\"\n[[item]]\nimage = \"card.img\"\n",
    )
    .unwrap();
    assert!(matches!(
        batch(&job, &["--shard", "1/2"]).status.code(),
        Some(0 | 3)
    ));
    // The image changes between the two shards' runs.
    let mut b = std::fs::read(d.path().join("card.img")).unwrap();
    let last = b.len() - 1;
    b[last] ^= 0xff;
    std::fs::write(d.path().join("card.img"), b).unwrap();
    assert!(matches!(
        batch(&job, &["--shard", "2/2"]).status.code(),
        Some(0 | 3)
    ));
    let out = d.path().join("merged");
    refused(
        &merge(
            &out,
            &[shard_dir(d.path(), 1, 2), shard_dir(d.path(), 2, 2)],
        ),
        &out,
        &["card.img", "shard 2/2", "registered it with"],
    );
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let p = e.path();
        let q = to.join(e.file_name());
        if p.is_dir() {
            copy_dir(&p, &q);
        } else {
            std::fs::copy(&p, &q).unwrap();
        }
    }
}

#[test]
fn a_shard_killed_mid_run_and_run_again_gives_the_same_case() {
    let d = tempfile::tempdir().unwrap();
    // A bigger first item, so the kill lands while it is being read.
    let job = {
        setup(d.path());
        let mut big = noise(48 << 20, 7);
        big[..4].copy_from_slice(b"\x89PNG");
        std::fs::write(d.path().join("big.img"), big).unwrap();
        let text = SHARED.replace(
            "[[item]]\nimage = \"card.img\"",
            "[[item]]\nimage = \"big.img\"\n\n[[item]]\nimage = \"card.img\"",
        );
        std::fs::remove_file(d.path().join("stick.img")).unwrap();
        job_and_single_run(d.path(), &text)
    };
    // Shard 1 of 2 holds stick.img and big.img: killed once its progress shows.
    let shard = shard_dir(d.path(), 1, 2);
    kill_shard_mid_run(&job, "1/2", &shard);
    let status = stdout(&run(&[
        "--progress",
        "json",
        "batch-status",
        job.to_str().unwrap(),
    ]));
    assert!(
        status.contains("\"shard\":1,\"state\":\"stopped\""),
        "{status}"
    );
    // The merge refuses the unfinished shard, naming it.
    let o = batch(&job, &["--shard", "2/2"]);
    assert!(matches!(o.status.code(), Some(0 | 3)));
    let o = batch(&job, &["--merge", "2"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("did not finish"), "{}", stderr(&o));
    // Run again: the unfinished case is kept aside, the shard redone.
    let o = batch(&job, &["--shard", "1/2"]);
    assert!(matches!(o.status.code(), Some(0 | 3)), "{}", stderr(&o));
    assert!(stdout(&o).contains("batch.shard.retry"));
    assert!(d.path().join("cases/all.shards/1-of-2.attempt-1").is_dir());
    let o = batch(&job, &["--merge", "2"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_same_case(&d.path().join("single/all"), &d.path().join("cases/all"));
}

#[test]
fn shard_specs_from_the_command_line_slurm_and_kubernetes() {
    use dredge_session::ShardSpec;
    let none = |_: &str| None;
    assert_eq!(
        ShardSpec::parse("2/4", none).unwrap(),
        ShardSpec { k: 2, n: 4 }
    );
    for bad in ["0/4", "5/4", "2/0", "x/4", "2", "auto"] {
        assert!(ShardSpec::parse(bad, none).is_err(), "{bad}");
    }
    // Slurm: the array index is K; N the array's size, or given (a resubmission
    // of shard 3 alone is an array of one).
    let slurm = |id: &'static str, count: &'static str| {
        move |v: &str| match v {
            "SLURM_ARRAY_TASK_ID" => Some(id.to_string()),
            "SLURM_ARRAY_TASK_MIN" => Some(id.to_string()),
            "SLURM_ARRAY_TASK_COUNT" => Some(count.to_string()),
            _ => None,
        }
    };
    assert_eq!(
        ShardSpec::parse("auto", slurm("4", "4")).unwrap(),
        ShardSpec { k: 4, n: 4 }
    );
    assert_eq!(
        ShardSpec::parse("auto/4", slurm("3", "1")).unwrap(),
        ShardSpec { k: 3, n: 4 }
    );
    assert!(ShardSpec::parse("auto", slurm("3", "1")).is_err());
    assert!(ShardSpec::parse("auto/4", slurm("0", "4")).is_err());
    let k8s = |v: &str| match v {
        "JOB_COMPLETION_INDEX" => Some("2".to_string()),
        "DREDGE_SHARD_COUNT" => Some("3".to_string()),
        _ => None,
    };
    assert_eq!(
        ShardSpec::parse("auto", k8s).unwrap(),
        ShardSpec { k: 3, n: 3 }
    );
    assert_eq!(
        ShardSpec::parse("auto/5", k8s).unwrap(),
        ShardSpec { k: 3, n: 5 }
    );
    // Every item in exactly one shard, in contiguous runs, for any N.
    for items in 1..12u32 {
        for n in 1..8u32 {
            let ks: Vec<u32> = (0..items)
                .map(|i| ShardSpec::of_item(i, items, n))
                .collect();
            assert!(ks.windows(2).all(|w| w[0] <= w[1]), "{items} {n} {ks:?}");
            assert!(ks.iter().all(|&k| (1..=n).contains(&k)));
        }
    }
}

#[test]
fn an_item_that_fails_to_register_leaves_the_labels_of_the_others_as_in_a_single_run() {
    let d = tempfile::tempdir().unwrap();
    setup(d.path());
    // Not an E01: random bytes with the name of one. Its registration fails.
    std::fs::write(d.path().join("garbage.E01"), noise(70_000, 9)).unwrap();
    let text = SHARED.replace(
        "[[item]]\nimage = \"card.img\"",
        "[[item]]\nimage = \"garbage.E01\"\n\n[[item]]\nimage = \"card.img\"",
    );
    let job = d.path().join("job.toml");
    std::fs::write(&job, &text).unwrap();
    let o = batch(&job, &[]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    std::fs::rename(d.path().join("cases"), d.path().join("single")).unwrap();
    // Each item is the label of its place in the job: the card is ev3 after the
    // garbage item (ev2, never registered).
    let labels: Vec<String> = ls_json(&d.path().join("single/all"))
        .iter()
        .filter_map(|a| a["id"].as_str()?.split('/').next().map(str::to_string))
        .collect();
    assert!(labels.contains(&"ev3".to_string()), "{labels:?}");
    assert!(!labels.contains(&"ev2".to_string()), "{labels:?}");
    for k in 1..=3 {
        let o = batch(&job, &["--shard", &format!("{k}/3")]);
        assert!(matches!(o.status.code(), Some(0 | 2 | 3)), "{}", stderr(&o));
    }
    let o = batch(&job, &["--merge"]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    assert_same_case(&d.path().join("single/all"), &d.path().join("cases/all"));
}
