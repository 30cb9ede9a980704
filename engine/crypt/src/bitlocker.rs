//! BitLocker volumes (detection): the volume header, and the FVE metadata it
//! points to, as libbde documents them ("BitLocker Drive Encryption (BDE)
//! format") and `cryptsetup bitlkDump` reads them. Windows 7 and later write
//! `-FVE-FS-` as the boot sector's OEM name and the BitLocker GUID with three
//! metadata offsets at byte 160; BitLocker To Go keeps a readable FAT32
//! "discovery volume" header (`MSWIN4.1`) with the GUID at byte 424; Vista
//! keeps the NTFS boot sector, marked `-FVE-FS-`, with the first metadata
//! copy's cluster at byte 56, and that copy's block header names the three. Each of the three metadata copies
//! holds the volume's GUID, encryption method, creation time, description
//! and the protectors of its volume master key; the first copy that reads
//! cleanly is described, and copies that do not are findings.

use dredge_core::bytes::le64;
use dredge_core::{Finding, VolumeReader};

fn le16(b: &[u8], at: usize) -> u16 {
    dredge_core::bytes::le16(b, at)
}

fn le32(b: &[u8], at: usize) -> u32 {
    dredge_core::bytes::le32(b, at)
}

/// {4967D63B-2E29-4AD8-8399-F6A339E3D001} as stored (mixed-endian).
const GUID: [u8; 16] = [
    0x3b, 0xd6, 0x67, 0x49, 0x29, 0x2e, 0xd8, 0x4a, 0x83, 0x99, 0xf6, 0xa3, 0x39, 0xe3, 0xd0, 0x01,
];
const SIGNATURE: &[u8; 8] = b"-FVE-FS-";
/// FVE metadata larger than this is not BitLocker's (Windows writes 64 KiB).
const MAX_METADATA: u64 = 1 << 20;

/// A GUID as Windows prints it.
pub(crate) fn guid(b: &[u8]) -> String {
    format!(
        "{:08x}-{:04x}-{:04x}-{}-{}",
        le32(b, 0),
        le16(b, 4),
        le16(b, 6),
        b[8..10]
            .iter()
            .map(|x| format!("{x:02x}"))
            .collect::<String>(),
        b[10..16]
            .iter()
            .map(|x| format!("{x:02x}"))
            .collect::<String>()
    )
}

/// Which layout the volume header has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Seven,
    ToGo,
    Vista,
}

fn kind(h: &[u8; 512]) -> Option<Kind> {
    if &h[3..11] == SIGNATURE {
        Some(if h[160..176] == GUID {
            Kind::Seven
        } else {
            Kind::Vista
        })
    } else if h[424..440] == GUID {
        Some(Kind::ToGo)
    } else {
        None
    }
}

/// Whether the volume starts with a BitLocker volume header.
pub(crate) fn probe(vol: &VolumeReader) -> bool {
    let mut h = [0u8; 512];
    vol.read_at(0, &mut h).is_ok() && kind(&h).is_some()
}

/// The encryption method's name, as bitlkDump and Windows call it.
fn method(m: u16) -> String {
    match m {
        0x8000 => "AES-128-CBC with the Elephant diffuser".into(),
        0x8001 => "AES-256-CBC with the Elephant diffuser".into(),
        0x8002 => "AES-128-CBC".into(),
        0x8003 => "AES-256-CBC".into(),
        0x8004 => "AES-128-XTS".into(),
        0x8005 => "AES-256-XTS".into(),
        m => format!("unknown method 0x{m:04x}"),
    }
}

fn protection(p: u16) -> String {
    match p {
        0x0000 => "clear key (protection suspended)".into(),
        0x0100 => "TPM".into(),
        0x0200 => "startup key".into(),
        0x0500 => "TPM and PIN".into(),
        0x0800 => "recovery password".into(),
        0x2000 => "password".into(),
        p => format!("protection 0x{p:04x}"),
    }
}

/// What one metadata copy says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BitLocker {
    pub to_go: bool,
    pub guid: String,
    pub method: String,
    /// Seconds since 1970 (from a FILETIME).
    pub created: Option<i64>,
    pub description: Option<String>,
    /// Bytes of the volume encrypted (less than the volume: a conversion in
    /// progress or paused).
    pub encrypted_size: Option<u64>,
    /// (VMK GUID, protection) for each protector.
    pub protectors: Vec<(String, String)>,
    pub metadata_offsets: Vec<u64>,
    pub problems: Vec<String>,
    /// What opening the volume needs (wrapped keys, layout).
    pub(crate) material: Material,
}

/// A key wrapped with AES-CCM (a datum of value type 5): 12-byte nonce,
/// 16-byte tag, and the encrypted key datum.
#[derive(Clone, PartialEq, Eq, Default)]
pub(crate) struct Wrapped {
    pub nonce: [u8; 12],
    pub tag: [u8; 16],
    pub data: Vec<u8>,
}

/// One volume master key entry.
#[derive(Clone, PartialEq, Eq, Default)]
pub(crate) struct Vmk {
    pub guid: String,
    pub protection: u16,
    /// The stretch key's salt (password and recovery password protectors).
    pub salt: Option<[u8; 16]>,
    /// A key stored in the clear (protection suspended): it unwraps the VMK.
    pub clear: Option<Vec<u8>>,
    pub wrapped: Option<Wrapped>,
}

/// What a Windows Vista volume's NTFS boot sector and FVE block header say.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub(crate) struct Vista {
    /// Bytes per cluster.
    pub cluster: u64,
    /// The MFT's first cluster.
    pub mft: u64,
    /// The NTFS's sectors; its backup boot sector is the one after them.
    pub sectors: u64,
    /// The MFT mirror's cluster, which BitLocker moved from the boot sector
    /// (byte 56) to the FVE block header (byte 56) to name its metadata.
    pub mft_mirror: u64,
}

impl Vista {
    fn from_header(h: &[u8; 512], sector: u64) -> Vista {
        // NTFS writes clusters of 128 sectors or more as a negative power
        // of two (0xF4: 2^12).
        let per = match h[13] {
            n @ 0..=128 => u64::from(n.max(1)),
            n => 1u64 << (256 - u32::from(n)).min(24),
        };
        Vista {
            cluster: sector.saturating_mul(per),
            mft: le64(h, 48),
            sectors: le64(h, 40),
            mft_mirror: 0,
        }
    }
}

/// What opening a BitLocker volume needs from its metadata.
#[derive(Clone, PartialEq, Eq, Default)]
pub(crate) struct Material {
    pub method: u16,
    /// Bytes per sector, from the volume header (512 or 4096).
    pub sector: u64,
    /// A volume from Windows Vista: its NTFS boot sector is kept in the
    /// clear (marked), and it has no moved copy of its first sectors.
    pub vista: Option<Vista>,
    pub vmks: Vec<Vmk>,
    pub fvek: Option<Wrapped>,
    /// Where the volume's first sectors are kept, encrypted: (offset, size).
    pub volume_header: Option<(u64, u64)>,
    /// The conversion's current and next state (2: normal).
    pub states: (u16, u16),
}

// Holds keys stored in the clear: never printed.
impl std::fmt::Debug for Material {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Material({} VMKs)", self.vmks.len())
    }
}

impl BitLocker {
    pub fn read(vol: &VolumeReader) -> Result<BitLocker, Finding> {
        let base = vol.base();
        let mut h = [0u8; 512];
        vol.read_at(0, &mut h)
            .map_err(|e| Finding::new(base, format!("BitLocker header unreadable: {e}")))?;
        let k = kind(&h).ok_or_else(|| Finding::new(base, "no BitLocker volume header"))?;
        let sector = match le16(&h, 11) {
            0 => 512,
            n => u64::from(n),
        };
        let vista = (k == Kind::Vista).then(|| Vista::from_header(&h, sector));
        let offsets: Vec<u64> = match (k, vista) {
            (Kind::Seven, _) => vec![le64(&h, 176), le64(&h, 184), le64(&h, 192)],
            (Kind::ToGo, _) => vec![le64(&h, 440), le64(&h, 448), le64(&h, 456)],
            // Vista's header names only the first copy, by cluster; that
            // copy's block header names all three.
            (Kind::Vista, Some(v)) => vec![le64(&h, 56).saturating_mul(v.cluster)],
            (Kind::Vista, None) => Vec::new(),
        };
        let mut problems = Vec::new();
        for &at in &offsets {
            match metadata(vol, at) {
                Ok((mut b, block)) => {
                    b.to_go = k == Kind::ToGo;
                    b.material.sector = sector;
                    b.material.vista = vista.map(|mut v| {
                        v.mft_mirror = block.mft_mirror;
                        v
                    });
                    b.metadata_offsets = offsets.clone();
                    if k == Kind::Vista {
                        if block.offsets[0] != at {
                            problems.push(format!(
                                "metadata copy at byte {at} names byte {} as the first copy",
                                block.offsets[0]
                            ));
                        }
                        b.metadata_offsets = block.offsets.to_vec();
                    }
                    b.problems = problems;
                    return Ok(b);
                }
                Err(why) => problems.push(format!("metadata copy at byte {at}: {why}")),
            }
        }
        Err(Finding::new(
            base,
            format!(
                "BitLocker volume, no readable metadata: {}",
                problems.join("; ")
            ),
        ))
    }

    /// The finding that describes the volume, and one per problem.
    pub fn findings(&self, base: u64, len: u64) -> Vec<Finding> {
        let mut what = format!(
            "BitLocker{} encrypted volume {}: {}",
            if self.to_go {
                " To Go"
            } else if self.material.vista.is_some() {
                " (Windows Vista)"
            } else {
                ""
            },
            self.guid,
            self.method
        );
        if let Some(t) = self.created {
            what.push_str(&format!(
                ", created {}",
                dredge_core::time::format_utc(t, 0)
            ));
        }
        if let Some(d) = &self.description {
            what.push_str(&format!(", description \"{d}\""));
        }
        match self.encrypted_size {
            Some(n) if n < len => what.push_str(&format!(
                ", partially encrypted: {n} of {len} bytes (a conversion in progress or paused)"
            )),
            Some(_) => what.push_str(", fully encrypted"),
            None => {}
        }
        for (g, p) in &self.protectors {
            what.push_str(&format!("; protector {g}: {p}"));
        }
        what.push_str(&format!(
            "; metadata at bytes {}. Without its key its files are not listed and it is not carved",
            self.metadata_offsets
                .iter()
                .map(u64::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ));
        let mut out = vec![Finding::new(base, what)];
        out.extend(
            self.problems
                .iter()
                .map(|p| Finding::new(base, format!("BitLocker: {p}"))),
        );
        out
    }
}

/// What an FVE block header says besides the metadata: where the three
/// copies are, and (Vista) the MFT mirror's cluster.
struct Block {
    offsets: [u64; 3],
    mft_mirror: u64,
}

/// One FVE metadata copy at volume offset `at`.
fn metadata(vol: &VolumeReader, at: u64) -> Result<(BitLocker, Block), String> {
    let mut head = [0u8; 112];
    vol.read_at(at, &mut head).map_err(|e| e.to_string())?;
    if &head[..8] != SIGNATURE {
        return Err("no -FVE-FS- signature".into());
    }
    let version = le16(&head, 10);
    let encrypted_size = (version >= 2).then(|| le64(&head, 16));
    // The metadata header follows the 64-byte block header.
    let size = u64::from(le32(&head, 64));
    if !(48..=MAX_METADATA).contains(&size) {
        return Err(format!("metadata size {size}"));
    }
    let (m, _) = vol
        .read_vec(
            at.checked_add(64).ok_or("offset past 2^64")?,
            size,
            MAX_METADATA,
        )
        .map_err(|e| e.to_string())?;
    let mut b = BitLocker {
        to_go: false,
        guid: guid(&m[16..32]),
        method: method(le16(&m, 36)),
        created: filetime(le64(&m, 40)),
        description: None,
        encrypted_size,
        protectors: Vec::new(),
        metadata_offsets: Vec::new(),
        problems: Vec::new(),
        material: Material {
            method: le16(&m, 36),
            states: (le16(&head, 12), le16(&head, 14)),
            ..Material::default()
        },
    };
    let mut p = usize::try_from(le32(&m, 8)).unwrap_or(48).max(48);
    while p + 8 <= m.len() {
        let len = le16(&m, p) as usize;
        if len < 8 || p + len > m.len() {
            break;
        }
        let e = &m[p..p + len];
        match (le16(e, 2), le16(e, 4)) {
            // A volume master key, with what protects it.
            (0x0002, 0x0008) if len >= 36 => {
                b.protectors
                    .push((guid(&e[8..24]), protection(le16(e, 34))));
                b.material.vmks.push(vmk(e));
            }
            // The full volume encryption key, wrapped by the VMK.
            (0x0003, 0x0005) if b.material.fvek.is_none() => b.material.fvek = wrapped(e),
            // Where the volume's own first sectors are kept.
            (0x000f, 0x000f) if len >= 24 => {
                b.material.volume_header = Some((le64(e, 8), le64(e, 16)));
            }
            // The description (computer, drive, date), UTF-16LE.
            (0x0007, 0x0002) => {
                let units: Vec<u16> = e[8..]
                    .chunks_exact(2)
                    .map(|c| u16::from_le_bytes([c[0], c[1]]))
                    .take_while(|&u| u != 0)
                    .collect();
                b.description = Some(String::from_utf16_lossy(&units));
            }
            _ => {}
        }
        p += len;
    }
    let block = Block {
        offsets: [le64(&head, 32), le64(&head, 40), le64(&head, 48)],
        mft_mirror: le64(&head, 56),
    };
    Ok((b, block))
}

/// A datum of value type 5 (AES-CCM): nonce, tag, encrypted key.
fn wrapped(e: &[u8]) -> Option<Wrapped> {
    (e.len() > 36).then(|| {
        let mut w = Wrapped {
            data: e[36..].to_vec(),
            ..Wrapped::default()
        };
        w.nonce.copy_from_slice(&e[8..20]);
        w.tag.copy_from_slice(&e[20..36]);
        w
    })
}

/// A VMK entry and the datums nested in it (after its 28-byte header).
fn vmk(e: &[u8]) -> Vmk {
    let mut v = Vmk {
        guid: guid(&e[8..24]),
        protection: le16(e, 34),
        ..Vmk::default()
    };
    let mut p = 36;
    while p + 8 <= e.len() {
        let len = le16(e, p) as usize;
        if len < 8 || p + len > e.len() {
            break;
        }
        let d = &e[p..p + len];
        match le16(d, 4) {
            // Stretch key: encryption method, then the 16-byte salt.
            0x0003 if len >= 28 => {
                let mut salt = [0u8; 16];
                salt.copy_from_slice(&d[12..28]);
                v.salt = Some(salt);
            }
            0x0005 if v.wrapped.is_none() => v.wrapped = wrapped(d),
            // A key: encryption method, then the key.
            0x0001 if len > 12 => v.clear = Some(d[12..].to_vec()),
            _ => {}
        }
        p += len;
    }
    v
}

/// A FILETIME (100 ns since 1601) as seconds since 1970; none for zero.
fn filetime(t: u64) -> Option<i64> {
    (t != 0).then(|| (t / 10_000_000) as i64 - 11_644_473_600)
}
