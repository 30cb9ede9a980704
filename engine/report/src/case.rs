//! CASE/UCO JSON-LD (CASE 1.x): the tool, the examiner, each evidence item with its
//! hashes and provenance record, every session as an investigative action (who,
//! when, with which tool and which exact options, what it used and produced), and
//! every artifact as a file with its hashes, times, allocation state and the image
//! ranges it was read from.
//!
//! Streamed: an artifact joins its evidence's provenance record through a separate
//! node object with the same `@id` (JSON-LD merges them), so nothing is held back
//! until the end.

use crate::text::visible;
use crate::{io_error, Model};
use dredge_store::{ArtifactRecord, SessionCommand, SessionStatus, Store, StoreError};
use serde_json::{json, Value};
use std::io::Write;

fn context(uuid: &str) -> Value {
    json!({
        "kb": format!("urn:dredge:{uuid}:"),
        "case-investigation": "https://ontology.caseontology.org/case/investigation/",
        "uco-action": "https://ontology.unifiedcyberontology.org/uco/action/",
        "uco-configuration": "https://ontology.unifiedcyberontology.org/uco/configuration/",
        "uco-core": "https://ontology.unifiedcyberontology.org/uco/core/",
        "uco-identity": "https://ontology.unifiedcyberontology.org/uco/identity/",
        "uco-observable": "https://ontology.unifiedcyberontology.org/uco/observable/",
        "uco-tool": "https://ontology.unifiedcyberontology.org/uco/tool/",
        "uco-types": "https://ontology.unifiedcyberontology.org/uco/types/",
        "uco-vocabulary": "https://ontology.unifiedcyberontology.org/uco/vocabulary/",
        "xsd": "http://www.w3.org/2001/XMLSchema#"
    })
}

fn time(utc: &str) -> Value {
    json!({"@type": "xsd:dateTime", "@value": utc})
}

fn int(n: u64) -> Value {
    json!({"@type": "xsd:integer", "@value": n})
}

/// A stable UUID (version 5 layout, from SHA-256) for a name within this case, so the
/// same case gives the same graph and every node ends in a UUID as UCO asks.
fn iri(s: &str) -> String {
    use sha2::{Digest, Sha256};
    let h = Sha256::digest(s.as_bytes());
    let mut b = [0u8; 16];
    b.copy_from_slice(&h[..16]);
    b[6] = (b[6] & 0x0F) | 0x50;
    b[8] = (b[8] & 0x3F) | 0x80;
    let x: String = b.iter().map(|v| format!("{v:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &x[..8],
        &x[8..12],
        &x[12..16],
        &x[16..20],
        &x[20..]
    )
}

/// The provenance record of what was recovered from one evidence item.
fn recovered(label: &str) -> String {
    format!("kb:provenance-{}", iri(&format!("{label}/recovered")))
}

fn hashes(id: &str, md5: &str, sha1: &str, sha256: &str) -> Value {
    hashes_of(
        id,
        &[
            ("MD5", Some(md5)),
            ("SHA1", Some(sha1)),
            ("SHA256", Some(sha256)),
        ],
    )
}

/// The hashes held (evidence registered with `--hash` holds fewer than three).
fn hashes_of(id: &str, values: &[(&str, Option<&str>)]) -> Value {
    let h = |name: &str, v: &str| {
        json!({
            "@id": format!("kb:hash-{}", iri(&format!("{id}/{name}"))),
            "@type": "uco-types:Hash",
            "uco-types:hashMethod": name,
            "uco-types:hashValue": {"@type": "xsd:hexBinary", "@value": v}
        })
    };
    Value::Array(
        values
            .iter()
            .filter_map(|(name, v)| v.map(|v| h(name, v)))
            .collect(),
    )
}

/// The UCO action status of a session status as the log recorded it.
fn status(s: &str) -> &'static str {
    match SessionStatus::parse(s) {
        Some(SessionStatus::Complete | SessionStatus::CompleteWithGaps) => "Complete/Finish",
        Some(SessionStatus::Failed) => "Fail",
        Some(SessionStatus::Running) => "Ongoing",
        Some(SessionStatus::Interrupted) => "Error",
        None => "Unknown",
    }
}

fn file(a: &ArtifactRecord) -> Value {
    let id = format!("kb:file-{}", iri(&a.id));
    let name = a.path.rsplit('/').next().unwrap_or(&a.path);
    let mut ff = json!({
        "@id": format!("kb:file-facet-{}", iri(&id)),
        "@type": "uco-observable:FileFacet",
        "uco-observable:fileName": visible(name),
        "uco-observable:filePath": visible(&a.path),
        "uco-observable:sizeInBytes": int(a.size),
        "uco-observable:isDirectory": a.kind == dredge_core::EntryKind::Directory,
        "uco-observable:allocationStatus": crate::text::allocation(a),
    });
    for (k, prop) in [
        ('m', "uco-observable:modifiedTime"),
        ('a', "uco-observable:accessedTime"),
        ('c', "uco-observable:metadataChangeTime"),
        ('b', "uco-observable:observableCreatedTime"),
    ] {
        if let Some((_, utc)) = crate::text::pick_time(&a.times, k) {
            ff[prop] = time(utc);
        }
    }
    let mut facets = vec![ff];
    if let Some((md5, sha1, sha256)) = &a.digests {
        facets.push(json!({
            "@id": format!("kb:content-facet-{}", iri(&id)),
            "@type": "uco-observable:ContentDataFacet",
            "uco-observable:sizeInBytes": int(a.size),
            "uco-observable:hash": hashes(&id, md5, sha1, sha256),
        }));
    }
    for (i, r) in a.runs.iter().enumerate() {
        if let Some(o) = r.image_offset {
            facets.push(json!({
                "@id": format!("kb:range-facet-{}", iri(&format!("{id}/{i}"))),
                "@type": "uco-observable:DataRangeFacet",
                "uco-observable:rangeOffset": int(o),
                "uco-observable:rangeSize": int(r.len),
                "uco-observable:rangeOffsetType": "image",
            }));
        }
    }
    let mut tags = vec![
        a.origin.to_string(),
        a.status.to_string(),
        a.recovery.as_str().to_string(),
    ];
    if a.deleted {
        tags.push("deleted".into());
    }
    let mut desc = format!("{} ({})", visible(&a.forensic_path), a.status);
    if let Some(d) = &a.recovery_detail {
        desc += &format!("; {d}");
    }
    if !a.gaps.is_empty() {
        desc += &format!(
            "; unreadable {} bytes at file offsets {}",
            a.unreadable_bytes,
            crate::text::gaps(&a.gaps)
        );
    }
    json!({
        "@id": id,
        "@type": "uco-observable:File",
        "uco-core:name": visible(name),
        "uco-core:description": desc,
        "uco-core:tag": tags,
        "uco-core:hasFacet": facets,
    })
}

pub fn write(store: &Store, model: &Model, out: &mut dyn Write) -> Result<(), StoreError> {
    let io = io_error(store, "CASE");
    let uuid = &model.case.uuid;
    let put = |out: &mut dyn Write, first: &mut bool, v: &Value| -> std::io::Result<()> {
        if !*first {
            out.write_all(b",\n")?;
        }
        *first = false;
        out.write_all(serde_json::to_string(v).unwrap_or_default().as_bytes())
    };
    let mut first = true;
    out.write_all(
        format!(
            "{{\"@context\": {},\n\"@graph\": [\n",
            serde_json::to_string(&context(uuid)).unwrap_or_default()
        )
        .as_bytes(),
    )
    .map_err(&io)?;
    let tool = format!(
        "kb:tool-{}",
        iri(&format!("dredge {}", dredge_core::TOOL_VERSION))
    );
    let tool = tool.as_str();
    let examiner = format!("kb:examiner-{}", iri(&model.case.info.examiner));
    let mut head = vec![
        json!({
            "@id": tool,
            "@type": "uco-tool:Tool",
            "uco-core:name": "dredge",
            "uco-tool:version": dredge_core::TOOL_VERSION,
            "uco-tool:toolType": "forensic data extraction from damaged media",
        }),
        json!({
            "@id": examiner,
            "@type": "uco-identity:Person",
            "uco-core:name": model.case.info.examiner,
        }),
        json!({
            "@id": format!("kb:investigation-{uuid}"),
            "@type": "case-investigation:Investigation",
            "uco-core:name": model.case.info.case_number.clone().unwrap_or_else(|| uuid.clone()),
            "uco-core:description": model.case.info.description.clone().unwrap_or_default(),
        }),
    ];
    let mut evidence_ids = Vec::new();
    for e in &model.evidence {
        let r = &e.row;
        let id = format!("kb:evidence-{}", iri(&r.label));
        let prov = format!("kb:provenance-{}", iri(&format!("{}/registered", r.label)));
        let mut desc = format!(
            "evidence {} ({}), {} bytes unreadable in {} ranges",
            r.label,
            r.kind,
            r.bad_bytes,
            e.gaps.len()
        );
        if let Some(m) = &r.map_path {
            desc += &format!("; bad-sector map {m}");
        }
        head.push(json!({
            "@id": id,
            "@type": "uco-observable:File",
            "uco-core:name": visible(&r.path),
            "uco-core:description": desc,
            "uco-core:hasFacet": [
                {
                    "@id": format!("kb:file-facet-{}", iri(&id)),
                    "@type": "uco-observable:FileFacet",
                    "uco-observable:filePath": visible(&r.path),
                    "uco-observable:sizeInBytes": int(r.size),
                },
                {
                    "@id": format!("kb:content-facet-{}", iri(&id)),
                    "@type": "uco-observable:ContentDataFacet",
                    "uco-observable:sizeInBytes": int(r.size),
                    "uco-observable:hash": hashes_of(&id, &[
                        ("MD5", r.md5.as_deref()),
                        ("SHA1", r.sha1.as_deref()),
                        ("SHA256", r.sha256.as_deref()),
                    ]),
                }
            ]
        }));
        head.push(json!({
            "@id": prov,
            "@type": "case-investigation:ProvenanceRecord",
            "case-investigation:exhibitNumber": r.label,
            "uco-core:description": format!("evidence {} as registered", r.label),
            "uco-core:object": [{"@id": id}],
        }));
        evidence_ids.push(json!({"@id": id}));
    }
    for s in &model.sessions {
        let id = format!("kb:action-{}", iri(&format!("session {}", s.id)));
        let tool_id = format!("kb:configured-tool-{}", iri(&id));
        let entries: Vec<Value> = s
            .args
            .as_object()
            .into_iter()
            .flatten()
            .enumerate()
            .map(|(i, (k, v))| {
                json!({
                    "@id": format!("kb:configuration-entry-{}", iri(&format!("{id}/{i}"))),
                    "@type": "uco-configuration:ConfigurationEntry",
                    "uco-configuration:itemName": k,
                    "uco-configuration:itemValue": match v { Value::String(s) => s.clone(), v => v.to_string() },
                })
            })
            .collect();
        head.push(json!({
            "@id": tool_id,
            "@type": "uco-tool:ConfiguredTool",
            "uco-core:name": "dredge",
            "uco-tool:version": s.tool_version,
            "uco-configuration:isConfigurationOf": {"@id": tool},
            "uco-configuration:usesConfiguration": {
                "@id": format!("kb:configuration-{}", iri(&id)),
                "@type": "uco-configuration:Configuration",
                "uco-configuration:configurationEntry": entries,
            }
        }));
        let mut action = json!({
            "@id": id,
            "@type": "case-investigation:InvestigativeAction",
            "uco-core:name": format!("dredge {}", s.command),
            "uco-action:startTime": time(&s.started),
            "uco-action:performer": {"@id": examiner},
            "uco-action:instrument": {"@id": tool_id},
            "uco-action:actionStatus": status(&s.status),
            "uco-action:object": evidence_ids,
        });
        if let Some(end) = &s.ended {
            action["uco-action:endTime"] = time(end);
        }
        // `recover` and `carve` record their work as a scan session.
        if SessionCommand::parse(&s.command) == Some(SessionCommand::Scan) {
            action["uco-action:result"] = model
                .evidence
                .iter()
                .map(|e| json!({"@id": recovered(&e.row.label)}))
                .collect();
        }
        head.push(action);
    }
    for e in &model.evidence {
        head.push(json!({
            "@id": recovered(&e.row.label),
            "@type": "case-investigation:ProvenanceRecord",
            "case-investigation:exhibitNumber": e.row.label,
            "uco-core:description": format!("files recovered and carved from evidence {}", e.row.label),
        }));
    }
    for v in &head {
        put(out, &mut first, v).map_err(&io)?;
    }
    store.each_artifact(None, &mut |a| {
        let prov = recovered(model.label(a.evidence_id));
        put(out, &mut first, &file(&a))?;
        put(
            out,
            &mut first,
            &json!({
                "@id": prov,
                "uco-core:object": [{"@id": format!("kb:file-{}", iri(&a.id))}],
            }),
        )
    })?;
    out.write_all(b"\n]}\n").map_err(&io)
}
