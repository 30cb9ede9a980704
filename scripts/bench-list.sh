#!/usr/bin/env bash
# Lists a filesystem of >= 100 000 files with The Sleuth Kit's `fls -r -p` and with
# `dredge list`, side by side in one run, and prints both times and the ratio.
# The ext4 image is made with `mkfs.ext4 -d` (no mount needed). Each tool runs three
# times; the best time counts (page cache warm for both).
# Usage: scripts/bench-list.sh [FILES]   (default 100000)
. "$(dirname "$0")/bench-common.sh" list
files=${1:-100000}
dredge=$d
bash scripts/make-many-files-ext4.sh "$files" "$work/ext4.img"

best() {  # best wall time of three runs of a command, output discarded
  local best=999999
  for _ in 1 2 3; do
    local t0 t1
    t0=$(date +%s.%N); "$@" > "$work/out.txt"; t1=$(date +%s.%N)
    best=$(python3 -c "print(min($best, $t1 - $t0))")
  done
  echo "$best"
}
t_fls=$(best fls -r -p "$work/ext4.img")
n_fls=$(grep -c . "$work/out.txt" || true)
t_dr=$(best "$dredge" list "$work/ext4.img")
n_dr=$(grep -c . "$work/out.txt" || true)
python3 - "$t_fls" "$t_dr" "$n_fls" "$n_dr" "$files" <<'PY'
import sys
tf, td, nf, nd, n = float(sys.argv[1]), float(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
print(f"ext4 with {n} files (+ directories)")
print(f"  fls -r -p    : {tf:7.3f} s  ({nf} lines)")
print(f"  dredge list  : {td:7.3f} s  ({nd} lines)")
print(f"  ratio fls/dredge: {tf/td:.2f}x  (>1 means dredge is faster)")
PY
