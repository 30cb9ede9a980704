#!/usr/bin/env python3
"""Encrypts PLAIN into the data area of a LUKS1 image, for tests.

`cryptsetup luksFormat` writes a header and leaves the data area as it was,
and without device-mapper nothing here can write through the mapping. This
takes the volume key from `cryptsetup luksDump --dump-volume-key` (with the
passphrase), the payload offset from `cryptsetup luksDump`, and encrypts
PLAIN sector by sector with AES-XTS, tweak = the sector's number from the
data area's start (aes-xts-plain64), with the `cryptography` package. Nothing
comes from dredge. Only aes-xts-plain64 volumes are supported.

usage: luks1_fill.py IMAGE PASSPHRASE PLAIN
"""
import re
import subprocess
import sys

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

SECTOR = 512


def luks_dump(image, passphrase, *extra):
    return subprocess.run(
        ["cryptsetup", "luksDump", "--batch-mode", "--key-file", "-", *extra, image],
        input=passphrase.encode(), capture_output=True, check=True,
    ).stdout.decode()


def main():
    image, passphrase, plain = sys.argv[1:4]
    info = luks_dump(image, passphrase)
    if not re.search(r"Cipher name:\s+aes\b", info) or "xts-plain64" not in info:
        sys.exit("luks1_fill: only aes-xts-plain64 volumes are supported")
    offset = int(re.search(r"Payload offset:\s+(\d+)", info).group(1)) * SECTOR
    out = luks_dump(image, passphrase, "--dump-volume-key")
    hexkey = ""
    lines = out.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("MK dump:"):
            hexkey += line.split(":", 1)[1]
            for more in lines[i + 1:]:
                if not re.fullmatch(r"\s+([0-9a-f]{2} ?)+\s*", more):
                    break
                hexkey += more
    key = bytes.fromhex(hexkey.replace(" ", "").strip())
    data = open(plain, "rb").read()
    data += b"\0" * (-len(data) % SECTOR)
    enc = bytearray()
    for n in range(len(data) // SECTOR):
        tweak = n.to_bytes(16, "little")
        e = Cipher(algorithms.AES(key), modes.XTS(tweak)).encryptor()
        enc += e.update(data[n * SECTOR:(n + 1) * SECTOR]) + e.finalize()
    with open(image, "r+b") as f:
        f.seek(offset)
        f.write(enc)


if __name__ == "__main__":
    main()
