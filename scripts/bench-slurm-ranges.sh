#!/usr/bin/env bash
# One large image whose carving a sharded run cuts into byte ranges
# (`range_size`, issue 16): the Slurm recipe with 1, 2 and 4 shards at once
# against one `dredge batch` of the same job, end to end (registration with
# three digests, the pass, the ranges' carving, the store, the merge with its
# checks and copies, the CSV report). Warm cache, then cold (page cache dropped
# before each run). Usage: scripts/bench-slurm-ranges.sh [WORKDIR] (default
# /tmp/bench-slurm-ranges); DREDGE (default target/release/dredge); SIZE_MIB
# (default 1024); RANGE (default 256MiB).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
work=${1:-/tmp/bench-slurm-ranges}
dredge=$(realpath "${DREDGE:-$repo/target/release/dredge}")
size_mib=${SIZE_MIB:-1024}
range=${RANGE:-256MiB}
bash "$repo/deploy/slurm/local-cluster.sh" >/dev/null
mkdir -p "$work"
cd "$work"
# Random bytes with the carving ground truth (JPEG, PNG, PDF, ZIP, … 4 MiB)
# every 32 MiB, at odd offsets so files cross the range boundaries.
if [ ! -f big.img ]; then
    python3 - "$repo/testimages/carving/ground-truth.img" "$size_mib" <<'PY'
import random, sys
gt = open(sys.argv[1], "rb").read()
size = int(sys.argv[2]) << 20
r = random.Random(16)
with open("big.img", "wb") as f:
    at = 0
    while at < size:
        chunk = bytearray(r.randbytes(32 << 20))
        off = (at // (32 << 20) * 7919 * 512) % (28 << 20)
        chunk[off:off + len(gt)] = gt
        f.write(chunk[: size - at])
        at += len(chunk)
PY
fi
cat > job.toml <<EOT
case = "cases/all"
examiner = "bench"
threads = 1
reports = ["csv"]
range_size = "$range"
[[item]]
image = "big.img"
EOT
t() { local s e; s=$(date +%s.%N); "$@" > /dev/null 2>&1; e=$(date +%s.%N); echo "$e - $s" | bc; }
for cache in warm cold; do
    prep() { if [ "$cache" = cold ]; then sync; echo 3 > /proc/sys/vm/drop_caches; else cat big.img > /dev/null; fi; }
    rm -rf cases cases.single
    prep
    single=$(t "$dredge" batch job.toml)
    mv cases cases.single
    echo "[$cache] dredge batch (one process, threads = 1): ${single} s"
    for n in 1 2 4; do
        rm -rf cases dredge-*.out
        prep
        s=$(t env DREDGE="$dredge" DREDGE_SHARD_LOGS="$work" sbatch --wait "$repo/deploy/slurm/dredge-array.sbatch" job.toml "$n")
        [ -f cases/all/case.sqlite ] || { echo "no merged case for $n shards" >&2; exit 1; }
        a=$(sqlite3 cases.single/all/case.sqlite "select count(*), sum(size) from artifacts where origin = 'carved'")
        b=$(sqlite3 cases/all/case.sqlite "select count(*), sum(size) from artifacts where origin = 'carved'")
        echo "[$cache] slurm, $n shard(s) at once (sbatch --wait, merge and report included): ${s} s, speed-up $(echo "scale=2; $single / $s" | bc)x; carved single $a, merged $b"
        echo "   driver: $(grep -h '^dredge: shards ended\|^dredge: merge' dredge-driver-*.out | tr '\n' ' ')"
    done
    prep
    echo "[$cache] md5sum: $(t md5sum big.img) s; cat: $(prep; t cat big.img) s"
done
echo "machine: $(nproc) cores"
