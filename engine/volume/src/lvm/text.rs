//! LVM2's metadata text: the volume group as nested sections of `key = value`
//! lines (`vg { physical_volumes { pv0 { pe_start = 2048 … } } … }`), values
//! being integers, quoted strings or bracketed lists of them. The text comes
//! from the evidence, so the parser is bounded: nesting depth, and nothing
//! it builds is larger than the text it was given.

/// A value of the metadata text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    Int(i64),
    Str(String),
    List(Vec<Value>),
    Section(Vec<(String, Value)>),
}

impl Value {
    /// The entry `key` of a section (the first, should the text repeat it).
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Section(items) => items.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    pub fn int(&self, key: &str) -> Option<i64> {
        match self.get(key)? {
            Value::Int(n) => Some(*n),
            _ => None,
        }
    }

    pub fn str(&self, key: &str) -> Option<&str> {
        match self.get(key)? {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The subsections of a section, in the text's order.
    pub fn sections(&self) -> impl Iterator<Item = (&str, &Value)> {
        let items: &[(String, Value)] = match self {
            Value::Section(items) => items,
            _ => &[],
        };
        items
            .iter()
            .filter(|(_, v)| matches!(v, Value::Section(_)))
            .map(|(k, v)| (k.as_str(), v))
    }
}

/// Where the text stopped making sense, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    /// Byte offset into the text.
    pub at: usize,
    pub what: &'static str,
}

/// How deep sections and lists may nest: LVM writes four levels.
const MAX_DEPTH: usize = 16;

/// Parses a whole metadata text (up to its first NUL) into its top-level
/// entries: the volume group's section, then `contents`, `version`,
/// `creation_time` and the like.
pub fn parse(text: &[u8]) -> Result<Vec<(String, Value)>, ParseError> {
    let end = text.iter().position(|&b| b == 0).unwrap_or(text.len());
    let mut p = Parser {
        s: &text[..end],
        i: 0,
    };
    let items = p.entries(0)?;
    p.skip_blank();
    if p.i < p.s.len() {
        return Err(p.err("unexpected closing brace"));
    }
    Ok(items)
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn err(&self, what: &'static str) -> ParseError {
        ParseError { at: self.i, what }
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    /// Skips white space and `#` comments.
    fn skip_blank(&mut self) {
        while let Some(c) = self.peek() {
            if c.is_ascii_whitespace() {
                self.i += 1;
            } else if c == b'#' {
                while self.peek().is_some_and(|c| c != b'\n') {
                    self.i += 1;
                }
            } else {
                break;
            }
        }
    }

    /// Entries until a `}` (left for the caller) or the text's end.
    fn entries(&mut self, depth: usize) -> Result<Vec<(String, Value)>, ParseError> {
        if depth > MAX_DEPTH {
            return Err(self.err("sections nested too deep"));
        }
        let mut items = Vec::new();
        loop {
            self.skip_blank();
            match self.peek() {
                None | Some(b'}') => return Ok(items),
                _ => {}
            }
            let key = self.name()?;
            self.skip_blank();
            match self.peek() {
                Some(b'{') => {
                    self.i += 1;
                    let inner = self.entries(depth + 1)?;
                    if self.peek() != Some(b'}') {
                        return Err(self.err("section not closed"));
                    }
                    self.i += 1;
                    items.push((key, Value::Section(inner)));
                }
                Some(b'=') => {
                    self.i += 1;
                    self.skip_blank();
                    let v = self.value(depth + 1)?;
                    items.push((key, v));
                }
                _ => return Err(self.err("expected '=' or '{' after a name")),
            }
        }
    }

    /// A key or section name: LVM's names are letters, digits and `_ + . -`.
    fn name(&mut self) -> Result<String, ParseError> {
        let start = self.i;
        while self
            .peek()
            .is_some_and(|c| c.is_ascii_alphanumeric() || b"_+.-".contains(&c))
        {
            self.i += 1;
        }
        if self.i == start {
            return Err(self.err("expected a name"));
        }
        Ok(String::from_utf8_lossy(&self.s[start..self.i]).into_owned())
    }

    fn value(&mut self, depth: usize) -> Result<Value, ParseError> {
        if depth > MAX_DEPTH {
            return Err(self.err("lists nested too deep"));
        }
        match self.peek() {
            Some(b'"') => self.string().map(Value::Str),
            Some(b'[') => {
                self.i += 1;
                let mut items = Vec::new();
                loop {
                    self.skip_blank();
                    match self.peek() {
                        Some(b']') => {
                            self.i += 1;
                            return Ok(Value::List(items));
                        }
                        Some(b',') if !items.is_empty() => self.i += 1,
                        None => return Err(self.err("list not closed")),
                        _ => items.push(self.value(depth + 1)?),
                    }
                }
            }
            Some(c) if c == b'-' || c.is_ascii_digit() => self.number(),
            _ => Err(self.err("expected a value")),
        }
    }

    fn string(&mut self) -> Result<String, ParseError> {
        self.i += 1; // the opening quote
        let mut out = Vec::new();
        loop {
            match self.peek() {
                None => return Err(self.err("string not closed")),
                Some(b'"') => {
                    self.i += 1;
                    return Ok(String::from_utf8_lossy(&out).into_owned());
                }
                Some(b'\\') => {
                    self.i += 1;
                    match self.peek() {
                        Some(c) => out.push(c),
                        None => return Err(self.err("string not closed")),
                    }
                    self.i += 1;
                }
                Some(c) => {
                    out.push(c);
                    self.i += 1;
                }
            }
        }
    }

    /// An integer; a fraction (LVM writes none in the fields read here) is
    /// read and dropped.
    fn number(&mut self) -> Result<Value, ParseError> {
        let start = self.i;
        if self.peek() == Some(b'-') {
            self.i += 1;
        }
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.i += 1;
        }
        let int = std::str::from_utf8(&self.s[start..self.i])
            .ok()
            .and_then(|t| t.parse::<i64>().ok())
            .ok_or_else(|| self.err("number out of range"))?;
        if self.peek() == Some(b'.') {
            self.i += 1;
            while self.peek().is_some_and(|c| c.is_ascii_digit()) {
                self.i += 1;
            }
        }
        Ok(Value::Int(int))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_group_with_lists_strings_and_comments_parses() {
        let t = b"vg0 {\nid = \"abc\"\nseqno = 3\n# a comment\nstatus = [\"READ\", \"WRITE\"]\n\
                  physical_volumes {\npv0 {\npe_start = 2048\n}\n}\n}\n# Generated\ncontents = \"Text Format Volume Group\"\nversion = 1\n\0garbage";
        let top = parse(t).unwrap();
        assert_eq!(top[0].0, "vg0");
        let vg = &top[0].1;
        assert_eq!(vg.str("id"), Some("abc"));
        assert_eq!(vg.int("seqno"), Some(3));
        assert_eq!(
            vg.get("status"),
            Some(&Value::List(vec![
                Value::Str("READ".into()),
                Value::Str("WRITE".into())
            ]))
        );
        let pvs = vg.get("physical_volumes").unwrap();
        let (name, pv) = pvs.sections().next().unwrap();
        assert_eq!((name, pv.int("pe_start")), ("pv0", Some(2048)));
        assert_eq!(top.last().unwrap().0, "version");
    }

    #[test]
    fn broken_text_is_an_error_with_its_offset_never_a_panic() {
        for t in [
            &b"vg {"[..],
            b"vg { a = }",
            b"vg { a = \"x }",
            b"vg { a = [1, 2 }",
            b"}",
            b"vg { a = 99999999999999999999 }",
        ] {
            assert!(parse(t).is_err(), "{}", String::from_utf8_lossy(t));
        }
        let deep = "a {".repeat(100);
        let e = parse(deep.as_bytes()).unwrap_err();
        assert!(e.at <= deep.len());
        let lists = format!("a = {}", "[".repeat(100));
        assert!(parse(lists.as_bytes()).is_err());
    }
}
