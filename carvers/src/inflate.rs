//! One deflate loop for every carver that inflates to check (ZIP members'
//! CRC-32, gzip's trailer, PDF streams' Adler-32): input read by offset as the
//! caller lays the file out, inflated bytes handed to the caller chunk by
//! chunk, and counted against the candidate's work budget, so a bomb stops.

use crate::Reader;
use miniz_oxide::inflate::core::{decompress, inflate_flags, DecompressorOxide};
use miniz_oxide::inflate::TINFLStatus;

/// How a deflate stream ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum End {
    /// Its final block ended (and a zlib stream's Adler-32 matched).
    Done,
    /// The input ran out before its end.
    Cut,
    /// Not deflate data from some point on.
    Damaged,
    /// Neither input taken nor output made.
    Stalled,
    /// The candidate's work budget ran out.
    Budget,
    /// Input that could not be read (past the candidate, or unreadable).
    Unreadable,
    /// The caller stopped it (`out` returned false).
    Stopped,
}

/// What one stream gave: how it ended, the input offset reached (just past
/// the stream when `Done`), and the bytes inflated.
pub(crate) struct Inflated {
    pub end: End,
    pub at: u64,
    pub total: u64,
}

/// Inflates the stream whose input starts at `from` and ends by `to` (`zlib`:
/// with its zlib header and Adler-32); `input` reads `n` bytes at an offset,
/// `out` takes each inflated chunk and may stop the stream.
pub(crate) fn inflate(
    r: &mut Reader<'_>,
    input: impl FnMut(&mut Reader<'_>, u64, usize) -> Option<Vec<u8>>,
    from: u64,
    to: u64,
    zlib: bool,
    out: impl FnMut(&[u8]) -> bool,
) -> Inflated {
    inflate_in_steps(r, input, from, to, zlib, 1 << 16, out)
}

/// [`inflate`] fed at most `step` input bytes at a time, so that the input
/// offset a stop reports (`out` returning false) is within `step` of the
/// bytes that made the output it stopped on.
pub(crate) fn inflate_in_steps(
    r: &mut Reader<'_>,
    input: impl FnMut(&mut Reader<'_>, u64, usize) -> Option<Vec<u8>>,
    from: u64,
    to: u64,
    zlib: bool,
    step: usize,
    out: impl FnMut(&[u8]) -> bool,
) -> Inflated {
    run(r, input, from, to, zlib, step, None, out)
}

/// Where a deflate block's header starts: the byte holding its first bit,
/// and its type (0 stored, 1 fixed Huffman codes, 2 its own codes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct BlockStart {
    pub at: u64,
    pub kind: u8,
}

/// [`inflate`], also noting where each block starts (`blocks`, in order).
pub(crate) fn inflate_blocks(
    r: &mut Reader<'_>,
    input: impl FnMut(&mut Reader<'_>, u64, usize) -> Option<Vec<u8>>,
    from: u64,
    to: u64,
    blocks: &mut Vec<BlockStart>,
    out: impl FnMut(&[u8]) -> bool,
) -> Inflated {
    run(r, input, from, to, false, 1 << 16, Some(blocks), out)
}

/// Where the block whose header comes next starts, and its type: `pending`
/// is what the decompressor holds of the byte before `at` (its bits not yet
/// read, and how many), `None` at the stream's start.
fn block_kind(
    r: &mut Reader<'_>,
    input: &mut impl FnMut(&mut Reader<'_>, u64, usize) -> Option<Vec<u8>>,
    at: u64,
    pending: Option<(u8, u8)>,
) -> Option<BlockStart> {
    let next = input(r, at, 2)?;
    // Bits are read from each byte's lowest up; those left over from the
    // last byte read come first.
    let (bits, start) = match pending {
        Some((buf, n)) if n > 0 => (
            (u32::from(buf) & ((1 << n) - 1)) | u32::from(next[0]) << n,
            at - 1,
        ),
        _ => (u32::from(next[0]), at),
    };
    Some(BlockStart {
        at: start,
        kind: ((bits >> 1) & 3) as u8,
    })
}

#[allow(clippy::too_many_arguments)]
fn run(
    r: &mut Reader<'_>,
    mut input: impl FnMut(&mut Reader<'_>, u64, usize) -> Option<Vec<u8>>,
    from: u64,
    to: u64,
    zlib: bool,
    step: usize,
    mut blocks: Option<&mut Vec<BlockStart>>,
    mut out: impl FnMut(&[u8]) -> bool,
) -> Inflated {
    let mut d = DecompressorOxide::new();
    if let Some(b) = blocks.as_deref_mut() {
        b.extend(block_kind(r, &mut input, from, None));
    }
    let mut buf = vec![0u8; 32768];
    let (mut pos, mut at, mut total) = (0usize, from, 0u64);
    let ended = |end, at, total| Inflated { end, at, total };
    loop {
        let n = to.saturating_sub(at).min(step.max(1) as u64) as usize;
        let Some(bytes) = input(r, at, n) else {
            return ended(End::Unreadable, at, total);
        };
        let more = if at + (n as u64) < to {
            inflate_flags::TINFL_FLAG_HAS_MORE_INPUT
        } else {
            0
        };
        let stops = if blocks.is_some() {
            inflate_flags::TINFL_FLAG_STOP_ON_BLOCK_BOUNDARY
        } else {
            0
        };
        let flags = more
            | stops
            | if zlib {
                inflate_flags::TINFL_FLAG_PARSE_ZLIB_HEADER
            } else {
                0
            };
        let (status, used, written) = decompress(&mut d, &bytes, &mut buf, pos, flags);
        if !r.spend(written as u64) {
            return ended(End::Budget, at, total);
        }
        if !out(&buf[pos..pos + written]) {
            return ended(End::Stopped, at, total);
        }
        total += written as u64;
        pos = (pos + written) & (buf.len() - 1);
        at += used as u64;
        match status {
            TINFLStatus::Done => return ended(End::Done, at, total),
            TINFLStatus::BlockBoundary => {
                let pending = d.block_boundary_state().map(|st| (st.bit_buf, st.num_bits));
                if let Some(b) = blocks.as_deref_mut() {
                    b.extend(block_kind(r, &mut input, at, pending));
                }
                continue;
            }
            TINFLStatus::NeedsMoreInput if more != 0 => {}
            TINFLStatus::HasMoreOutput => {}
            TINFLStatus::NeedsMoreInput => return ended(End::Cut, at, total),
            _ => return ended(End::Damaged, at, total),
        }
        if used == 0 && written == 0 {
            return ended(End::Stalled, at, total);
        }
    }
}
