#!/usr/bin/env bash
# Reads one best-compressed E01 with `ewfexport` (to a raw file, MD5 computed) and with
# `dredge add` (MD5 + SHA-1 + SHA-256 computed, nothing written), side by side, and
# prints both times and the ratio. Content: half random, half text (compressible),
# no long zero runs.
# Usage: scripts/bench-e01.sh [SIZE_MIB]   (default 1024)
set -euo pipefail
cd "$(dirname "$0")/.."
mib=${1:-1024}
bash scripts/install-tools.sh
cargo build --release --quiet
dredge=${CARGO_TARGET_DIR:-$PWD/target}/release/dredge
work=$(mktemp -d /tmp/dredge-bench-e01.XXXXXX)
trap 'rm -rf "$work"' EXIT
python3 - "$work/media.raw" "$mib" <<'PY'
import os, sys, random
path, mib = sys.argv[1], int(sys.argv[2])
r = random.Random(3)
words = [b"evidence", b"chain", b"custody", b"sector", b"cluster", b"examiner", b"court", b"report"]
with open(path, "wb") as f:
    for i in range(mib):
        if i % 2 == 0:
            f.write(os.urandom(1 << 20))
        else:
            f.write(b" ".join(r.choice(words) for _ in range(200000))[: 1 << 20].ljust(1 << 20, b"."))
PY
ewfacquire -u -c best -b 64 -S 4GiB -f encase6 -t "$work/media" -C bench -e bench "$work/media.raw" >/dev/null
rm "$work/media.raw"
now() { date +%s.%N; }
t0=$(now); ewfexport -u -f raw -t "$work/export" "$work/media.E01" >/dev/null; t1=$(now)
rm -f "$work/export.raw"
"$dredge" case new "$work/case" --examiner bench >/dev/null
t2=$(now); "$dredge" --progress none add "$work/case" "$work/media.E01" >/dev/null; t3=$(now)
python3 - "$t0" "$t1" "$t2" "$t3" "$mib" <<'PY'
import sys
t0, t1, t2, t3, mib = map(float, sys.argv[1:])
e, d = t1 - t0, t3 - t2
print(f"best-compressed E01 of {int(mib)} MiB")
print(f"  ewfexport -f raw (MD5)        : {e:7.2f} s  {mib/e:7.1f} MiB/s")
print(f"  dredge add (MD5+SHA-1+SHA-256): {d:7.2f} s  {mib/d:7.1f} MiB/s")
print(f"  ratio ewfexport/dredge: {e/d:.2f}x  (>1 means dredge is faster)")
PY
