//! `dredge key new FILE`: the examiner's Ed25519 signing key for signed cases
//! (`dredge case new --signing-key FILE`; decision 0013).

use crate::progress::Reporter;
use clap::{Args, Subcommand};
use dredge_session::{sign, Failure};
use serde_json::json;
use std::path::PathBuf;

#[derive(Subcommand)]
pub enum KeyCmd {
    /// Write a new secret signing key to FILE (mode 0600; never overwrites) and
    /// print its public key. Keep the public key (or its fingerprint) apart from
    /// the case: `dredge verify CASE --public-key KEY` checks the case against it.
    New(KeyNewArgs),
}

#[derive(Args)]
pub struct KeyNewArgs {
    file: PathBuf,
}

pub fn run(cmd: KeyCmd, rep: &Reporter) -> Result<i32, Failure> {
    match cmd {
        KeyCmd::New(a) => {
            let public = sign::new_key_file(&a.file).map_err(|e| Failure(e.to_string()))?;
            let fp = sign::fingerprint(&public);
            rep.json(
                json!({"event": "result", "command": "key new", "file": a.file,
                            "public_key": public, "fingerprint": fp}),
            );
            if !rep.is_json() {
                println!("secret key   {} (keep it private)", a.file.display());
                println!("public key   {public}");
                println!("fingerprint  {fp}");
            }
            Ok(0)
        }
    }
}
