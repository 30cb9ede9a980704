//! ZIP and the formats built on it: the end-of-central-directory record is found,
//! the central directory it points to must lie where it says, every entry's local
//! header must be where the directory says, and every stored or deflated member's
//! CRC-32 and size must match its data. OOXML (docx, xlsx, pptx) and ODF (odt, ods,
//! odp) are told apart by their member names.
//!
//! Two fragments: when the directory lies `gap` bytes later than the end record
//! says, foreign data sits somewhere in the file. The local headers that are found
//! where the directory says and those found `gap` later bound the split to one
//! member; each sector boundary inside it is tried until that member's CRC matches.
//! Three fragments, both cuts before the directory in different members: the
//! first member whose header moved gives the first gap, and each cut is placed
//! the same way (`fragments`).

use crate::inflate;
use crate::{partial_as, Carver, Reader, Splice, Verdict, SECTOR, WHOLE};
use dredge_core::checksum::crc32_update;

mod fragments;
mod one_member;
use fragments::{bifragment, trifragment};

pub struct Zip;

const LOCAL: u32 = 0x0403_4B50;
const CENTRAL: u32 = 0x0201_4B50;
const EOCD: u32 = 0x0605_4B50;
/// Largest gap between the two fragments that is searched.
const MAX_GAP: u64 = 16 << 20;
/// Bytes the gap search may checksum or inflate for one candidate file: trying
/// every sector of a large stored member is quadratic, so it is bounded.
const BUDGET: u64 = 256 << 20;

struct Entry {
    local: u64,
    csize: u64,
    usize: u64,
    crc: u32,
    method: u16,
    name: Vec<u8>,
}

/// The central directory at logical `[cd_off, end)`, or why it is not one.
fn central(
    r: &mut Reader<'_>,
    sp: Splice,
    cd_off: u64,
    end: u64,
) -> Result<Vec<Entry>, &'static str> {
    let mut out = Vec::new();
    let mut p = cd_off;
    while p < end {
        let h = sp.read(r, p, 46).ok_or("central directory cut off")?;
        let f = |o: usize| u32::from_le_bytes([h[o], h[o + 1], h[o + 2], h[o + 3]]);
        let g = |o: usize| u16::from_le_bytes([h[o], h[o + 1]]);
        if f(0) != CENTRAL {
            return Err("damaged central directory");
        }
        let (n, x, c) = (g(28), g(30), g(32));
        let name = sp
            .read(r, p + 46, n as usize)
            .ok_or("central directory cut off")?;
        out.push(Entry {
            local: u64::from(f(42)),
            csize: u64::from(f(20)),
            usize: u64::from(f(24)),
            crc: f(16),
            method: g(10),
            name,
        });
        p += 46 + u64::from(n) + u64::from(x) + u64::from(c);
    }
    if p != end {
        return Err("central directory overruns its end record");
    }
    Ok(out)
}

/// Whether a member's data matches its CRC-32 and size: Some(true/false), or None
/// when the method is one we cannot check (the member is then taken as it is).
/// `spent` counts the bytes processed against the search budget.
fn member_ok(r: &mut Reader<'_>, sp: Splice, e: &Entry, spent: &mut u64) -> Option<bool> {
    let nl = sp.le16(r, e.local + 26)?;
    let xl = sp.le16(r, e.local + 28)?;
    let data = e.local + 30 + u64::from(nl) + u64::from(xl);
    let end = data.checked_add(e.csize)?;
    match e.method {
        0 => {
            if e.csize != e.usize {
                return Some(false);
            }
            let (mut crc, mut at) = (!0u32, data);
            while at < end {
                let n = (end - at).min(1 << 16) as usize;
                crc = crc32_update(crc, &sp.read(r, at, n)?);
                at += n as u64;
                *spent += n as u64;
            }
            Some(!crc == e.crc)
        }
        8 => {
            let (mut crc, mut total) = (!0u32, 0u64);
            let run = inflate::inflate(
                r,
                |r, at, n| sp.read(r, at, n),
                data,
                end,
                false,
                |b| {
                    crc = crc32_update(crc, b);
                    total += b.len() as u64;
                    total <= e.usize
                },
            );
            *spent += (run.at - data) + run.total;
            match run.end {
                inflate::End::Done => Some(!crc == e.crc && total == e.usize && run.at == end),
                inflate::End::Unreadable => None,
                _ => Some(false),
            }
        }
        _ => None,
    }
}

/// Without a usable central directory: the members read from their local
/// headers one after another, while each header states its sizes (no data
/// descriptor) and its data matches its CRC-32. The end of the last good
/// member: the prefix a partial carve can vouch for (0 when none checks out).
fn local_walk(r: &mut Reader<'_>) -> u64 {
    let (mut at, mut spent) = (0u64, 0u64);
    while r.le32(at) == Some(LOCAL) {
        let (Some(flags), Some(method), Some(crc), Some(csize), Some(usize), Some(nl), Some(xl)) = (
            r.le16(at + 6),
            r.le16(at + 8),
            r.le32(at + 14),
            r.le32(at + 18),
            r.le32(at + 22),
            r.le16(at + 26),
            r.le16(at + 28),
        ) else {
            break;
        };
        if flags & 0x8 != 0 {
            break;
        }
        let e = Entry {
            local: at,
            csize: u64::from(csize),
            usize: u64::from(usize),
            crc,
            method,
            name: Vec::new(),
        };
        if member_ok(r, WHOLE, &e, &mut spent) != Some(true) {
            break;
        }
        at += 30 + u64::from(nl) + u64::from(xl) + e.csize;
    }
    at
}

/// Checks every entry of a (possibly spliced) file: local headers where the
/// directory says, data matching CRCs. Err((logical offset valid up to, why)).
fn members(
    r: &mut Reader<'_>,
    sp: Splice,
    entries: &[Entry],
    spent: &mut u64,
) -> Result<(), (u64, &'static str)> {
    let mut last_checked = None;
    for e in entries {
        // A directory that names one local header many times (a classic bomb: one
        // member inflating to a gigabyte, listed thousands of times) is checked once
        // per header; `entries` is sorted by local offset.
        if last_checked.replace(e.local) == Some(e.local) {
            continue;
        }
        if sp.le32(r, e.local) != Some(LOCAL) {
            return Err((
                e.local,
                "a local header is missing where the directory says",
            ));
        }
        if member_ok(r, sp, e, spent) == Some(false) {
            return Err((e.local, "a member's data does not match its CRC-32"));
        }
    }
    Ok(())
}

/// What an end-of-central-directory record says.
struct End {
    count: u16,
    cd_off: u64,
    cd_size: u64,
    comment: u16,
}

/// The end record at `eocd`; None when it is cut off.
fn end_record(r: &mut Reader<'_>, eocd: u64) -> Option<End> {
    Some(End {
        count: r.le16(eocd + 10)?,
        cd_size: u64::from(r.le32(eocd + 12)?),
        cd_off: u64::from(r.le32(eocd + 16)?),
        comment: r.le16(eocd + 20)?,
    })
}

/// End records tried for a file whose directory is not where its first one says:
/// the gap may hold other archives, and their end records come first.
const MAX_ENDS: usize = 8;
/// How far past another archive's end record the next one is looked for.
const NEXT_END: u64 = 4 << 20;

/// The end record at `eocd` or one of the next few, with the directory it names
/// found further on (one or two gaps, `fragments`): (its offset, its comment
/// length, the layout, the entries). A record is passed over for the next only
/// when it is another archive's: its directory right before it and that
/// archive's first local header where its offsets put it, after this file's
/// start (so a damaged or truncated archive does not read far ahead for
/// nothing).
fn spliced(r: &mut Reader<'_>, mut eocd: u64) -> Option<(u64, u16, Splice, Vec<Entry>)> {
    for _ in 0..MAX_ENDS {
        let End {
            count,
            cd_off,
            cd_size,
            comment,
        } = end_record(r, eocd)?;
        let cd_end = cd_off + cd_size;
        let gap = eocd.saturating_sub(cd_end);
        if cd_end < eocd && gap % SECTOR == 0 && gap <= 2 * MAX_GAP {
            let found = (gap <= MAX_GAP)
                .then(|| bifragment(r, gap, cd_off, cd_end, count))
                .flatten()
                .or_else(|| trifragment(r, gap, cd_off, cd_end, count));
            if let Some((sp, entries)) = found {
                return Some((eocd, comment, sp, entries));
            }
        }
        let dir = eocd.checked_sub(cd_size)?;
        let other = dir.checked_sub(cd_off).filter(|&o| o > 0)?;
        if r.le32(dir) != Some(CENTRAL) || r.le32(other) != Some(LOCAL) {
            return None;
        }
        eocd = r.find_before(eocd + 1, eocd + NEXT_END, &EOCD.to_le_bytes())?;
    }
    None
}

fn classify(entries: &[Entry], mimetype: Option<&[u8]>) -> Option<&'static str> {
    let has = |p: &str| entries.iter().any(|e| e.name.starts_with(p.as_bytes()));
    if has("[Content_Types].xml") && has("word/") {
        Some("docx")
    } else if has("[Content_Types].xml") && has("xl/") {
        Some("xlsx")
    } else if has("[Content_Types].xml") && has("ppt/") {
        Some("pptx")
    } else if let Some(m) = mimetype {
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
    }
}

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
        // The first local header decides whether this is a ZIP at all.
        let (Some(ver), Some(nl), Some(xl)) = (r.le16(4), r.le16(26), r.le16(28)) else {
            return Verdict::Reject;
        };
        if ver > 100 || nl == 0 || nl > 1024 {
            return Verdict::Reject;
        }
        // ODF names its kind in a first member called `mimetype`, stored.
        let mut mimetype = None;
        if r.get(30, nl as usize) == Some(b"mimetype") {
            let csize = r.le32(18).unwrap_or(0) as usize;
            mimetype = r
                .get(30 + u64::from(nl) + u64::from(xl), csize.min(128))
                .map(<[u8]>::to_vec);
        }
        let Some(eocd) = r.find(30, &EOCD.to_le_bytes()) else {
            return partial_as(
                local_walk(r),
                "no end of central directory (members read from their local headers)",
                None,
            );
        };
        let Some(End {
            count,
            cd_off,
            cd_size,
            mut comment,
        }) = end_record(r, eocd)
        else {
            return partial_as(eocd, "end record cut off", None);
        };
        let cd_end = cd_off + cd_size;
        let mut spent = 0;
        let mut eocd = eocd;
        let (sp, entries) = if cd_end == eocd {
            match central(r, WHOLE, cd_off, cd_end) {
                Ok(e) if e.len() == usize::from(count) => (WHOLE, e),
                Ok(_) => return partial_as(eocd, "entry count differs from the end record", None),
                Err(why) => return partial_as(eocd, why, None),
            }
        } else {
            match spliced(r, eocd) {
                Some((at, c, sp, entries)) => {
                    (eocd, comment) = (at, c);
                    (sp, entries)
                }
                // The end record found may be a later file's: vouch only for
                // the members that check out from their local headers.
                None => {
                    return partial_as(
                        local_walk(r),
                        "central directory does not match the end record (fragmented, overwritten or cut off; members read from their local headers)",
                        None,
                    )
                }
            }
        };
        let subtype = classify(&entries, mimetype.as_deref());
        let mut entries = entries;
        entries.sort_by_key(|e| e.local);
        // Unreadable sectors read as zeros and fail a CRC; the structure around them
        // still holds, so the file is kept whole and marked for them below.
        if let Err((at, why)) = members(r, sp, &entries, &mut spent) {
            if r.unreadable == 0 {
                return partial_as(at.min(sp.split), why, subtype);
            }
        }
        let end = eocd + 22 + u64::from(comment);
        if end > r.limit() {
            return partial_as(eocd + 22, "comment cut off", subtype);
        }
        if r.unreadable > 0 {
            return partial_as(end, "unreadable sectors inside", subtype);
        }
        if sp.cuts() == 0 {
            Verdict::Complete { len: end, subtype }
        } else {
            Verdict::Fragmented {
                fragments: sp.fragments(end - sp.gap - sp.gap2),
                subtype,
            }
        }
    }
}
