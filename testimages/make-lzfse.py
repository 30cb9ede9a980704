#!/usr/bin/env python3
"""Writes testimages/lzfse/: streams made by Apple's reference LZFSE encoder.

    pip install lzfse   # Python bindings for Apple's reference implementation
    python3 testimages/make-lzfse.py

Each input is generated here, deterministically; the compressed stream is
written as <name>.lzfse and the input's size and SHA-256 go into
SHA256SUMS (the decoder's tests check their output against them, so the
inputs need not be kept). The encoder chooses the block kinds: LZVN (`bvxn`)
for small inputs, LZFSE (`bvx2`) blocks otherwise, stored (`bvx-`) where
nothing shrinks.
"""
import hashlib
import os
import random
import struct

import lzfse

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "lzfse")


def text(n, seed):
    r = random.Random(seed)
    words = ["evidence", "sector", "court", "exhibit", "hash", "custody", "apfs",
             "volume", "examiner", "chain", "the", "of", "a", "bad", "disk"]
    s = []
    size = 0
    i = 0
    while size < n:
        line = f"{i:06d} " + " ".join(r.choice(words) for _ in range(r.randint(3, 15))) + "\n"
        s.append(line)
        size += len(line)
        i += 1
    return "".join(s).encode()[:n]


def main():
    r = random.Random(2026)
    inputs = {
        "small": text(300, 1),
        "text": text(250_000, 2),
        "random": r.randbytes(30_000),
        "zeros": bytes(2 << 20),
        "records": b"".join(struct.pack("<IIQ", i, i * 7 % 1000, i * i) for i in range(8_000)),
        "mixed": text(70_000, 3) + r.randbytes(5_000) + bytes(90_000) + text(70_000, 3),
    }
    os.makedirs(OUT, exist_ok=True)
    sums = []
    for name, data in inputs.items():
        with open(os.path.join(OUT, name + ".lzfse"), "wb") as f:
            f.write(lzfse.compress(data))
        sums.append(f"{hashlib.sha256(data).hexdigest()} {len(data)} {name}\n")
    with open(os.path.join(OUT, "SHA256SUMS"), "w") as f:
        f.writelines(sums)


main()
