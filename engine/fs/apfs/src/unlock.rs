//! Opening FileVault on APFS with the examiner's keys (issues 13 and 15).
//!
//! A passphrase (a user's password, or a recovery key typed as one) is
//! stretched with each protector's PBKDF2-HMAC-SHA-256 salt and iterations
//! into the key that unwraps (RFC 3394, whose integrity check tells a wrong
//! passphrase) that protector's copy of the KEK; the KEK unwraps the VEK.
//! A VEK given as such (`master-key=HEX`) is taken when it decrypts the
//! volume's filesystem-tree root into a node whose checksum holds.
//!
//! APFS does not encrypt a volume sector by sector from its start, as LUKS
//! does: the VEK (AES-XTS-128 over 512-byte units) encrypts the filesystem
//! tree's nodes, each unit's tweak counted from the node's own block, and
//! the files' extents, counted from the extent's `crypto_id` (the block it
//! was first written to, which a move does not change); the container's own
//! objects, the object maps and the volume superblocks stay in the clear.
//! So the plaintext is a layer over the whole container made of many
//! stretches: one per tree node the object maps mark encrypted (the
//! volume's, of every transaction it still maps, and those of the older
//! checkpoints in the ring), one per extent of the live tree, of each
//! snapshot's and of each older checkpoint's (deleted files), and the clear
//! bytes between. Free blocks stay as stored.

use crate::btree;
use crate::container::Container;
use crate::history;
use crate::keybag::{read_keys, uuid_str, Protector, VolumeKeys, Wrapped};
use crate::obj::{fletcher64, Bad};
use crate::omap::{Omap, ENCRYPTED};
use dredge_core::bytes::le64;
use dredge_core::{Extent, ImageSource, VolumeReader};
use dredge_crypt::{
    aes_unwrap, fingerprint, pbkdf2_sha256, CrackLine, Layer, Layered, Opened, Secret,
    SectorCipher, Segment, Source,
};
use sha2::Digest;
use std::sync::Arc;

/// Stretches one layer may hold (each tree node, each file extent); past
/// it, the remaining extents stay ciphertext and the opener says so.
const MAX_SEGMENTS: usize = 4 << 20;
/// `FILE_EXTENT` records' type in the filesystem tree.
const FILE_EXTENT: u64 = 8;

/// What the key bags say of each encrypted volume of the container on
/// `vol` (empty when none is encrypted or it is no container).
pub fn encrypted_volumes(vol: &VolumeReader) -> Vec<VolumeKeys> {
    // The probe first: opening looks through the first blocks for a
    // superblock copy, which no other volume should pay for.
    if !crate::container::probe(vol) {
        return Vec::new();
    }
    match Container::open(vol.clone()) {
        Ok(c) => read_keys(&c),
        Err(_) => Vec::new(),
    }
}

/// Password-cracker lines for every protector of every encrypted volume:
/// hashcat mode 18300 (`$fvde$2$…`, which John the Ripper's `fvde` format
/// also takes), or 16700 (`$fvde$1$…`) for a 128-bit KEK migrated from
/// CoreStorage.
pub fn crack_lines(vol: &VolumeReader) -> Vec<(String, CrackLine)> {
    let mut out = Vec::new();
    for k in encrypted_volumes(vol) {
        for p in &k.protectors {
            if p.kek.salt.is_empty() {
                continue;
            }
            // A 128-bit KEK (migrated from CoreStorage) is what FileVault 2's
            // mode takes: 24 wrapped bytes under a 16-byte stretch.
            let (v, mode, wrapped) = if p.kek.method == 2 {
                (1, 16700, &p.kek.wrapped[..24])
            } else {
                (2, 18300, &p.kek.wrapped[..])
            };
            out.push((
                k.name.clone(),
                CrackLine {
                    protector: uuid_str(&p.uuid),
                    kind: if p.kind().starts_with("user") {
                        "password"
                    } else {
                        "recovery key"
                    },
                    hashcat_mode: Some(mode),
                    line: format!(
                        "$fvde${v}${}${}${}${}",
                        p.kek.salt.len(),
                        hex(&p.kek.salt),
                        p.kek.iterations,
                        hex(wrapped)
                    ),
                },
            ));
        }
    }
    out
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The KEK a passphrase unwraps from protector `p`.
fn kek(p: &Protector, pw: &[u8]) -> Option<Vec<u8>> {
    let mut pk = [0u8; 32];
    pbkdf2_sha256(pw, &p.kek.salt, p.kek.iterations, &mut pk)?;
    // A KEK migrated from CoreStorage is 128-bit: 24 wrapped bytes under
    // the first 16 bytes of the stretch (PBKDF2's first block, so the same
    // as a 16-byte derivation).
    let short = || aes_unwrap(&pk[..16], &p.kek.wrapped[..24]);
    if p.kek.method == 2 {
        short()
    } else {
        aes_unwrap(&pk, &p.kek.wrapped).or_else(short)
    }
}

/// The XTS key (two AES-128 keys) the VEK blob `w` gives under `kek`.
fn vek(w: &Wrapped, kek: &[u8]) -> Option<[u8; 32]> {
    let mut k = [0u8; 32];
    if w.method != 2 {
        if let Some(v) = aes_unwrap(kek, &w.wrapped).filter(|v| v.len() == 32) {
            k.copy_from_slice(&v);
            return Some(k);
        }
    }
    // 128-bit: the tweak key is the first half of SHA-256(key ‖ UUID). A
    // 256-bit KEK wraps it with its first half only (The Sleuth Kit's
    // reading).
    let v = aes_unwrap(&kek[..kek.len().min(16)], &w.wrapped[..24])?;
    let mut h = sha2::Sha256::new();
    h.update(&v);
    h.update(w.uuid);
    k[..16].copy_from_slice(&v);
    k[16..].copy_from_slice(&h.finalize()[..16]);
    Some(k)
}

/// Block `n` of the container decrypted with `key`, tweaks from `unit`.
fn decrypted(c: &Container, n: u64, unit: u64, key: &SectorCipher) -> Option<Vec<u8>> {
    let mut b = c.blocks.read(n).ok()?;
    key.decrypt_sectors(512, |i| unit + i as u64, &mut b);
    Some(b)
}

/// Whether `key` turns the volume's live tree root into a node whose
/// checksum holds (true when the root is not encrypted: nothing to check).
fn opens_root(c: &Container, omap: &Omap, root_oid: u64, key: &[u8; 32]) -> bool {
    let Some((n, flags)) = omap.get(root_oid, c.nx.xid) else {
        return false;
    };
    if flags & ENCRYPTED == 0 {
        return true;
    }
    let Ok(x) = SectorCipher::new("aes-xts-plain64", key) else {
        return false;
    };
    let spb = c.blocks.size / 512;
    decrypted(c, n, n * spb, &x).is_some_and(|b| {
        let s = le64(&b, 0);
        s != 0 && s == fletcher64(&b)
    })
}

/// One volume opened: its key, how, and the stretches it encrypts.
struct Open {
    key: [u8; 32],
    by: String,
}

/// The first of `keys` that opens `k` (whose tree is rooted as `omap` says).
fn open_volume(
    c: &Container,
    k: &VolumeKeys,
    omap: &Omap,
    root_oid: u64,
    keys: &[&Secret],
    tried: &mut Vec<String>,
) -> Option<Open> {
    for s in keys {
        match s {
            Secret::Password(pw) | Secret::KeyFile(pw) => {
                let Some(w) = &k.vek else {
                    tried.push(format!(
                        "password on volume {:?}: no wrapped volume key",
                        k.name
                    ));
                    continue;
                };
                for p in &k.protectors {
                    let Some(kek) = kek(p, pw) else { continue };
                    match vek(w, &kek) {
                        Some(key) if opens_root(c, omap, root_oid, &key) => {
                            return Some(Open {
                                key,
                                by: format!("the {} of volume {:?}", pass_word(p), k.name),
                            })
                        }
                        _ => tried.push(format!(
                            "{} of volume {:?} unwraps its key-encrypting key, but that does not open the volume key",
                            p.kind(),
                            k.name
                        )),
                    }
                }
                tried.push(format!(
                    "password on volume {:?}'s {} protector(s) ({})",
                    k.name,
                    k.protectors.len(),
                    k.protectors
                        .iter()
                        .map(Protector::kind)
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
            Secret::VolumeKey(v) if v.len() == 32 => {
                let mut key = [0u8; 32];
                key.copy_from_slice(v);
                if opens_root(c, omap, root_oid, &key) {
                    return Some(Open {
                        key,
                        by: format!("the volume key given, for volume {:?}", k.name),
                    });
                }
                tried.push(format!(
                    "master-key on volume {:?}: the filesystem tree's root does not decrypt with it",
                    k.name
                ));
            }
            Secret::VolumeKey(v) => tried.push(format!(
                "master-key of {} bytes (an APFS volume key is 32: AES-XTS-128's two keys)",
                v.len()
            )),
            other => tried.push(format!(
                "{} (APFS takes passwords and volume keys)",
                other.kind()
            )),
        }
    }
    None
}

fn pass_word(p: &Protector) -> String {
    let k = p.kind();
    if k.starts_with("user") {
        format!("password of {k}")
    } else {
        k
    }
}

/// The superblock and object map of the volume with `uuid`.
fn volume_omap<'c>(
    c: &'c Container,
    uuid: &[u8; 16],
) -> Option<(usize, &'c crate::container::Apsb, Omap)> {
    let (index, sb) = c.volumes.iter().find(|(_, sb)| &sb.uuid == uuid)?;
    let (mut bad, mut f) = (Bad::default(), Vec::new());
    let omap = Omap::load(
        &c.blocks,
        sb.omap_oid,
        "volume object map",
        &mut bad,
        &mut f,
    )
    .ok()?;
    Some((*index, sb, omap))
}

/// Image-offset stretches (start, bytes, first tweak unit, key number).
type Stretch = (u64, u64, u64, u8);

/// Every file extent of the trees `reader` (the container read through
/// the tree nodes' plaintext) holds for the volume with `uuid`: the live
/// tree and each snapshot's.
fn extents(reader: VolumeReader, uuid: &[u8; 16], key: u8, out: &mut Vec<Stretch>) {
    let Ok(c) = Container::open(reader) else {
        return;
    };
    let Some((index, sb, omap)) = volume_omap(&c, uuid) else {
        return;
    };
    let (mut bad, mut f) = (Bad::default(), Vec::new());
    // (object map, root, transaction) of every tree: the live one, each
    // snapshot's, and each older checkpoint's (deleted files).
    let mut roots = vec![(0, sb.root_tree_oid, c.nx.xid)];
    if sb.snap_meta_tree_oid != 0 {
        for s in crate::snapshots(&c, sb, &mut bad, &mut f) {
            if let Ok((_, b)) = c.blocks.object(s.sb_at, crate::obj::FS, &mut bad) {
                if let Ok(ssb) = crate::container::parse_apsb(&b, s.sb_at) {
                    roots.push((0, ssb.root_tree_oid, s.xid));
                }
            }
        }
    }
    let mut omaps = vec![omap];
    for nx in c.older.iter().take(history::MAX_OLDER) {
        if let Some((osb, om)) = history::older_volume(&c, nx, index, uuid) {
            roots.push((omaps.len(), osb.root_tree_oid, nx.xid));
            omaps.push(om);
        }
    }
    let (bs, spb, base) = (c.blocks.size, c.blocks.size / 512, c.blocks.offset(0));
    let mut shared = std::collections::HashSet::new();
    for (m, root_oid, xid) in roots {
        let omap = &omaps[m];
        let Some((root, _)) = omap.get(root_oid, xid) else {
            continue;
        };
        btree::walk_with(
            &c.blocks,
            root,
            "filesystem tree (extents to decrypt)",
            &|oid| omap.get(oid, xid).map(|x| x.0),
            &mut |_, k, v| {
                if k.len() >= 16 && v.len() >= 24 && le64(k, 0) >> 60 == FILE_EXTENT {
                    let len = (le64(v, 0) & ((1 << 56) - 1)).div_ceil(bs) * bs;
                    let (phys, crypto) = (le64(v, 8), le64(v, 16));
                    if phys != 0 && len != 0 && phys < c.blocks.count {
                        let len = len.min((c.blocks.count - phys) * bs);
                        out.push((base + phys * bs, len, crypto.wrapping_mul(spb), key));
                    }
                }
                out.len() < MAX_SEGMENTS
            },
            btree::Prune {
                shared: Some(&mut shared),
                strict: true,
            },
            &mut bad,
            &mut f,
        );
    }
}

/// Sorted, non-overlapping segments covering `whole`: the stretches (an
/// overlapped stretch loses its overlap) and the clear bytes between.
fn segments(whole: Extent, mut s: Vec<Stretch>) -> Vec<Segment> {
    s.sort_unstable();
    let mut out = Vec::with_capacity(s.len() * 2 + 1);
    let mut at = whole.start;
    for (start, len, unit, key) in s {
        let end = (start + len).min(whole.end());
        if end <= at || end <= start || start < whole.start {
            continue;
        }
        if start > at {
            out.push(Segment {
                plain: Extent::from_bounds(at, start),
                source: Source::Clear,
            });
        }
        let from = start.max(at);
        out.push(Segment {
            plain: Extent::from_bounds(from, end),
            source: Source::Cipher {
                at: from,
                iv: unit + (from - start) / 512,
                key,
            },
        });
        at = end;
    }
    if at < whole.end() {
        out.push(Segment {
            plain: Extent::from_bounds(at, whole.end()),
            source: Source::Clear,
        });
    }
    out
}

/// `segs` with the clear bytes that lie in `free` (sorted, disjoint) made
/// ciphertext of key 0, each 512-byte unit's tweak from its own place.
fn fill_free(segs: Vec<Segment>, free: &[Extent], whole: Extent) -> Vec<Segment> {
    let mut out = Vec::with_capacity(segs.len() + 2 * free.len());
    let mut i = 0;
    for seg in segs {
        if seg.source != Source::Clear {
            out.push(seg);
            continue;
        }
        let (mut at, end) = (seg.plain.start, seg.plain.end());
        while free.get(i).is_some_and(|f| f.end() <= at) {
            i += 1;
        }
        let mut j = i;
        while at < end {
            match free.get(j).filter(|f| f.start < end) {
                Some(f) => {
                    let (s, e) = (f.start.max(at), f.end().min(end));
                    if s > at {
                        out.push(Segment {
                            plain: Extent::from_bounds(at, s),
                            source: Source::Clear,
                        });
                    }
                    out.push(Segment {
                        plain: Extent::from_bounds(s, e),
                        source: Source::Cipher {
                            at: s,
                            iv: (s - whole.start) / 512,
                            key: 0,
                        },
                    });
                    at = e;
                    j += 1;
                }
                None => {
                    out.push(Segment {
                        plain: Extent::from_bounds(at, end),
                        source: Source::Clear,
                    });
                    at = end;
                }
            }
        }
    }
    out
}

/// The layer of `ciphers` (key numbers in order) over `whole`; the clear
/// bytes in `free` decrypted with key 0.
fn layer(whole: Extent, ciphers: &[Arc<SectorCipher>], s: Vec<Stretch>, free: &[Extent]) -> Layer {
    Layer {
        extent: whole,
        sector: 512,
        iv_unit: 512,
        cipher: Arc::clone(&ciphers[0]),
        more: ciphers[1..].to_vec(),
        segments: fill_free(segments(whole, s), free, whole),
        held: Vec::new(),
    }
}

/// Opens every encrypted volume of the container on `vol` that one of
/// `keys` opens, as one layer over the container. `Err`: one line naming
/// what was tried (never a key).
pub fn unlock(vol: &VolumeReader, keys: &[&Secret]) -> Result<Opened, String> {
    let c = Container::open(vol.clone()).map_err(|f| f.what)?;
    let bags = read_keys(&c);
    if bags.is_empty() {
        return Err("no APFS volume of the container is encrypted".into());
    }
    let whole = Extent::new(vol.base(), c.blocks.count * c.blocks.size);
    let spb = c.blocks.size / 512;
    let (mut tried, mut opened, mut nodes) = (Vec::new(), Vec::new(), Vec::new());
    for k in &bags {
        let Some((index, sb, omap)) = volume_omap(&c, &k.uuid) else {
            tried.push(format!("volume {:?}: its object map does not read", k.name));
            continue;
        };
        let Some(o) = open_volume(&c, k, &omap, sb.root_tree_oid, keys, &mut tried) else {
            continue;
        };
        let key = opened.len() as u8;
        // Every node the object map marks encrypted, of every transaction,
        // and those only older checkpoints' object maps still lead to.
        let older = c
            .older
            .iter()
            .take(history::MAX_OLDER)
            .filter_map(|nx| history::older_volume(&c, nx, index, &k.uuid).map(|(_, m)| m));
        for m in std::iter::once(omap).chain(older) {
            for (n, _) in m.blocks_flagged(ENCRYPTED) {
                nodes.push((c.blocks.offset(n), c.blocks.size, n * spb, key));
            }
        }
        opened.push((k.uuid, o));
    }
    if opened.is_empty() {
        let mut what: Vec<String> = bags
            .iter()
            .filter_map(|k| {
                k.problem
                    .as_ref()
                    .map(|p| format!("volume {:?}: {p}", k.name))
            })
            .collect();
        what.extend(tried);
        return Err(what.join("; "));
    }
    let ciphers: Vec<Arc<SectorCipher>> = opened
        .iter()
        .map(|(_, o)| SectorCipher::new("aes-xts-plain64", &o.key).map(Arc::new))
        .collect::<Result<_, _>>()
        .map_err(|e| format!("AES-XTS: {e:?}"))?;
    // Free space: with one encrypted volume in the container, the blocks it
    // let go (deleted files, tree nodes no checkpoint leads to) were written
    // under its key, each from its own block, and are read decrypted, so the
    // pass finds orphaned nodes and carves deleted files there. Blocks other
    // volumes let go decrypt to noise. With several encrypted volumes no
    // block says whose it was, and free space stays as stored.
    let free = if bags.len() == 1 {
        crate::space::free(&c, &mut Bad::default()).unwrap_or_default()
    } else {
        Vec::new()
    };
    // The trees' plaintext first, to find the extents they list.
    let src: Arc<dyn ImageSource> = Arc::clone(vol.source());
    let nodes_only = Arc::new(Layered::new(
        Arc::clone(&src),
        vec![layer(whole, &ciphers, nodes.clone(), &free)],
    ));
    let mut all = nodes;
    for (i, (uuid, _)) in opened.iter().enumerate() {
        let through = VolumeReader::new(
            Arc::clone(&nodes_only) as Arc<dyn ImageSource>,
            Extent::new(vol.base(), vol.len()),
        );
        extents(through, uuid, i as u8, &mut all);
    }
    let full = all.len() >= MAX_SEGMENTS;
    let by = opened
        .iter()
        .map(|(_, o)| o.by.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    let keys: Vec<u8> = opened.iter().flat_map(|(_, o)| o.key).collect();
    Ok(Opened {
        kind: "filevault",
        layer: layer(whole, &ciphers, all, &free),
        by: match (full, free.is_empty()) {
            (true, _) => format!(
                "{by} (more than {MAX_SEGMENTS} encrypted stretches: the rest stay ciphertext)"
            ),
            (false, false) => format!(
                "{by}; the container's free space read decrypted with that key, each block from its own place (the one encrypted volume's deleted data; blocks other volumes freed read as noise)"
            ),
            (false, true) => by,
        },
        fingerprint: fingerprint(&keys),
        plain_len: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_cover_the_container_and_an_overlap_is_trimmed() {
        let whole = Extent::new(4096, 16 * 4096);
        let s = vec![
            (4096 * 3, 8192, 100, 0),
            (4096 * 4, 8192, 500, 1), // overlaps the first by one block
            (4096 * 20, 4096, 7, 0),  // past the end: dropped
        ];
        let seg = segments(whole, s);
        assert_eq!(seg.first().unwrap().plain.start, whole.start);
        assert_eq!(seg.last().unwrap().plain.end(), whole.end());
        for w in seg.windows(2) {
            assert_eq!(w[0].plain.end(), w[1].plain.start);
        }
        let second = seg
            .iter()
            .find(|g| matches!(g.source, Source::Cipher { key: 1, .. }))
            .unwrap();
        assert_eq!(second.plain, Extent::new(4096 * 5, 4096));
        // Its tweak moves on by the eight units trimmed off.
        assert!(matches!(second.source, Source::Cipher { iv: 508, .. }));
    }
}
