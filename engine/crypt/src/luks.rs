//! LUKS1 and LUKS2 headers (cryptsetup's on-disk formats: LUKS1 `docs/on-disk-
//! format.pdf`, LUKS2 `docs/on-disk-format-luks2.pdf`). Both begin with the magic
//! `LUKS\xba\xbe` and a big-endian version. LUKS1 is one 592-byte binary header
//! with eight keyslots; LUKS2 is a 4 KiB binary header followed by a JSON area
//! (keyslots, segments, digests), written twice: the secondary copy, magic
//! `SKUL\xba\xbe`, lies at the primary's size. Nothing here is trusted to be
//! sane: lengths are bounded before anything is read, and a damaged primary
//! LUKS2 header falls back to the secondary one with a finding.

use dredge_core::bytes::be64;
use dredge_core::{Finding, VolumeReader};
use serde_json::Value;

const MAGIC: &[u8; 6] = b"LUKS\xba\xbe";
const MAGIC2: &[u8; 6] = b"SKUL\xba\xbe";
/// LUKS2 header sizes cryptsetup writes (binary header and JSON area together):
/// 16 KiB to 4 MiB, each a power of two. Also where a secondary header may be.
const LUKS2_SIZES: [u64; 9] = [
    16 << 10,
    32 << 10,
    64 << 10,
    128 << 10,
    256 << 10,
    512 << 10,
    1 << 20,
    2 << 20,
    4 << 20,
];
const LUKS1_ACTIVE: u32 = 0x00AC_71F3;

/// A LUKS header, as read.
#[derive(Debug, Clone)]
pub struct Luks {
    pub version: u16,
    pub uuid: String,
    /// LUKS2 only (LUKS1 has none).
    pub label: Option<String>,
    /// `cipher-mode`, e.g. `aes-xts-plain64`.
    pub cipher: String,
    /// Bits of the volume key.
    pub key_bits: u64,
    /// Byte offset of the encrypted data in the volume (the first segment's).
    pub data_offset: u64,
    /// One line per active keyslot: its id, KDF and parameters.
    pub keyslots: Vec<String>,
    /// LUKS2: one line per segment.
    pub segments: Vec<String>,
    /// What did not read cleanly (a damaged primary header, a JSON field missing).
    pub problems: Vec<String>,
    /// What opening the volume needs: the binary header or the JSON area.
    pub(crate) raw: Raw,
}

/// The header as stored, for opening.
#[derive(Debug, Clone)]
pub(crate) enum Raw {
    /// The 592-byte LUKS1 header.
    V1(Vec<u8>),
    /// The LUKS2 JSON area.
    V2(Value),
}

/// The version at the start of the volume, if it holds the LUKS magic.
pub(crate) fn magic(vol: &VolumeReader) -> Option<u16> {
    let mut b = [0u8; 8];
    vol.read_at(0, &mut b).ok()?;
    (&b[..6] == MAGIC).then(|| u16::from_be_bytes([b[6], b[7]]))
}

/// Checks a LUKS2 header's checksum: the hash its `checksum_alg` names, over
/// the binary header (its checksum field zeroed) and the JSON area, against
/// the stored one. A header edited or damaged after cryptsetup wrote it fails,
/// and the other copy is read instead.
fn checksum(h: &[u8; 4096], area: &[u8]) -> Result<(), String> {
    use sha2::Digest;
    let mut zeroed = *h;
    zeroed[448..512].fill(0);
    let got: Vec<u8> = match text(&h[72..104]).as_str() {
        "sha256" => sha2::Sha256::new()
            .chain_update(zeroed)
            .chain_update(area)
            .finalize()
            .to_vec(),
        "sha512" => sha2::Sha512::new()
            .chain_update(zeroed)
            .chain_update(area)
            .finalize()
            .to_vec(),
        "sha1" => sha1::Sha1::new()
            .chain_update(zeroed)
            .chain_update(area)
            .finalize()
            .to_vec(),
        other => {
            return Err(format!(
                "checksum algorithm {other:?} is not one dredge checks"
            ))
        }
    };
    if h[448..448 + got.len()] != got[..] {
        return Err(
            "checksum mismatch: the header was changed or damaged after it was written".into(),
        );
    }
    Ok(())
}

/// A NUL-padded text field.
pub(crate) fn text(b: &[u8]) -> String {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).into_owned()
}

/// A big-endian `u32` (the header's integers; one copy in `dredge_core`).
pub(crate) fn be32(b: &[u8], at: usize) -> u32 {
    dredge_core::bytes::be32(b, at)
}

impl Luks {
    pub fn read(vol: &VolumeReader) -> Result<Luks, Finding> {
        let base = vol.base();
        match magic(vol) {
            Some(1) => Luks::v1(vol),
            Some(2) => Luks::v2(vol),
            Some(v) => {
                Err(Finding::new(base, "LUKS header of an unknown version").expected("1 or 2", v))
            }
            None => Err(Finding::new(base, "no LUKS header")),
        }
    }

    /// "luks1" or "luks2": the reader's type name.
    pub fn kind(&self) -> &'static str {
        if self.version == 1 {
            "luks1"
        } else {
            "luks2"
        }
    }

    fn v1(vol: &VolumeReader) -> Result<Luks, Finding> {
        let mut h = [0u8; 592];
        vol.read_at(0, &mut h)
            .map_err(|e| Finding::new(vol.base(), format!("LUKS1 header unreadable: {e}")))?;
        let mut keyslots = Vec::new();
        for i in 0..8 {
            let k = 208 + 48 * i;
            if be32(&h, k) != LUKS1_ACTIVE {
                continue;
            }
            keyslots.push(format!(
                "keyslot {i}: pbkdf2-{}, {} iterations, {} anti-forensic stripes, key material at sector {}",
                text(&h[72..104]),
                be32(&h, k + 4),
                be32(&h, k + 44),
                be32(&h, k + 40)
            ));
        }
        Ok(Luks {
            version: 1,
            uuid: text(&h[168..208]),
            label: None,
            cipher: format!("{}-{}", text(&h[8..40]), text(&h[40..72])),
            key_bits: u64::from(be32(&h, 108)) * 8,
            data_offset: u64::from(be32(&h, 104)) * 512,
            keyslots,
            segments: Vec::new(),
            problems: Vec::new(),
            raw: Raw::V1(h.to_vec()),
        })
    }

    fn v2(vol: &VolumeReader) -> Result<Luks, Finding> {
        let mut problems = Vec::new();
        match Luks::v2_at(vol, 0, MAGIC) {
            Ok(l) => return Ok(l),
            Err(why) => problems.push(format!("primary LUKS2 header: {why}")),
        }
        for at in LUKS2_SIZES {
            if let Ok(mut l) = Luks::v2_at(vol, at, MAGIC2) {
                problems.push(format!("the secondary header at byte {at} was used"));
                problems.append(&mut l.problems);
                l.problems = problems;
                return Ok(l);
            }
        }
        Err(Finding::new(
            vol.base(),
            format!("LUKS2 volume, no readable header: {}", problems.join("; ")),
        ))
    }

    /// The LUKS2 header (binary part and JSON area) at `at`.
    fn v2_at(vol: &VolumeReader, at: u64, magic: &[u8; 6]) -> Result<Luks, String> {
        let mut h = [0u8; 4096];
        vol.read_at(at, &mut h).map_err(|e| e.to_string())?;
        if &h[..6] != magic {
            return Err("no magic".into());
        }
        let size = be64(&h, 8);
        if !LUKS2_SIZES.contains(&size) {
            return Err(format!(
                "header size {size} is not one LUKS2 writes (16 KiB to 4 MiB)"
            ));
        }
        let (area, _) = vol
            .read_vec(at + 4096, size - 4096, 4 << 20)
            .map_err(|e| e.to_string())?;
        checksum(&h, &area)?;
        let end = area.iter().position(|&c| c == 0).unwrap_or(area.len());
        let json: Value =
            serde_json::from_slice(&area[..end]).map_err(|e| format!("JSON area: {e}"))?;
        let mut l = Luks {
            version: 2,
            uuid: text(&h[168..208]),
            label: Some(text(&h[24..72])),
            cipher: String::new(),
            key_bits: 0,
            data_offset: 0,
            keyslots: Vec::new(),
            segments: Vec::new(),
            problems: Vec::new(),
            raw: Raw::V2(Value::Null),
        };
        l.describe_json(&json);
        l.raw = Raw::V2(json);
        Ok(l)
    }

    /// Keyslots and segments from the JSON area. A field missing or of the
    /// wrong type is left out of the line, never a failure.
    fn describe_json(&mut self, json: &Value) {
        let num = |v: &Value| -> Option<u64> {
            v.as_u64()
                .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
        };
        let s = |v: &Value| v.as_str().unwrap_or("?").to_string();
        if let Some(slots) = json["keyslots"].as_object() {
            for (id, k) in slots {
                let kdf = &k["kdf"];
                let params = match kdf["type"].as_str() {
                    Some("pbkdf2") => format!(
                        "pbkdf2-{}, {} iterations",
                        s(&kdf["hash"]),
                        num(&kdf["iterations"]).unwrap_or(0)
                    ),
                    Some(t @ ("argon2i" | "argon2id")) => format!(
                        "{t}, time {}, memory {} KiB, {} threads",
                        num(&kdf["time"]).unwrap_or(0),
                        num(&kdf["memory"]).unwrap_or(0),
                        num(&kdf["cpus"]).unwrap_or(0)
                    ),
                    other => format!("KDF {}", other.unwrap_or("?")),
                };
                self.keyslots.push(format!(
                    "keyslot {id}: {}, {}-bit key, {params}, area {} at byte {}",
                    s(&k["type"]),
                    num(&k["key_size"]).unwrap_or(0) * 8,
                    s(&k["area"]["encryption"]),
                    num(&k["area"]["offset"]).unwrap_or(0)
                ));
                if self.key_bits == 0 {
                    self.key_bits = num(&k["key_size"]).unwrap_or(0) * 8;
                }
            }
        }
        if let Some(segs) = json["segments"].as_object() {
            for (id, g) in segs {
                let offset = num(&g["offset"]).unwrap_or(0);
                let size = match g["size"].as_str() {
                    Some("dynamic") => "to the end of the volume".to_string(),
                    _ => format!("{} bytes", num(&g["size"]).unwrap_or(0)),
                };
                self.segments.push(format!(
                    "segment {id}: {} at byte {offset}, {size}, {}, {}-byte sectors",
                    s(&g["type"]),
                    s(&g["encryption"]),
                    num(&g["sector_size"]).unwrap_or(0)
                ));
                if self.cipher.is_empty() {
                    self.cipher = s(&g["encryption"]);
                    self.data_offset = offset;
                }
            }
        }
        if self.segments.is_empty() {
            self.problems.push("the JSON area names no segment".into());
        }
    }

    /// The finding that describes the volume (and one per problem), at `base`.
    pub fn findings(&self, base: u64) -> Vec<Finding> {
        let mut what = format!(
            "LUKS{} encrypted volume {}: {}, {}-bit key, data at byte {}",
            self.version, self.uuid, self.cipher, self.key_bits, self.data_offset
        );
        if let Some(l) = self.label.as_deref().filter(|l| !l.is_empty()) {
            what.push_str(&format!(", label {l}"));
        }
        for k in self.keyslots.iter().chain(&self.segments) {
            what.push_str("; ");
            what.push_str(k);
        }
        what.push_str(". Without its key its files are not listed and it is not carved");
        let mut out = vec![Finding::new(base, what)];
        out.extend(
            self.problems
                .iter()
                .map(|p| Finding::new(base, format!("LUKS header: {p}"))),
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dredge_core::Extent;
    use dredge_testkit::MemSource;
    use std::sync::Arc;

    fn vol(bytes: Vec<u8>) -> VolumeReader {
        let n = bytes.len() as u64;
        VolumeReader::new(Arc::new(MemSource(bytes)), Extent::new(0, n))
    }

    fn luks1() -> Vec<u8> {
        let mut h = vec![0u8; 1 << 20];
        h[..6].copy_from_slice(MAGIC);
        h[6..8].copy_from_slice(&1u16.to_be_bytes());
        h[8..11].copy_from_slice(b"aes");
        h[40..51].copy_from_slice(b"xts-plain64");
        h[72..78].copy_from_slice(b"sha256");
        h[104..108].copy_from_slice(&4096u32.to_be_bytes());
        h[108..112].copy_from_slice(&64u32.to_be_bytes());
        h[168..172].copy_from_slice(b"abcd");
        h[208 + 48..208 + 52].copy_from_slice(&LUKS1_ACTIVE.to_be_bytes());
        h[208 + 48 + 4..208 + 48 + 8].copy_from_slice(&1000u32.to_be_bytes());
        h
    }

    #[test]
    fn a_luks1_header_is_described_with_its_active_keyslots() {
        let l = Luks::read(&vol(luks1())).unwrap();
        assert_eq!(l.kind(), "luks1");
        assert_eq!(l.cipher, "aes-xts-plain64");
        assert_eq!((l.key_bits, l.data_offset), (512, 4096 * 512));
        assert_eq!(l.keyslots.len(), 1);
        assert!(l.keyslots[0].starts_with("keyslot 1: pbkdf2-sha256, 1000 iterations"));
    }

    /// A LUKS2 image with `json` in its primary (or only its secondary) header.
    fn luks2(json: &str, primary: bool) -> Vec<u8> {
        let mut img = vec![0u8; 1 << 20];
        for (at, magic) in [(0usize, MAGIC), (16 << 10, MAGIC2)] {
            if at == 0 && !primary {
                continue;
            }
            let h = &mut img[at..at + (16 << 10)];
            h[..6].copy_from_slice(magic);
            h[6..8].copy_from_slice(&2u16.to_be_bytes());
            h[8..16].copy_from_slice(&(16u64 << 10).to_be_bytes());
            h[168..172].copy_from_slice(b"uuid");
            h[72..78].copy_from_slice(b"sha256");
            h[4096..4096 + json.len()].copy_from_slice(json.as_bytes());
            seal(h);
        }
        img
    }

    /// Writes the checksum cryptsetup writes over a 16 KiB header.
    fn seal(h: &mut [u8]) {
        use sha2::Digest;
        h[448..512].fill(0);
        let d = sha2::Sha256::digest(&h[..16 << 10]);
        h[448..480].copy_from_slice(&d);
    }

    #[test]
    fn an_edited_luks2_header_fails_its_checksum_and_the_copy_is_read() {
        let mut img = luks2(JSON, true);
        // The JSON area edited (a keyslot's iterations, say), checksum not redone.
        let at = 4096 + JSON.find("4,").unwrap();
        img[at] = b'5';
        let l = Luks::read(&vol(img.clone())).unwrap();
        assert!(
            l.problems[0].contains("checksum mismatch"),
            "{:?}",
            l.problems
        );
        assert!(
            l.keyslots[0].contains("time 4"),
            "the copy's value: {:?}",
            l.keyslots
        );
        // Both copies edited: no header is trusted.
        img[(16 << 10) + at] = b'5';
        assert!(Luks::read(&vol(img)).is_err());
    }

    const JSON: &str = r#"{"keyslots":{"0":{"type":"luks2","key_size":64,"kdf":{"type":"argon2id","time":4,"memory":1048576,"cpus":4},"area":{"encryption":"aes-xts-plain64","offset":"32768"}}},"segments":{"0":{"type":"crypt","offset":"16777216","size":"dynamic","encryption":"aes-xts-plain64","sector_size":4096}}}"#;

    #[test]
    fn a_luks2_header_names_its_keyslots_and_segments_and_falls_back_to_its_copy() {
        let l = Luks::read(&vol(luks2(JSON, true))).unwrap();
        assert_eq!((l.kind(), l.cipher.as_str()), ("luks2", "aes-xts-plain64"));
        assert_eq!((l.key_bits, l.data_offset), (512, 16 << 20));
        assert_eq!(
            l.keyslots,
            ["keyslot 0: luks2, 512-bit key, argon2id, time 4, memory 1048576 KiB, 4 threads, area aes-xts-plain64 at byte 32768"]
        );
        assert!(l.problems.is_empty(), "{:?}", l.problems);
        // The primary wiped: the secondary copy is read, and said so.
        let mut img = luks2(JSON, false);
        img[..6].copy_from_slice(MAGIC);
        img[6..8].copy_from_slice(&2u16.to_be_bytes());
        let l = Luks::read(&vol(img)).unwrap();
        assert_eq!(l.segments.len(), 1);
        assert!(l
            .problems
            .iter()
            .any(|p| p.contains("secondary header at byte 16384")));
    }

    #[test]
    fn damaged_headers_are_findings_never_panics() {
        // Sizes, JSON and versions that lie; every prefix of a real header.
        let mut bad = luks2(JSON, true);
        bad[8..16].copy_from_slice(&u64::MAX.to_be_bytes());
        let l = Luks::read(&vol(bad.clone())).unwrap();
        assert!(
            l.problems[0].contains("header size 18446744073709551615"),
            "{:?}",
            l.problems
        );
        bad[16 << 10..(16 << 10) + 6].fill(0);
        assert!(Luks::read(&vol(bad)).is_err());
        let mut bad = luks2("{\"keyslots\": [1, 2", true);
        bad[16 << 10..(16 << 10) + 6].fill(0);
        assert!(Luks::read(&vol(bad)).is_err());
        let l = Luks::read(&vol(luks2(
            r#"{"keyslots":{"0":{"kdf":7}},"segments":3}"#,
            true,
        )))
        .unwrap();
        assert!(l.problems.iter().any(|p| p.contains("no segment")));
        let mut odd = luks1();
        odd[6..8].copy_from_slice(&9u16.to_be_bytes());
        assert!(Luks::read(&vol(odd)).is_err());
        let full = luks2(JSON, true);
        for n in [0, 5, 8, 600, 4096, 4200, 16 << 10] {
            let _ = Luks::read(&vol(full[..n].to_vec()));
        }
    }

    #[test]
    fn mutated_headers_never_panic() {
        let (mut rng, cases) = dredge_testkit::mutation_setup(0x1005);
        let (v1, v2) = (luks1(), luks2(JSON, true));
        for i in 0..cases {
            let mut img = if i % 2 == 0 { v1.clone() } else { v2.clone() };
            // Damage the binary header and the start of the JSON area.
            for _ in 0..1 + rng.below(8) {
                let at = rng.index(4096 + JSON.len());
                img[at] = rng.next() as u8;
            }
            if let Ok(l) = Luks::read(&vol(img)) {
                let _ = l.findings(0);
            }
        }
    }
}
