#!/usr/bin/env python3
"""Makes a VeraCrypt container around a filesystem image, for tests.

Follows the VeraCrypt volume format (as TrueCrypt's "Volume Format
Specification" documents it; VeraCrypt changes the magic to VERA and the
iteration counts): a 64-byte random salt; a 448-byte header encrypted with
AES-XTS (data unit 0) under PBKDF2-HMAC-SHA512(password, salt, 500 000
iterations, or 15 000 + 1 000 x PIM); the data area at 128 KiB, encrypted with
AES-256-XTS under the header's master keys, data unit = 512-byte sector
number from the container's start; the backup header at the end. Nothing here
comes from dredge: hashlib and the `cryptography` package do the work.

usage: veracrypt_make.py PLAIN OUT PASSWORD [PIM]
"""
import hashlib
import os
import struct
import sys
import zlib

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

DATA_AT = 131072


def xts(key, unit, data):
    e = Cipher(algorithms.AES(key), modes.XTS(unit.to_bytes(16, "little"))).encryptor()
    return e.update(data) + e.finalize()


def header(password, pim, master, volume_size):
    salt = os.urandom(64)
    iters = 15000 + 1000 * pim if pim else 500000
    hkey = hashlib.pbkdf2_hmac("sha512", password, salt, iters, 64)
    keys = master + bytes(256 - len(master))
    d = bytearray(448)
    d[0:4] = b"VERA"
    struct.pack_into(">HH", d, 4, 5, 0x010B)
    struct.pack_into(">I", d, 8, zlib.crc32(keys))
    struct.pack_into(">QQQQ", d, 28, 0, volume_size, DATA_AT, volume_size)
    struct.pack_into(">II", d, 60, 0, 512)
    struct.pack_into(">I", d, 188, zlib.crc32(bytes(d[:188])))
    d[192:448] = keys
    return salt + xts(hkey, 0, bytes(d))


def main():
    plain_path, out_path, password = sys.argv[1:4]
    pim = int(sys.argv[4]) if len(sys.argv) > 4 else 0
    plain = open(plain_path, "rb").read()
    assert len(plain) % 512 == 0
    master = os.urandom(64)  # AES-256-XTS: data key, tweak key
    out = bytearray(os.urandom(DATA_AT))
    out[:512] = header(password.encode(), pim, master, len(plain))
    for at in range(0, len(plain), 512):
        out += xts(master, (DATA_AT + at) // 512, plain[at:at + 512])
    tail = bytearray(os.urandom(DATA_AT))
    tail[:512] = header(password.encode(), pim, master, len(plain))
    out += tail
    open(out_path, "wb").write(out)


if __name__ == "__main__":
    main()
