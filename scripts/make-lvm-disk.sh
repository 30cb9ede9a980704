#!/usr/bin/env bash
# Makes a disk image holding an LVM2 volume group the way a Linux install and
# its later life leave one, with LVM's own tools (activation off: no
# device-mapper needed): an MBR partition of type 8e, volume group vgdemo
# with 1 MiB extents, root (ext4, 16 MiB), home (ext4, 8 MiB, then extended
# by lvextend into a second piece), data (FAT, 8 MiB), and old (ext4,
# 8 MiB, files in it, then removed by lvremove).
#   [ROOT_MIB=16] scripts/make-lvm-disk.sh OUT.img   (root's size; the disk is 80 MiB more)
# then: dredge recover OUT.img --out CASE   (and tsk_recover -e OUT.img DIR)
# Needs lvm2, e2fsprogs, dosfstools, mtools, fdisk; root for losetup.
set -euo pipefail
out=${1:?usage: make-lvm-disk.sh OUT.img}
work=$(mktemp -d)
dev=
trap '[ -n "$dev" ] && losetup -d "$dev" 2>/dev/null; rm -rf "$work"' EXIT
mkdir -p "$work/sys"
printf 'backup { backup = 0 archive = 0 }\ndevices { use_devicesfile = 0 obtain_device_list_from_udev = 0 }\nactivation { udev_sync = 0 udev_rules = 0 }\n' >"$work/sys/lvm.conf"
export LVM_SYSTEM_DIR=$work/sys LVM_SUPPRESS_FD_WARNINGS=1
root=${ROOT_MIB:-16}
rm -f "$out"
truncate -s $((root + 80))M "$out"
echo 'start=2048, type=8e' | sfdisk -q "$out"
dev=$(losetup -f --show -o 1048576 --sizelimit $(((root + 79) << 20)) "$out")
o=(--driverloaded n --config "devices{filter=[\"a|^$dev\$|\",\"r|.*|\"]}")
pvcreate "${o[@]}" -q "$dev"
vgcreate "${o[@]}" -q -s 1M vgdemo "$dev"
for lv in root:$root home:8 data:8; do
  lvcreate "${o[@]}" -q -an -Zn -L "${lv#*:}M" -n "${lv%%:*}" vgdemo 2>/dev/null
done
lvextend "${o[@]}" -q -L +4M vgdemo/home 2>/dev/null
lvcreate "${o[@]}" -q -an -Zn -L 8M -n old vgdemo 2>/dev/null
pe_start=$(pvs "${o[@]}" --noheadings --units b --nosuffix -o pe_start "$dev" | tr -d ' ')
first_pe() {
  lvs "${o[@]}" --noheadings --separator ';' -o seg_start_pe,seg_pe_ranges "vgdemo/$1" \
    | sort -n | head -1 | sed 's/.*:\([0-9]*\)-.*/\1/'
}
for lv in root:$root home:8 data:8 old:8; do
  name=${lv%%:*} mib=${lv#*:}
  mkdir -p "$work/$name"
  for i in 1 2 3; do
    head -c $((100000 * i)) /dev/urandom >"$work/$name/$name-$i.bin"
    seq 1 $((2000 * i)) | sed "s/^/$name line /" >"$work/$name/$name-$i.txt"
  done
  if [ "$name" = data ]; then
    truncate -s "${mib}M" "$work/$name.fs"
    mkfs.fat "$work/$name.fs" >/dev/null
    mcopy -i "$work/$name.fs" "$work/$name"/* ::/
  else
    mkfs.ext4 -q -F -b 1024 -d "$work/$name" "$work/$name.fs" "${mib}M"
  fi
  dd if="$work/$name.fs" of="$dev" bs=1M seek=$(( pe_start / 1048576 + $(first_pe "$name") )) conv=notrunc status=none
done
lvs "${o[@]}" -o lv_name,seg_start_pe,seg_pe_ranges vgdemo
lvremove "${o[@]}" -q -y vgdemo/old 2>/dev/null
echo "wrote $out (old removed)"
