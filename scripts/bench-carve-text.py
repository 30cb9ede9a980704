#!/usr/bin/env python3
"""Plain-text carving against PhotoRec (issue 14): how many text files come back
bit-exact, and how many outputs each tool writes.

Builds a 64 MiB image of random bytes holding 30 text files (plain prose with
UTF-8, CSV, HTML, JSON, log lines; 300 B to 60 KB each) at 4 KiB boundaries,
each followed by its last cluster's zero slack, as a freshly written FAT or
NTFS volume leaves them. Then runs `dredge carve IMAGE --out DIR` and
`photorec /cmd IMAGE options,paranoid,fileopt,everything,enable,search` on it
in the same run, and counts the outputs whose SHA-256 is a planted file's.
Both tools' whole commands are timed (warm cache).

usage: bench-carve-text.py [--seed S] [--dredge PATH]
"""
import argparse
import glob
import hashlib
import os
import random
import shutil
import subprocess
import tempfile
import time

WORDS = ("the of and to in is that for it as was with be by on not he this are or his "
         "from at which but have an they you were her she there been one all we their its "
         "more said when so no if will can out up into about time other some would what "
         "only new these may").split()


def text(r, kind, n):
    w = lambda k: " ".join(r.choice(WORDS) for _ in range(k))
    if kind == "csv":
        rows = [f"{j},{r.choice(WORDS)},{r.randint(1, 9999)}.{r.randint(0, 99):02d}"
                for j in range(n // 20)]
        return "id,name,amount\n" + "\n".join(rows) + "\n"
    if kind == "html":
        body = "".join(f"<p>{w(12)}</p>\n" for _ in range(n // 70))
        return f"<!DOCTYPE html>\n<html><body>\n{body}</body></html>\n"
    if kind == "json":
        items = ",".join(f'{{"k": "{r.choice(WORDS)}", "v": {r.randint(0, 10**6)}}}'
                         for _ in range(n // 30))
        return '{"items": [' + items + "]}\n"
    if kind == "log":
        return "".join(f"2026-11-{r.randint(1, 30):02d} 12:{r.randint(0, 59):02d}:00 INFO {w(8)}\n"
                       for _ in range(n // 60))
    return w(n // 5) + "\nÜbersetzung: “quoted” — café\n"


def make(path, seed):
    r = random.Random(seed)
    img = bytearray(random.Random(seed + 1000).randbytes(64 << 20))
    want = set()
    at = 1 << 20
    for i in range(30):
        b = text(r, ["txt", "csv", "html", "json", "log"][i % 5], r.randint(300, 60000)).encode()
        img[at:at + len(b)] = b
        end = (at + len(b) + 4095) // 4096 * 4096
        img[at + len(b):end] = bytes(end - at - len(b))
        want.add(hashlib.sha256(b).hexdigest())
        at = end + r.randint(1, 64) * 4096
    with open(path, "wb") as f:
        f.write(img)
    return want


def score(files, want):
    hs = [hashlib.sha256(open(f, "rb").read()).hexdigest() for f in files]
    return len(files), len(want & set(hs))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--dredge", default="target/release/dredge")
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="dredge-text-")
    img = os.path.join(work, "text.img")
    want = make(img, a.seed)
    t = time.time()
    subprocess.run([a.dredge, "--progress", "none", "carve", img, "--out", os.path.join(work, "d")],
                   capture_output=True)
    td = time.time() - t
    d = [os.path.join(p, f) for p, _, fs in os.walk(os.path.join(work, "d", "carved")) for f in fs]
    os.makedirs(os.path.join(work, "p"))
    t = time.time()
    subprocess.run(["photorec", "/log", "/d", os.path.join(work, "p", "out"), "/cmd", img,
                    "options,paranoid,fileopt,everything,enable,search"],
                   capture_output=True, cwd=work)
    tp = time.time() - t
    p = [f for f in glob.glob(os.path.join(work, "p", "out*", "*")) if not f.endswith(".xml")]
    print(f"64 MiB of random bytes, 30 text files (seed {a.seed}):")
    for name, files, secs in (("dredge carve", d, td), ("photorec", p, tp)):
        n, exact = score(files, want)
        print(f"  {name:13s} {secs:6.2f} s  {n:3d} outputs, {exact}/30 text files bit-exact")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
