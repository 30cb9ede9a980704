#!/usr/bin/env bash
# FileVault on APFS, end to end: `dredge recover FV.raw --key password=…`
# (case, registration hashing the image with MD5+SHA-1+SHA-256, key bags
# decrypted, PBKDF2-SHA-256, the decrypted layer made from the object maps and
# the trees' extents, every file extracted and hashed, free space carved, store
# written) against the same command on the same container unencrypted, and the
# floor (`cat`, `md5sum`); warm cache, three runs each. FV.raw is dfvfs's
# apfs.raw (made by macOS, 4 MiB) encrypted by testimages/apfs-encrypt.py:
# FileVault volumes cannot be made on Linux, and no public image of one is
# stored here. No peer decrypts it here: Debian's libfsapfs cannot set up
# AES-XTS against OpenSSL 3, and Debian's TSK is built without OpenSSL. The
# image is small: the figures are the fixed cost of unlocking, not throughput
# (`cargo run --release -p dredge-crypt --example sector_speed` gives that).
# Columns: run, command, wall seconds, peak RSS (KiB), bytes read (rchar).
# Usage: scripts/bench-filevault-apfs.sh
. "$(dirname "$0")/bench-common.sh" fvapfs
gzip -dc testimages/external/dfvfs/apfs.raw.gz > "$work/plain.raw"
python3 testimages/apfs-encrypt.py "$work/plain.raw" "$work/fv.raw" 'apfs-TEST' \
  --recovery 'ABCD-EFGH-IJKL-MNOP-QRST-UVWX' --moved --free-too > /dev/null
for run in 1 2 3; do
  for cmd in "cat:cat $work/fv.raw" "md5sum:md5sum $work/fv.raw" \
             "recover-plain:$d --progress none recover $work/plain.raw --out $work/cp" \
             "recover-filevault:$d --progress none recover $work/fv.raw --out $work/cf --key password=apfs-TEST"; do
    name=${cmd%%:*}; line=${cmd#*:}
    rm -rf "$work/cp" "$work/cf"
    # shellcheck disable=SC2086
    echo "warm$run $name $(python3 "$timed" $line)"
  done
done
rm -rf "$work/cf"
$d recover "$work/fv.raw" --out "$work/cf" --key password=apfs-TEST 2>&1 | grep -E "read |files \(" || true
