#!/usr/bin/env python3
"""FAT under metadata damage: how many files come back bit-exact (issue 14).

Builds a FAT stick image (default 16 MiB FAT16, 40 files of 512 B to 512 KiB
in the root and three folders, made by mkfs.fat and mcopy), then for each case
changes 1 to 64 random bytes at random places in the first MiB (boot sector,
FATs, root directory and the first files' data) and recovers it with
`dredge recover` and with `tsk_recover -e`, in the same run. A file counts as
recovered when a recovered file (not carved) has its exact content.

Damage that lands on a file's own data destroys it for every tool; the
"ceiling" column counts the files none of whose bytes changed, the most any
tool could return.

usage: bench-fat-damage.py [--cases N] [--seed S] [--fat 16|32] [--dredge PATH]
"""
import argparse
import hashlib
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile

MIB = 1 << 20


def sha(b):
    return hashlib.sha256(b).hexdigest()


def make_image(work, fat, size, nfiles, rng, sizes):
    img = os.path.join(work, "clean.img")
    with open(img, "wb") as f:
        f.truncate(size)
    args = ["mkfs.fat", "-F", str(fat)]
    if fat == 32:
        # A small FAT32 (as on many phones' cards): 512-byte clusters.
        args += ["-s", "1"]
    subprocess.run(args + [img], check=True, capture_output=True)
    src = os.path.join(work, "src")
    os.makedirs(src)
    folders = ["", "DCIM", "Documents", "Documents/old"]
    for d in folders[1:]:
        os.makedirs(os.path.join(src, d))
    originals = {}
    for i in range(nfiles):
        n = int(2 ** rng.uniform(*sizes))
        data = bytes(rng.getrandbits(8) for _ in range(n))
        rel = os.path.join(folders[i % len(folders)], f"file{i:02d}.bin")
        with open(os.path.join(src, rel), "wb") as f:
            f.write(data)
        originals[rel] = data
    for entry in sorted(os.listdir(src)):
        subprocess.run(["mcopy", "-s", "-i", img, os.path.join(src, entry), "::"],
                       check=True, capture_output=True)
    return img, originals


def dredge_hashes(dredge, img, work):
    case = os.path.join(work, "case")
    shutil.rmtree(case, ignore_errors=True)
    subprocess.run([dredge, "--progress", "none", "recover", img, "--out", case],
                   capture_output=True, timeout=600)
    out = subprocess.run([dredge, "--progress", "json", "ls", case],
                         capture_output=True, text=True, timeout=600).stdout
    got = set()
    for line in out.splitlines():
        try:
            a = json.loads(line)
        except ValueError:
            continue
        if a.get("kind") == "file" and a.get("origin") != "carved" and a.get("sha256"):
            got.add(a["sha256"])
    shutil.rmtree(case, ignore_errors=True)
    return got


def tsk_hashes(img, work):
    out = os.path.join(work, "tsk")
    shutil.rmtree(out, ignore_errors=True)
    subprocess.run(["tsk_recover", "-e", img, out], capture_output=True, timeout=600)
    got = set()
    for root, _, files in os.walk(out):
        for f in files:
            with open(os.path.join(root, f), "rb") as fh:
                got.add(sha(fh.read()))
    shutil.rmtree(out, ignore_errors=True)
    return got


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", type=int, default=100)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--fat", type=int, default=16, choices=[16, 32])
    ap.add_argument("--size-mib", type=int, default=16)
    ap.add_argument("--files", type=int, default=40)
    ap.add_argument("--dredge", default="target/release/dredge")
    ap.add_argument("--region-kib", type=int, default=1024,
                    help="damage lands in the first this many KiB")
    ap.add_argument("--log2-sizes", default="9,19",
                    help="file sizes are 2^x bytes, x uniform in this range")
    ap.add_argument("--verbose", action="store_true")
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="dredge-fat-damage-")
    rng = random.Random(a.seed)
    sizes = tuple(float(x) for x in a.log2_sizes.split(","))
    img, originals = make_image(work, a.fat, a.size_mib * MIB, a.files, rng, sizes)
    region = a.region_kib * 1024
    clean = open(img, "rb").read()
    want = {rel: sha(d) for rel, d in originals.items()}
    # Where each file's bytes lie (mcopy writes a fresh stick contiguously).
    place = {rel: clean.find(d) for rel, d in originals.items()}
    total = {"dredge": 0, "tsk": 0, "ceiling": 0}
    n = len(originals)
    for case in range(a.cases):
        r = random.Random(a.seed * 1_000_003 + case)
        buf = bytearray(clean)
        hit = []
        for _ in range(r.randint(1, 64)):
            at = r.randrange(region)
            v = r.getrandbits(8)
            if buf[at] != v:
                hit.append(at)
            buf[at] = v
        bad = os.path.join(work, f"bad.img")
        with open(bad, "wb") as f:
            f.write(buf)
        intact = sum(1 for rel, d in originals.items()
                     if place[rel] < 0 or not any(place[rel] <= h < place[rel] + len(d) for h in hit))
        d = dredge_hashes(a.dredge, bad, work)
        t = tsk_hashes(bad, work)
        dn = sum(1 for h in want.values() if h in d)
        tn = sum(1 for h in want.values() if h in t)
        total["dredge"] += dn
        total["tsk"] += tn
        total["ceiling"] += intact
        if a.verbose or dn < intact:
            if dn < intact:
                keep = os.path.join(work, "..", f"fat-damage-case{case}.img")
                shutil.copy(bad, keep)
            print(f"case {case}: {len(hit)} bytes changed; dredge {dn}/{n}, tsk {tn}/{n}, ceiling {intact}/{n}",
                  flush=True)
    shutil.rmtree(work, ignore_errors=True)
    all_files = a.cases * n
    print(f"FAT{a.fat}, {a.size_mib} MiB, {n} files, {a.cases} cases (seed {a.seed}), "
          f"1-64 random bytes in the first {a.region_kib} KiB, file sizes 2^({a.log2_sizes}):")
    for k in ("dredge", "tsk", "ceiling"):
        name = {"dredge": "dredge recover", "tsk": "tsk_recover -e",
                "ceiling": "ceiling (files whose bytes were untouched)"}[k]
        print(f"  {name:45s} {100 * total[k] / all_files:6.2f} % bit-exact")


if __name__ == "__main__":
    sys.exit(main())
