#!/usr/bin/env bash
# Installs the Debian packages dredge's tests and benchmarks compare against or use
# to build test images (python3-cryptography encrypts a filesystem into a BitLocker
# test volume and dislocker-file decrypts it as a peer; hashcat on pocl (CPU OpenCL)
# takes what `dredge hashes` hands off, through the OpenCL loader ocl-icd-libopencl1,
# which hashcat does not pull in; PyPI case-utils gives
# case_validate; flac, vorbis-tools, opus-tools, lame, ffmpeg (AAC), clang + lld + llvm (Mach-O), 7zip, gcab, xorriso, libheif-examples,
# libhivex-bin and libsmali-java (on default-jre-headless) make the audio, 7z, CAB, ISO, HEIC, registry-hive and DEX files the
# carving tests carve; so do default-jdk-headless (javac), fonttools (pyftsubset), mkvtoolnix, icoutils, icnsutils,
# imagemagick, abcmidi, cpio and mktorrent for classes, fonts, Matroska, icons, PSD, MIDI, cpio and torrents;
# ghostscript and qpdf write the PDFs the PDF reassembly tests cut in two; python3-numpy runs the
# Elephant diffuser of tests/tools/bitlocker_vista.py over all sectors at once; pff-tools' pffinfo reads
# the PSTs the carving test carves; libjpeg-turbo-progs' jpegtran rewrites the progressive JPEGs it carves).
# slurm-wlm and munge run the one-node Slurm cluster the scale-out test submits to
# (deploy/slurm/local-cluster.sh); python3-yaml reads the Kubernetes manifests for
# their check; libscca-utils (sccainfo) reads carved prefetch files; python3-plyvel
# (for /usr/bin/python3) writes the LevelDB test logs; lvm2's own tools make the
# LVM volume groups tests/lvm.rs reads (activation off); dmg2img's vfdecrypt decrypts the
# encrypted Apple disk images tests/unlock_dmg.rs makes, given their keys. Does nothing
# when they are all present.
set -euo pipefail
pkgs=(sleuthkit testdisk gddrescue ewf-tools ntfs-3g dosfstools mtools exfatprogs
      e2fsprogs fdisk gdisk parted wabt lzip lzop nbdkit nbdkit-plugin-python libnbd-bin libxml2-utils fuse3 exfat-fuse
      chromium poppler-utils fonts-dejavu-core tmux sqlite3 cryptsetup-bin xz-utils
      python3-cryptography dislocker hashcat pocl-opencl-icd ocl-icd-libopencl1 zstd lz4
      flac vorbis-tools opus-tools lame ffmpeg clang lld llvm 7zip gcab xorriso libheif-examples libhivex-bin libsmali-java
      default-jre-headless default-jdk-headless fonttools mkvtoolnix icoutils icnsutils imagemagick
      abcmidi cpio mktorrent libfsapfs-utils libfshfs-utils apfsprogs
      slurm-wlm munge python3-yaml libscca-utils python3-plyvel ghostscript qpdf python3-numpy pff-tools libjpeg-turbo-progs lvm2
      dmg2img)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "install-tools: need root to install: ${missing[*]}" >&2
    exit 1
  fi
  echo "install-tools: installing ${missing[*]}" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# case_validate (PyPI case-utils) checks the CASE/UCO reports against the ontology.
if ! command -v case_validate >/dev/null 2>&1; then
  echo "install-tools: installing case-utils (PyPI)" >&2
  python3 -m pip install -q --disable-pip-version-check case-utils 2>&1 | grep -v "Running pip as the 'root' user" >&2 || true
  command -v case_validate >/dev/null 2>&1 || { echo "install-tools: case_validate not on PATH after pip install" >&2; exit 1; }
fi
# lzfse (PyPI: bindings for Apple's reference LZFSE) makes the LZFSE test streams
# and the LZFSE-compressed files of the APFS and HFS+ decmpfs tests.
if ! python3 -c "import lzfse" 2>/dev/null; then
  echo "install-tools: installing lzfse (PyPI)" >&2
  python3 -m pip install -q --disable-pip-version-check lzfse 2>&1 | grep -v "Running pip as the 'root' user" >&2 || true
  python3 -c "import lzfse" || { echo "install-tools: python3 lzfse module missing after pip install" >&2; exit 1; }
fi
# ds-store (PyPI: the library dmgbuild writes Finder .DS_Store files with) makes the
# .DS_Store carving test files and seed.
if ! python3 -c "import ds_store" 2>/dev/null; then
  echo "install-tools: installing ds-store (PyPI)" >&2
  python3 -m pip install -q --disable-pip-version-check ds-store 2>&1 | grep -v "Running pip as the 'root' user" >&2 || true
  python3 -c "import ds_store" || { echo "install-tools: python3 ds_store module missing after pip install" >&2; exit 1; }
fi
