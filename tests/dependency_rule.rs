//! The layering rule of ARCHITECTURE.md, checked on the real dependency graph:
//! core depends on nothing of ours; parsers and carvers never depend on SQLite,
//! threads, ratatui, the store, the session or each other; only the session knows
//! every implementation, and only front ends depend on the session.

use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

struct Graph {
    /// crate name -> names of its normal (non-dev, non-build) dependencies
    deps: BTreeMap<String, BTreeSet<String>>,
    /// workspace members: name -> manifest directory
    members: BTreeMap<String, String>,
}

fn host_triple() -> String {
    let out = Command::new("rustc")
        .arg("-vV")
        .output()
        .expect("rustc -vV");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: ").map(str::to_string))
        .expect("host triple")
}

fn graph() -> &'static Graph {
    static G: std::sync::OnceLock<Graph> = std::sync::OnceLock::new();
    G.get_or_init(load_graph)
}

fn load_graph() -> Graph {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    // Filtering to this platform keeps cargo from fetching other platforms' crates.
    let out = Command::new(cargo)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--filter-platform",
            &host_triple(),
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo metadata");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let name_of: BTreeMap<String, String> = v["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["id"].as_str().unwrap().to_string(),
                p["name"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let member_ids: BTreeSet<&str> = v["workspace_members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m.as_str().unwrap())
        .collect();
    let members = v["packages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| member_ids.contains(p["id"].as_str().unwrap()))
        .map(|p| {
            let dir = Path::new(p["manifest_path"].as_str().unwrap())
                .parent()
                .unwrap()
                .display()
                .to_string();
            (p["name"].as_str().unwrap().to_string(), dir)
        })
        .collect();
    let mut deps: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for node in v["resolve"]["nodes"].as_array().unwrap() {
        let name = name_of[node["id"].as_str().unwrap()].clone();
        let set = deps.entry(name).or_default();
        for d in node["deps"].as_array().unwrap() {
            let normal = d["dep_kinds"]
                .as_array()
                .unwrap()
                .iter()
                .any(|k| k["kind"].is_null());
            if normal {
                set.insert(name_of[d["pkg"].as_str().unwrap()].clone());
            }
        }
    }
    Graph { deps, members }
}

impl Graph {
    fn transitive(&self, root: &str) -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        let mut stack = vec![root.to_string()];
        while let Some(n) = stack.pop() {
            for d in self.deps.get(&n).into_iter().flatten() {
                if seen.insert(d.clone()) {
                    stack.push(d.clone());
                }
            }
        }
        seen
    }
}

/// Crates that parse evidence or carve: volume, filesystem, encrypted-volume and
/// image readers, carvers.
fn is_parser(name: &str) -> bool {
    name == "dredge-image"
        || name == "dredge-volume"
        || name.starts_with("dredge-fs")
        || name == "dredge-crypt"
        || name.starts_with("dredge-carve")
}

/// Parser pairs allowed, each with its decision. FileVault on APFS keeps its
/// keys in the container's own objects, so the APFS reader unlocks it with
/// dredge-crypt's primitives and layer (decision 0018, amended 2026-12-07);
/// dredge-crypt depends on no filesystem reader.
const ALLOWED_BETWEEN_PARSERS: &[(&str, &str)] = &[("dredge-fs-apfs", "dredge-crypt")];

const FORBIDDEN_FOR_PARSERS: &[&str] = &[
    "rusqlite",
    "libsqlite3-sys",
    "crossbeam",
    "crossbeam-channel",
    "crossbeam-deque",
    "rayon",
    "ratatui",
    "crossterm",
    "dredge-store",
    "dredge-session",
    "dredge-acquire",
    "dredge-hash",
    "dredge-tui",
];

#[test]
fn core_depends_on_nothing_of_ours() {
    let g = graph();
    let ours: Vec<String> = g
        .transitive("dredge-core")
        .into_iter()
        .filter(|d| d.starts_with("dredge"))
        .collect();
    assert!(ours.is_empty(), "dredge-core depends on {ours:?}");
    assert!(
        g.deps["dredge-core"].is_empty(),
        "dredge-core should have no dependencies: {:?}",
        g.deps["dredge-core"]
    );
}

#[test]
fn parsers_and_carvers_stay_free_of_sqlite_threads_ui_and_each_other() {
    let g = graph();
    let parsers: Vec<&String> = g.members.keys().filter(|n| is_parser(n)).collect();
    assert!(!parsers.is_empty());
    for p in &parsers {
        let t = g.transitive(p);
        for f in FORBIDDEN_FOR_PARSERS {
            assert!(!t.contains(*f), "{p} depends on {f}");
        }
        for other in &parsers {
            if other != p && !ALLOWED_BETWEEN_PARSERS.contains(&(p.as_str(), other.as_str())) {
                assert!(!t.contains(*other), "{p} depends on parser {other}");
            }
        }
        // No threads spawned inside a parser either.
        let src = Path::new(&g.members[*p]).join("src");
        for f in rs_files(&src) {
            let text = std::fs::read_to_string(&f).unwrap();
            for bad in [
                "thread::spawn",
                "thread::scope",
                "std::thread",
                "memmap2",
                "Mmap",
            ] {
                assert!(!text.contains(bad), "{} uses {bad}", f.display());
            }
        }
    }
}

#[test]
fn only_front_ends_depend_on_the_session_and_nothing_on_the_binary() {
    let g = graph();
    for (name, deps) in &g.deps {
        if deps.contains("dredge-session") {
            assert!(
                name == "dredge" || name == "dredge-tui",
                "{name} depends on dredge-session"
            );
        }
        assert!(
            !deps.contains("dredge"),
            "{name} depends on the dredge binary package"
        );
    }
    let store = g.transitive("dredge-store");
    for f in [
        "dredge-image",
        "dredge-acquire",
        "dredge-session",
        "ratatui",
    ] {
        assert!(!store.contains(f), "dredge-store depends on {f}");
    }
    // Reports read the store and nothing else: no image readers, parsers or sessions.
    let report = g.transitive("dredge-report");
    assert!(report.contains("dredge-store"));
    for f in report.iter().filter(|d| d.starts_with("dredge-")) {
        assert!(
            f == "dredge-store" || f == "dredge-core",
            "dredge-report depends on {f}"
        );
    }
}

#[test]
fn no_memory_mapping_anywhere_in_the_engine() {
    let g = graph();
    for (name, dir) in &g.members {
        for f in rs_files(&Path::new(dir).join("src")) {
            let text = std::fs::read_to_string(&f).unwrap();
            assert!(
                !text.contains("memmap2") && !text.contains("Mmap::map"),
                "{name}: {} maps memory",
                f.display()
            );
        }
    }
}

fn rs_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(rs_files(&p));
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
    out
}

#[test]
fn every_crate_has_its_row_in_the_architecture_page() {
    let page =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/architecture.md"))
            .expect("docs/architecture.md");
    let missing: Vec<&String> = graph()
        .members
        .keys()
        .filter(|n| !page.lines().any(|l| l.starts_with(&format!("| `{n}`"))))
        .collect();
    assert!(
        missing.is_empty(),
        "docs/architecture.md has no row in its crate table for {missing:?}"
    );
}
