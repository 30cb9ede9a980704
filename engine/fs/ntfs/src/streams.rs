//! A stream's content from its attribute extents: runs merged by VCN (overlaps
//! clipped), the initialized size, LZNT1-compressed streams as decoded runs, and
//! a deleted stream's clusters judged against $Bitmap.

use crate::compressed::Lznt1Stream;
use crate::record::{Attribute, Value, AT_DATA};
use crate::NtfsFs;
use dredge_core::{Decoded, Recovery, Run, RunData};
use std::sync::Arc;

/// The image offset of a stream's logical byte `off`, when it is stored.
pub(crate) fn image_at(runs: &[Run], off: u64) -> Option<u64> {
    let i = runs.partition_point(|r| r.file_offset + r.len <= off);
    match runs.get(i) {
        Some(Run {
            file_offset,
            data: RunData::Image(x),
            ..
        }) if *file_offset <= off => Some(x + (off - file_offset)),
        _ => None,
    }
}

impl NtfsFs {
    /// The logical bytes `[off, off + buf.len())` of a stream laid out as
    /// `runs` (sorted by file offset; a span may cross runs): Some when every
    /// byte is stored and was read, with whether all of them were read
    /// cleanly (none synthesized for a bad sector); None otherwise.
    pub(crate) fn read_runs(&self, runs: &[Run], off: u64, buf: &mut [u8]) -> Option<bool> {
        let end = off + buf.len() as u64;
        let (mut got, mut clean) = (0u64, true);
        let first = runs.partition_point(|r| r.file_offset + r.len <= off);
        for r in runs[first..].iter().take_while(|r| r.file_offset < end) {
            let (from, to) = (off.max(r.file_offset), end.min(r.file_offset + r.len));
            if from >= to {
                continue;
            }
            let RunData::Image(x) = r.data else {
                return None;
            };
            let dst = &mut buf[(from - off) as usize..(to - off) as usize];
            let read = self
                .vol
                .source()
                .read_at(x + (from - r.file_offset), dst)
                .ok()?;
            clean &= read.is_clean();
            got += to - from;
        }
        (got == buf.len() as u64).then_some(clean)
    }

    /// The cluster allocation bitmap: `$Bitmap`'s, or when its record or
    /// stream is lost, the clusters the in-use MFT records' runs reach
    /// (`bitmap_rebuilt`): without it nothing of the volume would be carved
    /// and every deleted file would look intact.
    pub(super) fn bitmap(&self) -> &Vec<u8> {
        self.bitmap.get_or_init(|| {
            let (Some(r), _) = self.record(6) else {
                return self.reached_bitmap();
            };
            let Some(d) = r
                .attrs
                .iter()
                .find(|a| a.ty == AT_DATA && a.name.is_empty())
            else {
                return self.reached_bitmap();
            };
            // The bitmap is stored in the volume, so it is never larger than it.
            let need = self.clusters().div_ceil(8).min(self.vol.len());
            let (runs, _) = self.data_runs(std::slice::from_ref(d), need.min(1 << 29));
            let mut out = vec![0u8; need.min(1 << 29) as usize];
            for r in runs {
                if let RunData::Image(at) = r.data {
                    let end = (r.file_offset + r.len).min(out.len() as u64) as usize;
                    let _ = self
                        .vol
                        .source()
                        .read_at(at, &mut out[r.file_offset as usize..end]);
                }
            }
            out
        })
    }

    /// A bitmap of the clusters every in-use MFT record's non-resident
    /// attributes map (the MFT's own included, through record 0).
    fn reached_bitmap(&self) -> Vec<u8> {
        let clusters = self.clusters().min(self.vol.len() / self.boot.cs.max(1));
        let mut out = vec![0u8; clusters.div_ceil(8).min(1 << 29) as usize];
        let bits = out.len() as u64 * 8;
        // The runs first, merged, then each cluster set once: a damaged MFT
        // whose records all claim the whole volume costs one pass over the
        // bitmap, not one per record.
        let mut runs: Vec<(u64, u64)> = Vec::new();
        for n in 0..self.record_count() {
            let (Some(r), _) = self.record(n) else {
                continue;
            };
            if !r.in_use {
                continue;
            }
            for a in &r.attrs {
                if let crate::record::Value::NonResident { runs: rs, .. } = &a.value {
                    runs.extend(rs.iter().filter_map(|&(len, lcn)| {
                        let lcn = lcn?.min(bits);
                        Some((lcn, lcn.saturating_add(len).min(bits)))
                    }));
                }
            }
        }
        runs.sort_unstable();
        let mut done = 0u64;
        for (from, to) in runs {
            let mut c = from.max(done);
            while c < to {
                if c % 8 == 0 && to - c >= 8 {
                    let whole = ((to - c) / 8) as usize;
                    let at = (c / 8) as usize;
                    out[at..at + whole].fill(0xFF);
                    c += whole as u64 * 8;
                } else {
                    out[(c / 8) as usize] |= 1 << (c % 8);
                    c += 1;
                }
            }
            done = done.max(to);
        }
        self.bitmap_rebuilt
            .store(true, std::sync::atomic::Ordering::Relaxed);
        out
    }

    pub(super) fn cluster_allocated(&self, c: u64) -> bool {
        self.bitmap()
            .get((c / 8) as usize)
            .is_some_and(|b| b >> (c % 8) & 1 == 1)
    }

    /// File runs of one data stream (all its attribute extents), truncated to its size.
    pub(super) fn data_runs(&self, extents: &[Attribute], size_hint: u64) -> (Vec<Run>, u64) {
        self.runs_to(extents, size_hint, None)
    }

    /// [`data_runs`], the runs cut at the data size, or for a compressed
    /// stream (`unit`: its compression unit in bytes) at the end of its last
    /// unit: its stored bytes may run past the data size (LZNT1 stores
    /// incompressible bytes in chunks with a header each, so 4 096 bytes take
    /// 4 098), and cut there the last chunk would not decode.
    fn runs_to(&self, extents: &[Attribute], size_hint: u64, unit: Option<u64>) -> (Vec<Run>, u64) {
        let cs = self.boot.cs;
        if let Some(Attribute {
            value: Value::Resident(v),
            ..
        }) = extents.first()
        {
            let len = v.len() as u64;
            return (
                vec![Run {
                    file_offset: 0,
                    len,
                    data: RunData::Inline(Arc::from(v.clone().into_boxed_slice())),
                }],
                len,
            );
        }
        let mut ext: Vec<&Attribute> = extents.iter().collect();
        ext.sort_by_key(|a| match a.value {
            Value::NonResident { start_vcn, .. } => start_vcn,
            _ => 0,
        });
        // Sizes live in the first extent.
        let (size, init) = match ext.first().map(|a| &a.value) {
            Some(Value::NonResident {
                data_size,
                init_size,
                ..
            }) => (*data_size, *init_size),
            _ => (size_hint, size_hint),
        };
        let clip = unit.map_or(size, |u| size.saturating_add(u - 1) / u.max(1) * u);
        let mut out: Vec<Run> = Vec::new();
        // Each byte of the stream gets one source: extents that overlap what is
        // already mapped (damage) are clipped.
        let mut mapped_to = 0u64;
        for a in ext {
            let Value::NonResident {
                start_vcn, runs, ..
            } = &a.value
            else {
                continue;
            };
            let mut vcn = *start_vcn;
            for &(len, lcn) in runs {
                let start = vcn.saturating_mul(cs);
                let end = vcn.saturating_add(len).saturating_mul(cs).min(clip);
                vcn = vcn.saturating_add(len);
                let from = start.max(mapped_to);
                if from >= end {
                    continue;
                }
                let data = match lcn {
                    Some(c) => RunData::Image(self.vol.base() + c * cs + (from - start)),
                    None => RunData::Sparse,
                };
                out.push(Run {
                    file_offset: from,
                    len: end - from,
                    data,
                });
                mapped_to = end;
            }
        }
        // Bytes past the initialized size read as zeros.
        if init < size {
            let mut cut = Vec::new();
            for r in out {
                if r.file_offset >= init {
                    cut.push(Run {
                        data: RunData::Sparse,
                        ..r
                    });
                } else if r.file_offset + r.len > init {
                    let keep = init - r.file_offset;
                    cut.push(Run {
                        len: keep,
                        ..r.clone()
                    });
                    cut.push(Run {
                        file_offset: init,
                        len: r.len - keep,
                        data: RunData::Sparse,
                    });
                } else {
                    cut.push(r);
                }
            }
            out = cut;
        }
        (out, size)
    }

    /// An LZNT1 stream as one run decoded on demand (compressed.rs); None when
    /// its unit is not one NTFS writes (the stored runs are listed instead).
    pub(super) fn decoded(
        &self,
        extents: &[Attribute],
        problems: &mut Vec<String>,
    ) -> Option<(Vec<Run>, u64)> {
        let cu = match extents.first().map(|a| &a.value) {
            Some(Value::NonResident {
                compression_unit, ..
            }) if *compression_unit > 0 && *compression_unit < 16 => 1u64 << compression_unit,
            _ => 16,
        };
        let unit = cu.saturating_mul(self.boot.cs);
        let (runs, size) = self.runs_to(extents, 0, Some(unit).filter(|&u| u > 0));
        match Lznt1Stream::new(self.vol.source().clone(), unit, size, runs, problems) {
            Ok(s) => Some((
                vec![Run {
                    file_offset: 0,
                    len: size,
                    data: RunData::Decoded(Decoded(Arc::new(s))),
                }],
                size,
            )),
            Err(e) => {
                problems.push(e);
                None
            }
        }
    }

    pub(super) fn stream(
        &self,
        extents: &[Attribute],
        problems: &mut Vec<String>,
    ) -> (Vec<Run>, u64) {
        if extents
            .first()
            .is_some_and(|a| a.compressed() && matches!(a.value, Value::NonResident { .. }))
        {
            if let Some(x) = self.decoded(extents, problems) {
                return x;
            }
        }
        if extents.first().is_some_and(Attribute::encrypted) {
            problems.push("EFS-encrypted stream: the extracted bytes are ciphertext".into());
        }
        self.data_runs(extents, 0)
    }

    pub(super) fn judge_deleted(&self, runs: &[Run]) -> Recovery {
        let cs = self.boot.cs;
        // A compressed stream is judged by the clusters it is stored in.
        let stored = |r: &Run| -> Vec<Run> {
            match &r.data {
                RunData::Decoded(d) => d.0.stored().to_vec(),
                _ => vec![r.clone()],
            }
        };
        // Clusters past the volume's count are nobody's: the walk stops there.
        let reused = runs.iter().flat_map(stored).any(|r| match r.data {
            RunData::Image(at) => {
                let c0 = at.saturating_sub(self.vol.base()) / cs;
                let c1 = c0.saturating_add(r.len.div_ceil(cs)).min(self.clusters());
                (c0..c1).any(|c| self.cluster_allocated(c))
            }
            _ => false,
        });
        if reused {
            Recovery::Overwritten("some of its clusters are allocated again ($Bitmap)".into())
        } else {
            Recovery::Intact
        }
    }
}
