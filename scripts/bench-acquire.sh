#!/usr/bin/env bash
# Images simulated failing drives with GNU ddrescue and with dredge, side by side,
# one fault layout after another, and prints for each: both wall times, the
# number of read requests each tool issued to the drive, and the bytes each
# rescued. The drive is an image served by nbdkit (ddrescue filter: reads of the
# bad ranges fail with EIO; log filter: every request the drive receives is
# counted) through nbdfuse. Each tool gets a fresh mount.
#
# Layouts: scattered single bad sectors; a few large clustered bad ranges; many
# small bad ranges; a slow drive (nbdkit delay filter, every read 2 ms late) with
# a few bad ranges.
#
# dredge's time includes MD5 + SHA-1 + SHA-256 of the image and the mapfile;
# ddrescue computes no hash (the "+hash" column adds md5sum, sha1sum and
# sha256sum of its image, run one after the other, for the like-for-like figure).
# Usage: scripts/bench-acquire.sh [SIZE_MIB] (default 256). Needs root (FUSE).
# LAYOUTS="slow scattered" runs only those layouts.
set -euo pipefail
cd "$(dirname "$0")/.."
size_mib=${1:-256}
bash scripts/install-tools.sh
[ -n "${DREDGE_BIN:-}" ] || cargo build --release --quiet
dredge=${DREDGE_BIN:-${CARGO_TARGET_DIR:-$PWD/target}/release/dredge}
work=$(mktemp -d /tmp/dredge-bench-acq.XXXXXX)
trap 'fusermount3 -u "$work/mnt" 2>/dev/null || true; rm -rf "$work"' EXIT
mkdir -p "$work/mnt"
size=$((size_mib << 20))
# Dense, incompressible content, no holes.
head -c "$size" /dev/urandom > "$work/disk.img"

faults() { # layout -> $work/faults.map (GNU ddrescue mapfile: - marks bad)
  python3 - "$work/faults.map" "$size" "$1" <<'PY'
import sys, random
path, size, layout = sys.argv[1], int(sys.argv[2]), sys.argv[3]
r = random.Random(7)
def pick(n, lens, align):
    return [(r.randrange(0, (size - (1 << 21)) // align) * align, r.choice(lens)) for _ in range(n)]
bad = {
    "scattered": lambda: pick(200, [512], 512),
    "clustered": lambda: pick(3, [4 << 20, 6 << 20, 8 << 20], 1 << 20),
    "many-small": lambda: pick(400, [4096, 8192, 16384, 65536], 4096),
    "slow": lambda: pick(10, [4096, 65536], 4096),
}[layout]()
lines, pos = ["0x00000000     +               1"], 0
for b, n in sorted(bad):
    if b < pos:
        continue
    if b > pos:
        lines.append(f"0x{pos:08X}  0x{b-pos:08X}  +")
    lines.append(f"0x{b:08X}  0x{n:08X}  -")
    pos = b + n
if pos < size:
    lines.append(f"0x{pos:08X}  0x{size-pos:08X}  +")
open(path, "w").write("\n".join(lines) + "\n")
PY
}

mount_disk() { # layout, log file
  local filters=(--filter=log) params=()
  if [[ $1 == slow ]]; then filters+=(--filter=delay); params+=(rdelay=2ms); fi
  filters+=(--filter=ddrescue)
  rm -f "$2"
  # (nbdkit takes every filter's key=value after the plugin and its file)
  nbdfuse "$work/mnt/disk" --command nbdkit -s "${filters[@]}" file "$work/disk.img" \
    ddrescue-mapfile="$work/faults.map" logfile="$2" "${params[@]}" >/dev/null 2>&1 &
  for _ in $(seq 100); do [ -e "$work/mnt/disk" ] && break; sleep 0.1; done
  [ -e "$work/mnt/disk" ] || { echo "nbdfuse did not come up ($1)" >&2; exit 1; }
}
umount_disk() { fusermount3 -u "$work/mnt"; sleep 0.3; }
now() { date +%s.%N; }
reads() { grep -c ' Read ' "$1" || true; }
rescued() { ddrescuelog -t "$1" | awk '/rescued:/ {sub(",", "", $3); print $2 $3; exit}'; }

printf '%s MiB drive, nbdkit+nbdfuse, 2 cores\n' "$size_mib"
printf '%-11s %10s %10s %10s %7s %10s %10s %12s %12s\n' layout ddrescue +hash dredge ratio \
  'reads gnu' 'reads dr' 'rescued gnu' 'rescued dr'
for layout in ${LAYOUTS:-scattered clustered many-small slow}; do
  faults "$layout"
  rm -f "$work"/gnu.img* "$work"/dredge.img*
  # Each tool starts with no dirty pages left by the one before (the images are
  # written to disk; an earlier run's writeback would slow the next one).
  sync
  mount_disk "$layout" "$work/gnu.log"
  t0=$(now); ddrescue -q -f "$work/mnt/disk" "$work/gnu.img" "$work/gnu.img.map" || true; t1=$(now)
  umount_disk
  sync
  mount_disk "$layout" "$work/dredge.log"
  t2=$(now); "$dredge" --progress none acquire "$work/mnt/disk" "$work/dredge.img" >/dev/null || [ $? -eq 3 ]; t3=$(now)
  umount_disk
  t4=$(now); md5sum "$work/gnu.img" >/dev/null; sha1sum "$work/gnu.img" >/dev/null; sha256sum "$work/gnu.img" >/dev/null; t5=$(now)
  same=$(cmp -s "$work/gnu.img" "$work/dredge.img" && echo "images equal" || echo "IMAGES DIFFER")
  python3 - "$layout" "$t0" "$t1" "$t2" "$t3" "$t4" "$t5" "$(reads "$work/gnu.log")" "$(reads "$work/dredge.log")" \
    "$(rescued "$work/gnu.img.map")" "$(rescued "$work/dredge.img.map")" "$same" <<'PY'
import sys
layout = sys.argv[1]
t0, t1, t2, t3, t4, t5 = map(float, sys.argv[2:8])
g, d, h = t1 - t0, t3 - t2, t5 - t4
rg, rd, sg, sd, same = sys.argv[8:13]
print(f"{layout:<11} {g:9.2f}s {g+h:9.2f}s {d:9.2f}s {g/d:6.2f}x {rg:>10} {rd:>10} {sg:>12} {sd:>12}  {same}")
PY
done
echo "ratio = ddrescue time / dredge time (> 1: dredge faster, with its three hashes)"
