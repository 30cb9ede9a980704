//! Linux LVM2 physical volumes: the label in one of a volume's first four
//! sectors, the PV header after it (the volume's UUID, where its extents and
//! its metadata area lie), and the metadata area, a ring buffer of text
//! generations whose header points at the current one. Older generations stay
//! in the ring until it wraps over them; a logical volume removed since is
//! described there ([`group`]).
//!
//! Everything is bounded by the volume: a metadata area is read only up to
//! [`MAX_MDA`], and every offset is checked against the volume's length.

pub mod group;
pub mod text;

use dredge_core::bytes::{le32, le64};
use dredge_core::{Extent, Finding, ImageSource, SourceError};

/// LVM's own CRC: CRC-32's polynomial, reflected, from a seed of its own and
/// with no final inversion (lib/misc/crc.c).
pub fn crc(data: &[u8]) -> u32 {
    let mut c: u32 = 0xf597_a6cf;
    for &b in data {
        c ^= u32::from(b);
        for _ in 0..8 {
            c = (c >> 1) ^ (0xEDB8_8320 & (c & 1).wrapping_neg());
        }
    }
    c
}

const LABEL: &[u8; 8] = b"LABELONE";
const LABEL_TYPE: &[u8; 8] = b"LVM2 001";
const MDA_MAGIC: &[u8; 16] = b" LVM2 x[5A%r0N*>";
/// The metadata area's header; its ring starts after it.
const MDA_HEADER: u64 = 512;
/// The most of a metadata area read: LVM's default is 1 MiB, and the text of
/// a group with hundreds of volumes is a few hundred KiB.
pub const MAX_MDA: u64 = 16 << 20;
/// The most older generations read from one area, and the most of their text.
const MAX_GENERATIONS: usize = 256;
const MAX_GENERATION_BYTES: usize = 64 << 20;

/// One metadata text found in a metadata area.
#[derive(Clone, Debug)]
pub struct Generation {
    /// Image offset of its first byte.
    pub at: u64,
    pub text: Vec<u8>,
    /// Whether the area's header names it (and its checksum holds).
    pub current: bool,
}

/// A physical volume's label, header and metadata.
#[derive(Clone, Debug)]
pub struct PhysicalVolume {
    /// The volume it was found in (image offsets).
    pub extent: Extent,
    /// Its UUID as the label stores it: 32 characters, no dashes.
    pub uuid: String,
    /// Where its first extent starts, from the volume's start, as the header's
    /// data area says (the metadata's `pe_start` is preferred when present).
    pub data_offset: u64,
    /// The metadata texts of its areas: the current one of each area first,
    /// then the older generations still in the rings, in ring order.
    pub generations: Vec<Generation>,
}

/// Reads the LVM2 label of the volume at `extent`, if it has one. A volume
/// without one is `Ok(None)`; a damaged label or metadata area is a finding
/// and costs what it held.
pub fn read_pv(
    src: &dyn ImageSource,
    extent: Extent,
    findings: &mut Vec<Finding>,
) -> Result<Option<PhysicalVolume>, SourceError> {
    if extent.len < 4 * 512 + 512 {
        return Ok(None);
    }
    let mut head = vec![0u8; 4 * 512];
    src.read_at(extent.start, &mut head)?;
    let Some(sector) = (0..4).find(|&s| head[s * 512..s * 512 + 8] == *LABEL) else {
        return Ok(None);
    };
    let at = extent.start + sector as u64 * 512;
    let l = &head[sector * 512..sector * 512 + 512];
    if &l[24..32] != LABEL_TYPE {
        findings.push(
            Finding::new(
                at + 24,
                "LVM label of an unknown type (LVM1 or a newer format?)",
            )
            .expected("LVM2 001", String::from_utf8_lossy(&l[24..32])),
        );
        return Ok(None);
    }
    let (stored, actual) = (le32::<u32>(l, 16), crc(&l[20..]));
    if stored != actual || le64(l, 8) != sector as u64 {
        // The header is read anyway: the CRC covers it, but a bad CRC over a
        // header whose fields make sense is still the best there is.
        findings.push(
            Finding::new(at + 16, "LVM label checksum does not match")
                .expected(format!("{stored:#010x}"), format!("{actual:#010x}")),
        );
    }
    let off = le32::<u64>(l, 20) as usize;
    if !(32..=512 - 40).contains(&off) {
        findings.push(Finding::new(at + 20, "LVM label points outside its sector"));
        return Ok(None);
    }
    let h = &l[off..];
    let uuid: String = String::from_utf8_lossy(&h[..32]).into_owned();
    // Two lists of (offset, size), each ending in a zero entry: data areas,
    // then metadata areas.
    let mut lists: [Vec<(u64, u64)>; 2] = [Vec::new(), Vec::new()];
    let mut p = 40;
    for list in &mut lists {
        while p + 16 <= h.len() {
            let (o, s) = (le64(h, p), le64(h, p + 8));
            p += 16;
            if o == 0 {
                break;
            }
            list.push((o, s));
        }
    }
    let data_offset = lists[0].first().map_or(0, |d| d.0);
    let mut generations = Vec::new();
    for &(o, s) in &lists[1] {
        if o >= extent.len || s < 2 * MDA_HEADER {
            findings.push(Finding::new(at, "LVM metadata area outside its volume"));
            continue;
        }
        let s = s.min(extent.len - o);
        if s > MAX_MDA {
            findings.push(
                Finding::new(extent.start + o, "LVM metadata area larger than is read")
                    .expected(format!("<= {MAX_MDA}"), s),
            );
        }
        let mut mda = vec![0u8; s.min(MAX_MDA) as usize];
        src.read_at(extent.start + o, &mut mda)?;
        read_area(&mda, extent.start + o, &mut generations, findings);
    }
    Ok(Some(PhysicalVolume {
        extent,
        uuid,
        data_offset,
        generations,
    }))
}

/// The logical volumes of the LVM physical volumes among `vols` (those
/// `candidate` accepts), as volumes of kind `live` (or `removed`, for those
/// only an older metadata generation describes), with the physical volumes'
/// extents. Damage is findings; only a vanished source is an error.
pub fn find(
    src: &dyn ImageSource,
    vols: &[dredge_core::Volume],
    candidate: impl Fn(&dredge_core::Volume) -> bool,
    live: dredge_core::VolumeKind,
    removed: dredge_core::VolumeKind,
    findings: &mut Vec<Finding>,
) -> Result<Found, SourceError> {
    let mut pvs = Vec::new();
    for v in vols.iter().filter(|v| candidate(v)) {
        if let Some(pv) = read_pv(src, v.extent, findings)? {
            pvs.push(pv);
        }
    }
    let volumes = group::volumes(&pvs, live, removed, findings);
    Ok(Found {
        volumes,
        physical: pvs.into_iter().map(|p| p.extent).collect(),
    })
}

/// What [`find`] found.
#[derive(Clone, Debug, Default)]
pub struct Found {
    pub volumes: Vec<dredge_core::Volume>,
    /// The physical volumes' extents: what is in them and in no logical
    /// volume is carved, and no filesystem is looked for in them as a whole.
    pub physical: Vec<Extent>,
}

/// The text starting `off` bytes into a ring of `mda` (whose first
/// [`MDA_HEADER`] bytes are the header), `len` bytes or up to a NUL, wrapping
/// from the ring's end to its start as LVM writes it.
fn ring_text(mda: &[u8], off: u64, len: Option<u64>) -> Vec<u8> {
    let ring = MDA_HEADER as usize..mda.len();
    let mut out = Vec::new();
    let mut i = off as usize;
    let max = len.map_or(ring.len(), |l| (l as usize).min(ring.len()));
    while out.len() < max {
        if i >= ring.end {
            i = ring.start;
        }
        let b = mda[i];
        if len.is_none() && b == 0 {
            break;
        }
        out.push(b);
        i += 1;
    }
    out
}

/// The generations of one metadata area (`mda`, at image offset `base`).
fn read_area(mda: &[u8], base: u64, out: &mut Vec<Generation>, findings: &mut Vec<Finding>) {
    if mda.len() < 2 * MDA_HEADER as usize || mda[4..20] != *MDA_MAGIC {
        findings.push(Finding::new(
            base + 4,
            "LVM metadata area header missing (magic not found)",
        ));
        return;
    }
    let (stored, actual) = (le32::<u32>(mda, 0), crc(&mda[4..MDA_HEADER as usize]));
    if stored != actual {
        findings.push(
            Finding::new(base, "LVM metadata area header checksum does not match")
                .expected(format!("{stored:#010x}"), format!("{actual:#010x}")),
        );
    }
    let mut current = None;
    // The first raw location is the committed text (a second, when present,
    // is a precommitted one).
    let (off, len, sum) = (le64(mda, 40), le64(mda, 48), le32::<u32>(mda, 56));
    if off >= MDA_HEADER && off < mda.len() as u64 && len > 0 {
        let text = ring_text(mda, off, Some(len));
        if crc(&text) == sum {
            current = Some(off);
            out.push(Generation {
                at: base + off,
                text,
                current: true,
            });
        } else {
            findings.push(
                Finding::new(base + off, "LVM metadata text checksum does not match")
                    .expected(format!("{sum:#010x}"), format!("{:#010x}", crc(&text))),
            );
        }
    }
    // Every other text that starts a 512-byte slot of the ring: LVM writes
    // each generation at the next such slot after the one before. Bounded:
    // a ring of made-up texts without an end costs the older generations,
    // not the time of the case.
    let (mut count, mut bytes) = (0usize, 0usize);
    for off in (MDA_HEADER..mda.len() as u64).step_by(512) {
        if Some(off) == current || !starts_text(&mda[off as usize..]) {
            continue;
        }
        if count >= MAX_GENERATIONS || bytes >= MAX_GENERATION_BYTES {
            findings.push(Finding::new(
                base + off,
                "LVM metadata area holds more older texts than are read",
            ));
            break;
        }
        let text = ring_text(mda, off, None);
        (count, bytes) = (count + 1, bytes + text.len());
        out.push(Generation {
            at: base + off,
            text,
            current: false,
        });
    }
}

/// Whether bytes start like a metadata text: a group name, a space and `{`.
fn starts_text(b: &[u8]) -> bool {
    let n = b
        .iter()
        .take(128)
        .take_while(|c| c.is_ascii_alphanumeric() || b"_+.-".contains(c))
        .count();
    n > 0 && b.get(n..n + 3) == Some(b" {\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_crc_is_lvms() {
        // The label of a PV pvcreate wrote: CRC of bytes 20..512 at byte 16.
        let mut l = vec![0u8; 512];
        l[..8].copy_from_slice(LABEL);
        l[8] = 1;
        l[20] = 32;
        l[24..32].copy_from_slice(LABEL_TYPE);
        l[32..64].copy_from_slice(b"1MeVXA2thxayi6LCeB8f0D41LvGWYC2V");
        // The nibble-table form LVM uses, to check the bitwise one against.
        let tab: [u32; 16] = [
            0x00000000, 0x1db71064, 0x3b6e20c8, 0x26d930ac, 0x76dc4190, 0x6b6b51f4, 0x4db26158,
            0x5005713c, 0xedb88320, 0xf00f9344, 0xd6d6a3e8, 0xcb61b38c, 0x9b64c2b0, 0x86d3d2d4,
            0xa00ae278, 0xbdbdf21c,
        ];
        let mut c = 0xf597a6cfu32;
        for &b in &l[20..] {
            c ^= u32::from(b);
            c = (c >> 4) ^ tab[(c & 15) as usize];
            c = (c >> 4) ^ tab[(c & 15) as usize];
        }
        assert_eq!(crc(&l[20..]), c);
        assert_ne!(crc(&l[20..]), crc(&l[21..]));
    }

    #[test]
    fn a_text_wraps_from_the_rings_end_to_its_start() {
        let mut mda = vec![0u8; 1024];
        mda[1020..1024].copy_from_slice(b"vg {");
        mda[512..515].copy_from_slice(b"\n}\n");
        assert_eq!(ring_text(&mda, 1020, Some(7)), b"vg {\n}\n");
        assert_eq!(ring_text(&mda, 1020, None), b"vg {\n}\n");
        // A length past the ring reads it once round, no more.
        assert_eq!(ring_text(&mda, 600, Some(u64::MAX)).len(), 512);
    }
}
