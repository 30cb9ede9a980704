#!/usr/bin/env bash
# A Windows Vista BitLocker volume (AES-128-CBC with the Elephant diffuser,
# Vista's default), 256 MiB, 3/4 full, made by tests/tools/bitlocker_vista.py
# from an NTFS of mkntfs + ntfscp (no Vista volume is public and Vista does not
# run here). Times, same run, warm cache (best of two): `dredge recover` with
# the recovery password (case, registration hashing the ciphertext with
# MD5+SHA-1+SHA-256, unlocking, every file extracted and hashed, free plaintext
# carved, store written); `dredge export-volume` (decrypts, hashes, records
# custody) against the peer `dislocker-file` (decrypts to a file, no hashing);
# and the floor (`cat`, `md5sum`). dislocker 0.7.3 needs the volume's size in
# the FVE block header, which Vista leaves zero: the peer reads a copy that
# has it (`sized`); the two plaintexts must agree but for the boot sectors
# (tests/unlock_bitlocker_vista.rs says why).
# Usage: scripts/bench-bitlocker-vista.sh
. "$(dirname "$0")/bench-common.sh" vista
rp=111111-222222-333333-444444-555555-666666-121121-242242
truncate -s 256M "$work/plain.ntfs"
mkntfs -q -F -Q -s 512 -c 4096 -p 0 -H 0 -S 0 "$work/plain.ntfs" >/dev/null 2>&1
head -c 16384 /dev/zero > "$work/z.tmp"
meta=()
for i in 1 2 3; do
  n="FVE.{0c1d2e3f-4a5b-6c7d-8e9f-a0b1c2d3e4f5}.$i"
  ntfscp -q "$work/plain.ntfs" "$work/z.tmp" "$n"
  inode=$(fls "$work/plain.ntfs" | awk -v n="$n" '$NF == n {split($2, a, "-"); print a[1]}')
  meta+=($(( $(istat "$work/plain.ntfs" "$inode" | tail -1 | awk '{print $1}') * 4096 )))
done
# The metadata files first, while the volume is empty: Vista's are contiguous.
for i in 0 1 2 3 4 5; do
  head -c $((30 << 20)) /dev/urandom > "$work/f.tmp"
  ntfscp -q "$work/plain.ntfs" "$work/f.tmp" "big$i.bin"
done
echo "metadata files at ${meta[*]}" >&2
python3 tests/tools/bitlocker_vista.py "$work/plain.ntfs" "$work/vista.img" "$rp" 0x8000 1 "${meta[@]}" >/dev/null
python3 tests/tools/bitlocker_vista.py "$work/plain.ntfs" "$work/sized.img" "$rp" 0x8000 1 "${meta[@]}" sized >/dev/null
run() { # label, command...
  local label=$1; shift
  local best=""
  for round in 1 2; do
    rm -rf "$work/case" "$work/out" "$work/peer.raw"
    if [ "$label" = export ]; then
      "$d" --progress none recover "$work/vista.img" --out "$work/case" --key "recovery=$rp" >/dev/null
    fi
    local t
    t=$(python3 "$timed" "$@" | awk '{print $1}')
    best=$(python3 -c "print(min(float(x) for x in '$best $t'.split()))")
  done
  echo "$label: $best s"
}
run cat cat "$work/vista.img"
run md5sum md5sum "$work/vista.img"
run recover "$d" --progress none recover "$work/vista.img" --out "$work/case" --key "recovery=$rp"
run export "$d" --progress none export-volume "$work/case" --out "$work/out" --key "recovery=$rp"
run dislocker-file dislocker-file -V "$work/sized.img" -p"$rp" -- "$work/peer.raw"
# The two plaintexts agree but for the boot sectors (dislocker 0.7.3's Vista gaps).
rm -rf "$work/case" "$work/out"
"$d" --progress none recover "$work/vista.img" --out "$work/case" --key "recovery=$rp" >/dev/null
"$d" --progress none export-volume "$work/case" --out "$work/out" --key "recovery=$rp" >/dev/null
# 0.7.3 frees a pointer twice on its way out (after writing): its exit code says nothing.
dislocker-file -V "$work/sized.img" -p"$rp" -- "$work/peer.raw" >/dev/null 2>&1 || true
python3 - "$work/out/ev1-v0.plain.raw" "$work/peer.raw" "$work/plain.ntfs" <<'PY'
import sys
ours, theirs, plain = (open(p, "rb").read() for p in sys.argv[1:4])
n = len(ours) // 512
differ = [s for s in range(n) if ours[s * 512:(s + 1) * 512] != theirs[s * 512:(s + 1) * 512]]
print(f"dredge vs dislocker: {len(differ)} of {n} sectors differ {differ[:4]}; dredge's plaintext is the NTFS made: {ours == plain}")
PY
