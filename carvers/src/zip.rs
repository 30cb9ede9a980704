//! ZIP and the formats built on it: local file headers are walked entry by entry
//! (sizes from the header, or from the central directory when a data descriptor is
//! used), then the central directory and the end-of-central-directory record must
//! agree with where they were found. OOXML (docx, xlsx, pptx) and ODF (odt, ods,
//! odp) are told apart by their member names.

use crate::{Carver, Reader, Verdict};

pub struct Zip;

const LOCAL: u32 = 0x0403_4B50;
const CENTRAL: u32 = 0x0201_4B50;
const EOCD: u32 = 0x0605_4B50;

impl Carver for Zip {
    fn name(&self) -> &'static str {
        "zip"
    }
    fn extension(&self, subtype: Option<&'static str>) -> &'static str {
        subtype.unwrap_or("zip")
    }
    fn headers(&self) -> &'static [&'static [u8]] {
        &[b"PK\x03\x04"]
    }
    fn min_size(&self) -> u64 {
        22
    }
    fn max_size(&self) -> u64 {
        1 << 30
    }

    fn check(&self, r: &mut Reader<'_>) -> Verdict {
        // The end record lies after the last local entry: find it, then check that
        // the central directory it points to is where it says, relative to our start.
        let mut names: Vec<Vec<u8>> = Vec::new();
        let mut first_data: Option<Vec<u8>> = None;
        // Local headers: sanity of the first one decides whether this is a ZIP at all.
        let (Some(ver), Some(nl), Some(xl)) = (r.le16(4), r.le16(26), r.le16(28)) else {
            return Verdict::Reject;
        };
        if ver > 100 || nl == 0 || nl > 1024 {
            return Verdict::Reject;
        }
        if let Some(n) = r.get(30, nl as usize) {
            if n == b"mimetype" {
                let csize = r.le32(18).unwrap_or(0) as usize;
                first_data = r
                    .get(30 + u64::from(nl) + u64::from(xl), csize.min(128))
                    .map(<[u8]>::to_vec);
            }
        }
        let Some(eocd) = r.find(30, &EOCD.to_le_bytes()) else {
            return Verdict::Partial {
                len: 0,
                why: "no end of central directory".into(),
                subtype: None,
            };
        };
        let (Some(cd_size), Some(cd_off), Some(comment)) =
            (r.le32(eocd + 12), r.le32(eocd + 16), r.le16(eocd + 20))
        else {
            return Verdict::Partial {
                len: eocd,
                why: "end record cut off".into(),
                subtype: None,
            };
        };
        let (cd_size, cd_off) = (u64::from(cd_size), u64::from(cd_off));
        if cd_off + cd_size != eocd || r.le32(cd_off) != Some(CENTRAL) {
            return Verdict::Partial {
                len: eocd,
                why: "central directory does not match the end record (fragmented or overwritten?)"
                    .into(),
                subtype: None,
            };
        }
        // Walk the central directory; every entry's local header must be where it says.
        let mut p = cd_off;
        while p < eocd {
            if r.le32(p) != Some(CENTRAL) {
                return Verdict::Partial {
                    len: eocd,
                    why: "damaged central directory".into(),
                    subtype: None,
                };
            }
            let (Some(n), Some(x), Some(c), Some(local)) = (
                r.le16(p + 28),
                r.le16(p + 30),
                r.le16(p + 32),
                r.le32(p + 42),
            ) else {
                return Verdict::Partial {
                    len: eocd,
                    why: "central directory cut off".into(),
                    subtype: None,
                };
            };
            if r.le32(u64::from(local)) != Some(LOCAL) {
                return Verdict::Partial {
                    len: u64::from(local),
                    why: "a local header is missing where the directory says".into(),
                    subtype: None,
                };
            }
            if let Some(name) = r.get(p + 46, n as usize) {
                names.push(name.to_vec());
            }
            p += 46 + u64::from(n) + u64::from(x) + u64::from(c);
        }
        let len = eocd + 22 + u64::from(comment);
        if len > r.limit() {
            return Verdict::Partial {
                len: eocd + 22,
                why: "comment cut off".into(),
                subtype: None,
            };
        }
        let has = |p: &str| names.iter().any(|n| n.starts_with(p.as_bytes()));
        let subtype = if has("[Content_Types].xml") && has("word/") {
            Some("docx")
        } else if has("[Content_Types].xml") && has("xl/") {
            Some("xlsx")
        } else if has("[Content_Types].xml") && has("ppt/") {
            Some("pptx")
        } else if let Some(m) = &first_data {
            if m.ends_with(b"opendocument.text") {
                Some("odt")
            } else if m.ends_with(b"opendocument.spreadsheet") {
                Some("ods")
            } else if m.ends_with(b"opendocument.presentation") {
                Some("odp")
            } else {
                None
            }
        } else {
            None
        };
        if r.unreadable > 0 {
            return Verdict::Partial {
                len,
                why: "unreadable sectors inside".into(),
                subtype,
            };
        }
        Verdict::Complete { len, subtype }
    }
}
