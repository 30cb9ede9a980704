//! GNU ddrescue mapfiles: reading, writing, and queries.
//!
//! The format (ddrescue manual, "Mapfile structure"): comment lines start with `#`;
//! the first non-comment line is the status line `current_pos current_status
//! [current_pass]`; every further non-comment line is a block `pos size status`.
//! Numbers are written as `0x%08llX`. A block line may carry a trailing comment.
//! Parsing keeps every comment in place so that `parse` then `to_string` gives back
//! the same bytes for files ddrescue wrote.

use dredge_core::{Extent, Why};
use std::fmt::{self, Write as _};

/// Status of a block in a mapfile.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MapStatus {
    NonTried,
    NonTrimmed,
    NonScraped,
    BadSector,
    Finished,
}

impl MapStatus {
    pub fn from_char(c: char) -> Option<Self> {
        Some(match c {
            '?' => MapStatus::NonTried,
            '*' => MapStatus::NonTrimmed,
            '/' => MapStatus::NonScraped,
            '-' => MapStatus::BadSector,
            '+' => MapStatus::Finished,
            _ => return None,
        })
    }

    pub fn as_char(self) -> char {
        match self {
            MapStatus::NonTried => '?',
            MapStatus::NonTrimmed => '*',
            MapStatus::NonScraped => '/',
            MapStatus::BadSector => '-',
            MapStatus::Finished => '+',
        }
    }

    /// Why bytes with this status are synthesized when read through a mapfile, or
    /// `None` for rescued bytes.
    pub fn why(self) -> Option<Why> {
        match self {
            MapStatus::NonTried => Some(Why::NotTried),
            MapStatus::NonTrimmed => Some(Why::NotTrimmed),
            MapStatus::NonScraped => Some(Why::NotScraped),
            MapStatus::BadSector => Some(Why::BadSector),
            MapStatus::Finished => None,
        }
    }
}

/// Statuses ddrescue may write in the status line (its current phase).
const CURRENT_STATUSES: &str = "?*/-FGA+";

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MapBlock {
    pub pos: u64,
    pub size: u64,
    pub status: MapStatus,
    /// Comment or blank lines that stood before this block, verbatim.
    pub comments_before: Vec<String>,
    /// Text after the status character on the same line, verbatim (usually empty).
    pub trailing: String,
    /// Byte offset of this block's line in the text it was parsed from.
    pub line_offset: usize,
}

impl MapBlock {
    pub fn new(pos: u64, size: u64, status: MapStatus) -> Self {
        MapBlock {
            pos,
            size,
            status,
            comments_before: Vec::new(),
            trailing: String::new(),
            line_offset: 0,
        }
    }

    pub fn extent(&self) -> Extent {
        Extent::new(self.pos, self.size)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mapfile {
    /// Comment lines before the status line, verbatim without their newline.
    pub preamble: Vec<String>,
    pub current_pos: u64,
    pub current_status: char,
    /// Absent in mapfiles written by ddrescue before 1.20.
    pub current_pass: Option<u32>,
    pub status_trailing: String,
    pub blocks: Vec<MapBlock>,
    /// Comment lines after the last block.
    pub tail: Vec<String>,
    pub final_newline: bool,
}

/// A mapfile that cannot be parsed: where and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapfileError {
    pub line: usize,
    pub offset: usize,
    pub detail: String,
}

impl fmt::Display for MapfileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} (line {}, byte offset {})",
            self.detail, self.line, self.offset
        )
    }
}

impl std::error::Error for MapfileError {}

/// Largest position or size ddrescue accepts (it uses signed 64-bit offsets).
const MAX_POS: u64 = i64::MAX as u64;

fn parse_number(tok: &str) -> Option<u64> {
    let v = if let Some(h) = tok.strip_prefix("0x").or_else(|| tok.strip_prefix("0X")) {
        u64::from_str_radix(h, 16).ok()?
    } else if tok.len() > 1 && tok.starts_with('0') {
        u64::from_str_radix(&tok[1..], 8).ok()?
    } else {
        tok.parse().ok()?
    };
    (v <= MAX_POS).then_some(v)
}

/// Splits off the next whitespace-separated token: (token, rest after it).
fn token(s: &str) -> Option<(&str, &str)> {
    let s = s.trim_start_matches([' ', '\t']);
    if s.is_empty() || s.starts_with('#') {
        return None;
    }
    let end = s.find([' ', '\t', '#']).unwrap_or(s.len());
    Some((&s[..end], &s[end..]))
}

/// What may follow the last field on a line: nothing, spaces, or a comment.
fn valid_trailing(s: &str) -> bool {
    let t = s.trim_start_matches([' ', '\t', '\r']);
    t.is_empty() || t.starts_with('#')
}

impl Mapfile {
    /// Parses mapfile bytes. Non-UTF-8 is an error at its byte offset.
    pub fn parse_bytes(bytes: &[u8]) -> Result<Self, MapfileError> {
        match std::str::from_utf8(bytes) {
            Ok(s) => Self::parse(s),
            Err(e) => {
                let offset = e.valid_up_to();
                let line = bytes[..offset].iter().filter(|&&b| b == b'\n').count() + 1;
                Err(MapfileError {
                    line,
                    offset,
                    detail: "not a ddrescue mapfile: invalid text".into(),
                })
            }
        }
    }

    pub fn parse(text: &str) -> Result<Self, MapfileError> {
        let mut preamble = Vec::new();
        let mut status: Option<(u64, char, Option<u32>, String)> = None;
        let mut pending: Vec<String> = Vec::new();
        let mut blocks: Vec<MapBlock> = Vec::new();
        let mut offset = 0usize;
        let final_newline = text.ends_with('\n');
        for (idx, raw) in text.split_inclusive('\n').enumerate() {
            let lineno = idx + 1;
            let line = raw.strip_suffix('\n').unwrap_or(raw);
            let here = offset;
            offset += raw.len();
            let err = |detail: String| MapfileError {
                line: lineno,
                offset: here,
                detail,
            };
            let t = line.trim_start_matches([' ', '\t', '\r']);
            if t.is_empty() || t.starts_with('#') {
                if status.is_none() {
                    preamble.push(line.to_string());
                } else {
                    pending.push(line.to_string());
                }
                continue;
            }
            if status.is_none() {
                let (pos_t, rest) = token(line).ok_or_else(|| err("empty status line".into()))?;
                let pos = parse_number(pos_t)
                    .ok_or_else(|| err(format!("bad current_pos {pos_t:?} in status line")))?;
                let (st_t, rest) =
                    token(rest).ok_or_else(|| err("status line has no current_status".into()))?;
                let st = single_char(st_t)
                    .filter(|c| CURRENT_STATUSES.contains(*c))
                    .ok_or_else(|| err(format!("bad current_status {st_t:?} in status line")))?;
                let (pass, rest) = match token(rest) {
                    Some((p, r)) => {
                        let pass: u32 = p
                            .parse()
                            .ok()
                            .filter(|&v| v >= 1)
                            .ok_or_else(|| err(format!("bad current_pass {p:?}")))?;
                        (Some(pass), r)
                    }
                    None => (None, rest),
                };
                if !valid_trailing(rest) {
                    return Err(err(format!(
                        "unexpected text {:?} in status line",
                        rest.trim()
                    )));
                }
                status = Some((pos, st, pass, rest.to_string()));
                continue;
            }
            let (pos_t, rest) = token(line).ok_or_else(|| err("empty block line".into()))?;
            let pos =
                parse_number(pos_t).ok_or_else(|| err(format!("bad block position {pos_t:?}")))?;
            let (size_t, rest) = token(rest).ok_or_else(|| err("block line has no size".into()))?;
            let size =
                parse_number(size_t).ok_or_else(|| err(format!("bad block size {size_t:?}")))?;
            let (st_t, rest) = token(rest).ok_or_else(|| err("block line has no status".into()))?;
            let st = single_char(st_t)
                .and_then(MapStatus::from_char)
                .ok_or_else(|| err(format!("bad block status {st_t:?}")))?;
            if !valid_trailing(rest) {
                return Err(err(format!(
                    "unexpected text {:?} after block",
                    rest.trim()
                )));
            }
            if pos.checked_add(size).is_none_or(|end| end > MAX_POS) {
                return Err(err("block extends past the largest possible offset".into()));
            }
            if size == 0 && !(pos == 0 && blocks.is_empty()) {
                return Err(err("block of size 0".into()));
            }
            if let Some(prev) = blocks.last() {
                if pos < prev.pos + prev.size {
                    return Err(err(format!(
                        "block at {pos:#x} overlaps or precedes the block before it (ends at {:#x})",
                        prev.pos + prev.size
                    )));
                }
            }
            blocks.push(MapBlock {
                pos,
                size,
                status: st,
                comments_before: std::mem::take(&mut pending),
                trailing: rest.to_string(),
                line_offset: here,
            });
        }
        let Some((current_pos, current_status, current_pass, status_trailing)) = status else {
            return Err(MapfileError {
                line: text.lines().count().max(1),
                offset: text.len(),
                detail: "not a ddrescue mapfile: no status line".into(),
            });
        };
        Ok(Mapfile {
            preamble,
            current_pos,
            current_status,
            current_pass,
            status_trailing,
            blocks,
            tail: pending,
            final_newline,
        })
    }

    /// A mapfile in the layout ddrescue writes, with the given comment lines first.
    pub fn from_blocks(
        comments: Vec<String>,
        current_pos: u64,
        current_status: char,
        current_pass: u32,
        blocks: Vec<MapBlock>,
    ) -> Self {
        let mut preamble = comments;
        preamble.push("# current_pos  current_status  current_pass".into());
        let header = "#      pos        size  status".to_string();
        let mut blocks = blocks;
        let tail = match blocks.first_mut() {
            Some(b) => {
                b.comments_before = vec![header];
                Vec::new()
            }
            None => vec![header],
        };
        Mapfile {
            preamble,
            current_pos,
            current_status,
            current_pass: Some(current_pass),
            status_trailing: String::new(),
            blocks,
            tail,
            final_newline: true,
        }
    }

    /// End of the last block: the size of the domain this map describes.
    pub fn end(&self) -> u64 {
        self.blocks.last().map_or(0, |b| b.pos + b.size)
    }

    /// Bytes in `[0, limit)` that are not marked finished (including bytes the map
    /// does not cover).
    pub fn unrescued_bytes(&self, limit: u64) -> u64 {
        let rescued: u64 = self
            .blocks
            .iter()
            .filter(|b| b.status == MapStatus::Finished)
            .filter_map(|b| b.extent().intersect(&Extent::new(0, limit)))
            .map(|e| e.len)
            .sum();
        limit - rescued
    }

    /// Bytes per status, in `[0, limit)`; bytes the map does not cover count as `None`.
    pub fn status_runs(&self, e: Extent) -> Vec<(Extent, Option<MapStatus>)> {
        let mut out = Vec::new();
        let mut cur = e.start;
        let first = self.blocks.partition_point(|b| b.pos + b.size <= e.start);
        for b in &self.blocks[first..] {
            if cur >= e.end() {
                break;
            }
            if b.pos > cur {
                let gap_end = b.pos.min(e.end());
                out.push((Extent::from_bounds(cur, gap_end), None));
                cur = gap_end;
            }
            if let Some(i) = b.extent().intersect(&Extent::from_bounds(cur, e.end())) {
                out.push((i, Some(b.status)));
                cur = i.end();
            }
        }
        if cur < e.end() {
            out.push((Extent::from_bounds(cur, e.end()), None));
        }
        out
    }
}

fn single_char(s: &str) -> Option<char> {
    let mut it = s.chars();
    let c = it.next()?;
    it.next().is_none().then_some(c)
}

impl fmt::Display for Mapfile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = String::new();
        for l in &self.preamble {
            out.push_str(l);
            out.push('\n');
        }
        match self.current_pass {
            Some(p) => write!(
                out,
                "0x{:08X}     {}               {}",
                self.current_pos, self.current_status, p
            )?,
            None => write!(
                out,
                "0x{:08X}     {}",
                self.current_pos, self.current_status
            )?,
        }
        out.push_str(&self.status_trailing);
        out.push('\n');
        for b in &self.blocks {
            for l in &b.comments_before {
                out.push_str(l);
                out.push('\n');
            }
            write!(
                out,
                "0x{:08X}  0x{:08X}  {}",
                b.pos,
                b.size,
                b.status.as_char()
            )?;
            out.push_str(&b.trailing);
            out.push('\n');
        }
        for l in &self.tail {
            out.push_str(l);
            out.push('\n');
        }
        if !self.final_newline {
            out.pop();
        }
        f.write_str(&out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "# Mapfile. Created by GNU ddrescue version 1.27\n\
# current_pos  current_status  current_pass\n\
0x00001000     +               1\n\
#      pos        size  status\n\
0x00000000  0x00000800  +\n\
0x00000800  0x00000080  -\t# bad subsector\n\
0x00000880  0x00000780  ?\n";

    #[test]
    fn parses_and_round_trips() {
        let m = Mapfile::parse(SAMPLE).unwrap();
        assert_eq!(m.current_pos, 0x1000);
        assert_eq!(m.current_pass, Some(1));
        assert_eq!(m.blocks.len(), 3);
        assert_eq!(m.blocks[1].status, MapStatus::BadSector);
        assert_eq!(m.blocks[1].trailing, "\t# bad subsector");
        assert_eq!(m.end(), 0x1000);
        assert_eq!(m.unrescued_bytes(0x1000), 0x800);
        assert_eq!(m.to_string(), SAMPLE);
    }

    #[test]
    fn status_line_without_pass_round_trips() {
        let t = "0x00000000     ?\n0x00000000  0x00000200  ?\n";
        let m = Mapfile::parse(t).unwrap();
        assert_eq!(m.current_pass, None);
        assert_eq!(m.to_string(), t);
    }

    #[test]
    fn status_runs_cover_gaps_and_clip() {
        let m = Mapfile::parse(SAMPLE).unwrap();
        let runs = m.status_runs(Extent::new(0x700, 0x1000));
        assert_eq!(
            runs,
            vec![
                (Extent::new(0x700, 0x100), Some(MapStatus::Finished)),
                (Extent::new(0x800, 0x80), Some(MapStatus::BadSector)),
                (Extent::new(0x880, 0x780), Some(MapStatus::NonTried)),
                (Extent::new(0x1000, 0x700), None),
            ]
        );
    }

    #[test]
    fn rejects_garbage_with_line_and_offset() {
        let e = Mapfile::parse("# c\n0x0 + 1\n0x0 0x10 +\nhello world\n").unwrap_err();
        assert_eq!(e.line, 4);
        assert_eq!(e.offset, 23);
        assert!(Mapfile::parse("just text\n").is_err());
        assert!(Mapfile::parse("").is_err());
        assert!(Mapfile::parse_bytes(b"0x0 + 1\n\xff\xfe").is_err());
        // overlapping blocks
        assert!(Mapfile::parse("0x0 + 1\n0x0 0x10 +\n0x8 0x10 -\n").is_err());
        // overflow
        assert!(Mapfile::parse("0x0 + 1\n0x7FFFFFFFFFFFFFFF 0x10 +\n").is_err());
        // bad status char
        assert!(Mapfile::parse("0x0 + 1\n0x0 0x10 x\n").is_err());
    }
}
