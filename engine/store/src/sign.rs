//! Signed heads (decision 0013): a case created with an examiner's Ed25519 key
//! signs every custody event's `seq hash` as it is appended, so rewriting the log
//! — even rewriting all of it and the anchor consistently — needs that key.
//!
//! The public key and the key file's path go in the `case.create` event, so they
//! are chained like every other fact; the signatures live in `head_signatures`,
//! written in the same transaction as their event. The secret never enters the
//! store. A later append finds the key at the recorded path, or at
//! `DREDGE_SIGNING_KEY` when the examiner keeps it elsewhere (a removable token);
//! without it the append is refused rather than left unsigned.
//!
//! A chain rewritten from its first event with another key still verifies
//! against itself; what catches that is the examiner's public key held outside
//! the case (`verify --public-key`), or a head printed in a report.

use crate::{sql_err, ChainBreak, Result, Store, StoreError};
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use rusqlite::{params, Connection, OptionalExtension};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// The first word of a key file, so a stray file is never taken for a key.
const KEY_TAG: &str = "dredge-ed25519-secret";
/// Environment variable naming the key file, over the path the case records.
pub const KEY_ENV: &str = "DREDGE_SIGNING_KEY";

/// What is signed for event `seq`: its hash commits to every event before it.
fn message(seq: i64, hash: &str) -> Vec<u8> {
    format!("dredge custody head v1 {seq} {hash}").into_bytes()
}

/// A short, printable name for a public key (first 16 hex digits of its SHA-256).
pub fn fingerprint(public_hex: &str) -> String {
    let d = Sha256::digest(public_hex.as_bytes());
    hex::encode(&d[..8])
}

/// Writes a new secret key to `path` (which must not exist; mode 0600) and
/// returns its public key in hex.
pub fn new_key_file(path: &Path) -> Result<String> {
    let mut seed = [0u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut seed))
        .map_err(|e| StoreError::new(Path::new("/dev/urandom"), e.to_string()))?;
    let key = SigningKey::from_bytes(&seed);
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| StoreError::new(path, e.to_string()))?;
    f.write_all(format!("{KEY_TAG} {}\n", hex::encode(seed)).as_bytes())
        .and_then(|()| f.sync_all())
        .map_err(|e| StoreError::new(path, e.to_string()))?;
    Ok(hex::encode(key.verifying_key().to_bytes()))
}

/// Reads a key file written by [`new_key_file`].
pub fn load_key(path: &Path) -> Result<SigningKey> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| StoreError::new(path, format!("cannot read the signing key: {e}")))?;
    let mut words = text.split_whitespace();
    let bad = || {
        StoreError::new(
            path,
            format!("not a dredge signing key (expected `{KEY_TAG} <64 hex digits>`; make one with `dredge key new`)"),
        )
    };
    if words.next() != Some(KEY_TAG) {
        return Err(bad());
    }
    let seed: [u8; 32] = words
        .next()
        .and_then(|h| hex::decode(h).ok())
        .and_then(|b| b.try_into().ok())
        .ok_or_else(bad)?;
    Ok(SigningKey::from_bytes(&seed))
}

pub(crate) fn public_hex(key: &SigningKey) -> String {
    hex::encode(key.verifying_key().to_bytes())
}

/// The public key and key path the case was created with, from its first event.
pub(crate) fn recorded(conn: &Connection) -> rusqlite::Result<Option<(String, PathBuf)>> {
    let params: Option<String> = conn
        .query_row("SELECT params FROM custody WHERE seq = 1", [], |r| r.get(0))
        .optional()?;
    let Some(v) = params.and_then(|p| serde_json::from_str::<Value>(&p).ok()) else {
        return Ok(None);
    };
    Ok(
        match (
            v["signing_public_key"].as_str(),
            v["signing_key_path"].as_str(),
        ) {
            (Some(k), p) => Some((k.to_string(), PathBuf::from(p.unwrap_or_default()))),
            _ => None,
        },
    )
}

impl Store {
    /// The examiner's public key (hex), when the case is signed.
    pub fn signing_public_key(&self) -> Result<Option<String>> {
        Ok(recorded(&self.conn)
            .map_err(sql_err(&self.db_path_buf()))?
            .map(|(k, _)| k))
    }

    /// Whether this process can append: always for an unsigned case, and for a
    /// signed one only with its key at hand.
    pub fn ready_to_append(&mut self) -> Result<()> {
        self.signer().map(|_| ())
    }

    /// The key that signs this case's appends, loaded once; `None` for an
    /// unsigned case. Refuses a key other than the one the case was created with.
    pub(crate) fn signer(&mut self) -> Result<Option<&SigningKey>> {
        if self.signer.is_none() {
            let db = self.db_path_buf();
            let Some((public, path)) = recorded(&self.conn).map_err(sql_err(&db))? else {
                return Ok(None);
            };
            let path = std::env::var_os(KEY_ENV).map_or(path, PathBuf::from);
            let key = load_key(&path).map_err(|e| {
                StoreError::new(
                    &path,
                    format!(
                        "this case is signed (key {}) and nothing can be added without its key: {} (set {KEY_ENV} to where the key is)",
                        fingerprint(&public),
                        e.detail
                    ),
                )
            })?;
            if public_hex(&key) != public {
                return Err(StoreError::new(
                    &path,
                    format!(
                        "is key {}, but this case is signed with key {}",
                        fingerprint(&public_hex(&key)),
                        fingerprint(&public)
                    ),
                ));
            }
            self.signer = Some(key);
        }
        Ok(self.signer.as_ref())
    }

    /// Signs every event after `after` (those the current transaction appended).
    pub(crate) fn sign_new(
        key: &SigningKey,
        conn: &Connection,
        after: i64,
    ) -> rusqlite::Result<()> {
        let mut st = conn.prepare("SELECT seq, hash FROM custody WHERE seq > ?1 ORDER BY seq")?;
        let new: Vec<(i64, String)> = st
            .query_map([after], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        for (seq, hash) in new {
            let sig = key.sign(&message(seq, &hash));
            conn.execute(
                "INSERT INTO head_signatures (seq, signature) VALUES (?1, ?2)",
                params![seq, hex::encode(sig.to_bytes())],
            )?;
        }
        Ok(())
    }

    /// Checks every event's signature against the case's public key (for a chain
    /// already checked), and that an unsigned case holds no signatures.
    pub(crate) fn verify_signatures(&self) -> Result<std::result::Result<(), ChainBreak>> {
        let db = self.db_path_buf();
        let rec = recorded(&self.conn).map_err(sql_err(&db))?;
        let sigs: Vec<(i64, Option<String>, String)> = self.rows(
            "SELECT c.seq, s.signature, c.hash FROM custody c
                 LEFT JOIN head_signatures s ON s.seq = c.seq ORDER BY c.seq",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?;
        let Some((public, _)) = rec else {
            return Ok(match sigs.iter().find(|s| s.1.is_some()) {
                Some((seq, _, _)) => Err(ChainBreak {
                    seq: *seq,
                    detail: format!("event {seq} has a signature but the case records no signing key: its first event was rewritten"),
                }),
                None => Ok(()),
            });
        };
        let key = hex::decode(&public)
            .ok()
            .and_then(|b| <[u8; 32]>::try_from(b).ok())
            .and_then(|b| VerifyingKey::from_bytes(&b).ok());
        let Some(key) = key else {
            return Ok(Err(ChainBreak {
                seq: 1,
                detail: format!("the case's signing key {public:?} is not an Ed25519 public key"),
            }));
        };
        for (seq, sig, hash) in sigs {
            let ok = sig
                .as_deref()
                .and_then(|s| hex::decode(s).ok())
                .and_then(|b| Signature::from_slice(&b).ok())
                .is_some_and(|s| key.verify_strict(&message(seq, &hash), &s).is_ok());
            if !ok {
                let what = if sig.is_none() {
                    "has no signature"
                } else {
                    "has a signature that does not verify"
                };
                return Ok(Err(ChainBreak {
                    seq,
                    detail: format!(
                        "event {seq} {what} under the case's key {}: the log was changed by someone without that key",
                        fingerprint(&public)
                    ),
                }));
            }
        }
        Ok(Ok(()))
    }
}
