//! The real binary in a real terminal (tmux): create a case, add an image with its
//! mapfile, run a scan, find a deleted file, view it in hex, export it, and check the
//! exported copy's hash; then quit and see the terminal given back.

mod common;
use common::*;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

struct Tmux(std::path::PathBuf);

impl Tmux {
    fn run(&self, args: &[&str]) -> String {
        let o = Command::new("tmux")
            .arg("-S")
            .arg(&self.0)
            .args(args)
            .output()
            .expect("tmux");
        String::from_utf8_lossy(&o.stdout).into_owned()
    }
    /// Types text literally (paths with spaces, slashes).
    fn text(&self, t: &str) {
        self.run(&["send-keys", "-t", "t", "-l", t]);
    }
    fn keys(&self, keys: &[&str]) {
        let mut a = vec!["send-keys", "-t", "t"];
        a.extend_from_slice(keys);
        self.run(&a);
    }
    fn screen(&self) -> String {
        self.run(&["capture-pane", "-t", "t", "-p"])
    }
    /// Waits until the screen shows `what` (the UI redraws on every key and tick).
    fn wait_for(&self, what: &str) -> String {
        let start = Instant::now();
        loop {
            let s = self.screen();
            if s.contains(what) {
                return s;
            }
            assert!(
                start.elapsed() < Duration::from_secs(15),
                "screen never showed {what:?}:\n{s}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        self.run(&["kill-server"]);
    }
}

#[test]
fn create_a_case_add_and_scan_then_find_view_and_export_a_deleted_file() {
    if !tools(&["tmux"]) {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("testimages/sample");
    let case = d.path().join("case");
    let t = Tmux(d.path().join("tmux.sock"));
    let cmd = format!(
        "env USER= {} tui '{}'; echo EXITED $?; sleep 60",
        env!("CARGO_BIN_EXE_dredge"),
        case.display()
    );
    t.run(&[
        "new-session",
        "-d",
        "-s",
        "t",
        "-x",
        "100",
        "-y",
        "30",
        &cmd,
    ]);
    // No case there yet: the new-case form.
    t.wait_for("New case");
    t.text("Ann Examiner");
    t.keys(&["Tab"]);
    t.text("2026-042");
    t.keys(&["Enter"]);
    t.wait_for("case 2026-042 · Ann Examiner");
    // Add the stick with its mapfile, then scan, from the jobs screen.
    t.keys(&["4", "a"]);
    t.wait_for("Add evidence");
    t.text(root.join("usb-stick.img").to_str().unwrap());
    t.keys(&["Tab"]);
    t.text(root.join("usb-stick.map").to_str().unwrap());
    t.keys(&["Enter"]);
    t.wait_for("ev1 registered: 4194304 bytes, 20480 unreadable");
    t.keys(&["s"]);
    t.wait_for("Scan every evidence item");
    t.keys(&["Enter"]);
    let s = t.wait_for("scan complete: 5 files (2 deleted), 1 partial");
    assert!(s.contains("Sessions (2, 0 unfinished)"), "{s}");

    let arts = ls_json(&case);
    let secret = arts
        .iter()
        .find(|a| a["path"] == "/secret plans.txt")
        .unwrap();
    assert_eq!(secret["deleted"], true);
    let first16: String = std::fs::read(case.join(secret["extracted"].as_str().unwrap())).unwrap()
        [..16]
        .iter()
        .map(|b| format!("{b:02x} "))
        .collect();
    t.keys(&["1"]);
    t.wait_for("Sector map");
    // Files, deleted only, search for it.
    t.keys(&["2"]);
    t.wait_for("Files 6/6");
    t.keys(&["d"]);
    t.wait_for("Files 2/6");
    t.keys(&["/", "s", "e", "c", "r", "e", "t", "Enter"]);
    let s = t.wait_for("Files 1/6");
    assert!(s.contains("* /secret plans.txt"), "{s}");
    assert!(s.contains("DELETED"), "{s}");
    // Hex view shows the file's first bytes.
    t.keys(&["Enter"]);
    let s = t.wait_for("Hex ·");
    assert!(
        s.contains(&format!("0000000000  {}", first16.trim_end())),
        "{s}"
    );
    // Back, export, and the exported copy is the recorded file.
    t.keys(&["Escape"]);
    t.wait_for("Details");
    t.keys(&["e"]);
    t.wait_for("exported secret plans.txt");
    let copy = case.join("exports/secret plans.txt");
    assert_eq!(sha256_file(&copy), secret["sha256"].as_str().unwrap());
    let manifest = std::fs::read_to_string(case.join("exports/MANIFEST.sha256")).unwrap();
    assert_eq!(
        manifest,
        format!("{}  secret plans.txt\n", secret["sha256"].as_str().unwrap())
    );
    // The export is in the custody log, and the log still verifies.
    let log = stdout(&run(&["log", case.to_str().unwrap()]));
    assert!(log.contains(" export "), "{log}");
    // Quit: the shell gets the terminal back.
    t.keys(&["q"]);
    t.wait_for("EXITED 0");
    let v = run(&["--progress", "none", "verify", case.to_str().unwrap()]);
    assert!(v.status.success(), "{}", stdout(&v));
}
