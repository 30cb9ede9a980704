#!/usr/bin/env bash
# An encrypted Apple disk image, end to end: `dredge recover ENC.dmg --key
# password=…` (case, registration hashing the file with MD5+SHA-1+SHA-256,
# key blob opened (PBKDF2-HMAC-SHA-1, 200 000 iterations), every 4 KiB block
# AES-CBC decrypted with its HMAC-SHA-1 IV, every file extracted from the
# plaintext ext4 and hashed, free plaintext carved, store written) against
# the peers on the same image: Debian's vfdecrypt (dmg2img) with the keys,
# writing the plaintext, then `tsk_recover -e` on it; the same dredge command
# on the plaintext unencrypted; and the floor (`cat`, `md5sum`) on the
# encrypted file. Cold cache (page cache dropped before each run, as root)
# and warm. The image is a 512 MiB ext4 (mkfs.ext4 -d: 40 files of 8 MiB
# and 200 small ones, 2/3 full) encrypted by testimages/dmg-encrypt.py as
# hdiutil lays images out: no encrypted image made by macOS is public.
# Usage: scripts/bench-dmg-encrypted.sh
. "$(dirname "$0")/bench-common.sh" dmg
mkdir "$work/src"
for i in $(seq 1 40); do head -c $((8 << 20)) /dev/urandom > "$work/src/f$i.bin"; done
for i in $(seq 1 200); do head -c $((i * 1999)) /dev/urandom > "$work/src/s$i.dat"; done
truncate -s 512M "$work/plain.ext4"
mkfs.ext4 -q -F -d "$work/src" "$work/plain.ext4"
python3 testimages/dmg-encrypt.py "$work/plain.ext4" "$work/enc.dmg" bench-pw \
  --iterations 200000 --keys-out "$work/keys.hex"
keys=$(cat "$work/keys.hex")
for mode in cold warm warm; do
  for cmd in "cat:cat $work/enc.dmg" "md5sum:md5sum $work/enc.dmg" \
             "vfdecrypt:vfdecrypt -k $keys -i $work/enc.dmg -o $work/vf.raw" \
             "tsk_recover-of-vfdecrypted:tsk_recover -e $work/vf.raw $work/tsk" \
             "recover-plain-ext4:$d --progress none recover $work/plain.ext4 --out $work/cp" \
             "recover-encrypted-dmg:$d --progress none recover $work/enc.dmg --out $work/ce --key password=bench-pw"; do
    name=${cmd%%:*}; line=${cmd#*:}
    rm -rf "$work/cp" "$work/ce" "$work/tsk"
    [[ $name == vfdecrypt ]] && rm -f "$work/vf.raw"
    [[ $mode == cold ]] && cold
    # shellcheck disable=SC2086
    echo "$mode $name $(python3 "$timed" $line 2>/dev/null)" >> "$work/runs"
  done
done
echo "image: $(stat -c %s "$work/enc.dmg") bytes (ext4 536870912 bytes, 2/3 in files)"
cat "$work/runs"
