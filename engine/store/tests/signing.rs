//! Signed cases: every custody event carries the examiner's Ed25519 signature,
//! and the log cannot be changed or extended without the key.

use dredge_store::{sign, Action, CaseInfo, Store};
use rusqlite::Connection;
use serde_json::json;
use std::path::Path;

fn info() -> CaseInfo {
    CaseInfo {
        case_number: Some("2026-002".into()),
        examiner: "A. Examiner".into(),
        description: None,
    }
}

fn broken(s: &Store) -> String {
    match s.verify_chain().unwrap() {
        Ok(n) => panic!("the chain of {n} events still verifies"),
        Err(b) => format!("{}: {}", b.seq, b.detail),
    }
}

fn signed_case(dir: &Path, key: &Path) -> Store {
    let mut s = Store::create_signed(dir, &info(), Some(key)).unwrap();
    for i in 0..3 {
        s.append_event(Action::ReportGenerate, json!({"i": i}), None)
            .unwrap();
    }
    s
}

#[test]
fn a_signed_case_verifies_and_names_its_key() {
    let d = tempfile::tempdir().unwrap();
    let key = d.path().join("examiner.key");
    let public = sign::new_key_file(&key).unwrap();
    let s = signed_case(&d.path().join("case"), &key);
    assert_eq!(s.verify_chain().unwrap().unwrap(), 4);
    assert_eq!(s.signing_public_key().unwrap().as_deref(), Some(&*public));
    let c = Connection::open(d.path().join("case/case.sqlite")).unwrap();
    let n: i64 = c
        .query_row("SELECT COUNT(*) FROM head_signatures", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 4, "every event is signed");
    // The secret is nowhere in the store.
    let secret = std::fs::read_to_string(&key).unwrap();
    let seed = secret.split_whitespace().nth(1).unwrap().to_string();
    let db = std::fs::read(d.path().join("case/case.sqlite")).unwrap();
    assert!(!String::from_utf8_lossy(&db).contains(&seed));
}

#[test]
fn a_changed_moved_or_missing_signature_breaks_verification() {
    let d = tempfile::tempdir().unwrap();
    let key = d.path().join("examiner.key");
    sign::new_key_file(&key).unwrap();
    let dir = d.path().join("case");
    let s = signed_case(&dir, &key);
    drop(s);
    let c = Connection::open(dir.join("case.sqlite")).unwrap();
    // Event 3's signature put on event 2: valid bytes, wrong event.
    c.execute_batch(
        "CREATE TEMP TABLE keep AS SELECT * FROM head_signatures;
         UPDATE head_signatures SET signature = (SELECT signature FROM keep WHERE seq = 3) WHERE seq = 2;",
    )
    .unwrap();
    let s = Store::open(&dir).unwrap();
    let b = broken(&s);
    assert!(
        b.starts_with("2: event 2 has a signature that does not verify"),
        "{b}"
    );
    c.execute_batch(
        "UPDATE head_signatures SET signature = (SELECT signature FROM keep WHERE seq = 2) WHERE seq = 2;
         DELETE FROM head_signatures WHERE seq = 4;",
    )
    .unwrap();
    let b = broken(&s);
    assert!(b.starts_with("4: event 4 has no signature"), "{b}");
}

#[test]
fn nothing_is_appended_to_a_signed_case_without_its_key() {
    let d = tempfile::tempdir().unwrap();
    let key = d.path().join("examiner.key");
    sign::new_key_file(&key).unwrap();
    let dir = d.path().join("case");
    drop(signed_case(&dir, &key));
    let aside = d.path().join("elsewhere.key");
    std::fs::rename(&key, &aside).unwrap();
    let mut s = Store::open(&dir).unwrap();
    let e = s
        .append_event(Action::ReportGenerate, json!({}), None)
        .unwrap_err()
        .to_string();
    assert!(e.contains("this case is signed"), "{e}");
    assert!(s.ready_to_append().is_err());
    // Reading and verifying need no key.
    assert_eq!(s.verify_chain().unwrap().unwrap(), 4);
    // Another key at the recorded path is refused, not used.
    sign::new_key_file(&key).unwrap();
    let mut s = Store::open(&dir).unwrap();
    let e = s
        .append_event(Action::ReportGenerate, json!({}), None)
        .unwrap_err()
        .to_string();
    assert!(e.contains("but this case is signed with key"), "{e}");
    assert_eq!(s.verify_chain().unwrap().unwrap(), 4, "nothing was added");
    // The right key back at its path: appends are signed again.
    std::fs::remove_file(&key).unwrap();
    std::fs::rename(&aside, &key).unwrap();
    let mut s = Store::open(&dir).unwrap();
    s.append_event(Action::ReportGenerate, json!({}), None)
        .unwrap();
    assert_eq!(s.verify_chain().unwrap().unwrap(), 5);
}

#[test]
fn an_unsigned_case_holding_signatures_was_rewritten() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("case");
    let mut s = Store::create(&dir, &info()).unwrap();
    s.append_event(Action::ReportGenerate, json!({}), None)
        .unwrap();
    assert_eq!(s.signing_public_key().unwrap(), None);
    assert_eq!(s.verify_chain().unwrap().unwrap(), 2);
    let c = Connection::open(dir.join("case.sqlite")).unwrap();
    c.execute(
        "INSERT INTO head_signatures (seq, signature) VALUES (2, ?1)",
        ["00".repeat(64)],
    )
    .unwrap();
    assert!(broken(&s).contains("the case records no signing key"));
}

#[test]
fn key_files_are_checked_and_never_overwritten() {
    let d = tempfile::tempdir().unwrap();
    let key = d.path().join("k");
    let public = sign::new_key_file(&key).unwrap();
    assert_eq!(public.len(), 64);
    assert!(
        sign::new_key_file(&key).is_err(),
        "an existing file is kept"
    );
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&key).unwrap().permissions().mode();
    assert_eq!(mode & 0o077, 0, "only the owner may read the key");
    let other = d.path().join("notes.txt");
    std::fs::write(&other, "hello").unwrap();
    let e = sign::load_key(&other).unwrap_err().to_string();
    assert!(e.contains("not a dredge signing key"), "{e}");
    // A wrong path at creation leaves no case behind.
    let dir = d.path().join("case");
    assert!(Store::create_signed(&dir, &info(), Some(&d.path().join("nope"))).is_err());
    assert!(!dir.exists());
}
