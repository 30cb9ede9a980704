//! Progressive Huffman scans (SOF2: web images, browser caches, many
//! editors' "optimised" output), decoded as T.81 Annex G lays them out, to
//! the last bit: DC first scans (Huffman-coded differences, interleaved by
//! MCU), DC refinements (one bit a block), AC first scans (one component,
//! runs of end-of-band over blocks) and AC refinements (correction bits for
//! the coefficients earlier scans made non-zero, which are tracked per block).
//! Every code must exist in its table, every band must stay within the
//! scan's spectral range, restart markers must come in order, and each scan
//! must end at a marker after exactly its blocks: what a file in pieces
//! carved as one fails, as a sequential scan does.

use super::{Bits, Huff, State};
use crate::{Reader, Splice};

/// Blocks whose coefficients are tracked at most (8 bytes each): a frame
/// larger than this is checked for stuffing only, as before.
pub(super) const MAX_BLOCKS: u64 = 4 << 20;

/// The frame's per-component block grid and, for each block, which of its
/// AC coefficients earlier scans made non-zero.
#[derive(Clone, Default)]
pub(super) struct Coefs {
    /// Per frame component: (blocks across, blocks down) of the component
    /// itself (non-interleaved scans), and of its MCU-padded grid.
    grid: Vec<(u64, u64, u64, u64)>,
    nz: Vec<Vec<u64>>,
}

impl Coefs {
    /// The grids of a frame of `width`×`height` with `comps` (h, v); None
    /// when it has more blocks than are tracked.
    pub(super) fn new(width: u32, height: u32, comps: &[(u32, u32)]) -> Option<Coefs> {
        let (hmax, vmax) = comps
            .iter()
            .fold((1, 1), |(a, b), &(h, v)| (a.max(h), b.max(v)));
        let (w, h) = (u64::from(width), u64::from(height));
        let (mx, my) = (
            w.div_ceil(8 * u64::from(hmax)),
            h.div_ceil(8 * u64::from(vmax)),
        );
        let mut c = Coefs::default();
        let mut total = 0u64;
        for &(ch, cv) in comps {
            let bw = (w * u64::from(ch)).div_ceil(u64::from(hmax)).div_ceil(8);
            let bh = (h * u64::from(cv)).div_ceil(u64::from(vmax)).div_ceil(8);
            let (pw, ph) = (mx * u64::from(ch), my * u64::from(cv));
            total = total.checked_add(pw.checked_mul(ph)?)?;
            c.grid.push((bw, bh, pw, ph));
        }
        if total > MAX_BLOCKS {
            return None;
        }
        c.nz = c
            .grid
            .iter()
            .map(|&(_, _, pw, ph)| vec![0u64; (pw * ph) as usize])
            .collect();
        Some(c)
    }
}

/// A progressive scan's header: its components (frame index, DC table, AC
/// table), spectral selection and successive approximation.
pub(super) struct PScan {
    comps: Vec<(usize, usize, usize)>,
    ss: u32,
    se: u32,
    ah: u32,
}

/// The scan header at `off` (after the marker's length), checked against the
/// frame and T.81's rules for progressive scans.
pub(super) fn header(r: &mut Reader<'_>, sp: Splice, st: &State, off: u64) -> Option<PScan> {
    let f = st.frame.as_ref()?;
    let n = usize::from(r.u8(sp.at(off))?);
    if n == 0 || n > 4 || n > f.comps.len() {
        return None;
    }
    let comps = super::scan_comps(r, sp, f, off, n)?;
    let at = off + 1 + 2 * n as u64;
    let (ss, se, a) = (
        u32::from(r.u8(sp.at(at))?),
        u32::from(r.u8(sp.at(at + 1))?),
        r.u8(sp.at(at + 2))?,
    );
    let (ah, al) = (u32::from(a >> 4), u32::from(a & 15));
    let dc_scan = ss == 0;
    if se > 63 || ss > se || (dc_scan && se != 0) || (!dc_scan && n != 1) || ah > 13 || al > 13 {
        return None;
    }
    Some(PScan { comps, ss, se, ah })
}

/// Where a scan's decoding stands, for the caller's failure offset.
pub(super) struct At {
    pub bits: Bits,
}

/// Decodes one progressive scan whose data starts at `data`; on success the
/// bits end at the marker after it. `coefs` carries the non-zero history.
pub(super) fn decode(
    r: &mut Reader<'_>,
    sp: Splice,
    st: &State,
    coefs: &mut Coefs,
    scan: &PScan,
    at: &mut At,
) -> Result<(), &'static str> {
    let f = st.frame.as_ref().ok_or("scan before frame header")?;
    let bits = &mut at.bits;
    let mut dc_pred = [0i32; 4];
    let mut eobrun = 0u32;
    let mut rst = 0u8;
    let restart = st.restart;
    let interleaved = scan.comps.len() > 1;
    // The MCUs of the scan: the frame's MCU grid when interleaved, else the
    // component's own blocks.
    let (first, ..) = scan.comps[0];
    let (bw, bh, pw, _) = coefs.grid[first];
    let mcus = if interleaved {
        let (hmax, vmax) = f
            .comps
            .iter()
            .fold((1, 1), |(a, b), c| (c.h.max(a), c.v.max(b)));
        u64::from(f.width).div_ceil(8 * u64::from(hmax))
            * u64::from(f.height).div_ceil(8 * u64::from(vmax))
    } else {
        bw * bh
    };
    let mut mcu = 0u64;
    while mcu < mcus {
        for &(fc, dct, act) in &scan.comps {
            let c = f.comps[fc];
            let blocks = if interleaved { c.h * c.v } else { 1 };
            for _ in 0..blocks {
                if scan.ss == 0 {
                    if scan.ah == 0 {
                        let h = st.dc[dct]
                            .as_ref()
                            .ok_or("scan uses an undefined Huffman table")?;
                        let t = u32::from(bits.decode(r, sp, h)?);
                        if t > 11 {
                            return Err("DC difference out of range");
                        }
                        dc_pred[fc] += bits.receive(r, sp, t)?;
                        if !(-4096..=4096).contains(&dc_pred[fc]) {
                            return Err("DC value out of range");
                        }
                    } else {
                        bits.peek(r, sp, 1);
                        bits.skip(1)?;
                    }
                    continue;
                }
                // An AC scan: one component, blocks in the component's order.
                let (row, col) = (mcu / bw, mcu % bw);
                let nz = &mut coefs.nz[fc][(row * pw + col) as usize];
                let h = st.ac[act]
                    .as_ref()
                    .ok_or("scan uses an undefined Huffman table")?;
                if scan.ah == 0 {
                    ac_first(r, sp, bits, h, scan, nz, &mut eobrun)?;
                } else {
                    ac_refine(r, sp, bits, h, scan, nz, &mut eobrun)?;
                }
            }
        }
        mcu += 1;
        if restart > 0 && mcu.is_multiple_of(restart) && mcu < mcus {
            bits.fill(r, sp);
            if !bits.marker || bits.real() >= 8 {
                return Err("restart marker missing");
            }
            if r.u8(sp.at(bits.pos)) != Some(0xFF) || r.u8(sp.at(bits.pos + 1)) != Some(0xD0 + rst)
            {
                return Err("restart marker out of sequence");
            }
            *bits = Bits::new(bits.pos + 2);
            rst = (rst + 1) & 7;
            dc_pred = [0; 4];
            eobrun = 0;
        }
    }
    bits.fill(r, sp);
    if !bits.marker || bits.real() >= 8 {
        return Err("data after the last block of a scan");
    }
    Ok(())
}

/// `k` raw bits (an end-of-band run's low bits, a refinement bit).
fn raw(r: &mut Reader<'_>, sp: Splice, bits: &mut Bits, k: u32) -> Result<u32, &'static str> {
    if k == 0 {
        return Ok(0);
    }
    let v = bits.peek(r, sp, k);
    bits.skip(k)?;
    Ok(v)
}

/// One block of an AC first scan (T.81 G.1.2.2).
fn ac_first(
    r: &mut Reader<'_>,
    sp: Splice,
    bits: &mut Bits,
    h: &Huff,
    scan: &PScan,
    nz: &mut u64,
    eobrun: &mut u32,
) -> Result<(), &'static str> {
    if *eobrun > 0 {
        *eobrun -= 1;
        return Ok(());
    }
    let mut k = scan.ss;
    while k <= scan.se {
        let rs = bits.decode(r, sp, h)?;
        let (run, size) = (u32::from(rs >> 4), u32::from(rs & 15));
        if size == 0 {
            if run < 15 {
                *eobrun = (1 << run) - 1 + raw(r, sp, bits, run)?;
                break;
            }
            k += 16;
            continue;
        }
        k += run;
        if k > scan.se || size > 10 {
            return Err("AC coefficient out of range");
        }
        raw(r, sp, bits, size)?;
        *nz |= 1 << k;
        k += 1;
    }
    if k > scan.se + 1 {
        return Err("more coefficients than the band holds");
    }
    Ok(())
}

/// One block of an AC refinement scan (T.81 G.1.2.3): a correction bit for
/// each coefficient already non-zero in the band, new ones of magnitude one.
fn ac_refine(
    r: &mut Reader<'_>,
    sp: Splice,
    bits: &mut Bits,
    h: &Huff,
    scan: &PScan,
    nz: &mut u64,
    eobrun: &mut u32,
) -> Result<(), &'static str> {
    let mut k = scan.ss;
    if *eobrun == 0 {
        while k <= scan.se {
            let rs = bits.decode(r, sp, h)?;
            let (mut run, size) = (i32::from(rs >> 4), u32::from(rs & 15));
            if size == 0 && run < 15 {
                *eobrun = (1 << run) + raw(r, sp, bits, run as u32)?;
                break;
            }
            if size > 1 {
                return Err("a refinement coefficient larger than one");
            }
            if size == 1 {
                raw(r, sp, bits, 1)?;
            }
            // Past `run` coefficients still zero (correcting the non-zero
            // ones met), to the one this symbol makes non-zero.
            while k <= scan.se {
                if *nz & (1 << k) != 0 {
                    raw(r, sp, bits, 1)?;
                } else {
                    if run == 0 {
                        break;
                    }
                    run -= 1;
                }
                k += 1;
            }
            if size == 1 {
                if k > scan.se {
                    return Err("a new coefficient past the band");
                }
                *nz |= 1 << k;
            }
            k += 1;
        }
    }
    if *eobrun > 0 {
        while k <= scan.se {
            if *nz & (1 << k) != 0 {
                raw(r, sp, bits, 1)?;
            }
            k += 1;
        }
        *eobrun -= 1;
    }
    Ok(())
}
