# Sourced by the benchmark scripts, before anything else they do:
#   . "$(dirname "$0")/bench-common.sh" NAME
# It makes the repository the working directory, installs the reference
# tools, builds dredge for release, and makes a scratch folder that is removed
# on exit. After it: $d (the release dredge), $timed (scripts/timed.py, wall
# time and peak RSS of one command), $work (the scratch folder), and cold(),
# which drops the page cache (as root) so that the next command reads the disk.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/install-tools.sh
cargo build --release --quiet
d=${CARGO_TARGET_DIR:-$PWD/target}/release/dredge
timed=$PWD/scripts/timed.py
work=$(mktemp -d "/tmp/dredge-bench-${1:-run}.XXXXXX")
trap 'rm -rf "$work"' EXIT
cold() { sync; echo 3 > /proc/sys/vm/drop_caches 2>/dev/null || true; }
