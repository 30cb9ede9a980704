//! The file browser's search line: words match the path (any case); `type:jpg`,
//! `size>1M`, `size<4k`, `time:2024-05` (modification time starting so),
//! `after:2024-01-01` and `before:2024-02` narrow by type, size and time. Every term
//! must hold. The store applies them (`dredge_session::Browse`).

use dredge_session::{parse_size, BrowseTerm};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query(pub Vec<BrowseTerm>);

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

    fn term(w: &str) -> Result<BrowseTerm, String> {
        let lw = w.to_lowercase();
        let t = if let Some(v) = lw.strip_prefix("type:") {
            BrowseTerm::Type(v.trim_start_matches('.').to_string())
        } else if let Some(v) = lw.strip_prefix("size>") {
            BrowseTerm::Larger(parse_size(v).map_err(|e| format!("{w}: {e}"))?)
        } else if let Some(v) = lw.strip_prefix("size<") {
            BrowseTerm::Smaller(parse_size(v).map_err(|e| format!("{w}: {e}"))?)
        } else if let Some(v) = lw.strip_prefix("time:") {
            BrowseTerm::TimePrefix(v.to_uppercase())
        } else if let Some(v) = lw.strip_prefix("after:") {
            BrowseTerm::After(v.to_uppercase())
        } else if let Some(v) = lw.strip_prefix("before:") {
            BrowseTerm::Before(v.to_uppercase())
        } else {
            BrowseTerm::Text(lw)
        };
        Ok(t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terms_parse() {
        let (q, bad) = Query::parse("Ledger type:.TXT size>1k before:2024-06 time:2024-05-01t10");
        assert_eq!(bad, None);
        assert_eq!(
            q.0,
            vec![
                BrowseTerm::Text("ledger".into()),
                BrowseTerm::Type("txt".into()),
                BrowseTerm::Larger(1024),
                BrowseTerm::Before("2024-06".into()),
                BrowseTerm::TimePrefix("2024-05-01T10".into()),
            ]
        );
        let (q, bad) = Query::parse("ledger size>lots");
        assert!(bad.unwrap().contains("size>lots"));
        assert_eq!(
            q.0,
            vec![BrowseTerm::Text("ledger".into())],
            "the bad term is left out"
        );
    }
}
