//! Gap carving: where a JPEG that broke off continues. Candidates are sector
//! starts in a dense stretch with no marker but RSTn; the nearest claimant wins.
//! A file in three pieces: a middle fragment is found the same way, without the
//! EOI, and its own failure is explained by a second gap.

use super::*;

/// Whether a sector looks like entropy-coded data: compressed bytes use most byte
/// values, where text, zeros and tables use few.
pub(crate) fn dense(sector: &[u8]) -> bool {
    let mut seen = [false; 256];
    for &b in sector {
        seen[usize::from(b)] = true;
    }
    seen.iter().filter(|&&x| x).count() >= 64
}

/// (offset, is EOI) of every marker in `[from, to)` that cannot occur inside a
/// scan: the ends of the stretches a fragment of entropy-coded data may lie in.
fn events(r: &mut Reader<'_>, from: u64, to: u64) -> Vec<(u64, bool)> {
    let mut events = Vec::new();
    let mut off = from;
    while off + 1 < to {
        let n = (to - off).min(1 << 20) as usize;
        let Some(chunk) = r.get(off, n) else {
            break;
        };
        for i in memchr::memchr_iter(0xFF, chunk) {
            match chunk.get(i + 1) {
                None | Some(0x00 | 0xD0..=0xD7 | 0xFF) => {}
                Some(&m) => events.push((off + i as u64, m == 0xD9)),
            }
        }
        off += n as u64 - 1;
    }
    events
}

/// Up to `most` sector starts in `[from, to)` that look like compressed data,
/// nearest `from` first.
fn dense_starts(r: &mut Reader<'_>, from: u64, to: u64, most: usize, out: &mut Vec<u64>) {
    let mut t = r.sector_from(from);
    let mut tried = 0;
    while t < to && tried < most {
        if r.get(t, SECTOR as usize).is_some_and(dense) {
            out.push(t);
            tried += 1;
        }
        t += SECTOR;
    }
}

/// Second-fragment starts: sector boundaries (relative offsets) in stretches that
/// contain no marker but restarts and end in EOI, nearest the stretch start first,
/// skipping sectors that do not look like compressed data.
pub(super) fn continuations(r: &mut Reader<'_>, from: u64, to: u64) -> Vec<u64> {
    let mut out = Vec::new();
    let mut clean_from = from;
    for (at, eoi) in events(r, from, to) {
        if eoi {
            dense_starts(r, clean_from, at, 32, &mut out);
        }
        clean_from = at + 2;
    }
    out
}

/// Whether every whole sector of the pieces' entropy-coded data (logical
/// `[from, end)` laid out by `sp`) looks compressed. Zeros and text Huffman-decode
/// validly for long in most tables, so a layout that takes in a stretch of them
/// can still meet the MCU count by the choice of its cuts: in a photo's scan no
/// sector is that sparse (images as flat as a synthetic gradient are not
/// reassembled).
fn dense_throughout(r: &mut Reader<'_>, sp: Splice, from: u64, end: u64) -> bool {
    let mut l = 0;
    for (at, len) in sp.fragments(end) {
        let lo = at + from.saturating_sub(l).min(len);
        let hi = at + len;
        let mut q = r.sector_from(lo);
        while q + SECTOR <= hi {
            if !r.get(q, SECTOR as usize).is_some_and(dense) {
                return false;
            }
            q += SECTOR;
        }
        l += len;
    }
    true
}

/// Whether any gap of layout `sp` has a nearer claimant for the piece after it
/// (`claimed_nearer`).
fn claimed(r: &mut Reader<'_>, sp: Splice) -> bool {
    let mut gaps = vec![(sp.split, sp.split.saturating_add(sp.gap))];
    if sp.cuts() == 2 {
        let from = sp.at(sp.split2 - 1) + 1;
        gaps.push((from, from.saturating_add(sp.gap2)));
    }
    if gaps.len() == 2 && gaps.iter().any(|&(s, t)| seamless(r, s, t)) {
        // A middle piece and the bytes around it read as one stretch of
        // entropy-coded data: pieces of one other file (photos from one camera
        // share tables and sizes, so their pieces can add up to the MCU count),
        // not where foreign data cut this one.
        return true;
    }
    gaps.into_iter().any(|(s, t)| claimed_nearer(r, s, t))
}

/// Whether `[s, t)` holds nothing but what a scan may hold: no marker but
/// restarts, no sparse sector.
fn seamless(r: &mut Reader<'_>, s: u64, t: u64) -> bool {
    if !events(r, s, t).is_empty() {
        return false;
    }
    let mut q = s;
    while q < t {
        let n = (t - q).min(SECTOR) as usize;
        if !r.get(q, n).is_some_and(|b| n < SECTOR as usize || dense(b)) {
            return false;
        }
        q += n as u64;
    }
    true
}

/// Middle-fragment starts: where entropy-coded-looking data begins after foreign
/// data, the first few dense sector boundaries after each marker that cannot be
/// in a scan, and each dense sector that follows one that is not (zeros, text,
/// tables); the sector must hold no marker but restarts. A fragment starts where
/// foreign data stopped, so near the start of its stretch.
pub(super) fn middles(r: &mut Reader<'_>, from: u64, to: u64) -> Vec<u64> {
    let ends = events(r, from, to);
    let mut next_end = ends.iter().map(|e| e.0).peekable();
    let mut out = Vec::new();
    let mut t = r.sector_from(from);
    // Dense sectors taken since the stretch began (a marker or a sparse sector).
    let mut run = 0;
    let mut after = from;
    while t + SECTOR <= to {
        let Some(sector) = r.get(t, SECTOR as usize) else {
            break;
        };
        let dense = dense(sector);
        while next_end.peek().is_some_and(|&e| e < t) {
            after = next_end.next().unwrap_or(t) + 2;
            run = 0;
        }
        let clean = next_end.peek().is_none_or(|&e| e >= t + SECTOR) && t >= after;
        if !dense {
            run = 0;
        } else if clean {
            if run < 3 {
                out.push(t);
            }
            run += 1;
        }
        t += SECTOR;
    }
    out
}

/// Whether a JPEG that starts inside the gap `(s, t)` also breaks off before `t`: the
/// continuation at `t` is then more likely its own. Photos from one camera share
/// tables and sizes, so the first half of one and the second half of another can
/// decode to the right MCU count; the nearer claimant wins.
pub(super) fn claimed_nearer(r: &mut Reader<'_>, s: u64, t: u64) -> bool {
    let mut from = s;
    // Only the gap is searched: a header past `t` is no claimant.
    while let Some(h) = r.find_before(from, t, b"\xFF\xD8\xFF") {
        let mut spent = 0;
        if let Stop::Fail { at, .. } = walk(r, WHOLE, &mut State::default(), h + 2, &mut spent) {
            if at < t {
                return true;
            }
        }
        from = h + 1;
    }
    false
}

/// Layouts with a middle fragment followed further, longest decode first.
const MAX_LEADS: usize = 16;

/// A layout whose decode got past its newest cut and failed again: where, and
/// the checkpoints to resume from.
struct Lead {
    sp: Splice,
    /// Where its decode began: just before the cut.
    start: Cursor,
    fail_at: u64,
    split: u64,
    cursors: VecDeque<Cursor>,
}

/// Keeps the `MAX_LEADS` leads that decoded furthest past their cut, furthest
/// first (the true middle fragment decodes to its end; a wrong one rarely a
/// sector); ties stay in the order found.
fn by_length(leads: &mut Vec<Lead>) {
    leads.sort_by_key(|l| std::cmp::Reverse(l.fail_at - l.split));
    leads.truncate(MAX_LEADS);
}

/// Where the last search may place its cut and continuation.
struct Room<'a> {
    /// Logical offset of the failure; splits lie on sector boundaries up to
    /// `LAG` before it, after `lowest`.
    fail_at: u64,
    lowest: u64,
    cursors: &'a VecDeque<Cursor>,
    /// Continuations (offsets from the candidate's start).
    starts: &'a [u64],
}

/// Tries one more cut in layout `sp` at each split and continuation of `room`:
/// returns the layout and the logical end of the first that decodes to exactly
/// the MCU count and EOI. With `leads`, the layouts that decoded at least a
/// sector past their new cut before failing are kept to be cut once more.
fn cut(
    r: &mut Reader<'_>,
    res: &Resume,
    sp: Splice,
    room: &Room<'_>,
    spent: &mut u64,
    mut leads: Option<&mut Vec<Lead>>,
) -> Option<(Splice, u64)> {
    let abs = r.start();
    let lowest = room.fail_at.saturating_sub(LAG).max(room.lowest);
    let mut s_abs = (abs + room.fail_at) / SECTOR * SECTOR;
    while s_abs > abs + lowest {
        let s = s_abs - abs;
        s_abs -= SECTOR;
        // The newest checkpoint whose loaded bytes all lie before the split (and
        // that did not meet the end of what it was given).
        let Some(cp) = room
            .cursors
            .iter()
            .rev()
            .find(|c| c.bits.pos <= s && !c.bits.marker)
        else {
            continue;
        };
        let here = sp.at(s);
        for &t in room.starts {
            if t < here + SECTOR || t - here > MAX_GAP {
                continue;
            }
            if *spent > BUDGET {
                return None;
            }
            let next = sp.then(s, t - here)?;
            let mut cur = cp.clone();
            let mut ring = VecDeque::new();
            let keep = leads.is_some().then_some(&mut ring);
            if decode_scan(r, next, &res.state, &res.scan, &mut cur, keep, spent).is_err() {
                let at = cur.bits.pos.saturating_sub(u64::from(cur.bits.real() / 8));
                if let Some(leads) = leads.as_deref_mut() {
                    // A decode that ran into an EOI short of its MCUs went through
                    // some file's last fragment: no middle one, unless sparse
                    // bytes it decoded on the way hide where the middle ended.
                    let eoi = r.get(next.at(at), 2) == Some(&[0xFF, 0xD9][..]);
                    if at >= s + SECTOR && (!eoi || first_sparse(r, next, s, at).is_some()) {
                        leads.push(Lead {
                            sp: next,
                            start: cp.clone(),
                            fail_at: at,
                            split: s,
                            cursors: ring,
                        });
                        // Only the best are followed: hostile bytes that make
                        // thousands of leads never hold their checkpoints all.
                        if leads.len() >= 4 * MAX_LEADS {
                            by_length(leads);
                        }
                    }
                }
                continue;
            }
            let mut st = res.state.clone();
            if let Stop::End(end) = walk(r, next, &mut st, cur.bits.pos, spent) {
                if r.unreadable == 0
                    && end > s
                    && !claimed(r, next)
                    && dense_throughout(r, next, res.data_start, end)
                {
                    return Some((next, end));
                }
            }
        }
    }
    None
}

/// Where a decode from `start` in layout `sp` may have left the file: where it
/// failed (`fail_at`, with its checkpoints `cursors`), and before that, when a
/// sector more than `LAG` before the failure is sparse (zeros, text: Huffman
/// codes of zero bits are valid in most tables, so such a gap decodes for long
/// before anything fails), that sector's start, with checkpoints made again by
/// decoding up to it.
fn failures(
    r: &mut Reader<'_>,
    res: &Resume,
    sp: Splice,
    start: &Cursor,
    fail_at: u64,
    cursors: VecDeque<Cursor>,
    spent: &mut u64,
) -> Vec<(u64, VecDeque<Cursor>)> {
    let mut out = vec![(fail_at, cursors)];
    if let Some(q) = first_sparse(r, sp, start.bits.pos, fail_at) {
        // The bytes from `q` on are placed past the data: the decode stops there.
        if let Some(stop) = sp.then(q, r.limit()) {
            let mut cur = start.clone();
            let mut ring = VecDeque::new();
            let _ = decode_scan(
                r,
                stop,
                &res.state,
                &res.scan,
                &mut cur,
                Some(&mut ring),
                spent,
            );
            out.push((q, ring));
        }
    }
    out
}

/// The first sector start (logical, in layout `sp`) from `from` on whose sector
/// does not look compressed, if it lies more than `LAG` before `fail_at`.
fn first_sparse(r: &mut Reader<'_>, sp: Splice, from: u64, fail_at: u64) -> Option<u64> {
    let mut q = r.sector_from(from);
    while q.saturating_add(LAG) < fail_at {
        if !dense(r.get(sp.at(q), SECTOR as usize)?) {
            return Some(q);
        }
        q += SECTOR;
    }
    None
}

/// Bytes after a failure searched for a continuation.
fn ahead(at: u64, r: &Reader<'_>) -> u64 {
    at.saturating_add(MAX_GAP + (64 << 10)).min(r.limit())
}

/// Tries to explain a failed sequential scan by gaps: returns the layout (one or
/// two cuts) and the logical end. Two fragments are tried first (a continuation
/// that ends in EOI); then three: a middle fragment that decodes past a sector
/// and fails again, whose failure a second gap explains the same way.
pub(super) fn reassemble(r: &mut Reader<'_>, fail_at: u64, res: &Resume) -> Option<(Splice, u64)> {
    let mut spent = 0u64;
    let start = Cursor {
        bits: Bits::new(res.data_start),
        mcu: 0,
        dc: [0; 4],
        rst: 0,
    };
    let points = failures(
        r,
        res,
        WHOLE,
        &start,
        fail_at,
        res.cursors.clone(),
        &mut spent,
    );
    for (fail_at, cursors) in &points {
        let starts = continuations(r, fail_at + 1, ahead(*fail_at, r));
        let room = Room {
            fail_at: *fail_at,
            lowest: res.data_start,
            cursors,
            starts: &starts,
        };
        if let Some(found) = cut(r, res, WHOLE, &room, &mut spent, None) {
            return Some(found);
        }
    }
    let mut leads = Vec::new();
    for (fail_at, cursors) in &points {
        let mids = middles(r, fail_at + 1, ahead(*fail_at, r));
        let room = Room {
            fail_at: *fail_at,
            lowest: res.data_start,
            cursors,
            starts: &mids,
        };
        cut(r, res, WHOLE, &room, &mut spent, Some(&mut leads));
    }
    by_length(&mut leads);
    for lead in leads {
        let points = failures(
            r,
            res,
            lead.sp,
            &lead.start,
            lead.fail_at,
            lead.cursors,
            &mut spent,
        );
        for (fail_at, cursors) in &points {
            let from = lead.sp.at(*fail_at);
            let starts = continuations(r, from + 1, ahead(from, r));
            let room = Room {
                fail_at: *fail_at,
                lowest: lead.split,
                cursors,
                starts: &starts,
            };
            if let Some(found) = cut(r, res, lead.sp, &room, &mut spent, None) {
                return Some(found);
            }
        }
    }
    None
}
