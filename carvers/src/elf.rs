//! ELF validator (executables, shared libraries and objects of Linux and
//! Android; the System V ABI's ELF header, program and section headers).

use crate::{partial, uint as int, Carver, Reader, Verdict};

/// ELF: the identification (class, byte order, version), header fields that
/// agree with the class (header and entry sizes), program headers inside the
/// file, and the section header table: every section within bounds, a known
/// type, and the section-name table holding the name of every section as a
/// printable string (the table lies at the file's end in what linkers write,
/// so a file carved across a gap reads foreign bytes there and fails). The
/// file ends where its last section, segment or table does. Code and data
/// carry no check: `Unverified`.
pub struct Elf;

const MAX_SECTIONS: u64 = 4096;

impl Carver for Elf {
    fn name(&self) -> &'static str {
        "elf"
    }
    fn extension(&self, sub: Option<&'static str>) -> &'static str {
        sub.unwrap_or("elf")
    }
    fn headers(&self) -> &'static [&'static [u8]] {
        &[
            b"\x7FELF\x01\x01\x01",
            b"\x7FELF\x02\x01\x01",
            b"\x7FELF\x01\x02\x01",
            b"\x7FELF\x02\x02\x01",
        ]
    }
    fn min_size(&self) -> u64 {
        52
    }
    fn max_size(&self) -> u64 {
        1 << 31
    }
    fn check(&self, r: &mut Reader<'_>) -> Verdict {
        let Some(h) = r.get(0, 64).map(<[u8]>::to_vec) else {
            return Verdict::Reject;
        };
        let wide = h[4] == 2;
        let big = h[5] == 2;
        let w = if wide { 8 } else { 4 };
        let half = |at| int(&h, at, 2, big);
        let word = |at| int(&h, at, 4, big);
        let addr = |at| int(&h, at, w, big);
        // Offsets of the fields after e_entry depend on the class.
        let (phoff, shoff) = (addr(24 + w), addr(24 + 2 * w));
        let f = 24 + 3 * w + 4;
        let (ehsize, phentsize, phnum, shentsize, shnum, shstrndx) = (
            half(f),
            half(f + 2),
            half(f + 4),
            half(f + 6),
            half(f + 8),
            half(f + 10),
        );
        let (want_eh, want_ph, want_sh) = if wide { (64, 56, 64) } else { (52, 32, 40) };
        let ty = half(16);
        if word(20) != 1
            || !(1..=4).contains(&ty)
            || ehsize != want_eh
            || (phnum > 0 && phentsize != want_ph)
            || (shnum > 0 && (shentsize != want_sh || shstrndx >= shnum))
            || shnum > MAX_SECTIONS
            || h[7..16].iter().skip(2).any(|&b| b != 0)
        {
            return Verdict::Reject;
        }
        let mut end = ehsize;
        let mut grow = |off: u64, len: u64| off.checked_add(len).map(|e| end = end.max(e));
        if phnum > 0 {
            let Some(ph) = r.get(phoff, (phnum * want_ph) as usize).map(<[u8]>::to_vec) else {
                return Verdict::Reject;
            };
            grow(phoff, phnum * want_ph);
            for i in 0..phnum as usize {
                let e = &ph[i * want_ph as usize..];
                let (off, filesz) = if wide {
                    (int(e, 8, 8, big), int(e, 32, 8, big))
                } else {
                    (int(e, 4, 4, big), int(e, 16, 4, big))
                };
                if grow(off, filesz).is_none() {
                    return Verdict::Reject;
                }
            }
        }
        if shnum == 0 {
            // No sections (some stripped or crafted files): only the segments
            // bound it.
            return Verdict::Unverified {
                len: end,
                subtype: kind(ty),
            };
        }
        let layout = Layout {
            wide,
            big,
            shnum,
            shstrndx,
            entry: want_sh,
        };
        // The end of what the headers vouch for (the ELF header and the
        // program header table; not the segments they point to): a prefix of
        // the file however its later bytes lie.
        let headed = if phnum > 0 {
            ehsize.max(phoff.saturating_add(phnum * want_ph))
        } else {
            ehsize
        };
        let Some(secs) = layout.table(r, shoff, 0) else {
            // The table at the file's end read foreign bytes: the file is cut
            // or in pieces. Whatever sections check out where they should,
            // before the first that does not, are the file's.
            return partial(
                checked_prefix(r, &layout, shoff, headed),
                "section header table fails its checks (the file is cut or in pieces)",
            );
        };
        grow(shoff, shnum * want_sh);
        for &(typ, off, size, ..) in &secs {
            // NOBITS sections (.bss) take no room in the file.
            if typ != 8 && grow(off, size).is_none() {
                return Verdict::Reject;
            }
        }
        if end > r.limit() {
            return partial(r.limit(), "the file's sections run past the image");
        }
        Verdict::Unverified {
            len: end,
            subtype: kind(ty),
        }
    }
}

/// The extension a file type gets: a relocatable object is `.o`; shared
/// objects and executables (position-independent ones are shared objects
/// too) keep `.elf`.
fn kind(ty: u64) -> Option<&'static str> {
    (ty == 1).then_some("o")
}

/// How to read a section header table.
struct Layout {
    wide: bool,
    big: bool,
    shnum: u64,
    shstrndx: u64,
    entry: u64,
}

/// A section: type, offset, size, link, entry size.
type Section = (u64, u64, u64, u64, u64);

impl Layout {
    /// The section header table at `at`, if it checks out: section 0 null,
    /// the names table a string table (read `shift` bytes further on, as the
    /// table is), every section of a known type with a printable name.
    fn table(&self, r: &mut Reader<'_>, at: u64, shift: u64) -> Option<Vec<Section>> {
        let (wide, big, w) = (self.wide, self.big, self.entry as usize);
        let sh = r.get(at, (self.shnum * self.entry) as usize)?.to_vec();
        let sec = |i: usize| {
            let e = &sh[i * w..];
            let (off, size, link, entsize) = if wide {
                (
                    int(e, 24, 8, big),
                    int(e, 32, 8, big),
                    int(e, 40, 4, big),
                    int(e, 56, 8, big),
                )
            } else {
                (
                    int(e, 16, 4, big),
                    int(e, 20, 4, big),
                    int(e, 24, 4, big),
                    int(e, 36, 4, big),
                )
            };
            (
                int(e, 0, 4, big),
                int(e, 4, 4, big),
                off,
                size,
                link,
                entsize,
            )
        };
        let (_, strtyp, stroff, strsize, ..) = sec(self.shstrndx as usize);
        if strtyp != 3 || strsize > 1 << 20 {
            return None;
        }
        let names = r
            .get(stroff.checked_add(shift)?, strsize as usize)?
            .to_vec();
        let mut out = Vec::with_capacity(self.shnum as usize);
        for i in 0..self.shnum as usize {
            let (name, typ, off, size, link, entsize) = sec(i);
            let known = typ <= 19 || (0x6000_0000..=0x7FFF_FFFF).contains(&typ);
            let printable = names.get(name as usize..).is_some_and(|n| {
                let len = n.iter().position(|&b| b == 0);
                len.is_some_and(|l| n[..l].iter().all(|b| b.is_ascii_graphic()))
            });
            if !known || !printable || (i == 0 && typ != 0) {
                return None;
            }
            out.push((typ, off, size, link, entsize));
        }
        Some(out)
    }
}

/// The longest prefix of a file whose section header table did not check
/// out where it should: the table is looked for a whole number of sectors
/// further on (a file in two pieces; up to 4 MiB), and, where found, the
/// sections that carry a structure (string tables, symbol tables,
/// relocations, notes, the dynamic table) are checked where they lie in a
/// contiguous file, in file order; the prefix runs to the sector boundary
/// after the last that checks out before the first that does not (the gap
/// starts on a sector boundary at or after it). Without the table, only the
/// headers (`headed` bytes) are vouched for.
fn checked_prefix(r: &mut Reader<'_>, l: &Layout, shoff: u64, headed: u64) -> u64 {
    const SECTOR: u64 = crate::SECTOR;
    const MAX_GAP: u64 = 4 << 20;
    let w = l.entry as usize;
    let mut found = None;
    let mut gap = SECTOR;
    while gap <= MAX_GAP {
        let at = shoff.saturating_add(gap);
        if at.saturating_add(l.shnum * l.entry) > r.limit() || r.exhausted() {
            break;
        }
        // Section 0 is all zeros: a cheap test before the whole table.
        if r.get(at, w).is_some_and(|e| e.iter().all(|&b| b == 0)) {
            if let Some(t) = l.table(r, at, gap) {
                found = Some(t);
                break;
            }
        }
        gap += SECTOR;
    }
    let Some(mut secs) = found else {
        return headed.min(r.limit());
    };
    secs.retain(|s| s.0 != 8 && s.2 > 0 && s.1 < shoff);
    secs.sort_by_key(|s| s.1);
    let mut good = headed;
    for &(typ, off, size, _, entsize) in &secs {
        let ok = match typ {
            2 | 3 | 4 | 6 | 7 | 11 => section_ok(r, l, typ, off, size, entsize),
            // No structure to check (code, data): says nothing.
            _ => continue,
        };
        if !ok {
            break;
        }
        good = good.max(off + size);
    }
    r.sector_from(good).min(r.limit())
}

/// Whether a section with a structure reads as one at `off`: a string table
/// is NUL-led, NUL-ended and printable; symbol tables, relocations and the
/// dynamic table are whole entries, the first symbol null, the dynamic table
/// ending in its null entry; a note's records tile it, each name printable.
fn section_ok(r: &mut Reader<'_>, l: &Layout, typ: u64, off: u64, size: u64, entsize: u64) -> bool {
    if size > 16 << 20 {
        return false;
    }
    let Some(b) = r.get(off, size as usize).map(<[u8]>::to_vec) else {
        return false;
    };
    let (big, wide) = (l.big, l.wide);
    match typ {
        // Each check must fail on zeros as well as on noise: a wiped or
        // unwritten stretch after a cut would otherwise pass for the file.
        3 => {
            b[0] == 0
                && b[b.len() - 1] == 0
                && (b.len() == 1 || b.iter().any(|&c| c != 0))
                && b.iter()
                    .all(|&c| c == 0 || c.is_ascii_graphic() || c == b' ')
        }
        2 | 11 => {
            let want = if wide { 24 } else { 16 };
            entsize == want
                && size.is_multiple_of(want)
                && b[..want as usize].iter().all(|&c| c == 0)
                && (size == want || b[want as usize..].iter().any(|&c| c != 0))
        }
        4 | 6 => {
            let want = if typ == 6 {
                if wide {
                    16
                } else {
                    8
                }
            } else if wide {
                24
            } else {
                12
            };
            if entsize != want || !size.is_multiple_of(want) {
                return false;
            }
            let n = if wide { 8 } else { 4 };
            if typ == 6 {
                // Tags are small numbers or in the OS and processor ranges,
                // and a null entry ends the table (not the first).
                let tags: Vec<u64> = b.chunks(want as usize).map(|e| int(e, 0, n, big)).collect();
                return tags.first().is_some_and(|&t| t != 0)
                    && tags.contains(&0)
                    && tags
                        .iter()
                        .all(|&t| t < 64 || (0x6000_0000..0x8000_0000).contains(&t));
            }
            // Relocations with addends: each r_info names a relocation type
            // (its low 32 bits in ELF64, low 8 in ELF32) that is not zero
            // and, in ELF64, a symbol index of at most 24 bits.
            b.chunks_exact(want as usize).all(|e| {
                let info = int(e, n, n, big);
                if wide {
                    let (sym, ty) = (info >> 32, info & 0xFFFF_FFFF);
                    (1..256).contains(&ty) && sym < 1 << 24
                } else {
                    info & 0xFF != 0
                }
            })
        }
        7 => {
            let mut at = 0usize;
            while at + 12 <= b.len() {
                let (namesz, descsz) = (
                    int(&b, at, 4, big) as usize,
                    int(&b, at + 4, 4, big) as usize,
                );
                let name_end = at + 12 + namesz;
                if namesz == 0 || namesz > 64 || name_end > b.len() {
                    return false;
                }
                let name = &b[at + 12..name_end];
                if namesz > 0
                    && (name[namesz - 1] != 0
                        || !name[..namesz - 1].iter().all(u8::is_ascii_graphic))
                {
                    return false;
                }
                at = name_end
                    .next_multiple_of(4)
                    .saturating_add(descsz.next_multiple_of(4));
            }
            at == b.len()
        }
        _ => false,
    }
}
