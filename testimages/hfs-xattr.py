#!/usr/bin/env python3
"""Gives a file of an HFS+ image an extended attribute stored as a fork in
many extents, as HFS+ stores a large attribute on a fragmented volume.

    hfs-xattr.py IN_IMAGE NAME ATTRIBUTE CONTENT OUT_IMAGE

The value (the bytes of the file CONTENT) is written one allocation block at a
time into free blocks with a free block between each two, counted down from
the end of the volume, so every block is an extent of its own. The attribute
B-tree then holds, for NAME (a file in the root folder) and ATTRIBUTE:

- a fork data record (type 0x20) with the fork's size, its total blocks and
  its first eight extents, key start block 0;
- for every further eight extents, an extents record (type 0x30) whose key's
  start block is the number of blocks before its first extent.

The blocks are marked in use in the allocation file and counted off the
header's free blocks. It prints NAME's CNID and the number of extents.

Small test volumes only: the attributes B-tree must already exist and have
room in its leaf node. Written from Apple's Technical Note TN1150
(HFSPlusAttrForkData, HFSPlusAttrExtents, HFSPlusAttrKey); shares no code with
dredge.
"""
import struct
import sys

from hfs_tree import Tree, Vol, attr_key, be, relay, root_file, write_spaced


def key(cnid, start, units):
    return struct.pack(">HHIIH", 12 + len(units), 0, cnid, start, len(units) // 2) + units


def extents(run):
    return b"".join(struct.pack(">II", b, 1) for b in run).ljust(64, b"\0")


def main():
    src, name, attribute, content, out = sys.argv[1:6]
    data = open(content, "rb").read()
    vol = Vol(open(src, "rb").read())
    cat = Tree(vol, 1024 + 272)
    leaf, rec = root_file(cat, name, "hfs-xattr")
    cnid = be("I", cat.node(leaf), rec + 8)

    nblocks = max(1, (len(data) + vol.bs - 1) // vol.bs)
    blocks = write_spaced(vol, data, "hfs-xattr")

    units = attribute.encode("utf-16-be")
    fork = struct.pack(">QII", len(data), 0, nblocks) + extents(blocks[:8])
    new = [key(cnid, 0, units) + struct.pack(">II", 0x20, 0) + fork]
    for at in range(8, nblocks, 8):
        new.append(key(cnid, at, units) + struct.pack(">II", 0x30, 0) + extents(blocks[at:at + 8]))

    attrs = Tree(vol, 1024 + 352)
    leaves = list(attrs.leaves())
    if len(leaves) != 1:
        sys.exit("hfs-xattr: attribute trees of more than one leaf are not handled")
    i, node = leaves[0]
    recs = attrs.records(node) + new
    recs.sort(key=attr_key)
    attrs.put(i, relay(node, recs))
    head = attrs.node(0)
    struct.pack_into(">I", head, 14 + 6, be("I", head, 14 + 6) + len(new))  # leafRecords
    attrs.put(0, head)
    open(out, "wb").write(vol.d)
    print(cnid, nblocks)


main()
