#!/usr/bin/env bash
# dredge's main job on the sample shipped in testimages/sample: a USB stick image
# whose rescue left two unreadable areas (described by a GNU ddrescue mapfile).
# Creates a case, registers the image with its mapfile (hashes it, records every
# unreadable range), verifies the custody chain and hashes, and prints the log.
# Usage: scripts/demo.sh [OUTPUT_DIR]   (default: target/demo)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-target/demo}
cargo build --release --quiet
dredge=target/release/dredge
rm -rf "$out"
mkdir -p "$out"
sample=testimages/sample

echo "== dredge case new"
$dredge case new "$out/case" --examiner "Demo Examiner" --case-number DEMO-1 \
  --description "sample USB stick from testimages/sample"

echo; echo "== dredge add (image + ddrescue mapfile)"
set +e
$dredge add "$out/case" "$sample/usb-stick.img" --map "$sample/usb-stick.map"
rc=$?
set -e
echo "(exit code $rc: 3 = complete, with unreadable bytes recorded)"
[ "$rc" -eq 3 ] || exit "$rc"

echo; echo "== dredge acquire (image the stick again into the case; a healthy copy)"
$dredge acquire "$sample/usb-stick.img" "$out/usb-stick-copy.img" --case "$out/case"

echo; echo "== dredge verify"
$dredge verify "$out/case"

echo; echo "== dredge case show"
$dredge case show "$out/case"

echo; echo "== dredge log"
$dredge log "$out/case"
