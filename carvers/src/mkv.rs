//! Matroska and WebM validator (EBML): phone and screen recordings, downloaded
//! video, `.mkv`, `.mka`, `.webm`.

use crate::{partial_as, Carver, Reader, Verdict};
use dredge_core::checksum::crc32;

/// Matroska/WebM: the EBML header (its DocType `matroska` or `webm`), then the
/// Segment's top-level elements walked by their sizes to the Segment's end
/// (known ids only); every Cluster's children walked the same way (Simple
/// Blocks naming a track the Tracks element declares); every Seek Head entry
/// must point at an element of the id it names (Cues and Tags usually lie at the
/// end, so a file carved across a gap fails here); every CRC-32 element checked
/// against the rest of its parent. A file whose top-level elements all carry a
/// CRC-32 that checks is `Complete`; otherwise the frames are unchecked:
/// `Unverified`. An element that does not fit: partial before it. Segments of
/// unknown size (live WebM) end before the first element that is not a
/// top-level one.
pub struct Mkv;

const SEGMENT: u64 = 0x1853_8067;
const CLUSTER: u64 = 0x1F43_B675;
const SEEK_HEAD: u64 = 0x114D_9B74;
const TRACKS: u64 = 0x1654_AE6B;
const VOID: u64 = 0xEC;
const CRC: u64 = 0xBF;
/// Top-level (segment children) ids: Seek Head, Info, Tracks, Cluster, Cues,
/// Chapters, Tags, Attachments, Void, CRC-32.
const TOP: &[u64] = &[
    SEEK_HEAD,
    0x1549_A966,
    TRACKS,
    CLUSTER,
    0x1C53_BB6B,
    0x1043_A770,
    0x1254_C367,
    0x1941_A469,
    VOID,
    CRC,
];
/// Cluster children: Timestamp, Silent Tracks, Position, Prev Size, Simple
/// Block, Block Group, Encrypted Block, Void, CRC-32.
const IN_CLUSTER: &[u64] = &[0xE7, 0x5854, 0xA7, 0xAB, 0xA3, 0xA0, 0xAF, VOID, CRC];

/// An element header at `at`: (id, data size or None when unknown, header length).
fn element(r: &mut Reader<'_>, at: u64) -> Option<(u64, Option<u64>, u64)> {
    let b = r
        .get(at, 12.min(r.limit().checked_sub(at)?) as usize)?
        .to_vec();
    let id_len = b.first()?.leading_zeros() as usize + 1;
    if id_len > 4 {
        return None;
    }
    let id = b
        .get(..id_len)?
        .iter()
        .fold(0u64, |v, &x| v << 8 | u64::from(x));
    let s0 = *b.get(id_len)?;
    let size_len = s0.leading_zeros() as usize + 1;
    if size_len > 8 {
        return None;
    }
    let raw = b
        .get(id_len..id_len + size_len)?
        .iter()
        .fold(0u64, |v, &x| v << 8 | u64::from(x));
    let value = raw & ((1u64 << (7 * size_len)) - 1);
    let unknown = value == (1u64 << (7 * size_len)) - 1;
    Some((id, (!unknown).then_some(value), (id_len + size_len) as u64))
}

/// What the walk learnt.
#[derive(Default)]
struct Walk {
    tracks: u64,
    video: bool,
    all_crc: bool,
    seeks: Vec<(u64, u64)>,
}

impl Carver for Mkv {
    fn name(&self) -> &'static str {
        "matroska"
    }
    fn extension(&self, subtype: Option<&'static str>) -> &'static str {
        subtype.unwrap_or("mkv")
    }
    fn headers(&self) -> &'static [&'static [u8]] {
        &[b"\x1a\x45\xdf\xa3"]
    }
    fn min_size(&self) -> u64 {
        64
    }
    fn max_size(&self) -> u64 {
        1 << 40
    }
    fn check(&self, r: &mut Reader<'_>) -> Verdict {
        let Some((_, Some(hsize), hl)) = element(r, 0) else {
            return Verdict::Reject;
        };
        if hsize > 256 {
            return Verdict::Reject;
        }
        let Some(head) = r.get(hl, hsize as usize).map(<[u8]>::to_vec) else {
            return Verdict::Reject;
        };
        let webm = memchr::memmem::find(&head, b"\x42\x82\x84webm").is_some();
        if !webm && memchr::memmem::find(&head, b"\x42\x82\x88matroska").is_none() {
            return Verdict::Reject;
        }
        let at = hl + hsize;
        let Some((SEGMENT, size, sl)) = element(r, at) else {
            return Verdict::Reject;
        };
        let data = at + sl;
        let end = size.map(|s| data.saturating_add(s));
        let mut w = Walk {
            all_crc: true,
            ..Walk::default()
        };
        let mut pos = data;
        let mut tops = 0u32;
        let sub_of = |w: &Walk| {
            if webm {
                Some("webm")
            } else if !w.video {
                Some("mka")
            } else {
                None
            }
        };
        while end.is_none_or(|e| pos < e) {
            let Some((id, len, l)) = element(r, pos) else {
                if end.is_none() {
                    break;
                }
                return partial_as(
                    pos,
                    "the segment breaks off in an element header",
                    sub_of(&w),
                );
            };
            if !TOP.contains(&id) {
                if end.is_none() {
                    break;
                }
                return partial_as(pos, "an element that is not a top-level one", sub_of(&w));
            }
            let body = pos + l;
            let stop = match (id, len) {
                (CLUSTER, None) => match cluster(r, body, None, &w) {
                    Some(s) => s,
                    None => return partial_as(pos, "a cluster's children do not fit", sub_of(&w)),
                },
                (_, None) => return partial_as(pos, "an element of unknown size", sub_of(&w)),
                (_, Some(n)) => {
                    let e = body.saturating_add(n);
                    if end.is_some_and(|x| e > x) || e > r.limit() {
                        return partial_as(
                            pos,
                            "an element runs past its segment or the image",
                            sub_of(&w),
                        );
                    }
                    let ok = match id {
                        CLUSTER => cluster(r, body, Some(e), &w).is_some(),
                        TRACKS => tracks(r, body, e, &mut w),
                        SEEK_HEAD => seek_head(r, body, e, &mut w),
                        _ => true,
                    };
                    if !ok {
                        return partial_as(pos, "an element's children do not fit", sub_of(&w));
                    }
                    if id != VOID && id != CRC {
                        match crc_of(r, body, e) {
                            Some(true) => {}
                            Some(false) => {
                                return partial_as(pos, "an element fails its CRC-32", sub_of(&w))
                            }
                            None => w.all_crc = false,
                        }
                    }
                    e
                }
            };
            tops += 1;
            pos = stop;
            if !r.spend(64) {
                return partial_as(pos, "too many elements", sub_of(&w));
            }
        }
        if tops == 0 {
            return Verdict::Reject;
        }
        // Every Seek Head entry must find its element.
        for &(id, p) in &w.seeks {
            let at = data.saturating_add(p);
            if at >= pos || element(r, at).map(|e| e.0) != Some(id) {
                return partial_as(
                    pos,
                    "a Seek Head entry does not find its element",
                    sub_of(&w),
                );
            }
        }
        if w.all_crc {
            Verdict::Complete {
                len: pos,
                subtype: sub_of(&w),
            }
        } else {
            Verdict::Unverified {
                len: pos,
                subtype: sub_of(&w),
            }
        }
    }
}

/// Children of an element from `at` to `end`, each (id, data offset, data end).
fn children(r: &mut Reader<'_>, mut at: u64, end: u64) -> Option<Vec<(u64, u64, u64)>> {
    let mut out = Vec::new();
    while at < end {
        let (id, len, l) = element(r, at)?;
        let e = (at + l).checked_add(len?)?;
        if e > end || !r.spend(16) {
            return None;
        }
        out.push((id, at + l, e));
        at = e;
    }
    Some(out)
}

/// An unsigned integer element's value.
fn uint(r: &mut Reader<'_>, at: u64, end: u64) -> Option<u64> {
    if end - at > 8 {
        return None;
    }
    Some(
        r.get(at, (end - at) as usize)?
            .iter()
            .fold(0u64, |v, &x| v << 8 | u64::from(x)),
    )
}

/// Whether the element's data from `at` starts with a CRC-32 element; if so,
/// whether it matches the rest of the data (stored little-endian).
fn crc_of(r: &mut Reader<'_>, at: u64, end: u64) -> Option<bool> {
    let (id, len, l) = element(r, at)?;
    if id != CRC || len != Some(4) || end < at + l + 4 {
        return None;
    }
    let stored = r.le32(at + l)?;
    let rest = r.get(at + l + 4, (end - at - l - 4) as usize)?;
    Some(crc32(rest) == stored)
}

/// The Tracks element: each Track Entry's number and type.
fn tracks(r: &mut Reader<'_>, at: u64, end: u64, w: &mut Walk) -> bool {
    let Some(entries) = children(r, at, end) else {
        return false;
    };
    for (id, a, e) in entries {
        if id != 0xAE {
            continue;
        }
        let Some(fields) = children(r, a, e) else {
            return false;
        };
        for (fid, fa, fe) in fields {
            match (fid, uint(r, fa, fe)) {
                (0xD7, Some(n)) => w.tracks = w.tracks.max(n),
                (0x83, Some(1)) => w.video = true,
                _ => {}
            }
        }
    }
    w.tracks > 0
}

/// The Seek Head: (Seek ID, Seek Position) of every Seek.
fn seek_head(r: &mut Reader<'_>, at: u64, end: u64, w: &mut Walk) -> bool {
    let Some(seeks) = children(r, at, end) else {
        return false;
    };
    for (id, a, e) in seeks {
        if id != 0x4DBB {
            continue;
        }
        let Some(fields) = children(r, a, e) else {
            return false;
        };
        let (mut sid, mut spos) = (None, None);
        for (fid, fa, fe) in fields {
            match fid {
                0x53AB => sid = uint(r, fa, fe),
                0x53AC => spos = uint(r, fa, fe),
                _ => {}
            }
        }
        match (sid, spos) {
            (Some(i), Some(p)) if w.seeks.len() < 4096 => w.seeks.push((i, p)),
            _ => return false,
        }
    }
    true
}

/// A cluster's children from `at` to `end` (or, for a cluster of unknown size,
/// to the first top-level id); where the cluster ends. Simple Blocks must name a
/// declared track.
fn cluster(r: &mut Reader<'_>, mut at: u64, end: Option<u64>, w: &Walk) -> Option<u64> {
    while end.is_none_or(|e| at < e) {
        let Some((id, len, l)) = element(r, at) else {
            return end.is_none().then_some(at);
        };
        if !IN_CLUSTER.contains(&id) {
            return (end.is_none() && (TOP.contains(&id) || id == SEGMENT)).then_some(at);
        }
        let e = (at + l).checked_add(len?)?;
        if end.is_some_and(|x| e > x) || e > r.limit() || !r.spend(16) {
            return None;
        }
        if id == 0xA3 {
            // The block's track number, an EBML variable-size integer.
            let b = r.u8(at + l)?;
            let n = u64::from(b & 0x7F);
            if b & 0x80 == 0 || n == 0 || (w.tracks > 0 && n > w.tracks) {
                return None;
            }
        }
        at = e;
    }
    Some(at)
}
