#!/usr/bin/env python3
"""Puts a filesystem of our own inside a real FileVault 2 volume, for tests.

cryptsetup's FileVault 2 test volume (CoreStorage, made by macOS) holds an
HFS+ logical volume. This encrypts PLAIN (a filesystem image no larger than
the logical volume) into a copy of it with the volume's own key, as
CoreStorage lays a logical volume out (and cryptsetup's FVAULT2 mapping reads
it): AES-XTS over 512-byte sectors, tweak = the sector's number counted from
the logical volume's start; the rest of the logical volume is left as it is.

Nothing here comes from dredge: the key and the logical volume's place come
from `cryptsetup fvault2Dump --dump-volume-key`, the cipher from the
`cryptography` package.

usage: fvault_fill.py CONTAINER PASSWORD PLAIN OUT
"""
import re
import shutil
import subprocess
import sys

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

SECTOR = 512


def dump(container, password):
    out = subprocess.run(
        ["cryptsetup", "fvault2Dump", "--dump-volume-key", container],
        input=password, capture_output=True, text=True, check=True,
    ).stdout
    key = bytes.fromhex(re.search(r"Volume key:\s*([0-9a-f ]+)", out).group(1).replace(" ", ""))
    offset = int(re.search(r"Logical volume offset:\s*(\d+)", out).group(1))
    size = int(re.search(r"Logical volume size:\s*(\d+)", out).group(1))
    return key, offset, size


def main():
    container, password, plain_path, out_path = sys.argv[1:5]
    key, offset, size = dump(container, password)
    if len(key) != 32:
        sys.exit(f"{container}: a {len(key)}-byte volume key")
    plain = open(plain_path, "rb").read()
    if len(plain) > size or len(plain) % SECTOR:
        sys.exit("PLAIN must be whole sectors, no larger than the logical volume")
    shutil.copyfile(container, out_path)
    with open(out_path, "r+b") as out:
        for at in range(0, len(plain), SECTOR):
            n = at // SECTOR
            e = Cipher(algorithms.AES(key), modes.XTS(n.to_bytes(16, "little"))).encryptor()
            out.seek(offset + at)
            out.write(e.update(plain[at:at + SECTOR]) + e.finalize())


if __name__ == "__main__":
    main()
