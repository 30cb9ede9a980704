//! The Kubernetes recipe (deploy/k8s) holds what an Indexed Job of dredge shards
//! and its merge need: parsed as YAML (python3-yaml; kubeconform is not packaged
//! for Debian or PyPI) and checked field by field against the batch/v1 Job and
//! v1 PersistentVolumeClaim schemas' required fields and against each other.

mod common;
use serde_json::Value;
use std::path::PathBuf;

fn manifest(name: &str) -> Option<Value> {
    if !common::python_module("yaml") {
        common::skip("python3-yaml is not installed (scripts/install-tools.sh)");
        return None;
    }
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("deploy/k8s")
        .join(name);
    let o = std::process::Command::new("python3")
        .args([
            "-c",
            "import json, sys, yaml; d = list(yaml.safe_load_all(open(sys.argv[1]))); assert len(d) == 1, len(d); print(json.dumps(d[0]))",
        ])
        .arg(&p)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "{}: {}",
        p.display(),
        String::from_utf8_lossy(&o.stderr)
    );
    Some(serde_json::from_slice(&o.stdout).unwrap())
}

fn container(job: &Value) -> &Value {
    let pod = &job["spec"]["template"]["spec"];
    assert_eq!(
        pod["restartPolicy"], "Never",
        "a Job's pods may not restart in place"
    );
    let cs = pod["containers"].as_array().expect("containers");
    assert_eq!(cs.len(), 1);
    assert!(cs[0]["image"].as_str().is_some_and(|i| !i.is_empty()));
    assert!(cs[0]["name"].as_str().is_some_and(|n| !n.is_empty()));
    &cs[0]
}

fn claim(job: &Value) -> (String, String) {
    let pod = &job["spec"]["template"]["spec"];
    let c = container(job);
    let mount = &c["volumeMounts"][0];
    let vol = pod["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == mount["name"])
        .expect("the mounted volume is declared");
    (
        vol["persistentVolumeClaim"]["claimName"]
            .as_str()
            .unwrap()
            .to_string(),
        mount["mountPath"].as_str().unwrap().to_string(),
    )
}

#[test]
fn the_indexed_job_the_merge_and_the_volume_fit_together() {
    let (Some(shards), Some(merge), Some(pvc)) = (
        manifest("shards-job.yaml"),
        manifest("merge-job.yaml"),
        manifest("lab-volume.yaml"),
    ) else {
        return;
    };
    for j in [&shards, &merge] {
        assert_eq!(j["apiVersion"], "batch/v1");
        assert_eq!(j["kind"], "Job");
        assert!(j["metadata"]["name"].as_str().is_some());
    }
    // The shards: Indexed, N completions, N in DREDGE_SHARD_COUNT, `--shard auto`.
    let spec = &shards["spec"];
    assert_eq!(spec["completionMode"], "Indexed");
    let n = spec["completions"].as_u64().expect("completions");
    assert!(n >= 1);
    assert!(spec["parallelism"]
        .as_u64()
        .is_some_and(|p| p >= 1 && p <= n));
    let c = container(&shards);
    let env: Vec<&Value> = c["env"].as_array().unwrap().iter().collect();
    let count = env
        .iter()
        .find(|e| e["name"] == "DREDGE_SHARD_COUNT")
        .expect("DREDGE_SHARD_COUNT");
    assert_eq!(count["value"].as_str().unwrap(), n.to_string());
    let args: Vec<&str> = c["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert_eq!(args[0], "batch");
    let job_file = args[1];
    assert!(
        args.windows(2).any(|w| w == ["--shard", "auto"]),
        "{args:?}"
    );
    // The merge: the same job file, --merge with the same N, run once.
    let m = container(&merge);
    let margs: Vec<&str> = m["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert_eq!(margs[..2], ["batch", job_file]);
    let merge_n = margs
        .iter()
        .position(|a| *a == "--merge")
        .map(|i| margs[i + 1]);
    assert_eq!(merge_n, Some(n.to_string().as_str()));
    assert_eq!(merge["spec"]["completions"], 1);
    // One shared volume, the claim the PVC makes, ReadWriteMany, mounted where
    // the job file is.
    assert_eq!(pvc["apiVersion"], "v1");
    assert_eq!(pvc["kind"], "PersistentVolumeClaim");
    let name = pvc["metadata"]["name"].as_str().unwrap();
    assert!(pvc["spec"]["accessModes"]
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a == "ReadWriteMany"));
    assert!(pvc["spec"]["resources"]["requests"]["storage"]
        .as_str()
        .is_some());
    for j in [&shards, &merge] {
        let (claim_name, mount) = claim(j);
        assert_eq!(claim_name, name);
        assert!(
            job_file.starts_with(&format!("{mount}/")),
            "{job_file} is not under {mount}"
        );
    }
    // The container image is built from this repository.
    let docker = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("deploy/k8s/Dockerfile"),
    )
    .unwrap();
    assert!(docker.contains("cargo build --release"));
    assert!(docker.contains("ENTRYPOINT [\"/usr/local/bin/dredge\"]"));
}
