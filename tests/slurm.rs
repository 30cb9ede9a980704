//! The Slurm recipe on a real one-node cluster (issue 16): `sbatch --wait
//! deploy/slurm/dredge-array.sbatch JOB.toml 4` writes the case a single
//! `dredge batch JOB.toml` writes; with one shard killed mid-run, the recipe
//! submits it again and the merged case is still the same.

mod common;
use common::cases::{assert_same_case, copy_items};
use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Starts the cluster (deploy/slurm/local-cluster.sh); false when this machine
/// cannot run it (skipped, or failed under DREDGE_REQUIRE_TOOLS=1).
fn cluster() -> bool {
    if !tools(&["sbatch", "slurmctld", "slurmd", "munged"]) {
        return false;
    }
    if unsafe { libc::geteuid() } != 0 {
        skip("the one-node Slurm cluster needs root");
        return false;
    }
    // Both tests need the cluster; start it once per test process (the script
    // also holds a lock, for callers outside this process).
    static STARTED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    let ok = *STARTED.get_or_init(|| {
        Command::new("bash")
            .arg(repo().join("deploy/slurm/local-cluster.sh"))
            .status()
            .is_ok_and(|s| s.success())
    });
    assert!(
        ok,
        "deploy/slurm/local-cluster.sh failed: see /var/log/slurm/"
    );
    true
}

const JOB: &str = r#"
case = "cases/all"
examiner = "Lab robot"
case_number = "2026-0300"
threads = 1
reports = ["csv"]

[[item]]
image = "stick.img"
map = "stick.map"

[[item]]
image = "card.img"

[[item]]
image = "mac.dmg"

[[item]]
image = "big.img"
"#;

fn setup(dir: &Path) -> PathBuf {
    copy_items(dir);
    std::fs::write(dir.join("big.img"), noise(24 << 20, 11)).unwrap();
    let job = dir.join("job.toml");
    std::fs::write(&job, JOB).unwrap();
    let o = run(&["batch", job.to_str().unwrap()]);
    assert!(matches!(o.status.code(), Some(0 | 3)), "{}", stderr(&o));
    std::fs::rename(dir.join("cases"), dir.join("single")).unwrap();
    job
}

/// `sbatch --wait` of the recipe with `dredge` as DREDGE; the driver's output.
fn sbatch(dir: &Path, job: &Path, dredge: &Path) -> String {
    let o = Command::new("sbatch")
        .current_dir(dir)
        .env("DREDGE", dredge)
        // A driver that hangs is ended by Slurm and the test fails, instead of
        // holding CI until its own limit.
        .args(["--wait", "--time=15", "--output"])
        .arg(dir.join("driver.out"))
        .arg(repo().join("deploy/slurm/dredge-array.sbatch"))
        .arg(job)
        .arg("4")
        .output()
        .unwrap();
    let out = std::fs::read_to_string(dir.join("driver.out")).unwrap_or_default();
    assert!(
        o.status.success(),
        "sbatch: {}{}\n{out}",
        stdout(&o),
        stderr(&o)
    );
    out
}

#[test]
fn an_array_job_of_four_shards_writes_the_single_run_case() {
    if !cluster() {
        return;
    }
    let d = tempfile::tempdir_in(repo().join("target")).unwrap();
    let job = setup(d.path());
    let out = sbatch(d.path(), &job, Path::new(env!("CARGO_BIN_EXE_dredge")));
    assert!(out.contains("4 shards"), "{out}");
    assert_same_case(&d.path().join("single/all"), &d.path().join("cases/all"));
    for k in 1..=4 {
        assert!(d
            .path()
            .join(format!("cases/all.shards/{k}-of-4/case.sqlite"))
            .is_file());
    }
}

#[test]
fn a_shard_killed_mid_run_is_submitted_again_and_the_case_is_the_same() {
    if !cluster() {
        return;
    }
    let d = tempfile::tempdir_in(repo().join("target")).unwrap();
    let job = setup(d.path());
    // A dredge that dies (SIGKILL, as a node that fails) the first time it runs
    // shard 4 (the big image), once that shard's progress shows.
    let wrapper = d.path().join("dredge-dies-once.sh");
    std::fs::write(
        &wrapper,
        format!(
            r#"#!/bin/bash
real={real}
if [ "${{SLURM_ARRAY_TASK_ID:-}}" = 4 ] && [ ! -e {marker} ]; then
    touch {marker}
    "$real" "$@" > /dev/null &
    pid=$!
    # Until its progress shows; a dredge that ended first (nothing to kill) is
    # not waited on for ever: the test then fails on what the driver printed.
    until grep -q '"progress"' {progress} 2>/dev/null; do
        kill -0 $pid 2>/dev/null || exit 137
        sleep 0.01
    done
    kill -9 $pid
    exit 137
fi
exec "$real" "$@"
"#,
            real = env!("CARGO_BIN_EXE_dredge"),
            marker = d.path().join("killed-once").display(),
            progress = d
                .path()
                .join("cases/all.shards/4-of-4/progress.jsonl")
                .display(),
        ),
    )
    .unwrap();
    std::os::unix::fs::PermissionsExt::set_mode(
        &mut std::fs::metadata(&wrapper).unwrap().permissions(),
        0o755,
    );
    assert!(Command::new("chmod")
        .arg("755")
        .arg(&wrapper)
        .status()
        .unwrap()
        .success());
    let out = sbatch(d.path(), &job, &wrapper);
    assert!(d.path().join("killed-once").exists(), "{out}");
    assert!(out.contains("shards 4 did not finish"), "{out}");
    assert!(d.path().join("cases/all.shards/4-of-4.attempt-1").is_dir());
    assert_same_case(&d.path().join("single/all"), &d.path().join("cases/all"));
}
