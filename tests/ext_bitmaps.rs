//! An ext4 volume whose block bitmaps were overwritten with ones (issue 14):
//! believed, they hid every free block from the carvers, so a deleted photo
//! whose inode was wiped was lost. Now each bitmap is checked against its
//! checksum, the allocation is taken from the inodes, the photo is carved, and
//! each bitmap not believed is a finding. Needs mke2fs, debugfs, dumpe2fs and
//! python3; skipped without them unless DREDGE_REQUIRE_TOOLS=1.

mod common;

use common::*;
use std::process::Command;

const PNG: &str = r#"
import zlib, struct, random
def png(w, h, seed):
    r = random.Random(seed)
    raw = b''.join(b'\0' + bytes(r.randrange(256) for _ in range(w * 3)) for _ in range(h))
    def ch(t, d):
        return struct.pack('>I', len(d)) + t + d + struct.pack('>I', zlib.crc32(t + d))
    ihdr = struct.pack('>IIBBBBB', w, h, 8, 2, 0, 0, 0)
    return b'\x89PNG\r\n\x1a\n' + ch(b'IHDR', ihdr) + ch(b'IDAT', zlib.compress(raw, 1)) + ch(b'IEND', b'')
for i in range(6):
    open('src/photos/p%d.png' % i, 'wb').write(png(100 + 20 * i, 80, i))
"#;

fn out(cmd: &mut Command) -> String {
    let o = cmd.output().unwrap();
    assert!(o.status.success(), "{cmd:?}: {}", stderr(&o));
    stdout(&o)
}

#[test]
fn a_deleted_photo_under_a_bitmap_of_ones_is_carved_and_the_bitmap_is_a_finding() {
    if !tools(&["mke2fs", "debugfs", "dumpe2fs", "python3"]) {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    std::fs::create_dir_all(p.join("src/photos")).unwrap();
    std::fs::write(p.join("png.py"), PNG).unwrap();
    assert!(sh(&format!("cd {} && python3 png.py", p.display())));
    let photo = std::fs::read(p.join("src/photos/p3.png")).unwrap();
    let img = p.join("e.img");
    out(Command::new("mke2fs")
        .args(["-q", "-F", "-t", "ext4", "-d"])
        .arg(p.join("src"))
        .arg(&img)
        .arg("16M"));
    let stat = out(Command::new("debugfs")
        .args(["-R", "stat /photos/p3.png"])
        .arg(&img));
    let inode: u64 = stat
        .split("Inode: ")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap();
    // Deleted, and its inode wiped: only carving gets the photo back.
    out(Command::new("debugfs")
        .args(["-w", "-R", "rm /photos/p3.png"])
        .arg(&img));
    out(Command::new("debugfs")
        .args(["-w", "-R", &format!("clri <{inode}>")])
        .arg(&img));
    let dump = out(Command::new("dumpe2fs").arg(&img));
    let bs: u64 = dump
        .lines()
        .find_map(|l| l.strip_prefix("Block size:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap();
    let maps: Vec<u64> = dump
        .lines()
        .filter_map(|l| l.trim().strip_prefix("Block bitmap at "))
        .filter_map(|r| r.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok())
        .collect();
    assert!(!maps.is_empty());
    let mut bytes = std::fs::read(&img).unwrap();
    for &b in &maps {
        bytes[(b * bs) as usize..((b + 1) * bs) as usize].fill(0xFF);
    }
    std::fs::write(&img, &bytes).unwrap();

    let case = p.join("case");
    let arts = one_shot_ls("recover", &img, None, &case, 0, &[]);
    let carved: Vec<_> = arts
        .iter()
        .filter(|a| a["sha256"] == sha256(&photo).as_str())
        .filter(|a| {
            a["forensic_path"]
                .as_str()
                .is_some_and(|f| f.contains("/png"))
        })
        .collect();
    assert_eq!(carved.len(), 1, "the deleted photo carved once: {arts:#?}");
    let said: Vec<String> = findings(&case)
        .into_iter()
        .filter(|f| f.contains("block bitmap fails its checksum"))
        .collect();
    assert_eq!(said.len(), maps.len(), "one finding per bitmap: {said:?}");
}
