#!/usr/bin/env python3
"""Makes a file of an HFS+ image decmpfs-compressed, as macOS stores it.

    hfs-compress.py IN_IMAGE NAME CONTENT OUT_IMAGE inline|fork [zlib|lzfse|lzbitmap:STREAM]

macOS (10.6 and later) compresses a file by setting UF_COMPRESSED in the
catalog record's BSD owner flags, leaving the data fork empty, and storing
the content in a `com.apple.decmpfs` extended attribute: a 16-byte header
("fpmc", method, uncompressed size) and, for method 3, the zlib stream; for
method 4 the header alone, with the zlib chunks (64 KiB of content each) in
the file's resource fork: a resource-fork header, then at 0x100 the
resource's length (big endian), the chunk count and (offset, length) pairs
(little endian, offsets from the count), then the chunks.

This script gives NAME (a file in the root folder) the content of the file
CONTENT stored that way (or with LZFSE, methods 11 and 12, or a given LZBITMAP
stream, methods 13 and 14; the layouts are
in decmpfs.py): `inline` (method 3) or `fork` (method 4, the fork
written to free allocation blocks near the end of the volume, which are
marked in use in the allocation file and counted off the header's free
blocks). The attribute record is inserted, in key order, into the
attributes B-tree's leaf node, which is re-laid out; the header node's leaf
record count is raised. It prints NAME's CNID and, for `fork`, the first
allocation block of the resource fork.

Small test volumes only: the attributes B-tree must already exist and have
room in its leaf node. Written from Apple's Technical Note TN1150 and the
decmpfs layout in xnu's bsd/sys/decmpfs.h; shares no code with dredge.
"""
import struct
import sys

from decmpfs import attr_and_fork
from hfs_tree import Tree, Vol, attr_key, be, relay, root_file

UF_COMPRESSED = 0x20


def main():
    src, name, content, out, mode = sys.argv[1:6]
    method = sys.argv[6] if len(sys.argv) > 6 else "zlib"
    data = open(content, "rb").read()
    vol = Vol(open(src, "rb").read())
    cat = Tree(vol, 1024 + 272)
    leaf, rec = root_file(cat, name, "hfs-compress")
    node = cat.node(leaf)
    cnid = be("I", node, rec + 8)
    node[rec + 41] |= UF_COMPRESSED
    node[rec + 88:rec + 168] = bytes(80)  # the data fork: none
    if mode not in ("inline", "fork") or method.split(":")[0] not in ("zlib", "lzfse", "lzbitmap"):
        sys.exit("hfs-compress: the mode is inline or fork, the method zlib, lzfse or lzbitmap:STREAM")
    attr, fork = attr_and_fork(data, mode, method)
    first = None
    if fork is not None:
        nblocks = (len(fork) + vol.bs - 1) // vol.bs
        _, alloc_ext = vol.fork(1024 + 112)
        bits = vol.offsets(alloc_ext)

        def used(b):
            return vol.d[bits[b // 8]] >> (7 - b % 8) & 1

        # The last run of free blocks that holds the fork, short of the
        # alternate header's block.
        for s in range(vol.total - 2 - nblocks, 0, -1):
            if not any(used(b) for b in range(s, s + nblocks)):
                first = s
                break
        if first is None:
            sys.exit("hfs-compress: no room for the resource fork")
        for b in range(first, first + nblocks):
            vol.d[bits[b // 8]] |= 0x80 >> (b % 8)
        a = first * vol.bs
        vol.d[a:a + nblocks * vol.bs] = fork.ljust(nblocks * vol.bs, b"\0")
        free = be("I", vol.d, 1024 + 48)
        struct.pack_into(">I", vol.d, 1024 + 48, free - nblocks)
        rf = struct.pack(">QII", len(fork), 0, nblocks) + struct.pack(">II", first, nblocks)
        node[rec + 168:rec + 248] = rf.ljust(80, b"\0")
    cat.put(leaf, node)

    attrs = Tree(vol, 1024 + 352)
    units = "com.apple.decmpfs".encode("utf-16-be")
    key = struct.pack(">HHIIH", 12 + len(units), 0, cnid, 0, len(units) // 2) + units
    value = struct.pack(">IQI", 0x10, 0, len(attr)) + attr
    if len(value) % 2:
        value += b"\0"
    new = key + value
    leaves = list(attrs.leaves())
    if len(leaves) != 1:
        sys.exit("hfs-compress: attribute trees of more than one leaf are not handled")
    i, node = leaves[0]
    recs = attrs.records(node) + [new]
    recs.sort(key=attr_key)
    attrs.put(i, relay(node, recs))
    head = attrs.node(0)
    struct.pack_into(">I", head, 14 + 6, be("I", head, 14 + 6) + 1)  # leafRecords
    attrs.put(0, head)
    open(out, "wb").write(vol.d)
    print(cnid, first if first is not None else "")


main()
