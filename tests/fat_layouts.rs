//! FAT volumes `mkfs.fat` makes on request, beside the PC defaults: Atari ST
//! boot sectors (`-A`: a 68000 branch instead of an x86 jump, 1 KiB logical
//! sectors; The Sleuth Kit cannot open them) and logical sectors of 2 and 4 KiB.
//! Needs mkfs.fat and mcopy; skipped without them unless DREDGE_REQUIRE_TOOLS=1.

mod common;

use common::*;

#[test]
fn atari_and_large_sector_fat() {
    if !tools(&["mkfs.fat", "mcopy"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    std::fs::create_dir_all(src.join("letters")).unwrap();
    let mut want = Hashes::new();
    for i in 0..8u64 {
        let data = noise(700 + (i as usize * 7919) % 90_000, 40 + i);
        let rel = if i % 2 == 0 {
            format!("letters/draft {i}.doc")
        } else {
            format!("scan{i}.bin")
        };
        std::fs::write(src.join(&rel), &data).unwrap();
        want.insert(format!("/{rel}"), sha256(&data));
    }
    for (name, args, kib, kind) in [
        ("atari16", "-A", 32768, "fat16"),
        ("atari12", "-A -F 12", 1440, "fat12"),
        ("sec4k", "-F 12 -S 4096", 8192, "fat12"),
        ("sec2k", "-F 16 -S 2048", 65536, "fat16"),
    ] {
        let img = dir.path().join(format!("{name}.img"));
        assert!(sh(&format!(
            "mkfs.fat -C {args} {} {kib} >/dev/null && mcopy -s -i {} {}/* ::/",
            img.display(),
            img.display(),
            src.display()
        )));
        let out = dir.path().join(name);
        let o = one_shot("recover", &img, None, &out, &[]);
        assert!(o.status.success(), "{name}: {}", stderr(&o));
        assert!(
            stdout(&o).contains(&format!(":{kind}]")),
            "{name}: {}",
            stdout(&o)
        );
        let got = hashes(&ls_json(&out));
        for (p, h) in &want {
            assert_eq!(got.get(p), Some(h), "{name}: {p}");
        }
    }
}
