//! Decoding speed of an LZFSE stream: `cargo run --release -p dredge-lzfse
//! --example lzfse-speed FILE.lzfse [ROUNDS]` prints the output size and
//! MB/s of output (best of ROUNDS, default 5). docs/benchmarks.md compares
//! it with Apple's reference decoder on the same file.

use std::time::Instant;

fn main() {
    let mut args = std::env::args().skip(1);
    let path = args.next().expect("FILE.lzfse");
    let rounds: usize = args.next().and_then(|r| r.parse().ok()).unwrap_or(5);
    let data = std::fs::read(&path).expect("read");
    let mut best = f64::MAX;
    let mut size = 0;
    for _ in 0..rounds {
        let mut out = Vec::new();
        let t = Instant::now();
        dredge_lzfse::decode(&data, &mut out, usize::MAX).expect("a stream that decodes");
        best = best.min(t.elapsed().as_secs_f64());
        size = out.len();
    }
    println!(
        "{path}: {} bytes in, {size} out, best {:.3} s, {:.0} MB/s",
        data.len(),
        best,
        size as f64 / best / 1e6
    );
}
