#!/usr/bin/env python3
"""Builds hostile evidence: images whose bytes are made to hurt a forensic tool.

    make-hostile.py CLASS OUT_IMAGE [--seed N]

Each class is a family: the seed moves offsets, sizes, names and counts, so a test
can run images it has never seen, built the same way. Beside OUT_IMAGE it writes
OUT_IMAGE.json: {"files": {path: sha256}} for every honest file on the image, which
the tool must still recover whatever the hostile part does.

Classes:
  carve-bombs  FAT16 stick; free space holds an MP4 whose 64-bit box size wraps the
               offset to the start, a ZIP whose directory names one 1 GiB deflated
               member thousands of times, and a gzip of 1 GiB of zeros.
  deep-fat     FAT32 stick with folders nested deeper than PATH_MAX (4096 bytes of
               long names), a file at the bottom, honest files beside them.
  ext-extent-bomb
               ext4 whose many files' inodes all point, through a two-level extent
               index, at one shared leaf: hundreds of thousands of runs per inode,
               for every inode, from a few blocks of metadata. Honest files beside.
  clash-ext4   ext4 with names that clash on a case-insensitive output filesystem
               (README / readme), a file where the planner's rename would go
               (b, b~dir), a top-level folder named like the fallback folder (by-id),
               and names with characters Windows forbids (:, *, ?).

  sparse-bomb  ext4 (mkfs.ext4 -d) of 16 MiB holding hundreds of sparse files,
               each just under the per-file size cap (1 GiB and a few bytes of
               data): together hundreds of GiB of holes, every one of which a
               tool hashes as zeros. Honest files before and after them.

  fat-cycles   FAT16 stick with a file whose cluster chain loops back on itself
               (its size claims 4 GiB), a folder whose chain points at itself, a
               folder whose subfolder entry points back at it, and a file cross-
               linked into an honest file's clusters. Honest files beside them.
  gpt-bomb     A disk whose primary GPT header (valid CRC) claims up to 2^32
               entries of up to 2^28 bytes; the backup GPT is sane and maps a FAT
               partition of honest files. Or (by seed) an MBR disk whose extended
               partition chain loops and claims partitions far past the end.
  polyglot     ext4 volume whose first sector is also a FAT boot sector that a FAT
               reader accepts, its sizes overreaching (up to 100 MB on 8 MB, FATs
               over the inode tables): both readers claim the volume, the FAT one
               walks ext4 metadata as folders; the ext4 files must all come back.
  e01-table-bomb
               An E01 (ewfacquire) of a FAT stick whose table section, or both it
               and its table2 mirror, claims up to 2^32 entries under a valid
               header checksum. OUT_IMAGE must end in .E01.

  ntfs-lznt1-bomb
               NTFS (mkntfs, ntfs-3g) whose hundreds of compressed files' records
               map one stored cluster into every compression unit: megabytes
               decoded per 1 KiB record. Honest compressed files after them.
               (hostile_ntfs.py)
  ntfs-shared-bomb
               NTFS whose hundreds of compressed files' records are copies of
               one honest compressed file's $DATA: each maps that file's stored
               clusters and decodes megabytes no cluster of its own pays for.
               Honest compressed and plain files around them. (hostile_ntfs.py)
  ntfs-size-bomb
               NTFS whose $MFT claims up to 2^44 bytes, a folder's index
               allocation up to 2^44 bytes, and dozens of files 2^40-2^62 bytes
               over the few clusters they map. Honest files in the root, in the
               lying folder, and after. (hostile_ntfs.py)
  fat-dir-bomb FAT16 stick with hundreds of empty folders whose clusters are linked
               into one chain: each folder reads every later one's cluster.
               Honest files before and after, and a folder DOCS.
  exfat-dir-bomb
               exFAT (mkfs.exfat, exfat-fuse) with hundreds of empty folders
               whose stream extensions say contiguous and 64 GiB long: each
               claims the volume from its cluster on as directory data. Honest
               files before and after. (hostile_exfat.py)

Needs mkfs.fat and mtools (carve-bombs, deep-fat, fat-cycles, gpt-bomb), with
ewfacquire (e01-table-bomb), or mkfs.ext4 (clash-ext4, ext-extent-bomb, polyglot, sparse-bomb), or mkntfs and ntfs-3g
with FUSE (ntfs-lznt1-bomb, ntfs-shared-bomb, ntfs-size-bomb), or mkfs.exfat, exfat-fuse and losetup
(exfat-dir-bomb).
"""
import argparse
import hashlib
import json
import os
import random
import shutil
import struct
import subprocess
import tempfile
import sys
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hostile_exfat import exfat_dir_bomb  # noqa: E402
from hostile_ntfs import ntfs_lznt1_bomb, ntfs_shared_bomb, ntfs_size_bomb  # noqa: E402

ZEROS = b"\0" * (1 << 20)


def sha(b):
    return hashlib.sha256(b).hexdigest()


def honest_files(rng, src, n, prefix=""):
    """Writes n files of random bytes under src; returns {path: sha256}."""
    want = {}
    for i in range(n):
        data = rng.randbytes(rng.randrange(1000, 40000))
        name = f"{prefix}file{i}-{rng.randrange(1 << 30):x}.bin"
        with open(os.path.join(src, name), "wb") as f:
            f.write(data)
        want["/" + name] = sha(data)
    return want


def mtools(*args):
    env = dict(os.environ, MTOOLS_SKIP_CHECK="1")
    r = subprocess.run(list(args), env=env, capture_output=True)
    if r.returncode != 0:
        raise SystemExit(f"{args[0]} failed: {r.stderr.decode(errors='replace')[-300:]}")


def fat_image(out, mib, fat32=False):
    if os.path.exists(out):
        os.remove(out)
    cmd = ["mkfs.fat", "-C", "-i", "12345678", "--invariant"]
    if fat32:
        # 1 KiB clusters: a new folder's first cluster holds its dot entries and a
        # 250-character long name (21 entries); more than 65 525 clusters for FAT32.
        cmd += ["-F", "32", "-s", "2"]
    subprocess.run(cmd + [out, str(mib * 1024)], check=True, capture_output=True)


def deflate_zeros(total):
    """Raw deflate of `total` zero bytes, compressed in pieces (never held whole)."""
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    out = []
    left = total
    while left:
        n = min(left, len(ZEROS))
        out.append(c.compress(ZEROS[:n]))
        left -= n
    out.append(c.flush())
    return b"".join(out)


def zip_bomb(rng):
    size = 1 << 30
    data = deflate_zeros(size)
    crc = crc_zeros(size)
    name = b"bomb-%d.bin" % rng.randrange(1000)
    local = struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0, crc, len(data), size,
                        len(name), 0) + name
    body = local + data
    count = rng.randrange(2000, 4000)
    central = b""
    for _ in range(count):
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 8, 0, 0, crc,
                               len(data), size, len(name), 0, 0, 0, 0, 0, 0) + name
    eocd = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, count, count, len(central), len(body), 0)
    return body + central + eocd


def mp4_wrap(rng, at):
    """An ftyp box, then a box whose 64-bit size brings the offset back to 0."""
    brand = rng.choice([b"isom", b"mp42", b"M4V "])
    ftyp = struct.pack(">I", 24) + b"ftyp" + brand + struct.pack(">I", 0) + brand + b"mp41"
    off = len(ftyp)
    wrap = (1 << 64) - off
    box = struct.pack(">I", 1) + rng.choice([b"mdat", b"free", b"moov"]) + struct.pack(">Q", wrap)
    return ftyp + box + b"\0" * 8


def crc_zeros(total):
    crc, left = 0, total
    while left:
        n = min(left, len(ZEROS))
        crc = zlib.crc32(ZEROS[:n], crc)
        left -= n
    return crc


def gzip_bomb(rng):
    size = 1 << 30
    header = struct.pack("<BBBBIBB", 0x1F, 0x8B, 8, 0, 0, 0, 3)
    return header + deflate_zeros(size) + struct.pack("<II", crc_zeros(size), size & 0xFFFFFFFF)


def carve_bombs(out, rng):
    with tempfile.TemporaryDirectory() as t:
        src = os.path.join(t, "src")
        os.mkdir(src)
        want = honest_files(rng, src, rng.randrange(3, 8))
        fat_image(out, 16)
        for name in sorted(os.listdir(src)):
            mtools("mcopy", "-i", out, os.path.join(src, name), "::/" + name)
    payloads = [mp4_wrap(rng, 0), zip_bomb(rng), gzip_bomb(rng), mp4_wrap(rng, 0)]
    rng.shuffle(payloads)
    # Free space: the files sit at the start of the data area.
    at = (8 << 20) + rng.randrange(0, 256) * 512
    with open(out, "r+b") as f:
        for p in payloads:
            f.seek(at)
            f.write(p)
            at += (len(p) + 4096 + rng.randrange(0, 64) * 512) // 512 * 512
    assert at < (16 << 20)
    return want


def deep_fat(out, rng):
    fat_image(out, 80, fat32=True)
    with tempfile.TemporaryDirectory() as t:
        src = os.path.join(t, "src")
        os.mkdir(src)
        want = honest_files(rng, src, rng.randrange(3, 8))
        for name in sorted(os.listdir(src)):
            mtools("mcopy", "-i", out, os.path.join(src, name), "::/" + name)
        # Long names, deeper than PATH_MAX in all.
        parts, path = [], ""
        while len(path) < 4096 + 600:
            part = "".join(rng.choice("abcdefghij") for _ in range(rng.randrange(180, 250)))
            parts.append(part)
            path += "/" + part
            mtools("mmd", "-i", out, "::" + path)
        data = rng.randbytes(5000)
        bottom = os.path.join(t, "bottom.bin")
        with open(bottom, "wb") as f:
            f.write(data)
        mtools("mcopy", "-i", out, bottom, "::" + path + "/bottom.bin")
        want[path + "/bottom.bin"] = sha(data)
        # Honest files after the deep one in walk order, too.
        later = os.path.join(t, "later")
        os.mkdir(later)
        for k, v in honest_files(rng, later, 3, "zz-").items():
            want[k] = v
        for name in sorted(os.listdir(later)):
            mtools("mcopy", "-i", out, os.path.join(later, name), "::/" + name)
    return want


def clash_ext4(out, rng):
    with tempfile.TemporaryDirectory() as t:
        src = os.path.join(t, "src")
        os.mkdir(src)
        want = honest_files(rng, src, rng.randrange(2, 5))
        names = ["README", "readme", "ReadMe", "b", "b~dir", "B/c", "by-id/inner.bin",
                 "BY-ID", "colon:name", "star*name", "what?", "Dir/x", "dir/X", "dir/x"]
        rng.shuffle(names)
        for n in names:
            p = os.path.join(src, n)
            os.makedirs(os.path.dirname(p), exist_ok=True)
            if os.path.isdir(p):
                continue
            data = rng.randbytes(rng.randrange(10, 3000))
            with open(p, "wb") as f:
                f.write(data)
            want["/" + n] = sha(data)
        # b and b~dir are files, B/ a folder: the folder needs a rename whose first
        # choice is taken.
        if os.path.exists(out):
            os.remove(out)
        subprocess.run(["mkfs.ext4", "-q", "-F", "-E", "root_owner=0:0", "-U",
                        "0d2c6a5e-0000-4000-8000-%012x" % rng.randrange(1 << 48),
                        "-d", src, out, "8M"], check=True, capture_output=True)
    return want


def ext_extent_bomb(out, rng):
    bs = 4096
    with tempfile.TemporaryDirectory() as t:
        src = os.path.join(t, "src")
        os.mkdir(src)
        want = honest_files(rng, src, rng.randrange(2, 5), "a-")
        bombs = rng.randrange(1500, 2500)
        for i in range(bombs):
            with open(os.path.join(src, f"z-bomb{i:04d}"), "wb") as f:
                f.write(b"x")
        # Honest files after the bombs in inode order too.
        want.update(honest_files(rng, src, 2, "zz-"))
        if os.path.exists(out):
            os.remove(out)
        subprocess.run(["mkfs.ext4", "-q", "-F", "-b", str(bs), "-I", "256", "-O",
                        "^metadata_csum,^64bit,^has_journal,extent", "-N", "4096", "-E", "root_owner=0:0",
                        "-d", src, out, "16M"], check=True, capture_output=True)
    with open(out, "r+b") as f:
        img = bytearray(f.read())
        sb = 1024
        inode_size = struct.unpack_from("<H", img, sb + 88)[0]
        inodes_per_group = struct.unpack_from("<I", img, sb + 40)[0]
        gdt = bs  # block 1
        table = struct.unpack_from("<I", img, gdt + 8)[0]
        # Two free blocks (from the block bitmap) for the leaf and the index.
        bitmap = struct.unpack_from("<I", img, gdt)[0] * bs
        blocks = struct.unpack_from("<I", img, sb + 4)[0]
        free = [b for b in range(blocks) if not img[bitmap + b // 8] >> (b % 8) & 1]
        assert len(free) > 64, len(free)
        leaf, index = rng.sample(free[-64:], 2)
        per_block = (bs - 12) // 12
        # The shared leaf: extents of one block each, pointing at the leaf itself.
        hdr = lambda n, depth: struct.pack("<HHHHI", 0xF30A, n, n, depth, 0)
        l = hdr(per_block, 0) + b"".join(
            struct.pack("<IHHI", i, 1, 0, leaf) for i in range(per_block))
        img[leaf * bs:leaf * bs + len(l)] = l
        # One index block: every entry points at the leaf.
        ix = hdr(per_block, 1) + b"".join(
            struct.pack("<IIHH", i * per_block, leaf, 0, 0) for i in range(per_block))
        img[index * bs:index * bs + len(ix)] = ix
        # Every bomb inode: depth 2, four entries, all to the index block; a huge size.
        root = hdr(4, 2) + b"".join(
            struct.pack("<IIHH", i * per_block * per_block, index, 0, 0) for i in range(4))
        patched = 0
        for ino in range(12, inodes_per_group + 1):
            at = table * bs + (ino - 1) * inode_size
            flags = struct.unpack_from("<I", img, at + 32)[0]
            mode = struct.unpack_from("<H", img, at)[0]
            size = struct.unpack_from("<I", img, at + 4)[0]
            if mode & 0xF000 != 0x8000 or size != 1 or not flags & 0x80000:
                continue
            img[at + 40:at + 40 + len(root)] = root
            struct.pack_into("<I", img, at + 4, 0)
            struct.pack_into("<I", img, at + 108, 1 << 8)  # size = 2^40
            patched += 1
        assert patched >= bombs, (patched, bombs)
        f.seek(0)
        f.write(img)
    return want


def sparse_bomb(out, rng):
    with tempfile.TemporaryDirectory() as t:
        src = os.path.join(t, "src")
        os.mkdir(src)
        want = honest_files(rng, src, rng.randrange(2, 5), "a-")
        for i in range(rng.randrange(200, 400)):
            with open(os.path.join(src, f"m-hole{i:03d}"), "wb") as f:
                f.truncate(rng.randrange(900, 1024) << 20)
                f.seek(rng.randrange(0, 1 << 20), os.SEEK_END)
                f.write(rng.randbytes(rng.randrange(1, 64)))
        want.update(honest_files(rng, src, 2, "z-"))
        if os.path.exists(out):
            os.remove(out)
        subprocess.run(["mkfs.ext4", "-q", "-F", "-N", "1024", "-E", "root_owner=0:0",
                        "-d", src, out, "16M"], check=True, capture_output=True)
    return want


def fat16_layout(img):
    bps, spc = struct.unpack_from("<HB", img, 11)
    reserved, nfats, root_entries = struct.unpack_from("<HBH", img, 14)
    fatsz = struct.unpack_from("<H", img, 22)[0]
    fat = reserved * bps
    root = fat + nfats * fatsz * bps
    data = root + root_entries * 32
    return {"bps": bps, "cluster": spc * bps, "fat": fat, "fatsz": fatsz * bps,
            "nfats": nfats, "root": root, "root_len": root_entries * 32, "data": data}


def short_entry(img, lay, dir_at, dir_len, name83):
    """Offset of the 8.3 entry named `name83` (11 bytes) in a directory region."""
    for at in range(dir_at, dir_at + dir_len, 32):
        if img[at:at + 11] == name83:
            return at
    raise SystemExit(f"no entry {name83!r}")


def cluster_at(lay, c):
    return lay["data"] + (c - 2) * lay["cluster"]


def set_fat16(img, lay, c, v):
    for k in range(lay["nfats"]):
        struct.pack_into("<H", img, lay["fat"] + k * lay["fatsz"] + 2 * c, v)


def fat_cycles(out, rng):
    fat_image(out, 16)
    with tempfile.TemporaryDirectory() as t:
        src = os.path.join(t, "src")
        os.mkdir(src)
        want = honest_files(rng, src, rng.randrange(3, 7))
        for name in sorted(os.listdir(src)):
            mtools("mcopy", "-i", out, os.path.join(src, name), "::/" + name)
        loop = os.path.join(t, "LOOP.BIN")
        with open(loop, "wb") as f:
            f.write(rng.randbytes(rng.randrange(3, 6) * 2048))
        mtools("mcopy", "-i", out, loop, "::/LOOP.BIN")
        cross = os.path.join(t, "CROSS.BIN")
        with open(cross, "wb") as f:
            f.write(rng.randbytes(3000))
        mtools("mcopy", "-i", out, cross, "::/CROSS.BIN")
        for d in ("SELF", "CYC", "CYC/INNER", "OK"):
            mtools("mmd", "-i", out, "::/" + d)
        keep = os.path.join(t, "k")
        os.mkdir(keep)
        for k, v in honest_files(rng, keep, 2, "cyc-").items():
            want["/CYC" + k] = v
        for name in sorted(os.listdir(keep)):
            mtools("mcopy", "-i", out, os.path.join(keep, name), "::/CYC/" + name)
        ok = os.path.join(t, "ok")
        os.mkdir(ok)
        for k, v in honest_files(rng, ok, 2, "ok-").items():
            want["/OK" + k] = v
        for name in sorted(os.listdir(ok)):
            mtools("mcopy", "-i", out, os.path.join(ok, name), "::/OK/" + name)
    with open(out, "r+b") as f:
        img = bytearray(f.read())
        lay = fat16_layout(img)
        first = lambda at: struct.unpack_from("<H", img, at + 26)[0]
        root = (lay["root"], lay["root_len"])
        # LOOP.BIN: the last cluster of its chain leads back to the first; 4 GiB.
        e = short_entry(img, lay, *root, b"LOOP    BIN")
        c, chain = first(e), []
        while 2 <= c < 0xFFF8 and len(chain) < 64:
            chain.append(c)
            c = struct.unpack_from("<H", img, lay["fat"] + 2 * c)[0]
        set_fat16(img, lay, chain[-1], chain[rng.randrange(len(chain))])
        struct.pack_into("<I", img, e + 28, 0xFFFFFFFF - rng.randrange(4096))
        # CROSS.BIN shares the first honest file's clusters.
        honest = next(a for a in range(root[0], root[0] + root[1], 32)
                      if img[a] not in (0, 0xE5) and img[a + 11] == 0x20 and img[a:a + 4] == b"FILE")
        struct.pack_into("<H", img, short_entry(img, lay, *root, b"CROSS   BIN") + 26, first(honest))
        # SELF: its one cluster's FAT entry names itself.
        c = first(short_entry(img, lay, *root, b"SELF       "))
        set_fat16(img, lay, c, c)
        # CYC/INNER: its entry points back at CYC (and its `..` at CYC's parent).
        cyc = first(short_entry(img, lay, *root, b"CYC        "))
        inner = short_entry(img, lay, cluster_at(lay, cyc), lay["cluster"], b"INNER      ")
        struct.pack_into("<H", img, inner + 26, cyc)
        f.seek(0)
        f.write(img)
    return want


def gpt_entry(type_guid, first, last, name, rng):
    return (type_guid + rng.randbytes(16) + struct.pack("<QQQ", first, last, 0)
            + name.encode("utf-16-le").ljust(72, b"\0"))


def gpt_header(my, alt, first_usable, last_usable, entries_lba, n, size, array_crc, guid):
    h = bytearray(b"EFI PART" + struct.pack("<IIII", 0x10000, 92, 0, 0)
                  + struct.pack("<QQQQ", my, alt, first_usable, last_usable) + guid
                  + struct.pack("<QIII", entries_lba, n, size, array_crc))
    struct.pack_into("<I", h, 16, zlib.crc32(bytes(h)))
    return bytes(h)


def gpt_bomb(out, rng):
    part_mib = 12
    with tempfile.TemporaryDirectory() as t:
        vol = os.path.join(t, "vol.img")
        fat_image(vol, part_mib)
        src = os.path.join(t, "src")
        os.mkdir(src)
        want = honest_files(rng, src, rng.randrange(3, 7))
        for name in sorted(os.listdir(src)):
            mtools("mcopy", "-i", vol, os.path.join(src, name), "::/" + name)
        with open(vol, "rb") as f:
            fs = f.read()
    size = (part_mib + 2) << 20
    img = bytearray(size)
    start = 2048
    img[start * 512:start * 512 + len(fs)] = fs
    last = size // 512 - 1
    if rng.random() < 0.5:
        # Protective MBR, a hostile primary GPT, a sane backup.
        img[446:462] = struct.pack("<B3sB3sII", 0, b"\0\2\0", 0xEE, b"\xff\xff\xff", 1,
                                   min(last, 0xFFFFFFFF))
        img[510:512] = b"\x55\xaa"
        basic = bytes.fromhex("a2a0d0ebe5b9334487c068b6b72699c7")
        array = gpt_entry(basic, start, start + len(fs) // 512 - 1, "honest", rng).ljust(128 * 128, b"\0")
        guid = rng.randbytes(16)
        n = rng.choice([0xFFFFFFFF, 0x10000000, 0x00FFFFFF])
        esize = rng.choice([128, 0x10000000, 0xFFFFFF80])
        img[512:1024] = gpt_header(1, last, 34, last - 33, 2, n, esize,
                                   zlib.crc32(array), guid).ljust(512, b"\0")
        img[1024:1024 + len(array)] = array
        img[(last - 32) * 512:(last - 32) * 512 + len(array)] = array
        img[last * 512:last * 512 + 512] = gpt_header(last, 1, 34, last - 33, last - 32, 128, 128,
                                                     zlib.crc32(array), guid).ljust(512, b"\0")
    else:
        # MBR: the FAT partition, and an extended partition whose EBR chain loops,
        # each EBR claiming a logical partition far past the end of the disk.
        ext_at = start + len(fs) // 512
        img[446:462] = struct.pack("<B3sB3sII", 0, b"\0\0\0", 0x06, b"\0\0\0", start, len(fs) // 512)
        img[462:478] = struct.pack("<B3sB3sII", 0, b"\0\0\0", 0x0F, b"\0\0\0", ext_at, 64)
        img[510:512] = b"\x55\xaa"
        ebrs = rng.randrange(1, 4)
        for k in range(ebrs):
            at = (ext_at + k) * 512
            nxt = (k + 1) % ebrs  # the last one links back to the first
            img[at + 446:at + 462] = struct.pack("<B3sB3sII", 0, b"\0\0\0", 0x83, b"\0\0\0",
                                                 rng.randrange(1, 1 << 20), 0xFFFFFFF0)
            img[at + 462:at + 478] = struct.pack("<B3sB3sII", 0, b"\0\0\0", 0x05, b"\0\0\0", nxt, 1)
            img[at + 510:at + 512] = b"\x55\xaa"
    with open(out, "wb") as f:
        f.write(img)
    return want


def polyglot(out, rng):
    with tempfile.TemporaryDirectory() as t:
        src = os.path.join(t, "src")
        os.mkdir(src)
        want = honest_files(rng, src, rng.randrange(3, 7))
        if os.path.exists(out):
            os.remove(out)
        subprocess.run(["mkfs.ext4", "-q", "-F", "-E", "root_owner=0:0", "-d", src, out, "8M"],
                       check=True, capture_output=True)
        tiny = os.path.join(t, "tiny.img")
        fat_image(tiny, 1)
        with open(tiny, "rb") as f:
            boot = bytearray(f.read(512))
    # ext4 leaves its first 1024 bytes alone: a FAT boot sector fits there. Its
    # fields stay plausible enough for a FAT reader to accept the volume (so both
    # readers claim it and the FAT one walks ext4 metadata as directories), with
    # sizes that overreach: up to 100 MB claimed on 8 MB, FATs over the inode tables.
    reserved, root_entries = rng.choice([1, 2, 4]), rng.choice([224, 512, 1024])
    spc, total = rng.choice([1, 2, 4]), rng.choice([16384, 60000, 120000])
    # The smallest FAT that covers the cluster count (FAT12 or FAT16 by count),
    # so the reader accepts the boot sector; sometimes a little more.
    fat = 1
    while True:
        data = reserved + 2 * fat + root_entries * 32 // 512
        clusters = (total - data) // spc
        bits = 12 if clusters < 4085 else 16
        if fat * 512 >= (clusters + 2) * bits // 8 + 1:
            break
        fat += 1
    fat += rng.choice([0, 0, 3])
    boot[13] = spc
    struct.pack_into("<H", boot, 14, reserved)
    boot[16] = 2
    struct.pack_into("<H", boot, 17, root_entries)
    struct.pack_into("<H", boot, 19, 0)
    struct.pack_into("<H", boot, 22, fat)
    struct.pack_into("<I", boot, 32, total)
    with open(out, "r+b") as f:
        f.write(boot)
    return want


def e01_sections(data):
    """(type, offset, size) of every section of one EWF segment."""
    out, off = [], 13
    while off + 76 <= len(data):
        ty = data[off:off + 16].rstrip(b"\0").decode("ascii", "replace")
        nxt, size = struct.unpack("<QQ", data[off + 16:off + 32])
        out.append((ty, off, size))
        if ty in ("done", "next") or nxt <= off:
            break
        off = nxt
    return out


def e01_table_bomb(out, rng):
    """An E01 (written by ewfacquire) of a FAT stick whose table section claims
    up to 2^31 entries: a reader that believes the count allocates gigabytes; one
    that rejects the table loses every honest file."""
    assert out.endswith(".E01")
    with tempfile.TemporaryDirectory() as t:
        raw = os.path.join(t, "stick.raw")
        fat_image(raw, 8)
        src = os.path.join(t, "src")
        os.mkdir(src)
        want = honest_files(rng, src, rng.randrange(4, 9))
        for name in sorted(os.listdir(src)):
            mtools("mcopy", "-i", raw, os.path.join(src, name), "::/" + name)
        subprocess.run(["ewfacquire", "-u", "-t", out[:-4], "-c", "none", raw],
                       check=True, capture_output=True)
    data = bytearray(open(out, "rb").read())
    tables = [(ty, off) for ty, off, _ in e01_sections(data) if ty in ("table", "table2")]
    assert tables, "ewfacquire wrote no table"
    # The primary table, and with seed-dependent odds its mirror too.
    victims = tables if rng.random() < 0.5 else tables[:1]
    for _, off in victims:
        count = rng.choice([0x7FFFFFFF, 0xFFFFFFFF, 1 << 24, rng.randrange(1 << 20, 1 << 31)])
        hdr = off + 76
        struct.pack_into("<I", data, hdr, count)
        # A consistent header checksum: the count is the lie, not the checksum.
        struct.pack_into("<I", data, hdr + 20, zlib.adler32(bytes(data[hdr:hdr + 20])))
    with open(out, "wb") as f:
        f.write(data)
    return want


def fat_dir_bomb(out, rng):
    """FAT16: hundreds of empty folders whose clusters are linked into one chain,
    each folder's chain running through every later folder's cluster."""
    fat_image(out, 32)
    with tempfile.TemporaryDirectory() as t:
        want = {}
        for d, prefix in (("", "a-"), ("DOCS", ""), ("", "zz-")):
            src = os.path.join(t, prefix + d + "src")
            os.mkdir(src)
            if d:
                mtools("mmd", "-i", out, "::/" + d)
            for k, v in honest_files(rng, src, rng.randrange(3, 7), prefix).items():
                want[("/" + d if d else "") + k] = v
            for name in sorted(os.listdir(src)):
                mtools("mcopy", "-i", out, os.path.join(src, name), f"::/{d}/{name}" if d else "::/" + name)
            if prefix == "a-":
                n = rng.randrange(600, 1000)
                mtools("mmd", "-i", out, "::/Z")
                for k in range(0, n, 200):
                    mtools("mmd", "-i", out, *[f"::/Z/D{i:04d}" for i in range(k, min(n, k + 200))])
    with open(out, "r+b") as f:
        img = bytearray(f.read())
        lay = fat16_layout(img)
        fat0 = lay["fat"]
        first = lambda at: struct.unpack_from("<H", img, at + 26)[0]
        z, chain = first(short_entry(img, lay, lay["root"], lay["root_len"], b"Z          ")), []
        while 2 <= z < 0xFFF8 and len(chain) < 4096:
            chain.append(z)
            z = struct.unpack_from("<H", img, fat0 + 2 * z)[0]
        starts = []
        for c in chain:
            at = cluster_at(lay, c)
            for e in range(at, at + lay["cluster"], 32):
                if img[e] == ord("D") and img[e + 11] & 0x10 and img[e:e + 1] != b"\xe5":
                    starts.append(first(e))
        starts.sort()
        for a, b in zip(starts, starts[1:]):
            set_fat16(img, lay, a, b)
        f.seek(0)
        f.write(img)
    if len(starts) < 300:
        raise SystemExit(f"only {len(starts)} folders found")
    return want


CLASSES = {"carve-bombs": carve_bombs, "deep-fat": deep_fat, "clash-ext4": clash_ext4,
           "ext-extent-bomb": ext_extent_bomb, "fat-cycles": fat_cycles, "gpt-bomb": gpt_bomb,
           "polyglot": polyglot, "e01-table-bomb": e01_table_bomb,
           "ntfs-lznt1-bomb": lambda out, rng: ntfs_lznt1_bomb(out, rng, honest_files, sha),
           "ntfs-shared-bomb": lambda out, rng: ntfs_shared_bomb(out, rng, honest_files, sha),
           "ntfs-size-bomb": lambda out, rng: ntfs_size_bomb(out, rng, honest_files, sha),
           "exfat-dir-bomb": lambda out, rng: exfat_dir_bomb(out, rng, honest_files, sha),
           "fat-dir-bomb": fat_dir_bomb, "sparse-bomb": sparse_bomb}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("cls", choices=sorted(CLASSES))
    ap.add_argument("out")
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    rng = random.Random(a.seed)
    want = CLASSES[a.cls](a.out, rng)
    with open(a.out + ".json", "w") as f:
        json.dump({"class": a.cls, "seed": a.seed, "files": want}, f, indent=1, sort_keys=True)


if __name__ == "__main__":
    main()
