//! UTC timestamps without a calendar crate: custody records need only "now" as
//! RFC 3339 with microseconds, and dates from evidence need the same conversion.

use std::time::{SystemTime, UNIX_EPOCH};

/// Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Days since 1970-01-01 of a civil date (inverse of `civil_from_days`).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `YYYY-MM-DDTHH:MM:SS.ffffffZ` for seconds and microseconds since the epoch.
pub fn format_utc(secs: i64, micros: u32) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400) as u32;
    let (y, m, d) = civil_from_days(days);
    let (h, mi, s) = (rem / 3600, (rem / 60) % 60, rem % 60);
    // Digits written in place for the years of any real clock: a walk formats
    // four times per file, and `format!` was a tenth of walking a million
    // files. Years outside 0..=9999 (damaged or hostile times) and
    // out-of-range microseconds take the general path, as before.
    if (0..=9999).contains(&y) && micros < 1_000_000 {
        let mut b = *b"0000-00-00T00:00:00.000000Z";
        for (at, len, v) in [
            (0, 4, y as u32),
            (5, 2, m),
            (8, 2, d),
            (11, 2, h),
            (14, 2, mi),
            (17, 2, s),
            (20, 6, micros),
        ] {
            let mut v = v;
            for c in b[at..at + len].iter_mut().rev() {
                *c = b'0' + (v % 10) as u8;
                v /= 10;
            }
        }
        return b.iter().map(|&c| char::from(c)).collect();
    }
    format!("{y:04}-{m:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{micros:06}Z")
}

pub fn utc_now() -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    format_utc(now.as_secs() as i64, now.subsec_micros())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The digits written in place are what `format!` writes, for every kind
    /// of time: before 1970, leap days, the years' edges, out-of-range parts.
    #[test]
    fn in_place_digits_are_the_general_format() {
        let general = |secs: i64, micros: u32| {
            let days = secs.div_euclid(86_400);
            let rem = secs.rem_euclid(86_400);
            let (y, m, d) = civil_from_days(days);
            format!(
                "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{micros:06}Z",
                rem / 3600,
                (rem / 60) % 60,
                rem % 60
            )
        };
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        let mut secs: Vec<(i64, u32)> = (0..20_000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                ((x as i64) % 400_000_000_000, (x >> 40) as u32 % 1_100_000)
            })
            .collect();
        let y10k = days_from_civil(10_000, 1, 1) * 86_400;
        let y0 = days_from_civil(0, 1, 1) * 86_400;
        secs.extend([
            (0, 0),
            (-1, 999_999),
            (951_782_400, 5),
            (y10k - 1, 0),
            (y10k, 0),
            (y0, 0),
            (y0 - 1, 7),
            (5, 1_000_000),
            (i64::MAX / 1000, 3),
        ]);
        for (s, us) in secs {
            assert_eq!(format_utc(s, us), general(s, us), "{s} {us}");
        }
    }

    #[test]
    fn known_dates() {
        assert_eq!(format_utc(0, 0), "1970-01-01T00:00:00.000000Z");
        assert_eq!(format_utc(951_782_400, 5), "2000-02-29T00:00:00.000005Z");
        assert_eq!(format_utc(-2_140_541_633, 0), "1902-03-04T05:06:07.000000Z");
        assert_eq!(format_utc(2_208_988_799, 0), "2039-12-31T23:59:59.000000Z");
        for (y, m, d) in [
            (1970, 1, 1),
            (1980, 1, 1),
            (2000, 2, 29),
            (2107, 12, 31),
            (1902, 3, 4),
        ] {
            let days = days_from_civil(y, m, d);
            assert_eq!(civil_from_days(days), (y, m, d));
        }
        assert_eq!(days_from_civil(1980, 1, 1) * 86_400, 315_532_800);
    }
}
