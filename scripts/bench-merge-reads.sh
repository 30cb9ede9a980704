#!/usr/bin/env bash
# What the merge of a carving cut into ranges reads: a 48 MiB image (the
# carving ground truth repeated), ranges of 8 MiB, three shards run one after
# another, then `batch --merge 3` alone with a cold cache; its wall time and
# rchar (polled from /proc every 5 ms: a lower bound). Needs root for
# drop_caches. Usage: scripts/bench-merge-reads.sh DREDGE [DREDGE...]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/dredge-merge.XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work"
python3 - "$root/testimages/carving/ground-truth.img" <<'PY'
import sys
gt = open(sys.argv[1], 'rb').read()
h = len(gt) // 2
open('big.img', 'wb').write((gt[h:] + gt + gt + gt[:h]) * 4)
open('job.toml', 'w').write('case = "cases/all"\nexaminer = "Lab robot"\nthreads = 2\nrange_size = "8MiB"\n\n[[item]]\nimage = "big.img"\n')
PY
for b in "$@"; do
  rm -rf cases
  for k in 1 2 3; do "$b" --progress none batch job.toml --shard "$k/3" > /dev/null 2>&1 || true; done
  sync; echo 3 > /proc/sys/vm/drop_caches
  python3 - "$b" <<'PY'
import subprocess, sys, time
t = time.time()
p = subprocess.Popen([sys.argv[1], '--progress', 'none', 'batch', 'job.toml', '--merge', '3'],
                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
rchar = 0
while p.poll() is None:
    try:
        for l in open(f'/proc/{p.pid}/io'):
            if l.startswith('rchar'):
                rchar = int(l.split()[1])
    except OSError:
        pass
    time.sleep(0.005)
print(f"{sys.argv[1]}: exit {p.returncode}, merge {time.time() - t:.2f} s, rchar >= {rchar / 2**20:.1f} MiB")
PY
  echo "carved: $(du -sh cases/all/carved | cut -f1)"
done
