#!/usr/bin/env python3
"""Writes a raw disk image as an Apple sparse bundle.

    make-sparsebundle.py IMAGE OUT.sparsebundle [BAND_SIZE]

What `hdiutil convert -format UDSB` (or a Time Machine backup) leaves: a
directory with `Info.plist` (the bundle type, backing-store version 1, the
band size and the disk's size), an empty `token`, and `bands/`, one file
per band named by its number in lower-case hex. Bands that are all zeros
are not written (never-written bands are absent in a real bundle); the
last band holds only what the disk has. BAND_SIZE defaults to 8 MiB (what
hdiutil uses), smaller for tests. Layout as libyal's libmodi and
sparsebundlefs document it; shares no code with dredge.
"""
import os
import plistlib
import sys


def main():
    src, out = sys.argv[1], sys.argv[2]
    band = int(sys.argv[3]) if len(sys.argv) > 3 else 8 << 20
    data = open(src, "rb").read()
    os.makedirs(os.path.join(out, "bands"), exist_ok=True)
    info = {
        "CFBundleInfoDictionaryVersion": "6.0",
        "band-size": band,
        "bundle-backingstore-version": 1,
        "diskimage-bundle-type": "com.apple.diskimage.sparsebundle",
        "size": len(data),
    }
    with open(os.path.join(out, "Info.plist"), "wb") as f:
        plistlib.dump(info, f, fmt=plistlib.FMT_XML)
    open(os.path.join(out, "token"), "wb").close()
    written = 0
    for i in range(0, len(data), band):
        chunk = data[i:i + band]
        if any(chunk):
            with open(os.path.join(out, "bands", format(i // band, "x")), "wb") as f:
                f.write(chunk)
            written += 1
    print(written, (len(data) + band - 1) // band)


main()
