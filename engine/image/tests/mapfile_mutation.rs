//! Damaged mapfiles must never crash the parser or the overlay: every ddrescue test
//! suite mapfile is mutated thousands of ways (byte flips, digit changes, truncation,
//! duplicated and deleted lines). Whatever parses must also round-trip and answer
//! queries consistently.

use dredge_core::{Extent, ImageSource};
use dredge_image::{MapOverlay, Mapfile, MemDevice, Sectored};
use dredge_testkit::Rng;
use std::path::Path;

fn mutate(src: &[u8], r: &mut Rng) -> Vec<u8> {
    let mut v = src.to_vec();
    for _ in 0..1 + r.index(4) {
        match r.index(7) {
            0 if !v.is_empty() => {
                let i = r.index(v.len());
                v[i] = r.next() as u8;
            }
            1 if !v.is_empty() => {
                let i = r.index(v.len());
                let alphabet = b"0123456789ABCDEFx?*/-+ \t\n#";
                v[i] = alphabet[r.index(alphabet.len())];
            }
            2 => v.truncate(r.index(v.len() + 1)),
            3 => {
                let lines: Vec<&[u8]> = v.split(|&b| b == b'\n').collect();
                let i = r.index(lines.len());
                let mut out = Vec::new();
                for (j, l) in lines.iter().enumerate() {
                    out.extend_from_slice(l);
                    out.push(b'\n');
                    if j == i {
                        out.extend_from_slice(l);
                        out.push(b'\n');
                    }
                }
                v = out;
            }
            4 => {
                let lines: Vec<&[u8]> = v.split(|&b| b == b'\n').collect();
                let i = r.index(lines.len());
                v = lines
                    .iter()
                    .enumerate()
                    .filter(|(j, _)| *j != i)
                    .flat_map(|(_, l)| l.iter().copied().chain(std::iter::once(b'\n')))
                    .collect();
            }
            5 => {
                let i = r.index(v.len() + 1);
                v.splice(i..i, b"0xFFFFFFFFFFFFFFFF".iter().copied());
            }
            _ => {
                let i = r.index(v.len() + 1);
                v.splice(i..i, b"0x7FFFFFFFFFFFFF00  0x00000100  -\n".iter().copied());
            }
        }
    }
    v
}

#[test]
fn mutated_mapfiles_never_panic_and_what_parses_round_trips() {
    let dir =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/testdata/ddrescue-testsuite");
    let mut seeds = Vec::new();
    for e in std::fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        if p.file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("mapfile")
        {
            seeds.push(std::fs::read(&p).unwrap());
        }
    }
    assert!(!seeds.is_empty());
    let data: Vec<u8> = (0..0x12000u32).map(|i| i as u8).collect();
    let mut r = Rng::new(0x2545_F491_4F6C_DD1D);
    let (mut parsed, mut rejected) = (0, 0);
    for case in 0..6000 {
        let seed = &seeds[case % seeds.len()];
        let bytes = mutate(seed, &mut r);
        match Mapfile::parse_bytes(&bytes) {
            Err(e) => {
                rejected += 1;
                assert!(e.offset <= bytes.len());
            }
            Ok(m) => {
                parsed += 1;
                let again = Mapfile::parse(&m.to_string()).expect("re-parse of our own output");
                assert_eq!(again.blocks.len(), m.blocks.len());
                // Status runs tile any query extent exactly.
                let q = Extent::new(r.next() % 0x14000, r.next() % 0x8000);
                let runs = m.status_runs(q);
                let mut cur = q.start;
                for (e, _) in &runs {
                    assert_eq!(e.start, cur);
                    cur = e.end();
                }
                assert_eq!(cur, q.end().max(q.start));
                // Reading through it is total whatever it says.
                let src = MapOverlay::new(Sectored::new(MemDevice::new(data.clone())), m);
                let mut buf = vec![0u8; (r.next() % 9000) as usize];
                let rep = src.read_at(r.next() % 0x13000, &mut buf).unwrap();
                assert!(rep.synthesized_bytes() <= buf.len() as u64);
            }
        }
    }
    assert!(
        parsed > 500 && rejected > 500,
        "parsed {parsed}, rejected {rejected}"
    );
}
