#!/usr/bin/env bash
# Carving throughput: a dense image (random data, text, and the ground-truth files
# repeated; no long zero runs, so nothing is skipped for free) carved by PhotoRec
# (every format) and by dredge (every format, every output hashed), side by side.
# Usage: scripts/bench-carve.sh [SIZE_MIB]   (default 2048)
set -euo pipefail
cd "$(dirname "$0")/.."
mib=${1:-2048}
bash scripts/install-tools.sh
cargo build --release --quiet
work=$(mktemp -d /tmp/dredge-bench-carve.XXXXXX)
trap 'rm -rf "$work"' EXIT
python3 - "$work/dense.img" "$mib" testimages/carving/ground-truth.img <<'PY'
import os, random, sys
path, mib, gt = sys.argv[1], int(sys.argv[2]), open(sys.argv[3], "rb").read()
r = random.Random(5)
words = [b"evidence", b"ledger", b"harbour", b"shipment", b"custody", b"invoice"]
text = b" ".join(r.choice(words) for _ in range(300000))[: 1 << 20]
with open(path, "wb") as f:
    for i in range(mib):
        k = i % 8
        f.write(gt[(i % 4) << 20:((i % 4) + 1) << 20] if k == 0 else text if k in (1, 2) else os.urandom(1 << 20))
PY
now() { date +%s.%N; }
mkdir -p "$work/pr"
t0=$(now)
(cd "$work/pr" && photorec /log /d "$work/pr/out" /cmd "$work/dense.img" partition_none,fileopt,everything,enable,search >/dev/null 2>&1) || true
t1=$(now)
rm -rf "$work/pr"
d=target/release/dredge
$d case new "$work/case" --examiner bench >/dev/null
$d --progress none add "$work/case" "$work/dense.img" >/dev/null || true
t2=$(now)
/usr/bin/time -f "%M" -o "$work/mem" $d --progress none scan --no-rehash --carve all --no-filesystems "$work/case" >/dev/null || true
t3=$(now)
python3 - "$t0" "$t1" "$t2" "$t3" "$mib" "$(tail -n 1 "$work/mem")" <<'PY'
import sys
t0, t1, t2, t3, mib, mem = map(float, sys.argv[1:7])
p, reg, c = t1 - t0, t2 - t1, t3 - t2
print(f"dense image of {int(mib)} MiB, every format")
print(f"  PhotoRec                          : {p:7.2f} s  {mib/p:7.1f} MiB/s")
print(f"  dredge carving (outputs hashed)   : {c:7.2f} s  {mib/c:7.1f} MiB/s  peak RSS {mem/1024:.0f} MiB")
print(f"  dredge + registering the evidence : {reg + c:7.2f} s  (MD5+SHA-1+SHA-256 of the whole image first)")
print(f"  throughput ratio dredge/PhotoRec: {p/c:.2f}x carving, {p/(reg+c):.2f}x with registration")
PY
