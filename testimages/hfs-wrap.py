#!/usr/bin/env python3
"""Wraps an HFS+ volume in an HFS wrapper, as classic Mac OS formatted HFS+.

    hfs-wrap.py IN_HFSPLUS_IMAGE OUT_IMAGE

Mac OS 8.1 and later wrote HFS+ volumes inside an HFS (standard) volume so
that older systems, which knew only HFS, would see a volume holding a single
read-me file rather than an unknown disk. The wrapper's master directory
block (MDB) at byte 1024 has the HFS signature 'BD'; its drEmbedSigWord is
'H+' and drEmbedExtent (first allocation block, block count) says where in
the wrapper's allocation blocks the HFS+ volume lies. The volume starts at
drAlBlSt * 512 + start * drAlBlkSiz. A copy of the MDB sits 1024 bytes
before the wrapper's end, as HFS keeps it.

The wrapper written here has 4 KiB allocation blocks from sector 8, its
volume bitmap at sector 3 (the embedded volume's blocks marked in use), and
the HFS+ volume from allocation block 1 (byte 8192). Its own catalog and
extents B-trees are left empty (a reader of the wrapper looks only at the
MDB). Written from Inside Macintosh: Files (the MDB) and Apple's Technical
Note TN1150 (the embedded volume); shares no code with dredge.
"""
import struct
import sys

BLOCK = 4096
FIRST_SECTOR = 8  # drAlBlSt
START = 1  # drEmbedExtent.startBlock


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    inner = open(sys.argv[1], "rb").read()
    if inner[1024:1026] not in (b"H+", b"HX"):
        sys.exit("hfs-wrap: the input is not an HFS+ volume")
    count = -(-len(inner) // BLOCK)
    total = START + count + 1  # one spare block after it
    size = FIRST_SECTOR * 512 + total * BLOCK + 1024
    out = bytearray(size)
    at = FIRST_SECTOR * 512 + START * BLOCK
    out[at:at + len(inner)] = inner
    mdb = bytearray(512)
    name = b"wrapped"
    struct.pack_into(">2sIIHHHHHIIHIH", mdb, 0,
                     b"BD",        # drSigWord
                     0xB5A7D6C0,   # drCrDate (2000, seconds since 1904)
                     0xB5A7D6C0,   # drLsMod
                     0x0100,       # drAtrb: unmounted cleanly
                     0,            # drNmFls
                     3,            # drVBMSt
                     0,            # drAllocPtr
                     total,        # drNmAlBlks
                     BLOCK,        # drAlBlkSiz
                     BLOCK,        # drClpSiz
                     FIRST_SECTOR, # drAlBlSt
                     16,           # drNxtCNID
                     total - START - count)  # drFreeBks
    mdb[36] = len(name)
    mdb[37:37 + len(name)] = name
    struct.pack_into(">2sHH", mdb, 124, b"H+", START, count)
    out[1024:1536] = mdb
    out[size - 1024:size - 512] = mdb
    # The volume bitmap: blocks START .. START+count in use.
    bm = 3 * 512
    for b in range(START, START + count):
        out[bm + b // 8] |= 0x80 >> (b % 8)
    open(sys.argv[2], "wb").write(out)


if __name__ == "__main__":
    main()
