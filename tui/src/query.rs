//! The file browser's search line: words match the path (any case); `type:jpg`,
//! `size>1M`, `size<4k`, `time:2024-05` (modification time starting so),
//! `after:2024-01-01` and `before:2024-02` narrow by type, size and time. Every term
//! must hold.

use dredge_session::{parse_size, ArtifactRecord};

#[derive(Debug, Clone, PartialEq, Eq)]
enum Term {
    Text(String),
    Type(String),
    Larger(u64),
    Smaller(u64),
    TimePrefix(String),
    After(String),
    Before(String),
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query(Vec<Term>);

impl Query {
    /// Parses the search line. A term that does not parse (yet: it may be half
    /// typed) is left out and named in the second value.
    pub fn parse(s: &str) -> (Query, Option<String>) {
        let mut terms = Vec::new();
        let mut bad = None;
        for w in s.split_whitespace() {
            match Query::term(w) {
                Ok(t) => terms.push(t),
                Err(e) => bad = Some(e),
            }
        }
        (Query(terms), bad)
    }

    fn term(w: &str) -> Result<Term, String> {
        {
            let lw = w.to_lowercase();
            let t = if let Some(v) = lw.strip_prefix("type:") {
                Term::Type(v.trim_start_matches('.').to_string())
            } else if let Some(v) = lw.strip_prefix("size>") {
                Term::Larger(parse_size(v).map_err(|e| format!("{w}: {e}"))?)
            } else if let Some(v) = lw.strip_prefix("size<") {
                Term::Smaller(parse_size(v).map_err(|e| format!("{w}: {e}"))?)
            } else if let Some(v) = lw.strip_prefix("time:") {
                Term::TimePrefix(v.to_uppercase())
            } else if let Some(v) = lw.strip_prefix("after:") {
                Term::After(v.to_uppercase())
            } else if let Some(v) = lw.strip_prefix("before:") {
                Term::Before(v.to_uppercase())
            } else {
                Term::Text(lw)
            };
            Ok(t)
        }
    }

    /// Whether an artifact (with its path in lower case, its type as the browser sees
    /// it, its modification time) passes every term.
    pub fn matches(
        &self,
        a: &ArtifactRecord,
        lower: &str,
        file_type: &str,
        mtime: Option<&str>,
    ) -> bool {
        self.0.iter().all(|t| match t {
            Term::Text(s) => lower.contains(s.as_str()),
            Term::Type(s) => file_type == s,
            Term::Larger(n) => a.size > *n,
            Term::Smaller(n) => a.size < *n,
            Term::TimePrefix(p) => mtime.is_some_and(|m| m.starts_with(p.as_str())),
            Term::After(p) => mtime.is_some_and(|m| m >= p.as_str()),
            Term::Before(p) => mtime.is_some_and(|m| m < p.as_str()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn art(path: &str, size: u64) -> ArtifactRecord {
        ArtifactRecord {
            path: path.into(),
            size,
            ..Default::default()
        }
    }

    #[test]
    fn terms_combine() {
        let (q, bad) = Query::parse("Ledger type:TXT size>1k before:2024-06");
        assert_eq!(bad, None);
        let a = art("/Ledger/2024.txt", 5000);
        let l = "/ledger/2024.txt";
        assert!(q.matches(&a, l, "txt", Some("2024-05-01T00:00:00Z")));
        assert!(!q.matches(&a, l, "txt", Some("2024-06-01T00:00:00Z")));
        assert!(!q.matches(&a, l, "txt", None), "no time: a time term fails");
        assert!(!q.matches(&art("/Ledger/2024.txt", 1000), l, "txt", Some("2024")));
        assert!(!q.matches(&a, l, "jpg", Some("2024-05")));
        assert!(!q.matches(&a, "/other.txt", "txt", Some("2024-05")));
        let (t, _) = Query::parse("time:2024-05-01");
        assert!(t.matches(&a, l, "", Some("2024-05-01T10:00:00Z")));
        let (q, bad) = Query::parse("ledger size>lots");
        assert!(bad.unwrap().contains("size>lots"));
        assert!(q.matches(&a, l, "txt", None), "the bad term is left out");
    }
}
