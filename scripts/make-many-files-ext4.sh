#!/usr/bin/env bash
# Writes an ext4 image holding FILES small files in 500-file directories (made with
# `mkfs.ext4 -d`, no mount needed), for the listing and report benchmarks.
# Usage: scripts/make-many-files-ext4.sh FILES IMAGE
set -euo pipefail
files=$1 image=$2
tree=$(mktemp -d "${TMPDIR:-/tmp}/dredge-tree.XXXXXX")
trap 'rm -rf "$tree"' EXIT
python3 - "$tree" "$files" <<'PY'
import os, sys
root, n = sys.argv[1], int(sys.argv[2])
per_dir = 500
for i in range(n):
    d = os.path.join(root, f"d{i // per_dir // 50:03d}", f"s{i // per_dir:05d}")
    if i % per_dir == 0:
        os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, f"file-{i:07d}.txt"), "w") as f:
        f.write(f"{i}\n")
PY
mb=$(( files / 100 + 64 ))
mkfs.ext4 -q -F -N $(( files + 20000 )) -d "$tree" "$image" "${mb}M"
