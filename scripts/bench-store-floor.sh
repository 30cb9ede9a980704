#!/usr/bin/env bash
# The store's floor for one recovered file: SQLite alone (the sqlite3 CLI, no
# dredge) inserting N files' rows into dredge's own schema, as `recover` stores an
# ext4 file: one artifact, four times, one run, in one transaction, WAL with
# synchronous=FULL. Rows are generated inside SQLite, so nothing else is timed.
# Variants: foreign keys off; a 64 MiB page cache; the time and run tables
# WITHOUT ROWID keyed by artifact (no separate index).
# Usage: scripts/bench-store-floor.sh [FILES]   (default 300000)
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-300000}
# dredge only makes the case whose schema is used (its speed is not timed).
if [[ -z ${DREDGE_BIN:-} ]]; then cargo build --quiet; fi
d=${DREDGE_BIN:-${CARGO_TARGET_DIR:-$PWD/target}/debug/dredge}
work=$(mktemp -d /tmp/dredge-store-floor.XXXXXX)
trap 'rm -rf "$work"' EXIT
# A real case gives the schema and the evidence, volume and filesystem rows.
truncate -s 64M "$work/fs.img"
mkfs.ext4 -q -F "$work/fs.img"
"$d" --progress none recover "$work/fs.img" --out "$work/case" >/dev/null
sqlite3 "$work/case/case.sqlite" .schema | grep -v sqlite_sequence > "$work/schema.sql"
python3 - "$work/schema.sql" "$work/schema-wr.sql" <<'PY'
import re, sys
s = open(sys.argv[1]).read()
for t, key in [("artifact_times", "artifact_id, source, utc"), ("artifact_runs", "artifact_id, seq")]:
    s = re.sub(rf"CREATE INDEX {t}_by_artifact ON {t}\(artifact_id\);", "", s)
    s = re.sub(rf"CREATE TABLE {t} \((.*?)\) STRICT;",
               lambda m: f"CREATE TABLE {t} ({m.group(1)}, PRIMARY KEY ({key})) STRICT, WITHOUT ROWID;", s, flags=re.S)
open(sys.argv[2], "w").write(s)
PY
one() { # SCHEMA CACHE FK
  local db="$work/t.sqlite"
  rm -f "$db" "$db-wal" "$db-shm"
  sqlite3 "$db" "PRAGMA journal_mode=WAL;" >/dev/null
  sqlite3 "$db" < "$1"
  sqlite3 "$db" "ATTACH '$work/case/case.sqlite' AS o; INSERT INTO evidence SELECT * FROM o.evidence;
    INSERT INTO volumes SELECT * FROM o.volumes; INSERT INTO filesystems SELECT * FROM o.filesystems;"
  local s e
  s=$(date +%s.%N)
  sqlite3 "$db" <<SQL
PRAGMA synchronous=FULL; PRAGMA foreign_keys=$3; PRAGMA cache_size=$2;
BEGIN;
WITH RECURSIVE k(i) AS (SELECT 0 UNION ALL SELECT i+1 FROM k WHERE i < $n-1)
INSERT INTO artifacts (id, evidence_id, unit, fs_id, origin, forensic_path, path, other_names, kind, deleted,
  size, recovery, recovery_detail, meta_offset, md5, sha1, sha256, extracted, unreadable_bytes, status, extract_note)
SELECT 'ev1/v0/ext4/'||(i+20), 1, 'v0', (SELECT min(id) FROM filesystems), 'filesystem', 'ev1/vol0@0/ext4/file:'||i,
  '/d/s/file-'||i||'.txt', '[]', 'file', 0, 8, 'allocated', NULL, 3136+i*256, lower(hex(randomblob(16))),
  lower(hex(randomblob(20))), lower(hex(randomblob(32))), 'files/ev1/x/'||i, 0, 'complete', NULL FROM k;
INSERT INTO artifact_times SELECT id, s.v, '2026-12-05T05:03:30.000000Z' FROM artifacts,
  (SELECT 'ext.mtime' v UNION ALL SELECT 'ext.atime' UNION ALL SELECT 'ext.ctime' UNION ALL SELECT 'ext.crtime') s
  WHERE unit = 'v0' ORDER BY id;
INSERT INTO artifact_runs SELECT id, 0, 0, 4096, 'image', meta_offset*16, 0 FROM artifacts WHERE unit = 'v0' ORDER BY id;
COMMIT;
SQL
  e=$(date +%s.%N)
  echo "$e - $s" | bc
}
echo "rows of $n files (1 artifact + 4 times + 1 run each), sqlite3 $(sqlite3 --version | cut -d' ' -f1)"
for round in 1 2; do
  printf '%-34s %8.2f s\n' "schema as it is" "$(one "$work/schema.sql" -2000 ON)"
  printf '%-34s %8.2f s\n' "64 MiB page cache" "$(one "$work/schema.sql" -65536 ON)"
  printf '%-34s %8.2f s\n' "foreign keys off" "$(one "$work/schema.sql" -2000 OFF)"
  printf '%-34s %8.2f s\n' "times/runs WITHOUT ROWID" "$(one "$work/schema-wr.sql" -2000 ON)"
done
