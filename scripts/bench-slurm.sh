#!/usr/bin/env bash
# The Slurm recipe with 1, 2 and 4 shards against one `dredge batch` of the same
# job, end to end (registration, hashing, extraction, carving, store, merge and
# reports all included), on the one-node cluster (deploy/slurm/local-cluster.sh).
# Usage: scripts/bench-slurm.sh [WORKDIR] (default /tmp/bench-slurm); DREDGE
# (default target/release/dredge). Prints seconds per run and the speed-up.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
work=${1:-/tmp/bench-slurm}
dredge=$(realpath "${DREDGE:-$repo/target/release/dredge}")
items=${ITEMS:-4}
size_mib=${SIZE_MIB:-256}
bash "$repo/deploy/slurm/local-cluster.sh" >/dev/null
mkdir -p "$work"
cd "$work"
# Four ext4 images, each with a tree of files (random and text) and some deleted.
for i in $(seq 1 "$items"); do
    [ -f "item$i.img" ] && continue
    rm -rf "tree$i"; mkdir -p "tree$i"
    python3 - "$i" "tree$i" "$size_mib" <<'PY'
import os, random, sys
i, root, size = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
r = random.Random(i)
budget = size * 1024 * 1024 * 6 // 10
n = 0
while budget > 0:
    d = os.path.join(root, f"d{n % 20}")
    os.makedirs(d, exist_ok=True)
    k = r.choice([4096, 65536, 1 << 20, 3 << 20])
    with open(os.path.join(d, f"f{n}.bin" if n % 3 else f"f{n}.txt"), "wb") as f:
        f.write(r.randbytes(k) if n % 3 else (b"evidence line %d\n" % n) * (k // 20))
    budget -= k
    n += 1
PY
    mkfs.ext4 -q -F -d "tree$i" "item$i.img" "${size_mib}M"
    rm -rf "tree$i"
done
{
    echo 'case = "cases/all"'
    echo 'examiner = "bench"'
    echo 'threads = 1'
    echo 'reports = ["csv"]'
    for i in $(seq 1 "$items"); do printf '[[item]]\nimage = "item%s.img"\n' "$i"; done
} > job.toml
cat item*.img > /dev/null  # warm cache for every run alike
t() { local s e; s=$(date +%s.%N); "$@" > /dev/null 2>&1; e=$(date +%s.%N); echo "$e - $s" | bc; }
rm -rf cases cases.single
single=$(t "$dredge" batch job.toml)
mv cases cases.single
echo "dredge batch (one process, items one after another): ${single} s"
for n in 1 2 4; do
    rm -rf cases dredge-*.out
    cat item*.img > /dev/null
    s=$(t env DREDGE="$dredge" DREDGE_SHARD_LOGS="$work" sbatch --wait "$repo/deploy/slurm/dredge-array.sbatch" job.toml "$n")
    [ -f cases/all/case.sqlite ] || { echo "no merged case for $n shards" >&2; exit 1; }
    echo "slurm, $n shard(s) at once (sbatch --wait, merge and reports included): ${s} s, speed-up $(echo "scale=2; $single / $s" | bc)x"
    echo "   driver: $(grep -h '^dredge: shards ended\|^dredge: merge' dredge-driver-*.out | tr '\n' ' ')"
done
echo "machine: $(nproc) cores; md5sum of all images: $(t md5sum item*.img) s"
