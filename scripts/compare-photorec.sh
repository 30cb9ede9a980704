#!/usr/bin/env bash
# Carves the ground-truth image (testimages/carving) with PhotoRec and with dredge,
# side by side, and prints recall (intact files recovered bit-exact), precision
# (recovered files that are true files) and time for both.
# Usage: scripts/compare-photorec.sh [IMAGE_DIR]   (default testimages/carving)
set -euo pipefail
cd "$(dirname "$0")/.."
dir=$(cd "${1:-testimages/carving}" && pwd)
bash scripts/install-tools.sh
cargo build --release --quiet
work=$(mktemp -d /tmp/dredge-photorec.XXXXXX)
trap 'rm -rf "$work"' EXIT
now() { date +%s.%N; }
mkdir -p "$work/pr"
t0=$(now)
(cd "$work/pr" && photorec /log /d "$work/pr/out" /cmd "$dir/ground-truth.img" partition_none,fileopt,everything,enable,search >/dev/null 2>&1) || true
t1=$(now)
"${CARGO_TARGET_DIR:-target}"/release/dredge --progress none carve "$dir/ground-truth.img" --out "$work/case" --examiner bench >/dev/null || true
t2=$(now)
python3 - "$dir/MANIFEST.json" "$dir/ground-truth.img" "$work" "$t0" "$t1" "$t2" <<'PY'
import hashlib, json, os, sys
manifest, image, work = json.load(open(sys.argv[1])), open(sys.argv[2], "rb").read(), sys.argv[3]
t0, t1, t2 = map(float, sys.argv[4:7])
intact = {t["sha256"] for t in manifest if t["kind"] == "intact"}
fragmented = {t["sha256"]: t["format"] for t in manifest if t["kind"] == "fragmented"}
starts = [t["offset"] for t in manifest if t["kind"] != "decoy"]
def files(root):
    for d, _, fs in os.walk(root):
        for f in fs:
            if f != "report.xml":
                yield open(os.path.join(d, f), "rb").read()
def score(found):
    hashes = [hashlib.sha256(b).hexdigest() for b in found]
    recall = len(intact & set(hashes)) / len(intact)
    # True: the bytes of a ground-truth file as they lie in the image (whole or a
    # validated prefix of a truncated or damaged one).
    true = sum(1 for b in found if any(image[o:o + len(b)] == b for o in starts) or hashlib.sha256(b).hexdigest() in fragmented)
    frag = sorted(fragmented[h] for h in set(hashes) if h in fragmented)
    return recall, (true / len(found) if found else 0.0), frag
for name, root, t in [("PhotoRec", os.path.join(work, "pr"), t1 - t0), ("dredge", os.path.join(work, "case", "carved"), t2 - t1)]:
    found = list(files(root))
    r, p, frag = score(found)
    print(f"{name:9s} recall {r:5.2f} ({int(round(r * len(intact)))}/{len(intact)} intact bit-exact)  precision {p:5.2f} ({len(found)} files)  "
          f"two-fragment files bit-exact {len(frag)}/{len(fragmented)} {frag}  {t:6.2f} s")
PY
