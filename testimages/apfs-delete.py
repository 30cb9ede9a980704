#!/usr/bin/env python3
"""Deletes a file from an APFS image the way a new transaction does.

    apfs-delete.py IN_IMAGE NAME OUT_IMAGE [--forget [--older-size N]]

APFS never overwrites metadata in place: a deletion writes a new copy of the
filesystem-tree node without the file's records, points the volume object map
at that copy, and commits a checkpoint. This script makes the newest
checkpoint do exactly that: the node holding the file's records is copied to a
zeroed block with the records of NAME (a file in the root directory) taken
out, and the newest transaction's object-map entry for the node is pointed at
the copy (through a copy of the object map's node and of the object
map itself, whose new address goes into the newest volume superblock, as
copy-on-write does); every block written gets its Fletcher-64 checksum. The older checkpoints
still lead to the original node, as on a real volume after a deletion.

The space manager allocates the three copies (bits in the chunk's bitmap,
free counts in its chunk-info block). With --forget, the container is then
taken to where a volume is some transactions later: the checkpoint ring no
longer holds the older checkpoints (their superblocks and checkpoint maps in
the descriptor area are zeroed), and the space manager has freed the
original node's block and the file's data blocks. The original node is then an orphan in free space: no checkpoint leads
to it, and only its own bytes say what it held. With --older-size N as well,
a copy of that node from the transaction before, in which the file was N
bytes long, is left in another free block (a version the file had before).

It handles the small volumes tests use (a filesystem tree of one node, an
object map of one node) and
refuses anything else. It prints the deleted file's inode number and the
newest transaction id. Written from Apple's File System Reference; shares no
code with dredge.
"""
import struct
import sys

from apfs_blocks import Img, omap_entry, toc, u


def chunks(img, nx, xid):
    """(chunk-info block, entry offset, first block, block count, bitmap block)
    of every chunk the newest checkpoint's space manager lists."""
    desc_blocks = u("<I", nx, 104) & 0x7FFFFFFF
    desc_base = u("<Q", nx, 112)
    sm_oid = u("<Q", nx, 152)
    sm = None
    for b in range(desc_base, desc_base + desc_blocks):
        blk = img.block(b)
        if u("<I", blk, 24) & 0xFFFF != 0x0C or u("<Q", blk, 16) != xid:
            continue
        for i in range(u("<I", blk, 36)):
            e = 40 + 40 * i
            if u("<Q", blk, e + 24) == sm_oid:
                sm = u("<Q", blk, e + 32)
    if sm is None:
        sys.exit("apfs-delete: the space manager is not in the newest checkpoint map")
    smb = img.block(sm)
    if u("<I", smb, 68) != 0:
        sys.exit("apfs-delete: space managers with chunk-info address blocks are not handled")
    addr = u("<I", smb, 80)
    out = []
    for c in [u("<Q", smb, addr + 8 * i) for i in range(u("<I", smb, 64))]:
        cib = img.block(c)
        for j in range(u("<I", cib, 36)):
            e = 40 + 32 * j
            bm = u("<Q", cib, e + 24)
            if bm == 0:
                sys.exit("apfs-delete: a chunk with no bitmap is not handled")
            out.append((c, e, u("<Q", cib, e + 8), u("<I", cib, e + 16), bm))
    return out


def is_free(img, nx, xid, n):
    for _, _, start, count, bm in chunks(img, nx, xid):
        if start <= n < start + count:
            i = n - start
            return not img.block(bm)[i // 8] >> (i % 8) & 1
    return False


def spaceman_bits(img, nx, xid, changes):
    """Sets block n's bit in the space manager's bitmaps to `used` for each
    (n, used) of `changes`, and the chunk-info blocks' free counts with it."""
    for n, used in changes:
        for c, e, start, count, bm in chunks(img, nx, xid):
            if not start <= n < start + count:
                continue
            bits = bytearray(img.block(bm))
            i = n - start
            if bits[i // 8] >> (i % 8) & 1 != used:
                bits[i // 8] ^= 1 << (i % 8)
                # A bitmap block is raw bits: no object header, no checksum.
                img.d[bm * img.bs:(bm + 1) * img.bs] = bits
                cib = img.block(c)
                free = u("<I", cib, e + 20) + (-1 if used else 1)
                struct.pack_into("<I", cib, e + 20, free)
                img.put(c, cib)
            break


def set_size(node, ino, size):
    """A copy of leaf `node` in which inode `ino`'s data stream is `size` long."""
    node = bytearray(node)
    flags, level, nkeys, start, keys, vend = toc(node)
    for i in range(nkeys):
        ko, kl, vo, vl = struct.unpack_from("<HHHH", node, start + 8 * i)
        hdr = u("<Q", node, keys + ko)
        if hdr >> 60 != 3 or hdr & ((1 << 60) - 1) != ino:
            continue
        x = vend - vo + 92
        n = u("<H", node, x)
        data = x + 4 + 4 * n
        for f in range(n):
            kind, _, fsize = struct.unpack_from("<BBH", node, x + 4 + 4 * f)
            if kind == 8:
                struct.pack_into("<Q", node, data, size)
                return node
            data += -(-fsize // 8) * 8
    sys.exit("apfs-delete: the inode has no data stream")


def forget_older(img, nx, xid):
    """Zeroes the superblocks and checkpoint maps of older checkpoints."""
    desc_blocks = u("<I", nx, 104) & 0x7FFFFFFF
    desc_base = u("<Q", nx, 112)
    gone = 0
    for b in range(desc_base, desc_base + desc_blocks):
        blk = img.block(b)
        if u("<I", blk, 24) & 0xFFFF in (0x01, 0x0C) and 0 < u("<Q", blk, 16) < xid:
            img.d[b * img.bs:(b + 1) * img.bs] = bytes(img.bs)
            gone += 1
    return gone


def main():
    src, name, out = sys.argv[1], sys.argv[2].encode(), sys.argv[3]
    opts = sys.argv[4:]
    forget = "--forget" in opts
    older = int(opts[opts.index("--older-size") + 1]) if "--older-size" in opts else None
    img = Img(open(src, "rb").read())
    nx = img.block(0)
    xid = u("<Q", nx, 16)
    _, _, apsb = omap_entry(img, u("<Q", nx, 160), u("<Q", nx, 184), xid, "apfs-delete")
    sb = img.block(apsb)
    vomap, root_oid = u("<Q", sb, 128), u("<Q", sb, 136)
    leaf_no, idx, root = omap_entry(img, vomap, root_oid, xid, "apfs-delete")
    if u("<Q", sb, 16) != xid:
        sys.exit("apfs-delete: the volume superblock is not the newest transaction's")
    node = img.block(root)
    flags, level, nkeys, start, keys, vend = toc(node)
    if level != 0 or flags & 4:
        sys.exit("apfs-delete: filesystem trees deeper than one node are not handled")
    ents = [struct.unpack_from("<HHHH", node, start + 8 * i) for i in range(nkeys)]
    ino = None
    for ko, kl, vo, vl in ents:
        hdr = u("<Q", node, keys + ko)
        if hdr >> 60 == 9 and hdr & ((1 << 60) - 1) == 2:
            nlen = u("<I", node, keys + ko + 8) & 0x3FF
            if bytes(node[keys + ko + 12:keys + ko + 12 + nlen]).rstrip(b"\0") == name:
                ino = u("<Q", node, vend - vo)
    if ino is None:
        sys.exit(f"apfs-delete: no {name.decode()} in the root directory")

    def belongs(e):
        ko = e[0]
        hdr = u("<Q", node, keys + ko)
        if hdr & ((1 << 60) - 1) == ino:
            return True
        if hdr >> 60 == 9 and hdr & ((1 << 60) - 1) == 2:
            return u("<Q", node, vend - e[2]) == ino
        return False

    kept = [e for e in ents if not belongs(e)]
    # The deleted file's data blocks, which the deletion frees.
    data = []
    for ko, kl, vo, vl in ents:
        hdr = u("<Q", node, keys + ko)
        if hdr >> 60 == 8 and hdr & ((1 << 60) - 1) == ino:
            length = u("<Q", node, vend - vo) & ((1 << 56) - 1)
            phys = u("<Q", node, vend - vo + 8)
            data += [phys + i for i in range(-(-length // img.bs))] if phys else []
    new = bytearray(node)
    struct.pack_into("<I", new, 36, len(kept))
    for i in range(nkeys):
        e = kept[i] if i < len(kept) else (0, 0, 0, 0)
        struct.pack_into("<HHHH", new, start + 8 * i, *e)
    struct.pack_into("<Q", new, 16, xid)
    # The copies go to the last zero-filled blocks of the container: the
    # tree node, then the object map's node pointing at it, and the newest
    # object map pointing at that.
    count = u("<Q", nx, 40)
    zeros = [n for n in range(count - 1, 0, -1) if not any(img.block(n))]
    free, free_leaf, free_omap = zeros[0], zeros[1], zeros[2]
    img.put(free, new)
    leaf = img.block(leaf_no)
    _, _, _, s2, k2, v2 = toc(leaf)
    _, v = struct.unpack_from("<HH", leaf, s2 + 4 * idx)
    struct.pack_into("<Q", leaf, v2 - v + 8, free)
    struct.pack_into("<QQ", leaf, 8, free_leaf, xid)
    img.put(free_leaf, leaf)
    om = img.block(vomap)
    struct.pack_into("<QQ", om, 8, free_omap, xid)
    struct.pack_into("<Q", om, 48, free_leaf)
    img.put(free_omap, om)
    struct.pack_into("<Q", sb, 128, free_omap)
    img.put(apsb, sb)
    # The three copies are in use from now on, as the space manager of the
    # transaction that wrote them says.
    spaceman_bits(img, nx, xid, [(free, 1), (free_leaf, 1), (free_omap, 1)])
    if forget:
        spaceman_bits(img, nx, xid, [(root, 0)] + [(b, 0) for b in data])
        if forget_older(img, nx, xid) == 0:
            sys.exit("apfs-delete: no older checkpoint to forget")
    if forget and older is not None:
        # An earlier version of the node, from the transaction before, when
        # the file was `older` bytes long: orphaned too, in a free block.
        copy = set_size(node, ino, older)
        struct.pack_into("<Q", copy, 16, u("<Q", node, 16) - 1)
        spare = [n for n in range(count - 1, 0, -1)
                 if not any(img.block(n)) and is_free(img, nx, xid, n)]
        if not spare:
            sys.exit("apfs-delete: no free block for the earlier version")
        img.put(spare[0], copy)
    open(out, "wb").write(img.d)
    print(ino, xid)


if __name__ == "__main__":
    main()
