#!/usr/bin/env python3
"""Builds testimages/carving/ground-truth.img and MANIFEST.json: random noise (no
zero runs, so nothing is skipped for free) holding known files at known offsets —
intact JPEG, PNG, ZIP and DOCX files, a truncated JPEG and PNG, a JPEG with one
corrupted sector, and decoy headers followed by garbage. Needs Pillow (pip).
Not byte-reproducible (Pillow's PDF writer embeds the time); MANIFEST.json always
describes the image written beside it."""
import hashlib, io, json, os, random, struct, zipfile, zlib
from PIL import Image

here = os.path.dirname(os.path.abspath(__file__))
out = os.path.join(here, "carving")
os.makedirs(out, exist_ok=True)
r = random.Random(2026)
SIZE = 4 << 20
img = bytearray(r.getrandbits(8) for _ in range(SIZE))

def jpeg(w, h, seed, q):
    rr = random.Random(seed)
    im = Image.new("RGB", (w, h))
    im.putdata([(rr.randrange(256), (x * 7) % 256, (y * 3) % 256) for y in range(h) for x in range(w)])
    b = io.BytesIO()
    im.save(b, "JPEG", quality=q)
    return b.getvalue()

def png(w, h, seed):
    rr = random.Random(seed)
    im = Image.new("RGB", (w, h))
    im.putdata([(rr.randrange(256), x % 256, y % 256) for y in range(h) for x in range(w)])
    b = io.BytesIO()
    im.save(b, "PNG")
    return b.getvalue()

def zipped(entries, seed):
    b = io.BytesIO()
    with zipfile.ZipFile(b, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in entries:
            zi = zipfile.ZipInfo(name, date_time=(2026, 11, 26, 12, 0, 0))
            z.writestr(zi, data)
    return b.getvalue()

def pil(fmt, w, h, seed):
    rr = random.Random(seed)
    im = Image.new("RGB", (w, h))
    im.putdata([(rr.randrange(256), (x * 5) % 256, (y * 11) % 256) for y in range(h) for x in range(w)])
    if fmt == "GIF":
        im = im.convert("P")
    b = io.BytesIO()
    im.save(b, fmt)
    return b.getvalue()

def wav():
    import wave
    b = io.BytesIO()
    w = wave.open(b, "wb")
    w.setnchannels(1)
    w.setsampwidth(2)
    w.setframerate(8000)
    w.writeframes(bytes(random.Random(15).getrandbits(8) for _ in range(16000)))
    w.close()
    return b.getvalue()

def mp4():
    box = lambda t, body: struct.pack(">I", 8 + len(body)) + t + body
    ftyp = box(b"ftyp", b"isom" + struct.pack(">I", 0x200) + b"isomiso2mp41")
    mdat = box(b"mdat", bytes(random.Random(17).getrandbits(8) for _ in range(20000)))
    mvhd = box(b"mvhd", b"\0\0\0\0" + struct.pack(">IIII", 0, 0, 1000, 5000) + struct.pack(">IH", 0x10000, 0x100) + b"\0" * 10
               + struct.pack(">9I", 0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000) + b"\0" * 24 + struct.pack(">I", 2))
    return ftyp + mdat + box(b"moov", mvhd)

def pe():
    # A minimal PE32 executable: DOS header, PE signature, COFF, optional header,
    # one .text section of 0x400 bytes at 0x200.
    dos = b"MZ" + b"\0" * 58 + struct.pack("<I", 0x80)
    dos = dos.ljust(0x80, b"\0")
    coff = b"PE\0\0" + struct.pack("<HHIIIHH", 0x14C, 1, 0, 0, 0, 0xE0, 0x0102)
    opt = struct.pack("<HBBIIIIIIIIIHHHHHHIIIIHHIIIIII", 0x10B, 14, 0, 0x400, 0, 0, 0x1000, 0x1000, 0x2000, 0x400000,
                      0x1000, 0x200, 6, 0, 0, 0, 6, 0, 0, 0x2000, 0x200, 0, 3, 0, 0x100000, 0x1000, 0x100000, 0x1000, 0, 16)
    opt += b"\0" * (16 * 8)
    sect = b".text\0\0\0" + struct.pack("<IIIIIIHHI", 0x400, 0x1000, 0x400, 0x200, 0, 0, 0, 0, 0x60000020)
    head = (dos + coff + opt + sect).ljust(0x200, b"\0")
    return head + bytes(random.Random(18).getrandbits(8) for _ in range(0x400))

def sqlite_db():
    import sqlite3, tempfile
    p = tempfile.mktemp(suffix=".sqlite")
    c = sqlite3.connect(p)
    c.execute("CREATE TABLE calls (ts TEXT, number TEXT, seconds INTEGER)")
    c.executemany("INSERT INTO calls VALUES (?, ?, ?)", [(f"2026-10-{i % 28 + 1:02d}", f"+3161234{i:04d}", i * 7) for i in range(300)])
    c.commit()
    c.close()
    data = open(p, "rb").read()
    os.remove(p)
    return data

docx = zipped([("[Content_Types].xml", "<Types/>"), ("_rels/.rels", "<Relationships/>"),
               ("word/document.xml", "<w:document>" + "evidence " * 500 + "</w:document>")], 1)
plainzip = zipped([("notes.txt", "meeting at the harbour " * 300), ("ledger.csv", "1;2;3\n" * 400)], 2)

files = [
    ("intact", "jpeg", jpeg(160, 120, 1, 85)),
    ("intact", "jpeg", jpeg(320, 200, 2, 70)),
    ("intact", "jpeg", jpeg(64, 64, 3, 95)),
    ("intact", "png", png(120, 90, 4)),
    ("intact", "png", png(40, 300, 5)),
    ("intact", "zip", plainzip),
    ("intact", "docx", docx),
    ("intact", "gif", pil("GIF", 90, 60, 9)),
    ("intact", "bmp", pil("BMP", 50, 40, 10)),
    ("intact", "pdf", pil("PDF", 80, 80, 11)),
    ("intact", "sqlite", sqlite_db()),
    ("intact", "wav", wav()),
    ("intact", "mp4", mp4()),
    ("intact", "pe", pe()),
    ("intact", "gzip", __import__("gzip").compress(("ledger line\n" * 4000).encode() + bytes(random.Random(16).getrandbits(8) for _ in range(3000)), mtime=0)),
    ("truncated", "jpeg", jpeg(200, 150, 6, 80)),
    ("truncated", "png", png(100, 100, 7)),
    ("corrupt", "jpeg", jpeg(240, 180, 8, 80)),
]
manifest = []
pos = 64 * 1024
for kind, fmt, data in files:
    pos = (pos + 4095) // 4096 * 4096
    stored = data
    if kind == "truncated":
        stored = data[: len(data) // 2]
    if kind == "corrupt":
        # One sector in the middle of the entropy-coded data overwritten with noise.
        mid = len(data) // 2 // 512 * 512
        stored = data[:mid] + bytes(r.getrandbits(8) for _ in range(512)) + data[mid + 512:]
    img[pos:pos + len(stored)] = stored
    manifest.append({"kind": kind, "format": fmt, "offset": pos, "length": len(data),
                     "stored_length": len(stored), "sha256": hashlib.sha256(data).hexdigest()})
    pos += len(stored) + r.randrange(8192, 65536)
# Decoys: real header bytes followed by noise.
for hdr in [b"\xff\xd8\xff\xe0", b"\x89PNG\r\n\x1a\n", b"PK\x03\x04", b"\xff\xd8\xff\xdb\x00\x43"]:
    pos = (pos + 4095) // 4096 * 4096
    img[pos:pos + len(hdr)] = hdr
    manifest.append({"kind": "decoy", "format": hdr[:4].hex(), "offset": pos, "length": 0, "stored_length": len(hdr), "sha256": ""})
    pos += r.randrange(20000, 60000)
# Two-fragment files: split on a sector boundary inside the file, foreign noise
# between the pieces (as a filesystem would leave them).
for fmt, data, gap in [("png", png(140, 110, 12), 8192), ("png", png(90, 200, 13), 65536),
                       ("jpeg", jpeg(220, 160, 14, 80), 16384), ("zip", zipped([("report.txt", "x" * 30000 + "end")], 3), 4096)]:
    pos = (pos + 4095) // 4096 * 4096
    split = (len(data) // 2) // 512 * 512
    img[pos:pos + split] = data[:split]
    second = pos + split + gap
    img[second:second + len(data) - split] = data[split:]
    manifest.append({"kind": "fragmented", "format": fmt, "offset": pos, "length": len(data),
                     "stored_length": split, "sha256": hashlib.sha256(data).hexdigest(),
                     "fragments": [[pos, split], [second, len(data) - split]]})
    pos = second + len(data) - split + r.randrange(8192, 65536)
# Appended after the rest so the layout above stays as it was.
def tiff(w, h, seed, compression):
    rr = random.Random(seed)
    im = Image.new("RGB", (w, h))
    im.putdata([(rr.randrange(256), (x * 3) % 256, (y * 9) % 256) for y in range(h) for x in range(w)])
    b = io.BytesIO()
    im.save(b, "TIFF", compression=compression)
    return b.getvalue()

def cfb(streams):
    """A compound file (MS-CFB version 3, 512-byte sectors): header, one FAT sector,
    one directory sector, then each stream (>= 4096 bytes, so no mini stream)."""
    FREE, END, FATSECT = 0xFFFFFFFF, 0xFFFFFFFE, 0xFFFFFFFD
    fat, data, starts = [FATSECT, END], b"", []
    for _, body in streams:
        n = (len(body) + 511) // 512
        first = len(fat)
        starts.append(first)
        fat += list(range(first + 1, first + n)) + [END]
        data += body.ljust(n * 512, b"\0")
    assert len(fat) <= 128
    fat += [FREE] * (128 - len(fat))
    def entry(name, typ, child, right, start, size):
        n = (name + "\0").encode("utf-16-le")
        return (n.ljust(64, b"\0") + struct.pack("<HBBIII", len(n), typ, 1, FREE, right, child) + b"\0" * 16
                + struct.pack("<IQQIQ", 0, 0, 0, start, size))
    d = entry("Root Entry", 5, 1, FREE, END, 0)
    for i, (name, body) in enumerate(streams):
        d += entry(name, 2, FREE, i + 2 if i + 1 < len(streams) else FREE, starts[i], len(body))
    d = d.ljust(512, b"\0")
    head = (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 16 + struct.pack("<HHHHH", 0x3E, 3, 0xFFFE, 9, 6) + b"\0" * 6
            + struct.pack("<IIIIIIIII", 0, 1, 1, 0, 4096, END, 0, END, 0) + struct.pack("<I", 0) + struct.pack("<I", FREE) * 108)
    assert len(head) == 512
    return head + struct.pack("<128I", *fat) + d + data

rr = random.Random(21)
word = cfb([("WordDocument", bytes(rr.getrandbits(8) for _ in range(6000))),
            ("1Table", ("statement of the witness " * 200).encode())])
for kind, fmt, data in [("intact", "tiff", tiff(60, 50, 19, "raw")), ("intact", "tiff", tiff(80, 40, 20, "tiff_lzw")),
                        ("intact", "doc", word)]:
    pos = (pos + 4095) // 4096 * 4096
    img[pos:pos + len(data)] = data
    manifest.append({"kind": kind, "format": fmt, "offset": pos, "length": len(data),
                     "stored_length": len(data), "sha256": hashlib.sha256(data).hexdigest()})
    pos += len(data) + r.randrange(8192, 65536)
assert pos < SIZE
with open(os.path.join(out, "ground-truth.img"), "wb") as f:
    f.write(img)
with open(os.path.join(out, "MANIFEST.json"), "w") as f:
    json.dump(manifest, f, indent=1)
print(f"wrote {len(manifest)} entries, image sha256 {hashlib.sha256(img).hexdigest()}")
