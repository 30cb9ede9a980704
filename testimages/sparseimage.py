#!/usr/bin/env python3
"""Writes a raw disk image as an Apple sparse image (.sparseimage), as
`hdiutil create -type SPARSE` lays one out when the disk's bands are written
in a scattered order.

    sparseimage.py IN_RAW OUT [SECTORS_PER_BAND] [SEED]

The disk is cut into bands of SECTORS_PER_BAND 512-byte sectors (default
2048, hdiutil's 1 MiB). Bands that are all zeros are left out (never
written). The others are stored in an order shuffled by SEED (default 1),
as a filesystem writes them: each node's band table lists, in that order,
the disk band number plus one of each band stored after the node.

- The header node (4096 bytes, big-endian): "sprs", version 3, sectors per
  band, flags 1, the disk's sectors (32 bits) at 16, the next index node's
  file offset (64 bits) at 20, the disk's sectors (64 bits) at 28, then 1008
  band table entries from byte 64; its bands follow it.
- When a node's table is full, an index node follows the last band: "sprs",
  its number (from 0), flags 1, the next node's offset (64 bits) at 12, then
  1010 entries from byte 56; its bands follow it.

Layout from libyal's libmodi documentation (the header node) and Simon
Gander's fsdump (`AppleSparseimage`, the index node chain); shares no code
with dredge. It prints the number of bands stored and of index nodes.
"""
import random
import struct
import sys

NODE = 4096


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    raw = open(sys.argv[1], "rb").read()
    out = sys.argv[2]
    per_band = int(sys.argv[3]) if len(sys.argv) > 3 else 2048
    seed = int(sys.argv[4]) if len(sys.argv) > 4 else 1
    band = per_band * 512
    sectors = (len(raw) + 511) // 512
    raw = raw.ljust(sectors * 512, b"\0")
    written = [b for b in range((len(raw) + band - 1) // band)
               if any(raw[b * band:(b + 1) * band])]
    random.Random(seed).shuffle(written)

    data = bytearray()
    head = bytearray(NODE)
    struct.pack_into(">4sIIII", head, 0, b"sprs", 3, per_band, 1, sectors & 0xFFFFFFFF)
    struct.pack_into(">Q", head, 28, sectors)
    node, node_at, table, room, count, index_nodes = head, 0, 64, 1008, 0, 0
    nodes = [(0, head)]
    pos = NODE
    for b in written:
        if count == room:
            # The node is full: the next one goes after its last band.
            new = bytearray(NODE)
            struct.pack_into(">4sII", new, 0, b"sprs", index_nodes, 1)
            struct.pack_into(">Q", node, 20 if node_at == 0 else 12, pos)
            index_nodes += 1
            node, node_at, table, room, count = new, pos, 56, 1010, 0
            nodes.append((pos, new))
            data += bytes(NODE)
            pos += NODE
        struct.pack_into(">I", node, table + 4 * count, b + 1)
        count += 1
        chunk = raw[b * band:(b + 1) * band].ljust(band, b"\0")
        data += chunk
        pos += band
    image = bytearray(NODE) + data
    for at, n in nodes:
        image[at:at + NODE] = n
    open(out, "wb").write(image)
    print(len(written), index_nodes)


main()
