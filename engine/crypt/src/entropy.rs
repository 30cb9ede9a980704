//! "Possible VeraCrypt/TrueCrypt container" (issue 13): such a volume
//! decrypts with no header anyone can recognise, so without the password it
//! is indistinguishable from random data. What can be said is that a volume
//! no reader recognises is random-looking throughout and has a container's
//! shape; the finding says so and asks for the password. Compressed data and
//! a disk wiped with random bytes look the same: the finding says "possible".

use dredge_core::{Finding, VolumeReader};

/// Samples read across the volume.
const SAMPLES: u64 = 16;
const SAMPLE: usize = 4096;
/// Random 4 KiB has an entropy of about 7.955 bits per byte; text, code and
/// filesystem structures far less.
const MIN_BITS: f64 = 7.9;
/// VeraCrypt's smallest container (FAT) is 292 KiB; its headers alone 256 KiB.
const MIN_SIZE: u64 = 256 * 1024;

/// Whether `b` (a VeraCrypt salt and encrypted header, say) looks random:
/// many distinct byte values (512 random bytes have about 220; zeros, text
/// and filesystem structures far fewer).
pub fn looks_random(b: &[u8]) -> bool {
    let mut seen = [false; 256];
    b.iter().for_each(|&x| seen[x as usize] = true);
    let distinct = seen.iter().filter(|&&s| s).count();
    b.len() >= 512 && distinct >= 180
}

fn bits_per_byte(b: &[u8]) -> f64 {
    let mut n = [0u32; 256];
    b.iter().for_each(|&x| n[x as usize] += 1);
    let len = b.len() as f64;
    n.iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = f64::from(c) / len;
            -p * p.log2()
        })
        .sum()
}

/// A finding when `vol` (which no reader recognised) could be a VeraCrypt or
/// TrueCrypt container: a multiple of 512 bytes, at least 256 KiB, its first
/// sector random-looking and 16 samples across it all of 7.9 bits per byte or
/// more. Unreadable samples count against it.
pub fn possible_container(vol: &VolumeReader) -> Option<Finding> {
    let read = |at: u64, buf: &mut [u8]| vol.read_at(at, buf).is_ok_and(|r| r.is_clean());
    let (len, low) = container_shape(vol.len(), read)?;
    Some(Finding::new(
        vol.base(),
        format!(
            "possible VeraCrypt/TrueCrypt container: no filesystem or header recognised, {len} bytes (a multiple of 512), random-looking throughout ({SAMPLES} samples, the lowest {low:.3} bits per byte). Without its password it cannot be told from random data (compressed data, a disk wiped with random bytes); give --key password=… (and keyfile=, pim=) to open it"
        ),
    ))
}

/// Whether `len` bytes that `read` gives (true: read whole) have a VeraCrypt
/// or TrueCrypt container's shape: a multiple of 512 bytes, at least 256 KiB,
/// the first sector random-looking, 16 samples across all of 7.9 bits per
/// byte or more. The length and the lowest sample's bits per byte.
pub fn container_shape(len: u64, read: impl Fn(u64, &mut [u8]) -> bool) -> Option<(u64, f64)> {
    if len < MIN_SIZE || !len.is_multiple_of(512) {
        return None;
    }
    let mut first = [0u8; 512];
    if !read(0, &mut first) || !looks_random(&first) {
        return None;
    }
    let mut low = f64::MAX;
    let mut buf = vec![0u8; SAMPLE];
    for i in 0..SAMPLES {
        let at = (len - SAMPLE as u64) / (SAMPLES - 1) * i / 512 * 512;
        if !read(at, &mut buf) {
            return None;
        }
        low = low.min(bits_per_byte(&buf));
        if low < MIN_BITS {
            return None;
        }
    }
    Some((len, low))
}

#[cfg(test)]
mod tests {
    use super::*;
    use dredge_core::Extent;
    use dredge_testkit::MemSource;
    use std::sync::Arc;

    fn vol(b: Vec<u8>) -> VolumeReader {
        let n = b.len() as u64;
        VolumeReader::new(Arc::new(MemSource(b)), Extent::new(0, n))
    }

    #[test]
    fn random_volumes_are_possible_containers_and_structured_ones_are_not() {
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        let random: Vec<u8> = (0..1 << 20)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 24) as u8
            })
            .collect();
        assert!(possible_container(&vol(random.clone())).is_some());
        // Zeros in one sample (a wiped stretch, a sparse area) are enough.
        let mut holed = random.clone();
        holed[600_000..700_000].fill(0);
        assert!(possible_container(&vol(holed)).is_none());
        // Text, and a size no container has.
        assert!(possible_container(&vol(b"lorem ipsum ".repeat(90_000))).is_none());
        assert!(possible_container(&vol(random[..300_001].to_vec())).is_none());
        assert!(possible_container(&vol(random[..200 * 1024].to_vec())).is_none());
    }
}
