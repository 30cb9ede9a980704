//! Android DEX files carved from random bytes: files assembled by smali (one
//! class, and 150 classes of 20 methods with their strings, a few hundred KiB
//! across the pass's pages) come back whole, bit-exact and checked (the
//! header's Adler-32 and SHA-1 of the file); one with a byte changed, and one
//! cut short, come back partial.

mod common;
use common::*;

/// `classes` classes of `methods` methods each, assembled into `name`.
fn dex(dir: &std::path::Path, name: &str, classes: usize, methods: usize) -> Vec<u8> {
    let src = dir.join(format!("{name}-src"));
    std::fs::create_dir_all(&src).unwrap();
    for c in 0..classes {
        let mut s = format!(".class public Lcase/C{c};\n.super Ljava/lang/Object;\n");
        for m in 0..methods {
            s += &format!(
                ".method public static m{m}()Ljava/lang/String;\n    .registers 1\n    \
                 const-string v0, \"exhibit {c}-{m}: seized, imaged, hashed\"\n    \
                 return-object v0\n.end method\n"
            );
        }
        std::fs::write(src.join(format!("C{c}.smali")), s).unwrap();
    }
    made(
        dir,
        &format!("smali assemble -o {name} {}", src.display()),
        name,
    )
}

#[test]
fn dex_files_assembled_by_smali_come_back_whole_and_damaged_ones_partial() {
    if !tools(&["smali"]) {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    let small = dex(p, "small.dex", 1, 2);
    let large = dex(p, "large.dex", 150, 20);
    assert!(large.len() > 200_000, "{} bytes", large.len());
    let mut bad = large.clone();
    let mid = bad.len() / 2;
    bad[mid] ^= 0x10;
    let cut = large[..large.len() - 5000].to_vec();
    let place = [
        (0x10000usize, &small, true),
        (0x100000, &large, true),
        (0x300000, &bad, false),
        (0x500000, &cut, false),
    ];
    let laid: Vec<(usize, &[u8])> = place.iter().map(|(at, f, _)| (*at, f.as_slice())).collect();
    let arts = carve_laid(p, 7 << 20, 53, &laid, 3);
    for (off, f, whole) in &place {
        let want = if *whole {
            Want::Complete(f)
        } else {
            Want::Partial(None)
        };
        expect_carved(&arts, *off as u64, "dex", "dex", want);
    }
}
