//! XML property lists read from evidence: Apple's own (`<?xml …?>`,
//! `<!DOCTYPE …>`, `<plist>`, as disk images carry them) and CoreStorage's,
//! which are CoreFoundation's serialisation with object references (a value
//! may carry `ID="n"` and be repeated later as `<reference IDREF="n"/>`) and
//! no `<plist>` wrapper. The subset read: dict, array, key, string, integer,
//! real (as text), date (as text), data, true/false, reference. Every size is
//! bounded, references resolve only to values already read (no cycles), and
//! the nodes a document expands to, references included, are counted, so
//! nested references cannot multiply without bound. Here (not in a crate of
//! the parsers') because two parsers read them: encrypted volumes and disk
//! images.

use std::collections::HashMap;

/// A value of the property list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Val {
    Dict(Vec<(String, Val)>),
    Array(Vec<Val>),
    Str(String),
    Int(u64),
    Data(Vec<u8>),
    Bool(bool),
}

impl Val {
    /// The value under `key` of a dict.
    pub fn get(&self, key: &str) -> Option<&Val> {
        match self {
            Val::Dict(kv) => kv.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    pub fn str(&self) -> Option<&str> {
        match self {
            Val::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn int(&self) -> Option<u64> {
        match self {
            Val::Int(n) => Some(*n),
            _ => None,
        }
    }

    pub fn data(&self) -> Option<&[u8]> {
        match self {
            Val::Data(d) => Some(d),
            _ => None,
        }
    }

    pub fn items(&self) -> &[Val] {
        match self {
            Val::Array(a) => a,
            _ => &[],
        }
    }

    fn nodes(&self) -> usize {
        match self {
            Val::Dict(kv) => 1 + kv.iter().map(|(_, v)| v.nodes()).sum::<usize>(),
            Val::Array(a) => 1 + a.iter().map(Val::nodes).sum::<usize>(),
            _ => 1,
        }
    }
}

/// Nesting deeper than this is not CoreStorage's (it nests four deep).
const MAX_DEPTH: usize = 32;
/// Values a document may expand to, references counted at their size.
const MAX_NODES: usize = 20_000;

struct Parser<'a> {
    s: &'a str,
    at: usize,
    ids: HashMap<String, Val>,
    nodes: usize,
}

/// A tag: its name, its attributes, and whether it closes itself (`<x/>`)
/// or is a closing tag (`</x>`).
struct Tag<'a> {
    name: &'a str,
    attrs: &'a str,
    empty: bool,
    closing: bool,
}

fn attr<'a>(attrs: &'a str, name: &str) -> Option<&'a str> {
    let at = attrs.find(&format!("{name}=\""))? + name.len() + 2;
    let len = attrs[at..].find('"')?;
    Some(&attrs[at..at + len])
}

fn unescape(t: &str) -> String {
    t.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

impl<'a> Parser<'a> {
    fn tag(&mut self) -> Result<Tag<'a>, String> {
        let rest = &self.s[self.at..];
        let skip = rest.len() - rest.trim_start().len();
        self.at += skip;
        let rest = &self.s[self.at..];
        if !rest.starts_with('<') {
            return Err(format!("text where a tag was due at byte {}", self.at));
        }
        let end = rest
            .find('>')
            .ok_or_else(|| format!("a tag not closed at byte {}", self.at))?;
        let inner = &rest[1..end];
        self.at += end + 1;
        let (closing, inner) = match inner.strip_prefix('/') {
            Some(i) => (true, i),
            None => (false, inner),
        };
        let (empty, inner) = match inner.strip_suffix('/') {
            Some(i) => (true, i),
            None => (false, inner),
        };
        let (name, attrs) = inner.split_once(' ').unwrap_or((inner, ""));
        Ok(Tag {
            name,
            attrs,
            empty,
            closing,
        })
    }

    /// The text up to the closing tag `</name>`.
    fn text(&mut self, name: &str) -> Result<&'a str, String> {
        let close = format!("</{name}>");
        let rest = &self.s[self.at..];
        let len = rest
            .find(&close)
            .ok_or_else(|| format!("<{name}> not closed after byte {}", self.at))?;
        self.at += len + close.len();
        Ok(&rest[..len])
    }

    fn count(&mut self, n: usize) -> Result<(), String> {
        self.nodes += n;
        if self.nodes > MAX_NODES {
            return Err(format!("more than {MAX_NODES} values"));
        }
        Ok(())
    }

    /// The value starting at the next tag; `None` at a closing tag (the end
    /// of the dict or array being read).
    fn value(&mut self, depth: usize) -> Result<Option<Val>, String> {
        if depth > MAX_DEPTH {
            return Err(format!("nested more than {MAX_DEPTH} deep"));
        }
        let t = self.tag()?;
        if t.closing {
            return Ok(None);
        }
        let v = match (t.name, t.empty) {
            ("reference", _) => {
                let id = attr(t.attrs, "IDREF").ok_or("a reference without IDREF")?;
                let v = self.ids.get(id).cloned().ok_or_else(|| {
                    format!(
                        "a reference to {}, not defined before it",
                        id.escape_debug()
                    )
                })?;
                self.count(v.nodes())?;
                return Ok(Some(v));
            }
            ("dict", true) => Val::Dict(Vec::new()),
            ("array", true) => Val::Array(Vec::new()),
            ("string", true) => Val::Str(String::new()),
            ("data", true) => Val::Data(Vec::new()),
            ("real" | "date", false) => Val::Str(unescape(self.text(t.name)?)),
            ("true", _) => Val::Bool(true),
            ("false", _) => Val::Bool(false),
            ("dict", false) => {
                let mut kv = Vec::new();
                loop {
                    let k = self.tag()?;
                    if k.closing {
                        break;
                    }
                    if k.name != "key" || k.empty {
                        return Err(format!(
                            "<{}> where a dict's key was due",
                            k.name.escape_debug()
                        ));
                    }
                    let key = unescape(self.text("key")?);
                    let v = self
                        .value(depth + 1)?
                        .ok_or_else(|| format!("key {} without a value", key.escape_debug()))?;
                    kv.push((key, v));
                }
                Val::Dict(kv)
            }
            ("array", false) => {
                let mut a = Vec::new();
                while let Some(v) = self.value(depth + 1)? {
                    a.push(v);
                }
                Val::Array(a)
            }
            ("string", false) => Val::Str(unescape(self.text("string")?)),
            ("integer", false) => {
                let t = self.text("integer")?.trim();
                let n = match t.strip_prefix("0x") {
                    Some(h) => u64::from_str_radix(h, 16),
                    None => t.parse(),
                };
                Val::Int(n.map_err(|_| format!("integer {t:?}"))?)
            }
            ("data", false) => {
                let t: String = self
                    .text("data")?
                    .chars()
                    .filter(|c| !c.is_whitespace())
                    .collect();
                Val::Data(base64(&t).ok_or("data that is not base64")?)
            }
            (n, _) => return Err(format!("an unknown element <{}>", n.escape_debug())),
        };
        self.count(1)?;
        if let Some(id) = attr(t.attrs, "ID") {
            self.ids.insert(id.to_string(), v.clone());
        }
        Ok(Some(v))
    }
}

/// The value `text` holds (one top-level value; what follows it is ignored,
/// as the blocks pad with zeros).
pub fn parse(text: &str) -> Result<Val, String> {
    let mut p = Parser {
        s: text,
        at: 0,
        ids: HashMap::new(),
        nodes: 0,
    };
    // Apple's prolog and wrapper: `<?xml …?>`, `<!DOCTYPE …>`, `<plist …>`.
    loop {
        let rest = p.s[p.at..].trim_start();
        let skip = p.s.len() - p.at - rest.len();
        p.at += skip;
        if rest.starts_with("<?") || rest.starts_with("<!") {
            let end = rest.find('>').ok_or("a prolog not closed")?;
            p.at += end + 1;
        } else if rest.starts_with("<plist") {
            let end = rest.find('>').ok_or("<plist> not closed")?;
            p.at += end + 1;
        } else {
            break;
        }
    }
    p.value(0)?.ok_or_else(|| "no value".to_string())
}

/// Standard base64 (RFC 4648, `=` padding), whitespace already removed;
/// `None` for anything else.
fn base64(t: &str) -> Option<Vec<u8>> {
    let val = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let b = t.trim_end_matches('=').as_bytes();
    if !t.len().is_multiple_of(4) || t.len() - b.len() > 2 || b.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(b.len() * 3 / 4);
    for chunk in b.chunks(4) {
        let mut n = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            n |= val(c)? << (18 - 6 * i);
        }
        let bytes = n.to_be_bytes();
        out.extend_from_slice(&bytes[1..chunk.len()]);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_resolve_to_earlier_values() {
        let v = parse(
            r#"<dict ID="0"><key>a</key><integer size="32" ID="1">0x10</integer><key>b</key><array><reference IDREF="1"/><string>x &amp; y</string><data>AAEC</data><string ID="3"></string></array><key>c</key><reference IDREF="3"/></dict>"#,
        )
        .unwrap();
        assert_eq!(v.get("a").and_then(Val::int), Some(16));
        let b = v.get("b").unwrap().items();
        assert_eq!(b[0], Val::Int(16));
        assert_eq!(b[1].str(), Some("x & y"));
        assert_eq!(b[2].data(), Some(&[0u8, 1, 2][..]));
        assert_eq!(v.get("c").and_then(Val::str), Some(""));
    }

    #[test]
    fn apples_prolog_and_wrapper_are_read_and_base64_is_rfc_4648() {
        let v = parse(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!DOCTYPE plist PUBLIC \"-//Apple//DTD PLIST 1.0//EN\" \"x\">\n<plist version=\"1.0\">\n<dict>\n\t<key>a</key>\n\t<data>\n\tbWlzaA==\n\t</data>\n\t<key>r</key><real>1.5</real>\n</dict>\n</plist>\n",
        )
        .unwrap();
        assert_eq!(v.get("a").and_then(Val::data), Some(&b"mish"[..]));
        assert_eq!(v.get("r").and_then(Val::str), Some("1.5"));
        for (t, want) in [
            ("", &b""[..]),
            ("Zg==", b"f"),
            ("Zm8=", b"fo"),
            ("Zm9v", b"foo"),
        ] {
            assert_eq!(base64(t).as_deref(), Some(want), "{t}");
        }
        for bad in ["Z", "Zg=", "Zg===", "Z!==", "Zm9v="] {
            assert!(base64(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn hostile_documents_fail_without_panic() {
        for bad in [
            "",
            "<",
            "<dict><key>a</key>",
            "<dict><key>a</key></dict>",
            "<dict><string>a</string></dict>",
            "<reference IDREF=\"9\"/>",
            "<integer>zz</integer>",
            "<data>!!</data>",
            "<blob/>",
            "text",
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
        // Deep nesting stops at the bound.
        let deep = "<array>".repeat(100) + &"</array>".repeat(100);
        assert!(parse(&deep).is_err());
        // References doubling at each level stop at the node bound.
        let mut s = String::from("<array><string ID=\"0\">x</string>");
        for i in 1..40 {
            s.push_str(&format!(
                "<array ID=\"{i}\"><reference IDREF=\"{}\"/><reference IDREF=\"{}\"/></array>",
                i - 1,
                i - 1
            ));
        }
        s.push_str("</array>");
        assert!(parse(&s).unwrap_err().contains("more than"));
    }
}
