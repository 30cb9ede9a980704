//! Directory blocks (linear and htree, read linearly: htree index blocks present
//! themselves as empty records). A deleted entry's record is merged into the one
//! before it, so its bytes survive in that record's slack; those are parsed too.

use crate::sb::{le16, le32};

#[derive(Clone, Debug)]
pub struct DirEnt {
    pub inode: u32,
    pub name: String,
    pub ftype: u8,
    pub deleted: bool,
    /// Offset of the record within the directory's data.
    pub offset: usize,
}

/// Names are bytes on disk; invalid UTF-8 is kept visible as `\xNN` escapes instead
/// of aborting the walk or silently replacing characters.
pub fn decode_name(b: &[u8]) -> String {
    let mut out = String::new();
    let mut rest = b;
    loop {
        match std::str::from_utf8(rest) {
            Ok(s) => {
                out.push_str(s);
                return out;
            }
            Err(e) => {
                let (ok, bad) = rest.split_at(e.valid_up_to());
                out.push_str(std::str::from_utf8(ok).unwrap_or_default());
                let n = e.error_len().unwrap_or(bad.len()).max(1);
                for byte in &bad[..n] {
                    out.push_str(&format!("\\x{byte:02x}"));
                }
                rest = &bad[n..];
            }
        }
    }
}

fn plausible_deleted(
    b: &[u8],
    at: usize,
    end: usize,
    max_inode: u32,
) -> Option<(u32, usize, u8, String)> {
    if at + 8 > end {
        return None;
    }
    let ino = le32(b, at);
    let nl = b[at + 6] as usize;
    let ft = b[at + 7];
    if ino == 0 || ino > max_inode || nl == 0 || ft > 7 || at + 8 + nl > end {
        return None;
    }
    let name = &b[at + 8..at + 8 + nl];
    if name.iter().any(|&c| c == 0 || c == b'/') || name == b"." || name == b".." {
        return None;
    }
    Some((ino, (8 + nl + 3) & !3, ft, decode_name(name)))
}

/// Parses one directory block. `skip_first_slack` is for an htree root, whose ".."
/// record covers the index, not deleted entries. Returns a problem description if
/// the block's records are damaged (the entries before the damage are kept).
pub fn parse_block(
    b: &[u8],
    base: usize,
    max_inode: u32,
    htree_root: bool,
    out: &mut Vec<DirEnt>,
) -> Option<String> {
    let len = b.len();
    let mut pos = 0usize;
    let mut idx = 0;
    while pos + 8 <= len {
        let ino = le32(b, pos);
        let rec = le16::<u32>(b, pos + 4) as usize;
        let nl = b[pos + 6] as usize;
        let ft = b[pos + 7];
        if rec < 8 || !rec.is_multiple_of(4) || pos + rec > len {
            return Some(format!(
                "directory record at offset {} has invalid length {rec}",
                base + pos
            ));
        }
        // An htree node block is one empty record spanning the block; a checksum
        // tail is a 12-byte empty record. Neither has names or slack to read.
        if ino == 0 && nl == 0 && (rec == len || ft == 0xDE) {
            pos += rec;
            idx += 1;
            continue;
        }
        let used = if ino != 0 && nl > 0 && 8 + nl <= rec {
            out.push(DirEnt {
                inode: ino,
                name: decode_name(&b[pos + 8..pos + 8 + nl]),
                ftype: ft,
                deleted: false,
                offset: base + pos,
            });
            (8 + nl + 3) & !3
        } else {
            // An empty record (the first of a block after its entry was deleted):
            // everything after its header may hold deleted entries.
            8
        };
        let skip = htree_root && idx == 1;
        if !skip && rec > used {
            let end = pos + rec;
            let mut q = pos + used;
            while q + 8 <= end {
                match plausible_deleted(b, q, end, max_inode) {
                    Some((ino, step, ft, name)) => {
                        out.push(DirEnt {
                            inode: ino,
                            name,
                            ftype: ft,
                            deleted: true,
                            offset: base + q,
                        });
                        q += step;
                    }
                    None => q += 4,
                }
            }
        }
        pos += rec;
        idx += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(ino: u32, rec_len: u16, name: &[u8], ft: u8) -> Vec<u8> {
        let mut v = ino.to_le_bytes().to_vec();
        v.extend_from_slice(&rec_len.to_le_bytes());
        v.push(name.len() as u8);
        v.push(ft);
        v.extend_from_slice(name);
        while !v.len().is_multiple_of(4) {
            v.push(0);
        }
        v
    }

    #[test]
    fn finds_live_and_deleted_entries_in_slack() {
        let mut b = rec(2, 12, b".", 2);
        // ".." swallowed the deleted "gone.txt" record that followed it.
        let mut dotdot = rec(2, 12 + 16, b"..", 2);
        dotdot.extend(rec(15, 16, b"gone.txt", 1));
        b.extend(dotdot);
        b.extend(rec(16, (1024 - b.len()) as u16, b"kept", 1));
        b.resize(1024, 0);
        let mut out = Vec::new();
        assert_eq!(parse_block(&b, 0, 100, false, &mut out), None);
        let names: Vec<(&str, bool)> = out.iter().map(|e| (e.name.as_str(), e.deleted)).collect();
        assert_eq!(
            names,
            [
                (".", false),
                ("..", false),
                ("gone.txt", true),
                ("kept", false)
            ]
        );
        assert_eq!(decode_name(b"a\xffb\xc3\xa9"), "a\\xffbé");
    }
}
