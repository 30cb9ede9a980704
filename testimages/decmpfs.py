"""decmpfs layouts as macOS writes them, for apfs-compress.py and
hfs-compress.py (xnu's bsd/sys/decmpfs.h; shares no code with dredge).

The attribute is `fpmc`, the method, the uncompressed size (little endian)
and, for inline methods, the data. Resource-fork layouts:
- zlib (4): a resource-fork header (data offset 0x100), then at 0x100 the
  resource's length (big endian), the chunk count and (offset, length)
  pairs (little endian, offsets from the count), then the chunks;
- LZVN (8) and LZFSE (12): a table of chunk offsets (little endian, from
  the fork's start; one more than there are chunks), then the chunks.
Each chunk holds 64 KiB of content.

LZBITMAP (13 inline, 14 in the resource fork, laid out as LZFSE) has no
compressor outside macOS: the method `lzbitmap:PATH` takes the stream at
PATH, made elsewhere (libzbitmap's test vectors, made with Apple's
compressor), as the content's one chunk (so at most 64 KiB of content).
"""
import struct
import zlib

CHUNK = 65536
INLINE = {"zlib": 3, "lzfse": 11, "lzbitmap": 13}
FORK = {"zlib": 4, "lzfse": 12, "lzbitmap": 14}


def _pack(method, data):
    if method.startswith("lzbitmap:"):
        if len(data) > CHUNK:
            raise SystemExit("decmpfs: an LZBITMAP stream given whole is one chunk: 64 KiB at most")
        return open(method.split(":", 1)[1], "rb").read()
    if method == "zlib":
        return zlib.compress(data, 9)
    import lzfse  # PyPI: Apple's reference implementation
    return lzfse.compress(data)


def attr_and_fork(data, mode, method):
    """(the com.apple.decmpfs attribute, the resource fork or None)."""
    size = len(data)
    name = method.split(":")[0]
    if mode == "inline":
        return b"fpmc" + struct.pack("<IQ", INLINE[name], size) + _pack(method, data), None
    attr = b"fpmc" + struct.pack("<IQ", FORK[name], size)
    chunks = [_pack(method, data[o:o + CHUNK]) for o in range(0, size, CHUNK)]
    if method == "zlib":
        table, at = b"", 4 + 8 * len(chunks)
        for c in chunks:
            table += struct.pack("<II", at, len(c))
            at += len(c)
        res = struct.pack("<I", len(chunks)) + table + b"".join(chunks)
        body = struct.pack(">I", len(res)) + res
        fork = struct.pack(">IIII", 0x100, 0x100 + len(body), len(body), 50)
        return attr, fork.ljust(0x100, b"\0") + body + bytes(50)
    offs = [4 * (len(chunks) + 1)]
    for c in chunks:
        offs.append(offs[-1] + len(c))
    return attr, struct.pack(f"<{len(offs)}I", *offs) + b"".join(chunks)
