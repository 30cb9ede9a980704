#!/usr/bin/env python3
"""Puts a filesystem of our own inside a real BitLocker volume, for tests.

cryptsetup's BitLocker test images hold metadata Windows wrote but no
filesystem worth reading. This encrypts PLAIN (a filesystem image of the
volume's size) into a copy of such an image with the volume's own full volume
encryption key, as Windows lays a volume out (and cryptsetup's BITLK mapping
reads it): the first sectors encrypted at the moved-header location, the FVE
metadata areas, BitLocker's own header and that location left as they are, every other sector
encrypted in place with AES-XTS, tweak = its 512-byte sector number.

Nothing here comes from dredge: the key comes from `cryptsetup bitlkDump
--dump-volume-key`, the layout from `cryptsetup bitlkDump`, the cipher from
the `cryptography` package. Only AES-XTS volumes are supported.

usage: bitlocker_fill.py CONTAINER PASSWORD PLAIN OUT
"""
import re
import subprocess
import sys

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

SECTOR = 512


def dump(container, password):
    out = subprocess.run(
        ["cryptsetup", "bitlkDump", "--dump-volume-key", container],
        input=password + "\n", capture_output=True, text=True, check=True,
    ).stdout
    lines = out.splitlines()
    key = bytearray()
    for i, line in enumerate(lines):
        if line.startswith("MK dump:"):
            key += bytes.fromhex(line.split(":", 1)[1].replace(" ", ""))
            for more in lines[i + 1:]:
                if not re.fullmatch(r"\s+([0-9a-f]{2} ?)+\s*", more):
                    break
                key += bytes.fromhex(more.replace(" ", "").strip())
    mode = re.search(r"Cipher mode:\s*(\S+)", out).group(1)
    return bytes(key), mode


def layout(container):
    out = subprocess.run(["cryptsetup", "bitlkDump", container],
                         capture_output=True, text=True, check=True).stdout
    seg = out.split("Metadata segments:")[1]
    areas = []
    for block in re.split(r"\n\s*\d+: ", seg)[1:]:
        off = int(re.search(r"Offset:\s*(\d+)", block).group(1))
        size = int(re.search(r"Size:\s*(\d+)", block).group(1))
        areas.append((block.split("\n")[0].strip(), off, size))
    header = [(o, s) for (name, o, s) in areas if name.startswith("Volume header")][0]
    metadata = [(o, s) for (name, o, s) in areas if name.startswith("FVE metadata")]
    return header, metadata


def main():
    container, password, plain_path, out_path = sys.argv[1:5]
    key, mode = dump(container, password)
    if mode != "xts-plain64":
        sys.exit(f"{container}: {mode}: only AES-XTS volumes are supported")
    (vho, vhs), metadata = layout(container)
    volume = bytearray(open(container, "rb").read())
    plain = open(plain_path, "rb").read()
    if len(plain) != len(volume):
        sys.exit("PLAIN must be as large as the volume")
    # BitLocker's own volume header (first sectors), the moved copy of the
    # volume's first sectors and the metadata areas are not sectors of PLAIN.
    kept = [(0, vhs), (vho, vho + vhs)] + [(o, o + s) for (o, s) in metadata]

    def enc(sector_no, data):
        e = Cipher(algorithms.AES(key), modes.XTS(sector_no.to_bytes(16, "little"))).encryptor()
        return e.update(data) + e.finalize()

    for at in range(0, len(volume), SECTOR):
        if any(a <= at < b for (a, b) in kept):
            continue
        volume[at:at + SECTOR] = enc(at // SECTOR, plain[at:at + SECTOR])
    # The volume's first sectors, kept encrypted at the moved-header location.
    for rel in range(0, vhs, SECTOR):
        at = vho + rel
        volume[at:at + SECTOR] = enc(at // SECTOR, plain[rel:rel + SECTOR])
    open(out_path, "wb").write(volume)


if __name__ == "__main__":
    main()
