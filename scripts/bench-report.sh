#!/usr/bin/env bash
# Reports over a large case: an ext4 image with FILES files (default 100 000) is
# recovered into a case, then every report format is written; prints each one's
# time, peak memory (RSS) and size. Artifacts are streamed from the store, so peak
# memory should not grow with the number of files.
# Usage: scripts/bench-report.sh [FILES]
. "$(dirname "$0")/bench-common.sh" report
files=${1:-100000}
dredge=$d
bash scripts/make-many-files-ext4.sh "$files" "$work/ext4.img"
"$dredge" --progress none recover "$work/ext4.img" --out "$work/case" --examiner bench --carve none >/dev/null
n=$(sqlite3 "$work/case/case.sqlite" "SELECT COUNT(*) FROM artifacts" 2>/dev/null || echo "?")
echo "case with $n artifacts ($files files)"
for f in csv bodyfile dfxml case html pdf; do
  t0=$(date +%s.%N)
  /usr/bin/time -f "%M" -o "$work/mem" "$dredge" --progress none report "$work/case" --format "$f" --out "$work/r.$f" >/dev/null
  t1=$(date +%s.%N)
  python3 -c "import sys; t=float(sys.argv[2])-float(sys.argv[1]); print(f'  {sys.argv[3]:<9} {t:6.2f} s  peak RSS {int(sys.argv[4])/1024:6.1f} MiB  {int(sys.argv[5])/2**20:8.1f} MiB written')" \
    "$t0" "$t1" "$f" "$(tail -n 1 "$work/mem")" "$(stat -c %s "$work/r.$f")"
done
