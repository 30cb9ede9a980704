//! Decryption throughput of the sector ciphers on one core, as the pass uses
//! them (whole 4 MiB blocks of 512- or 4096-byte sectors, in place, through
//! `decrypt_sectors`). Run with
//! `cargo run --release -p dredge-crypt --example sector_speed [MIB]`; the
//! issue's target for AES-XTS is 1 GB/s per core with AES-NI.

use dredge_crypt::SectorCipher;
use std::time::Instant;

fn main() {
    let mib: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(1024);
    let mut block = vec![0x5au8; 4 << 20];
    println!("one core, {mib} MiB each, 4 MiB blocks decrypted in place");
    for (spec, key_len, sector) in [
        ("aes-xts-plain64", 64, 512),
        ("aes-xts-plain64", 64, 4096),
        ("aes-xts-plain64", 32, 512),
        ("aes-cbc-essiv:sha256", 32, 512),
        // BitLocker's CBC modes (Windows 7 and earlier defaults).
        ("aes-cbc-eboiv", 16, 512),
        ("aes-cbc-elephant", 32, 512),
        ("serpent-xts-plain64", 64, 512),
        ("twofish-xts-plain64", 64, 512),
    ] {
        let c = SectorCipher::new(spec, &vec![7u8; key_len]).expect("a cipher dredge reads");
        // Serpent and Twofish are slower than AES with its instructions: an
        // eighth of the bytes gives their rate as well.
        let mib = if spec.starts_with("aes") {
            mib
        } else {
            (mib / 8).max(4)
        };
        let started = Instant::now();
        let mut n = 0u64;
        for _ in 0..mib / 4 {
            c.decrypt_sectors(sector, |i| n + i as u64, &mut block);
            n += (block.len() / sector) as u64;
        }
        let secs = started.elapsed().as_secs_f64();
        println!(
            "{spec:22} {:4}-bit key {sector:5}-byte sectors  {:7.2} GB/s",
            key_len * 8
                / if spec.contains("xts") || spec.contains("elephant") {
                    2
                } else {
                    1
                },
            (mib as f64 * 1048576.0) / secs / 1e9
        );
    }
    std::hint::black_box(&block);
}
