#!/usr/bin/env bash
# Images one simulated failing drive with GNU ddrescue and with dredge, side by side,
# and prints both times and the ratio. The drive is an image served by nbdkit's
# ddrescue filter through nbdfuse, so reads of the bad ranges fail with EIO in the
# kernel. Each tool gets a fresh mount (cold page cache).
# Usage: scripts/bench-acquire.sh [SIZE_MIB] (default 1024). Needs root (FUSE).
set -euo pipefail
cd "$(dirname "$0")/.."
size_mib=${1:-1024}
bash scripts/install-tools.sh
cargo build --release --quiet
dredge=$PWD/target/release/dredge
work=$(mktemp -d /tmp/dredge-bench.XXXXXX)
trap 'fusermount3 -u "$work/mnt" 2>/dev/null || true; rm -rf "$work"' EXIT
mkdir -p "$work/mnt"
size=$((size_mib << 20))
# Dense, incompressible content, no holes.
head -c "$size" /dev/urandom > "$work/disk.img"
python3 - "$work/faults.map" "$size" <<'PY'
import sys, random
path, size = sys.argv[1], int(sys.argv[2])
r = random.Random(1)
bad = sorted({r.randrange(0, size // 4096 - 64) * 4096 for _ in range(40)})
lines = ["0x00000000     +               1"]
pos = 0
for b in bad:
    n = r.choice([4096, 8192, 65536, 1 << 20])
    if b < pos: continue
    if b > pos: lines.append(f"0x{pos:08X}  0x{b-pos:08X}  +")
    n = min(n, size - b)
    lines.append(f"0x{b:08X}  0x{n:08X}  -")
    pos = b + n
if pos < size: lines.append(f"0x{pos:08X}  0x{size-pos:08X}  +")
open(path, "w").write("\n".join(lines) + "\n")
PY

mount_disk() {
  nbdfuse "$work/mnt/disk" --command nbdkit -s --filter=ddrescue file "$work/disk.img" \
    ddrescue-mapfile="$work/faults.map" >/dev/null 2>&1 &
  for _ in $(seq 100); do [ -e "$work/mnt/disk" ] && break; sleep 0.1; done
}
umount_disk() { fusermount3 -u "$work/mnt"; sleep 0.3; }

now() { date +%s.%N; }

mount_disk
t0=$(now); ddrescue -q -f "$work/mnt/disk" "$work/gnu.img" "$work/gnu.map" || true; t1=$(now)
umount_disk
mount_disk
t2=$(now); "$dredge" --progress none acquire "$work/mnt/disk" "$work/dredge.img" >/dev/null || [ $? -eq 3 ]; t3=$(now)
umount_disk
# ddrescue hashes nothing; time sha256sum+sha1sum+md5sum on its image too, for the
# like-for-like figure (dredge's time includes all three hashes).
t4=$(now); md5sum "$work/gnu.img" >/dev/null; sha1sum "$work/gnu.img" >/dev/null; sha256sum "$work/gnu.img" >/dev/null; t5=$(now)

python3 - "$t0" "$t1" "$t2" "$t3" "$t4" "$t5" "$size" "$work" <<'PY'
import sys, subprocess
t0,t1,t2,t3,t4,t5 = map(float, sys.argv[1:7]); size = int(sys.argv[7]); w = sys.argv[8]
g, d, h = t1-t0, t3-t2, t5-t4
def rescued(m):
    out = subprocess.run(["ddrescuelog", "-t", m], capture_output=True, text=True).stdout
    return [l.strip() for l in out.splitlines() if "rescued" in l or "bad-sector" in l]
print(f"image: {size>>20} MiB with 40 bad ranges, served through nbdkit+nbdfuse")
print(f"GNU ddrescue          : {g:7.2f} s  {size/g/1e6:8.1f} MB/s   (no hashes)")
print(f"ddrescue + md5/sha1/sha256sum: {g+h:7.2f} s")
print(f"dredge acquire (+3 hashes): {d:7.2f} s  {size/d/1e6:8.1f} MB/s")
print(f"ratio ddrescue/dredge: {g/d:.2f}x  (>1 means dredge is faster)")
print(f"ratio (ddrescue+hashing)/dredge: {(g+h)/d:.2f}x")
print("ddrescue:", rescued(f"{w}/gnu.map"))
print("dredge:  ", rescued(f"{w}/dredge.img.map"))
PY
