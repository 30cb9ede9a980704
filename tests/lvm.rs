//! Linux LVM: volume groups made here by LVM's own tools (pvcreate, vgcreate,
//! lvcreate, lvextend, lvremove, run with activation off: this machine has no
//! device-mapper), filesystems written into the logical volumes where `lvs`
//! says their extents lie. The files dredge recovers must equal the ones put
//! in: from each logical volume, from the first piece of one extended into a
//! second, from a volume `lvremove` removed (its description survives in an
//! older metadata generation), and from a volume group inside an opened LUKS2
//! volume, the way a Linux installer's "encrypted LVM" leaves a disk.
//! Needs lvm2, mkfs.ext4, mkfs.fat, mcopy, sfdisk, losetup and cryptsetup;
//! skipped without them unless DREDGE_REQUIRE_TOOLS=1.

mod common;

use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;

const MIB: u64 = 1 << 20;

/// LVM's tools confined to one loop device, with their configuration,
/// backups and archives in a folder of the test's (nothing on the host's).
struct Lvm {
    sys: PathBuf,
    dev: String,
}

impl Lvm {
    /// `file`'s bytes from `offset`, `len` long, as a loop device for LVM.
    fn on(dir: &Path, file: &Path, offset: u64, len: u64) -> Lvm {
        let sys = dir.join("lvm-sys");
        std::fs::create_dir_all(&sys).unwrap();
        std::fs::write(
            sys.join("lvm.conf"),
            "backup { backup = 0 archive = 0 }\n\
             devices { use_devicesfile = 0 obtain_device_list_from_udev = 0 }\n\
             activation { udev_sync = 0 udev_rules = 0 }\n",
        )
        .unwrap();
        let o = Command::new("losetup")
            .args(["-f", "--show", "-o", &offset.to_string()])
            .args(["--sizelimit", &len.to_string()])
            .arg(file)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let dev = String::from_utf8_lossy(&o.stdout).trim().to_string();
        Lvm { sys, dev }
    }

    /// An LVM command (`pvcreate`, `lvs`, …) seeing only this loop device.
    fn run(&self, cmd: &str, args: &[&str]) -> String {
        let filter = format!("devices{{filter=[\"a|^{}$|\",\"r|.*|\"]}}", self.dev);
        let o = Command::new(cmd)
            .env("LVM_SYSTEM_DIR", &self.sys)
            .env("LVM_SUPPRESS_FD_WARNINGS", "1")
            .args(["--driverloaded", "n", "--config", &filter])
            .args(args)
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "{cmd} {args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    /// Byte offset of the first extent from the physical volume's start.
    fn pe_start(&self) -> u64 {
        let o = self.run(
            "pvs",
            &[
                "--noheadings",
                "--units",
                "b",
                "--nosuffix",
                "-o",
                "pe_start",
                &self.dev,
            ],
        );
        o.trim().parse().unwrap()
    }

    /// Each logical volume's physical extent ranges, in its order, as `lvs`
    /// reports them: name -> [(first, last)].
    fn extents(&self, vg: &str) -> std::collections::BTreeMap<String, Vec<(u64, u64)>> {
        let o = self.run(
            "lvs",
            &[
                "--noheadings",
                "--separator",
                ";",
                "-o",
                "lv_name,seg_start_pe,seg_pe_ranges",
                vg,
            ],
        );
        let mut segs: Vec<(String, u64, u64, u64)> = o
            .lines()
            .filter_map(|l| {
                let f: Vec<&str> = l.trim().split(';').collect();
                let (_, range) = f.get(2)?.rsplit_once(':')?;
                let (a, b) = range.split_once('-')?;
                Some((
                    f[0].to_string(),
                    f[1].parse().ok()?,
                    a.parse().ok()?,
                    b.parse().ok()?,
                ))
            })
            .collect();
        segs.sort();
        let mut out = std::collections::BTreeMap::<String, Vec<(u64, u64)>>::new();
        for (n, _, a, b) in segs {
            out.entry(n).or_default().push((a, b));
        }
        out
    }
}

impl Drop for Lvm {
    fn drop(&mut self) {
        sh(&format!("losetup -d {}", self.dev));
    }
}

/// An ext4 (or, with `fat`, FAT) filesystem image of `mib` MiB holding
/// `files` made from `tag`.
fn filesystem(
    dir: &Path,
    tag: &str,
    mib: u64,
    fat: bool,
    seed: u64,
) -> (Vec<u8>, Vec<(String, Vec<u8>)>) {
    let content = dir.join(format!("{tag}-content"));
    let f = exhibit_files(
        &content,
        &format!("{tag}-"),
        300_000 + seed as usize * 517,
        3000,
        seed,
    );
    let img = dir.join(format!("{tag}.fs"));
    if fat {
        blank(&img, mib * MIB);
        assert!(sh(&format!("mkfs.fat {} >/dev/null", img.display())));
        for (n, _) in &f {
            assert!(sh(&format!(
                "mcopy -i {} {} ::/{n}",
                img.display(),
                content.join(n).display()
            )));
        }
    } else {
        assert!(sh(&format!(
            "mkfs.ext4 -q -F -b 1024 -d {} {} {mib}M",
            content.display(),
            img.display()
        )));
    }
    (std::fs::read(&img).unwrap(), f)
}

/// A new file of `len` bytes of zeros.
fn blank(path: &Path, len: u64) {
    std::fs::File::create(path).unwrap().set_len(len).unwrap();
}

/// Encrypts `file` in place as LUKS2 (AES-XTS, a fast PBKDF2) with the
/// passphrase in `pass`.
fn encrypt(file: &Path, pass: &Path) {
    luks2_encrypt_in_place(
        file,
        ("aes-xts-plain64", "512", "512"),
        pass,
        &["--pbkdf", "pbkdf2", "--pbkdf-force-iterations", "1000"],
    );
}

fn write_at(file: &Path, at: u64, bytes: &[u8]) {
    use std::io::{Seek, SeekFrom, Write};
    let mut f = std::fs::OpenOptions::new().write(true).open(file).unwrap();
    f.seek(SeekFrom::Start(at)).unwrap();
    f.write_all(bytes).unwrap();
}

/// A text no filesystem holds, written into free extents.
const FREE_TEXT: &str = "written into the free extents of the volume group, line";

/// What a made volume group holds.
struct Made {
    /// Every file put in, with its content.
    files: Vec<(String, Vec<u8>)>,
    /// The files of the removed logical volume.
    removed: Vec<String>,
    /// Where `lvs` put each logical volume's first extent, from the physical
    /// volume's start, in bytes; and how many pieces it has.
    starts: std::collections::BTreeMap<String, (u64, usize)>,
}

/// Makes volume group `vg` on the physical volume at `offset` of `file`
/// (`len` bytes): `root` (ext4), `home` (ext4, then extended by lvextend
/// into a second piece past `data`), `data` (FAT), and `old` (ext4), which
/// is then removed; text in free extents past them all.
fn volume_group(dir: &Path, file: &Path, offset: u64, len: u64, vg: &str) -> Made {
    let lvm = Lvm::on(dir, file, offset, len);
    lvm.run("pvcreate", &[&lvm.dev]);
    lvm.run("vgcreate", &["-s", "1M", vg, &lvm.dev]);
    for (lv, mib) in [("root", 16), ("home", 8), ("data", 8)] {
        lvm.run(
            "lvcreate",
            &["-an", "-Zn", "-L", &format!("{mib}M"), "-n", lv, vg],
        );
    }
    lvm.run("lvextend", &["-L", "+4M", &format!("{vg}/home")]);
    lvm.run("lvcreate", &["-an", "-Zn", "-L", "8M", "-n", "old", vg]);
    let pe_start = lvm.pe_start();
    let ext = lvm.extents(vg);
    assert_eq!(
        ext["home"].len(),
        2,
        "lvextend put home in one piece: {ext:?}"
    );
    let mut made = Made {
        files: Vec::new(),
        removed: Vec::new(),
        starts: Default::default(),
    };
    // home's filesystem fills its first piece: lvextend without resize2fs.
    for (i, (lv, mib, fat)) in [
        ("root", 16, false),
        ("home", 8, false),
        ("data", 8, true),
        ("old", 8, false),
    ]
    .into_iter()
    .enumerate()
    {
        let (fs, f) = filesystem(dir, &format!("{vg}-{lv}"), mib, fat, i as u64 + 1);
        let at = offset + pe_start + ext[lv][0].0 * MIB;
        write_at(file, at, &fs);
        if lv == "old" {
            made.removed.extend(f.iter().map(|(n, _)| n.clone()));
        }
        made.files.extend(f);
        made.starts.insert(
            lv.to_string(),
            (pe_start + ext[lv][0].0 * MIB, ext[lv].len()),
        );
    }
    lvm.run("lvremove", &["-y", &format!("{vg}/old")]);
    // Free extents: after every volume (old's extents were the last used).
    let free = offset + pe_start + (ext["old"][0].1 + 2) * MIB;
    let text: String = (0..400).map(|i| format!("{FREE_TEXT} {i}\n")).collect();
    write_at(file, free, text.as_bytes());
    made
}

/// The case's volumes: (kind, start, description).
fn volumes(case: &Path) -> Vec<(String, u64, String)> {
    let c = rusqlite::Connection::open(case.join("case.sqlite")).unwrap();
    let mut st = c
        .prepare("SELECT kind, start, description FROM volumes ORDER BY idx")
        .unwrap();
    st.query_map([], |r| {
        Ok((r.get(0)?, r.get::<_, i64>(1)? as u64, r.get(2)?))
    })
    .unwrap()
    .map(Result::unwrap)
    .collect()
}

fn lvm_tools() -> bool {
    tools(&[
        "pvcreate",
        "lvcreate",
        "mkfs.ext4",
        "mkfs.fat",
        "mcopy",
        "sfdisk",
        "losetup",
    ])
}

#[test]
fn logical_volumes_are_volumes_and_their_files_come_back_bit_exact() {
    if !lvm_tools() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("disk.img");
    blank(&img, 96 * MIB);
    assert!(sh(&format!(
        "echo 'start=2048, type=8e' | sfdisk -q {}",
        img.display()
    )));
    let part = MIB;
    let made = volume_group(dir.path(), &img, part, 95 * MIB, "vgcase");
    let case = dir.path().join("case");
    let arts = one_shot_ls("recover", &img, None, &case, 0, &[]);
    let got = hashes(&arts);
    for (n, b) in &made.files {
        assert_eq!(
            got.get(&format!("/{n}")),
            Some(&sha256(b)),
            "{n} not back bit-exact: {got:?}"
        );
    }
    // Each live volume where lvs put it, named; the removed one recovered.
    let vols = volumes(&case);
    for (lv, (start, pieces)) in &made.starts {
        let v = vols
            .iter()
            .find(|v| v.2.contains(&format!("vgcase/{lv}")))
            .unwrap_or_else(|| panic!("no volume for {lv}: {vols:?}"));
        assert_eq!(v.1, part + start, "{lv}: {v:?}");
        let kind = if lv == "old" { "recovered" } else { "logical" };
        assert_eq!(v.0, kind, "{lv}: {v:?}");
        assert_eq!(v.2.contains("piece 1 of 2"), *pieces == 2, "{v:?}");
    }
    let f = findings(&case);
    assert!(
        f.iter().any(|w| w.contains("vgcase/old was removed")),
        "{f:?}"
    );
    assert!(
        f.iter().any(|w| w.contains("vgcase/home lies in 2 pieces")),
        "{f:?}"
    );
    // The removed volume's files are marked as coming from it.
    for n in &made.removed {
        let a = arts.iter().find(|a| a["path"] == format!("/{n}")).unwrap();
        let vol = a["volume"].as_u64().or_else(|| {
            a["id"]
                .as_str()
                .and_then(|i| i.split('/').nth(1))
                .and_then(|v| v.trim_start_matches('v').parse().ok())
        });
        let v = &vols[vol.unwrap() as usize];
        assert!(v.2.contains("removed"), "{n}: {v:?}");
    }
    // Free extents are carved; no filesystem's file is carved again.
    let carved: Vec<&serde_json::Value> = arts
        .iter()
        .filter(|a| {
            a["recovery"]
                .as_str()
                .is_some_and(|r| r.starts_with("carved"))
        })
        .collect();
    let text_of = |a: &serde_json::Value| {
        std::fs::read(case.join(a["extracted"].as_str().unwrap_or(""))).unwrap_or_default()
    };
    assert!(
        carved
            .iter()
            .any(|a| String::from_utf8_lossy(&text_of(a)).contains(FREE_TEXT)),
        "the free extents' text was not carved: {carved:?}"
    );
    assert!(
        carved
            .iter()
            .all(|a| !String::from_utf8_lossy(&text_of(a)).contains("line 7 of exhibit")),
        "a filesystem's file was carved"
    );
    // The Sleuth Kit, on the same image, in the same run.
    let tsk = tsk_recovered(&img, &dir.path().join("tsk"));
    let ours: std::collections::BTreeSet<&String> = got.values().collect();
    assert!(
        tsk.iter().all(|h| ours.contains(h)),
        "tsk_recover found files dredge did not"
    );
    eprintln!(
        "LVM image: dredge {} files, tsk_recover {} files",
        got.len(),
        tsk.len()
    );
    assert!(run(&["verify", case.to_str().unwrap()]).status.success());
}

#[test]
fn a_volume_group_inside_luks2_opens_with_the_key() {
    if !lvm_tools() || !tools(&["cryptsetup"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // The physical volume, then encrypted in place (reencrypt takes its last
    // 16 MiB for the header, which the volumes leave free).
    let pv = dir.path().join("pv.img");
    blank(&pv, 80 * MIB);
    let made = volume_group(dir.path(), &pv, 0, 80 * MIB, "vgcrypt");
    let pass = dir.path().join("pass");
    std::fs::write(&pass, "lvm-on-luks").unwrap();
    encrypt(&pv, &pass);
    let img = dir.path().join("disk.img");
    blank(&img, 82 * MIB);
    assert!(sh(&format!(
        "echo 'start=2048, size=163840, type=83' | sfdisk -q {}",
        img.display()
    )));
    write_at(&img, MIB, &std::fs::read(&pv).unwrap());
    // Without the key: the encrypted volume, nothing of LVM.
    let locked = dir.path().join("locked");
    let arts = one_shot_ls("recover", &img, None, &locked, 0, &[]);
    assert!(hashes(&arts).is_empty());
    assert!(volumes(&locked).iter().all(|v| !v.2.contains("LVM")));
    let case = dir.path().join("case");
    let spec = format!("password-file={}", pass.display());
    let arts = one_shot_ls("recover", &img, None, &case, 0, &["--key", &spec]);
    let got = hashes(&arts);
    for (n, b) in &made.files {
        assert_eq!(got.get(&format!("/{n}")), Some(&sha256(b)), "{n}: {got:?}");
    }
    let vols = volumes(&case);
    let root = vols
        .iter()
        .find(|v| v.2.contains("vgcrypt/root"))
        .unwrap_or_else(|| panic!("{vols:?}"));
    assert_eq!(root.0, "decrypted", "{root:?}");
    assert!(run(&["verify", case.to_str().unwrap()]).status.success());
}

#[test]
fn a_luks2_volume_inside_a_logical_volume_opens_with_the_key() {
    if !lvm_tools() || !tools(&["cryptsetup"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("disk.img");
    blank(&img, 64 * MIB);
    let lvm = Lvm::on(dir.path(), &img, 0, 64 * MIB);
    lvm.run("pvcreate", &[&lvm.dev]);
    lvm.run("vgcreate", &["-s", "1M", "vgsec", &lvm.dev]);
    lvm.run(
        "lvcreate",
        &["-an", "-Zn", "-L", "4M", "-n", "swap", "vgsec"],
    );
    lvm.run(
        "lvcreate",
        &["-an", "-Zn", "-L", "40M", "-n", "secret", "vgsec"],
    );
    let at = lvm.pe_start() + lvm.extents("vgsec")["secret"][0].0 * MIB;
    drop(lvm);
    // An ext4 filesystem encrypted in place, as on a whole disk.
    let (fs, made) = filesystem(dir.path(), "secret", 20, false, 11);
    let lv = dir.path().join("lv.img");
    blank(&lv, 40 * MIB);
    write_at(&lv, 0, &fs);
    let pass = dir.path().join("pass");
    std::fs::write(&pass, "per-volume").unwrap();
    encrypt(&lv, &pass);
    write_at(&img, at, &std::fs::read(&lv).unwrap());
    let case = dir.path().join("case");
    let spec = format!("password-file={}", pass.display());
    let arts = one_shot_ls("recover", &img, None, &case, 0, &["--key", &spec]);
    let got = hashes(&arts);
    for (n, b) in &made {
        assert_eq!(got.get(&format!("/{n}")), Some(&sha256(b)), "{n}: {got:?}");
    }
    let vols = volumes(&case);
    assert!(
        vols.iter()
            .any(|v| v.0 == "logical" && v.1 == at && v.2.contains("vgsec/secret")),
        "{vols:?}"
    );
    assert!(vols.iter().any(|v| v.0 == "decrypted"), "{vols:?}");
}
