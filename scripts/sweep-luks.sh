#!/usr/bin/env bash
# One LUKS variant no test holds, made by cryptsetup itself and recovered by
# dredge: an ext4 of three files (random bytes, numbers, a non-ASCII name)
# encrypted in place with `cryptsetup reencrypt --encrypt` (LUKS2), or that
# converted with `cryptsetup convert --type luks1` (LUKS1: the cipher's
# sector size must be 512 and the KDF PBKDF2), opened with a non-ASCII
# passphrase; prints how many of the three files came back bit-exact.
# Usage: scripts/sweep-luks.sh luks1|luks2 CIPHER KEY_BITS SECTOR HASH [KDF ARGS…]
# e.g.   scripts/sweep-luks.sh luks2 aes-xts-essiv:sha256 256 512 sha256 --pbkdf pbkdf2 --pbkdf-force-iterations 1000
#        scripts/sweep-luks.sh luks1 aes-cbc-plain 256 512 ripemd160
# (DREDGE=path/to/dredge; default target/release/dredge). The kernel must know the
# cipher: cryptsetup wants device-mapper for any other, and it is not here.
set -u
dredge=${DREDGE:-$(dirname "$0")/../target/release/dredge}
type=$1 cipher=$2 bits=$3 sector=$4 hash=$5
shift 5
kdf=("$@")
[ "$type" = luks1 ] && kdf=(--pbkdf pbkdf2 --pbkdf-force-iterations 1000)
work=$(mktemp -d /tmp/dredge-sweep-luks.XXXXXX)
trap 'rm -rf "$work"' EXIT
cd "$work"
mkdir content
head -c 300000 /dev/urandom > content/a.bin
seq 1 20000 > content/b.txt
echo "Grüße 証拠" > content/ü.txt
truncate -s 44M disk.img
mkfs.ext4 -q -F -b 4096 -d content disk.img 40M
printf 'pässwörd-証拠' > pass
if ! cryptsetup reencrypt --encrypt --type luks2 --reduce-device-size 4M --cipher "$cipher" \
    --key-size "$bits" --hash "$hash" --sector-size "$sector" --batch-mode --key-file pass \
    "${kdf[@]}" disk.img > cs.log 2>&1; then
  echo "$type $cipher $bits $sector $hash: cryptsetup failed: $(tail -1 cs.log)"
  exit 0
fi
if [ "$type" = luks1 ] && ! cryptsetup convert -q --type luks1 disk.img >> cs.log 2>&1; then
  echo "$type $cipher $bits $sector $hash: convert failed: $(tail -1 cs.log)"
  exit 0
fi
"$dredge" --progress none recover disk.img --key password-file=pass --out case > rec.log 2>&1
rc=$?
ok=0
for f in a.bin b.txt ü.txt; do
  p=$(find case -name "$f" -type f | head -1)
  [ -n "$p" ] && cmp -s "$p" "content/$f" && ok=$((ok + 1))
done
echo "$type $cipher $bits $sector $hash ${kdf[*]}: exit $rc, files $ok/3 $(grep -m1 'error' rec.log)"
