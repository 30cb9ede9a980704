//! exFAT end to end on the committed image made by testimages/make-exfat.sh.

mod common;

use common::*;
use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

#[test]
fn exfat_recover_matches_the_manifest_and_covers_tsk_recover() {
    let d = tempfile::tempdir().unwrap();
    let img = Path::new(env!("CARGO_MANIFEST_DIR")).join("testimages/exfat/small.img");
    let manifest = std::fs::read_to_string(img.with_file_name("MANIFEST.txt")).unwrap();
    let witness = ReadOnlyWitness::new(&[&img]);
    let out = d.path().join("case");
    let arts = one_shot_ls("recover", &img, None, &out, 0, &[]);
    let mut ours = BTreeSet::new();
    for a in arts.iter().filter(|a| a["kind"] == "file") {
        let rel = a["path"].as_str().unwrap().trim_start_matches('/');
        let h = a["sha256"].as_str().unwrap();
        assert!(manifest.contains(&format!("{h}  {rel}")), "{rel}");
        ours.insert(h.to_string());
    }
    assert_eq!(ours.len(), 5, "three allocated and two deleted files");
    assert_eq!(arts.iter().filter(|a| a["deleted"] == true).count(), 2);
    if tools(&["tsk_recover"]) {
        let t = d.path().join("tsk");
        let _ = Command::new("tsk_recover")
            .arg("-e")
            .arg(&img)
            .arg(&t)
            .output();
        let mut tsk = BTreeSet::new();
        let mut stack = vec![t];
        while let Some(p) = stack.pop() {
            for e in std::fs::read_dir(&p).into_iter().flatten().flatten() {
                if e.file_type().unwrap().is_dir() {
                    stack.push(e.path());
                } else if !e.file_name().to_string_lossy().starts_with('$') {
                    tsk.insert(sha256_file(&e.path()));
                }
            }
        }
        let missing: Vec<&String> = tsk.difference(&ours).collect();
        assert!(
            missing.is_empty(),
            "tsk_recover recovered {missing:?} that dredge did not"
        );
    }
    witness.assert_unchanged();
}
