//! SQLite validator.

use crate::{partial, Carver, Reader, Verdict};

/// SQLite: header page size × the in-header page count (trusted only when the
/// "version valid for" counter equals the change counter); the first page must be a
/// b-tree page.
pub struct Sqlite;

impl Carver for Sqlite {
    fn name(&self) -> &'static str {
        "sqlite"
    }
    fn extension(&self, _: Option<&'static str>) -> &'static str {
        "sqlite"
    }
    fn headers(&self) -> &'static [&'static [u8]] {
        &[b"SQLite format 3\0"]
    }
    fn min_size(&self) -> u64 {
        512
    }
    fn max_size(&self) -> u64 {
        4 << 30
    }
    fn check(&self, r: &mut Reader<'_>) -> Verdict {
        let (Some(ps), Some(change), Some(pages), Some(valid_for), Some(btree)) =
            (r.be16(16), r.be32(24), r.be32(28), r.be32(92), r.u8(100))
        else {
            return Verdict::Reject;
        };
        let ps = if ps == 1 { 65536 } else { u64::from(ps) };
        if !(512..=65536).contains(&ps) || !ps.is_power_of_two() || !matches!(btree, 0x05 | 0x0D) {
            return Verdict::Reject;
        }
        if pages == 0 || change != valid_for {
            return partial(ps, "database size not recorded in the header");
        }
        let len = ps * u64::from(pages);
        if len > r.limit() {
            return partial(r.limit(), "cut off before its last page");
        }
        // Length from the header; the pages themselves are not checked (a
        // fragmented database carved contiguously would pass).
        Verdict::Unverified { len, subtype: None }
    }
}
