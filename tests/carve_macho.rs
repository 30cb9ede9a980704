//! Mach-O carved to its structural end (issue 14, what examiners meet on Macs):
//! files made by clang and ld64.lld (the LLVM linker's Mach-O port) and
//! llvm-lipo, laid into random bytes. A signed arm64 executable and dylib (every
//! arm64 binary carries a code signature: each page hashed) come back whole and
//! checked; an x86_64 executable, a universal file holding it and objects come
//! back whole by structure (nothing hashes their code); a signed executable with
//! one code byte changed is partial before the page whose hash fails.

mod common;

use common::*;

const SRC: &str = "int g = 42;\nconst char *s = \"evidence\";\nint f(int x){return x*g;}\nvoid start(void){ f(3); for(;;); }\n";

#[test]
fn mach_o_made_by_clang_and_lld_comes_back_whole_and_a_changed_page_partial() {
    if !tools(&["clang", "ld64.lld-14", "llvm-lipo-14"]) {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    std::fs::write(p.join("m.c"), SRC).unwrap();
    let link = "-nostdlib -fuse-ld=lld -Wl,-e,_start";
    let arm = made(
        p,
        &format!("clang -target arm64-apple-macos11 {link} -Wl,-platform_version,macos,11.0,11.0 m.c -o arm"),
        "arm",
    );
    let x64 = made(
        p,
        &format!("clang -target x86_64-apple-macos10.15 {link} -Wl,-platform_version,macos,10.15,10.15 m.c -o x64"),
        "x64",
    );
    let dylib = made(
        p,
        "clang -target arm64-apple-macos11 -nostdlib -fuse-ld=lld -dynamiclib -Wl,-platform_version,macos,11.0,11.0 m.c -o lib.dylib",
        "lib.dylib",
    );
    let fat = made(p, "llvm-lipo-14 -create arm x64 -output fat", "fat");
    let obj = made(
        p,
        "clang -target x86_64-apple-macos10.15 -c m.c -o m.o",
        "m.o",
    );
    let obj32 = made(
        p,
        "clang -target i386-apple-macos10.13 -c m.c -o m32.o",
        "m32.o",
    );
    // One byte changed at 0x4064 of the signed executable: the page holding it
    // (4 KiB or 16 KiB pages, both start at 0x4000) fails its hash.
    let mut bad = arm.clone();
    bad[0x4000 + 100] ^= 1;

    let place: [(usize, &Vec<u8>); 7] = [
        (0x10000, &arm),
        (0x100000, &x64),
        (0x180000, &dylib),
        (0x200000, &fat),
        (0x300000, &obj),
        (0x310000, &obj32),
        (0x380000, &bad),
    ];
    let laid: Vec<(usize, &[u8])> = place.iter().map(|(at, f)| (*at, f.as_slice())).collect();
    let arts = carve_laid(p, 4 << 20, 41, &laid, 3);
    expect_carved(&arts, 0x10000, "macho", "macho", Want::Complete(&arm));
    expect_carved(&arts, 0x100000, "macho", "macho", Want::Unverified(&x64));
    expect_carved(&arts, 0x180000, "macho", "dylib", Want::Complete(&dylib));
    expect_carved(&arts, 0x200000, "macho", "macho", Want::Unverified(&fat));
    expect_carved(&arts, 0x300000, "macho", "o", Want::Unverified(&obj));
    expect_carved(&arts, 0x310000, "macho", "o", Want::Unverified(&obj32));
    let a = expect_carved(
        &arts,
        0x380000,
        "macho",
        "macho",
        Want::Partial(Some(0x4000)),
    );
    assert!(
        a["recovery_detail"]
            .as_str()
            .unwrap()
            .contains("fails its code-signature hash"),
        "{a}"
    );
    // The slices inside the universal file are not carved again on their own.
    assert_eq!(arts.len(), place.len(), "{arts:#?}");
}
