#!/bin/bash
# Runs `dredge recover` of one image with several dredge binaries, one after the
# other, outputs on a fresh tmpfs each time, and prints for each: wall seconds,
# peak RSS (KiB) and rchar (scripts/timed.py), the artifact count, and an MD5 of
# the sorted rows of each table (ids left out), so two builds' results can be
# compared row for row.
#
#   scripts/compare-builds.sh IMAGE before=/path/to/dredge after=target/release/dredge [...]
#
# Root (tmpfs mounts). The tmpfs is sized 20 GiB: copies of a 1 000 000-file
# image need about 10 GiB there.
set -euo pipefail
img=$1; shift
here=$(cd "$(dirname "$0")" && pwd)
mnt=$(mktemp -d /tmp/dredge-compare.XXXXXX)
trap 'mountpoint -q "$mnt" && umount "$mnt"; rmdir "$mnt"' EXIT
for spec in "$@"; do
  name=${spec%%=*}; bin=${spec#*=}
  mount -t tmpfs -o size=20g tmpfs "$mnt"
  r=$(python3 "$here/timed.py" "$bin" --progress none recover "$img" --out "$mnt/case")
  db=$mnt/case/case.sqlite
  dig=""
  for t in artifacts artifact_runs artifact_gaps artifact_times findings; do
    cols=$(sqlite3 "$db" "SELECT group_concat(name) FROM pragma_table_info('$t') WHERE name NOT IN ('id','artifact_id','session_id')")
    dig="$dig $t=$(sqlite3 "$db" "SELECT $cols FROM $t" | sort | md5sum | cut -c1-8)"
  done
  echo "$name: $r artifacts=$(sqlite3 "$db" "SELECT COUNT(*) FROM artifacts")$dig"
  umount "$mnt"
done
