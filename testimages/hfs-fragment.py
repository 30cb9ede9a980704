#!/usr/bin/env python3
"""Gives a file of an HFS+ image a data fork in many extents, as a file on a
fragmented volume has, with the extents past the eighth in the extents
overflow file.

    hfs-fragment.py IN_IMAGE NAME CONTENT OUT_IMAGE

NAME is a file in the root folder. Its data fork becomes the bytes of the file
CONTENT, written one allocation block at a time into free blocks with a free
block between each two, counted down from the end of the volume, so every
block is an extent of its own. Its old blocks are freed. Then:

- the catalog file record's data fork holds the size, the total blocks and
  the first eight extents;
- for every further eight extents, the extents overflow B-tree holds a record
  (HFSPlusExtentKey: key length 10, fork type 0, file ID, start block = the
  number of blocks before its first extent; HFSPlusExtentRecord: eight
  descriptors). An empty tree (depth 0, as `newfs_hfs` leaves it) gets its
  first leaf, node 1, marked in the header node's map.

The blocks are marked in use in the allocation file and counted off the
header's free blocks. It prints NAME's CNID and the number of extents.

Small test volumes only: the extents B-tree's file must be one extent, and
the new records must fit in its one leaf. Written from Apple's Technical Note
TN1150; shares no code with dredge.
"""
import struct
import sys

from hfs_tree import Tree, Vol, be, relay, root_file, write_spaced


def overflow_key(rec):
    """HFS+ extents key order: file ID, fork type, start block."""
    fork, file_id, start = rec[2], be("I", rec, 4), be("I", rec, 8)
    return (file_id, fork, start)


def descriptors(run):
    return b"".join(struct.pack(">II", b, 1) for b in run).ljust(64, b"\0")


def main():
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    src, name, content, out = sys.argv[1:5]
    data = open(content, "rb").read()
    vol = Vol(open(src, "rb").read())
    cat = Tree(vol, 1024 + 272)
    leaf, rec = root_file(cat, name, "hfs-fragment")
    node = cat.node(leaf)
    cnid = be("I", node, rec + 8)

    # The old fork's blocks go back to the free pool.
    _, old = vol.fork(cat.at(leaf * cat.node_size) + rec + 88)
    _, abits = vol.fork(1024 + 112)
    bitmap = vol.offsets(abits)
    for start, count in old:
        for b in range(start, start + count):
            vol.d[bitmap[b // 8]] &= ~(0x80 >> (b % 8)) & 0xFF
            struct.pack_into(">I", vol.d, 1024 + 48, be("I", vol.d, 1024 + 48) + 1)

    nblocks = max(1, (len(data) + vol.bs - 1) // vol.bs)
    if nblocks <= 8:
        sys.exit("hfs-fragment: CONTENT must be more than eight blocks")
    blocks = write_spaced(vol, data, "hfs-fragment")

    fork = struct.pack(">QII", len(data), 0, nblocks) + descriptors(blocks[:8])
    node[rec + 88:rec + 88 + 80] = fork
    cat.put(leaf, node)

    new = [struct.pack(">HBBII", 10, 0, 0, cnid, at) + descriptors(blocks[at:at + 8])
           for at in range(8, nblocks, 8)]
    ext = Tree(vol, 1024 + 192)
    head = ext.head
    size = ext.node_size
    if be("H", head, 14) == 0:
        # The tree's first leaf: node 1, the root, marked in the map record
        # (the header node's third record).
        n = 1
        fresh = bytearray(size)
        struct.pack_into(">IIbBHH", fresh, 0, 0, 0, -1, 1, 0, 0)
        struct.pack_into(">HI", head, 14, 1, 1)  # depth, root
        struct.pack_into(">II", head, 14 + 10, 1, 1)  # first, last leaf
        struct.pack_into(">I", head, 14 + 26, be("I", head, 14 + 26) - 1)
        mapped = be("H", head, size - 6)
        head[mapped] |= 0x40
        recs = new
        leafnode = fresh
    else:
        leaves = list(ext.leaves())
        if len(leaves) != 1:
            sys.exit("hfs-fragment: extents trees of more than one leaf are not handled")
        n, leafnode = leaves[0]
        recs = ext.records(leafnode) + new
    recs.sort(key=overflow_key)
    ext.put(n, relay(leafnode, recs))
    struct.pack_into(">I", head, 14 + 6, be("I", head, 14 + 6) + len(new))  # leafRecords
    ext.put(0, head)
    open(out, "wb").write(vol.d)
    print(cnid, nblocks)


main()
