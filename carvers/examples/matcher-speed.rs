//! How fast the header search runs over 256 MiB of zeros and 256 MiB of
//! pseudo-random bytes, with every carver's headers: the figure behind the
//! grouping in `matcher.rs`.
use std::time::Instant;

fn main() {
    let carvers = dredge_carvers::registry();
    let m = dredge_carvers::Matcher::new(&carvers).expect("the registry's headers build");
    let patterns: usize = carvers.iter().map(|c| c.headers().len()).sum();
    println!("{} carvers, {patterns} header patterns", carvers.len());
    let zeros = vec![0u8; 256 << 20];
    let mut random = vec![0u8; 256 << 20];
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for b in random.iter_mut() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *b = x as u8;
    }
    for (name, buf) in [("zeros", &zeros), ("random", &random)] {
        let t = Instant::now();
        let mut n = 0;
        for page in buf.chunks(4 << 20) {
            n += m.hits(page, page.len()).len();
        }
        let mib_s = 256.0 / t.elapsed().as_secs_f64();
        println!("{name:>6}: {mib_s:.0} MiB/s, {n} hits");
    }
}
