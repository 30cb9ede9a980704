//! Gap carving: where a JPEG that broke off continues. Candidates are sector
//! starts in a dense stretch with no marker but RSTn; the nearest claimant wins.

use super::*;

/// Whether a sector looks like entropy-coded data: compressed bytes use most byte
/// values, where text, zeros and tables use few.
pub(super) fn dense(sector: &[u8]) -> bool {
    let mut seen = [false; 256];
    for &b in sector {
        seen[usize::from(b)] = true;
    }
    seen.iter().filter(|&&x| x).count() >= 64
}

/// Second-fragment starts: sector boundaries (relative offsets) in stretches that
/// contain no marker but restarts and end in EOI, nearest the stretch start first,
/// skipping sectors that do not look like compressed data.
pub(super) fn continuations(r: &mut Reader<'_>, from: u64, to: u64) -> Vec<u64> {
    let abs = r.start();
    // (offset, is EOI) of every marker that cannot occur inside a scan.
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
    let mut out = Vec::new();
    let mut clean_from = from;
    for (at, eoi) in events {
        if eoi {
            let mut t = (abs + clean_from).div_ceil(SECTOR) * SECTOR - abs;
            let mut tried = 0;
            while t < at && tried < 32 {
                if r.get(t, SECTOR as usize).is_some_and(dense) {
                    out.push(t);
                    tried += 1;
                }
                t += SECTOR;
            }
        }
        clean_from = at + 2;
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

/// Tries to explain a failed sequential scan by a gap: returns (split, gap, end).
pub(super) fn bifragment(
    r: &mut Reader<'_>,
    fail_at: u64,
    res: &Resume,
) -> Option<(u64, u64, u64)> {
    let abs = r.start();
    let lowest = fail_at.saturating_sub(LAG).max(res.data_start);
    let last = (abs + fail_at) / SECTOR * SECTOR;
    let starts = continuations(
        r,
        fail_at + 1,
        fail_at.saturating_add(MAX_GAP + (64 << 10)).min(r.limit()),
    );
    let mut spent = 0u64;
    let mut s_abs = last;
    while s_abs > abs + lowest {
        let s = s_abs - abs;
        s_abs -= SECTOR;
        // The newest checkpoint whose loaded bytes all lie before the split.
        let Some(cp) = res.cursors.iter().rev().find(|c| c.bits.pos <= s) else {
            continue;
        };
        for &t in &starts {
            if t < s + SECTOR || t - s > MAX_GAP {
                continue;
            }
            if spent > BUDGET {
                return None;
            }
            let sp = Splice {
                split: s,
                gap: t - s,
            };
            let mut cur = cp.clone();
            if decode_scan(r, sp, &res.state, &res.scan, &mut cur, None, &mut spent).is_err() {
                continue;
            }
            let mut st = res.state.clone();
            if let Stop::End(end) = walk(r, sp, &mut st, cur.bits.pos, &mut spent) {
                if r.unreadable == 0 && end > s && !claimed_nearer(r, s, t) {
                    return Some((s, t - s, end));
                }
            }
        }
    }
    None
}
