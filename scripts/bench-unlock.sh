#!/usr/bin/env bash
# An unlocked LUKS2 volume, end to end: `dredge recover LUKS.img --key …` (case,
# registration hashing the ciphertext with MD5+SHA-1+SHA-256, unlocking, every
# file extracted from the plaintext and hashed, free plaintext carved, store
# written) against the same command on the same filesystem unencrypted, and the
# floor (`cat`, `md5sum`) on the encrypted image; cold cache (page cache
# dropped before each run, as root) and warm (best of two). The volume is made
# the way an installer leaves it: ext4 with SIZE_MIB*3/4 of files, encrypted in
# place by `cryptsetup reencrypt --encrypt` (aes-xts-plain64, 512-bit key).
# cryptsetup itself cannot open it here (no device-mapper, no kernel crypto
# API), so the cipher's peer figure is `openssl speed` (AES-256-XTS, memory
# only), printed with dredge's own per-core figure (examples/sector_speed.rs).
# Usage: scripts/bench-unlock.sh [SIZE_MIB]   (default 1024)
. "$(dirname "$0")/bench-common.sh" unlock
size=${1:-1024}
cargo build --release --quiet -p dredge-crypt --example sector_speed
mkdir "$work/content"
# A few large files and many small ones, three quarters of the filesystem.
big=$(( size * 3 / 4 / 8 ))
for i in 1 2 3 4 5 6 7; do head -c "${big}M" /dev/urandom > "$work/content/big$i.bin"; done
mkdir "$work/content/small"
python3 - "$work/content/small" "$big" <<'PY'
import os, sys
d, mib = sys.argv[1], int(sys.argv[2])
n = mib * 1024 // 16
for i in range(n):
    with open(os.path.join(d, f"f{i:06}.dat"), "wb") as f:
        f.write(os.urandom(16384))
PY
truncate -s "${size}M" "$work/plain.img"
mkfs.ext4 -q -F -b 4096 -d "$work/content" "$work/plain.img" "$(( size - 16 ))M"
rm -rf "$work/content"
cp "$work/plain.img" "$work/luks.img"
printf 'bench-pass' > "$work/pass"
cryptsetup reencrypt --encrypt --type luks2 --reduce-device-size 16M \
  --cipher aes-xts-plain64 --key-size 512 --pbkdf pbkdf2 --pbkdf-force-iterations 1000 \
  --batch-mode --key-file "$work/pass" "$work/luks.img"
for mode in cold warm warm; do
  for cmd in "cat:cat $work/luks.img" "md5sum:md5sum $work/luks.img" \
             "recover-plain:$d --progress none recover $work/plain.img --out $work/cp" \
             "recover-luks:$d --progress none recover $work/luks.img --out $work/cl --key keyfile=$work/pass"; do
    name=${cmd%%:*}; line=${cmd#*:}
    rm -rf "$work/cp" "$work/cl"
    [[ $mode == cold ]] && cold
    # shellcheck disable=SC2086
    echo "$mode $name $(python3 "$timed" $line)" >> "$work/runs"
  done
done
rm -rf "$work/cp" "$work/cl"
"$d" --progress none recover "$work/luks.img" --out "$work/cl" --key "keyfile=$work/pass" > /dev/null
files=$(sqlite3 "$work/cl/case.sqlite" "SELECT COUNT(*) FROM artifacts WHERE extracted IS NOT NULL")
python3 - "$work/runs" "$size" "$files" <<'PY'
import sys
runs, size, files = sys.argv[1], int(sys.argv[2]), sys.argv[3]
best = {}
for line in open(runs):
    mode, name, t, rss, r = line.split()
    key = (mode, name)
    t = float(t)
    if key not in best or t < best[key][0]:
        best[key] = (t, int(rss))
print(f"LUKS2 aes-xts-plain64 volume of {size} MiB, ext4 inside; dredge extracted {files} files")
print(f"{'':15} {'cold':>9} {'warm (best of 2)':>17} {'MB/s warm':>10} {'peak RSS':>9}")
for name in ["cat", "md5sum", "recover-plain", "recover-luks"]:
    c, w = best[("cold", name)], best[("warm", name)]
    print(f"{name:15} {c[0]:7.2f} s {w[0]:15.2f} s {size*1.048576/w[0]:10.0f} {w[1]/1024:7.0f} MiB")
for mode in ["cold", "warm"]:
    l, p, m = best[(mode, "recover-luks")][0], best[(mode, "recover-plain")][0], best[(mode, "md5sum")][0]
    print(f"{mode}: unlocked recover / unencrypted recover {l/p:.2f}x; unlocked recover / md5sum {l/m:.2f}x")
PY
echo "cipher, one core, memory only:"
"$PWD/target/release/examples/sector_speed" 1024
echo "peer: openssl speed -evp aes-256-xts (4096-byte units, encrypt, memory only):"
openssl speed -seconds 2 -bytes 4096 -evp aes-256-xts 2>/dev/null | tail -1
