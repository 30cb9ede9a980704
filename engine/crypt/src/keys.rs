//! Keys the examiner gives (`--key SPEC`). A key is a secret: it is held in
//! memory only, never printed (`Debug` shows the kind), and what the case
//! records is the kind and, once a volume opens, a fingerprint of the volume
//! key it unlocked.

use sha2::Digest;

/// The secret part of a `--key`.
#[derive(Clone, PartialEq, Eq)]
pub enum Secret {
    /// A passphrase, as typed (`password=…`, or the first line of
    /// `password-file=PATH`).
    Password(Vec<u8>),
    /// A keyfile's whole content (`keyfile=PATH`): LUKS uses it as the
    /// passphrase bytes.
    KeyFile(Vec<u8>),
    /// The volume key itself (`master-key=HEX`, also `fvek=HEX`), recovered
    /// elsewhere (from memory, from another tool).
    VolumeKey(Vec<u8>),
    /// A BitLocker recovery password (`recovery=NNNNNN-…`, 48 digits in
    /// eight groups), checked for form when parsed.
    Recovery(Vec<u8>),
    /// A BitLocker startup key file (`bek=PATH`, a `.BEK`), whole.
    Bek(Vec<u8>),
    /// VeraCrypt's personal iterations multiplier (`pim=N`): not a key by
    /// itself, it changes how every password given is derived.
    Pim(u32),
    /// A LUKS header kept apart from its data (`luks-header=PATH`, made by
    /// `cryptsetup --header`): not a key by itself; the passwords and keyfiles
    /// given open its keyslots, and the volume it is aimed at (or the one whose
    /// plaintext holds a filesystem) is the data.
    LuksHeader(Vec<u8>),
}

impl Secret {
    /// The word the case records for this kind of key.
    pub fn kind(&self) -> &'static str {
        match self {
            Secret::Password(_) => "password",
            Secret::KeyFile(_) => "keyfile",
            Secret::VolumeKey(_) => "master-key",
            Secret::Recovery(_) => "recovery",
            Secret::Bek(_) => "bek",
            Secret::Pim(_) => "pim",
            Secret::LuksHeader(_) => "luks-header",
        }
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}(…)", self.kind())
    }
}

/// One `--key`: a secret, tried on every encrypted volume, or only on the one
/// named (`ev1/v2:password=…`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeySpec {
    /// `ev1/v2`: evidence label and volume index.
    pub target: Option<String>,
    pub secret: Secret,
}

impl KeySpec {
    /// Parses `[TARGET:]KIND=VALUE`, reading the files a spec names. Errors
    /// name the kind, never the value.
    pub fn parse(spec: &str) -> Result<KeySpec, String> {
        let (lhs, value) = spec.split_once('=').ok_or(
            "a key is KIND=VALUE (password=…, password-file=PATH, recovery=NNNNNN-…, bek=PATH, keyfile=PATH, pim=N, master-key=HEX, luks-header=PATH)",
        )?;
        let (target, kind) = match lhs.rsplit_once(':') {
            Some((t, k)) => (Some(t.to_string()), k),
            None => (None, lhs),
        };
        let read = |p: &str| std::fs::read(p).map_err(|e| format!("{kind} {p}: {e}"));
        let secret = match kind {
            "password" => Secret::Password(value.as_bytes().to_vec()),
            "password-file" => {
                let mut b = read(value)?;
                // The first line, as a password typed at a prompt.
                if let Some(nl) = b.iter().position(|&c| c == b'\n') {
                    b.truncate(nl);
                    if b.last() == Some(&b'\r') {
                        b.pop();
                    }
                }
                Secret::Password(b)
            }
            "keyfile" => Secret::KeyFile(read(value)?),
            "bek" => Secret::Bek(read(value)?),
            "luks-header" => Secret::LuksHeader(read(value)?),
            "pim" => Secret::Pim(
                value
                    .parse()
                    .ok()
                    .filter(|&n: &u32| (1..=2_000_000).contains(&n))
                    .ok_or("pim: a whole number from 1 (VeraCrypt's PIM)")?,
            ),
            "recovery" => {
                if recovery_key(value.as_bytes()).is_none() {
                    return Err("recovery: not a BitLocker recovery password (eight groups of six digits, each a multiple of 11, joined by '-')".into());
                }
                Secret::Recovery(value.as_bytes().to_vec())
            }
            "master-key" | "fvek" => Secret::VolumeKey(
                hex(value).ok_or_else(|| format!("{kind}: not an even number of hex digits"))?,
            ),
            k => {
                return Err(format!(
                    "unknown key kind {k:?} (password, password-file, recovery, bek, keyfile, pim, master-key, fvek, luks-header)"
                ))
            }
        };
        if target.as_deref().is_some_and(|t| !is_target(t)) {
            return Err(format!(
                "key target {:?} is not EVIDENCE/vN (as in ev1/v2)",
                target.unwrap_or_default()
            ));
        }
        Ok(KeySpec { target, secret })
    }

    /// Whether this key is to be tried on volume `vol` of evidence `label`.
    pub fn applies_to(&self, label: &str, vol: usize) -> bool {
        match &self.target {
            None => true,
            Some(t) => *t == format!("{label}/v{vol}"),
        }
    }
}

fn is_target(t: &str) -> bool {
    t.split_once("/v").is_some_and(|(ev, n)| {
        !ev.is_empty() && !n.is_empty() && n.bytes().all(|c| c.is_ascii_digit())
    })
}

fn hex(s: &str) -> Option<Vec<u8>> {
    let s: String = s
        .chars()
        .filter(|c| !c.is_whitespace() && *c != ':')
        .collect();
    if !s.len().is_multiple_of(2) || s.is_empty() {
        return None;
    }
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).ok())
        .collect()
}

/// The 16 bytes a BitLocker recovery password stands for: each of its eight
/// six-digit groups is 11 times a 16-bit number. `None` when `s` is not one.
pub(crate) fn recovery_key(s: &[u8]) -> Option<[u8; 16]> {
    let s = s.strip_suffix(b"\n").unwrap_or(s);
    let s = s.strip_suffix(b"\r").unwrap_or(s);
    let groups: Vec<&[u8]> = s.split(|&c| c == b'-').collect();
    if groups.len() != 8 {
        return None;
    }
    let mut key = [0u8; 16];
    for (i, g) in groups.iter().enumerate() {
        if g.len() != 6 || !g.iter().all(u8::is_ascii_digit) {
            return None;
        }
        let n: u32 = std::str::from_utf8(g).ok()?.parse().ok()?;
        if !n.is_multiple_of(11) || n / 11 > 0xffff {
            return None;
        }
        key[2 * i..2 * i + 2].copy_from_slice(&((n / 11) as u16).to_le_bytes());
    }
    Some(key)
}

/// What the case records of a volume key: the first 16 hex digits of its
/// SHA-256. Two examiners can compare keys without either writing one down.
pub fn fingerprint(volume_key: &[u8]) -> String {
    sha2::Sha256::digest(volume_key)
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse_with_and_without_a_target_and_never_show_the_secret() {
        let k = KeySpec::parse("password=a:b=c").unwrap();
        assert_eq!(
            (k.target, k.secret),
            (None, Secret::Password(b"a:b=c".to_vec()))
        );
        let k = KeySpec::parse("ev1/v2:master-key=00ff").unwrap();
        assert_eq!(k.target.as_deref(), Some("ev1/v2"));
        assert_eq!(k.secret, Secret::VolumeKey(vec![0, 255]));
        assert!(k.applies_to("ev1", 2) && !k.applies_to("ev1", 1));
        assert!(KeySpec::parse("ev1:password=x").is_err());
        assert!(KeySpec::parse("master-key=abc").is_err());
        assert!(KeySpec::parse("pin=1234").is_err());
        let rp = "042647-302313-590458-071500-554323-116567-412181-516978";
        assert_eq!(
            KeySpec::parse(&format!("recovery={rp}")).unwrap().secret,
            Secret::Recovery(rp.as_bytes().to_vec())
        );
        // 042647 = 11 × 3877: the first group's number, little-endian.
        assert_eq!(
            recovery_key(rp.as_bytes()).unwrap()[..2],
            3877u16.to_le_bytes()
        );
        for bad in [
            "042647-302313-590458-071500-554323-116567-412181",
            "042648-302313-590458-071500-554323-116567-412181-516978",
            "04264a-302313-590458-071500-554323-116567-412181-516978",
            "999999-302313-590458-071500-554323-116567-412181-516978",
        ] {
            assert!(KeySpec::parse(&format!("recovery={bad}")).is_err(), "{bad}");
        }
        assert!(KeySpec::parse("password").is_err());
        let shown = format!("{:?}", KeySpec::parse("password=hunter2").unwrap());
        assert!(!shown.contains("hunter2"), "{shown}");
        let dir = std::env::temp_dir().join(format!("dredge-key-{}", std::process::id()));
        std::fs::write(&dir, b"s3cret\r\nsecond line\n").unwrap();
        let k = KeySpec::parse(&format!("password-file={}", dir.display())).unwrap();
        assert_eq!(k.secret, Secret::Password(b"s3cret".to_vec()));
        let k = KeySpec::parse(&format!("keyfile={}", dir.display())).unwrap();
        assert_eq!(
            k.secret,
            Secret::KeyFile(b"s3cret\r\nsecond line\n".to_vec())
        );
        std::fs::remove_file(&dir).unwrap();
        assert_eq!(fingerprint(b"").len(), 16);
    }
}
