#!/usr/bin/env python3
"""Rewrites a UDIF disk image (.dmg) with its compressed chunks in LZFSE,
bzip2 or LZMA.

    dmg-recompress.py IN.dmg OUT.dmg [lzfse|bzip2|lzma]

`hdiutil convert -format ULFO` (or `UDBZ`, `ULMO`) does this on a Mac; here
every zlib chunk (type 0x80000005) is inflated and compressed again with
Apple's reference LZFSE (PyPI `lzfse`) as type 0x80000007, with Python's bz2
as type 0x80000006, or with Python's lzma (liblzma) as type 0x80000008: an
.xz stream (LZMA2, CRC-64 check), as ULMO chunks are (liblzma's
`lzma_easy_buffer_encode`, which libdmg-hfsplus writes them with and undmg
reads them with); raw, zero and free chunks are kept as they are. The new image is the data fork (the chunks in table order),
the property list (plistlib, each `mish` table's chunk offsets and lengths
rewritten; the tables' CRC-32s, over decoded sectors, still hold) and the
`koly` trailer (data fork and XML offsets and lengths; the data fork's own
CRC-32 recomputed). Layout from Apple's UDIF as documented by libyal's
libmodi; shares no code with dredge.
"""
import bz2
import lzma
import plistlib
import struct
import sys
import zlib


def main():
    src, out = sys.argv[1], sys.argv[2]
    method = sys.argv[3] if len(sys.argv) > 3 else "lzfse"
    if method == "lzfse":
        import lzfse  # PyPI: Apple's reference implementation
        kind, pack = 0x80000007, lzfse.compress
    elif method == "bzip2":
        kind, pack = 0x80000006, lambda b: bz2.compress(b, 9)
    elif method == "lzma":
        kind, pack = 0x80000008, lambda b: lzma.compress(b, format=lzma.FORMAT_XZ, check=lzma.CHECK_CRC64)
    else:
        sys.exit("dmg-recompress: the method is lzfse, bzip2 or lzma")
    d = open(src, "rb").read()
    koly = bytearray(d[-512:])
    if koly[:4] != b"koly":
        sys.exit("dmg-recompress: no koly trailer")
    xo, xl = struct.unpack(">QQ", koly[216:232])
    pl = plistlib.loads(d[xo:xo + xl])
    fork = bytearray()
    for b in pl["resource-fork"]["blkx"]:
        m = bytearray(b["Data"])
        doff = struct.unpack(">Q", m[24:32])[0]
        for i in range(struct.unpack(">I", m[200:204])[0]):
            at = 204 + 40 * i
            t, c, s, n, co, cl = struct.unpack(">IIQQQQ", m[at:at + 40])
            stored = d[doff + co:doff + co + cl]
            if t == 0x80000005:
                t, stored = kind, pack(zlib.decompress(stored))
            new_off = len(fork)
            fork += stored
            struct.pack_into(">IIQQQQ", m, at, t, c, s, n, new_off, len(stored))
        struct.pack_into(">Q", m, 24, 0)
        b["Data"] = bytes(m)
    xml = plistlib.dumps(pl, fmt=plistlib.FMT_XML)
    struct.pack_into(">QQQ", koly, 16, 0, 0, len(fork))  # running, data fork offset, length
    struct.pack_into(">QQ", koly, 40, len(fork), len(xml))  # resource fork
    struct.pack_into(">QQ", koly, 216, len(fork), len(xml))
    struct.pack_into(">III", koly, 80, 2, 32, zlib.crc32(fork))
    open(out, "wb").write(bytes(fork) + xml + bytes(koly))


main()
