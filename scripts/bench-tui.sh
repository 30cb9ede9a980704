#!/usr/bin/env bash
# The TUI on a large case: an ext4 image of FILES small files (default 100 000) is
# recovered into a case, then tui/examples/frames.rs times opening it and each thing
# a technician does (screens, moves, every typed search character, sorts, filters,
# the tree), one frame each, drawn at 160x50, and prints the peak RSS. Bars: no frame
# over 100 ms (the TUI issue); at 1 000 000 files the first frame within 1 s and peak
# RSS under 256 MiB (issue 18).
# Usage: scripts/bench-tui.sh [FILES]
set -euo pipefail
cd "$(dirname "$0")/.."
files=${1:-100000}
cargo build --release --quiet
cargo build --release --quiet -p dredge-tui --example frames
work=$(mktemp -d /tmp/dredge-bench-tui.XXXXXX)
trap 'rm -rf "$work"' EXIT
bash scripts/make-many-files-ext4.sh "$files" "$work/many.img" >/dev/null
"${CARGO_TARGET_DIR:-target}"/release/dredge --progress none recover "$work/many.img" --out "$work/case" --carve none >/dev/null
/usr/bin/time -f "peak RSS %M KiB, wall %e s (frames, whole run)" \
    "${CARGO_TARGET_DIR:-target}"/release/examples/frames "$work/case"
