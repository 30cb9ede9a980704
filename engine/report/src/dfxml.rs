//! DFXML 2.0 (valid against the working group's XSD): one `diskimageobject` per
//! evidence item with its volumes and files (byte runs, hashes, MAC times). What DFXML
//! has no element for — acquisition hashes, unreadable ranges, recovery status, every
//! time with its source, the custody log and its verification — is in dredge's own
//! namespace, where the schema allows other namespaces.

use crate::text::{entry_number, macb, markup, visible};
use crate::{io_error, Model};
use dredge_store::{ArtifactOrigin, ArtifactRecord, ArtifactStatus, Store, StoreError};
use std::io::Write;

pub const NS: &str = "https://github.com/dredge-forensics/dredge/ns/report/1";

fn fileobject(out: &mut dyn Write, a: &ArtifactRecord) -> std::io::Result<()> {
    writeln!(out, "    <fileobject>")?;
    let escaped = if visible(&a.path) != a.path.as_str() {
        " dredge:escaped=\"1\""
    } else {
        ""
    };
    writeln!(
        out,
        "      <filename{escaped}>{}</filename>",
        markup(&a.path)
    )?;
    if a.status != ArtifactStatus::Complete {
        let why = a.recovery_detail.as_deref().unwrap_or(a.status.as_str());
        writeln!(out, "      <error>{}</error>", markup(why))?;
    }
    // ev1/vol2@1048576/…: DFXML numbers partitions from 1.
    if let Some(v) = a.forensic_path.split('/').find_map(|p| {
        p.strip_prefix("vol")?
            .split('@')
            .next()?
            .parse::<u64>()
            .ok()
    }) {
        writeln!(out, "      <partition>{}</partition>", v + 1)?;
    }
    writeln!(out, "      <id>{}</id>", markup(&a.id))?;
    let nt = match a.kind.as_str() {
        "dir" => "d",
        "file" => "r",
        _ => "-",
    };
    writeln!(out, "      <name_type>{nt}</name_type>")?;
    writeln!(out, "      <filesize>{}</filesize>", a.size)?;
    let alloc = u8::from(a.origin == ArtifactOrigin::Filesystem && !a.deleted);
    writeln!(out, "      <alloc>{alloc}</alloc>")?;
    if let Some(inode) =
        entry_number(&a.forensic_path).filter(|_| a.origin == ArtifactOrigin::Filesystem)
    {
        writeln!(out, "      <inode>{inode}</inode>")?;
    }
    for (k, el) in [
        ('m', "mtime"),
        ('c', "ctime"),
        ('a', "atime"),
        ('b', "crtime"),
    ] {
        if let Some((src, utc)) = crate::csv::time_of(a, k) {
            let prec = if src.ends_with("(date)") {
                " prec=\"86400\""
            } else {
                ""
            };
            writeln!(out, "      <{el}{prec}>{}</{el}>", markup(utc))?;
        }
    }
    if let Some((_, utc)) = a.times.iter().find(|t| macb(&t.0) == Some('d')) {
        writeln!(out, "      <dtime>{}</dtime>", markup(utc))?;
    }
    if !a.runs.is_empty() {
        writeln!(out, "      <byte_runs>")?;
        for r in &a.runs {
            let place = match (r.kind.as_str(), r.image_offset) {
                ("image", Some(o)) => format!(" img_offset=\"{o}\""),
                ("sparse", _) => " fill=\"0\"".to_string(),
                (k, _) => format!(" type=\"{}\"", markup(k)),
            };
            let bad = if r.unreadable_bytes > 0 {
                format!(" dredge:unreadable_bytes=\"{}\"", r.unreadable_bytes)
            } else {
                String::new()
            };
            writeln!(
                out,
                "        <byte_run file_offset=\"{}\" len=\"{}\"{place}{bad}/>",
                r.file_offset, r.len
            )?;
        }
        writeln!(out, "      </byte_runs>")?;
    }
    if let Some((md5, sha1, sha256)) = &a.digests {
        writeln!(out, "      <hashdigest type=\"md5\">{md5}</hashdigest>")?;
        writeln!(out, "      <hashdigest type=\"sha1\">{sha1}</hashdigest>")?;
        writeln!(
            out,
            "      <hashdigest type=\"sha256\">{sha256}</hashdigest>"
        )?;
    }
    writeln!(
        out,
        "      <dredge:recovery origin=\"{}\" method=\"{}\" status=\"{}\" deleted=\"{}\" unreadable_bytes=\"{}\">{}</dredge:recovery>",
        markup(a.origin.as_str()),
        markup(a.recovery.as_str()),
        markup(a.status.as_str()),
        u8::from(a.deleted),
        a.unreadable_bytes,
        markup(a.recovery_detail.as_deref().unwrap_or(""))
    )?;
    writeln!(
        out,
        "      <dredge:forensic_path>{}</dredge:forensic_path>",
        markup(&a.forensic_path)
    )?;
    for n in &a.other_names {
        writeln!(
            out,
            "      <dredge:other_name>{}</dredge:other_name>",
            markup(n)
        )?;
    }
    for (src, utc) in &a.times {
        writeln!(
            out,
            "      <dredge:time source=\"{}\">{}</dredge:time>",
            markup(src),
            markup(utc)
        )?;
    }
    for g in &a.gaps {
        writeln!(
            out,
            "      <dredge:unreadable file_offset=\"{}\" len=\"{}\" why=\"{}\"/>",
            g.offset,
            g.len,
            markup(g.why.as_str())
        )?;
    }
    if let Some(x) = &a.extracted {
        writeln!(
            out,
            "      <dredge:extracted>{}</dredge:extracted>",
            markup(x)
        )?;
    }
    if let Some(x) = &a.extract_note {
        writeln!(
            out,
            "      <dredge:extract_note>{}</dredge:extract_note>",
            markup(x)
        )?;
    }
    writeln!(out, "    </fileobject>")
}

fn put(out: &mut dyn Write, s: &str) -> std::io::Result<()> {
    out.write_all(s.as_bytes())
}

pub fn write(store: &Store, model: &Model, out: &mut dyn Write) -> Result<(), StoreError> {
    let io = io_error(store, "DFXML");
    let c = &model.case;
    put(out, &format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<dfxml xmlns=\"http://www.forensicswiki.org/wiki/Category:Digital_Forensics_XML\" xmlns:dc=\"http://purl.org/dc/elements/1.1/\" xmlns:dredge=\"{NS}\" version=\"2.0.0-beta.0\">\n"
    ))
    .map_err(&io)?;
    put(out, &format!(
        "  <metadata>\n    <dc:type>Forensic examination report</dc:type>\n    <dredge:case uuid=\"{}\" number=\"{}\" examiner=\"{}\" description=\"{}\" created=\"{}\" generated=\"{}\"/>\n  </metadata>\n",
        markup(&c.uuid),
        markup(c.info.case_number.as_deref().unwrap_or("")),
        markup(&c.info.examiner),
        markup(c.info.description.as_deref().unwrap_or("")),
        markup(&c.created_utc),
        markup(&model.generated_utc),
    ))
    .map_err(&io)?;
    put(out, &format!(
        "  <creator>\n    <program>dredge</program>\n    <version>{}</version>\n  </creator>\n  <source>\n",
        markup(dredge_core::TOOL_VERSION)
    ))
    .map_err(&io)?;
    for e in &model.evidence {
        put(
            out,
            &format!(
                "    <image_filename>{}</image_filename>\n",
                markup(&e.row.path)
            ),
        )
        .map_err(&io)?;
    }
    put(out, "  </source>\n").map_err(&io)?;
    for e in &model.evidence {
        let r = &e.row;
        let mut s = format!(
            "  <diskimageobject>\n    <dredge:evidence label=\"{}\" path=\"{}\" kind=\"{}\" size=\"{}\"{} unreadable_bytes=\"{}\"{}>\n",
            markup(&r.label),
            markup(&r.path),
            markup(&r.kind),
            r.size,
            [("md5", &r.md5), ("sha1", &r.sha1), ("sha256", &r.sha256)]
                .iter()
                .filter_map(|(k, v)| v.as_ref().map(|v| format!(" {k}=\"{v}\"")))
                .collect::<String>(),
            r.bad_bytes,
            r.map_path.as_ref().map_or(String::new(), |m| format!(
                " mapfile=\"{}\" mapfile_sha256=\"{}\"",
                markup(m),
                markup(r.map_sha256.as_deref().unwrap_or(""))
            )),
        );
        for (o, l, why) in e.gaps.iter().map(|g| (g.offset, g.len, g.why.as_str())) {
            s += &format!(
                "      <dredge:unreadable offset=\"{o}\" len=\"{l}\" why=\"{}\"/>\n",
                markup(why)
            );
        }
        for (t, res) in &e.verifications {
            s += &format!(
                "      <dredge:verified time=\"{}\" result=\"{}\"/>\n",
                markup(t),
                markup(res)
            );
        }
        for (t, h) in &e.unchanged {
            s += &format!(
                "      <dredge:unchanged time=\"{}\" sha256_before_and_after=\"{}\"/>\n",
                markup(t),
                markup(h)
            );
        }
        s += "    </dredge:evidence>\n";
        for v in &e.volumes {
            let fs: Vec<&str> = v.filesystems.iter().map(|(t, _)| t.as_str()).collect();
            s += &format!(
                "    <volume offset=\"{}\">\n      <partition_offset>{}</partition_offset>\n      <ftype_str>{}</ftype_str>\n      <dredge:volume index=\"{}\" len=\"{}\" kind=\"{}\" description=\"{}\"/>\n    </volume>\n",
                v.start,
                v.start,
                markup(&if fs.is_empty() { v.kind.clone() } else { fs.join(",") }),
                v.idx,
                v.len,
                markup(&v.kind),
                markup(&v.description),
            );
        }
        out.write_all(s.as_bytes()).map_err(&io)?;
        store.each_artifact(Some(r.id), &mut |a| fileobject(out, &a))?;
        out.write_all(b"  </diskimageobject>\n").map_err(&io)?;
    }
    let (ok, detail) = match &model.integrity {
        Ok(n) => (true, format!("{n} events, chain intact")),
        Err(b) => (false, format!("event {}: {}", b.seq, b.detail)),
    };
    let mut s = format!(
        "  <dredge:custody verified=\"{}\" detail=\"{}\">\n",
        ok,
        markup(&detail)
    );
    for e in &model.events {
        s += &format!(
            "    <dredge:event seq=\"{}\" time=\"{}\" actor=\"{}\" action=\"{}\" tool_version=\"{}\" prev_hash=\"{}\" hash=\"{}\">{}</dredge:event>\n",
            e.seq,
            markup(&e.time_utc),
            markup(&e.actor),
            markup(&e.action),
            markup(&e.tool_version),
            e.prev_hash,
            e.hash,
            markup(&e.params)
        );
    }
    s += "  </dredge:custody>\n</dfxml>\n";
    out.write_all(s.as_bytes()).map_err(&io)
}
