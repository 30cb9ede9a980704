#!/usr/bin/env python3
"""Makes a file of an HFS+ image a hard link, as macOS (10.5 and later) does.

    hfs-hardlink.py IN_IMAGE OUT_IMAGE NAME [NAME2]

A file hard link on HFS+ is an indirection (TN1150, "Hard Links"): the
file's catalog record moves into the private folder `\\0\\0\\0\\0HFS+ Private
Data` (at the root) and is renamed `iNode<N>`, where N is its CNID; its
thread record names the new place; its BSD `special` field becomes the link
count. Where the file was, a link record takes its name: a file record with a
new CNID (the volume's next catalog ID), no forks, file type `hlnk` and
creator `hfs+`, the `kHFSHasLinkChainMask` flag, and N in its `special`
field; it gets a thread record of its own. The private folder's valence, the
volume's file count and next catalog ID and the catalog header's leaf record
count go up by one (two records for the count).

With NAME2, another file of the root folder, it is replaced by a second
link to the same inode, as `ln -f NAME NAME2` does: its record becomes a
link record with a new CNID and a thread of its own (its old thread goes),
its blocks are freed, and the inode's link count is 2.

NAME is a file in the root folder. It prints the inode's CNID (N) and the
links' CNIDs. Small test volumes only: the catalog B-tree must have one leaf
node with room for the records, and the private folder must be empty.
Written from Apple's Technical Note TN1150; shares no code with dredge.
"""
import struct
import sys

from hfs_tree import Tree, Vol, alloc_bits, be, relay

PRIVATE = "\0\0\0\0HFS+ Private Data"
HAS_LINK_CHAIN = 0x0020


def key_of(rec):
    """(parent, name) of a catalog record."""
    parent, nl = struct.unpack_from(">IH", rec, 2)
    return parent, rec[8:8 + 2 * nl].decode("utf-16-be")


def record(parent, name, data):
    units = name.encode("utf-16-be")
    return struct.pack(">HIH", 6 + len(units), parent, len(units) // 2) + units + data


def data_of(rec):
    return rec[2 + be("H", rec, 0):]


def free_bit(vol):
    """Clears block b's bit in the allocation file, counted back as free."""
    _, ext = vol.fork(1024 + 112)
    bits = vol.offsets(ext)

    def free(b):
        vol.d[bits[b // 8]] &= ~(0x80 >> (b % 8)) & 0xFF
        struct.pack_into(">I", vol.d, 1024 + 48, be("I", vol.d, 1024 + 48) + 1)

    return free


def main():
    src, out, name = sys.argv[1:4]
    names = [name] + sys.argv[4:5]
    vol = Vol(open(src, "rb").read())
    cat = Tree(vol, 1024 + 272)
    leaves = list(cat.leaves())
    if len(leaves) != 1:
        sys.exit("hfs-hardlink: catalogs of more than one leaf are not handled")
    leaf, node = leaves[0]
    recs = cat.records(node)
    keys = [key_of(r) for r in recs]
    try:
        fi = keys.index((2, name))
        pi = keys.index((2, PRIVATE))
        olds = [be("I", data_of(recs[keys.index((2, n))]), 8) for n in names[1:]]
    except ValueError:
        sys.exit(f"hfs-hardlink: no {names} or no private folder in the root folder")
    f = bytearray(data_of(recs[fi]))
    if be("h", f, 0) != 2:
        sys.exit(f"hfs-hardlink: {name} is not a file")
    cnid, priv = be("I", f, 8), be("I", data_of(recs[pi]), 8)
    if any(p == priv and n for p, n in keys):
        sys.exit("hfs-hardlink: the private folder is not empty")
    inode_name = f"iNode{cnid}"
    link_id = be("I", vol.d, 1024 + 64)

    def link(i):
        """Link record i (0: where the file was)."""
        r = bytearray(f)
        struct.pack_into(">H", r, 2, be("H", r, 2) | HAS_LINK_CHAIN)
        struct.pack_into(">I", r, 8, link_id + i)
        struct.pack_into(">I", r, 44, cnid)  # special: iNodeNum
        r[48:56] = b"hlnkhfs+"
        r[88:248] = bytes(160)  # no data or resource fork
        return bytes(r)

    links = [link(i) for i in range(len(names))]
    # The inode: the file's record under its new name; special: link count.
    struct.pack_into(">I", f, 44, len(names))

    new = []
    for (p, n), r in zip(keys, recs):
        if (p, n) == (2, name):
            new.append(record(2, name, links[0]))
        elif p == 2 and n in names[1:]:
            d = data_of(r)
            used, free = alloc_bits(vol)[0], free_bit(vol)
            for fork in (88, 168):
                for e in range(8):
                    start, count = struct.unpack_from(">II", d, fork + 16 + 8 * e)
                    for b in range(start, start + count):
                        if used(b):
                            free(b)
            new.append(record(2, n, links[names.index(n)]))
        elif n == "" and p in olds:
            continue
        elif (p, n) == (cnid, ""):
            thread = struct.pack(">hHI", 4, 0, priv) + struct.pack(">H", len(inode_name)) + inode_name.encode("utf-16-be")
            new.append(record(cnid, "", thread))
        elif (p, n) == (priv, ""):
            new.append(r)
            new.append(record(priv, inode_name, bytes(f)))
        else:
            new.append(r)
    if not any(key_of(r) == (priv, inode_name) for r in new):
        sys.exit("hfs-hardlink: the private folder has no thread record")
    # The links' threads: their CNIDs are the largest, so their keys sort last.
    for i, nm in enumerate(names):
        thread = struct.pack(">hHI", 4, 0, 2) + struct.pack(">H", len(nm)) + nm.encode("utf-16-be")
        new.append(record(link_id + i, "", thread))
    cat.put(leaf, relay(node, new))

    pdata = 2 + be("H", recs[pi], 0)
    for i, r in enumerate(new):
        if key_of(r) == (2, PRIVATE):
            # The folder record's valence, in the node just written.
            n2 = cat.node(leaf)
            recs2 = cat.records(n2)
            v = bytearray(recs2[i])
            struct.pack_into(">I", v, pdata + 4, be("I", v, pdata + 4) + 1)
            recs2[i] = bytes(v)
            cat.put(leaf, relay(n2, recs2))
            break
    head = cat.node(0)
    struct.pack_into(">I", head, 14 + 6, be("I", head, 14 + 6) + 2)  # leafRecords
    cat.put(0, head)
    struct.pack_into(">I", vol.d, 1024 + 32, be("I", vol.d, 1024 + 32) + 1)  # fileCount
    struct.pack_into(">I", vol.d, 1024 + 64, link_id + len(names))  # nextCatalogID
    open(out, "wb").write(vol.d)
    print(cnid, *range(link_id, link_id + len(names)))


main()
