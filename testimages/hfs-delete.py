#!/usr/bin/env python3
"""Deletes files or folders from an HFS+ image as macOS does, with a journal.

    hfs-delete.py [--wrap] IN_IMAGE OUT_IMAGE PATH [PATH ...]

What macOS leaves behind when it deletes a file on a journaled HFS+ volume,
and what a forensic reader has to find again:

- The catalog records go: the file (or folder) record and its thread record
  are removed from their leaf node the way xnu's BTreeNodeOps.c `DeleteRecord`
  removes a record (the records after it moved down, the offsets table
  shifted, and the freed bytes cleared), the header node's leaf record count
  lowered, the parent folder's valence and the volume header's file and
  folder counts lowered, and the forks' allocation blocks freed in the
  allocation file (their bytes stay where they are). A fork's extents past
  its eighth leave the extents overflow B-tree the same way. The file's extended
  attributes leave the attributes B-tree the same way. A file hard link's
  inode (`iNode<N>` in the private folder) loses a link, and goes too, as a
  file does, when that was its last (xnu's `hfs_unlink`).
- The journal keeps what the catalog lost. Every change is first written to
  the journal as a transaction: a block list header (the number of blocks and
  each block's place on the volume, in 512-byte sectors) followed by the
  blocks' new contents. So the transaction that created a file, or last
  changed its folder, holds a copy of the catalog leaf node with the file's
  record, and it stays in the journal's circular buffer after the file is
  deleted, until the buffer wraps over it. So does the copy of the extents
  overflow leaf that held a fragmented file's further extents.

If the volume has no journal (dfvfs's `hfsplus.raw` has none), one is made
first, as `newfs_hfs -J` lays it out: a journal info block (flags: journal
in this filesystem; the journal's offset and size) in a free allocation
block, and the journal itself in a run of free blocks after it, both marked
in use; the volume header gets the journaled attribute and the info block's
number. The journal is little-endian (an Intel Mac's): its header, then the
transactions. This script writes two: the catalog leaf nodes as they were
before the deletion, then as they are after it, as macOS writes them when
the volume is used and then the files are deleted. The journal is left
empty (start == end, as after a clean unmount), so nothing is replayed.

With `--wrap` the first transaction begins near the end of the circular
buffer, so that its copy of the first catalog leaf node crosses the end: its
first half is the buffer's last bytes, the rest goes on after the journal
header, as xnu's journal writes wrap (vfs_journal.c).

Written from Apple's Technical Note TN1150 and xnu's vfs_journal.h; shares
no code with dredge. Small test volumes only: every leaf record must be in
one leaf node list, and there must be room for the journal.
"""
import struct
import sys

JOURNALED = 1 << 13
PRIVATE_PATH = "/\0\0\0\0HFS+ Private Data"
JOURNAL_BLOCKS = 64  # 256 KiB with 4 KiB blocks
SECTOR = 512


def be(fmt, b, o):
    return struct.unpack_from(">" + fmt, b, o)[0]


def checksum(b):
    """xnu's journal `calc_checksum`."""
    c = 0
    for x in b:
        c = ((c << 8) ^ (c + x)) & 0xFFFFFFFF
    return (~c) & 0xFFFFFFFF


class Vol:
    def __init__(self, data):
        self.d = bytearray(data)
        if bytes(self.d[1024:1026]) not in (b"H+", b"HX"):
            sys.exit("hfs-delete: not an HFS+ volume")
        self.bs = be("I", self.d, 1024 + 40)
        self.total = be("I", self.d, 1024 + 44)
        start, count = struct.unpack_from(">II", self.d, 1024 + 272 + 16)
        if be("I", self.d, 1024 + 272 + 24 + 4):
            sys.exit("hfs-delete: the catalog has more than one extent")
        self.cat = start * self.bs
        self.node = be("H", self.d, self.cat + 14 + 18)
        astart, _ = struct.unpack_from(">II", self.d, 1024 + 112 + 16)
        self.bitmap = astart * self.bs

    def hdr32(self, at, delta):
        v = be("I", self.d, 1024 + at) + delta
        struct.pack_into(">I", self.d, 1024 + at, v)

    def used(self, b):
        return self.d[self.bitmap + b // 8] & (0x80 >> (b % 8)) != 0

    def mark(self, b, on):
        if self.used(b) == on:
            return
        if on:
            self.d[self.bitmap + b // 8] |= 0x80 >> (b % 8)
        else:
            self.d[self.bitmap + b // 8] &= ~(0x80 >> (b % 8)) & 0xFF
        self.hdr32(48, -1 if on else 1)

    def tree(self, fork):
        """(base, node size) of the B-tree whose file's fork is at `fork` of
        the volume header (one extent)."""
        start = be("I", self.d, 1024 + fork + 16)
        base = start * self.bs
        return base, be("H", self.d, base + 14 + 18)

    def leaves(self, t=None):
        """Leaf node numbers, along the chain."""
        base, size = t or (self.cat, self.node)
        out, n = [], be("I", self.d, base + 14 + 10)
        while n:
            out.append(n)
            n = be("I", self.d, base + n * size)
        return out

    def records(self, n, t=None):
        base, size = t or (self.cat, self.node)
        o = base + n * size
        count = be("H", self.d, o + 10)
        offs = [be("H", self.d, o + size - 2 * (i + 1)) for i in range(count + 1)]
        return [(offs[i], offs[i + 1]) for i in range(count)]

    def parse(self, n, s):
        o = self.cat + n * self.node + s
        klen = be("H", self.d, o)
        parent = be("I", self.d, o + 2)
        nl = be("H", self.d, o + 6)
        name = bytes(self.d[o + 8:o + 8 + 2 * nl]).decode("utf-16-be")
        data = o + 2 + klen + (klen & 1)
        return parent, name, data

    def find(self, parent, name):
        for n in self.leaves():
            for i, (s, _) in enumerate(self.records(n)):
                p, nm, data = self.parse(n, s)
                if p == parent and nm == name:
                    return n, i, data
        return None

    def delete_record(self, n, i, t=None):
        """xnu's DeleteRecord: records after it moved down, offsets shifted,
        the freed bytes cleared."""
        base, size = t or (self.cat, self.node)
        o = base + n * size
        recs = self.records(n, t)
        count = len(recs)
        s, e = recs[i]
        free = recs[-1][1]
        self.d[o + s:o + free - (e - s)] = self.d[o + e:o + free]
        self.d[o + free - (e - s):o + free] = bytes(e - s)
        offs = [r[0] for r in recs] + [free]
        new = offs[:i] + [x - (e - s) for x in offs[i + 1:]]
        for j in range(count + 1):
            struct.pack_into(">H", self.d, o + size - 2 * (j + 1), 0)
        for j, x in enumerate(new):
            struct.pack_into(">H", self.d, o + size - 2 * (j + 1), x)
        struct.pack_into(">H", self.d, o + 10, count - 1)
        hdr = base + 14 + 6
        struct.pack_into(">I", self.d, hdr, be("I", self.d, hdr) - 1)

    def lookup(self, path):
        cnid = 2
        for part in [p for p in path.split("/") if p]:
            hit = self.find(cnid, part)
            if hit is None:
                sys.exit(f"hfs-delete: {path}: no {part!r}")
            n, i, data = hit
            cnid = be("I", self.d, data + 8)
        return cnid

    def remove(self, path):
        cnid = self.lookup(path)
        # The thread record (key: parent = the item's CNID, no name) names it.
        n, i, data = self.find(cnid, "")
        parent = be("I", self.d, data + 4)
        nl = be("H", self.d, data + 8)
        name = bytes(self.d[data + 10:data + 10 + 2 * nl]).decode("utf-16-be")
        rn, ri, rdata = self.find(parent, name)
        kind = be("H", self.d, rdata)
        if kind == 1:
            # A folder: its children first.
            kids = [nm for n2 in self.leaves() for (s, _) in self.records(n2)
                    for (p, nm, _) in [self.parse(n2, s)] if p == cnid and nm]
            for k in kids:
                self.remove(path.rstrip("/") + "/" + k)
            rn, ri, rdata = self.find(parent, name)
        else:
            for fork in (88, 168):
                self.free_fork(rdata + fork)
            self.remove_overflow(cnid)
            self.remove_attrs(cnid)
            inode = None
            if bytes(self.d[rdata + 48:rdata + 56]) == b"hlnkhfs+":
                inode = self.unlink(be("I", self.d, rdata + 44))
        self.delete_record(rn, ri)
        n, i, _ = self.find(cnid, "")
        self.delete_record(n, i)
        _, _, pdata = self.find(*self.thread_key(parent))
        struct.pack_into(">I", self.d, pdata + 4, be("I", self.d, pdata + 4) - 1)
        self.hdr32(36 if kind == 1 else 32, -1)
        if kind != 1 and inode is not None:
            self.remove(PRIVATE_PATH + "/" + inode)

    def unlink(self, n):
        """A hard link goes: its inode's link count drops, and when no link
        is left the inode file goes too (xnu's hfs_unlink); its name then."""
        hit = self.find(self.lookup(PRIVATE_PATH), f"iNode{n}")
        if hit is None:
            return None
        _, _, idata = hit
        left = max(be("I", self.d, idata + 44), 1) - 1
        struct.pack_into(">I", self.d, idata + 44, left)
        return f"iNode{n}" if left == 0 else None

    def free_fork(self, at):
        self.free_extents(at + 16)

    def free_extents(self, at):
        for e in range(8):
            s, c = struct.unpack_from(">II", self.d, at + 8 * e)
            for b in range(s, s + c):
                self.mark(b, False)

    def remove_overflow(self, cnid):
        """A fork's extents past its eighth go with it (xnu's
        `DeallocateFork`): their records leave the extents overflow B-tree,
        their blocks are freed, and a leaf left empty leaves the tree
        (`DeleteTree`: a root leaf emptied makes the tree empty again)."""
        if be("Q", self.d, 1024 + 192) == 0:
            return

        def gone(r):
            if be("H", self.d, r) != 10 or be("I", self.d, r + 4) != cnid:
                return False
            self.free_extents(r + 12)
            return True

        self.remove_records(self.tree(192), gone, drop_empty=True)

    def drop_leaf(self, t, n):
        """An empty leaf that is the tree's root leaves it: the tree is
        empty (depth 0, no root, no leaves) and the node is free in the map."""
        base, size = t
        h = base + 14
        if be("I", self.d, h + 2) != n or be("H", self.d, h) != 1:
            sys.exit("hfs-delete: only a one-leaf extents tree is emptied")
        struct.pack_into(">HI", self.d, h, 0, 0)
        struct.pack_into(">II", self.d, h + 10, 0, 0)
        struct.pack_into(">I", self.d, h + 26, be("I", self.d, h + 26) + 1)
        mapped = base + be("H", self.d, base + size - 6)
        self.d[mapped + n // 8] &= ~(0x80 >> (n % 8)) & 0xFF

    def remove_attrs(self, cnid):
        """The file's extended attributes go with it (hfs_removeallattr):
        their records leave the attributes B-tree, attribute forks' blocks are
        freed."""
        if be("Q", self.d, 1024 + 352) == 0:
            return

        def gone(r):
            if be("I", self.d, r + 4) != cnid:
                return False
            klen = be("H", self.d, r)
            data = r + 2 + klen + (klen & 1)
            if be("I", self.d, data) == 0x20:  # kHFSPlusAttrForkData
                self.free_fork(data + 8)
            return True

        self.remove_records(self.tree(352), gone)

    def remove_records(self, t, gone, drop_empty=False):
        """Deletes every leaf record of tree `t` for which `gone(record's
        offset)` is true (it frees what the record held), one at a time, as
        DeleteRecord does; an emptied root leaf leaves the tree when
        `drop_empty`."""
        base, size = t
        again = True
        while again:
            again = False
            for n in self.leaves(t):
                for i, (s, _) in enumerate(self.records(n, t)):
                    if not gone(base + n * size + s):
                        continue
                    self.delete_record(n, i, t)
                    if drop_empty and not self.records(n, t):
                        self.drop_leaf(t, n)
                    again = True
                    break
                if again:
                    break

    def thread_key(self, cnid):
        """(parent, name) of folder `cnid`'s record, from its thread."""
        _, _, data = self.find(cnid, "")
        nl = be("H", self.d, data + 8)
        return be("I", self.d, data + 4), bytes(self.d[data + 10:data + 10 + 2 * nl]).decode("utf-16-be")

    def snapshot(self):
        """(sector number, bytes) of the header node and every leaf node of
        the catalog, the extents overflow and the attributes B-trees."""
        trees = [(self.cat, self.node)]
        for fork in (192, 352):
            if be("Q", self.d, 1024 + fork):
                trees.append(self.tree(fork))
        out = []
        for base, size in trees:
            for n in [0] + self.leaves((base, size)):
                o = base + n * size
                out.append((o // SECTOR, bytes(self.d[o:o + size])))
        return out

    def make_journal(self):
        """A journal info block and a journal in free blocks; (offset, size)."""
        run, start = 0, None
        for b in range(1, self.total):
            run = run + 1 if not self.used(b) else 0
            if run == JOURNAL_BLOCKS + 1:
                start = b - JOURNAL_BLOCKS
                break
        if start is None:
            sys.exit("hfs-delete: no room for a journal")
        for b in range(start, start + JOURNAL_BLOCKS + 1):
            self.mark(b, True)
        jib = start * self.bs
        self.d[jib:jib + self.bs] = bytes(self.bs)
        off, size = (start + 1) * self.bs, JOURNAL_BLOCKS * self.bs
        struct.pack_into(">I", self.d, jib, 1)  # kJIJournalInFSMask
        struct.pack_into(">QQ", self.d, jib + 36, off, size)
        struct.pack_into(">I", self.d, 1024 + 12, start)
        attrs = be("I", self.d, 1024 + 4) | JOURNALED
        struct.pack_into(">I", self.d, 1024 + 4, attrs)
        return off, size

    def write_journal(self, off, size, transactions, wrap=False):
        jhdr, blhdr = SECTOR, 4096
        pos = jhdr
        if wrap:
            first = transactions[0]
            pos = size - blhdr - len(first[0][1]) - len(first[1][1]) // 2
        used = 0
        for blocks in transactions:
            body = b"".join(b for _, b in blocks)
            total = blhdr + len(body)
            used += total
            if used > size - jhdr:
                sys.exit("hfs-delete: the journal is too small")
            h = bytearray(blhdr)
            struct.pack_into("<HHII", h, 0, blhdr // 16 - 1, len(blocks) + 1, total, 0)
            for j, (sector, b) in enumerate(blocks):
                struct.pack_into("<QII", h, 16 * (j + 1), sector, len(b), 0)
            struct.pack_into("<I", h, 8, checksum(h[:32]))
            data = bytes(h) + body
            # Past the buffer's end the write goes on after the header.
            cut = min(len(data), size - pos)
            self.d[off + pos:off + pos + cut] = data[:cut]
            rest = data[cut:]
            self.d[off + jhdr:off + jhdr + len(rest)] = rest
            pos = pos + total if not rest else jhdr + len(rest)
        head = bytearray(jhdr)
        # magic, endian, start, end, size, blhdr_size, checksum, jhdr_size
        struct.pack_into("<IIqqqIII", head, 0, 0x4A4E4C78, 0x12345678, pos, pos, size,
                         blhdr, 0, jhdr)
        struct.pack_into("<I", head, 36, checksum(head[:44]))
        self.d[off:off + jhdr] = head


def main():
    args = sys.argv[1:]
    wrap = args[:1] == ["--wrap"]
    if wrap:
        args = args[1:]
    if len(args) < 3:
        sys.exit(__doc__)
    v = Vol(open(args[0], "rb").read())
    if be("I", v.d, 1024 + 4) & JOURNALED:
        sys.exit("hfs-delete: the volume is journaled already")
    off, size = v.make_journal()
    before = v.snapshot()
    for p in args[2:]:
        v.remove(p)
    after = v.snapshot()
    v.write_journal(off, size, [before, after], wrap)
    open(args[1], "wb").write(v.d)


if __name__ == "__main__":
    main()
