#!/usr/bin/env bash
# Builds the small sample shipped in testimages/sample/:
#   usb-stick.img  a 4 MiB FAT16 volume made with mkfs.fat + mtools, holding a few
#                  files, one of them deleted afterwards (for the filesystem work);
#   usb-stick.map  a GNU ddrescue mapfile of a "failed" rescue of that stick: two
#                  areas could not be read, one of them inside a file's data;
#   MANIFEST.txt   what is inside, with SHA-256 of each file.
# Needs dosfstools and mtools (installed by scripts/install-tools.sh).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out="$here/sample"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$out"
img="$out/usb-stick.img"
rm -f "$img"

export TZ=UTC MTOOLS_SKIP_CHECK=1
mkfs.fat -C -F 16 -s 1 -n EVIDENCE -i 20261126 --invariant "$img" 4096 >/dev/null

# Contents: text, a directory, and binary data large enough to span many clusters.
printf 'Meeting at the harbour, pier 4, Thursday 23:00.\nBring the documents.\n' > "$work/NOTES.TXT"
mkdir -p "$work/ledger"
for i in $(seq 1 400); do printf '%04d;2026-10-%02d;EUR;%d.00\n' "$i" $((i % 28 + 1)) $((i * 37 % 1000)); done > "$work/ledger/ACCOUNTS.CSV"
python3 -c "
import random, sys
r = random.Random(4)
sys.stdout.buffer.write(bytes(r.getrandbits(8) for _ in range(300000)))" > "$work/PHOTO.RAW"
printf 'this file is deleted after it was written\n' > "$work/DELETED.TXT"
printf 'Plan B: move the shipment to the warehouse on Friday.\n%.0s' $(seq 1 100) > "$work/secret plans.txt"
touch -d '2026-10-30 12:00:00' "$work"/*.TXT "$work"/*.RAW "$work/ledger/ACCOUNTS.CSV" "$work/secret plans.txt"

mcopy -m -i "$img" "$work/NOTES.TXT" "$work/PHOTO.RAW" "$work/DELETED.TXT" "$work/secret plans.txt" ::/
mmd -i "$img" ::/ledger
mcopy -m -i "$img" "$work/ledger/ACCOUNTS.CSV" ::/ledger/
mdel -i "$img" ::/DELETED.TXT "::/secret plans.txt"

size=$(stat -c %s "$img")
# Where PHOTO.RAW's data lies, to put a bad area inside it.
photo_off=$(python3 - "$img" <<'PY'
import sys
d = open(sys.argv[1], 'rb').read()
r = __import__('random').Random(4)
probe = bytes(r.getrandbits(8) for _ in range(64))
print(d.find(probe))
PY
)
bad1=$(( (photo_off / 512 + 40) * 512 ))   # 8 sectors inside PHOTO.RAW
bad2=$(( size - 64 * 1024 ))               # 16 KiB near the end (free space)
{
  echo "# Mapfile of a simulated partial rescue of usb-stick.img (made by make-sample.sh)"
  echo "# current_pos  current_status  current_pass"
  echo "0x00000000     +               1"
  echo "#      pos        size  status"
  printf '0x%08X  0x%08X  +\n' 0 "$bad1"
  printf '0x%08X  0x%08X  -\n' "$bad1" 4096
  printf '0x%08X  0x%08X  +\n' $((bad1 + 4096)) $((bad2 - bad1 - 4096))
  printf '0x%08X  0x%08X  -\n' "$bad2" 16384
  printf '0x%08X  0x%08X  +\n' $((bad2 + 16384)) $((size - bad2 - 16384))
} > "$out/usb-stick.map"

{
  echo "usb-stick.img: FAT16, 4 MiB, label EVIDENCE, volume id 2026-1126, made by make-sample.sh"
  echo "files (sha256  path):"
  (cd "$work" && sha256sum NOTES.TXT PHOTO.RAW ledger/ACCOUNTS.CSV)
  echo "deleted: DELETED.TXT ($(wc -c < "$work/DELETED.TXT") bytes, sha256 $(sha256sum < "$work/DELETED.TXT" | cut -d' ' -f1)); 8.3 name only, so its first letter is lost"
  echo "deleted: secret plans.txt ($(wc -c < "$work/secret plans.txt") bytes, sha256 $(sha256sum < "$work/secret plans.txt" | cut -d' ' -f1)); long name kept"
  echo "usb-stick.map: unreadable 4096 bytes at $bad1 (inside PHOTO.RAW), 16384 bytes at $bad2 (free space)"
  echo "image sha256: $(sha256sum < "$img" | cut -d' ' -f1)"
} > "$out/MANIFEST.txt"
cat "$out/MANIFEST.txt"
