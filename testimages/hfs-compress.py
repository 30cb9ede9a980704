#!/usr/bin/env python3
"""Makes a file of an HFS+ image decmpfs-compressed, as macOS stores it.

    hfs-compress.py IN_IMAGE NAME CONTENT OUT_IMAGE inline|fork [zlib|lzfse]

macOS (10.6 and later) compresses a file by setting UF_COMPRESSED in the
catalog record's BSD owner flags, leaving the data fork empty, and storing
the content in a `com.apple.decmpfs` extended attribute: a 16-byte header
("fpmc", method, uncompressed size) and, for method 3, the zlib stream; for
method 4 the header alone, with the zlib chunks (64 KiB of content each) in
the file's resource fork: a resource-fork header, then at 0x100 the
resource's length (big endian), the chunk count and (offset, length) pairs
(little endian, offsets from the count), then the chunks.

This script gives NAME (a file in the root folder) the content of the file
CONTENT stored that way (or with LZFSE, methods 11 and 12; the layouts are
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

UF_COMPRESSED = 0x20


def be(fmt, b, o):
    return struct.unpack_from(">" + fmt, b, o)[0]


class Vol:
    def __init__(self, data):
        self.d = bytearray(data)
        self.hdr = 1024
        sig = bytes(self.d[1024:1026])
        if sig not in (b"H+", b"HX"):
            sys.exit(f"hfs-compress: signature {sig!r}, expected H+ or HX")
        self.bs = be("I", self.d, 1024 + 40)
        self.total = be("I", self.d, 1024 + 44)

    def fork(self, off):
        """(logical size, [(start, count)]) of the fork data at `off`."""
        size = be("Q", self.d, off)
        ext = [struct.unpack_from(">II", self.d, off + 16 + 8 * i) for i in range(8)]
        return size, [e for e in ext if e[1]]

    def offsets(self, extents):
        """Image offsets of a fork's bytes, in order."""
        out = []
        for start, count in extents:
            out.extend(range(start * self.bs, (start + count) * self.bs))
        return out


class Tree:
    """A B-tree file whose extents are all in the volume header's record."""

    def __init__(self, vol, fork_off):
        self.vol = vol
        size, ext = vol.fork(fork_off)
        self.base = [s * vol.bs for s, _ in ext]
        self.runs = ext
        self.node_size = be("H", self.raw(0, 512), 32)
        self.head = self.node(0)

    def at(self, off):
        for s, c in self.runs:
            n = c * self.vol.bs
            if off < n:
                return s * self.vol.bs + off
            off -= n
        sys.exit("hfs-compress: past the B-tree file")

    def raw(self, off, n):
        a = self.at(off)
        return self.vol.d[a:a + n]

    def node(self, i):
        return bytearray(self.raw(i * self.node_size, self.node_size))

    def put(self, i, b):
        a = self.at(i * self.node_size)
        self.vol.d[a:a + self.node_size] = b

    def records(self, node):
        n = be("H", node, 10)
        offs = [be("H", node, len(node) - 2 * (i + 1)) for i in range(n + 1)]
        return [bytes(node[offs[i]:offs[i + 1]]) for i in range(n)]

    def leaves(self):
        i = be("I", self.head, 14 + 10)  # firstLeafNode
        while i:
            node = self.node(i)
            yield i, node
            i = be("I", node, 0)


def relay(node, recs):
    n = len(recs)
    size = len(node)
    new = bytearray(size)
    new[:14] = node[:14]
    struct.pack_into(">H", new, 10, n)
    at = 14
    for i, r in enumerate(recs):
        struct.pack_into(">H", new, size - 2 * (i + 1), at)
        new[at:at + len(r)] = r
        at += len(r)
    struct.pack_into(">H", new, size - 2 * (n + 1), at)
    if at > size - 2 * (n + 1):
        sys.exit("hfs-compress: the attribute does not fit in the leaf node")
    return new


def attr_key(rec):
    file_id, start, nlen = struct.unpack_from(">IIH", rec, 4)
    return (file_id, rec[14:14 + 2 * nlen], start)


def main():
    src, name, content, out, mode = sys.argv[1:6]
    method = sys.argv[6] if len(sys.argv) > 6 else "zlib"
    data = open(content, "rb").read()
    vol = Vol(open(src, "rb").read())
    cat = Tree(vol, 1024 + 272)
    want = name.encode("utf-16-be")
    found = None
    for i, node in cat.leaves():
        n = be("H", node, 10)
        for r in range(n):
            o = be("H", node, len(node) - 2 * (r + 1))
            klen = be("H", node, o)
            parent, nlen = be("I", node, o + 2), be("H", node, o + 6)
            if parent == 2 and bytes(node[o + 8:o + 8 + 2 * nlen]) == want:
                rec = o + 2 + klen
                if be("h", node, rec) == 2:
                    found = (i, rec)
    if found is None:
        sys.exit(f"hfs-compress: no file {name} in the root folder")
    leaf, rec = found
    node = cat.node(leaf)
    cnid = be("I", node, rec + 8)
    node[rec + 41] |= UF_COMPRESSED
    node[rec + 88:rec + 168] = bytes(80)  # the data fork: none
    if mode not in ("inline", "fork") or method not in ("zlib", "lzfse"):
        sys.exit("hfs-compress: the mode is inline or fork, the method zlib or lzfse")
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
