"""APFS blocks for apfs-delete.py and apfs-compress.py: the Fletcher-64
checksum, an image of blocks written back with it, a B-tree node's table of
contents, and the object map's newest mapping of an object. Written from
Apple's File System Reference; shares no code with dredge.
"""
import struct
import sys


def fletcher64(b):
    m = 0xFFFFFFFF
    s1 = s2 = 0
    for (w,) in struct.iter_unpack("<I", b[8:]):
        s1 = (s1 + w) % m
        s2 = (s2 + s1) % m
    c1 = m - ((s1 + s2) % m)
    c2 = m - ((s1 + c1) % m)
    return (c2 << 32) | c1


def u(fmt, b, o):
    return struct.unpack_from(fmt, b, o)[0]


class Img:
    def __init__(self, data):
        self.d = bytearray(data)
        self.bs = u("<I", self.d, 36)

    def block(self, n):
        return self.d[n * self.bs:(n + 1) * self.bs]

    def put(self, n, b):
        b = bytearray(b)
        struct.pack_into("<Q", b, 0, fletcher64(b))
        self.d[n * self.bs:(n + 1) * self.bs] = b


def toc(node):
    """(flags, level, nkeys, toc start, key start, value end)."""
    flags, level, nkeys = struct.unpack_from("<HHI", node, 32)
    toff, tlen = struct.unpack_from("<HH", node, 40)
    start, keys = 56 + toff, 56 + toff + tlen
    vend = len(node) - (40 if flags & 1 else 0)
    return flags, level, nkeys, start, keys, vend


def omap_entry(img, omap_block, oid, xid, who):
    """(leaf block, entry index, paddr) of oid's newest mapping at or before xid."""
    node_no = u("<Q", img.block(omap_block), 48)
    node = img.block(node_no)
    flags, level, nkeys, start, keys, vend = toc(node)
    if level != 0:
        sys.exit(f"{who}: object maps deeper than one node are not handled")
    best = None
    for i in range(nkeys):
        k, v = struct.unpack_from("<HH", node, start + 4 * i)
        ko, kx = struct.unpack_from("<QQ", node, keys + k)
        if ko == oid and kx <= xid and (best is None or kx > best[0]):
            best = (kx, i, u("<Q", node, vend - v + 8))
    if best is None:
        sys.exit(f"{who}: oid {oid:#x} not in the object map")
    return node_no, best[1], best[2]
