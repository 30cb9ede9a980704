//! GIF, BMP, PDF and SQLite validators.

use crate::{Carver, Reader, Verdict};

fn partial(len: u64, why: &str) -> Verdict {
    Verdict::Partial {
        len,
        why: why.into(),
        subtype: None,
    }
}

/// GIF: header, logical screen (and global colour table), then blocks — images
/// (descriptor, local table, LZW data sub-blocks) and extensions (sub-blocks) — to
/// the trailer; at least one image.
pub struct Gif;

impl Carver for Gif {
    fn name(&self) -> &'static str {
        "gif"
    }
    fn extension(&self, _: Option<&'static str>) -> &'static str {
        "gif"
    }
    fn headers(&self) -> &'static [&'static [u8]] {
        &[b"GIF87a", b"GIF89a"]
    }
    fn min_size(&self) -> u64 {
        35
    }
    fn max_size(&self) -> u64 {
        64 << 20
    }
    fn check(&self, r: &mut Reader<'_>) -> Verdict {
        let Some(flags) = r.u8(10) else {
            return Verdict::Reject;
        };
        let mut off = 13u64;
        if flags & 0x80 != 0 {
            off += 3 << ((flags & 7) + 1);
        }
        let mut images = 0;
        // Sub-blocks: length byte, data, until a zero length.
        let sub_blocks = |r: &mut Reader<'_>, mut off: u64| -> Option<u64> {
            loop {
                let n = r.u8(off)?;
                off += 1 + u64::from(n);
                if n == 0 {
                    return Some(off);
                }
            }
        };
        loop {
            match r.u8(off) {
                Some(0x3B) => {
                    return if images > 0 {
                        Verdict::Complete {
                            len: off + 1,
                            subtype: None,
                        }
                    } else {
                        Verdict::Reject
                    };
                }
                Some(0x2C) => {
                    let Some(f) = r.u8(off + 9) else {
                        return partial(off, "cut in an image descriptor");
                    };
                    off += 10;
                    if f & 0x80 != 0 {
                        off += 3 << ((f & 7) + 1);
                    }
                    match r.u8(off) {
                        Some(2..=12) => {}
                        _ => {
                            return if images > 0 {
                                partial(off, "bad LZW code size")
                            } else {
                                Verdict::Reject
                            }
                        }
                    }
                    match sub_blocks(r, off + 1) {
                        Some(o) => off = o,
                        None => return partial(off, "image data cut off"),
                    }
                    images += 1;
                }
                Some(0x21) => match sub_blocks(r, off + 2) {
                    Some(o) => off = o,
                    None => {
                        return if images > 0 {
                            partial(off, "extension cut off")
                        } else {
                            Verdict::Reject
                        }
                    }
                },
                _ => {
                    return if images > 0 {
                        partial(off, "block expected")
                    } else {
                        Verdict::Reject
                    }
                }
            }
        }
    }
}

/// BMP: file size, pixel-data offset, DIB header size, one plane, a known bit depth,
/// and uncompressed pixel data that fits the file size.
pub struct Bmp;

impl Carver for Bmp {
    fn name(&self) -> &'static str {
        "bmp"
    }
    fn extension(&self, _: Option<&'static str>) -> &'static str {
        "bmp"
    }
    fn headers(&self) -> &'static [&'static [u8]] {
        &[b"BM"]
    }
    fn min_size(&self) -> u64 {
        58
    }
    fn max_size(&self) -> u64 {
        256 << 20
    }
    fn check(&self, r: &mut Reader<'_>) -> Verdict {
        let (Some(size), Some(reserved), Some(data), Some(dib)) =
            (r.le32(2), r.le32(6), r.le32(10), r.le32(14))
        else {
            return Verdict::Reject;
        };
        if reserved != 0
            || !matches!(dib, 12 | 40 | 52 | 56 | 108 | 124)
            || data < 14 + dib
            || data >= size
        {
            return Verdict::Reject;
        }
        let (w, h, planes, bpp, comp) = if dib == 12 {
            (
                r.le16(18).map(u32::from),
                r.le16(20).map(|x| x as i32),
                r.le16(22),
                r.le16(24),
                Some(0),
            )
        } else {
            (
                r.le32(18),
                r.le32(22).map(|x| x as i32),
                r.le16(26),
                r.le16(28),
                r.le32(30),
            )
        };
        let (Some(w), Some(h), Some(planes), Some(bpp), Some(comp)) = (w, h, planes, bpp, comp)
        else {
            return Verdict::Reject;
        };
        if planes != 1
            || !matches!(bpp, 1 | 4 | 8 | 16 | 24 | 32)
            || w == 0
            || h == 0
            || w > 1 << 16
            || h.unsigned_abs() > 1 << 16
            || comp > 6
        {
            return Verdict::Reject;
        }
        if comp == 0 {
            let stride = (u64::from(w) * u64::from(bpp)).div_ceil(32) * 4;
            if u64::from(data) + stride * u64::from(h.unsigned_abs()) > u64::from(size) {
                return Verdict::Reject;
            }
        }
        let size = u64::from(size);
        if size > r.limit() {
            return partial(r.limit(), "cut off before its declared size");
        }
        if r.get(size - 1, 1).is_none() {
            return partial(r.limit(), "cut off");
        }
        Verdict::Complete {
            len: size,
            subtype: None,
        }
    }
}

/// Whether `b` begins an incremental update: `xref`, or an object header
/// (`12 0 obj`).
fn starts_update(b: &[u8]) -> bool {
    if b.starts_with(b"xref") {
        return true;
    }
    let mut parts = b
        .split(|c| c.is_ascii_whitespace())
        .filter(|p| !p.is_empty());
    let num = |p: Option<&[u8]>| p.is_some_and(|p| p.iter().all(u8::is_ascii_digit));
    num(parts.next()) && num(parts.next()) && parts.next().is_some_and(|p| p.starts_with(b"obj"))
}

/// PDF: the end is the last `%%EOF` (incremental updates add more) whose preceding
/// `startxref` points inside the file at an xref table or stream, before any next
/// `%PDF-` header.
pub struct Pdf;

impl Carver for Pdf {
    fn name(&self) -> &'static str {
        "pdf"
    }
    fn extension(&self, _: Option<&'static str>) -> &'static str {
        "pdf"
    }
    fn headers(&self) -> &'static [&'static [u8]] {
        &[b"%PDF-1.", b"%PDF-2."]
    }
    fn min_size(&self) -> u64 {
        64
    }
    fn max_size(&self) -> u64 {
        256 << 20
    }
    fn check(&self, r: &mut Reader<'_>) -> Verdict {
        let mut off = 8u64;
        let mut good: Option<u64> = None;
        // One forward scan: each %%EOF in turn, until the next PDF's header.
        while let Some((e, 0)) = r.find_any(off, &[b"%%EOF", b"%PDF-"]) {
            let from = e.saturating_sub(48);
            let tail = r
                .get(from, (e - from) as usize)
                .map(<[u8]>::to_vec)
                .unwrap_or_default();
            if let Some(i) = tail.windows(9).rposition(|w| w == b"startxref") {
                let num: String = tail[i + 9..]
                    .iter()
                    .map(|&c| char::from(c))
                    .filter(char::is_ascii_digit)
                    .collect();
                if let Ok(x) = num.parse::<u64>() {
                    let at = r.get(x, 4).map(<[u8]>::to_vec);
                    if x < e
                        && at.is_some_and(|b| &b == b"xref" || b.iter().all(u8::is_ascii_digit))
                    {
                        let mut end = e + 5;
                        while matches!(r.u8(end), Some(b'\r' | b'\n')) && end < e + 7 {
                            end += 1;
                        }
                        good = Some(end);
                        // An incremental update starts right after the %%EOF with
                        // an object (`12 0 obj`), an xref table or a comment;
                        // anything else is the end of this file, and nothing past
                        // it need be read.
                        let mut k = end;
                        while matches!(r.u8(k), Some(b' ' | b'\t' | b'\r' | b'\n')) && k < end + 16
                        {
                            k += 1;
                        }
                        let next = r.get(k, 24).map(<[u8]>::to_vec).unwrap_or_default();
                        if !starts_update(&next) {
                            break;
                        }
                    }
                }
            }
            off = e + 5;
        }
        match good {
            Some(len) => Verdict::Complete { len, subtype: None },
            None => partial(0, "no %%EOF consistent with startxref"),
        }
    }
}

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
        Verdict::Complete { len, subtype: None }
    }
}

/// RIFF (WAV, AVI, WEBP): the declared size, a known form type, and a chunk walk
/// (four-letter ids, sizes padded to even) that lands exactly on the declared end.
pub struct Riff;

impl Carver for Riff {
    fn name(&self) -> &'static str {
        "riff"
    }
    fn extension(&self, subtype: Option<&'static str>) -> &'static str {
        subtype.unwrap_or("riff")
    }
    fn headers(&self) -> &'static [&'static [u8]] {
        &[b"RIFF"]
    }
    fn min_size(&self) -> u64 {
        44
    }
    fn max_size(&self) -> u64 {
        4 << 30
    }
    fn check(&self, r: &mut Reader<'_>) -> Verdict {
        let (Some(size), Some(form)) = (r.le32(4), r.get(8, 4).map(<[u8]>::to_vec)) else {
            return Verdict::Reject;
        };
        let subtype = match &form[..] {
            b"WAVE" => Some("wav"),
            b"AVI " => Some("avi"),
            b"WEBP" => Some("webp"),
            _ => return Verdict::Reject,
        };
        let end = 8 + u64::from(size);
        let mut off = 12u64;
        let mut chunks = 0;
        while off < end {
            let (Some(id), Some(len)) = (r.get(off, 4).map(<[u8]>::to_vec), r.le32(off + 4)) else {
                return Verdict::Partial {
                    len: off,
                    why: "cut inside a chunk".into(),
                    subtype,
                };
            };
            if !id.iter().all(|c| c.is_ascii_graphic() || *c == b' ') {
                return if chunks == 0 {
                    Verdict::Reject
                } else {
                    Verdict::Partial {
                        len: off,
                        why: "invalid chunk id".into(),
                        subtype,
                    }
                };
            }
            off += 8 + u64::from(len) + u64::from(len & 1);
            chunks += 1;
        }
        if off != end || chunks == 0 {
            return Verdict::Partial {
                len: end.min(off),
                why: "chunks do not end at the declared size".into(),
                subtype,
            };
        }
        if r.get(end - 1, 1).is_none() {
            return Verdict::Partial {
                len: r.limit(),
                why: "cut off before its declared size".into(),
                subtype,
            };
        }
        Verdict::Complete { len: end, subtype }
    }
}

/// GZIP: header (with optional extra, name, comment, header CRC), a deflate stream
/// inflated to its exact end, and a trailer whose CRC-32 and length must match what
/// the stream produced.
pub struct Gzip;

impl Carver for Gzip {
    fn name(&self) -> &'static str {
        "gzip"
    }
    fn extension(&self, _: Option<&'static str>) -> &'static str {
        "gz"
    }
    fn headers(&self) -> &'static [&'static [u8]] {
        &[b"\x1f\x8b\x08"]
    }
    fn min_size(&self) -> u64 {
        20
    }
    fn max_size(&self) -> u64 {
        1 << 30
    }
    fn check(&self, r: &mut Reader<'_>) -> Verdict {
        use miniz_oxide::inflate::core::{decompress, inflate_flags, DecompressorOxide};
        use miniz_oxide::inflate::TINFLStatus;
        let Some(flags) = r.u8(3) else {
            return Verdict::Reject;
        };
        if flags & 0xE0 != 0 || !matches!(r.u8(9), Some(0..=13 | 255)) {
            return Verdict::Reject;
        }
        let mut off = 10u64;
        if flags & 0x04 != 0 {
            let Some(x) = r.le16(off) else {
                return Verdict::Reject;
            };
            off += 2 + u64::from(x);
        }
        for bit in [0x08u8, 0x10] {
            if flags & bit != 0 {
                let Some(z) = r.find(off, b"\0") else {
                    return Verdict::Reject;
                };
                if z - off > 4096 {
                    return Verdict::Reject;
                }
                off = z + 1;
            }
        }
        if flags & 0x02 != 0 {
            off += 2;
        }
        let mut d = DecompressorOxide::new();
        let mut out = vec![0u8; 32768];
        let (mut out_pos, mut crc, mut total) = (0usize, !0u32, 0u64);
        loop {
            let avail = (r.limit().saturating_sub(off)).min(1 << 16) as usize;
            let Some(input) = r.get(off, avail).map(<[u8]>::to_vec) else {
                // Out of budget mid-stream: what inflated so far still holds.
                return if total == 0 {
                    Verdict::Reject
                } else {
                    Verdict::Partial {
                        len: off,
                        why: "deflate stream not followed to its end".into(),
                        subtype: None,
                    }
                };
            };
            let more = if off + (avail as u64) < r.limit() {
                inflate_flags::TINFL_FLAG_HAS_MORE_INPUT
            } else {
                0
            };
            let (status, used, written) = decompress(&mut d, &input, &mut out, out_pos, more);
            // Inflated bytes count against the candidate's budget: a bomb stops here.
            if !r.spend(written as u64) {
                return Verdict::Partial {
                    len: off,
                    why: "inflation stopped at the work budget".into(),
                    subtype: None,
                };
            }
            crc = dredge_core::checksum::crc32_update(crc, &out[out_pos..out_pos + written]);
            total += written as u64;
            out_pos = (out_pos + written) & (out.len() - 1);
            off += used as u64;
            match status {
                TINFLStatus::Done => break,
                TINFLStatus::NeedsMoreInput if more != 0 => {}
                TINFLStatus::HasMoreOutput => {}
                TINFLStatus::NeedsMoreInput => {
                    return Verdict::Partial {
                        len: off,
                        why: "deflate stream cut off".into(),
                        subtype: None,
                    }
                }
                _ => {
                    return if total == 0 {
                        Verdict::Reject
                    } else {
                        Verdict::Partial {
                            len: off,
                            why: "deflate stream damaged".into(),
                            subtype: None,
                        }
                    }
                }
            }
            if used == 0 && written == 0 && status != TINFLStatus::HasMoreOutput {
                return Verdict::Partial {
                    len: off,
                    why: "deflate stream stalled".into(),
                    subtype: None,
                };
            }
        }
        let (Some(stored_crc), Some(isize)) = (r.le32(off), r.le32(off + 4)) else {
            return Verdict::Partial {
                len: off,
                why: "trailer cut off".into(),
                subtype: None,
            };
        };
        if stored_crc != !crc || u64::from(isize) != total & 0xFFFF_FFFF {
            return Verdict::Partial {
                len: off,
                why: "trailer CRC or length does not match the data".into(),
                subtype: None,
            };
        }
        Verdict::Complete {
            len: off + 8,
            subtype: None,
        }
    }
}

/// MP4 / QuickTime: `ftyp` first, then top-level boxes (32- or 64-bit sizes, known
/// types only, so following data is not taken for boxes) up to the last one; a movie
/// needs both `moov` and `mdat`.
pub struct Mp4;

const TOP_LEVEL: [&[u8; 4]; 16] = [
    b"ftyp", b"moov", b"mdat", b"free", b"skip", b"wide", b"uuid", b"meta", b"pdin", b"moof",
    b"mfra", b"sidx", b"styp", b"emsg", b"prft", b"pnot",
];

impl Carver for Mp4 {
    fn name(&self) -> &'static str {
        "mp4"
    }
    fn extension(&self, subtype: Option<&'static str>) -> &'static str {
        subtype.unwrap_or("mp4")
    }
    fn headers(&self) -> &'static [&'static [u8]] {
        &[b"ftyp"]
    }
    fn header_offset(&self) -> u64 {
        4
    }
    fn min_size(&self) -> u64 {
        64
    }
    fn max_size(&self) -> u64 {
        16 << 30
    }
    fn check(&self, r: &mut Reader<'_>) -> Verdict {
        let Some(first) = r.be32(0) else {
            return Verdict::Reject;
        };
        if !(8..=256).contains(&first) {
            return Verdict::Reject;
        }
        let subtype = match r.get(8, 4) {
            Some(b"qt  ") => Some("mov"),
            Some(b) if b.starts_with(b"3gp") => Some("3gp"),
            Some(b) if b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b' ') => Some("mp4"),
            _ => return Verdict::Reject,
        };
        let (mut off, mut moov, mut mdat) = (0u64, false, false);
        while let (Some(size32), Some(ty)) = (r.be32(off), r.get(off + 4, 4).map(<[u8]>::to_vec)) {
            if !TOP_LEVEL.iter().any(|t| t[..] == ty[..]) {
                break;
            }
            let size = match size32 {
                1 => match r.get(off + 8, 8) {
                    Some(b) => u64::from_be_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]),
                    None => break,
                },
                0 => r.limit() - off, // to the end of the file: trust it only as far as we can read
                s => u64::from(s),
            };
            if size < 8 {
                break;
            }
            moov |= &ty == b"moov";
            mdat |= &ty == b"mdat";
            // A 64-bit size can wrap the offset back to the start: the walk would
            // never end. Past the readable end is past the end, whatever the sum.
            let Some(next) = off.checked_add(size) else {
                break;
            };
            if next > r.limit() {
                return Verdict::Partial {
                    len: r.limit(),
                    why: format!(
                        "{} box runs past what is readable",
                        String::from_utf8_lossy(&ty)
                    ),
                    subtype,
                };
            }
            off = next;
        }
        if off == 0 {
            return Verdict::Reject;
        }
        if moov && mdat {
            Verdict::Complete { len: off, subtype }
        } else {
            Verdict::Partial {
                len: off,
                why: "no moov and mdat boxes".into(),
                subtype,
            }
        }
    }
}

/// PE (Windows executables and DLLs): the MZ header's pointer to `PE\0\0`, a known
/// machine, a PE32/PE32+ optional header, and the end at the furthest of: section raw
/// data, the headers, the certificate table (appended overlays cannot be known).
pub struct Pe;

impl Carver for Pe {
    fn name(&self) -> &'static str {
        "pe"
    }
    fn extension(&self, subtype: Option<&'static str>) -> &'static str {
        subtype.unwrap_or("exe")
    }
    fn headers(&self) -> &'static [&'static [u8]] {
        &[b"MZ"]
    }
    fn min_size(&self) -> u64 {
        512
    }
    fn max_size(&self) -> u64 {
        1 << 30
    }
    fn check(&self, r: &mut Reader<'_>) -> Verdict {
        let Some(lfanew) = r.le32(0x3C).map(u64::from) else {
            return Verdict::Reject;
        };
        if !(0x40..0x10000).contains(&lfanew) || r.get(lfanew, 4) != Some(b"PE\0\0") {
            return Verdict::Reject;
        }
        let (Some(machine), Some(nsec), Some(optsize), Some(chars)) = (
            r.le16(lfanew + 4),
            r.le16(lfanew + 6),
            r.le16(lfanew + 20),
            r.le16(lfanew + 22),
        ) else {
            return Verdict::Reject;
        };
        if !matches!(
            machine,
            0x14C | 0x8664 | 0x1C0 | 0x1C4 | 0xAA64 | 0x200 | 0x0
        ) || !(1..=96).contains(&nsec)
        {
            return Verdict::Reject;
        }
        let opt = lfanew + 24;
        let (dirs, magic) = match r.le16(opt) {
            Some(0x10B) => (opt + 96, "pe32"),
            Some(0x20B) => (opt + 112, "pe32+"),
            _ => return Verdict::Reject,
        };
        let _ = magic;
        let headers = r.le32(opt + 60).map_or(0, u64::from);
        let mut end = headers.max(opt + u64::from(optsize) + 40 * u64::from(nsec));
        let sections = opt + u64::from(optsize);
        for i in 0..u64::from(nsec) {
            let s = sections + 40 * i;
            let (Some(raw), Some(ptr)) = (r.le32(s + 16), r.le32(s + 20)) else {
                return Verdict::Partial {
                    len: s,
                    why: "section table cut off".into(),
                    subtype: None,
                };
            };
            if raw > 0 {
                end = end.max(u64::from(ptr) + u64::from(raw));
            }
        }
        // Data directory 4: the certificate table, given as a file offset.
        if u64::from(optsize) > dirs - opt + 40 {
            if let (Some(coff), Some(csize)) = (r.le32(dirs + 32), r.le32(dirs + 36)) {
                if coff > 0 && csize > 0 {
                    end = end.max(u64::from(coff) + u64::from(csize));
                }
            }
        }
        if end > self.max_size() {
            return Verdict::Reject;
        }
        let subtype = if chars & 0x2000 != 0 {
            Some("dll")
        } else {
            Some("exe")
        };
        if end > r.limit() {
            return Verdict::Partial {
                len: r.limit(),
                why: "cut off before its last section".into(),
                subtype,
            };
        }
        Verdict::Complete { len: end, subtype }
    }
}
