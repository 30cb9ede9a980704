//! Password recovery hand-off (`dredge hashes`): for a protector that a
//! password opens, the line hashcat or John the Ripper takes to search for
//! that password on a lab's GPU cluster, built from the metadata alone.
//! BitLocker: `$bitlocker$T$16$SALT$1048576$12$NONCE$60$TAG+VMK` (hashcat
//! mode 22100 and John's `bitlocker` format): T = 1 for a user password
//! (checked by the whole AES-CCM tag, so no false hits), 3 for a recovery
//! password (John only: hashcat's 22100 takes types 0 and 1).

use crate::bitlocker::BitLocker;

/// One line to hand to a password cracker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrackLine {
    /// The protector's GUID.
    pub protector: String,
    /// What the password is ("password", "recovery password").
    pub kind: &'static str,
    /// The hashcat mode that takes the line, if any.
    pub hashcat_mode: Option<u32>,
    pub line: String,
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Lines for every password and recovery password protector of `b`.
pub fn bitlocker_lines(b: &BitLocker) -> Vec<CrackLine> {
    let mut out = Vec::new();
    for v in &b.material.vmks {
        let (Some(salt), Some(w)) = (&v.salt, &v.wrapped) else {
            continue;
        };
        // The wrapped VMK: a 44-byte key datum (header, method, 32-byte key).
        if w.data.len() != 44 {
            continue;
        }
        let (t, kind, mode) = match v.protection {
            0x2000 => (1, "password", Some(22100)),
            0x0800 => (3, "recovery password", None),
            _ => continue,
        };
        out.push(CrackLine {
            protector: v.guid.clone(),
            kind,
            hashcat_mode: mode,
            line: format!(
                "$bitlocker${t}$16${}$1048576$12${}$60${}{}",
                hex(salt),
                hex(&w.nonce),
                hex(&w.tag),
                hex(&w.data)
            ),
        });
    }
    out
}

/// Checks `line` (a `$bitlocker$` line) against `password` the way a cracker
/// does: the stretched password must unwrap the VMK. For tests and for
/// `dredge hashes --check`.
pub fn bitlocker_line_opens(line: &str, password: &[u8]) -> bool {
    let f: Vec<&str> = line.split('$').collect();
    // "", "bitlocker", type, 16, salt, iterations, 12, nonce, 60, data
    if f.len() != 10 || f[1] != "bitlocker" {
        return false;
    }
    let unhex = |s: &str| -> Option<Vec<u8>> {
        (s.len().is_multiple_of(2))
            .then(|| {
                (0..s.len() / 2)
                    .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).ok())
                    .collect()
            })
            .flatten()
    };
    let (Some(salt), Some(nonce), Some(data)) = (unhex(f[4]), unhex(f[7]), unhex(f[9])) else {
        return false;
    };
    if salt.len() != 16
        || nonce.len() != 12
        || data.len() != 60
        || (f[3], f[5], f[6], f[8]) != ("16", "1048576", "12", "60")
    {
        return false;
    }
    let mut s = [0u8; 16];
    s.copy_from_slice(&salt);
    let key = match f[2] {
        "0" | "1" => crate::bitlocker_open::password_key(password, &s),
        "2" | "3" => crate::bitlocker_open::recovery_password_key(password, &s),
        _ => None,
    };
    let Some(key) = key else { return false };
    let mut w = crate::bitlocker::Wrapped {
        data: data[16..].to_vec(),
        ..Default::default()
    };
    w.nonce.copy_from_slice(&nonce);
    w.tag.copy_from_slice(&data[..16]);
    crate::bitlocker_open::unwrap(&key, &w).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// hashcat's own self-test hash for mode 22100 (module_22100.c, MIT) and
    /// its password: our reading of the line and our KDF agree with theirs.
    #[test]
    fn hashcats_self_test_line_opens_with_its_password_and_not_another() {
        let st = "$bitlocker$1$16$6f972989ddc209f1eccf07313a7266a2$1048576$12$3a33a8eaff5e6f81d907b591$60$316b0f6d4cb445fb056f0e3e0633c413526ff4481bbf588917b70a4e8f8075f5ceb45958a800b42cb7ff9b7f5e17c6145bf8561ea86f52d3592059fb";
        assert!(bitlocker_line_opens(st, b"hashcat"));
        assert!(!bitlocker_line_opens(st, b"hashcas"));
        assert!(!bitlocker_line_opens(
            &st.replace("$60$", "$61$"),
            b"hashcat"
        ));
    }
}
