//! APFS (issue 15): dfvfs's `apfs.raw`, made by macOS (Apache-2.0,
//! testimages/external/dfvfs/SOURCES.md), recovered by `dredge recover`. Two
//! readers that share no code with dredge are the oracles: The Sleuth Kit
//! (`pstat` finds the volume superblock, `fls -P apfs` lists, `icat` reads)
//! and libfsapfs (`fsapfsinfo -H`). Then the container's newest checkpoint
//! is destroyed (block 0 and every superblock copy of the newest
//! transaction, found by scanning, not by number): every file still comes
//! back through the older checkpoint, with a finding, and TSK is measured on
//! the same damaged image.

mod common;

use common::*;
use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

fn unpack(dir: &Path) -> std::path::PathBuf {
    dfvfs(dir, "apfs.raw")
}

fn out(cmd: &mut Command) -> String {
    String::from_utf8_lossy(&cmd.output().unwrap().stdout).into_owned()
}

/// The volume superblock's block, as TSK's `pstat` reports it.
fn apsb_block(img: &Path) -> Option<String> {
    out(Command::new("pstat").arg(img)).lines().find_map(|l| {
        l.trim_start_matches(['|', ' '])
            .strip_prefix("APSB Block Number: ")
            .map(str::to_string)
    })
}

/// The name of a file stream (`path:attribute`) or `None` for the file itself.
fn stream(path: &str) -> Option<&str> {
    path.rsplit('/')
        .next()
        .unwrap_or("")
        .split_once(':')
        .map(|x| x.1)
}

/// Our paths of files and directories (not attribute streams, not the
/// private directory), less the volume's name.
fn our_paths(arts: &[serde_json::Value], vol: &str) -> BTreeSet<String> {
    arts.iter()
        .filter_map(|a| a["path"].as_str())
        .filter(|p| stream(p).is_none() && !p.contains("/$private-dir"))
        .map(|p| {
            p.strip_prefix(vol)
                .unwrap_or_else(|| panic!("{p} not under {vol}"))
                .to_string()
        })
        .collect()
}

#[test]
fn apfs_files_match_the_sleuth_kit_and_libfsapfs() {
    if !tools(&["gzip", "pstat", "fls", "icat", "fsapfsinfo"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let img = unpack(dir.path());
    let case = dir.path().join("case");
    let arts = one_shot_ls("recover", &img, None, &case, 0, &[]);
    let show = stdout(&run(&["case", "show", case.to_str().unwrap()]));
    assert!(show.contains("apfs \"apfs_test\""), "{show}");
    let ours = our_paths(&arts, "/apfs_test");

    let b = apsb_block(&img).expect("pstat names the volume superblock");
    let fls = out(Command::new("fls")
        .args(["-r", "-p", "-P", "apfs", "-B", &b])
        .arg(&img));
    let tsk: BTreeSet<String> = fls
        .lines()
        .filter_map(|l| l.split_once(":\t").map(|(_, p)| format!("/{p}")))
        .collect();
    assert_eq!(ours, tsk);
    let lib: BTreeSet<String> = out(Command::new("fsapfsinfo").arg("-H").arg(&img))
        .lines()
        .filter(|l| l.starts_with("/{"))
        .filter_map(|l| l.split_once("}").map(|x| x.1.to_string()))
        .filter(|p| p.len() > 1)
        .collect();
    assert_eq!(ours, lib);

    // Content: every data stream as icat reads it.
    let mut files = 0;
    for a in &arts {
        let p = a["path"].as_str().unwrap();
        let (Some(x), None) = (a["extracted"].as_str(), stream(p)) else {
            continue;
        };
        let fp = a["forensic_path"].as_str().unwrap();
        let id: u64 = fp.rsplit_once(':').unwrap().1.parse().unwrap();
        let ino = (id & ((1 << 40) - 1)).to_string();
        let want = Command::new("icat")
            .args(["-P", "apfs", "-B", &b])
            .arg(&img)
            .arg(&ino)
            .output()
            .unwrap()
            .stdout;
        let got = std::fs::read(case.join(x)).unwrap();
        assert!(got == want, "{p} differs from icat {ino}");
        files += 1;
    }
    assert!(files >= 6, "{files}");
    // Modification times, to the second, as TSK's body file has them.
    let body = out(Command::new("fls")
        .args(["-r", "-m", "/", "-P", "apfs", "-B", &b])
        .arg(&img));
    let by = |p: &str| {
        arts.iter()
            .find(|a| a["path"] == p)
            .unwrap_or_else(|| panic!("{p}"))
    };
    for l in body.lines() {
        let f: Vec<&str> = l.split('|').collect();
        let name = f[1].split(" -> ").next().unwrap();
        let a = by(&format!("/apfs_test{name}"));
        let m = a["times"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["source"] == "apfs.modify")
            .unwrap();
        let secs = m["utc"].as_str().unwrap().to_string();
        let tsk_secs: i64 = f[8].parse().unwrap();
        assert!(
            secs.starts_with(&utc_seconds(tsk_secs)),
            "{} {secs} vs {tsk_secs}",
            f[1]
        );
    }
    // What the generating script wrote.
    let read = |p: &str| std::fs::read(case.join(by(p)["extracted"].as_str().unwrap())).unwrap();
    assert_eq!(
        read("/apfs_test/a_directory/a_resourcefork:rsrc"),
        b"My resource fork\n"
    );
    assert_eq!(
        read("/apfs_test/a_directory/a_file:myxattr"),
        b"My extended attribute"
    );
    assert_eq!(by("/apfs_test/a_link")["kind"], "symlink");
    assert_eq!(by("/apfs_test/passwords.txt")["size"], 116);
    assert!(run(&["verify", case.to_str().unwrap()]).status.success());
}

#[test]
fn with_the_newest_checkpoint_destroyed_the_older_one_gives_every_file_back() {
    if !tools(&["gzip", "pstat", "fls"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let img = unpack(dir.path());
    let good = one_shot_ls("recover", &img, None, &dir.path().join("good"), 0, &[]);
    let intact = std::fs::read(&img).unwrap();
    let bs = 4096;
    let xid = |b: &[u8]| u64::from_le_bytes(b[16..24].try_into().unwrap());
    let copies: Vec<usize> = (0..intact.len() / bs)
        .filter(|n| &intact[n * bs + 32..n * bs + 36] == b"NXSB")
        .collect();
    let newest = copies
        .iter()
        .map(|&n| xid(&intact[n * bs..]))
        .max()
        .unwrap();
    // Every container superblock copy of the newest transaction zeroed, then
    // overwritten with other bytes (a destroyed block 0 is not always a wiped
    // one: the probe then knows the container by its descriptor ring).
    let mut bad = dir.path().join("damaged.raw");
    for (round, zeros) in [true, false].into_iter().enumerate() {
        let mut d = intact.clone();
        let mut destroyed = 0;
        for &n in &copies {
            if xid(&d[n * bs..]) == newest {
                let with = if zeros {
                    vec![0; bs]
                } else {
                    noise(bs, n as u64)
                };
                d[n * bs..(n + 1) * bs].copy_from_slice(&with);
                destroyed += 1;
            }
        }
        assert!(destroyed >= 2 && copies.contains(&0), "{copies:?}");
        bad = dir.path().join(format!("damaged{round}.raw"));
        std::fs::write(&bad, &d).unwrap();
        let case = dir.path().join(format!("case{round}"));
        let arts = one_shot_ls("recover", &bad, None, &case, 0, &[]);
        let f = findings(&case);
        assert!(f.iter().any(|x| x.contains("block 0 damaged")), "{f:?}");
        assert!(
            f.iter()
                .any(|x| x.contains(&format!("transaction {}", newest - 1))),
            "{f:?}"
        );
        assert_eq!(hashes(&arts), hashes(&good), "zeros: {zeros}");
        assert!(hashes(&arts).len() >= 8);
    }
    // TSK on the same damaged image.
    let tsk = out(Command::new("pstat").arg(&bad));
    eprintln!(
        "TSK pstat on the damaged container: {}",
        if tsk.contains("APSB Block Number") {
            "finds the volume"
        } else {
            "finds no container"
        }
    );
}

/// `testimages/apfs-delete.py IMG passwords.txt OUT ARGS…`: the deleted
/// file's inode number and the newest transaction.
fn delete_passwords(img: &Path, out: &Path, args: &[&str]) -> (String, u64) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("testimages/apfs-delete.py");
    let o = Command::new("python3")
        .arg(&script)
        .args([img.as_os_str(), "passwords.txt".as_ref(), out.as_os_str()])
        .args(args)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let said = String::from_utf8_lossy(&o.stdout);
    let (ino, newest) = said.trim().split_once(' ').unwrap();
    (ino.to_string(), newest.parse().unwrap())
}

/// The one deleted `/apfs_test/passwords.txt` of `arts`, with the content it
/// had in `good`.
fn one_deleted_passwords<'a>(
    arts: &'a [serde_json::Value],
    good: &[serde_json::Value],
) -> &'a serde_json::Value {
    let p = "/apfs_test/passwords.txt";
    let was = good.iter().find(|a| a["path"] == p).unwrap();
    let now: Vec<_> = arts.iter().filter(|a| a["path"] == p).collect();
    assert_eq!(now.len(), 1, "{now:?}");
    let now = now[0];
    assert_eq!(now["deleted"], true, "{now}");
    assert_eq!(now["sha256"], was["sha256"]);
    now
}

#[test]
fn a_file_deleted_in_the_newest_transaction_comes_back_from_the_older_checkpoint() {
    if !tools(&["gzip", "python3", "fls", "pstat"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let img = unpack(dir.path());
    let good = one_shot_ls("recover", &img, None, &dir.path().join("good"), 0, &[]);
    let del = dir.path().join("deleted.raw");
    let (ino, newest) = delete_passwords(&img, &del, &[]);
    let case = dir.path().join("case");
    let arts = one_shot_ls("recover", &del, None, &case, 0, &[]);
    let p = "/apfs_test/passwords.txt";
    let now = one_deleted_passwords(&arts, &good);
    assert_eq!(now["size"], 116);
    let detail = now.to_string();
    let older = (1..newest).any(|x| detail.contains(&format!("checkpoint transaction {x}")));
    assert!(older, "the transaction it came from: {detail}");
    let fp = now["forensic_path"].as_str().unwrap();
    let id: u64 = fp.rsplit_once(':').unwrap().1.parse().unwrap();
    assert_eq!((id & ((1 << 40) - 1)).to_string(), ino);
    // Everything else is as it was, allocated.
    let mut rest = hashes(&good);
    rest.remove(p);
    let mut ours = hashes(&arts);
    ours.remove(p);
    assert_eq!(ours, rest);
    let f = findings(&case);
    assert!(f.iter().any(|x| x.contains("older checkpoints")), "{f:?}");
    // TSK, on the same image, reads the current tree only.
    let b = apsb_block(&del).unwrap();
    let fls = out(Command::new("fls")
        .args(["-r", "-p", "-d", "-P", "apfs", "-B", &b])
        .arg(&del));
    eprintln!("TSK fls -d on the image: {} deleted entries; dredge: passwords.txt back from an older checkpoint", fls.lines().count());
    assert!(run(&["verify", case.to_str().unwrap()]).status.success());
}

#[test]
fn a_file_no_checkpoint_remembers_comes_back_from_its_orphaned_node_in_free_space() {
    if !tools(&["gzip", "python3", "fls", "pstat"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let img = unpack(dir.path());
    let good_case = dir.path().join("good");
    let good = one_shot_ls("recover", &img, None, &good_case, 0, &[]);
    // Nothing the pass found in free space adds a file to the undamaged
    // image: it is read once.
    let (read, size) = pass_bytes(&good_case);
    assert_eq!(read, size, "one pass");
    let del = dir.path().join("forgotten.raw");
    let (ino, newest) = delete_passwords(&img, &del, &["--forget"]);
    let case = dir.path().join("case");
    let arts = one_shot_ls("recover", &del, None, &case, 0, &[]);
    let p = "/apfs_test/passwords.txt";
    let now = one_deleted_passwords(&arts, &good);
    let detail = now.to_string();
    let from = (1..newest).find(|x| {
        detail.contains(&format!(
            "orphaned filesystem-tree node of transaction {x} in free space"
        ))
    });
    assert!(from.is_some(), "the transaction it came from: {detail}");
    assert!(
        detail.contains("deleted-assumed"),
        "its blocks are free: {detail}"
    );
    let fp = now["forensic_path"].as_str().unwrap();
    let id: u64 = fp.rsplit_once(':').unwrap().1.parse().unwrap();
    assert_eq!((id & ((1 << 40) - 1)).to_string(), ino);
    let mut rest = hashes(&good);
    rest.remove(p);
    let mut ours = hashes(&arts);
    ours.remove(p);
    assert_eq!(ours, rest, "nothing else changes");
    let f = findings(&case);
    assert!(
        f.iter()
            .any(|x| x.contains("orphaned filesystem-tree nodes")),
        "{f:?}"
    );
    assert!(
        !f.iter()
            .any(|x| x.contains("from the trees of older checkpoints")),
        "the ring forgot them: {f:?}"
    );
    // The file's content was unknown before the pass: its blocks alone are
    // read after it, not the image again.
    let (read, size) = pass_bytes(&case);
    assert_eq!(read, size, "one pass");
    let b = apsb_block(&del).unwrap();
    let fls = out(Command::new("fls")
        .args(["-r", "-p", "-d", "-P", "apfs", "-B", &b])
        .arg(&del));
    assert!(!fls.contains("passwords.txt"), "{fls}");
    eprintln!(
        "TSK fls -d: {} deleted entries; dredge: passwords.txt from an orphaned node",
        fls.lines().count()
    );
    // `list` has no pass: only with --deep does it read the free space and
    // list the file the orphaned node holds.
    let list = |deep: bool| {
        let mut a = vec!["--progress", "none", "list", del.to_str().unwrap()];
        if deep {
            a.push("--deep");
        }
        let o = run(&a);
        assert!(o.status.success(), "{}", stderr(&o));
        stdout(&o)
    };
    let line = |l: &str| l.ends_with(p) && l.contains("* ");
    assert!(!list(false).lines().any(line));
    let deep = list(true);
    assert!(deep.lines().any(line), "{deep}");
    assert!(run(&["verify", case.to_str().unwrap()]).status.success());
}

/// A file changed then deleted: its last version in one orphaned node, the
/// version before (50 bytes long) in another. Both come back, each with its
/// transaction, as versions of their own.
#[test]
fn each_version_orphaned_nodes_hold_of_a_file_comes_back() {
    if !tools(&["gzip", "python3"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let img = unpack(dir.path());
    let del = dir.path().join("versions.raw");
    delete_passwords(&img, &del, &["--forget", "--older-size", "50"]);
    let case = dir.path().join("case");
    let arts = one_shot_ls("recover", &del, None, &case, 0, &[]);
    let p = "/apfs_test/passwords.txt";
    let mut now: Vec<_> = arts.iter().filter(|a| a["path"] == p).collect();
    now.sort_by_key(|a| a["size"].as_u64());
    assert_eq!(now.len(), 2, "{now:?}");
    let whole = std::fs::read(case.join(now[1]["extracted"].as_str().unwrap())).unwrap();
    assert_eq!(whole.len(), 116);
    assert_eq!(now[0]["size"], 50);
    assert_eq!(now[0]["sha256"].as_str().unwrap(), sha256(&whole[..50]));
    let xid = |a: &serde_json::Value| -> u64 {
        let d = a.to_string();
        let at = d.find("node of transaction ").unwrap() + 20;
        d[at..].split(' ').next().unwrap().parse().unwrap()
    };
    assert!(xid(now[0]) < xid(now[1]), "the shorter one is older");
    let tree = |a: &serde_json::Value| -> u64 {
        let fp = a["forensic_path"].as_str().unwrap();
        fp.rsplit_once(':').unwrap().1.parse::<u64>().unwrap() >> 44 & 0xFFF
    };
    assert_ne!(tree(now[0]), tree(now[1]));
    let (read, size) = pass_bytes(&case);
    assert_eq!(read, size, "one pass");
    assert!(run(&["verify", case.to_str().unwrap()]).status.success());
}

#[test]
fn decmpfs_compressed_files_are_decoded_as_tsk_decodes_them_and_a_bad_chunk_costs_that_chunk() {
    if !tools(&["gzip", "python3", "pstat", "icat"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let img = unpack(dir.path());
    let icat = |made: &Path, ino: &str| {
        let b = apsb_block(made).unwrap();
        Command::new("icat")
            .args(["-P", "apfs", "-B", &b])
            .arg(made)
            .arg(ino)
            .output()
            .unwrap()
            .stdout
    };
    decmpfs_cases("apfs", dir.path(), &img, "/apfs_test/passwords.txt", &icat);
}

#[test]
fn a_node_no_volume_takes_is_listed_apart_with_its_file() {
    if !tools(&["gzip", "python3"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let img = unpack(dir.path());
    // A container of two volumes (testimages/apfs-ghost.py lists the one
    // twice) and, in free space, a node whose only file no volume has.
    let ghost = dir.path().join("ghost.raw");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("testimages/apfs-ghost.py");
    let o = Command::new("python3")
        .arg(&script)
        .args([img.as_os_str(), ghost.as_os_str()])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let case = dir.path().join("case");
    let arts = one_shot_ls("recover", &ghost, None, &case, 0, &[]);
    let text = "nothing says which volume this file was on\n".repeat(20);
    let found: Vec<_> = arts
        .iter()
        .filter(|a| a["path"].as_str().unwrap().ends_with("/ghost.txt"))
        .collect();
    assert_eq!(found.len(), 1, "{found:?}");
    let g = found[0];
    assert!(
        g["path"]
            .as_str()
            .unwrap()
            .starts_with("/$OrphanFiles/apfs-volume-unknown/"),
        "{g}"
    );
    assert_eq!(g["deleted"], true, "{g}");
    assert_eq!(
        g["sha256"].as_str(),
        Some(sha256(text.as_bytes()).as_str()),
        "{g}"
    );
    let f = findings(&case).join("\n");
    assert!(
        f.contains("listed under /$OrphanFiles/apfs-volume-unknown"),
        "{f}"
    );
}
