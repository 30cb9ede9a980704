//! Integers stored at an offset of a byte slice, for every parser: one copy, so
//! a fix or a bounds rule holds for all. Each returns the width the caller asks
//! for (`let n: u64 = le32(b, o)`), never a narrower one. Callers check the
//! bounds first; a short slice panics, which a unit boundary contains.

/// A little-endian `u16` at `o`, widened to `T`.
pub fn le16<T: From<u16>>(b: &[u8], o: usize) -> T {
    T::from(u16::from_le_bytes([b[o], b[o + 1]]))
}

/// A little-endian `u32` at `o`, widened to `T`.
pub fn le32<T: From<u32>>(b: &[u8], o: usize) -> T {
    T::from(u32::from_le_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]]))
}

/// A little-endian `u64` at `o`.
pub fn le64(b: &[u8], o: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[o..o + 8]);
    u64::from_le_bytes(a)
}

/// A big-endian `u16` at `o`, widened to `T`.
pub fn be16<T: From<u16>>(b: &[u8], o: usize) -> T {
    T::from(u16::from_be_bytes([b[o], b[o + 1]]))
}

/// A big-endian `u32` at `o`, widened to `T`.
pub fn be32<T: From<u32>>(b: &[u8], o: usize) -> T {
    T::from(u32::from_be_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]]))
}

/// A big-endian `u64` at `o`.
pub fn be64(b: &[u8], o: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[o..o + 8]);
    u64::from_be_bytes(a)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_read_at_their_offset_in_their_order_and_widen() {
        let b = [0xff, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08];
        assert_eq!(le16::<u16>(&b, 1), 0x0201);
        assert_eq!(le16::<u64>(&b, 1), 0x0201);
        assert_eq!(le32::<u32>(&b, 1), 0x0403_0201);
        assert_eq!(le64(&b, 1), 0x0807_0605_0403_0201);
        assert_eq!(be16::<u32>(&b, 1), 0x0102);
        assert_eq!(be32::<u64>(&b, 1), 0x0102_0304);
        assert!(std::panic::catch_unwind(|| le32::<u32>(&b, 6)).is_err());
    }
}
