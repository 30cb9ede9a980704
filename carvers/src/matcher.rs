//! Finding every carver's headers in a page: the one scan over all of the evidence
//! that carving adds, so it has to keep up with the digests.

use crate::Carver;
use aho_corasick::{AhoCorasick, MatchKind};

/// Patterns per packed (Teddy) search. One automaton over every header (331
/// patterns once the font and icon carvers spelled out their table and image
/// counts, 85 after) lost its prefilter: 450 MB/s on random data and on zeros
/// alike, where 33 carvers had run at 2.3 GB/s. Headers of four bytes or more in
/// packed groups of this size, the short ones in one automaton, the ones that
/// start with zeros searched from their first non-zero byte, and zero-filled
/// blocks skipped: 1.6 GB/s on random data and 5 GB/s on zeros with 46 carvers
/// (`cargo run --release -p dredge-carvers --example matcher-speed`). Two more
/// zero-led headers in the memchr group (four first bytes: no memchr) cost a
/// quarter of that; zero-led headers with four bytes after the zeros now go to
/// the packed groups.
const GROUP: usize = 32;

/// Every header of every carver, in groups of automatons.
pub struct Matcher {
    groups: Vec<Group>,
    longest: usize,
    /// The most leading zeros of any header: how far past `owned` the non-zero
    /// part of a header that starts in the page may begin.
    lead: usize,
}

/// The patterns of one automaton. A header that starts with zeros (ICO
/// `00 00 01 00`, TrueType `00 01 00 00`) is searched for from its first non-zero
/// byte, its zeros checked before the match: searched whole, it starts a
/// candidate at every byte of zero-filled free space, the commonest content of a
/// disk, and the automaton's rare-byte prefilter counts 0x00 as rare.
struct Group {
    find: Find,
    /// The carver of each pattern.
    owner: Vec<usize>,
    /// Zero bytes cut off the front of each pattern.
    zeros: Vec<usize>,
    cut: Vec<Vec<u8>>,
}

enum Find {
    Automaton(AhoCorasick),
    Packed(aho_corasick::packed::Searcher),
    /// Up to three distinct first bytes: memchr finds candidates, each pattern is
    /// compared there.
    Bytes(Vec<u8>),
}

impl Matcher {
    pub fn new(carvers: &[Box<dyn Carver>]) -> Result<Matcher, String> {
        let mut plain: Vec<(&[u8], usize)> = Vec::new();
        let mut zeroed: Vec<(&[u8], usize)> = Vec::new();
        let mut longest = 1;
        // What is searched of a header: from its first non-zero byte.
        let cut_len = |p: &[u8]| p.len() - p.iter().take_while(|&&b| b == 0).count();
        for (i, c) in carvers.iter().enumerate() {
            for h in c.headers() {
                longest = longest.max(h.len());
                // Zero-led headers with four or more bytes after the zeros
                // (WebAssembly, .DS_Store) join the packed groups, searched by
                // that part; the shorter ones share one memchr pass, which
                // takes at most three distinct first bytes.
                if h.first() == Some(&0) && cut_len(h) < 4 {
                    zeroed.push((h, i));
                } else {
                    plain.push((h, i));
                }
            }
        }
        let mut groups: Vec<Group> = Vec::new();
        // Short headers (2 and 3 bytes) apart: a packed search fingerprints as
        // many leading bytes as its shortest pattern has, so one two-byte header
        // among long ones makes every group's candidates frequent.
        plain.sort_by_key(|(p, _)| cut_len(p) < 4);
        let (long, short): (Vec<_>, Vec<_>) = plain.iter().partition(|(p, _)| cut_len(p) >= 4);
        for chunk in long.chunks(GROUP).chain(std::iter::once(&short[..])) {
            groups.push(Group::new(chunk)?);
        }
        if !zeroed.is_empty() {
            groups.push(Group::new(&zeroed)?);
        }
        let lead = groups
            .iter()
            .flat_map(|g| g.zeros.iter().copied())
            .max()
            .unwrap_or(0);
        Ok(Matcher {
            groups,
            longest,
            lead,
        })
    }

    /// Bytes a page must be read beyond its end so a header starting in it is whole.
    pub fn margin(&self) -> usize {
        self.longest - 1
    }

    /// Hits (offset within `page`, carver index) that start in `page[..owned]`,
    /// in order of offset then carver; `page` includes the margin beyond `owned`.
    pub fn hits(&self, page: &[u8], owned: usize) -> Vec<(usize, usize)> {
        let mut out = Vec::new();
        for (from, to) in busy(page, owned + self.lead, self.margin()) {
            for g in &self.groups {
                g.hits(page, from, to, owned, &mut out);
            }
        }
        out.sort_unstable();
        out.dedup();
        out
    }
}

impl Group {
    fn new(pats: &[(&[u8], usize)]) -> Result<Group, String> {
        let zeros: Vec<usize> = pats
            .iter()
            .map(|(p, _)| p.iter().take_while(|&&b| b == 0).count())
            .collect();
        if pats.iter().zip(&zeros).any(|((p, _), &z)| z == p.len()) {
            return Err("a carver header is all zero bytes".into());
        }
        let cut: Vec<Vec<u8>> = pats
            .iter()
            .zip(&zeros)
            .map(|((p, _), &z)| p[z..].to_vec())
            .collect();
        let mut firsts: Vec<u8> = cut.iter().map(|p| p[0]).collect();
        firsts.sort_unstable();
        firsts.dedup();
        let packed = || {
            let mut b = aho_corasick::packed::Config::new()
                .match_kind(aho_corasick::packed::MatchKind::LeftmostFirst)
                .heuristic_pattern_limits(false)
                .builder();
            b.extend(&cut);
            b.build()
        };
        let find = if zeros.iter().any(|&z| z > 0) && firsts.len() <= 3 {
            Find::Bytes(firsts)
        } else if let Some(p) = packed() {
            Find::Packed(p)
        } else {
            Find::Automaton(
                AhoCorasick::builder()
                    .match_kind(MatchKind::LeftmostFirst)
                    .build(&cut)
                    .map_err(|e| format!("cannot build the header matcher: {e}"))?,
            )
        };
        Ok(Group {
            find,
            owner: pats.iter().map(|p| p.1).collect(),
            zeros,
            cut,
        })
    }

    /// Pattern `p` matched with its cut part at `at`: a hit if its zeros precede.
    fn accept(&self, page: &[u8], owned: usize, p: usize, at: usize) -> Option<(usize, usize)> {
        let start = at.checked_sub(self.zeros[p])?;
        (start < owned && page[start..at].iter().all(|&b| b == 0)).then(|| (start, self.owner[p]))
    }

    /// Hits whose non-zero part starts in `page[from..to]`.
    fn hits(
        &self,
        page: &[u8],
        from: usize,
        to: usize,
        owned: usize,
        out: &mut Vec<(usize, usize)>,
    ) {
        let seg = &page[from..to];
        match &self.find {
            Find::Automaton(ac) => {
                for m in ac.find_iter(seg) {
                    out.extend(self.accept(page, owned, m.pattern().as_usize(), from + m.start()));
                }
            }
            Find::Packed(p) => {
                for m in p.find_iter(seg) {
                    out.extend(self.accept(page, owned, m.pattern().as_usize(), from + m.start()));
                }
            }
            Find::Bytes(firsts) => {
                let each = |i: usize, out: &mut Vec<(usize, usize)>| {
                    let at = from + i;
                    for (p, cut) in self.cut.iter().enumerate() {
                        if page[at..].starts_with(cut) {
                            out.extend(self.accept(page, owned, p, at));
                        }
                    }
                };
                match firsts[..] {
                    [a] => memchr::memchr_iter(a, seg).for_each(|i| each(i, out)),
                    [a, b] => memchr::memchr2_iter(a, b, seg).for_each(|i| each(i, out)),
                    [a, b, c] => memchr::memchr3_iter(a, b, c, seg).for_each(|i| each(i, out)),
                    _ => {}
                }
            }
        }
    }
}

/// Zero-filled stretches of a page hold no header's first non-zero byte, and free
/// space is mostly zeros: the page is searched only in the spans around non-zero
/// blocks, each running `margin` bytes on so a header that starts near its end is
/// whole. Blocks are looked at up to `until`. Spans are (from, to) into `page`, in
/// order, not overlapping.
fn busy(page: &[u8], until: usize, margin: usize) -> Vec<(usize, usize)> {
    const BLOCK: usize = 256;
    let mut spans: Vec<(usize, usize)> = Vec::new();
    let limit = until.min(page.len());
    let mut at = 0;
    while at < limit {
        let end = (at + BLOCK).min(limit);
        // An OR over the block vectorises; `any` with its early exit does not.
        if page[at..end].iter().fold(0u8, |a, &b| a | b) != 0 {
            let to = (end + margin).min(page.len());
            match spans.last_mut() {
                Some(last) if last.1 >= at => last.1 = to,
                _ => spans.push((at, to)),
            }
        }
        at = end;
    }
    spans
}

#[cfg(test)]
mod tests {
    use super::*;

    /// xorshift: deterministic test bytes without a dependency.
    fn noise(seed: &mut u64) -> u64 {
        *seed ^= *seed << 13;
        *seed ^= *seed >> 7;
        *seed ^= *seed << 17;
        *seed
    }

    /// Every header of every carver, planted on zeros and on noise at offsets
    /// that straddle the 256-byte blocks, is found at its offset for its carver,
    /// and every hit reported is a header of the carver it names.
    #[test]
    fn finds_every_planted_header_and_nothing_false() {
        let carvers = crate::registry();
        let m = Matcher::new(&carvers).unwrap();
        let mut seed = 0x1234_5678_9abc_def1;
        for background in [0u8, 1] {
            for (ci, c) in carvers.iter().enumerate() {
                for h in c.headers() {
                    let mut page = vec![0u8; 8192];
                    if background == 1 {
                        page.iter_mut().for_each(|b| *b = noise(&mut seed) as u8);
                    }
                    // Just before a block boundary, at the page start, and so the
                    // header runs into the margin past `owned`.
                    let owned = 8192 - m.margin();
                    for at in [0, 250, 256 - h.len() / 2, 4000, owned - 1] {
                        let mut p = page.clone();
                        p[at..at + h.len()].copy_from_slice(h);
                        let hits = m.hits(&p, owned);
                        assert!(
                            hits.contains(&(at, ci)),
                            "{} header {h:02x?} at {at} on {background} not found",
                            c.name()
                        );
                        for &(o, k) in &hits {
                            assert!(o < owned);
                            assert!(carvers[k].headers().iter().any(|h| p[o..].starts_with(h)));
                        }
                    }
                }
            }
        }
    }

    /// A header that starts in the margin belongs to the next page; one whose
    /// leading zeros lie before the page start belongs to the previous one.
    #[test]
    fn ownership_at_the_page_edges() {
        let carvers = crate::registry();
        let m = Matcher::new(&carvers).unwrap();
        let ico = carvers.iter().position(|c| c.name() == "ico").unwrap();
        let mut p = vec![0u8; 4096];
        p[4090..4094].copy_from_slice(b"\0\0\x01\0");
        assert!(!m.hits(&p, 4090).iter().any(|&(_, k)| k == ico));
        assert!(m.hits(&p, 4091).contains(&(4090, ico)));
        let mut q = vec![0xAAu8; 64];
        q[..2].copy_from_slice(b"\x01\0");
        assert!(!m.hits(&q, 64).iter().any(|&(_, k)| k == ico));
    }
}
