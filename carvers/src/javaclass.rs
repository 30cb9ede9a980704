//! Java class file validator (JVM specification, chapter 4): what `javac`,
//! Kotlin and other JVM compilers write, alone or unpacked from a JAR.

use crate::{partial, Carver, Reader, Verdict};

/// A class file: `CAFEBABE`, a class-file version of Java 1.0.2 to 26 (major 45
/// to 70; a fat Mach-O binary shares the magic but its next word is a small
/// architecture count, major < 45), the constant pool walked entry by entry
/// (every tag known, modified UTF-8 without NUL bytes), `this_class` and
/// `super_class` naming class entries, then interfaces, fields, methods and the
/// class attributes, every attribute name an index of a UTF-8 entry, to the
/// structure's exact end. Nothing in a class file is checksummed: `Unverified`.
pub struct JavaClass;

/// Tags of constant-pool entries and the size of what follows each (0: a UTF-8
/// entry, sized by its own length).
fn entry_size(tag: u8) -> Option<u64> {
    Some(match tag {
        1 => 0,
        7 | 8 | 16 | 19 | 20 => 2,
        15 => 3,
        3 | 4 | 9 | 10 | 11 | 12 | 17 | 18 => 4,
        5 | 6 => 8,
        _ => return None,
    })
}

impl Carver for JavaClass {
    fn name(&self) -> &'static str {
        "java-class"
    }
    fn extension(&self, _: Option<&'static str>) -> &'static str {
        "class"
    }
    fn headers(&self) -> &'static [&'static [u8]] {
        &[b"\xCA\xFE\xBA\xBE"]
    }
    fn min_size(&self) -> u64 {
        32
    }
    fn max_size(&self) -> u64 {
        64 << 20
    }
    fn check(&self, r: &mut Reader<'_>) -> Verdict {
        let Some(major) = r.be16(6) else {
            return Verdict::Reject;
        };
        let Some(count) = r.be16(8) else {
            return Verdict::Reject;
        };
        if !(45..=70).contains(&major) || count < 2 {
            return Verdict::Reject;
        }
        // Each pool index's tag (0: the unusable slot after a long or double).
        let mut tags = vec![0u8; usize::from(count)];
        let mut at = 10u64;
        let mut k = 1usize;
        while k < usize::from(count) {
            let Some(tag) = r.u8(at) else {
                return Verdict::Reject;
            };
            let Some(mut size) = entry_size(tag) else {
                return reject_or_cut(k, at, "a constant-pool entry of unknown tag");
            };
            if tag == 1 {
                let Some(n) = r.be16(at + 1) else {
                    return Verdict::Reject;
                };
                let Some(s) = r.get(at + 3, usize::from(n)) else {
                    return reject_or_cut(k, at, "the file breaks off in its constant pool");
                };
                // Modified UTF-8 never holds a zero byte, nor bytes F0–FF.
                if s.iter().any(|&b| b == 0 || b >= 0xF0) {
                    return reject_or_cut(k, at, "a UTF-8 constant is not modified UTF-8");
                }
                size = 2 + u64::from(n);
            }
            tags[k] = tag;
            at += 1 + size;
            k += if matches!(tag, 5 | 6) { 2 } else { 1 };
        }
        let is = |i: u16, want: u8| tags.get(usize::from(i)) == Some(&want);
        let (Some(this), Some(sup)) = (r.be16(at + 2), r.be16(at + 4)) else {
            return partial(at, "the file breaks off after its constant pool");
        };
        if !is(this, 7) || !(sup == 0 || is(sup, 7)) {
            return Verdict::Reject;
        }
        let Some(n) = r.be16(at + 6) else {
            return partial(at, "the file breaks off after its constant pool");
        };
        at += 8;
        for _ in 0..n {
            match r.be16(at) {
                Some(i) if is(i, 7) => at += 2,
                _ => return partial(at, "an interface is not a class entry"),
            }
        }
        // Fields, then methods: access, name, descriptor, attributes.
        for _ in 0..2 {
            let Some(n) = r.be16(at) else {
                return partial(at, "the file breaks off in its members");
            };
            at += 2;
            for _ in 0..n {
                let (Some(name), Some(desc)) = (r.be16(at + 2), r.be16(at + 4)) else {
                    return partial(at, "the file breaks off in its members");
                };
                if !is(name, 1) || !is(desc, 1) {
                    return partial(at, "a member's name or descriptor is not a UTF-8 entry");
                }
                at += 6;
                match attributes(r, at, &tags) {
                    Some(end) => at = end,
                    None => return partial(at, "a member's attributes do not check"),
                }
            }
        }
        match attributes(r, at, &tags) {
            Some(end) => Verdict::Unverified {
                len: end,
                subtype: None,
            },
            None => partial(at, "the class attributes do not check"),
        }
    }
}

/// An attribute table at `at`: its count, then each attribute's name (a UTF-8
/// entry) and length. Where it ends.
fn attributes(r: &mut Reader<'_>, mut at: u64, tags: &[u8]) -> Option<u64> {
    let n = r.be16(at)?;
    at += 2;
    for _ in 0..n {
        let name = r.be16(at)?;
        if tags.get(usize::from(name)) != Some(&1) {
            return None;
        }
        let len = u64::from(r.be32(at + 2)?);
        at = at.checked_add(6 + len)?;
        if at > r.limit() || !r.spend(16) {
            return None;
        }
    }
    Some(at)
}

/// A pool that breaks in its first entries is no class file; one that breaks
/// later is a class file cut there.
fn reject_or_cut(k: usize, at: u64, why: &str) -> Verdict {
    if k < 4 {
        Verdict::Reject
    } else {
        partial(at, why)
    }
}
