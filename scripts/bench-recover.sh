#!/usr/bin/env bash
# Files, end to end: `dredge recover IMAGE --out DIR` (case, registration with
# MD5+SHA-1+SHA-256, every file extracted and hashed, free space carved, store
# written) against `tsk_recover -e` (extraction only: no hashes, no carving, no
# store) on an ext4 image of FILES small files (scripts/make-many-files-ext4.sh),
# with `dredge list` against `fls -r -p`. Warm page cache, best of two runs each;
# peak RSS from /usr/bin/time; bytes read as each process's rchar (polled from
# /proc) and, for dredge, its own count.
# Usage: scripts/bench-recover.sh [FILES]   (default 100000)
set -euo pipefail
cd "$(dirname "$0")/.."
files=${1:-100000}
bash scripts/install-tools.sh
cargo build --release --quiet
d=${CARGO_TARGET_DIR:-$PWD/target}/release/dredge
timed=$PWD/scripts/timed.py
work=$(mktemp -d /tmp/dredge-bench-recover.XXXXXX)
trap 'rm -rf "$work"' EXIT
bash scripts/make-many-files-ext4.sh "$files" "$work/ext4.img"
img="$work/ext4.img"
# Outputs go to a fresh ext4 (loop-mounted, as root): ext4 makes creating files
# slow for minutes after many were deleted (`recently_deleted`), which would
# penalise whichever tool ran after a cleanup. Elsewhere they go to $work.
out="$work"
if [[ $(id -u) == 0 ]]; then
  truncate -s $(( files / 1000 * 80 + 4096 ))M "$work/out.fs"
  # Inodes for six sets of copies: two each of tsk_recover, recover and the floor.
  mkfs.ext4 -q -F -N $(( files * 7 + 100000 )) "$work/out.fs"
  mkdir -p "$work/out"
  if mount -o loop "$work/out.fs" "$work/out" 2>/dev/null; then
    out="$work/out"
    trap 'umount "$work/out"; rm -rf "$work"' EXIT
  fi
fi
cc -O2 -o "$work/create-floor" scripts/create-floor.c
cat "$img" > /dev/null
for round in 1 2; do
  # The floors: one digest of the image (md5sum), and creating as many small
  # copies in the same output filesystem with nothing else (create-floor).
  echo "md5sum $(python3 "$timed" md5sum "$img")" >> "$work/runs"
  mkdir "$out/floor$round"
  echo "create-floor $("$work/create-floor" "$out/floor$round" "$files") 0 0" >> "$work/runs"
  echo "tsk_recover $(python3 "$timed" tsk_recover -e "$img" "$out/tsk$round")" >> "$work/runs"
  echo "recover $(python3 "$timed" "$d" --progress none recover "$img" --out "$out/case$round")" >> "$work/runs"
  echo "fls $(python3 "$timed" fls -r -p "$img")" >> "$work/runs"
  echo "list $(python3 "$timed" "$d" list "$img")" >> "$work/runs"
done
reads=$(sqlite3 "$out/case1/case.sqlite" "SELECT params FROM custody WHERE action = 'scan.evidence'" | python3 -c "import json,sys; r=json.load(sys.stdin)['read']; print(r['pass_bytes'], r['other_bytes'], r['image_bytes'])")
n=$(sqlite3 "$out/case1/case.sqlite" "SELECT COUNT(*) FROM artifacts WHERE extracted IS NOT NULL")
python3 - "$work/runs" "$files" "$n" $reads <<'PY'
import sys
runs, files, n = sys.argv[1], sys.argv[2], sys.argv[3]
sp, so, size = map(int, sys.argv[4:7])
best = {}
for line in open(runs):
    name, t, rss, r = line.split()
    t, rss, r = float(t), int(rss), int(r)
    if name not in best or t < best[name][0]:
        best[name] = (t, max(rss, best.get(name, (0, 0, 0))[1]), r)
    else:
        best[name] = (best[name][0], max(rss, best[name][1]), r)
print(f"ext4 with {files} files ({size/2**20:.0f} MiB image); dredge recover extracted {n} files")
print(f"{'':12} {'time (best of 2)':>16} {'peak RSS':>10} {'rchar':>12}")
for k in ["tsk_recover", "recover", "fls", "list", "md5sum", "create-floor"]:
    t, rss, r = best[k]
    print(f"{k:12} {t:14.2f} s {rss/1024:8.0f} MiB {r/size:10.2f}x")
print(f"dredge recover's own count: the pass {sp/size:.2f}x the image, other reads "
      f"(metadata) {so/2**20:.1f} MiB")
print(f"floors: md5sum of the image {best['md5sum'][0]:.2f} s, creating {files} small files "
      f"alone {best['create-floor'][0]:.2f} s (no RSS or rchar measured for it)")
print(f"ratios: recover/tsk_recover time {best['recover'][0]/best['tsk_recover'][0]:.2f}x (target <= 1), "
      f"list/fls time {best['list'][0]/best['fls'][0]:.2f}x")
PY
