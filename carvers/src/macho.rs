//! Mach-O validator: executables, libraries, bundles and objects of macOS and
//! iOS (thin, 32- and 64-bit, either byte order) and universal ("fat") files
//! holding several of them.

use crate::{partial, uint as int, Carver, Reader, Verdict};
use sha1::Digest;

/// Mach-O: a header whose CPU type and file type are known, then exactly
/// `ncmds` load commands filling `sizeofcmds`, each of a size that is a multiple
/// of 4 and at least 8. The file ends where the last thing a load command
/// places in it does: a segment's file range, a section's relocations, the
/// symbol and string tables, the dynamic symbol tables, the dyld info and every
/// `linkedit_data` blob (function starts, chained fixups, the code signature, …).
/// A file with an ad-hoc or real code signature (every arm64 binary has one) is
/// checked page by page against its CodeDirectory's hashes: all pages holding,
/// `Complete`; a page that fails ends a partial file before it. Without a
/// signature (objects, most x86_64 files) nothing covers the code: `Unverified`.
/// A universal file: its architecture table (each slice aligned, inside the
/// carve, of the table's CPU type) and every slice checked as a thin file.
pub struct MachO;

/// Load commands a header may announce (real files hold a few dozen).
const MAX_CMDS: u32 = 4096;
const MAX_CMDS_BYTES: u32 = 1 << 20;
/// Architectures in a universal file.
const MAX_ARCHS: u32 = 16;

const CPU_KNOWN: [u32; 8] = [
    7,           // i386
    0x0100_0007, // x86_64
    12,          // arm
    0x0100_000C, // arm64
    0x0200_000C, // arm64_32
    18,          // ppc
    0x0100_0012, // ppc64
    14,          // sparc
];

/// What a thin file's check found.
struct Thin {
    end: u64,
    filetype: u32,
    /// Every page under the code signature's hashes holds.
    signed: bool,
}

/// Why a thin file is not whole: (bytes that check, reason).
type Cut = (u64, String);

/// The thin Mach-O file at `base` (from the candidate's start). `Ok(None)`: not
/// Mach-O; `Err`: Mach-O whose first bytes check and no more.
fn thin(r: &mut Reader<'_>, base: u64, cpu_want: Option<u32>) -> Result<Option<Thin>, Cut> {
    let Some(h) = r.get(base, 32).map(<[u8]>::to_vec) else {
        return Ok(None);
    };
    let (wide, big) = match &h[..4] {
        b"\xCF\xFA\xED\xFE" => (true, false),
        b"\xCE\xFA\xED\xFE" => (false, false),
        b"\xFE\xED\xFA\xCF" => (true, true),
        b"\xFE\xED\xFA\xCE" => (false, true),
        _ => return Ok(None),
    };
    let w = |at| int(&h, at, 4, big) as u32;
    let (cpu, filetype, ncmds, sizeofcmds) = (w(4), w(12), w(16), w(20));
    let header = if wide { 32u64 } else { 28 };
    if !CPU_KNOWN.contains(&cpu)
        || cpu_want.is_some_and(|c| c != cpu)
        || (cpu & 0x0100_0000 != 0) != wide
        || !(1..=12).contains(&filetype)
        || ncmds == 0
        || ncmds > MAX_CMDS
        || sizeofcmds > MAX_CMDS_BYTES
        || u64::from(sizeofcmds) < u64::from(ncmds) * 8
    {
        return Ok(None);
    }
    let Some(cmds) = r
        .get(base + header, sizeofcmds as usize)
        .map(<[u8]>::to_vec)
    else {
        return Ok(None);
    };
    let mut end = header + u64::from(sizeofcmds);
    let mut grow = |off: u64, len: u64| -> Option<()> {
        end = end.max(off.checked_add(len)?);
        Some(())
    };
    let mut signature = None;
    let mut at = 0usize;
    for _ in 0..ncmds {
        if at + 8 > cmds.len() {
            return Ok(None);
        }
        let c = |o: usize| int(&cmds, at + o, 4, big);
        let c8 = |o: usize| int(&cmds, at + o, 8, big);
        let (cmd, size) = (c(0) as u32, c(4) as usize);
        if size < 8 || size % 4 != 0 || at + size > cmds.len() {
            return Ok(None);
        }
        let need = |n: usize| size >= n;
        let ok = match cmd {
            // LC_SEGMENT / LC_SEGMENT_64: the segment's file range and each
            // section's data (zero-fill types take none) and relocations.
            0x1 | 0x19 => {
                let (hdr, sect) = if cmd == 0x19 { (72, 80) } else { (56, 68) };
                let (fileoff, filesize, nsects) = if cmd == 0x19 {
                    (c8(40), c8(48), c(64))
                } else {
                    (c(32), c(36), c(48))
                };
                need(hdr)
                    && nsects as usize <= (size - hdr) / sect
                    && grow(fileoff, filesize).is_some()
                    && (0..nsects as usize).all(|i| {
                        let s = at + hdr + i * sect;
                        let f = |o: usize| int(&cmds, s + o, 4, big);
                        let (dsize, offset, reloff, nreloc, flags) = if cmd == 0x19 {
                            (int(&cmds, s + 40, 8, big), f(48), f(56), f(60), f(64))
                        } else {
                            (f(36), f(40), f(48), f(52), f(56))
                        };
                        let zerofill = matches!(flags & 0xFF, 0x1 | 0xC | 0x12);
                        (zerofill || offset == 0 || grow(offset, dsize).is_some())
                            && grow(reloff, nreloc * 8).is_some()
                    })
            }
            // LC_SYMTAB: the symbols (nlist of 12 or 16 bytes) and their strings.
            0x2 => {
                need(24)
                    && grow(c(8), c(12) * if wide { 16 } else { 12 }).is_some()
                    && grow(c(16), c(20)).is_some()
            }
            // LC_DYSYMTAB: its tables of contents, modules, references,
            // indirect symbols and relocations.
            0xB => {
                need(80)
                    && grow(c(32), c(36) * 8).is_some()
                    && grow(c(40), c(44) * if wide { 56 } else { 52 }).is_some()
                    && grow(c(48), c(52) * 4).is_some()
                    && grow(c(56), c(60) * 4).is_some()
                    && grow(c(64), c(68) * 8).is_some()
                    && grow(c(72), c(76) * 8).is_some()
            }
            // LC_DYLD_INFO(_ONLY): rebase, bind, weak bind, lazy bind, export.
            0x22 | 0x8000_0022 => {
                need(48) && (0..5).all(|i| grow(c(8 + i * 8), c(12 + i * 8)).is_some())
            }
            // linkedit_data_command: code signature, split info, function
            // starts, data in code, signing DRs, optimisation hints, exports
            // trie, chained fixups, atom info.
            0x1D | 0x1E | 0x26 | 0x29 | 0x2B | 0x2E | 0x8000_0033 | 0x8000_0034 | 0x36 => {
                if cmd == 0x1D {
                    signature = Some((c(8), c(12)));
                }
                need(16) && grow(c(8), c(12)).is_some()
            }
            // LC_NOTE: 16-byte owner, then offset and size.
            0x31 => need(40) && grow(c8(24), c8(32)).is_some(),
            _ => true,
        };
        if !ok {
            return Ok(None);
        }
        at += size;
    }
    if at != cmds.len() {
        return Ok(None);
    }
    let signed = match signature {
        Some((off, size)) => code_signature(r, base, off, size)?,
        None => false,
    };
    Ok(Some(Thin {
        end,
        filetype,
        signed,
    }))
}

/// Checks every page the CodeDirectory's hashes cover. `Ok(true)`: all hold;
/// `Ok(false)`: no CodeDirectory of a kind checked here; `Err`: the file up to
/// the first page that fails.
fn code_signature(r: &mut Reader<'_>, base: u64, off: u64, size: u64) -> Result<bool, Cut> {
    let Some(sb) = r.get(base + off, 12).map(<[u8]>::to_vec) else {
        return Err((off, "code signature past the end".into()));
    };
    let be = |b: &[u8], at: usize| int(b, at, 4, true);
    let (len, count) = (be(&sb, 4), be(&sb, 8));
    if be(&sb, 0) != 0xFADE_0CC0 || len > size || len < 12 + count * 8 || count > 64 {
        return Err((off, "code signature is not a signature superblob".into()));
    }
    let Some(index) = r
        .get(base + off + 12, (count * 8) as usize)
        .map(<[u8]>::to_vec)
    else {
        return Err((off, "code signature past the end".into()));
    };
    // The CodeDirectory is slot 0.
    let Some(cd_at) = (0..count as usize)
        .find(|&i| be(&index, i * 8) == 0)
        .map(|i| be(&index, i * 8 + 4))
    else {
        return Ok(false);
    };
    let Some(cd) = r
        .get(base + off + cd_at, 44)
        .map(<[u8]>::to_vec)
        .filter(|cd| cd_at + 44 <= len && be(cd, 0) == 0xFADE_0C02)
    else {
        return Err((off, "code signature's CodeDirectory is damaged".into()));
    };
    let (cd_len, hash_off, slots, limit) = (be(&cd, 4), be(&cd, 16), be(&cd, 28), be(&cd, 32));
    let (hash_size, hash_type, page_log) = (cd[36], cd[37], cd[39]);
    let page = match page_log {
        0 => limit.max(1),
        12..=16 => 1u64 << page_log,
        _ => {
            return Err((
                off,
                "code signature's page size is not one macOS uses".into(),
            ))
        }
    };
    let sha256 = match (hash_type, hash_size) {
        (1, 20) => false,
        (2, 32) => true,
        // SHA-256 truncated, SHA-384: not checked here.
        _ => return Ok(false),
    };
    if limit > off
        || slots != limit.div_ceil(page)
        || cd_at + cd_len > len
        || hash_off + slots * u64::from(hash_size) > cd_len
    {
        return Err((
            off,
            "code signature's CodeDirectory does not fit the file".into(),
        ));
    }
    for i in 0..slots {
        let start = i * page;
        let n = page.min(limit - start);
        let Some(data) = r.get(base + start, n as usize) else {
            let why = if r.exhausted() {
                "ran out of work budget checking code pages"
            } else {
                "code page past the end"
            };
            return Err((start, why.into()));
        };
        let digest: Vec<u8> = if sha256 {
            sha2::Sha256::digest(data).to_vec()
        } else {
            sha1::Sha1::digest(data).to_vec()
        };
        let at = base + off + cd_at + hash_off + i * u64::from(hash_size);
        if r.get(at, usize::from(hash_size)) != Some(&digest[..]) {
            return Err((
                start,
                format!("code page {i} fails its code-signature hash"),
            ));
        }
    }
    Ok(true)
}

fn subtype(filetype: u32) -> Option<&'static str> {
    match filetype {
        1 => Some("o"),
        6 => Some("dylib"),
        8 => Some("bundle"),
        _ => None,
    }
}

impl Carver for MachO {
    fn name(&self) -> &'static str {
        "macho"
    }
    fn extension(&self, sub: Option<&'static str>) -> &'static str {
        sub.unwrap_or("macho")
    }
    fn headers(&self) -> &'static [&'static [u8]] {
        &[
            b"\xCF\xFA\xED\xFE",
            b"\xCE\xFA\xED\xFE",
            b"\xFE\xED\xFA\xCF",
            b"\xFE\xED\xFA\xCE",
            // Universal: shared with Java class files, told apart by the count.
            b"\xCA\xFE\xBA\xBE",
            b"\xCA\xFE\xBA\xBF",
        ]
    }
    fn min_size(&self) -> u64 {
        64
    }
    fn max_size(&self) -> u64 {
        1 << 32
    }
    fn check(&self, r: &mut Reader<'_>) -> Verdict {
        let Some(h) = r.get(0, 8).map(<[u8]>::to_vec) else {
            return Verdict::Reject;
        };
        if h[..3] == *b"\xCA\xFE\xBA" {
            return universal(r, h[3] == 0xBF);
        }
        match thin(r, 0, None) {
            Ok(None) => Verdict::Reject,
            Err((len, why)) => partial(len.min(r.limit()), &why),
            Ok(Some(t)) if t.end > r.limit() => {
                partial(r.limit(), "the file's contents run past the image")
            }
            Ok(Some(t)) => Verdict::whole(t.end, subtype(t.filetype), t.signed),
        }
    }
}

/// A universal file: the architecture table, then every slice as a thin file.
/// A first slice that is not Mach-O makes it no universal file (a Java class
/// file starts with the same magic); a later one makes it partial there.
fn universal(r: &mut Reader<'_>, wide: bool) -> Verdict {
    let Some(n) = r.be32(4).filter(|n| (1..=MAX_ARCHS).contains(n)) else {
        return Verdict::Reject;
    };
    let entry = if wide { 32 } else { 20 };
    let table_end = 8 + u64::from(n) * entry as u64;
    let Some(table) = r.get(8, n as usize * entry).map(<[u8]>::to_vec) else {
        return Verdict::Reject;
    };
    let mut slices: Vec<(u64, u64, u32)> = Vec::new();
    for i in 0..n as usize {
        let e = &table[i * entry..];
        let cpu = int(e, 0, 4, true) as u32;
        let (offset, size, align) = if wide {
            (int(e, 8, 8, true), int(e, 16, 8, true), int(e, 24, 4, true))
        } else {
            (int(e, 8, 4, true), int(e, 12, 4, true), int(e, 16, 4, true))
        };
        let Some(slice_end) = offset.checked_add(size) else {
            return Verdict::Reject;
        };
        if !CPU_KNOWN.contains(&cpu)
            || align > 16
            || offset % (1 << align) != 0
            || offset < table_end
            || size < 32
            || slices
                .iter()
                .any(|&(o, s, _)| offset < o + s && o < slice_end)
        {
            return Verdict::Reject;
        }
        slices.push((offset, size, cpu));
    }
    slices.sort_unstable();
    let mut all_signed = true;
    let mut end = table_end;
    for (i, &(offset, size, cpu)) in slices.iter().enumerate() {
        match thin(r, offset, Some(cpu)) {
            Ok(Some(t)) if t.end <= size => all_signed &= t.signed,
            Ok(Some(_)) => return partial(offset, "a slice runs past its size"),
            Ok(None) if i == 0 => return Verdict::Reject,
            Ok(None) => return partial(offset, "a slice is not a Mach-O file of its CPU"),
            Err((len, why)) => return partial((offset + len).min(r.limit()), &why),
        }
        end = offset + size;
    }
    if end > r.limit() {
        return partial(r.limit(), "the file's slices run past the image");
    }
    Verdict::whole(end, None, all_signed)
}
