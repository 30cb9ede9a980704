#!/usr/bin/env bash
# An unlocked FileVault 2 (CoreStorage) volume, end to end: `dredge recover
# FV.img --key password=…` (case, registration hashing the whole physical
# volume with MD5+SHA-1+SHA-256, metadata decrypted, passphrase derived
# (PBKDF2-SHA-256, 204 222 iterations), every file extracted from the
# plaintext FAT and hashed, free plaintext carved, store written) against
# the same command on the same FAT unencrypted, and the floor (`cat`,
# `md5sum`) on the encrypted image; cold cache (page cache dropped before
# each run, as root) and warm. The volume is cryptsetup's FileVault 2 test
# volume (512 MiB physical, 160 MiB logical, made by macOS) with a FAT of our
# own, 3/4 full, encrypted into the logical volume by
# tests/tools/fvault_fill.py: FileVault volumes cannot be made on Linux. No
# peer decrypts it here: cryptsetup needs device-mapper, and libfvde
# (20190104) cannot open this trimmed test volume.
# Usage: scripts/bench-filevault.sh
. "$(dirname "$0")/bench-common.sh" filevault
tar -xJSf testimages/external/cryptsetup/fvault2-images.tar.xz -C "$work"
mkfs.vfat -C -S 512 -s 8 "$work/plain.fat" 163840 > /dev/null
python3 - "$work" <<'PY'
import os, subprocess, sys
w = sys.argv[1]
def put(name, n):
    p = os.path.join(w, "f.tmp")
    with open(p, "wb") as f:
        f.write(os.urandom(n))
    subprocess.run(["mcopy", "-i", os.path.join(w, "plain.fat"), p, "::" + name], check=True)
for i in range(8):
    put(f"BIG{i}.BIN", 8 << 20)
# FAT16's root holds 512 entries: the small files go 200 to a folder.
for d in range(6):
    subprocess.run(["mmd", "-i", os.path.join(w, "plain.fat"), f"::D{d}"], check=True)
for i in range(1200):
    put(f"D{i // 200}/S{i:04}.DAT", 48 << 10)
PY
python3 tests/tools/fvault_fill.py "$work/fvault2-images/small" heslo123 "$work/plain.fat" "$work/fv.img"
for mode in cold warm warm; do
  for cmd in "cat:cat $work/fv.img" "md5sum:md5sum $work/fv.img" \
             "recover-plain-fat:$d --progress none recover $work/plain.fat --out $work/cp" \
             "recover-filevault:$d --progress none recover $work/fv.img --out $work/cf --key password=heslo123"; do
    name=${cmd%%:*}; line=${cmd#*:}
    rm -rf "$work/cp" "$work/cf"
    [[ $mode == cold ]] && cold
    # shellcheck disable=SC2086
    echo "$mode $name $(python3 "$timed" $line)" >> "$work/runs"
  done
done
echo "image: $(stat -c %s "$work/fv.img") bytes (logical volume and FAT 167772160 bytes, 3/4 in files)"
cat "$work/runs"
