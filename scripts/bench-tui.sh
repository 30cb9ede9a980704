#!/usr/bin/env bash
# The TUI on a large case: an ext4 image of FILES small files (default 100 000) is
# recovered into a case, then tui/examples/frames.rs times opening it and each thing
# a technician does (screens, moves, every typed search character, sorts, filters,
# the tree), one frame each, drawn at 160x50. The issue's bar: no frame over 100 ms.
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
target/release/examples/frames "$work/case"
