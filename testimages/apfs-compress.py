#!/usr/bin/env python3
"""Makes a file of an APFS image decmpfs-compressed, as macOS stores it.

    apfs-compress.py IN_IMAGE NAME CONTENT OUT_IMAGE inline|fork [zlib|lzfse]

macOS (ditto --hfsCompression, afsctool, the installer) compresses a file by
setting UF_COMPRESSED in the inode, giving it no data fork, and storing the
content in a `com.apple.decmpfs` extended attribute: a 16-byte header (magic
"fpmc", method, uncompressed size) and, for method 3, the zlib stream
itself; for method 4 the header alone, with the zlib chunks (64 KiB of
content each) in the file's resource fork (`com.apple.ResourceFork`): a
resource-fork header, then at offset 0x100 the resource's length (big
endian), the number of chunks and a table of (offset, length) pairs (little
endian, offsets from the count), then the chunks.

This script gives NAME (a file in the root directory) the content of the
file CONTENT stored that way (or with LZFSE, methods 11 and 12, whose fork
is a table of chunk offsets; the layouts are in decmpfs.py): `inline`
(method 3, the attribute holds it; CONTENT must compress to a few
kilobytes) or `fork` (method 4, the resource
fork written to zero-filled blocks at the end of the container, a file
extent and a data-stream record added for it). The file's old data extents
are dropped. It prints NAME's inode number and, for `fork`, the first block
of the resource fork. The newest transaction's filesystem-tree node is rewritten in
place with its records re-laid out and its checksum redone.

Small test volumes only (a filesystem tree of one node). Written from
Apple's File System Reference and the decmpfs layout in Apple's xnu
(bsd/sys/decmpfs.h); shares no code with dredge.
"""
import struct
import sys

from apfs_blocks import Img, omap_entry, toc, u
from decmpfs import attr_and_fork


OID = (1 << 60) - 1
T_INODE, T_XATTR, T_DSTREAM_ID, T_EXTENT, T_DREC = 3, 4, 10, 8, 9
UF_COMPRESSED = 0x20


def omap_lookup(img, omap_block, oid, xid):
    return omap_entry(img, omap_block, oid, xid, "apfs-compress")[2]


def records(node):
    """The leaf's records as (key bytes, value bytes), in order."""
    flags, level, nkeys, start, keys, vend = toc(node)
    if level != 0 or flags & 4:
        sys.exit("apfs-compress: filesystem trees deeper than one node are not handled")
    tlen = keys - start
    out = []
    for i in range(nkeys):
        ko, kl, vo, vl = struct.unpack_from("<HHHH", node, start + 8 * i)
        out.append((bytes(node[keys + ko:keys + ko + kl]), bytes(node[vend - vo:vend - vo + vl])))
    return out, flags, tlen, vend


def relay(node, recs, tlen, vend):
    """`node` with `recs` written as its records: table, keys up, values down."""
    new = bytearray(node)
    n = len(recs)
    tlen = max(tlen, (n * 8 + 63) // 64 * 64)
    start, keys = 56, 56 + tlen
    new[56:vend] = bytes(vend - 56)
    ko, vo = 0, 0
    for i, (k, v) in enumerate(recs):
        vo += len(v)
        # Values are 8-byte aligned from the end as Apple lays them out.
        vo = (vo + 7) // 8 * 8
        if keys + ko + len(k) > vend - vo:
            sys.exit("apfs-compress: the records do not fit in the node")
        new[keys + ko:keys + ko + len(k)] = k
        new[vend - vo:vend - vo + len(v)] = v
        struct.pack_into("<HHHH", new, start + 8 * i, ko, len(k), vo, len(v))
        ko = (ko + len(k) + 7) // 8 * 8
    struct.pack_into("<I", new, 36, n)
    struct.pack_into("<HH", new, 40, 0, tlen)
    struct.pack_into("<HH", new, 44, ko, vend - vo - keys - ko)
    struct.pack_into("<HHHH", new, 48, 0xFFFF, 0, 0xFFFF, 0)
    return new


def order(rec):
    k = rec[0]
    hdr = u("<Q", k, 0)
    oid, kind = hdr & OID, hdr >> 60
    if kind == T_XATTR:
        n = u("<H", k, 8)
        sub = k[10:10 + n]
    elif kind == T_EXTENT:
        sub = struct.pack(">Q", u("<Q", k, 8))
    elif kind == T_DREC:
        sub = struct.pack(">I", u("<I", k, 8)) + k[12:]
    else:
        sub = k[8:]
    return (oid, kind, sub)


def xattr(oid, name, flags, data):
    name = name.encode() + b"\0"
    key = struct.pack("<QH", oid | (T_XATTR << 60), len(name)) + name
    return key, struct.pack("<HH", flags, len(data)) + data


def main():
    src, name, content, out, mode = sys.argv[1:6]
    method = sys.argv[6] if len(sys.argv) > 6 else "zlib"
    name = name.encode()
    data = open(content, "rb").read()
    img = Img(open(src, "rb").read())
    nx = img.block(0)
    xid = u("<Q", nx, 16)
    apsb = omap_lookup(img, u("<Q", nx, 160), u("<Q", nx, 184), xid)
    sb = img.block(apsb)
    root = omap_lookup(img, u("<Q", sb, 128), u("<Q", sb, 136), xid)
    node = img.block(root)
    recs, flags, tlen, vend = records(node)
    ino = None
    for k, v in recs:
        hdr = u("<Q", k, 0)
        if hdr >> 60 == T_DREC and hdr & OID == 2:
            nlen = u("<I", k, 8) & 0x3FF
            if k[12:12 + nlen].rstrip(b"\0") == name:
                ino = u("<Q", v, 0)
    if ino is None:
        sys.exit(f"apfs-compress: no {name.decode()} in the root directory")
    private = None
    for i, (k, v) in enumerate(recs):
        if u("<Q", k, 0) == ino | (T_INODE << 60):
            v = bytearray(v)
            private = u("<Q", v, 8)
            struct.pack_into("<I", v, 68, u("<I", v, 68) | UF_COMPRESSED)
            recs[i] = (k, bytes(v))
    # The data fork goes: its extents and its stream record.
    recs = [(k, v) for k, v in recs
            if not (u("<Q", k, 0) & OID == private and u("<Q", k, 0) >> 60 in (T_EXTENT, T_DSTREAM_ID))]
    if mode not in ("inline", "fork") or method.split(":")[0] not in ("zlib", "lzfse", "lzbitmap"):
        sys.exit("apfs-compress: the mode is inline or fork, the method zlib, lzfse or lzbitmap:STREAM")
    attr, fork = attr_and_fork(data, mode, method)
    recs.append(xattr(ino, "com.apple.decmpfs", 2, attr))
    first = None
    if fork is not None:
        bs = img.bs
        nblocks = (len(fork) + bs - 1) // bs
        count = u("<Q", nx, 40)
        zeros = [n for n in range(count - 1, 0, -1) if not any(img.block(n))]
        # A contiguous run of zero-filled blocks below the end.
        for n in zeros:
            if all(not any(img.block(m)) for m in range(n, n + nblocks)) and n + nblocks <= count:
                first = n
                break
        if first is None:
            sys.exit("apfs-compress: no room for the resource fork")
        padded = fork.ljust(nblocks * bs, b"\0")
        img.d[first * bs:(first + nblocks) * bs] = padded
        stream = max(u("<Q", k, 0) & OID for k, _ in recs) + 1000
        dstream = struct.pack("<QQQQQ", len(fork), nblocks * bs, 0, len(fork), 0)
        recs.append(xattr(ino, "com.apple.ResourceFork", 1, struct.pack("<Q", stream) + dstream))
        recs.append((struct.pack("<QQ", stream | (T_EXTENT << 60), 0),
                     struct.pack("<QQQ", nblocks * bs, first, 0)))
        recs.append((struct.pack("<Q", stream | (T_DSTREAM_ID << 60)), struct.pack("<I", 1)))
    recs.sort(key=order)
    img.put(root, relay(node, recs, tlen, vend))
    open(out, "wb").write(img.d)
    print(ino, first if first is not None else "")


main()
