#!/usr/bin/env python3
"""Runs a command with its output discarded; prints "seconds peak_rss_kib rchar".

rchar (bytes the process asked the kernel to read) is polled from /proc every
5 ms, so the last few ms of a run may be missed; peak RSS comes from wait4.
Used by the benchmark scripts so every tool is timed the same way."""
import os
import subprocess
import sys
import time

t0 = time.monotonic()
p = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
rchar = 0
while True:
    try:
        with open(f"/proc/{p.pid}/io") as f:
            for line in f:
                if line.startswith("rchar:"):
                    rchar = max(rchar, int(line.split()[1]))
    except OSError:
        pass
    pid, status, ru = os.wait4(p.pid, os.WNOHANG)
    if pid:
        break
    time.sleep(0.005)
print(f"{time.monotonic() - t0:.3f} {ru.ru_maxrss} {rchar}")
