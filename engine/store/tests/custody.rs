use dredge_store::{CaseInfo, NewEvidence, SessionCommand, SessionStatus, Store};
use rusqlite::Connection;
use serde_json::json;

fn info() -> CaseInfo {
    CaseInfo {
        case_number: Some("2026-001".into()),
        examiner: "A. Examiner".into(),
        description: None,
    }
}

fn sample_evidence() -> NewEvidence {
    NewEvidence {
        path: "/evidence/disk.img".into(),
        segments: vec!["/evidence/disk.img".into()],
        kind: "raw".into(),
        size: 4096,
        md5: Some("m".repeat(32)),
        sha1: Some("s".repeat(40)),
        sha256: Some("h".repeat(64)),
        map_path: None,
        map_sha256: None,
        bad_bytes: 512,
        gaps: vec![dredge_core::Gap::new(
            1024,
            512,
            dredge_core::Why::Unreadable,
        )],
        extra: json!({}),
    }
}

fn case_with_events(dir: &std::path::Path) -> Store {
    let mut s = Store::create(dir, &info()).unwrap();
    let sid = s
        .begin_session(SessionCommand::Add, json!({"image": "disk.img"}))
        .unwrap();
    s.add_evidence(&sample_evidence(), Some(sid)).unwrap();
    s.end_session(
        sid,
        SessionStatus::CompleteWithGaps,
        json!({"bad_bytes": 512}),
    )
    .unwrap();
    s
}

#[test]
fn a_new_case_has_a_valid_chain_and_its_directories() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("case");
    let s = case_with_events(&dir);
    for sub in ["files", "carved", "reports"] {
        assert!(dir.join(sub).is_dir());
    }
    let events = s.events().unwrap();
    let actions: Vec<&str> = events.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(
        actions,
        [
            "case.create",
            "session.start",
            "evidence.add",
            "session.end"
        ]
    );
    assert_eq!(s.verify_chain().unwrap(), Ok(4));
    assert_eq!(s.verify_evidence_rows().unwrap(), Ok(()));
    drop(s);
    let s = Store::open(&dir).unwrap();
    assert_eq!(s.case().unwrap().info, info());
    assert_eq!(s.evidence().unwrap()[0].label, "ev1");
    assert_eq!(
        s.evidence_gaps(1).unwrap(),
        vec![dredge_core::Gap::new(
            1024,
            512,
            dredge_core::Why::Unreadable
        )]
    );
}

#[test]
fn the_database_refuses_updates_to_custody_rows() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("case");
    drop(case_with_events(&dir));
    let c = Connection::open(dir.join("case.sqlite")).unwrap();
    assert!(c
        .execute("UPDATE custody SET actor = 'x' WHERE seq = 1", [])
        .is_err());
    assert!(c.execute("DELETE FROM custody WHERE seq = 4", []).is_err());
}

/// Changes one byte of one column of one custody row, bypassing the guard triggers
/// as an attacker with the file could, and expects verify to name that event.
#[test]
fn changing_one_byte_of_any_custody_field_is_detected_and_named() {
    for (col, seq) in [
        ("time_utc", 1),
        ("actor", 2),
        ("action", 3),
        ("params", 3),
        ("tool_version", 4),
        ("prev_hash", 2),
        ("hash", 3),
    ] {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path().join("case");
        drop(case_with_events(&dir));
        let c = Connection::open(dir.join("case.sqlite")).unwrap();
        c.execute_batch("DROP TRIGGER custody_no_update;").unwrap();
        let old: String = c
            .query_row(
                &format!("SELECT {col} FROM custody WHERE seq = ?1"),
                [seq],
                |r| r.get(0),
            )
            .unwrap();
        // Flip one character that keeps JSON valid where it matters.
        let idx = old.rfind(|ch: char| ch.is_ascii_alphanumeric()).unwrap();
        let mut bytes = old.clone().into_bytes();
        bytes[idx] = if bytes[idx] == b'1' { b'2' } else { b'1' };
        let new = String::from_utf8(bytes).unwrap();
        c.execute(
            &format!("UPDATE custody SET {col} = ?1 WHERE seq = ?2"),
            rusqlite::params![new, seq],
        )
        .unwrap();
        drop(c);
        let s = Store::open(&dir).unwrap();
        let brk = s.verify_chain().unwrap().expect_err(col);
        // A changed hash is noticed at its own row or, for a changed stored hash
        // that still matches nothing, no later than the row that links to it.
        assert!(
            brk.seq == seq || (col == "hash" && brk.seq == seq + 1),
            "{col}: {brk:?}"
        );
        assert!(
            brk.detail.contains(&format!("event {}", brk.seq)),
            "{}",
            brk.detail
        );
    }
}

#[test]
fn removing_the_newest_events_is_detected_through_the_head_anchor() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("case");
    drop(case_with_events(&dir));
    let c = Connection::open(dir.join("case.sqlite")).unwrap();
    c.execute_batch("DROP TRIGGER custody_no_delete; DELETE FROM custody WHERE seq = 4;")
        .unwrap();
    drop(c);
    let brk = Store::open(&dir)
        .unwrap()
        .verify_chain()
        .unwrap()
        .unwrap_err();
    assert_eq!(brk.seq, 4);
    assert!(brk.detail.contains("removed"), "{}", brk.detail);
}

#[test]
fn editing_an_evidence_row_is_detected_against_its_custody_event() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("case");
    drop(case_with_events(&dir));
    let c = Connection::open(dir.join("case.sqlite")).unwrap();
    c.execute("UPDATE evidence SET sha256 = ?1", [&"0".repeat(64)])
        .unwrap();
    drop(c);
    let s = Store::open(&dir).unwrap();
    assert_eq!(s.verify_chain().unwrap(), Ok(4));
    let brk = s.verify_evidence_rows().unwrap().unwrap_err();
    assert_eq!(brk.seq, 3);
    assert!(brk.detail.contains("sha256"), "{}", brk.detail);
}

#[test]
fn things_that_are_not_cases_are_refused_with_their_path() {
    let d = tempfile::tempdir().unwrap();
    let e = Store::open(&d.path().join("missing")).err().unwrap();
    assert!(e.to_string().contains("no such case directory"), "{e}");
    let e = Store::open(d.path()).err().unwrap();
    assert!(e.to_string().contains("is not a dredge case"), "{e}");
    let junk = d.path().join("junk");
    std::fs::create_dir(&junk).unwrap();
    std::fs::write(
        junk.join("case.sqlite"),
        b"this is not sqlite at all, not even close......",
    )
    .unwrap();
    let e = Store::open(&junk).err().unwrap();
    assert!(e.to_string().contains("case.sqlite"), "{e}");
    // An existing case is not overwritten by create.
    let dir = d.path().join("case");
    drop(case_with_events(&dir));
    let e = Store::create(&dir, &info()).err().unwrap();
    assert!(e.to_string().contains("already a case"), "{e}");
}

/// A later migration that adds a nullable column leaves earlier seals valid (NULL
/// cells are not in a row's digest), and a value set in it is still caught.
#[test]
fn a_nullable_column_added_later_keeps_old_seals_and_is_sealed_itself() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("case");
    let mut s = Store::create(&dir, &info()).unwrap();
    let ev = s.add_evidence(&sample_evidence(), None).unwrap();
    let a = dredge_store::ArtifactRecord {
        id: "ev1/v0/fat/5".into(),
        evidence_id: ev.id,
        unit: "v0".into(),
        origin: dredge_store::ArtifactOrigin::Filesystem,
        forensic_path: "ev1/vol0@0/fat/file:5".into(),
        path: "/a.txt".into(),
        kind: dredge_core::EntryKind::File,
        size: 3,
        recovery: dredge_store::ArtifactRecovery::Allocated,
        status: dredge_store::ArtifactStatus::Complete,
        times: vec![("fat.mtime".into(), "2024-01-01T00:00:00Z".into())],
        ..Default::default()
    };
    s.insert_artifacts(&[a]).unwrap();
    s.finish_unit(ev.id, "v0", json!({}), None).unwrap();
    assert!(s.verify_artifact_rows().unwrap().is_ok());
    drop(s);
    let c = Connection::open(dir.join("case.sqlite")).unwrap();
    c.execute_batch("ALTER TABLE artifacts ADD COLUMN note TEXT")
        .unwrap();
    drop(c);
    let s = Store::open(&dir).unwrap();
    assert!(
        s.verify_artifact_rows().unwrap().is_ok(),
        "an added NULL column broke the seal"
    );
    drop(s);
    let c = Connection::open(dir.join("case.sqlite")).unwrap();
    c.execute_batch("UPDATE artifacts SET note = 'x'").unwrap();
    drop(c);
    let s = Store::open(&dir).unwrap();
    assert!(
        s.verify_artifact_rows().unwrap().is_err(),
        "a value in the new column escaped the seal"
    );
}
