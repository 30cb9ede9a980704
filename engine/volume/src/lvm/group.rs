//! A volume group from its metadata text, and its logical volumes as image
//! extents. A linear logical volume whose extents lie in one run on one
//! physical volume is a volume like a partition. One in several pieces is
//! read from its first piece, and the rest is carved; striped, mirrored, RAID
//! and thin volumes are named in findings and their extents carved. A logical
//! volume an older generation of the metadata still describes, removed since
//! and whose extents no live one has taken, is a volume too: `lvremove`
//! leaves the data where it was.

use super::text::{self, Value};
use super::PhysicalVolume;
use dredge_core::{Extent, Finding, Volume, VolumeKind};
use std::collections::BTreeMap;

/// The most logical volumes read from one group: LVM's own tools handle a
/// few thousand, and each is a volume every filesystem reader probes.
const MAX_LOGICAL: usize = 4096;

/// One segment of a logical volume: `count` extents from logical extent
/// `start`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Segment {
    pub start: u64,
    pub count: u64,
    /// `Some((pv name, first physical extent))` when linear.
    pub linear: Option<(String, u64)>,
    /// The segment's type as the text names it (`striped` with its stripe
    /// count, `raid1`, `thin`, …).
    pub kind: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogicalVolume {
    pub name: String,
    pub id: String,
    pub visible: bool,
    pub segments: Vec<Segment>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PvEntry {
    pub name: String,
    /// The UUID without its dashes, as the label stores it.
    pub uuid: String,
    /// Bytes from the physical volume's start to its first extent.
    pub pe_start: u64,
    pub pe_count: u64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Group {
    pub name: String,
    pub id: String,
    pub seqno: u64,
    /// Bytes per extent.
    pub extent_size: u64,
    pub pvs: Vec<PvEntry>,
    pub lvs: Vec<LogicalVolume>,
}

/// The volume group a metadata text describes; `Err` says what is missing.
pub fn parse(t: &[u8]) -> Result<Group, String> {
    let top = text::parse(t).map_err(|e| format!("{} at byte {} of the text", e.what, e.at))?;
    let (name, vg) = top
        .iter()
        .find(|(_, v)| v.get("physical_volumes").is_some())
        .ok_or("no volume group section")?;
    let extent_size = vg
        .int("extent_size")
        .filter(|&n| n > 0 && n <= 1 << 32)
        .ok_or("no usable extent_size")? as u64
        * 512;
    let pvs = vg
        .get("physical_volumes")
        .map(|s| {
            s.sections()
                .map(|(n, pv)| PvEntry {
                    name: n.into(),
                    uuid: pv.str("id").unwrap_or("").replace('-', ""),
                    pe_start: (pv.int("pe_start").unwrap_or(0).max(0) as u64).saturating_mul(512),
                    pe_count: pv.int("pe_count").unwrap_or(0).max(0) as u64,
                })
                .collect()
        })
        .unwrap_or_default();
    let lvs = vg
        .get("logical_volumes")
        .map(|s| s.sections().map(|(n, lv)| logical(n, lv)).collect())
        .unwrap_or_default();
    Ok(Group {
        name: name.clone(),
        id: vg.str("id").unwrap_or("").into(),
        seqno: vg.int("seqno").unwrap_or(0).max(0) as u64,
        extent_size,
        pvs,
        lvs,
    })
}

fn logical(name: &str, lv: &Value) -> LogicalVolume {
    let visible = matches!(lv.get("status"), Some(Value::List(l))
        if l.contains(&Value::Str("VISIBLE".into())));
    let mut segments: Vec<Segment> = lv
        .sections()
        .filter(|(n, _)| n.starts_with("segment"))
        .map(|(_, s)| {
            let stripes = s.int("stripe_count").unwrap_or(0);
            let ty = s.str("type").unwrap_or("?");
            let linear = match (ty, stripes, s.get("stripes")) {
                ("striped", 1, Some(Value::List(l))) => match l.as_slice() {
                    [Value::Str(pv), Value::Int(pe)] if *pe >= 0 => Some((pv.clone(), *pe as u64)),
                    _ => None,
                },
                _ => None,
            };
            Segment {
                start: s.int("start_extent").unwrap_or(-1).max(0) as u64,
                count: s.int("extent_count").unwrap_or(0).max(0) as u64,
                linear,
                kind: if ty == "striped" && stripes > 1 {
                    format!("striped over {stripes}")
                } else {
                    ty.into()
                },
            }
        })
        .collect();
    segments.sort_by_key(|s| s.start);
    LogicalVolume {
        name: name.into(),
        id: lv.str("id").unwrap_or("").into(),
        visible,
        segments,
    }
}

/// Where a logical volume's bytes lie: its pieces in image offsets, in the
/// volume's order, or why they cannot be told.
fn pieces(g: &Group, lv: &LogicalVolume, pvs: &[PhysicalVolume]) -> Result<Vec<Extent>, String> {
    let mut out: Vec<Extent> = Vec::new();
    let mut next = 0u64;
    for s in &lv.segments {
        let Some((pv_name, pe)) = &s.linear else {
            return Err(format!("a {} segment", s.kind));
        };
        if s.start != next {
            return Err(format!("its segments leave a hole at extent {next}"));
        }
        let entry = g
            .pvs
            .iter()
            .find(|p| &p.name == pv_name)
            .ok_or_else(|| format!("its segment names {pv_name}, which the group lacks"))?;
        let pv = pvs.iter().find(|p| p.uuid == entry.uuid).ok_or_else(|| {
            format!(
                "physical volume {pv_name} ({}) is not in this evidence",
                entry.uuid
            )
        })?;
        let (start, len) = pe
            .checked_mul(g.extent_size)
            .and_then(|o| o.checked_add(entry.pe_start))
            .zip(s.count.checked_mul(g.extent_size))
            .ok_or("extents out of range")?;
        if start.saturating_add(len) > pv.extent.len || s.count == 0 {
            return Err(format!("extents {pe}+{} lie past {pv_name}'s end", s.count));
        }
        let e = Extent::new(pv.extent.start + start, len);
        match out.last_mut() {
            Some(l) if l.end() == e.start => l.len += e.len,
            _ => out.push(e),
        }
        next = s.start + s.count;
    }
    if out.is_empty() {
        return Err("no segments".into());
    }
    Ok(out)
}

/// What the physical volumes of one image describe: the logical volumes as
/// volumes (`live` kind for those the current metadata has, `removed` for
/// those only an older generation has).
pub fn volumes(
    pvs: &[PhysicalVolume],
    live: VolumeKind,
    removed: VolumeKind,
    findings: &mut Vec<Finding>,
) -> Vec<Volume> {
    // Each group's generations, from every physical volume: (seqno, current,
    // where, group).
    let mut groups: BTreeMap<String, Vec<(u64, bool, u64, Group)>> = BTreeMap::new();
    for pv in pvs {
        for g in &pv.generations {
            match parse(&g.text) {
                Ok(grp) => groups
                    .entry(grp.id.clone())
                    .or_default()
                    .push((grp.seqno, g.current, g.at, grp)),
                Err(why) if g.current => findings.push(Finding::new(
                    g.at,
                    format!("LVM metadata text unreadable: {why}"),
                )),
                Err(_) => {} // an older text the ring has partly overwritten
            }
        }
    }
    let mut out = Vec::new();
    for gens in groups.values_mut() {
        gens.sort_by(|a, b| (b.0, b.1, a.2).cmp(&(a.0, a.1, b.2)));
        let Some(cur) = gens.iter().find(|g| g.1).or(gens.first()) else {
            continue;
        };
        let (seq, at, g) = (cur.0, cur.2, &cur.3);
        if !cur.1 {
            findings.push(Finding::new(
                at,
                format!(
                    "LVM volume group {}: no current metadata text checks out; the newest older one (seqno {seq}) is used",
                    g.name
                ),
            ));
        }
        let mut used: Vec<Extent> = Vec::new();
        if g.lvs.len() > MAX_LOGICAL {
            findings.push(
                Finding::new(
                    at,
                    format!(
                        "LVM volume group {}: more logical volumes than are read",
                        g.name
                    ),
                )
                .expected(format!("<= {MAX_LOGICAL}"), g.lvs.len()),
            );
        }
        for lv in g.lvs.iter().take(MAX_LOGICAL) {
            let name = format!("{}/{}", g.name, lv.name);
            let hidden = if lv.visible { "" } else { ", hidden" };
            match pieces(g, lv, pvs) {
                Ok(p) => {
                    used.extend(&p);
                    let total: u64 = p.iter().map(|e| e.len).sum();
                    let mut description =
                        format!("LVM logical volume {name} (linear, {total} bytes{hidden})");
                    if p.len() > 1 {
                        description
                            .push_str(&format!(", piece 1 of {}: the rest is carved", p.len()));
                        findings.push(Finding::new(
                            p[0].start,
                            format!(
                                "LVM logical volume {name} lies in {} pieces (at {}); only the first is read as a volume, the others are carved",
                                p.len(),
                                p.iter().map(|e| e.start.to_string()).collect::<Vec<_>>().join(", ")
                            ),
                        ));
                    }
                    out.push(Volume {
                        extent: p[0],
                        kind: live,
                        description,
                        slot: Some(format!("lvm:{name}")),
                    });
                }
                Err(why) => {
                    // Its extents stay free of any volume: they are carved.
                    used.extend(linear_extents(g, lv, pvs));
                    findings.push(Finding::new(
                        pvs.iter().map(|p| p.extent.start).min().unwrap_or(0),
                        format!("LVM logical volume {name} is not read as a volume: {why}; its extents are carved"),
                    ));
                }
            }
        }
        out.extend(removed_volumes(gens, seq, g, pvs, &used, removed, findings));
    }
    out
}

/// The image extents of a logical volume's linear segments.
fn linear_extents(g: &Group, lv: &LogicalVolume, pvs: &[PhysicalVolume]) -> Vec<Extent> {
    let one = |s: &Segment| {
        let (name, pe) = s.linear.as_ref()?;
        let entry = g.pvs.iter().find(|p| &p.name == name)?;
        let pv = pvs.iter().find(|p| p.uuid == entry.uuid)?;
        let start = pe.checked_mul(g.extent_size)?.checked_add(entry.pe_start)?;
        Some(Extent::new(
            pv.extent.start + start,
            s.count.checked_mul(g.extent_size)?,
        ))
    };
    lv.segments.iter().filter_map(one).collect()
}

/// Logical volumes an older generation describes that the current one (`g`,
/// seqno `seq`) has not: each newest description of one, as a volume when
/// it is readable as one and no live volume has taken its extents.
fn removed_volumes(
    gens: &[(u64, bool, u64, Group)],
    seq: u64,
    g: &Group,
    pvs: &[PhysicalVolume],
    used: &[Extent],
    kind: VolumeKind,
    findings: &mut Vec<Finding>,
) -> Vec<Volume> {
    let mut seen: Vec<&str> = g.lvs.iter().map(|l| l.id.as_str()).collect();
    let mut out: Vec<Volume> = Vec::new();
    for (s, _, at, old) in gens.iter().filter(|x| x.0 < seq) {
        for lv in &old.lvs {
            if lv.id.is_empty() || seen.contains(&lv.id.as_str()) {
                continue;
            }
            seen.push(&lv.id);
            let name = format!("{}/{}", old.name, lv.name);
            let Ok(p) = pieces(old, lv, pvs) else {
                continue;
            };
            if let Some(taken) = p.iter().find(|e| used.iter().any(|u| u.overlaps(e))) {
                findings.push(Finding::new(
                    taken.start,
                    format!("LVM logical volume {name}, removed (metadata seqno {s} at byte {at} describes it), has extents a live volume now uses: not read"),
                ));
                continue;
            }
            findings.push(Finding::new(
                p[0].start,
                format!("LVM logical volume {name} was removed: metadata seqno {s} (at byte {at}) still describes it, and no live volume has taken its extents"),
            ));
            out.push(Volume {
                extent: p[0],
                kind,
                description: format!(
                    "LVM logical volume {name}, removed (from metadata seqno {s}){}",
                    if p.len() > 1 {
                        ", piece 1: the rest is carved"
                    } else {
                        ""
                    }
                ),
                slot: Some(format!("lvm:{name}")),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &[u8] = b"vg1 {\nid = \"G\"\nseqno = 5\nextent_size = 2048\n\
physical_volumes {\npv0 {\nid = \"ab-cd\"\npe_start = 2048\npe_count = 10\n}\n}\n\
logical_volumes {\n\
root {\nid = \"R\"\nstatus = [\"READ\", \"WRITE\", \"VISIBLE\"]\nsegment_count = 2\n\
segment1 {\nstart_extent = 0\nextent_count = 2\ntype = \"striped\"\nstripe_count = 1\nstripes = [\n\"pv0\", 0\n]\n}\n\
segment2 {\nstart_extent = 2\nextent_count = 1\ntype = \"striped\"\nstripe_count = 1\nstripes = [\n\"pv0\", 2\n]\n}\n}\n\
home {\nid = \"H\"\nstatus = [\"READ\", \"WRITE\", \"VISIBLE\"]\n\
segment1 {\nstart_extent = 0\nextent_count = 1\ntype = \"striped\"\nstripe_count = 1\nstripes = [\n\"pv0\", 5\n]\n}\n\
segment2 {\nstart_extent = 1\nextent_count = 1\ntype = \"striped\"\nstripe_count = 1\nstripes = [\n\"pv0\", 8\n]\n}\n}\n\
pool {\nid = \"P\"\nstatus = [\"READ\"]\nsegment1 {\nstart_extent = 0\nextent_count = 1\ntype = \"thin-pool\"\n}\n}\n\
}\n}\n";

    fn pv() -> PhysicalVolume {
        PhysicalVolume {
            extent: Extent::new(1 << 20, 12 << 20),
            uuid: "abcd".into(),
            data_offset: 1 << 20,
            generations: vec![],
        }
    }

    #[test]
    fn linear_segments_map_to_image_extents_and_join_when_adjacent() {
        let g = parse(TEXT).unwrap();
        assert_eq!(
            (g.name.as_str(), g.extent_size, g.seqno),
            ("vg1", 1 << 20, 5)
        );
        let pvs = [pv()];
        // root: extents 0-1 then 2, adjacent on the disk: one piece.
        let root = pieces(&g, &g.lvs[0], &pvs).unwrap();
        assert_eq!(root, vec![Extent::new((1 << 20) + (1 << 20), 3 << 20)]);
        // home: extents 5 and 8: two pieces.
        assert_eq!(pieces(&g, &g.lvs[1], &pvs).unwrap().len(), 2);
        assert!(pieces(&g, &g.lvs[2], &pvs)
            .unwrap_err()
            .contains("thin-pool"));
    }

    #[test]
    fn a_removed_volume_is_found_in_an_older_generation_unless_its_extents_are_taken() {
        let cur = String::from_utf8_lossy(TEXT).replace("seqno = 5", "seqno = 6");
        let old = String::from_utf8_lossy(TEXT)
            .replace("id = \"P\"", "id = \"OLD\"")
            .replace(
                "type = \"thin-pool\"",
                "type = \"striped\"\nstripe_count = 1\nstripes = [\"pv0\", 9]",
            );
        let mut p = pv();
        p.generations = vec![
            super::super::Generation {
                at: 4608,
                text: old.clone().into_bytes(),
                current: false,
            },
            super::super::Generation {
                at: 5120,
                text: cur.into_bytes(),
                current: true,
            },
        ];
        let mut f = Vec::new();
        let v = volumes(
            &[p.clone()],
            VolumeKind::Partition,
            VolumeKind::Recovered,
            &mut f,
        );
        let removed: Vec<_> = v
            .iter()
            .filter(|v| v.kind == VolumeKind::Recovered)
            .collect();
        assert_eq!(removed.len(), 1, "{v:?}");
        assert_eq!(removed[0].extent.start, (1 << 20) + (1 << 20) + (9 << 20));
        assert!(removed[0].description.contains("vg1/pool, removed"));
        // The same volume where a live one now lies: a finding, no volume.
        let taken = old.replace("\"pv0\", 9]", "\"pv0\", 0]");
        p.generations[0].text = taken.into_bytes();
        let mut f = Vec::new();
        let v = volumes(&[p], VolumeKind::Partition, VolumeKind::Recovered, &mut f);
        assert!(v.iter().all(|v| v.kind == VolumeKind::Partition));
        assert!(f.iter().any(|f| f.what.contains("a live volume now uses")));
    }
}
