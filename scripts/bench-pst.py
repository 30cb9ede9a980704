#!/usr/bin/env python3
"""PST carving, dredge against PhotoRec on the same image, in the same run.

The image: 8 MiB of noise holding the two Unicode PSTs Outlook wrote and the
ANSI one (testimages/carving/pst), the first again cut short at 120 KiB, and
again cut in two at 64 KiB with 48 KiB of noise between, and the ANSI one cut
short at 44 KiB. Prints, for each tool, the
intact PSTs recovered bit-exact, what it made of the damaged ones (a file
that is the original's whole bytes, a prefix of them, or something else), and
its time (whole command: dredge's includes its case, registration and store).

usage: scripts/bench-pst.py [DREDGE]   (default target/release/dredge)
"""
import hashlib
import os
import random
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DREDGE = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "target/release/dredge")


def noise(n, seed):
    return random.Random(seed).randbytes(n)


def main():
    pst = os.path.join(ROOT, "testimages/carving/pst")
    a = open(os.path.join(pst, "dist-list.pst"), "rb").read()
    b = open(os.path.join(pst, "passworded.pst"), "rb").read()
    c = open(os.path.join(pst, "32-bit.pst"), "rb").read()
    img = bytearray(noise(8 << 20, 1))
    # offset: (what, bytes placed, the original they come from)
    layout = {
        0x10000: ("intact dist-list", a, a),
        0x100000: ("intact passworded", b, b),
        0x200000: ("cut short at 120 KiB", a[: 120 << 10], a),
        0x300000: ("cut in two at 64 KiB", a[: 64 << 10] + noise(48 << 10, 2) + a[64 << 10 :], a),
        0x400000: ("intact ANSI 32-bit", c, c),
        0x500000: ("ANSI cut short at 44 KiB", c[: 44 << 10], c),
    }
    for at, (_, f, _) in layout.items():
        img[at : at + len(f)] = f
    with tempfile.TemporaryDirectory() as w:
        path = os.path.join(w, "pst.img")
        open(path, "wb").write(img)
        os.makedirs(os.path.join(w, "pr"))
        t0 = time.time()
        subprocess.run(
            ["photorec", "/log", "/d", os.path.join(w, "pr", "out"), "/cmd", path,
             "partition_none,fileopt,everything,enable,search"],
            cwd=os.path.join(w, "pr"), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            check=False,
        )
        t1 = time.time()
        subprocess.run(
            [DREDGE, "--progress", "none", "carve", path, "--out", os.path.join(w, "case"),
             "--examiner", "bench"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False,
        )
        t2 = time.time()
        # Where each output came from: PhotoRec names a file by its first
        # sector (f<sector>.pst), dredge by its offset (<hex offset>.pst).
        def offset(tool, name):
            stem = name.rsplit(".", 1)[0]
            return int(stem[1:]) * 512 if tool == "PhotoRec" else int(stem, 16)
        for tool, root, secs in (("PhotoRec", os.path.join(w, "pr"), t1 - t0),
                                 ("dredge", os.path.join(w, "case", "carved"), t2 - t1)):
            got = {}
            for d, _, fs in os.walk(root):
                for f in fs:
                    if f.endswith(".pst"):
                        got[offset(tool, f)] = open(os.path.join(d, f), "rb").read()
            print(f"{tool}: {len(got)} .pst files, {secs:.2f} s (whole command)")
            for at, (what, _, orig) in layout.items():
                g = got.get(at)
                if g is None:
                    verdict = "nothing"
                elif g == orig:
                    verdict = "the whole original, bit-exact"
                elif orig.startswith(g):
                    verdict = f"the original's first {len(g)} bytes"
                else:
                    verdict = f"{len(g)} bytes that are not the original's"
                print(f"  {what}: {verdict}")


if __name__ == "__main__":
    main()
