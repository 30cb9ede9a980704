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
    mut input: impl FnMut(&mut Reader<'_>, u64, usize) -> Option<Vec<u8>>,
    from: u64,
    to: u64,
    zlib: bool,
    step: usize,
    mut out: impl FnMut(&[u8]) -> bool,
) -> Inflated {
    let mut d = DecompressorOxide::new();
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
        let flags = more
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
