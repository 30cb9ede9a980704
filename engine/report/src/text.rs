//! Names from evidence are hostile: control characters, escape sequences and markup
//! must never reach a terminal, a browser or an XML parser as they are.

pub use dredge_core::visible;

/// Text for XML and HTML: markup characters as entities, after [`visible`].
pub fn markup(s: &str) -> String {
    let v = visible(s);
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Which of a file's MAC(B) times a recorded time source is: 'm' content modified,
/// 'a' accessed, 'c' metadata changed, 'b' born (created), 'd' deleted.
pub fn macb(source: &str) -> Option<char> {
    let s = source.trim_end_matches("(date)");
    if s.ends_with("mft_modified") || s.ends_with("ctime") {
        Some('c')
    } else if s.ends_with("modified") || s.ends_with("written") || s.ends_with("mtime") {
        Some('m')
    } else if s.ends_with("accessed") || s.ends_with("atime") {
        Some('a')
    } else if s.ends_with("created") || s.ends_with("crtime") {
        Some('b')
    } else if s.ends_with("dtime") {
        Some('d')
    } else {
        None
    }
}

/// Seconds since 1970 of a stored UTC time (`YYYY-MM-DDTHH:MM:SS[.ffffff]Z`).
pub fn unix_seconds(utc: &str) -> Option<i64> {
    let (y, mo, d, h, mi, s) = utc_fields(utc)?;
    let days = dredge_core::time::days_from_civil(y, mo, d);
    Some(days * 86_400 + i64::from(h) * 3600 + i64::from(mi) * 60 + i64::from(s))
}

/// The fields of a stored UTC time (`2026-10-30T12:00:00.000000Z`): year, month,
/// day, hour, minute, second; None unless it has that shape and a real month and day.
pub(crate) fn utc_fields(utc: &str) -> Option<(i64, u32, u32, u32, u32, u32)> {
    let b = utc.as_bytes();
    if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' {
        return None;
    }
    let n = |r: std::ops::Range<usize>| utc.get(r)?.parse::<u32>().ok();
    let y = i64::from(n(0..4)?);
    let (mo, d) = (n(5..7)?, n(8..10)?);
    let (h, mi, s) = (n(11..13)?, n(14..16)?, n(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 60 {
        return None;
    }
    Some((y, mo, d, h, mi, s))
}

/// A file's time of kind `k` (m, a, c, b) among its recorded (source, UTC) times:
/// the first of its own, else the first copy (NTFS $FILE_NAME) — the one rule every
/// report and the TUI use.
pub fn pick_time(times: &[(String, String)], k: char) -> Option<&(String, String)> {
    let of_kind = |t: &&(String, String)| macb(&t.0) == Some(k);
    times
        .iter()
        .filter(of_kind)
        .find(|t| !t.0.contains(".fn."))
        .or_else(|| times.iter().find(of_kind))
}

/// How a file came to be recovered: "carved", "deleted" or "allocated".
pub fn allocation(a: &dredge_store::ArtifactRecord) -> &'static str {
    if a.origin == dredge_store::ArtifactOrigin::Carved {
        "carved"
    } else if a.deleted {
        "deleted"
    } else {
        "allocated"
    }
}

/// The entry's number in its filesystem, which ends its forensic path (`…/file:1234`).
pub fn entry_number(forensic_path: &str) -> Option<u64> {
    forensic_path.rsplit(':').next()?.parse().ok()
}

/// An evidence digest, or why there is none: the examiner chose other hashes.
pub fn digest(d: &Option<String>) -> String {
    d.clone()
        .unwrap_or_else(|| "not computed (--hash)".to_string())
}

/// A byte count for people: 1 536 → "1.5 KiB".
pub fn bytes(n: u64) -> String {
    const U: [&str; 6] = ["bytes", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut v = n as f64;
    let mut i = 0;
    while v >= 1024.0 && i < U.len() - 1 {
        v /= 1024.0;
        i += 1;
    }
    if i == 0 {
        format!("{n} bytes")
    } else {
        format!("{v:.1} {} ({n} bytes)", U[i])
    }
}

/// The unreadable ranges of an artifact as "offset+len (why)", file offsets.
pub fn gaps(g: &[dredge_core::Gap]) -> String {
    g.iter()
        .map(|g| format!("{}+{} ({})", g.offset, g.len, g.why))
        .collect::<Vec<_>>()
        .join("; ")
}

/// The custody head a report was made from, as `dredge verify CASE --head` takes it:
/// `SEQ:HASH` of the newest event the report read.
/// Who signed the custody log: the key's fingerprint and the key itself, so a
/// reader can compare it with the one the examiner holds.
pub fn signing_line(model: &crate::Model) -> String {
    match &model.signing_key {
        Some(k) => format!(
            "every event signed, Ed25519 key {} ({k})",
            dredge_store::sign::fingerprint(k)
        ),
        None => "not signed".to_string(),
    }
}

pub fn head_line(model: &crate::Model) -> String {
    model
        .events
        .last()
        .map_or("none (empty log)".to_string(), |e| {
            format!("{}:{}", e.seq, e.hash)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_names_become_visible_text() {
        assert_eq!(visible("a\x1b[31mb\nc"), "a\\x1b[31mb\\x0ac");
        assert_eq!(visible("x\u{85}y\\z"), "x\\u{85}y\\\\z");
        assert_eq!(visible("plain é"), "plain é");
        assert_eq!(markup("<b>&\x07"), "&lt;b&gt;&amp;\\x07");
    }

    #[test]
    fn times_map_to_macb_and_epoch() {
        assert_eq!(macb("ntfs.si.mft_modified"), Some('c'));
        assert_eq!(macb("fat.written"), Some('m'));
        assert_eq!(macb("fat.accessed(date)"), Some('a'));
        assert_eq!(macb("ext.crtime"), Some('b'));
        assert_eq!(macb("ext.dtime"), Some('d'));
        assert_eq!(unix_seconds("1970-01-02T00:00:01.000000Z"), Some(86_401));
        assert_eq!(
            unix_seconds("2026-10-30T12:00:00.000000Z"),
            Some(1_793_361_600)
        );
        assert_eq!(unix_seconds("garbage"), None);
    }
}
