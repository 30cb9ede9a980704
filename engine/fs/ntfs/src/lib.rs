//! NTFS, read-only and forensic: every MFT record is swept, in use or not; paths are
//! rebuilt from $FILE_NAME parent references (orphans under `/$OrphanFiles`);
//! resident, non-resident, sparse and compressed (LZNT1) data and alternate data
//! streams; the backup boot sector and $MFTMirr stand in for damaged primaries;
//! a record whose fixups fail is salvaged stride by stride; a deleted file's
//! clusters are checked against $Bitmap. (docs/decisions/0008-own-ntfs-reader.md)

mod compressed;
mod i30;
mod i30_root;
mod indx;
mod logfile;
mod logrec;
mod lznt1;
mod record;
mod streams;
mod usn;
mod walk;

use dredge_core::{Entry, Extent, FileSystem, Finding, Timestamp, VolumeReader};
use record::{
    filetime, le16, le64, Attribute, FileName, Record, Value, AT_DATA, AT_STANDARD_INFORMATION,
};
use std::sync::OnceLock;

const ROOT: u64 = 5;
/// $LogFile, the journal of metadata changes.
const LOGFILE: u64 = 2;
/// $Extend, the folder of $UsnJrnl, $ObjId, $Quota, $Reparse.
const EXTEND: u64 = 11;
/// Records swept at most (a 2^32-record MFT is 4 TiB of metadata: damage).
const MAX_RECORDS: u64 = 1 << 28;

struct Boot {
    bps: u64,
    cs: u64,
    total_sectors: u64,
    mft_lcn: u64,
    mirr_lcn: u64,
    record_size: u64,
    /// The size of a folder's index block (4 KiB as every NTFS version
    /// writes it; the boot sector's value when it is a plausible one).
    index_size: u64,
}

fn parse_boot(s: &[u8], at: u64) -> Result<Boot, Finding> {
    if s.len() < 512 || &s[3..11] != b"NTFS    " {
        return Err(
            Finding::new(at + 3, "NTFS boot sector signature missing").expected(
                "\"NTFS    \"",
                String::from_utf8_lossy(&s[3..11]).escape_debug(),
            ),
        );
    }
    let bps = le16(s, 11);
    if !matches!(bps, 512 | 1024 | 2048 | 4096) {
        return Err(
            Finding::new(at + 11, "NTFS bytes per sector invalid").expected("512..4096", bps)
        );
    }
    let spc_raw = s[13];
    let spc: u64 = if spc_raw <= 0x80 {
        u64::from(spc_raw)
    } else {
        1u64 << (256 - u32::from(spc_raw)).min(31)
    };
    if spc == 0 || !spc.is_power_of_two() {
        return Err(Finding::new(at + 13, "NTFS sectors per cluster invalid")
            .expected("power of two", spc_raw));
    }
    let cs = bps * spc;
    let cpr = s[0x40] as i8;
    let record_size = if cpr > 0 {
        u64::from(cpr as u8) * cs
    } else {
        1u64 << u32::from(cpr.unsigned_abs()).min(20)
    };
    if !(256..=65536).contains(&record_size) {
        return Err(Finding::new(at + 0x40, "NTFS MFT record size invalid")
            .expected("256..65536", record_size));
    }
    // Clusters per index block, or its size as a negative power of two, as
    // for records; a damaged value is not a reason to refuse the volume.
    let cpi = s[0x44] as i8;
    let index_size = match cpi {
        1..=127 => u64::from(cpi as u8) * cs,
        -16..=-9 => 1u64 << cpi.unsigned_abs(),
        _ => 4096,
    };
    let index_size = if (512..=65536).contains(&index_size) && index_size.is_power_of_two() {
        index_size
    } else {
        4096
    };
    let total_sectors = le64(s, 0x28);
    // 2^48 sectors (128 PiB at 512 bytes) is beyond any real volume; a larger value
    // is damage, and would overflow byte arithmetic.
    if total_sectors > 1 << 48 {
        return Err(
            Finding::new(at + 0x28, "NTFS total sector count implausible")
                .expected("<= 2^48", total_sectors),
        );
    }
    let mft_lcn = le64(s, 0x30);
    let mirr_lcn = le64(s, 0x38);
    let clusters = total_sectors / spc;
    if total_sectors == 0 || mft_lcn >= clusters.max(1) || mirr_lcn >= clusters.max(1) {
        return Err(Finding::new(at + 0x28, "NTFS geometry invalid").expected(
            "MFT inside the volume",
            format!("{total_sectors} sectors, MFT at cluster {mft_lcn}, mirror at {mirr_lcn}"),
        ));
    }
    Ok(Boot {
        bps,
        cs,
        total_sectors,
        mft_lcn,
        mirr_lcn,
        record_size,
        index_size,
    })
}

fn read(vol: &VolumeReader, at: u64, len: u64) -> Option<(Vec<u8>, bool)> {
    let mut b = vec![0u8; len as usize];
    let r = vol.read_at(at, &mut b).ok()?;
    Some((b, r.is_clean()))
}

pub fn probe(vol: &VolumeReader) -> bool {
    let at_end = vol.len().saturating_sub(512);
    [0u64, at_end]
        .iter()
        .any(|&at| read(vol, at, 512).is_some_and(|(b, _)| parse_boot(&b, at).is_ok()))
}

pub struct NtfsFs {
    vol: VolumeReader,
    boot: Boot,
    /// MFT layout: (first VCN, clusters, LCN).
    mft_runs: Vec<(u64, u64, Option<u64>)>,
    mft_size: u64,
    label: Option<String>,
    findings: Vec<Finding>,
    bitmap: OnceLock<Vec<u8>>,
    /// `$Bitmap` was lost and `bitmap` rebuilt from the MFT's runs.
    bitmap_rebuilt: std::sync::atomic::AtomicBool,
    /// Image offsets of the index blocks the pass found in free clusters.
    free_indx: OnceLock<Vec<u64>>,
}

/// What the first pass keeps of a record: enough to build paths. Attributes are
/// read again when the entry is emitted, so memory follows names, not data.
impl NtfsFs {
    pub fn open(vol: VolumeReader) -> Result<NtfsFs, Finding> {
        let mut findings = Vec::new();
        let primary = read(&vol, 0, 512)
            .ok_or_else(|| Finding::new(vol.base(), "NTFS boot sector unreadable"))
            .and_then(|(b, _)| parse_boot(&b, vol.base()));
        let boot = match primary {
            Ok(b) => b,
            Err(e) => {
                // The backup boot sector is the volume's last sector.
                let backup = [512u64, 4096].iter().find_map(|&ss| {
                    let at = vol.len().checked_sub(ss)?;
                    let (b, _) = read(&vol, at, 512)?;
                    parse_boot(&b, vol.base() + at)
                        .ok()
                        .filter(|bt| bt.total_sectors * bt.bps == at)
                        .map(|bt| (at, bt))
                });
                match backup {
                    Some((at, b)) => {
                        findings.push(e);
                        findings.push(Finding::new(vol.base() + at, "NTFS primary boot sector unusable; backup boot sector (last sector of the volume) used"));
                        b
                    }
                    None => return Err(e),
                }
            }
        };
        let clusters = boot.total_sectors * boot.bps / boot.cs;
        // $MFT's own record gives the MFT's layout; $MFTMirr holds a copy.
        let mut mft = None;
        for (lcn, what) in [(boot.mft_lcn, "MFT"), (boot.mirr_lcn, "MFT mirror")] {
            let at = lcn * boot.cs;
            let Some((mut b, clean)) = read(&vol, at, boot.record_size) else {
                continue;
            };
            match record::parse(&mut b, clusters) {
                Ok(r) if r.bad_strides.is_empty() && clean => {
                    if let Some(d) = r
                        .attrs
                        .iter()
                        .find(|a| a.ty == AT_DATA && a.name.is_empty())
                    {
                        if let Value::NonResident {
                            runs, data_size, ..
                        } = &d.value
                        {
                            if !runs.is_empty() {
                                if what != "MFT" {
                                    findings.push(Finding::new(vol.base() + boot.mft_lcn * boot.cs, "record 0 of the MFT is damaged; MFT layout taken from $MFTMirr"));
                                }
                                mft = Some((runs.clone(), *data_size));
                                break;
                            }
                        }
                    }
                    findings.push(Finding::new(
                        vol.base() + at,
                        format!("{what} record 0 has no usable $DATA run list"),
                    ));
                }
                Ok(_) => findings.push(Finding::new(
                    vol.base() + at,
                    format!("{what} record 0 is damaged (fixup mismatch or unreadable sectors)"),
                )),
                Err(e) => findings.push(Finding::new(
                    vol.base() + at,
                    format!("{what} record 0: {e}"),
                )),
            }
        }
        let Some((runs, mft_size)) = mft else {
            return Err(Finding::new(
                vol.base() + boot.mft_lcn * boot.cs,
                "neither the MFT nor its mirror yields the MFT's layout",
            ));
        };
        let mut vcn = 0;
        let mft_runs = runs
            .iter()
            .map(|&(len, lcn)| {
                let r = (vcn, len, lcn);
                vcn += len;
                r
            })
            .collect();
        let mut fs = NtfsFs {
            vol,
            boot,
            mft_runs,
            mft_size,
            label: None,
            findings,
            bitmap: OnceLock::new(),
            bitmap_rebuilt: Default::default(),
            free_indx: OnceLock::new(),
        };
        // The volume label is $Volume's (record 3) $VOLUME_NAME (0x60).
        if let Some(r) = fs.record(3).0 {
            if let Some(Attribute {
                value: Value::Resident(v),
                ..
            }) = r.attrs.iter().find(|a| a.ty == 0x60)
            {
                let u: Vec<u16> = v
                    .chunks_exact(2)
                    .map(|c| u16::from_le_bytes([c[0], c[1]]))
                    .collect();
                let l = String::from_utf16_lossy(&u);
                fs.label = (!l.is_empty()).then_some(l);
            }
        }
        Ok(fs)
    }

    fn clusters(&self) -> u64 {
        self.boot.total_sectors * self.boot.bps / self.boot.cs
    }

    fn record_count(&self) -> u64 {
        // The MFT lives inside the volume: it cannot have more records than the
        // volume has room for, whatever a damaged size field says.
        let room = self.vol.len() / self.boot.record_size;
        (self.mft_size / self.boot.record_size)
            .min(MAX_RECORDS)
            .min(room)
    }

    /// The records the MFT's runs map, as ranges of record numbers below
    /// `count`, and a finding for each stretch they do not (a hole in the run
    /// list, or a size field claiming more than the runs hold). A `$MFT` claiming
    /// 2^44 bytes over a few runs made one finding per missing record: one per
    /// KiB of the volume.
    fn mapped_records(&self, count: u64, findings: &mut Vec<Finding>) -> Vec<(u64, u64)> {
        let (cs, rs) = (self.boot.cs, self.boot.record_size);
        let mut ranges: Vec<(u64, u64)> = Vec::new();
        let mut runs: Vec<_> = self.mft_runs.iter().filter(|r| r.2.is_some()).collect();
        runs.sort_by_key(|r| r.0);
        for &&(first, len, _) in &runs {
            let a = first.saturating_mul(cs).div_ceil(rs).min(count);
            let b = first
                .saturating_add(len)
                .saturating_mul(cs)
                .div_ceil(rs)
                .min(count);
            match ranges.last_mut() {
                Some(l) if l.1 >= a => l.1 = l.1.max(b),
                _ if a < b => ranges.push((a, b)),
                _ => {}
            }
        }
        let mut next = 0;
        for &(a, b) in ranges.iter().chain(std::iter::once(&(count, count))) {
            if next < a {
                findings.push(Finding::new(
                    self.vol.base(),
                    format!(
                        "MFT records {next}..{a}: outside the MFT's runs (it claims {} bytes); not read",
                        self.mft_size
                    ),
                ));
            }
            next = next.max(b);
        }
        ranges
    }

    /// Volume offset of byte `off` of the MFT.
    fn mft_offset(&self, off: u64) -> Option<u64> {
        let cs = self.boot.cs;
        let vcn = off / cs;
        let (first, _, lcn) = self
            .mft_runs
            .iter()
            .find(|(f, l, _)| vcn >= *f && vcn < f + l)?;
        Some((lcn.as_ref()? + (vcn - first)) * cs + off % cs)
    }

    /// Reads and parses record `n`; records 0..3 fall back to $MFTMirr.
    fn record(&self, n: u64) -> (Option<Record>, Option<String>) {
        let rs = self.boot.record_size;
        let Some(at) = self.mft_offset(n * rs) else {
            return (None, Some("record lies outside the MFT's runs".into()));
        };
        let Some((mut b, clean)) = read(&self.vol, at, rs) else {
            return (None, Some("record unreadable".into()));
        };
        if b.iter().all(|&x| x == 0) && clean {
            return (None, None);
        }
        let parsed = record::parse(&mut b, self.clusters());
        let damaged = match &parsed {
            Ok(r) => !r.bad_strides.is_empty() || !clean,
            Err(_) => true,
        };
        if damaged && n < 4 {
            if let Some((mut m, true)) =
                read(&self.vol, self.boot.mirr_lcn * self.boot.cs + n * rs, rs)
            {
                if let Ok(r) = record::parse(&mut m, self.clusters()) {
                    if r.bad_strides.is_empty() {
                        return (Some(r), Some("damaged; read from $MFTMirr".into()));
                    }
                }
            }
        }
        match parsed {
            Ok(r) => {
                let note = (!r.bad_strides.is_empty()).then(|| {
                    format!(
                        "fixup mismatch in sector(s) {:?} of the record; the rest was used",
                        r.bad_strides
                    )
                });
                (Some(r), note)
            }
            Err(e) if b.starts_with(b"FILE") || n < 16 => (None, Some(e)),
            Err(_) => (None, None),
        }
    }
}

fn best_name(names: &[FileName]) -> Option<&FileName> {
    // Win32 (1) or Win32+DOS (3) names first, then POSIX (0), DOS (2) last.
    names.iter().min_by_key(|n| match n.namespace {
        1 | 3 => 0,
        0 => 1,
        _ => 2,
    })
}

fn times(rec: &Record, names: &[FileName]) -> Vec<Timestamp> {
    let mut out = Vec::new();
    if let Some(Attribute {
        value: Value::Resident(v),
        ..
    }) = rec.attrs.iter().find(|a| a.ty == AT_STANDARD_INFORMATION)
    {
        if v.len() >= 32 {
            for (i, src) in [
                "ntfs.si.created",
                "ntfs.si.modified",
                "ntfs.si.mft_modified",
                "ntfs.si.accessed",
            ]
            .iter()
            .enumerate()
            {
                if let Some((s, n)) = filetime(le64(v, i * 8)) {
                    out.push(Timestamp {
                        source: src,
                        secs: s,
                        nanos: n,
                    });
                }
            }
        }
    }
    if let Some(f) = best_name(names) {
        for (i, src) in [
            "ntfs.fn.created",
            "ntfs.fn.modified",
            "ntfs.fn.mft_modified",
            "ntfs.fn.accessed",
        ]
        .iter()
        .enumerate()
        {
            if let Some((s, n)) = filetime(f.times[i]) {
                out.push(Timestamp {
                    source: src,
                    secs: s,
                    nanos: n,
                });
            }
        }
    }
    out
}

impl FileSystem for NtfsFs {
    fn type_name(&self) -> &'static str {
        "ntfs"
    }

    fn label(&self) -> Option<String> {
        self.label.clone()
    }

    fn open_findings(&self) -> Vec<Finding> {
        self.findings.clone()
    }

    fn walk(&self, visit: &mut dyn FnMut(Entry), findings: &mut Vec<Finding>) {
        self.walk_all(visit, findings, false);
        // Said once, with the volume's files (the carving's own findings
        // are not kept).
        if !self.bitmap().is_empty()
            && self
                .bitmap_rebuilt
                .load(std::sync::atomic::Ordering::Relaxed)
        {
            findings.push(Finding::new(
                self.vol.base(),
                "$Bitmap (MFT record 6) unreadable: clusters counted in use are those the in-use MFT records' runs reach (deleted files' state and the free space carved come from them)".to_string(),
            ));
        }
    }

    fn hunt(&self) -> Option<dredge_core::Hunt> {
        let free = self.unallocated(&mut Vec::new());
        // Index blocks start on cluster boundaries, and a cluster larger
        // than a block holds several: the grid is the smaller of the two (the
        // test looks at the first sectors of a cluster smaller than a block).
        (!free.is_empty()).then(|| dredge_core::Hunt {
            extents: free,
            origin: self.vol.base(),
            unit: self.boot.cs.min(self.boot.index_size),
            test: indx::is_index_block,
            limit: indx::MAX_BLOCKS,
        })
    }

    fn hunted(&self, found: Vec<u64>) {
        let _ = self.free_indx.set(found);
    }

    fn walk_hunted(&self, visit: &mut dyn FnMut(Entry), findings: &mut Vec<Finding>) {
        if self.free_indx.get().is_none_or(Vec::is_empty) {
            return;
        }
        let mut all = Vec::new();
        self.walk_all(
            &mut |e| {
                if e.id & indx::FREE_INDX_ID != 0 {
                    visit(e)
                }
            },
            &mut all,
            true,
        );
        findings.extend(
            all.into_iter()
                .filter(|f| f.what.contains("folder index block(s) in free space")),
        );
    }

    fn unallocated(&self, _findings: &mut Vec<Finding>) -> Vec<Extent> {
        let cs = self.boot.cs;
        let volume = Extent::new(self.vol.base(), self.vol.len());
        let mut out: Vec<Extent> = Vec::new();
        if self.bitmap().is_empty() {
            return out;
        }

        for c in 0..self.clusters().min(self.vol.len() / cs) {
            if self.cluster_allocated(c) {
                continue;
            }
            let Some(x) = Extent::new(self.vol.base() + c * cs, cs).intersect(&volume) else {
                continue;
            };
            match out.last_mut() {
                Some(l) if l.end() == x.start => l.len += x.len,
                _ => out.push(x),
            }
        }
        dredge_core::free_past_end(out, volume, self.span().unwrap_or(u64::MAX))
    }

    fn span(&self) -> Option<u64> {
        // Past the volume's sectors and the backup boot sector after them.
        Some(
            self.boot
                .total_sectors
                .saturating_add(1)
                .saturating_mul(self.boot.bps),
        )
    }
}
