#!/usr/bin/env bash
# An unlocked BitLocker volume, end to end: `dredge recover BL.img --key
# password=…` (case, registration hashing the ciphertext with MD5+SHA-1+SHA-256,
# unlocking, every file extracted from the plaintext NTFS and hashed, free
# plaintext carved, store written) against the same command on the same NTFS
# unencrypted, and the floor (`cat`, `md5sum`) on the encrypted image; cold
# cache (page cache dropped before each run, as root) and warm (best of two).
# The volume is cryptsetup's 100 MiB AES-XTS-128 BitLocker test image with an
# NTFS of our own (mkntfs + ntfscp, 3/4 full) encrypted into it by
# tests/tools/bitlocker_fill.py — BitLocker volumes cannot be made on Linux,
# so 100 MiB is the size there is. The peer is dislocker-file (decrypts the
# volume to a file, no hashing), against `dredge export-volume` (decrypts,
# hashes MD5+SHA-1+SHA-256, records custody) on a case holding the image; the
# two outputs must be identical. cryptsetup cannot open it here (no
# device-mapper).
# Usage: scripts/bench-bitlocker.sh
. "$(dirname "$0")/bench-common.sh" bitlocker
cargo build --release --quiet -p dredge-crypt --example sector_speed
tar -xJf ../shared/testdata/cryptsetup/bitlk-images.tar.xz -C "$work" bitlk-aes-xts-128.img
size=$(stat -c %s "$work/bitlk-aes-xts-128.img")
truncate -s "$size" "$work/plain.ntfs"
mkntfs -q -F -Q -s 512 -p 0 -H 0 -S 0 "$work/plain.ntfs" >/dev/null 2>&1
# 3/4 of the volume in files: a few large, many small (ntfscp, one by one).
python3 - "$work" <<'PY'
import os, subprocess, sys
w = sys.argv[1]
def put(name, n):
    p = os.path.join(w, "f.tmp")
    with open(p, "wb") as f:
        f.write(os.urandom(n))
    subprocess.run(["ntfscp", "-q", os.path.join(w, "plain.ntfs"), p, name], check=True)
for i in range(5):
    put(f"big{i}.bin", 8 << 20)
for i in range(600):
    put(f"small{i:04}.dat", 48 << 10)
PY
python3 tests/tools/bitlocker_fill.py "$work/bitlk-aes-xts-128.img" anaconda "$work/plain.ntfs" "$work/bl.img"
"$d" --progress none case new --examiner bench "$work/ce" > /dev/null
"$d" --progress none add "$work/ce" "$work/bl.img" > /dev/null
for mode in cold warm warm; do
  for cmd in "cat:cat $work/bl.img" "md5sum:md5sum $work/bl.img" \
             "recover-plain:$d --progress none recover $work/plain.ntfs --out $work/cp" \
             "recover-bitlocker:$d --progress none recover $work/bl.img --out $work/cb --key password=anaconda" \
             "dislocker-file:dislocker-file -V $work/bl.img -uanaconda -- $work/dis.raw" \
             "export-volume:$d --progress none export-volume $work/ce --out $work/ex --key password=anaconda"; do
    name=${cmd%%:*}; line=${cmd#*:}
    rm -rf "$work/cp" "$work/cb" "$work/ex" "$work/dis.raw"
    [[ $mode == cold ]] && cold
    # shellcheck disable=SC2086
    echo "$mode $name $(python3 "$timed" $line)" >> "$work/runs"
  done
done
rm -rf "$work/cb" "$work/ex" "$work/dis.raw"
"$d" --progress none export-volume "$work/ce" --out "$work/ex" --key password=anaconda > /dev/null
dislocker-file -V "$work/bl.img" -uanaconda -- "$work/dis.raw" > /dev/null
cmp "$work/dis.raw" "$work/ex/ev1-v0.plain.raw" && echo "export-volume output identical to dislocker-file's"
"$d" --progress none recover "$work/bl.img" --out "$work/cb" --key password=anaconda > /dev/null
files=$(sqlite3 "$work/cb/case.sqlite" "SELECT COUNT(*) FROM artifacts WHERE extracted IS NOT NULL")
python3 - "$work/runs" "$size" "$files" <<'PY'
import sys
runs, size, files = sys.argv[1], int(sys.argv[2]), sys.argv[3]
best = {}
for line in open(runs):
    mode, name, t, rss, r = line.split()
    t = float(t)
    if (mode, name) not in best or t < best[(mode, name)][0]:
        best[(mode, name)] = (t, int(rss))
print(f"BitLocker AES-XTS-128 volume of {size >> 20} MiB, NTFS inside; dredge extracted {files} files")
print(f"{'':18} {'cold':>9} {'warm (best of 2)':>17} {'MB/s warm':>10} {'peak RSS':>9}")
for name in ["cat", "md5sum", "recover-plain", "recover-bitlocker", "dislocker-file", "export-volume"]:
    c, w = best[("cold", name)], best[("warm", name)]
    print(f"{name:18} {c[0]:7.2f} s {w[0]:15.2f} s {size/1e6/w[0]:10.0f} {w[1]/1024:7.0f} MiB")
for mode in ["cold", "warm"]:
    b, p, m = (best[(mode, n)][0] for n in ["recover-bitlocker", "recover-plain", "md5sum"])
    print(f"{mode}: unlocked recover / unencrypted recover {b/p:.2f}x; unlocked recover / md5sum {b/m:.2f}x")
PY
echo "cipher, one core, memory only:"
"$PWD/target/release/examples/sector_speed" 512
echo "peer: openssl speed -evp aes-128-xts (4096-byte units, encrypt, memory only):"
openssl speed -seconds 2 -bytes 4096 -evp aes-128-xts 2>/dev/null | tail -1
