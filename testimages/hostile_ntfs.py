"""NTFS classes of make-hostile.py (same licence and conventions).

ntfs-lznt1-bomb: an NTFS volume written by mkntfs and ntfs-3g, holding honest
plain files, then hundreds of LZNT1-compressed files whose MFT records are
rewritten so that every compression unit of the file maps the one stored
(compressed) cluster of its first unit again: a 1 KiB record claims megabytes of
decoded data, the volume gigabytes. Honest compressed and plain files are
written after the bombs, so a reader that spends a shared budget on the bombs
first loses them.
"""
import contextlib
import os
import struct
import subprocess
import tempfile


@contextlib.contextmanager
def _ntfs(out, mib, label, compression):
    """A new NTFS volume of `mib` MiB in `out` (mkntfs, 4 KiB clusters), mounted
    with ntfs-3g (with compression support when asked) while the block runs."""
    if os.path.exists(out):
        os.remove(out)
    with open(out, "wb") as f:
        f.truncate(mib << 20)
    subprocess.run(["mkntfs", "-F", "-f", "-q", "-c", "4096", "-L", label, out],
                   check=True, capture_output=True)
    mnt = tempfile.mkdtemp()
    opts = ["-o", "compression"] if compression else []
    subprocess.run(["ntfs-3g", *opts, out, mnt], check=True, capture_output=True)
    try:
        yield mnt
    finally:
        subprocess.run(["umount", mnt], check=True)
        os.rmdir(mnt)


def _le(b, o, n):
    return int.from_bytes(b[o:o + n], "little")


def _unfix(rec, bps):
    """Applies a record's update sequence (fixups): the sector ends it holds."""
    usa, n = _le(rec, 4, 2), _le(rec, 6, 2)
    for i in range(1, n):
        end = i * bps - 2
        rec[end:end + 2] = rec[usa + 2 * i:usa + 2 * i + 2]


def _fix(rec, bps):
    """Moves each sector end into the update sequence array, writes the USN."""
    usa, n = _le(rec, 4, 2), _le(rec, 6, 2)
    usn = rec[usa:usa + 2]
    for i in range(1, n):
        end = i * bps - 2
        rec[usa + 2 * i:usa + 2 * i + 2] = rec[end:end + 2]
        rec[end:end + 2] = usn


def _attrs(rec):
    """(offset, type, length) of each attribute of a record."""
    o = _le(rec, 0x14, 2)
    while o + 8 <= len(rec):
        ty, ln = _le(rec, o, 4), _le(rec, o + 4, 4)
        if ty == 0xFFFFFFFF or ln < 0x18 or o + ln > len(rec):
            return
        yield o, ty, ln
        o += ln


def _runs(b, o):
    """Mapping pairs at o: [(clusters, lcn or None)]."""
    out, lcn = [], 0
    while o < len(b) and b[o]:
        ls, os_ = b[o] & 15, b[o] >> 4
        n = _le(b, o + 1, ls)
        if os_:
            lcn += int.from_bytes(b[o + 1 + ls:o + 1 + ls + os_], "little", signed=True)
            out.append((n, lcn))
        else:
            out.append((n, None))
        o += 1 + ls + os_
    return out


def _records(f):
    """Each in-use MFT record of the volume in f: (offset, record with its
    fixups undone, its file names, bytes per sector, cluster size)."""
    f.seek(0)
    boot = f.read(512)
    bps, spc = _le(boot, 11, 2), boot[13]
    cs = bps * spc
    mft = _le(boot, 0x30, 8) * cs
    c = int.from_bytes(boot[0x40:0x41], "little", signed=True)
    rs = c * cs if c > 0 else 1 << -c
    f.seek(mft)
    rec0 = bytearray(f.read(rs))
    _unfix(rec0, bps)
    data = [a for a in _attrs(rec0) if a[1] == 0x80][0][0]
    # The MFT's own layout: record n is at byte n * rs of its $DATA.
    places = []
    for n, lcn in _runs(rec0, data + _le(rec0, data + 0x20, 2)):
        places += [lcn * cs + k * cs for k in range(n)]
    for n in range(len(places) * cs // rs):
        at = places[n * rs // cs] + (n * rs) % cs
        f.seek(at)
        rec = bytearray(f.read(rs))
        if rec[:4] != b"FILE" or not _le(rec, 0x16, 2) & 1:
            continue
        _unfix(rec, bps)
        names = []
        for o, ty, _ in _attrs(rec):
            if ty == 0x30:
                v = o + _le(rec, o + 0x14, 2)
                names.append(rec[v + 0x42:v + 0x42 + 2 * rec[v + 0x40]].decode("utf-16-le"))
        yield at, rec, names, bps, cs


def _signed(v):
    for n in range(1, 9):
        try:
            return v.to_bytes(n, "little", signed=True)
        except OverflowError:
            pass
    raise ValueError(v)


def _bomb_record(rec, cs):
    """Rewrites the record's compressed $DATA: every unit maps its first unit's
    stored clusters again. Returns the units it now claims, or 0 if the record
    is not the shape expected."""
    for o, ty, ln in _attrs(rec):
        if ty != 0x80 or rec[o + 8] != 1 or rec[o + 9] != 0:
            continue
        if not _le(rec, o + 0x0C, 2) & 1 or rec[o + 0x22] != 4:
            return 0  # not compressed in units of 16 clusters
        if _le(rec, o + ln, 4) != 0xFFFFFFFF:
            return 0  # $DATA is not the last attribute
        runs = _runs(rec, o + _le(rec, o + 0x20, 2))
        if len(runs) < 2 or runs[0][1] is None or runs[1][1] is not None:
            return 0
        m, lcn = runs[0]
        if m >= 16 or runs[1][0] != 16 - m:
            return 0
        first = bytes([0x01 | (len(_signed(lcn)) << 4), m]) + _signed(lcn)
        again = bytes([0x11, m, 0x00, 0x01, 16 - m])
        units = (len(rec) - o) // len(again)
        while True:
            pairs = first + bytes([0x01, 16 - m]) + again * (units - 1) + b"\0"
            alen = (0x48 + len(pairs) + 7) & ~7
            if o + alen + 8 <= len(rec):
                break
            units -= 1
        size = units * 16 * cs
        struct.pack_into("<I", rec, o + 4, alen)
        rec[o + 0x20:o + 0x22] = struct.pack("<H", 0x48)
        struct.pack_into("<Q", rec, o + 0x18, units * 16 - 1)  # last VCN
        struct.pack_into("<QQQQ", rec, o + 0x28, size, size, size, units * m * cs)
        rec[o + 0x48:o + alen] = pairs.ljust(alen - 0x48, b"\0")
        end = o + alen
        rec[end:end + 8] = b"\xff\xff\xff\xff\0\0\0\0"
        struct.pack_into("<I", rec, 0x18, end + 8)  # bytes in use
        return units
    return 0


def _text(rng, n):
    words = [rng.choice(["exhibit", "ledger", "transfer", "account", "meeting", "invoice"])
             for _ in range(64)]
    lines = []
    while sum(map(len, lines)) < n:
        lines.append(f"{len(lines):08d} {' '.join(rng.sample(words, 8))} {rng.randrange(1 << 32):x}\n")
    return "".join(lines).encode()[:n]


def _compressible(rng, folder, n, prefix):
    """n files of 64 KiB, each a short random pattern repeated (compresses to a
    cluster or so per unit), named prefix0000.bin on."""
    for i in range(n):
        pat = rng.randbytes(rng.randrange(16, 64))
        with open(os.path.join(folder, f"{prefix}{i:04d}.bin"), "wb") as f:
            f.write((pat * (65536 // len(pat) + 1))[:65536])


def _honest_after(rng, mnt, most, honest_files, sha):
    """The honest files written after the bombs: compressed text logs (up to
    `most` bytes) in packed/, then plain files at the root; {path: sha256}."""
    want = {}
    for i in range(rng.randrange(2, 5)):
        data = _text(rng, rng.randrange(100_000, most))
        name = f"packed/zz-log{i}-{rng.randrange(1 << 20):x}.txt"
        with open(os.path.join(mnt, name), "wb") as f:
            f.write(data)
        want["/" + name] = sha(data)
    want.update(honest_files(rng, mnt, rng.randrange(3, 7), "zz-"))
    return want


def ntfs_lznt1_bomb(out, rng, honest_files, sha):
    want = {}
    nbombs = rng.randrange(150, 260)
    with _ntfs(out, 96, "bomb", compression=True) as mnt:
        want.update(honest_files(rng, mnt, rng.randrange(3, 7), "a-"))
        packed = os.path.join(mnt, "packed")
        os.mkdir(packed)
        # Files created in a folder marked compressed (0x800) are compressed.
        os.setxattr(packed, "system.ntfs_attrib_be", (0x800).to_bytes(4, "big"))
        _compressible(rng, packed, nbombs, "z-bomb")
        want.update(_honest_after(rng, mnt, 600_000, honest_files, sha))
    done = 0
    with open(out, "r+b") as f:
        for at, rec, names, bps, cs in _records(f):
            if not any(x.startswith("z-bomb") for x in names):
                continue
            if _bomb_record(rec, cs):
                done += 1
                _fix(rec, bps)
                f.seek(at)
                f.write(rec)
    if done < nbombs // 2:
        raise SystemExit(f"only {done} of {nbombs} bomb records had the expected shape")
    return want


def _data_attr(rec):
    """(offset, length) of a record's unnamed non-resident $DATA if it is the
    last attribute, else None."""
    for o, ty, ln in _attrs(rec):
        if ty == 0x80 and rec[o + 8] == 1 and rec[o + 9] == 0:
            return (o, ln) if _le(rec, o + ln, 4) == 0xFFFFFFFF else None
    return None


def ntfs_shared_bomb(out, rng, honest_files, sha):
    """Hundreds of compressed files whose records are rewritten to map the
    stored clusters of one honest compressed file (the donor): each record is
    a copy of the donor's $DATA, so every one of them decodes megabytes that
    its own clusters do not pay for. No record maps a cluster twice, so the
    per-stream check of ntfs-lznt1-bomb does not see it; only a per-volume
    account of which stored clusters were already credited does."""
    want = {}
    nbombs = rng.randrange(250, 450)
    with _ntfs(out, 64, "shared", compression=True) as mnt:
        want.update(honest_files(rng, mnt, rng.randrange(3, 7), "a-"))
        packed = os.path.join(mnt, "packed")
        os.mkdir(packed)
        os.setxattr(packed, "system.ntfs_attrib_be", (0x800).to_bytes(4, "big"))
        donor = f"packed/donor-{rng.randrange(1 << 24):06x}.bin"
        data = _text(rng, rng.randrange(24, 40) * 65536 + rng.randrange(65536))
        with open(os.path.join(mnt, donor), "wb") as f:
            f.write(data)
        want["/" + donor] = sha(data)
        _compressible(rng, packed, nbombs, "s-")
        want.update(_honest_after(rng, mnt, 400_000, honest_files, sha))
    done = 0
    with open(out, "r+b") as f:
        recs = list(_records(f))
        src = [r for at, r, names, _, _ in recs if any(x.startswith("donor-") for x in names)]
        if len(src) != 1 or not _data_attr(src[0]):
            raise SystemExit("the donor's record is not the shape expected")
        o, ln = _data_attr(src[0])
        attr = src[0][o:o + ln]
        for at, rec, names, bps, cs in recs:
            if not any(x.startswith("s-") for x in names):
                continue
            mine = _data_attr(rec)
            if not mine or mine[0] + len(attr) + 8 > len(rec):
                continue
            ident = rec[mine[0] + 0x0E:mine[0] + 0x10]
            end = mine[0] + len(attr)
            rec[mine[0]:end] = attr
            rec[mine[0] + 0x0E:mine[0] + 0x10] = ident
            rec[end:end + 8] = b"\xff\xff\xff\xff\0\0\0\0"
            struct.pack_into("<I", rec, 0x18, end + 8)  # bytes in use
            done += 1
            _fix(rec, bps)
            f.seek(at)
            f.write(rec)
    if done < nbombs // 2:
        raise SystemExit(f"only {done} of {nbombs} records could be rewritten")
    return want


def _set_sizes(rec, ty, size):
    """Sets the allocated, data and initialized sizes of a record's unnamed
    non-resident attribute of type ty; True if there was one."""
    for o, t, ln in _attrs(rec):
        if t == ty and rec[o + 8] == 1 and rec[o + 9] == 0:
            struct.pack_into("<QQQ", rec, o + 0x28, size, size, size)
            return True
    return False


def ntfs_size_bomb(out, rng, honest_files, sha):
    """Size fields that claim far more than the volume: the $MFT's own $DATA
    claims up to 2^44 bytes (billions of records), a folder's
    $INDEX_ALLOCATION claims up to 2^44 bytes, and dozens of files' $DATA claim
    2^40 to 2^62 bytes over the few clusters they map. Honest files in the
    root, in the folder whose index lies, and after everything else."""
    want = {}
    nbombs = rng.randrange(30, 90)
    with _ntfs(out, 48, "sizes", compression=False) as mnt:
        want.update(honest_files(rng, mnt, rng.randrange(3, 7), "a-"))
        idx = os.path.join(mnt, "idx")
        os.mkdir(idx)
        # Enough names that the folder's index is non-resident.
        for k, v in honest_files(rng, idx, rng.randrange(120, 200), "i-").items():
            want["/idx" + k] = v
        for i in range(nbombs):
            with open(os.path.join(mnt, f"z-size{i:03d}.bin"), "wb") as f:
                f.write(rng.randbytes(rng.randrange(5000, 20000)))
        want.update(honest_files(rng, mnt, rng.randrange(3, 7), "zz-"))
    done = 0
    with open(out, "r+b") as f:
        for at, rec, names, bps, cs in list(_records(f)):
            if "$MFT" in names:
                ok = _set_sizes(rec, 0x80, 1 << rng.randrange(36, 45))
            elif "idx" in names:
                ok = _set_sizes(rec, 0xA0, 1 << rng.randrange(36, 45))
            elif any(x.startswith("z-size") for x in names):
                ok = _set_sizes(rec, 0x80, 1 << rng.randrange(40, 63))
            else:
                continue
            if ok:
                done += 1
                _fix(rec, bps)
                f.seek(at)
                f.write(rec)
    if done < nbombs // 2 + 2:
        raise SystemExit(f"only {done} records could be rewritten")
    return want
