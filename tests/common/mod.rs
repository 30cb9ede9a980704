#![allow(dead_code)]

mod apple;
pub use apple::*;
pub mod cases;
pub mod luks;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub fn dredge() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_dredge"));
    c.stdin(Stdio::null());
    c
}

pub fn run(args: &[&str]) -> Output {
    dredge().args(args).output().expect("run dredge")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Deterministic pseudo-random bytes (the test kit's xorshift), different per seed.
pub fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut r = dredge_testkit::Rng::new(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    (0..len).map(|_| (r.next() >> 24) as u8).collect()
}

pub fn sha256_file(p: &Path) -> String {
    sha256(&std::fs::read(p).unwrap())
}

/// The carved artifact whose file starts at image offset `off`, of format
/// `format` (its forensic path names `@OFF/FORMAT`; "" for any format).
pub fn carved_at<'a>(
    arts: &'a [serde_json::Value],
    off: u64,
    format: &str,
) -> Option<&'a serde_json::Value> {
    let want = format!("@{off:#x}/{format}");
    arts.iter().find(|a| {
        a["forensic_path"]
            .as_str()
            .is_some_and(|p| p.contains(&want))
    })
}

pub use dredge_testkit::sha256;

/// Two files for a filesystem made by its tools, written into `dir`:
/// `{prefix}big.bin` (`big` bytes of noise) and `{prefix}notes.txt` (`lines`
/// numbered lines); name -> content.
pub fn exhibit_files(
    dir: &Path,
    prefix: &str,
    big: usize,
    lines: usize,
    seed: u64,
) -> Vec<(String, Vec<u8>)> {
    let files = vec![
        (format!("{prefix}big.bin"), noise(big, seed)),
        (
            format!("{prefix}notes.txt"),
            (0..lines)
                .map(|i| format!("{prefix}line {i} of exhibit {seed}\n"))
                .collect::<String>()
                .into_bytes(),
        ),
    ];
    std::fs::create_dir_all(dir).unwrap();
    for (n, b) in &files {
        std::fs::write(dir.join(n), b).unwrap();
    }
    files
}

/// Records the SHA-256 of evidence files so a test can prove nothing wrote to them.
pub struct ReadOnlyWitness(Vec<(PathBuf, String)>);

impl ReadOnlyWitness {
    pub fn new(paths: &[&Path]) -> Self {
        ReadOnlyWitness(
            paths
                .iter()
                .map(|p| (p.to_path_buf(), sha256_file(p)))
                .collect(),
        )
    }

    pub fn assert_unchanged(&self) {
        for (p, h) in &self.0 {
            assert_eq!(&sha256_file(p), h, "evidence {} was modified", p.display());
        }
    }
}

fn have(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .stdout(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// True when every tool is installed. When one is missing the test is skipped, unless
/// DREDGE_REQUIRE_TOOLS=1 (as in CI), where a missing tool fails the test.
pub fn tools(names: &[&str]) -> bool {
    let missing: Vec<&str> = names.iter().copied().filter(|t| !have(t)).collect();
    let fuse_ok = !names.contains(&"nbdfuse") || Path::new("/dev/fuse").exists();
    if missing.is_empty() && fuse_ok {
        return true;
    }
    skip(&format!(
        "missing tools {missing:?} (fuse device present: {fuse_ok})"
    ));
    false
}

/// A test that cannot run here says why and is skipped, unless DREDGE_REQUIRE_TOOLS=1
/// (as in CI), where it fails instead.
pub fn skip(reason: &str) {
    if std::env::var("DREDGE_REQUIRE_TOOLS").as_deref() == Ok("1") {
        panic!("{reason}; DREDGE_REQUIRE_TOOLS=1 so this is a failure");
    }
    eprintln!("SKIPPED: {reason}");
}

/// An image served through nbdkit's ddrescue filter and mounted as a file with
/// nbdfuse: reads of the ranges the mapfile does not mark `+` fail with EIO, as a
/// failing drive's would.
pub struct FailingDisk {
    pub mountpoint: PathBuf,
    pub file: PathBuf,
    child: Child,
}

impl FailingDisk {
    /// `extra` are additional nbdkit filter arguments, e.g. a delay.
    pub fn mount(dir: &Path, image: &Path, map: &Path, extra: &[&str]) -> FailingDisk {
        let mountpoint = dir.join(format!(
            "mnt-{}",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        std::fs::create_dir_all(&mountpoint).unwrap();
        let file = mountpoint.join("disk");
        let mut args: Vec<String> = vec![
            file.display().to_string(),
            "--command".into(),
            "nbdkit".into(),
            "-s".into(),
            "--filter=ddrescue".into(),
        ];
        let has_delay = extra.iter().any(|a| a.starts_with("rdelay"));
        if has_delay {
            args.push("--filter=delay".into());
        }
        args.push("file".into());
        args.push(image.display().to_string());
        args.push(format!("ddrescue-mapfile={}", map.display()));
        args.extend(extra.iter().map(|s| s.to_string()));
        let child = Command::new("nbdfuse")
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start nbdfuse");
        let want = std::fs::metadata(image).unwrap().len();
        let t = Instant::now();
        while std::fs::metadata(&file).map(|m| m.len()).ok() != Some(want) {
            assert!(
                t.elapsed() < Duration::from_secs(20),
                "nbdfuse did not mount {}",
                file.display()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        FailingDisk {
            mountpoint,
            file,
            child,
        }
    }
}

impl Drop for FailingDisk {
    fn drop(&mut self) {
        let _ = Command::new("fusermount3")
            .arg("-u")
            .arg(&self.mountpoint)
            .status();
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(5) {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir(&self.mountpoint);
    }
}

/// Writes a ddrescue mapfile for `size` bytes in which `bad` ranges are `-`.
pub fn write_bad_map(path: &Path, size: u64, bad: &[(u64, u64)]) {
    let mut s = String::from("# current_pos  current_status  current_pass\n0x00000000     +               1\n#      pos        size  status\n");
    let mut pos = 0;
    for &(b, l) in bad {
        if b > pos {
            s += &format!("0x{pos:08X}  0x{:08X}  +\n", b - pos);
        }
        s += &format!("0x{b:08X}  0x{l:08X}  -\n");
        pos = b + l;
    }
    if pos < size {
        s += &format!("0x{pos:08X}  0x{:08X}  +\n", size - pos);
    }
    std::fs::write(path, s).unwrap();
}

/// Runs a shell command; true on success.
pub fn sh(cmd: &str) -> bool {
    Command::new("sh")
        .args(["-c", cmd])
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// A one-shot command (`recover`, `carve`) of IMAGE into the new case OUT:
/// `dredge --progress none COMMAND IMAGE [--map MAP] --out OUT --examiner T EXTRA…`
/// (EXTRA may name another examiner).
pub fn one_shot(
    command: &str,
    img: &Path,
    map: Option<&Path>,
    out: &Path,
    extra: &[&str],
) -> Output {
    let mut a = vec![
        "--progress",
        "none",
        command,
        img.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    if let Some(m) = map {
        a.extend(["--map", m.to_str().unwrap()]);
    }
    if !extra.contains(&"--examiner") {
        a.extend(["--examiner", "T"]);
    }
    a.extend_from_slice(extra);
    run(&a)
}

/// `one_shot` that must end with exit code `code`; what it recovered, as `ls_json`.
pub fn one_shot_ls(
    command: &str,
    img: &Path,
    map: Option<&Path>,
    out: &Path,
    code: i32,
    extra: &[&str],
) -> Vec<serde_json::Value> {
    let o = one_shot(command, img, map, out, extra);
    assert_eq!(o.status.code(), Some(code), "{}{}", stdout(&o), stderr(&o));
    ls_json(out)
}

/// `dredge ls --progress json` of a case, one object per artifact.
pub fn ls_json(case: &Path) -> Vec<serde_json::Value> {
    let o = run(&["--progress", "json", "ls", case.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// path -> SHA-256 of every file artifact with content.
pub type Hashes = std::collections::BTreeMap<String, String>;

pub fn hashes(arts: &[serde_json::Value]) -> Hashes {
    arts.iter()
        .filter(|a| a["kind"] == "file" && a["sha256"].is_string())
        .map(|a| {
            (
                a["path"].as_str().unwrap().to_string(),
                a["sha256"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// SHA-256 of every file `tsk_recover -e` writes for an image.
pub fn tsk_recovered(img: &Path, out: &Path) -> std::collections::BTreeSet<String> {
    let _ = Command::new("tsk_recover")
        .arg("-e")
        .arg(img)
        .arg(out)
        .output();
    let mut set = std::collections::BTreeSet::new();
    let mut stack = vec![out.to_path_buf()];
    while let Some(p) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&p) else {
            continue;
        };
        for e in rd.flatten() {
            if e.file_type().unwrap().is_dir() {
                stack.push(e.path());
            } else {
                set.insert(sha256_file(&e.path()));
            }
        }
    }
    set
}

/// What the case's findings say, in store order.
/// How many evidence items the case at `case` holds (read from its store).
pub fn evidence_count(case: &Path) -> i64 {
    rusqlite::Connection::open(case.join("case.sqlite"))
        .unwrap()
        .query_row("SELECT count(*) FROM evidence", [], |r| r.get(0))
        .unwrap()
}

/// The bytes the scan's one pass read and the image's size, from its custody
/// record.
pub fn pass_bytes(case: &Path) -> (u64, u64) {
    let c = rusqlite::Connection::open(case.join("case.sqlite")).unwrap();
    let p: String = c
        .query_row(
            "SELECT params FROM custody WHERE action = 'scan.evidence'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let v: serde_json::Value = serde_json::from_str(&p).unwrap();
    let g = |k: &str| v["read"][k].as_u64().unwrap();
    (g("pass_bytes"), g("image_bytes"))
}

/// A new NTFS image of `size` bytes at `img` (mkntfs), mounted at `mnt`
/// through ntfs-3g; false (the test skipped) when it cannot be mounted.
pub fn ntfs_mounted(img: &Path, mnt: &Path, size: u64) -> bool {
    ntfs_mounted_with(img, mnt, size, "")
}

/// `ntfs_mounted` with more mkntfs options (`-c 65536`).
pub fn ntfs_mounted_with(img: &Path, mnt: &Path, size: u64, mkntfs: &str) -> bool {
    std::fs::create_dir_all(mnt).unwrap();
    std::fs::File::create(img).unwrap().set_len(size).unwrap();
    assert!(sh(&format!(
        "mkntfs -F -f -q {mkntfs} {} 2>/dev/null",
        img.display()
    )));
    if !sh(&format!("ntfs-3g {} {}", img.display(), mnt.display())) {
        skip("cannot mount with ntfs-3g");
        return false;
    }
    true
}

pub fn findings(case: &Path) -> Vec<String> {
    let c = rusqlite::Connection::open(case.join("case.sqlite")).unwrap();
    let mut st = c.prepare("SELECT what FROM findings").unwrap();
    st.query_map([], |r| r.get::<_, String>(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// The bytes of a gzip file (`gzip -dc`).
pub fn gunzip(gz: &Path) -> Vec<u8> {
    let o = Command::new("gzip").arg("-dc").arg(gz).output().unwrap();
    assert!(o.status.success(), "gzip -dc {}", gz.display());
    o.stdout
}

/// A file of the workspace's shared public test data (../shared/testdata).
pub fn shared(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/testdata")
        .join(rel)
}

/// `cryptsetup ARGS`, which must succeed; its trimmed output.
pub fn cryptsetup(args: &[&str]) -> String {
    let o = Command::new("cryptsetup").args(args).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

/// Encrypts the image `img` in place as LUKS2 (`cryptsetup reencrypt
/// --encrypt`, which takes the last 16 MiB for the header it adds) with
/// `cipher`, its key size in bits and sector size, the passphrase in the file
/// `pass`, and the KDF options `kdf`.
pub fn luks2_encrypt_in_place(
    img: &Path,
    (cipher, key_bits, sector): (&str, &str, &str),
    pass: &Path,
    kdf: &[&str],
) {
    let mut args = vec![
        "reencrypt",
        "--encrypt",
        "--type",
        "luks2",
        "--reduce-device-size",
        "16M",
        "--cipher",
        cipher,
        "--key-size",
        key_bits,
        "--sector-size",
        sector,
        "--batch-mode",
        "--key-file",
        pass.to_str().unwrap(),
    ];
    args.extend_from_slice(kdf);
    args.push(img.to_str().unwrap());
    cryptsetup(&args);
}

/// `dredge --progress none report CASE --format FORMAT --out OUT`.
pub fn report(case: &Path, format: &str, out: &Path) -> std::process::Output {
    run(&[
        "--progress",
        "none",
        "report",
        case.to_str().unwrap(),
        "--format",
        format,
        "--out",
        out.to_str().unwrap(),
    ])
}

/// Runs `cmd` in `dir` (a tool making a test file) and reads the file `out` it made.
/// What a carving test expects of a file it laid into an image.
pub enum Want<'a> {
    /// `carved-complete`, bit-exact with these bytes.
    Complete(&'a [u8]),
    /// `carved-unverified-contiguous`, bit-exact with these bytes.
    Unverified(&'a [u8]),
    /// Status `partial`, of this size when one is given.
    Partial(Option<u64>),
}

/// Asserts what was carved at `off` as `format` (named `*.ext`) against what
/// the test laid there; returns the artifact.
pub fn expect_carved<'a>(
    arts: &'a [serde_json::Value],
    off: u64,
    format: &str,
    ext: &str,
    want: Want<'_>,
) -> &'a serde_json::Value {
    let a = carved_at(arts, off, format)
        .unwrap_or_else(|| panic!("nothing carved as {format} at {off:#x}: {arts:#?}"));
    assert!(
        a["path"].as_str().unwrap().ends_with(&format!(".{ext}")),
        "{a}"
    );
    let exact = |recovery: &str, bytes: &[u8]| {
        assert_eq!(a["recovery"], recovery, "{off:#x}: {a}");
        assert_eq!(a["size"], bytes.len() as u64, "{off:#x}: {a}");
        assert_eq!(a["sha256"], sha256(bytes), "{off:#x} not bit-exact");
    };
    match want {
        Want::Complete(b) => exact("carved-complete", b),
        Want::Unverified(b) => exact("carved-unverified-contiguous", b),
        Want::Partial(size) => {
            assert_eq!(a["status"], "partial", "{off:#x}: {a}");
            if let Some(n) = size {
                assert_eq!(a["size"], n, "{off:#x}: {a}");
            }
        }
    }
    a
}

pub fn made(dir: &Path, cmd: &str, out: &str) -> Vec<u8> {
    assert!(sh(&format!("cd {} && {cmd}", dir.display())), "{cmd}");
    std::fs::read(dir.join(out)).unwrap()
}

/// Lays `files` (offset, bytes) into `len` bytes of noise from `seed`, writes the
/// image to `dir/img.raw`, carves it into `dir/case` (`dredge carve`, which must
/// exit with `code`) and lists what was carved.
pub fn carve_laid(
    dir: &Path,
    len: usize,
    seed: u64,
    files: &[(usize, &[u8])],
    code: i32,
) -> Vec<serde_json::Value> {
    let mut img = noise(len, seed);
    for (at, f) in files {
        img[*at..*at + f.len()].copy_from_slice(f);
    }
    carve_image(dir, &img, code)
}

/// Writes `img` to `dir/img.raw`, carves it into `dir/case` (`dredge carve`,
/// which must exit with `code`) and lists what was carved.
pub fn carve_image(dir: &Path, img: &[u8], code: i32) -> Vec<serde_json::Value> {
    let path = dir.join("img.raw");
    std::fs::write(&path, img).unwrap();
    one_shot_ls("carve", &path, None, &dir.join("case"), code, &[])
}

/// An artifact's runs as (image offset, length), in file order.
pub fn image_runs(a: &serde_json::Value) -> Vec<(u64, u64)> {
    a["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["image_offset"].as_u64().unwrap(),
                r["len"].as_u64().unwrap(),
            )
        })
        .collect()
}

/// `dredge export-volume CASE --out OUT --key KEY` (which must succeed, `what`
/// naming the case in a failure); the first plaintext volume's bytes.
pub fn export_plain(case: &Path, out: &Path, key: &str, what: &str) -> Vec<u8> {
    export_plain_exit(case, out, key, 0, what)
}

/// `export_plain` that must end with exit code `code` (3: some plaintext
/// unreadable).
pub fn export_plain_exit(case: &Path, out: &Path, key: &str, code: i32, what: &str) -> Vec<u8> {
    let e = run(&[
        "export-volume",
        case.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--key",
        key,
    ]);
    assert_eq!(e.status.code(), Some(code), "{what}: {}", stderr(&e));
    std::fs::read(out.join("ev1-v0.plain.raw")).unwrap()
}

/// The blocks of `block` bytes, over `want`'s length, where `got` differs.
pub fn differing_blocks(got: &[u8], want: &[u8], block: usize) -> Vec<usize> {
    (0..want.len() / block)
        .filter(|b| got.get(b * block..(b + 1) * block) != Some(&want[b * block..(b + 1) * block]))
        .collect()
}

/// Lays `file` at `at` cut at `cuts` (file offsets, sector multiples) with
/// `gaps` (sector multiples) of foreign data between the pieces; returns the
/// image and the pieces' (image offset, length).
pub fn lay(
    len: usize,
    at: usize,
    file: &[u8],
    cuts: &[usize],
    gaps: &[usize],
) -> (Vec<u8>, Vec<(u64, u64)>) {
    let mut img = noise(len, 99);
    let mut pieces = Vec::new();
    let (mut from, mut to) = (0usize, at);
    for (i, &end) in cuts.iter().chain([file.len()].iter()).enumerate() {
        img[to..to + end - from].copy_from_slice(&file[from..end]);
        pieces.push((to as u64, (end - from) as u64));
        to += end - from + gaps.get(i).copied().unwrap_or(0);
        from = end;
    }
    (img, pieces)
}
