//! Safe names for extracted files. Names come from evidence: they may hold `/`,
//! `..`, control characters, terminal escapes or invalid text, and two entries may
//! share a name (a deleted file and its successor). Every name becomes a harmless
//! path component, and a collision gets the entry id appended, deterministically
//! (entries are planned in walk order, which is the same every run).

use std::collections::HashSet;
use std::path::PathBuf;

const MAX_COMPONENT: usize = 200;

/// One path component that cannot escape its directory or hurt a terminal.
pub fn safe_component(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for ch in name.chars() {
        match ch {
            '/' | '\\' | '\0' => out.push_str(&format!("%{:02X}", ch as u32)),
            c if c.is_control() => out.push_str(&format!("%{:02X}", c as u32)),
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

#[derive(Default)]
pub struct PathPlanner {
    used: HashSet<PathBuf>,
    dirs: HashSet<PathBuf>,
}

impl PathPlanner {
    pub fn new() -> Self {
        Self::default()
    }

    /// Relative output path for an entry at filesystem path `path` (`/`-separated).
    pub fn plan(&mut self, path: &str, id: u64) -> PathBuf {
        let comps: Vec<String> = path
            .split('/')
            .filter(|c| !c.is_empty())
            .map(safe_component)
            .collect();
        let mut p = PathBuf::new();
        let n = comps.len();
        for (i, c) in comps.into_iter().enumerate() {
            if i + 1 < n {
                p.push(c);
                // A file already planned where this directory must go: rename the
                // directory's component for everything below it.
                if self.used.contains(&p) {
                    p.set_file_name(format!(
                        "{}~dir",
                        p.file_name()
                            .map(|s| s.to_string_lossy().into_owned())
                            .unwrap_or_default()
                    ));
                }
                self.dirs.insert(p.clone());
            } else {
                p.push(c);
            }
        }
        if p.as_os_str().is_empty() {
            p.push("_");
        }
        if self.used.contains(&p) || self.dirs.contains(&p) {
            let name = p
                .file_name()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            p.set_file_name(format!("{name}~{id}"));
        }
        self.used.insert(p.clone());
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
        assert!(safe_component(&"é".repeat(300)).len() <= MAX_COMPONENT + 1);
    }

    #[test]
    fn collisions_get_the_entry_id() {
        let mut p = PathPlanner::new();
        assert_eq!(p.plan("/a/x.txt", 1), PathBuf::from("a/x.txt"));
        assert_eq!(p.plan("/a/x.txt", 2), PathBuf::from("a/x.txt~2"));
        assert_eq!(
            p.plan("/../../etc/passwd", 3),
            PathBuf::from("_../_../etc/passwd")
        );
        assert_eq!(p.plan("/b", 4), PathBuf::from("b"));
        assert_eq!(p.plan("/b/c", 5), PathBuf::from("b~dir/c"));
    }
}
