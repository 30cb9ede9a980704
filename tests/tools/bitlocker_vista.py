#!/usr/bin/env python3
"""Encrypts an NTFS image into a BitLocker volume as Windows Vista lays one out.

No Vista volume is among the public test images, and Vista no longer runs
here, so this writes one from libbde's description of the format ("BitLocker
Drive Encryption (BDE) format", the Vista volume header and FVE metadata
version 1) and Ferguson's "AES-CBC + Elephant diffuser" (2006):

- the NTFS boot sector stays in the clear, its OEM name set to `-FVE-FS-` and
  its MFT mirror field (byte 56) to the cluster of the first FVE metadata
  copy; the MFT mirror's cluster moves to the metadata's block header. The
  backup boot sector (the volume's last sector) is marked the same way;
- the 8 KiB after the boot sector stay unencrypted;
- three FVE metadata copies (block header version 1, metadata header, a
  recovery-password protector, a startup-key protector, the wrapped FVEK, a
  description), each followed by its CRC-32 validation, go where the files
  FVE.{GUID}.1-3 lie (Vista reserves them as files of 16 KiB of zeros; the
  caller makes them and names their first byte);
- every other sector is encrypted with the FVEK: AES-CBC with the IV
  E(FVEK, byte offset) after the sector key XOR and diffusers A and B
  (methods 0x8000/0x8001), or AES-CBC alone (0x8002/0x8003).

Nothing here comes from dredge: hashes and AES from hashlib and the
`cryptography` package, the diffuser from the paper, written with numpy over
all sectors at once. The tests check the result against dislocker and libbde.

usage: bitlocker_vista.py PLAIN OUT RECOVERY_PASSWORD METHOD SEED META1 META2 META3 [sized]
  METHOD: 0x8000 (AES-128 + diffuser), 0x8001 (AES-256 + diffuser),
          0x8002 (AES-128), 0x8003 (AES-256)
  META1-3: byte offsets of the three 16 KiB metadata files in PLAIN.
  sized: also write the volume's size at byte 16 of the block header, where
         Vista writes zeros: Debian's dislocker 0.7.3 predates its fix for
         Vista volumes (it takes the size from the boot sector now) and
         refuses a volume without it. Only for comparing with that version.
Writes OUT and OUT.BEK (the startup key file, naming its protector's GUID
inside), and prints a JSON line: the FVEK in hex (the key fields as the
datum holds them) and the two protectors' GUIDs.
"""
import hashlib
import json
import random
import struct
import sys
import uuid
import zlib

import numpy as np
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESCCM

SECTOR = 512
FILETIME = 0x01C9_0000_0000_0000  # some day in 2008: Vista's era


def ecb(key, data):
    e = Cipher(algorithms.AES(key), modes.ECB()).encryptor()
    return e.update(data) + e.finalize()


def datum(entry_type, value_type, body):
    return struct.pack("<HHHH", 8 + len(body), entry_type, value_type, 1) + body


def key_datum(method, key):
    return datum(0, 0x0001, struct.pack("<I", method) + key)


def ccm_datum(entry_type, wrapping_key, payload, counter):
    nonce = struct.pack("<QI", FILETIME, counter)
    sealed = AESCCM(wrapping_key, tag_length=16).encrypt(nonce, payload, None)
    # BitLocker stores the MAC before the ciphertext.
    return datum(entry_type, 0x0005, nonce + sealed[-16:] + sealed[:-16])


def guid_bytes(rng):
    return bytes(rng.getrandbits(8) for _ in range(16))


def stretch(initial, salt):
    block = bytearray(88)
    block[32:64] = initial
    block[64:80] = salt
    for count in range(1 << 20):
        block[80:88] = struct.pack("<Q", count)
        block[0:32] = hashlib.sha256(block).digest()
    return bytes(block[:32])


def recovery_key(password):
    groups = [int(g) for g in password.split("-")]
    assert len(groups) == 8 and all(g % 11 == 0 and g // 11 < 65536 for g in groups)
    return b"".join(struct.pack("<H", g // 11) for g in groups)


def rotl(x, r):
    if r == 0:
        return x
    return (x << np.uint32(r)) | (x >> np.uint32(32 - r))


def diffuse_encrypt(d):
    """Diffusers A then B, encryption direction, over rows of 32-bit words."""
    n = d.shape[1]
    ra, rb = (9, 0, 13, 0), (0, 10, 0, 25)
    for _ in range(5):
        for i in range(n - 1, -1, -1):
            d[:, i] -= d[:, (i - 2) % n] ^ rotl(d[:, (i - 5) % n], ra[i % 4])
    for _ in range(3):
        for i in range(n - 1, -1, -1):
            d[:, i] -= d[:, (i + 2) % n] ^ rotl(d[:, (i + 5) % n], rb[i % 4])


def encrypt_sectors(method, fvek, tweak, offsets, plain):
    """The sectors at byte offsets `offsets` of `plain`, encrypted."""
    count = len(offsets)
    ctr = b"".join(struct.pack("<QQ", o, 0) for o in offsets)
    ivs = ecb(fvek, ctr)
    data = np.frombuffer(
        b"".join(plain[o:o + SECTOR] for o in offsets), dtype="<u4"
    ).reshape(count, SECTOR // 4).copy()
    if method in (0x8000, 0x8001):
        high = b"".join(struct.pack("<QQ", o, 0x80 << 56) for o in offsets)
        lo, hi = ecb(tweak, ctr), ecb(tweak, high)
        keys = b"".join(lo[i * 16:i * 16 + 16] + hi[i * 16:i * 16 + 16] for i in range(count))
        sector_keys = np.tile(
            np.frombuffer(keys, dtype="<u4").reshape(count, 8), (1, SECTOR // 32)
        )
        data ^= sector_keys
        diffuse_encrypt(data)
    raw = data.astype("<u4").tobytes()
    out = []
    for i in range(count):
        e = Cipher(algorithms.AES(fvek), modes.CBC(ivs[i * 16:i * 16 + 16])).encryptor()
        out.append(e.update(raw[i * SECTOR:(i + 1) * SECTOR]) + e.finalize())
    return out


def main():
    plain_path, out_path, password, method, seed = sys.argv[1:6]
    meta = [int(x) for x in sys.argv[6:9]]
    method = int(method, 16)
    rng = random.Random(int(seed))
    plain = bytearray(open(plain_path, "rb").read())
    boot = bytes(plain[:SECTOR])
    assert boot[3:11] == b"NTFS    ", "PLAIN is not an NTFS"
    per_sector = struct.unpack_from("<H", boot, 11)[0]
    assert per_sector == SECTOR
    cluster = per_sector * boot[13]
    total_sectors = struct.unpack_from("<Q", boot, 40)[0]
    mft_mirror = struct.unpack_from("<Q", boot, 56)[0]
    assert all(m % cluster == 0 and any(plain[m:m + 16384]) is False for m in meta), \
        "metadata files must be cluster-aligned zeros"

    # Keys.
    size = {0x8000: 16, 0x8001: 32, 0x8002: 16, 0x8003: 32}[method]
    fvek = rng.randbytes(size)
    tweak = rng.randbytes(size)
    if method in (0x8000, 0x8001):
        # The datum always holds 512 bits: FVEK then TWEAK key, 256 bits each.
        fvek_field = fvek.ljust(32, b"\0") + tweak.ljust(32, b"\0")
    else:
        fvek_field = fvek
    vmk = rng.randbytes(32)
    salt = rng.randbytes(16)
    startup = rng.randbytes(32)
    volume_guid, rp_guid, sk_guid = guid_bytes(rng), guid_bytes(rng), guid_bytes(rng)

    # Protectors: the VMK wrapped by the stretched recovery key, and by the
    # startup key; the FVEK wrapped by the VMK.
    rk = stretch(hashlib.sha256(recovery_key(password)).digest(), salt)
    vmk_payload = key_datum(0x2000, vmk)

    def vmk_entry(guid, protection, props):
        body = guid + struct.pack("<QHH", FILETIME, 0, protection) + props
        return datum(0x0002, 0x0008, body)

    rp_props = datum(0, 0x0003, struct.pack("<I", 0x1000) + salt) + ccm_datum(0, rk, vmk_payload, 1)
    sk_props = datum(0, 0x0002, "ExternalKey\0".encode("utf-16-le")) + ccm_datum(0, startup, vmk_payload, 2)
    entries = (
        vmk_entry(rp_guid, 0x0800, rp_props)
        + vmk_entry(sk_guid, 0x0200, sk_props)
        + ccm_datum(0x0003, vmk, key_datum(method, fvek_field), 3)
        + datum(0x0007, 0x0002, "DREDGE-TEST C: 1/1/2008\0".encode("utf-16-le"))
    )
    header = struct.pack("<IIII", 48 + len(entries), 1, 48, 48 + len(entries))
    header += volume_guid + struct.pack("<IIQ", 4, method, FILETIME)
    metadata = header + entries
    block_size = 64 + len(metadata)
    sized = len(sys.argv) > 9 and sys.argv[9] == "sized"
    block = b"-FVE-FS-" + struct.pack("<HHHH", block_size, 1, 4, 4)
    block += struct.pack("<QQ", len(plain) if sized else 0, 0)
    block += struct.pack("<QQQQ", meta[0], meta[1], meta[2], mft_mirror)
    block += metadata
    # The validation: its size, version and the CRC-32 of the block.
    block += struct.pack("<HHI", 8, 1, zlib.crc32(block))
    assert len(block) <= 16384

    # The startup key file.
    ext = datum(0x0006, 0x0009, sk_guid + struct.pack("<Q", FILETIME) + key_datum(0x2000, startup))
    bek = struct.pack("<IIII", 48 + len(ext), 1, 48, 48 + len(ext))
    bek += sk_guid + struct.pack("<IIQ", 1, 0x2000, FILETIME) + ext
    open(out_path + ".BEK", "wb").write(bek)

    # The volume.
    out = bytearray(plain)
    last = total_sectors * SECTOR
    kept = [(0, 8192)] + [(m, m + 16384) for m in meta] + [(last, last + SECTOR)]
    todo = [o for o in range(0, len(plain), SECTOR) if not any(a <= o < b for a, b in kept)]
    for o, sec in zip(todo, encrypt_sectors(method, fvek, tweak, todo, plain)):
        out[o:o + SECTOR] = sec
    for m in meta:
        out[m:m + len(block)] = block
    meta_cluster = meta[0] // cluster
    for at in (0, last):
        if at + SECTOR <= len(out):
            out[at + 3:at + 11] = b"-FVE-FS-"
            struct.pack_into("<Q", out, at + 56, meta_cluster)
    open(out_path, "wb").write(out)
    print(json.dumps({
        "fvek": fvek_field.hex(),
        "recovery_protector": str(uuid.UUID(bytes_le=rp_guid)),
        "startup_protector": str(uuid.UUID(bytes_le=sk_guid)),
    }))


if __name__ == "__main__":
    main()
