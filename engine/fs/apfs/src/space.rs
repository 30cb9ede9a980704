//! Free space from the space manager: an ephemeral object (found through the
//! checkpoint map) listing chunk-info blocks, directly or through
//! chunk-info address blocks; each chunk's bitmap has a bit per block, set
//! where the block is in use. A chunk with no bitmap is wholly free.

use crate::container::Container;
use crate::obj::{Bad, SPACEMAN, SPACEMAN_CIB};
use dredge_core::bytes::{le32, le64};
use dredge_core::Extent;

/// Chunk-info address blocks and chunk-info blocks one space manager is read
/// for (a container of 2^64 bytes needs fewer).
const MAX_INFO_BLOCKS: u64 = 1 << 20;
const CAB: u32 = 0x06;

/// The container's free blocks as image extents, or why they could not be
/// read.
pub(crate) fn free(c: &Container, bad: &mut Bad) -> Result<Vec<Extent>, String> {
    let blocks = &c.blocks;
    let &(at, size) = c
        .ephemeral
        .get(&c.nx.spaceman_oid)
        .ok_or("the space manager is not in the checkpoint map")?;
    // The object may span blocks; its addresses can sit past the first.
    let nblocks = size.div_ceil(blocks.size).clamp(1, 64);
    let (_, first) = blocks.object(at, SPACEMAN, bad)?;
    let mut sm = first;
    for i in 1..nblocks {
        sm.extend_from_slice(&blocks.read(at + i)?);
    }
    let per_chunk = u64::from(le32::<u32>(&sm, 36));
    let cib_count = u64::from(le32::<u32>(&sm, 64));
    let cab_count = u64::from(le32::<u32>(&sm, 68));
    let addr_off = le32::<u32>(&sm, 80) as usize;
    if per_chunk == 0 || per_chunk > blocks.size * 8 {
        return Err(format!("{per_chunk} blocks per chunk"));
    }
    let n = if cab_count > 0 { cab_count } else { cib_count }.min(MAX_INFO_BLOCKS);
    let addr = |i: u64| -> Option<u64> {
        let o = addr_off.checked_add(8 * i as usize)?;
        (o + 8 <= sm.len()).then(|| le64(&sm, o))
    };
    let mut cibs = Vec::new();
    for i in 0..n {
        let a = addr(i).ok_or("space manager address table runs past the object")?;
        if cab_count == 0 {
            cibs.push(a);
            continue;
        }
        let (_, b) = blocks.object(a, CAB, bad)?;
        let k = u64::from(le32::<u32>(&b, 36)).min((b.len() as u64 - 40) / 8);
        cibs.extend((0..k).map(|j| le64(&b, 40 + 8 * j as usize)));
        if cibs.len() as u64 > MAX_INFO_BLOCKS {
            return Err("more chunk-info blocks than any container has".into());
        }
    }
    let base = blocks.vol.base();
    let end = blocks.count;
    let mut out: Vec<Extent> = Vec::new();
    let mut push = |from: u64, len: u64| {
        let len = len.min(end.saturating_sub(from));
        if len == 0 {
            return;
        }
        let x = Extent::new(base + from * blocks.size, len * blocks.size);
        match out.last_mut() {
            Some(l) if l.end() == x.start => l.len += x.len,
            _ => out.push(x),
        }
    };
    let mut chunks = Vec::new();
    for a in cibs {
        let (_, b) = blocks.object(a, SPACEMAN_CIB, bad)?;
        let k = (le32::<u32>(&b, 36) as usize).min((b.len() - 40) / 32);
        for j in 0..k {
            let e = 40 + 32 * j;
            let count = u64::from(le32::<u32>(&b, e + 16)).min(per_chunk);
            chunks.push((le64(&b, e + 8), count, le64(&b, e + 24)));
        }
    }
    chunks.sort_unstable();
    for (start, count, bitmap) in chunks {
        if bitmap == 0 {
            push(start, count);
            continue;
        }
        let bits = blocks.read(bitmap)?;
        let mut run: Option<u64> = None;
        for i in 0..count {
            let used = bits[(i / 8) as usize] & (1 << (i % 8)) != 0;
            match (used, run) {
                (false, None) => run = Some(i),
                (true, Some(r)) => {
                    push(start + r, i - r);
                    run = None;
                }
                _ => {}
            }
        }
        if let Some(r) = run {
            push(start + r, count - r);
        }
    }
    Ok(out)
}
