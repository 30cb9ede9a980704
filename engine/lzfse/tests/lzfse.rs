//! LZFSE against Apple's reference encoder: the streams in
//! testimages/lzfse were written by it (testimages/make-lzfse.py; LZVN, LZFSE
//! and stored blocks), and each decodes to the size and SHA-256 the
//! generator recorded. Then damage: a cut or flipped stream keeps what
//! decoded before the damage and never panics.

use dredge_lzfse::{decode, Error};
use sha2::{Digest, Sha256};
use std::path::Path;

fn streams() -> Vec<(String, Vec<u8>, usize, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testimages/lzfse");
    let sums = std::fs::read_to_string(dir.join("SHA256SUMS")).unwrap();
    sums.lines()
        .map(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            let data = std::fs::read(dir.join(format!("{}.lzfse", f[2]))).unwrap();
            (
                f[2].to_string(),
                data,
                f[1].parse().unwrap(),
                f[0].to_string(),
            )
        })
        .collect()
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[test]
fn reference_encoder_streams_decode_to_their_originals() {
    let all = streams();
    assert!(all.len() >= 6);
    for (name, data, size, sha) in &all {
        let mut out = Vec::new();
        assert_eq!(decode(data, &mut out, usize::MAX), Ok(()), "{name}");
        assert_eq!(out.len(), *size, "{name}");
        assert_eq!(&hex(&Sha256::digest(&out)), sha, "{name}");
        // A limit stops the output there, the bytes before it the same.
        let mut part = Vec::new();
        let _ = decode(data, &mut part, size / 3);
        assert_eq!(part[..], out[..size / 3], "{name}");
    }
}

#[test]
fn cut_and_flipped_streams_keep_what_decoded_and_never_panic() {
    let (mut r, cases) = dredge_testkit::mutation_setup(0x6C7A_6673_6521);
    // The two-megabyte stream of zeros is left out: every case would
    // rebuild it byte by byte.
    let all: Vec<_> = streams().into_iter().filter(|s| s.2 < 1 << 20).collect();
    let mut failed = 0;
    for case in 0..cases {
        let (_, data, size, _) = &all[case % all.len()];
        let mut bad = data.clone();
        if r.below(3) == 0 {
            bad.truncate(r.below(bad.len() as u64) as usize);
        } else {
            // Mostly the block headers and tables, sometimes anywhere.
            let span = if r.below(2) == 0 {
                bad.len().min(200)
            } else {
                bad.len()
            };
            for _ in 0..1 + r.below(4) {
                let i = r.below(span as u64) as usize;
                bad[i] = r.next() as u8;
            }
        }
        let mut out = Vec::new();
        let res = decode(&bad, &mut out, size + 4096);
        assert!(out.len() <= size + 4096);
        if res.is_err() {
            failed += 1;
            assert!(matches!(res, Err(Error::Truncated | Error::Corrupt)));
        }
    }
    assert!(failed > 0, "no damage was ever noticed");
}
