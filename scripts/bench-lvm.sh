#!/usr/bin/env bash
# An LVM disk (scripts/make-lvm-disk.sh) recovered end to end by `dredge
# recover` (registration with three digests, the pass, extraction, carving,
# the store) and by `tsk_recover -e`, in the same run, cold cache then warm.
# Prints wall time, files recovered and dredge's pass count.
#   [ROOT_MIB=16] scripts/bench-lvm.sh [DREDGE...]   (default: target/release/dredge)
set -euo pipefail
cd "$(dirname "$0")/.."
bins=("$@")
[ ${#bins[@]} -gt 0 ] || bins=(target/release/dredge)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
img=$work/lvm.img
scripts/make-lvm-disk.sh "$img" >/dev/null 2>&1
cold() { sync; echo 3 >/proc/sys/vm/drop_caches; }
t() { local s e; s=$(date +%s.%N); "$@" >/dev/null 2>&1 || true; e=$(date +%s.%N); echo "$e - $s" | bc; }
for cache in cold warm; do
  for b in "${bins[@]}"; do
    rm -rf "$work/case"
    [ $cache = cold ] && cold
    secs=$(t "$b" --progress none recover "$img" --out "$work/case")
    files=$(find "$work/case/files" -type f | wc -l)
    passes=$(sqlite3 "$work/case/case.sqlite" "SELECT params FROM custody WHERE action = 'scan.evidence'" |
      python3 -c 'import json,sys; r=json.load(sys.stdin)["read"]; print("%.2f" % (r["pass_bytes"]/r["image_bytes"]))')
    echo "$cache  $b  ${secs}s  files $files  passes $passes"
  done
  rm -rf "$work/tsk"
  [ $cache = cold ] && cold
  secs=$(t tsk_recover -e "$img" "$work/tsk")
  files=$( [ -d "$work/tsk" ] && find "$work/tsk" -type f | wc -l || echo 0)
  echo "$cache  tsk_recover -e  ${secs}s  files $files"
done
