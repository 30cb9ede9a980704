#!/usr/bin/env bash
# Makes testimages/lvm/pv-head.bin.gz: the first MiB of an LVM2 physical volume
# (its label, PV header and metadata area, the ring holding every metadata
# generation written) as LVM's own tools leave it: volume group vgmut with
# 1 MiB extents, root (16), home (8, then extended into a second piece past
# data), data (8), old (8, then removed). No data is written: the mutation
# test (engine/volume/tests/lvm_mutation.rs) damages the metadata only.
# Needs lvm2 and losetup (root); activation is off, so no device-mapper.
set -euo pipefail
out=${1:-$(dirname "$0")/lvm/pv-head.bin.gz}
work=$(mktemp -d)
trap 'losetup -d "$dev" 2>/dev/null || true; rm -rf "$work"' EXIT
mkdir -p "$work/sys"
printf 'backup { backup = 0 archive = 0 }\ndevices { use_devicesfile = 0 obtain_device_list_from_udev = 0 }\nactivation { udev_sync = 0 udev_rules = 0 }\n' >"$work/sys/lvm.conf"
export LVM_SYSTEM_DIR=$work/sys LVM_SUPPRESS_FD_WARNINGS=1
truncate -s 96M "$work/pv.img"
dev=$(losetup -f --show "$work/pv.img")
o=(--driverloaded n --config "devices{filter=[\"a|^$dev\$|\",\"r|.*|\"]}")
pvcreate "${o[@]}" -q "$dev"
vgcreate "${o[@]}" -q -s 1M vgmut "$dev"
for lv in root:16 home:8 data:8; do
  lvcreate "${o[@]}" -q -an -Zn -L "${lv#*:}M" -n "${lv%%:*}" vgmut 2>/dev/null
done
lvextend "${o[@]}" -q -L +4M vgmut/home 2>/dev/null
lvcreate "${o[@]}" -q -an -Zn -L 8M -n old vgmut 2>/dev/null
lvremove "${o[@]}" -q -y vgmut/old 2>/dev/null
head -c 1M "$work/pv.img" | gzip -9n >"$out"
echo "wrote $out"
