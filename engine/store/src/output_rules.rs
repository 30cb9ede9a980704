//! What the case directory's filesystem refuses in a file name, learned once when
//! the case is created (issue 17, decision 0013).
//!
//! A lab's case directory may sit on an exFAT or FAT disk, or a Samba share,
//! where `:` or `?` cannot be in a name and a trailing dot is silently dropped.
//! Evidence names hold such characters (NTFS streams are `name:stream`). Knowing
//! the rules up front lets the planner escape those characters (`%3A`) so every
//! copy keeps its own folder and a readable name, instead of each failing at
//! write time and landing in `by-id`. The rules are recorded in the `case.create`
//! event, so they are sealed, and every later scan of the case plans the same
//! paths wherever it runs.

use serde_json::{json, Value};
use std::fs::File;
use std::io;
use std::path::Path;

/// Characters some filesystems refuse that are otherwise legal on Linux. `/`,
/// `\\` and NUL are always escaped, so they are not probed.
pub const PROBED: [char; 7] = [':', '*', '?', '"', '<', '>', '|'];

/// The naming rules of the filesystem under a case directory.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OutputRules {
    /// Characters of [`PROBED`] the filesystem refuses (or stores as something
    /// else), in the order of [`PROBED`].
    pub forbidden: Vec<char>,
    /// A name ending in `.` or ` ` is refused or stored without it.
    pub trailing_dot_space: bool,
    /// `A` and `a` name the same file. The planner compares names lower-cased
    /// whatever this says (so paths do not depend on the machine); it is recorded
    /// so the examiner knows what the copies were written to.
    pub case_insensitive: bool,
}

impl OutputRules {
    /// True when a name may not hold `c`.
    pub fn forbids(&self, c: char) -> bool {
        self.forbidden.contains(&c)
    }

    pub fn to_json(&self) -> Value {
        json!({
            "forbidden": self.forbidden.iter().collect::<String>(),
            "trailing_dot_space": self.trailing_dot_space,
            "case_insensitive": self.case_insensitive,
        })
    }

    /// Reads what [`OutputRules::to_json`] wrote; `None` for anything else.
    pub fn from_json(v: &Value) -> Option<OutputRules> {
        let forbidden: Vec<char> = v
            .get("forbidden")?
            .as_str()?
            .chars()
            .filter(|c| PROBED.contains(c))
            .collect();
        Some(OutputRules {
            forbidden,
            trailing_dot_space: v.get("trailing_dot_space")?.as_bool()?,
            case_insensitive: v.get("case_insensitive")?.as_bool()?,
        })
    }

    /// Learns the rules by making probe files in a fresh folder under `dir`,
    /// which is removed again. A name counts as allowed only when it can be made
    /// and is then listed exactly as asked (vfat drops a trailing dot silently).
    pub fn probe(dir: &Path) -> io::Result<OutputRules> {
        let sub = dir.join(format!(".dredge-probe-{}", std::process::id()));
        std::fs::create_dir(&sub)?;
        let learned = probe_in(&sub);
        let cleaned = std::fs::remove_dir_all(&sub);
        let rules = learned?;
        cleaned?;
        Ok(rules)
    }
}

fn probe_in(sub: &Path) -> io::Result<OutputRules> {
    // A name made from ordinary characters must work, or nothing below means
    // anything: that error is the caller's.
    File::create_new(sub.join("plain"))?;
    let mut rules = OutputRules {
        forbidden: PROBED
            .into_iter()
            .filter(|c| !kept(sub, &format!("p{c}q")))
            .collect(),
        trailing_dot_space: !kept(sub, "dot.") || !kept(sub, "space "),
        case_insensitive: false,
    };
    File::create_new(sub.join("Case"))?;
    rules.case_insensitive = sub.join("cASE").exists();
    Ok(rules)
}

/// Makes `name` in `sub` and says whether it is listed under that exact name.
fn kept(sub: &Path, name: &str) -> bool {
    if File::create_new(sub.join(name)).is_err() {
        return false;
    }
    let listed = std::fs::read_dir(sub)
        .map(|d| d.flatten().any(|e| e.file_name() == name))
        .unwrap_or(false);
    // What the filesystem made of the name is removed before the next probe.
    if let Ok(d) = std::fs::read_dir(sub) {
        for e in d.flatten() {
            let n = e.file_name();
            if n != "plain" && n != "Case" {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
    listed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_linux_filesystem_refuses_nothing_probed_and_leaves_no_trace() {
        let d = tempfile::tempdir().unwrap();
        let r = OutputRules::probe(d.path()).unwrap();
        // The test's temporary folder is on ext4/tmpfs/overlay here: all allowed.
        assert_eq!(r, OutputRules::default());
        assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 0);
    }

    #[test]
    fn rules_survive_their_record() {
        let r = OutputRules {
            forbidden: vec![':', '?', '|'],
            trailing_dot_space: true,
            case_insensitive: true,
        };
        assert_eq!(OutputRules::from_json(&r.to_json()), Some(r));
        assert_eq!(OutputRules::from_json(&json!({"forbidden": 3})), None);
        // A character never probed cannot be smuggled in through the record.
        let odd =
            json!({"forbidden": ":a/", "trailing_dot_space": false, "case_insensitive": false});
        assert_eq!(OutputRules::from_json(&odd).unwrap().forbidden, vec![':']);
    }
}
