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
        let Some(sh) = r.get(shoff, (shnum * want_sh) as usize).map(<[u8]>::to_vec) else {
            return partial(end.min(r.limit()), "section header table past the end");
        };
        grow(shoff, shnum * want_sh);
        let sec = |i: usize| {
            let e = &sh[i * want_sh as usize..];
            let (name, typ) = (int(e, 0, 4, big), int(e, 4, 4, big));
            let (off, size) = if wide {
                (int(e, 24, 8, big), int(e, 32, 8, big))
            } else {
                (int(e, 16, 4, big), int(e, 20, 4, big))
            };
            (name, typ, off, size)
        };
        let (_, strtyp, stroff, strsize) = sec(shstrndx as usize);
        if strtyp != 3 || strsize > 1 << 20 {
            return partial(end.min(r.limit()), "section header table fails its checks");
        }
        let Some(names) = r.get(stroff, strsize as usize).map(<[u8]>::to_vec) else {
            return Verdict::Reject;
        };
        for i in 0..shnum as usize {
            let (name, typ, off, size) = sec(i);
            let known = typ <= 19 || (0x6000_0000..=0x7FFF_FFFF).contains(&typ);
            let printable = names.get(name as usize..).is_some_and(|n| {
                let len = n.iter().position(|&b| b == 0);
                len.is_some_and(|l| n[..l].iter().all(|b| b.is_ascii_graphic()))
            });
            if !known || !printable || (i == 0 && typ != 0) {
                return partial(end.min(r.limit()), "section header table fails its checks");
            }
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
