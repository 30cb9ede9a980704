#!/usr/bin/env bash
# dredge's main job on the sample shipped in testimages/sample: a 4 MiB FAT16 USB
# stick whose rescue left two unreadable areas (described by a GNU ddrescue mapfile).
# `dredge recover` creates a case, registers the image with its mapfile (hashing it
# and recording every unreadable range), finds the volume and filesystem, and
# recovers every allocated and deleted file, extracted and hashed, each knowing
# which of its bytes could not be read. Then: list, verify, reports, custody log.
# Usage: scripts/demo.sh [OUTPUT_DIR]   (default: target/demo)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-target/demo}
# CI sets DREDGE_PROFILE=debug to reuse the test build instead of a second, release one.
if [ "${DREDGE_PROFILE:-release}" = debug ]; then
  cargo build --quiet
  dredge=target/debug/dredge
else
  cargo build --release --quiet
  dredge=target/release/dredge
fi
rm -rf "$out"
sample=testimages/sample

echo "== dredge recover (image + ddrescue mapfile)"
set +e
$dredge recover "$sample/usb-stick.img" --map "$sample/usb-stick.map" --out "$out/case" \
  --examiner "Demo Examiner" --case-number DEMO-1
rc=$?
set -e
echo "(exit code $rc: 3 = complete, with unreadable bytes recorded)"
[ "$rc" -eq 3 ] || exit "$rc"

echo; echo "== dredge ls --long (deleted entries marked *; size, status, SHA-256)"
$dredge ls --long "$out/case"

echo; echo "== where PHOTO.RAW could not be read"
$dredge --progress json ls "$out/case" /PHOTO.RAW | python3 -c '
import json, sys
a = json.loads(sys.stdin.readline())
for g in a["gaps"]:
    end = g["file_offset"] + g["len"]
    print("  %s: bytes %d..%d unreadable (%s)" % (a["path"], g["file_offset"], end, g["why"]))'

echo; echo "== dredge verify"
$dredge verify "$out/case"

echo; echo "== dredge report: the court's HTML and PDF/A, and DFXML (SHA-256 of each, also in the custody log)"
for f in html pdf dfxml; do
  $dredge report "$out/case" --format "$f" --out "$out/report.$f"
done

echo; echo "== dredge log"
$dredge log "$out/case" | cut -c1-160
