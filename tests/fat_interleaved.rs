//! Deleted files whose clusters interleave (issue 14): the classic undelete
//! test where file A's second cluster lies after file B's first. The stick is
//! made by mkfs.fat and mcopy, then its clusters laid out as two files written
//! at once leave them (A B A B …, and A A B B A A B B …) and both deleted as
//! a FAT driver deletes (0xE5, chains cleared in both FATs). dredge must
//! return every deleted file bit-exact; tsk_recover, which guesses each file
//! alone (contiguous from its start), returns them wrong, side by side.

mod common;

use common::*;
use std::collections::BTreeSet;

fn le16(b: &[u8], at: usize) -> usize {
    usize::from(u16::from_le_bytes([b[at], b[at + 1]]))
}

struct Layout {
    fat1: usize,
    fat2: usize,
    root: usize,
    data: usize,
    cs: usize,
}

fn layout(b: &[u8]) -> Layout {
    let bps = le16(b, 11);
    let fat1 = le16(b, 14) * bps;
    let fat_size = le16(b, 22) * bps;
    let root = fat1 + 2 * fat_size;
    Layout {
        fat1,
        fat2: fat1 + fat_size,
        root,
        data: root + le16(b, 17) * 32,
        cs: bps * usize::from(b[13]),
    }
}

impl Layout {
    fn entry(&self, b: &[u8], short: &str) -> usize {
        (self.root..self.data)
            .step_by(32)
            .find(|&o| b[o..o + 11] == *short.as_bytes())
            .unwrap_or_else(|| panic!("no entry {short}"))
    }

    fn cluster(&self, c: usize) -> usize {
        self.data + (c - 2) * self.cs
    }

    fn set_link(&self, b: &mut [u8], c: usize, v: u16) {
        for fat in [self.fat1, self.fat2] {
            b[fat + 2 * c..fat + 2 * c + 2].copy_from_slice(&v.to_le_bytes());
        }
    }
}

/// Lays `files` (8.3 names, contents of equal cluster counts) out
/// interleaved in runs of `run` clusters from the first one's start, points
/// each entry at its first run, and deletes them all: returns their contents.
fn interleave_and_delete(b: &mut [u8], l: &Layout, names: &[&str], run: usize) -> Vec<Vec<u8>> {
    let entries: Vec<usize> = names.iter().map(|n| l.entry(b, n)).collect();
    let start = entries.iter().map(|&e| le16(b, e + 26)).min().unwrap();
    let contents: Vec<Vec<u8>> = entries
        .iter()
        .map(|&e| {
            let (c, size) = (le16(b, e + 26), le16(b, e + 28));
            b[l.cluster(c)..l.cluster(c) + size].to_vec()
        })
        .collect();
    let per = contents[0].len().div_ceil(l.cs);
    let total = per * names.len();
    // Clear the area, then write run after run in turn.
    let area = l.cluster(start)..l.cluster(start + total);
    b[area].fill(0);
    for (k, content) in contents.iter().enumerate() {
        assert_eq!(content.len().div_ceil(l.cs), per);
        for (i, chunk) in content.chunks(l.cs).enumerate() {
            let c = start + (i / run) * run * names.len() + k * run + i % run;
            b[l.cluster(c)..l.cluster(c) + chunk.len()].copy_from_slice(chunk);
        }
        let first = start + k * run;
        b[entries[k] + 26..entries[k] + 28].copy_from_slice(&(first as u16).to_le_bytes());
        // Deleted: the first byte 0xE5, the chain cleared.
        b[entries[k]] = 0xE5;
    }
    for c in start..start + total {
        l.set_link(b, c, 0);
    }
    contents
}

/// A 16 MiB FAT16 stick made by mkfs.fat, holding `files` (name, length,
/// noise seed) in its root as NAME.BIN, written by mcopy: its bytes.
fn stick(dir: &std::path::Path, files: &[(&str, usize, u64)]) -> Vec<u8> {
    let img = dir.join("stick.img");
    std::fs::File::create(&img)
        .unwrap()
        .set_len(16 << 20)
        .unwrap();
    assert!(sh(&format!("mkfs.fat -F 16 {} >/dev/null", img.display())));
    for (n, len, seed) in files {
        let src = dir.join(n);
        std::fs::write(&src, noise(*len, *seed)).unwrap();
        assert!(sh(&format!(
            "mcopy -i {} {} ::{n}.BIN",
            img.display(),
            src.display()
        )));
    }
    std::fs::read(&img).unwrap()
}

#[test]
fn interleaved_deleted_files_come_back_whole_where_tsk_guesses_each_alone() {
    if !tools(&["mkfs.fat", "mcopy", "tsk_recover"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // Three pairs: A/B (3 clusters each, alternating), C/D (4 each, in runs
    // of 2), and E (contiguous, alone) to show a lone file is unchanged.
    let mut b = stick(
        dir.path(),
        &[
            ("A", 5000, 40),
            ("B", 5500, 41),
            ("C", 7000, 42),
            ("D", 7500, 43),
            ("E", 9000, 44),
        ],
    );
    let l = layout(&b);
    let mut deleted = interleave_and_delete(&mut b, &l, &["A       BIN", "B       BIN"], 1);
    deleted.extend(interleave_and_delete(
        &mut b,
        &l,
        &["C       BIN", "D       BIN"],
        2,
    ));
    let e = l.entry(&b, "E       BIN");
    b[e] = 0xE5;
    for c in le16(&b, e + 26)..le16(&b, e + 26) + 5 {
        l.set_link(&mut b, c, 0);
    }
    deleted.push(noise(9000, 44));
    let bad = dir.path().join("deleted.img");
    std::fs::write(&bad, &b).unwrap();

    let case = dir.path().join("case");
    let arts = one_shot_ls("recover", &bad, None, &case, 0, &[]);
    let got: BTreeSet<String> = arts
        .iter()
        .filter(|a| a["kind"] == "file" && a["deleted"] == true)
        .filter_map(|a| a["sha256"].as_str().map(str::to_string))
        .collect();
    for (i, content) in deleted.iter().enumerate() {
        assert!(
            got.contains(&sha256(content)),
            "deleted file {i} not bit-exact"
        );
    }
    // The reasoning is on the artifacts.
    let interleaved = arts
        .iter()
        .filter(|a| {
            a["recovery_detail"]
                .as_str()
                .is_some_and(|d| d.contains("interleaved"))
        })
        .count();
    assert_eq!(interleaved, 4, "{arts:#?}");
    // tsk_recover guesses each file alone: the four interleaved ones wrong.
    let tsk = tsk_recovered(&bad, &dir.path().join("tsk"));
    for content in &deleted[..4] {
        assert!(!tsk.contains(&sha256(content)), "tsk_recover got one right");
    }
    assert!(
        tsk.contains(&sha256(&deleted[4])),
        "tsk_recover lost the lone file"
    );
}

#[test]
fn the_one_at_a_time_guess_stands_where_files_do_not_meet() {
    if !tools(&["mkfs.fat", "mcopy"]) {
        return;
    }
    // Two small deleted files that each fit before the next begins: the
    // contiguous guess, no joint reasoning.
    let dir = tempfile::tempdir().unwrap();
    let mut b = stick(dir.path(), &[("P", 4000, 60), ("Q", 4000, 61)]);
    let l = layout(&b);
    for n in ["P       BIN", "Q       BIN"] {
        let e = l.entry(&b, n);
        b[e] = 0xE5;
        let c = le16(&b, e + 26);
        l.set_link(&mut b, c, 0);
        l.set_link(&mut b, c + 1, 0);
    }
    let bad = dir.path().join("deleted.img");
    std::fs::write(&bad, &b).unwrap();
    let arts = one_shot_ls("recover", &bad, None, &dir.path().join("case"), 0, &[]);
    let deleted: Vec<&serde_json::Value> = arts
        .iter()
        .filter(|a| a["kind"] == "file" && a["deleted"] == true)
        .collect();
    assert_eq!(deleted.len(), 2);
    for (i, a) in deleted.iter().enumerate() {
        assert_eq!(a["sha256"], sha256(&noise(4000, 60 + i as u64)));
        assert!(
            !a["recovery_detail"]
                .as_str()
                .unwrap_or("")
                .contains("interleaved"),
            "{a}"
        );
    }
}
