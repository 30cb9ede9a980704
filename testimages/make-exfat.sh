#!/usr/bin/env bash
# Builds testimages/exfat/small.img: a 2 MiB exFAT volume (mkfs.exfat) written through
# exfat-fuse on a loop device, with a directory, files, and two deleted files.
# Needs root, exfatprogs and exfat-fuse (scripts/install-tools.sh).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
img="$here/exfat/small.img"
mnt=$(mktemp -d)
rm -f "$img"
truncate -s 2M "$img"
mkfs.exfat -b 4096 -c 4096 -L SMALLEX "$img" >/dev/null
loop=$(losetup -f --show "$img")
trap 'umount "$mnt" 2>/dev/null || true; losetup -d "$loop" 2>/dev/null || true; rmdir "$mnt"' EXIT
mount.exfat-fuse "$loop" "$mnt" >/dev/null 2>&1
mkdir "$mnt/docs"
python3 - "$mnt" <<'PY'
import random, sys
m = sys.argv[1]
r = random.Random(7)
for i in range(4):
    open(f"{m}/docs/part {i}.bin", "wb").write(bytes(r.getrandbits(8) for _ in range(20000 + 7000 * i)))
open(f"{m}/notes.txt", "w").write("exFAT test volume\n" * 50)
PY
(cd "$mnt" && sha256sum docs/* notes.txt) > "$here/exfat/MANIFEST.txt"
sync
rm "$mnt/docs/part 1.bin" "$mnt/docs/part 3.bin"
echo "deleted: docs/part 1.bin docs/part 3.bin" >> "$here/exfat/MANIFEST.txt"
umount "$mnt"
