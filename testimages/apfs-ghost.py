#!/usr/bin/env python3
"""Leaves, in an APFS container's free space, a filesystem-tree node whose
every record belongs to a file no volume has any more, in a container of
two volumes.

    apfs-ghost.py IN_IMAGE OUT_IMAGE

What a deletion leaves on a Mac with several volumes (Data, Preboot, VM, …):
the leaf node that held a deleted file's records, let go by copy-on-write, in
a free block; its object id is no longer in any object map and none of its
records is shared with a live tree, so nothing says which volume it was.
Here the node names `ghost.txt` in the root directory (inode, directory
record, one extent of one block, holding GHOST_TEXT), in a free block, and
the data block beside it. The second volume is the first listed twice (a
second `nx_fs_oid` entry naming it, and room for two in
`nx_max_file_systems`, in every superblock of the newest transaction): enough for a reader that places orphaned nodes by volume, and
not a second filesystem to build. Written from Apple's File System
Reference; shares no code with dredge.
"""
import struct
import sys

from apfs_blocks import Img, fletcher64, u

GHOST_TEXT = b"nothing says which volume this file was on\n" * 20
INO = 0x5000


def leaf(bs, oid, xid, records):
    """A filesystem-tree leaf node (not the root) holding `records` (key,
    value), variable-size, in key order."""
    b = bytearray(bs)
    struct.pack_into("<QQII", b, 8, oid, xid, 0x3, 0x0E)
    n = len(records)
    tlen = 8 * n
    struct.pack_into("<HHI", b, 32, 2, 0, n)  # flags LEAF, level 0
    struct.pack_into("<HH", b, 40, 0, tlen)  # table of contents
    keys, kstart = bytearray(), 56 + tlen
    vals = bytearray()
    for i, (k, v) in enumerate(records):
        voff = len(vals) + len(v)
        struct.pack_into("<HHHH", b, 56 + 8 * i, len(keys), len(k), voff, len(v))
        keys += k + bytes(-len(k) % 8)
        vals = bytearray(v) + vals
    b[kstart:kstart + len(keys)] = keys
    b[bs - len(vals):] = vals
    free = bs - len(vals) - (kstart + len(keys))
    struct.pack_into("<HH", b, 44, len(keys), free)
    struct.pack_into("<HHHH", b, 48, 0xFFFF, 0, 0xFFFF, 0)
    struct.pack_into("<Q", b, 0, fletcher64(b))
    return b


def main():
    src, out = sys.argv[1], sys.argv[2]
    img = Img(open(src, "rb").read())
    bs = img.bs
    nx = img.block(0)
    xid = u("<Q", nx, 16)
    count = u("<Q", nx, 40)
    zeros = [n for n in range(count - 1, 0, -1) if not any(img.block(n))]
    node_no, data_no = zeros[3], zeros[4]

    # The file's one block of data.
    img.d[data_no * bs:data_no * bs + len(GHOST_TEXT)] = GHOST_TEXT
    t = 1_640_000_000_000_000_000
    name = b"ghost.txt\0"
    # Directory record in the root (2): hashed key, length in the low bits.
    drec_k = struct.pack("<QI", (9 << 60) | 2, len(name)) + name
    drec_v = struct.pack("<QQH", INO, t, 8)
    # Inode: the fixed part, then the extended fields (name, data stream).
    xname = name + bytes(-len(name) % 8)
    dstream = struct.pack("<QQQQQ", len(GHOST_TEXT), bs, 0, len(GHOST_TEXT), 0)
    xf = struct.pack("<HH", 2, len(xname) + len(dstream))
    xf += struct.pack("<BBH", 4, 0, len(name)) + struct.pack("<BBH", 8, 0, len(dstream))
    ino_v = struct.pack("<QQQQQQQiIIIIIHHQ", 2, INO, t, t, t, t, 0, 1, 0, 0, 0, 99, 99,
                        0o100644, 0, 0) + xf + xname + dstream
    ino_k = struct.pack("<Q", (3 << 60) | INO)
    ext_k = struct.pack("<QQ", (8 << 60) | INO, 0)
    ext_v = struct.pack("<QQQ", bs, data_no, 0)
    # A virtual object id past every one the container gave out.
    oid = u("<Q", nx, 88) + 1000
    img.d[node_no * bs:(node_no + 1) * bs] = leaf(
        bs, oid, xid - 1, [(drec_k, drec_v), (ino_k, ino_v), (ext_k, ext_v)])

    # The first volume listed twice, in the newest transaction's superblocks.
    for n in range(count):
        b = img.block(n)
        if u("<I", b, 32) == 0x4253584E and u("<I", b, 24) & 0xFFFF == 1 and u("<Q", b, 16) == xid:
            struct.pack_into("<Q", b, 192, u("<Q", b, 184))
            struct.pack_into("<I", b, 180, max(2, u("<I", b, 180)))
            img.put(n, b)
    open(out, "wb").write(img.d)
    print(node_no, data_no)


if __name__ == "__main__":
    main()
