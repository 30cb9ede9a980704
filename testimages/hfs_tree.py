"""HFS+ structures the test-image scripts edit: the volume header, a B-tree
file whose extents are all in the header's record, a leaf node re-laid out
with new records, the allocation bitmap. Written from Apple's Technical Note
TN1150; shares no code with dredge.
"""
import struct
import sys


def be(fmt, b, o):
    return struct.unpack_from(">" + fmt, b, o)[0]


class Vol:
    def __init__(self, data):
        self.d = bytearray(data)
        self.hdr = 1024
        sig = bytes(self.d[1024:1026])
        if sig not in (b"H+", b"HX"):
            sys.exit(f"hfs: signature {sig!r}, expected H+ or HX")
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
        sys.exit("hfs: past the B-tree file")

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
        sys.exit("hfs: the attribute does not fit in the leaf node")
    return new


def attr_key(rec):
    file_id, start, nlen = struct.unpack_from(">IIH", rec, 4)
    return (file_id, rec[14:14 + 2 * nlen], start)



def alloc_bits(vol):
    """Byte offsets of the allocation file, and whether block b is in use."""
    _, ext = vol.fork(1024 + 112)
    bits = vol.offsets(ext)

    def used(b):
        return vol.d[bits[b // 8]] >> (7 - b % 8) & 1

    def take(b):
        vol.d[bits[b // 8]] |= 0x80 >> (b % 8)
        free = be("I", vol.d, 1024 + 48)
        struct.pack_into(">I", vol.d, 1024 + 48, free - 1)

    return used, take


def write_spaced(vol, data, who):
    """Writes `data` one allocation block at a time into free blocks with a
    free block between each two, counted down from the end of the volume (so
    every block is an extent of its own), marks them in use, and returns the
    blocks in order; `who` names the script in errors."""
    nblocks = max(1, (len(data) + vol.bs - 1) // vol.bs)
    used, take = alloc_bits(vol)
    blocks = []
    b = vol.total - 3  # short of the alternate header's block
    while len(blocks) < nblocks and b > 0:
        if not used(b) and not used(b + 1):
            blocks.append(b)
            b -= 2
        else:
            b -= 1
    if len(blocks) < nblocks:
        sys.exit(f"{who}: no room for {nblocks} spaced blocks")
    for i, b in enumerate(blocks):
        take(b)
        chunk = data[i * vol.bs:(i + 1) * vol.bs]
        vol.d[b * vol.bs:(b + 1) * vol.bs] = chunk.ljust(vol.bs, b"\0")
    return blocks


def root_file(cat, name, who):
    """(leaf node, record offset in it) of the file record of the root
    folder's NAME in catalog tree `cat`; `who` names the script in errors."""
    want = name.encode("utf-16-be")
    found = None
    for i, node in cat.leaves():
        for r in range(be("H", node, 10)):
            o = be("H", node, len(node) - 2 * (r + 1))
            klen = be("H", node, o)
            parent, nlen = be("I", node, o + 2), be("H", node, o + 6)
            if parent == 2 and bytes(node[o + 8:o + 8 + 2 * nlen]) == want:
                rec = o + 2 + klen
                if be("h", node, rec) == 2:
                    found = (i, rec)
    if found is None:
        sys.exit(f"{who}: no file {name} in the root folder")
    return found
