//! ELF carved to its structural end (issue 14, code): an executable and an
//! object file made by gcc, and the system's /usr/bin/ls, laid into random
//! bytes, come back bit-exact (unverified: code carries no check); an
//! executable whose section header table was overwritten is partial.

mod common;

use common::*;

#[test]
fn executables_and_objects_come_back_whole() {
    if !tools(&["gcc"]) {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let c = d.path().join("hello.c");
    std::fs::write(
        &c,
        "#include <stdio.h>\nstatic int counter;\nint main(void) { counter++; printf(\"evidence %d\\n\", counter); return 0; }\n",
    )
    .unwrap();
    let dir = d.path().display();
    assert!(sh(&format!(
        "cd {dir} && gcc -O1 -o hello hello.c && gcc -c -o hello.o hello.c"
    )));
    let exe = std::fs::read(d.path().join("hello")).unwrap();
    let obj = std::fs::read(d.path().join("hello.o")).unwrap();
    let ls = std::fs::read("/usr/bin/ls").unwrap();
    // The executable again, its section header table (at its end) overwritten.
    let mut cut = exe.clone();
    let n = cut.len();
    cut[n - 200..].fill(0xA5);
    let mut img = noise(4 << 20, 31);
    let place: [(usize, &[u8], &str); 4] = [
        (0x10000, &exe, "whole"),
        (0x40000, &obj, "whole"),
        (0x80000, &ls, "whole"),
        (0x200000, &cut, "partial"),
    ];
    for (at, f, _) in &place {
        img[*at..*at + f.len()].copy_from_slice(f);
    }
    let p = d.path().join("img.raw");
    std::fs::write(&p, &img).unwrap();
    let arts = one_shot_ls("carve", &p, None, &d.path().join("case"), 3, &[]);
    for (at, f, kind) in &place {
        let a = carved_at(&arts, *at as u64, "elf")
            .unwrap_or_else(|| panic!("no ELF at {at:#x}: {arts:#?}"));
        if *kind == "whole" {
            assert_eq!(a["sha256"], sha256(f), "ELF at {at:#x}");
            assert_eq!(a["recovery"], "carved-unverified-contiguous");
        } else {
            assert_eq!(a["status"], "partial", "{a}");
        }
    }
    let o = arts
        .iter()
        .find(|a| a["path"].as_str().unwrap().ends_with(".o"));
    assert!(o.is_some(), "the object file is named .o");
}

/// /usr/bin/ls in two pieces, noise between: its section header table (at the
/// end) is not where a contiguous file has it. It was partial at its full
/// length (foreign bytes in it); now the table is found a gap further on and
/// the partial runs only as far as the sections that check out where they
/// lie (string and symbol tables, relocations, notes, the dynamic table), to
/// the sector boundary after them: a prefix of the file.
#[test]
fn an_executable_in_two_pieces_is_partial_to_what_checks_out() {
    let ls = std::fs::read("/usr/bin/ls").unwrap();
    let d = tempfile::tempdir().unwrap();
    // The cut after the dynamic linking tables (in ls's code), then among
    // them (a sixteenth in), a gap of 9 sectors of noise or of zeros: zeros
    // after the cut must not pass for the tables (a relocation or symbol
    // table of zeros is none).
    for (round, (part, zeros)) in [(2, false), (16, false), (2, true), (16, true)]
        .into_iter()
        .enumerate()
    {
        let mut img = if zeros {
            vec![0; 4 << 20]
        } else {
            noise(4 << 20, 33)
        };
        let at = 0x10000;
        let (cut, gap) = ((ls.len() / part) / 512 * 512, 9 * 512);
        img[at..at + cut].copy_from_slice(&ls[..cut]);
        img[at + cut + gap..at + gap + ls.len()].copy_from_slice(&ls[cut..]);
        let dir = d.path().join(round.to_string());
        std::fs::create_dir(&dir).unwrap();
        let arts = carve_image(&dir, &img, 3);
        let a = carved_at(&arts, at as u64, "elf").unwrap_or_else(|| panic!("{arts:#?}"));
        assert_eq!(a["status"], "partial", "{a}");
        let n = a["size"].as_u64().unwrap() as usize;
        assert!(
            (512..=cut).contains(&n),
            "round {round}: {n} bytes of a cut at {cut}: {a}"
        );
        assert_eq!(a["sha256"], sha256(&ls[..n]), "round {round}: a prefix");
    }
}
