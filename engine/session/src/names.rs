//! Safe names for extracted files. Names come from evidence: they may hold `/`,
//! `..`, control characters, terminal escapes or invalid text, and two entries may
//! share a name (a deleted file and its successor). Every name becomes a harmless
//! path component, and a collision gets the entry id appended, deterministically
//! (entries are planned in walk order, which is the same every run).

use dredge_store::OutputRules;
use std::collections::HashSet;
use std::path::{Path, PathBuf};

const MAX_COMPONENT: usize = 200;

/// One path component that cannot escape its directory or hurt a terminal.
pub fn safe_component(name: &str) -> String {
    component(name, &OutputRules::default())
}

/// [`safe_component`] that also escapes what the output filesystem refuses: its
/// forbidden characters, and a trailing dot or space it would drop (which would
/// make `a.` and `a` one file).
fn component(name: &str, rules: &OutputRules) -> String {
    let mut out = String::with_capacity(name.len());
    let last = name.chars().count().saturating_sub(1);
    for (i, ch) in name.chars().enumerate() {
        match ch {
            '/' | '\\' | '\0' => out.push_str(&format!("%{:02X}", ch as u32)),
            c if rules.forbids(c) => out.push_str(&format!("%{:02X}", c as u32)),
            '.' | ' ' if i == last && rules.trailing_dot_space => {
                out.push_str(&format!("%{:02X}", ch as u32))
            }
            // Invisible format characters too: a bidi override in a copy's name
            // would make a file manager show `gpj.exe` as `exe.jpg`.
            c if c.is_control() || dredge_core::is_invisible(c) => {
                out.push_str(&format!("%{:02X}", c as u32))
            }
            '%' => out.push_str("%25"),
            c => out.push(c),
        }
    }
    if out.is_empty() || out == "." || out == ".." {
        out = format!("_{out}");
    }
    if out.len() > MAX_COMPONENT {
        let mut cut = MAX_COMPONENT;
        while !out.is_char_boundary(cut) {
            cut -= 1;
        }
        out.truncate(cut);
        out.push('~');
    }
    out
}

/// The folder, beside a volume's top-level names, that holds copies whose planned
/// path the output filesystem refused (see `scan::create_copy`). The planner
/// renames an evidence name that would land there.
pub const BY_ID: &str = "by-id";

/// Where a scan writes its copies: the case directory, and the naming rules of
/// its filesystem (learned when the case was created).
pub(crate) struct CaseOut {
    pub dir: PathBuf,
    pub rules: OutputRules,
}

impl CaseOut {
    pub fn of(store: &dredge_store::Store) -> Result<CaseOut, dredge_store::StoreError> {
        Ok(CaseOut {
            dir: store.dir().to_path_buf(),
            rules: store.output_rules()?,
        })
    }
}

/// Plans output paths that are unique even on a case-insensitive output
/// filesystem: every comparison is on the lower-cased path, and every rename is
/// checked again. The paths planned are kept as 64-bit digests of their keys,
/// not as strings (a million files' paths would be about 100 MiB): two
/// different paths with one digest (about one chance in 10^7 at a million
/// files) cost a needless rename with the entry's id, never a clash.
#[derive(Default)]
pub struct PathPlanner {
    used: HashSet<u64>,
    dirs: HashSet<u64>,
    rules: OutputRules,
}

fn key(p: &Path) -> u64 {
    use std::hash::{Hash, Hasher};
    // SipHash with fixed keys: the same digest on every run and machine.
    let mut h = std::hash::DefaultHasher::new();
    p.to_string_lossy().to_lowercase().hash(&mut h);
    h.finish()
}

impl PathPlanner {
    /// A planner for a case directory whose filesystem has `rules`.
    pub fn with_rules(rules: OutputRules) -> Self {
        PathPlanner {
            rules,
            ..Self::default()
        }
    }

    fn taken(&self, p: &Path) -> bool {
        let k = key(p);
        self.used.contains(&k) || self.dirs.contains(&k)
    }

    /// Relative output path for an entry at filesystem path `path` (`/`-separated).
    pub fn plan(&mut self, path: &str, id: u64) -> PathBuf {
        let mut comps: Vec<String> = path
            .split('/')
            .filter(|c| !c.is_empty())
            .map(|c| component(c, &self.rules))
            .collect();
        if comps.is_empty() {
            comps.push("_".into());
        }
        let n = comps.len();
        let mut p = PathBuf::new();
        for (i, mut c) in comps.into_iter().enumerate() {
            if i == 0 && c.to_lowercase() == BY_ID {
                c.push_str("~dir");
            }
            if i + 1 < n {
                // A file already planned where this directory must go: rename the
                // directory's component for everything below it, as often as the
                // new name is taken too.
                while self.used.contains(&key(&p.join(&c))) {
                    c.push_str("~dir");
                }
                p.push(&c);
                self.dirs.insert(key(&p));
            } else {
                let mut name = c.clone();
                let mut k = 1u32;
                if self.taken(&p.join(&name)) {
                    name = format!("{c}~{id}");
                }
                while self.taken(&p.join(&name)) {
                    name = format!("{c}~{id}~{k}");
                    k += 1;
                }
                p.push(name);
            }
        }
        self.used.insert(key(&p));
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_names_become_harmless_components() {
        assert_eq!(safe_component(".."), "_..");
        assert_eq!(safe_component("a/b"), "a%2Fb");
        assert_eq!(safe_component("\u{1b}[31mred\n"), "%1B[31mred%0A");
        assert_eq!(safe_component(""), "_");
        assert_eq!(safe_component("100%"), "100%25");
        assert_eq!(safe_component("a\u{202e}b\u{200b}"), "a%202Eb%200B");
        assert!(safe_component(&"é".repeat(300)).len() <= MAX_COMPONENT + 1);
    }

    #[test]
    fn collisions_get_the_entry_id() {
        let mut p = PathPlanner::default();
        assert_eq!(p.plan("/a/x.txt", 1), PathBuf::from("a/x.txt"));
        assert_eq!(p.plan("/a/x.txt", 2), PathBuf::from("a/x.txt~2"));
        assert_eq!(
            p.plan("/../../etc/passwd", 3),
            PathBuf::from("_../_../etc/passwd")
        );
        assert_eq!(p.plan("/b", 4), PathBuf::from("b"));
        assert_eq!(p.plan("/b/c", 5), PathBuf::from("b~dir/c"));
    }

    #[test]
    fn renames_are_checked_again_and_letter_case_does_not_clash() {
        let mut p = PathPlanner::default();
        assert_eq!(p.plan("/b", 1), PathBuf::from("b"));
        assert_eq!(p.plan("/b~dir", 2), PathBuf::from("b~dir"));
        // `b` is a file and `b~dir` too: the folder becomes `b~dir~dir`.
        assert_eq!(p.plan("/b/c", 3), PathBuf::from("b~dir~dir/c"));
        assert_eq!(p.plan("/B/c", 4), PathBuf::from("B~dir~dir/c~4"));
        assert_eq!(p.plan("/README", 5), PathBuf::from("README"));
        assert_eq!(p.plan("/readme", 6), PathBuf::from("readme~6"));
        // A name that already looks like a renamed one.
        assert_eq!(p.plan("/readme~6", 7), PathBuf::from("readme~6~7"));
        assert_eq!(p.plan("/readme~8", 9), PathBuf::from("readme~8"));
        assert_eq!(p.plan("/readme", 8), PathBuf::from("readme~8~1"));
        // The fallback folder is never an evidence name.
        assert_eq!(p.plan("/By-Id/x", 8), PathBuf::from("By-Id~dir/x"));
    }

    #[test]
    fn what_the_output_filesystem_refuses_is_escaped() {
        let exfat = OutputRules {
            forbidden: vec![':', '*', '?', '"', '<', '>', '|'],
            trailing_dot_space: true,
            case_insensitive: true,
        };
        let mut p = PathPlanner::with_rules(exfat);
        assert_eq!(
            p.plan("/dir:odd/report.doc:Zone.Identifier", 1),
            PathBuf::from("dir%3Aodd/report.doc%3AZone.Identifier")
        );
        // `a.` would be stored as `a`: both keep their own copy and name.
        assert_eq!(p.plan("/a.", 2), PathBuf::from("a%2E"));
        assert_eq!(p.plan("/a", 3), PathBuf::from("a"));
        assert_eq!(p.plan("/b ", 4), PathBuf::from("b%20"));
        assert_eq!(p.plan("/q?.txt", 5), PathBuf::from("q%3F.txt"));
        // Dots and spaces inside a name are fine.
        assert_eq!(p.plan("/x. y.txt", 6), PathBuf::from("x. y.txt"));
        // A Linux case directory keeps them as they are.
        let mut p = PathPlanner::default();
        assert_eq!(p.plan("/f:s", 1), PathBuf::from("f:s"));
        assert_eq!(p.plan("/a.", 2), PathBuf::from("a."));
    }
}
