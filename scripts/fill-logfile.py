#!/usr/bin/env python3
"""Fills the $LogFile of an NTFS image as a busy Windows volume's would be:
the restart pages and record pages of a journal Windows wrote (SAMPLE, e.g.
testimages/external/dfir_ntfs/LogFile_10.bin.gz), its record pages repeated
to the log's end. The log's clusters come from The Sleuth Kit's istat.

usage: fill-logfile.py IMAGE SAMPLE(.gz)"""
import gzip
import subprocess
import sys

img, sample = sys.argv[1], sys.argv[2]
data = (gzip.open if sample.endswith(".gz") else open)(sample, "rb").read()
fsstat = subprocess.run(["fsstat", img], capture_output=True, text=True, check=True).stdout
cs = int(next(l.split(":")[1] for l in fsstat.splitlines() if l.startswith("Cluster Size:")))
istat = subprocess.run(["istat", img, "2"], capture_output=True, text=True, check=True).stdout
clusters = [int(c) for c in istat.split("Type: $DATA")[1].split("\n", 1)[1].split()]
size = len(clusters) * cs
pages = [data[o:o + 4096] for o in range(8192, len(data), 4096) if data[o:o + 4] == b"RCRD"]
log = bytearray(data[:8192])
while len(log) < size:
    log += pages[(len(log) // 4096 - 2) % len(pages)]
with open(img, "r+b") as f:
    for k in range(0, size, cs):
        f.seek(clusters[k // cs] * cs)
        f.write(log[k:k + cs])
print(f"{img}: $LogFile of {size} bytes filled from {len(pages)} record pages of {sample}")
