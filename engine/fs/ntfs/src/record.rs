//! MFT records: update-sequence fixups (checked per 512-byte stride; a failed stride
//! is a finding and the rest of the record is still used), attributes, run lists.
pub(crate) use dredge_core::bytes::{le16, le32, le64};

pub const AT_STANDARD_INFORMATION: u32 = 0x10;
pub const AT_FILE_NAME: u32 = 0x30;
pub const AT_DATA: u32 = 0x80;

#[derive(Clone, Debug)]
pub enum Value {
    Resident(Vec<u8>),
    NonResident {
        start_vcn: u64,
        runs: Vec<(u64, Option<u64>)>, // (length in clusters, LCN or sparse)
        data_size: u64,
        init_size: u64,
        compression_unit: u32,
    },
}

#[derive(Clone, Debug)]
pub struct Attribute {
    pub ty: u32,
    pub name: String,
    pub flags: u16,
    pub value: Value,
}

impl Attribute {
    pub fn compressed(&self) -> bool {
        self.flags & 0x1 != 0
    }
    pub fn encrypted(&self) -> bool {
        self.flags & 0x4000 != 0
    }
}

#[derive(Clone, Debug)]
pub struct Record {
    pub in_use: bool,
    pub directory: bool,
    pub sequence: u16,
    pub base: u64,
    pub attrs: Vec<Attribute>,
    /// Strides whose fixup did not match (torn or damaged sectors).
    pub bad_strides: Vec<usize>,
    /// Attribute-level damage.
    pub problems: Vec<String>,
}

/// Applies fixups in place. Returns the indexes of strides whose check failed.
pub fn fixup(buf: &mut [u8]) -> Result<Vec<usize>, String> {
    let usa_off = le16::<u64>(buf, 4) as usize;
    let usa_count = le16::<u64>(buf, 6) as usize;
    if usa_count == 0 || usa_off + usa_count * 2 > buf.len() || (usa_count - 1) * 512 > buf.len() {
        return Err(format!(
            "update sequence array out of range (offset {usa_off}, count {usa_count})"
        ));
    }
    let usn = [buf[usa_off], buf[usa_off + 1]];
    let mut bad = Vec::new();
    for i in 1..usa_count {
        let end = i * 512;
        if end > buf.len() {
            break;
        }
        if buf[end - 2..end] != usn {
            bad.push(i - 1);
        }
        // Restore the original bytes either way: a torn sector's other bytes are
        // still the best we have.
        let orig = [buf[usa_off + 2 * i], buf[usa_off + 2 * i + 1]];
        buf[end - 2..end].copy_from_slice(&orig);
    }
    Ok(bad)
}

pub fn decode_runlist(b: &[u8], limit_clusters: u64) -> Result<Vec<(u64, Option<u64>)>, String> {
    let mut out = Vec::new();
    let mut p = 0usize;
    let mut lcn: i64 = 0;
    let mut total = 0u64;
    while p < b.len() {
        let h = b[p];
        if h == 0 {
            return Ok(out);
        }
        let ln = (h & 0x0F) as usize;
        let on = (h >> 4) as usize;
        if ln == 0 || ln > 8 || on > 8 || p + 1 + ln + on > b.len() {
            return Err(format!("run list header {h:#04x} at byte {p} is invalid"));
        }
        let mut len = 0u64;
        for i in 0..ln {
            len |= u64::from(b[p + 1 + i]) << (8 * i);
        }
        let mut off: i64 = 0;
        if on > 0 {
            for i in 0..on {
                off |= i64::from(b[p + 1 + ln + i]) << (8 * i);
            }
            // Sign-extend.
            if b[p + ln + on] & 0x80 != 0 && on < 8 {
                off |= -1i64 << (8 * on);
            }
        }
        total = total.saturating_add(len);
        if len == 0 || total > limit_clusters {
            return Err(format!(
                "run list describes more clusters than the volume has ({total})"
            ));
        }
        if on == 0 {
            out.push((len, None));
        } else {
            lcn = lcn.checked_add(off).ok_or("run list offset overflows")?;
            if lcn < 0 {
                return Err(format!("run list points before the volume (LCN {lcn})"));
            }
            if (lcn as u64).saturating_add(len) > limit_clusters {
                return Err(format!(
                    "run list points past the volume (LCN {lcn}, {len} clusters)"
                ));
            }
            out.push((len, Some(lcn as u64)));
        }
        p += 1 + ln + on;
        if out.len() > 1 << 20 {
            return Err("run list has too many runs".into());
        }
    }
    Err("run list is not terminated".into())
}

pub fn parse(buf: &mut [u8], clusters: u64) -> Result<Record, String> {
    if buf.len() < 48 || &buf[0..4] != b"FILE" {
        return Err("no FILE signature".into());
    }
    let mut bad_strides = fixup(buf)?;
    // Strides wholly past the bytes in use carry nothing; their fixup is moot.
    let in_use_bytes = le32::<u64>(buf, 24) as usize;
    bad_strides.retain(|&i| i * 512 < in_use_bytes);
    let flags = le16::<u64>(buf, 22);
    let mut r = Record {
        in_use: flags & 1 != 0,
        directory: flags & 2 != 0,
        sequence: le16::<u64>(buf, 16) as u16,
        base: le64(buf, 32) & 0x0000_FFFF_FFFF_FFFF,
        attrs: Vec::new(),
        bad_strides,
        problems: Vec::new(),
    };
    let used = (le32::<u64>(buf, 24) as usize).min(buf.len());
    let mut p = le16::<u64>(buf, 20) as usize;
    while p + 16 <= used {
        let ty = le32::<u64>(buf, p) as u32;
        if ty == 0xFFFF_FFFF {
            break;
        }
        let len = le32::<u64>(buf, p + 4) as usize;
        if len < 16 || p + len > used || !len.is_multiple_of(8) {
            r.problems
                .push(format!("attribute at offset {p} has invalid length {len}"));
            break;
        }
        let a = &buf[p..p + len];
        let nonres = a[8] != 0;
        let nlen = a[9] as usize;
        let noff = le16::<u64>(a, 10) as usize;
        let aflags = le16::<u64>(a, 12) as u16;
        let name = if nlen > 0 && noff + nlen * 2 <= len {
            let u: Vec<u16> = a[noff..noff + nlen * 2]
                .chunks_exact(2)
                .map(|c| u16::from_le_bytes([c[0], c[1]]))
                .collect();
            String::from_utf16_lossy(&u)
        } else {
            String::new()
        };
        let value = if !nonres {
            if len < 24 {
                r.problems.push(format!(
                    "resident attribute {ty:#x} header too short ({len} bytes)"
                ));
                p += len;
                continue;
            }
            let vlen = le32::<u64>(a, 16) as usize;
            let voff = le16::<u64>(a, 20) as usize;
            if voff + vlen > len {
                r.problems
                    .push(format!("resident attribute {ty:#x} value out of bounds"));
                p += len;
                continue;
            }
            Value::Resident(a[voff..voff + vlen].to_vec())
        } else {
            if len < 64 {
                r.problems
                    .push(format!("non-resident attribute {ty:#x} too short"));
                p += len;
                continue;
            }
            let roff = le16::<u64>(a, 32) as usize;
            let runs = match decode_runlist(&a[roff.min(len)..], clusters) {
                Ok(x) => x,
                Err(e) => {
                    r.problems.push(format!("attribute {ty:#x}: {e}"));
                    Vec::new()
                }
            };
            Value::NonResident {
                start_vcn: le64(a, 16),
                runs,
                data_size: le64(a, 48),
                init_size: le64(a, 56),
                compression_unit: le16::<u64>(a, 34) as u32,
            }
        };
        r.attrs.push(Attribute {
            ty,
            name,
            flags: aflags,
            value,
        });
        p += len;
    }
    Ok(r)
}

#[derive(Clone, Debug)]
pub struct FileName {
    pub parent: u64,
    pub parent_seq: u16,
    pub namespace: u8,
    pub name: String,
    pub times: [u64; 4],
}

pub fn file_name(v: &[u8]) -> Option<FileName> {
    if v.len() < 66 {
        return None;
    }
    let nlen = v[64] as usize;
    if 66 + nlen * 2 > v.len() {
        return None;
    }
    let u: Vec<u16> = v[66..66 + nlen * 2]
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect();
    let pref = le64(v, 0);
    Some(FileName {
        parent: pref & 0x0000_FFFF_FFFF_FFFF,
        parent_seq: (pref >> 48) as u16,
        namespace: v[65],
        name: String::from_utf16_lossy(&u),
        times: [le64(v, 8), le64(v, 16), le64(v, 24), le64(v, 32)],
    })
}

/// FILETIME (100 ns since 1601) to (seconds since 1970, nanoseconds).
pub fn filetime(ft: u64) -> Option<(i64, u32)> {
    if ft == 0 {
        return None;
    }
    let secs = (ft / 10_000_000) as i64 - 11_644_473_600;
    Some((secs, ((ft % 10_000_000) * 100) as u32))
}

/// The FILETIMEs of `times` that are set, each with the structure it came
/// from.
pub fn timestamps(
    times: impl IntoIterator<Item = (&'static str, u64)>,
) -> Vec<dredge_core::Timestamp> {
    times
        .into_iter()
        .filter_map(|(source, ft)| {
            filetime(ft).map(|(secs, nanos)| dredge_core::Timestamp {
                source,
                secs,
                nanos,
            })
        })
        .collect()
}

/// The four times of a `$FILE_NAME` copy (created, modified, MFT modified,
/// accessed), named `<prefix>.created` and so on.
pub fn name_times(names: [&'static str; 4], times: [u64; 4]) -> Vec<dredge_core::Timestamp> {
    timestamps(names.into_iter().zip(times))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runlists() {
        // 0x21: 1 length byte, 2 offset bytes; second run goes backwards; third sparse.
        let rl = [
            0x21, 0x10, 0x00, 0x01, 0x21, 0x08, 0x00, 0xFF, 0x01, 0x04, 0x00,
        ];
        let r = decode_runlist(&rl, 1 << 20).unwrap();
        assert_eq!(
            r,
            vec![(0x10, Some(0x100)), (0x08, Some(0x100 - 0x100)), (4, None)]
        );
        assert!(decode_runlist(&[0x21, 0x10], 100).is_err());
        assert!(decode_runlist(&[0x11, 0xFF, 0x01, 0x00], 100).is_err());
        assert_eq!(filetime(116_444_736_000_000_000), Some((0, 0)));
    }
}
