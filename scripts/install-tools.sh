#!/usr/bin/env bash
# Installs the Debian packages dredge's tests and benchmarks compare against or use
# to build test images. Does nothing when they are all present.
set -euo pipefail
pkgs=(sleuthkit testdisk gddrescue ewf-tools ntfs-3g dosfstools mtools exfatprogs
      e2fsprogs fdisk gdisk nbdkit nbdkit-plugin-python libnbd-bin libxml2-utils fuse3 exfat-fuse)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "install-tools: need root to install: ${missing[*]}" >&2
  exit 1
fi
echo "install-tools: installing ${missing[*]}" >&2
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
