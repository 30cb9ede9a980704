#!/usr/bin/env python3
"""Encrypts a disk image as `hdiutil create -encryption` does (version 2).

    dmg-encrypt.py IN OUT PASSWORD [--bits 128|256] [--iterations N]
                   [--data-offset N] [--key-at N] [--keys-out FILE] [--v1]

IN is what the encrypted image holds once decrypted: a UDIF `.dmg` (what
hdiutil encrypts for every `.dmg` format), a sparse image, or a raw disk.
OUT begins with the `encrcdsa` version-2 header (big-endian): the AES key
size, 4096-byte blocks, the encrypted data's length (IN's) and offset, and
one password key header (at byte 680 unless `--key-at` says otherwise:
where the fixed layout Debian's vfdecrypt reads puts it; the header's key
pointer names it for every other reader): PBKDF2-HMAC-SHA-1 (random 20-byte salt,
N iterations, 24 bytes out) and the key blob (AES key, 20-byte HMAC-SHA-1
key, `CKIE`, a zero byte) Triple-DES-EDE-CBC encrypted under the derived
key with PKCS#7 padding. Block n of the data is AES-CBC under the AES key
with the IV HMAC-SHA-1(HMAC key, n as 32 bits big-endian)[:16]; the last
block is padded with zeros. The header's mode, algorithm and PRNG fields
are written as 0x80000001/0x80000001/0x80000002 and read by no decryptor
we know (vfdecrypt, apfs-fuse, John the Ripper's dmg2john, dredge).
`--keys-out` writes the AES key then the HMAC key in hex (what vfdecrypt's
-k takes).

With --v1, version 1 (Mac OS X 10.2-10.4): the data from byte 0 (AES-128,
the same blocks and IVs), then a 1276-byte trailer ending `cdsaencr`: the
UUID, block size (at 16), PBKDF2 iterations (48), salt length and salt (52,
56), the wrapped AES key (length at 136, key at 140) and HMAC key (436,
440), the data's length (1256). Each key is wrapped as RFC 3217 does with
Triple DES: 4 bytes (zero here; no reader uses them) and the key, PKCS#7,
CBC under a random IV; that IV and the result, reversed, PKCS#7, CBC under
the fixed IV 4adda22c79e82105; vfdecrypt's password path reads these.

Layout as those readers document it; Debian's `vfdecrypt`
(dmg2img) decrypts what this writes back to IN. Shares no code with dredge.
"""
import argparse
import hashlib
import hmac
import os
import struct

from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

BLOCK = 4096


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("src")
    ap.add_argument("out")
    ap.add_argument("password")
    ap.add_argument("--bits", type=int, default=128, choices=(128, 256))
    ap.add_argument("--iterations", type=int, default=1000)
    ap.add_argument("--data-offset", type=int, default=BLOCK)
    ap.add_argument("--key-at", type=int, default=0x2A8)
    ap.add_argument("--keys-out")
    ap.add_argument("--v1", action="store_true")
    a = ap.parse_args()
    data = open(a.src, "rb").read()
    if a.v1:
        return v1(a, data)
    aes_key, mac_key = os.urandom(a.bits // 8), os.urandom(20)
    salt, iv = os.urandom(20), os.urandom(8)

    derived = hashlib.pbkdf2_hmac("sha1", a.password.encode(), salt, a.iterations, 24)
    p = padding.PKCS7(64).padder()
    plain = p.update(aes_key + mac_key + b"CKIE\0") + p.finalize()
    e = Cipher(TripleDES(derived), modes.CBC(iv)).encryptor()
    blob = e.update(plain) + e.finalize()
    key_header = (
        struct.pack(">IIII", 103, 0x80000002, a.iterations, len(salt))
        + salt.ljust(32, b"\0")
        + struct.pack(">I", len(iv))
        + iv.ljust(32, b"\0")
        + struct.pack(">IIIII", 192, 17, 7, 6, len(blob))
        + blob
    )
    header = (
        b"encrcdsa"
        + struct.pack(">IIIIIII", 2, 16, 0x80000001, 0x80000001, a.bits, 0x80000002, 160)
        + os.urandom(16)
        + struct.pack(">IQQI", BLOCK, len(data), a.data_offset, 1)
        + struct.pack(">IQQ", 1, a.key_at, len(key_header))
    )
    assert len(header) == 96 <= a.key_at and a.key_at + len(key_header) <= a.data_offset
    with open(a.out, "wb") as f:
        f.write((header.ljust(a.key_at, b"\0") + key_header).ljust(a.data_offset, b"\0"))
        write_blocks(f, data, aes_key, mac_key)
    if a.keys_out:
        open(a.keys_out, "w").write((aes_key + mac_key).hex() + "\n")


def des3_cbc(key, iv, plain):
    p = padding.PKCS7(64).padder()
    e = Cipher(TripleDES(key), modes.CBC(iv)).encryptor()
    return e.update(p.update(plain) + p.finalize()) + e.finalize()


def v1(a, data):
    aes_key, mac_key, salt = os.urandom(16), os.urandom(20), os.urandom(20)
    derived = hashlib.pbkdf2_hmac("sha1", a.password.encode(), salt, a.iterations, 24)

    def wrap(key):
        iv = os.urandom(8)
        inner = iv + des3_cbc(derived, iv, b"\0" * 4 + key)
        return des3_cbc(derived, bytes.fromhex("4adda22c79e82105"), inner[::-1])

    t = bytearray(0x4FC)
    t[0:16] = os.urandom(16)
    struct.pack_into(">I", t, 0x10, BLOCK)
    struct.pack_into(">IIII", t, 0x28, 103, 0x80000002, a.iterations, len(salt))
    t[0x38:0x38 + len(salt)] = salt
    for at, key in ((0x88, aes_key), (0x1B4, mac_key)):
        w = wrap(key)
        struct.pack_into(">I", t, at, len(w))
        t[at + 4:at + 4 + len(w)] = w
    struct.pack_into(">Q", t, 0x4E8, len(data))
    t[0x4F4:0x4FC] = b"cdsaencr"
    with open(a.out, "wb") as f:
        write_blocks(f, data, aes_key, mac_key)
        f.write(t)
    if a.keys_out:
        open(a.keys_out, "w").write((aes_key + mac_key).hex() + "\n")


def write_blocks(f, data, aes_key, mac_key):
    for n in range(0, len(data), BLOCK):
        chunk = data[n:n + BLOCK].ljust(BLOCK, b"\0")
        civ = hmac.new(mac_key, struct.pack(">I", n // BLOCK), hashlib.sha1).digest()[:16]
        c = Cipher(algorithms.AES(aes_key), modes.CBC(civ)).encryptor()
        f.write(c.update(chunk) + c.finalize())


if __name__ == "__main__":
    main()
