#!/usr/bin/env python3
"""Encrypts an APFS volume the way FileVault does in software (Macs without a
T2 or Apple silicon, and external disks).

    apfs-encrypt.py IN_IMAGE OUT_IMAGE PASSWORD [--recovery KEY] [--hint TEXT]
                    [--iterations N] [--moved] [--free-too] [--corestorage]

What macOS leaves on disk, as Apple's File System Reference describes it:

- a volume encryption key (VEK, 32 bytes: AES-XTS-128's two keys) encrypts
  every block of the volume's filesystem tree (each object-map entry that
  points at one carries OMAP_VAL_ENCRYPTED) and every block of its files'
  extents, in 512-byte units whose tweak is the unit's number: for a tree
  node, from its own block address; for a file extent, from the extent's
  `crypto_id` (the block it was first written to: --moved makes the first
  file's differ from where it now lies, as after a defragmentation);
- the VEK, wrapped (RFC 3394) by a key-encrypting key (KEK), sits in the
  container keybag (`keys`, at the superblock's `nx_keylocker`), itself
  encrypted with AES-XTS-128 whose two keys are the container's UUID;
- the KEK, wrapped by PBKDF2-HMAC-SHA-256 of each passphrase (a user's
  password; the personal recovery key, under the recovery UUID
  EBC6C064-0000-11AA-AA11-00306543ECAC), sits in the volume keybag (`recs`),
  encrypted with the volume's UUID, with the passphrase hint;
- with --corestorage, the keys are 128-bit, as on a volume converted from
  FileVault 2 on CoreStorage (method 2 in each blob's flags);
- the volume superblock no longer says APFS_FS_UNENCRYPTED, and the
  container superblock says NX_CRYPTO_SW;
- with --free-too, the free blocks that hold bytes (what a deletion let go,
  `apfs-delete.py --forget`) are ciphertext too, each from its own block, as
  they were written while in use.

Handles the small volumes tests use (an object map of one node; every
superblock copy of the volume is updated). Key material is derived from the
password so that the image is the same on every run. Written from Apple's
File System Reference and libfsapfs's documentation of the key bags; shares
no code with dredge. Needs python3-cryptography.
"""
import hashlib
import hmac
import importlib.util
import os
import struct
import sys

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.keywrap import aes_key_wrap

from apfs_blocks import Img, fletcher64, toc, u

# The space manager's bitmaps, as apfs-delete.py reads them.
_spec = importlib.util.spec_from_file_location(
    "apfs_delete", os.path.join(os.path.dirname(os.path.abspath(__file__)), "apfs-delete.py"))
_delete = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_delete)
is_free = _delete.is_free

RECOVERY_UUID = bytes.fromhex("EBC6C0640000 11AA AA11 00306543ECAC".replace(" ", ""))
USER_UUID = bytes.fromhex("5A1E6C3B9D2F4E8A8B7C6D5E4F3A2B1C")


def xts(key, first_unit, data):
    """AES-XTS-128 encryption of `data` in 512-byte units numbered from
    `first_unit`. Written out with AES-ECB because OpenSSL refuses XTS keys
    whose halves are equal, and the key bags' keys are a UUID twice."""
    k1 = Cipher(algorithms.AES(key[:16]), modes.ECB()).encryptor()
    k2 = Cipher(algorithms.AES(key[16:]), modes.ECB()).encryptor()
    out = bytearray()
    for i in range(0, len(data), 512):
        t = int.from_bytes(k2.update((first_unit + i // 512).to_bytes(16, "little")), "little")
        for j in range(i, i + 512, 16):
            tb = t.to_bytes(16, "little")
            x = bytes(a ^ b for a, b in zip(data[j:j + 16], tb))
            out += bytes(a ^ b for a, b in zip(k1.update(x), tb))
            t = ((t << 1) ^ (0x87 if t >> 127 else 0)) & ((1 << 128) - 1)
    return out


def der(tag, body):
    n = len(body)
    if n < 0x80:
        return bytes([tag, n]) + body
    assert n < 0x100
    return bytes([tag, 0x81, n]) + body


def blob(uuid, wrapped, iterations=None, salt=None, cs=False):
    """A wrapped key as the key bags hold it: HMAC, salt, and the key object
    (UUID, metadata whose first word is the encryption method, the wrapped
    key, and for a KEK the PBKDF2 iterations and salt). A 128-bit key
    migrated from CoreStorage has method 2 (the flags' first byte) and its
    24 wrapped bytes padded to the field's 40."""
    flags = (b"\x02" if cs else b"\x00") + bytes(7)
    wrapped = wrapped + bytes(40 - len(wrapped))
    inner = der(0x80, b"\x00") + der(0x81, uuid) + der(0x82, flags) + der(0x83, wrapped)
    if iterations is not None:
        inner += der(0x84, iterations.to_bytes(4, "big")) + der(0x85, salt)
    # The HMAC's key is SHA-256 of a fixed prefix and the blob's own salt.
    hsalt = hashlib.sha256(b"hsalt" + inner).digest()[:8]
    hkey = hashlib.sha256(b"\x01\x16\x20\x17\x15\x05" + hsalt).digest()
    mac = hmac.new(hkey, inner, hashlib.sha256).digest()
    return der(0x30, der(0x80, b"\x00") + der(0x81, mac) + der(0x82, hsalt) + der(0xA3, inner))


def bag(bs, block, otype, xid, entries):
    """A key bag object of one block: header, kb_locker, entries aligned to 16."""
    body = bytearray()
    for uuid, tag, data in entries:
        e = uuid + struct.pack("<HH4x", tag, len(data)) + data
        e += bytes(-len(e) % 16)
        body += e
    b = bytearray(bs)
    # Key bags have no object id; the locker's byte count takes in a
    # terminating all-zero entry header (24 bytes), as macOS writes it.
    struct.pack_into("<QQII", b, 8, 0, xid, otype, 0)
    struct.pack_into("<HHI8x", b, 32, 2, len(entries), len(body) + 24)
    b[48:48 + len(body)] = body
    struct.pack_into("<Q", b, 0, fletcher64(b))
    return b


def leaf_entries(node):
    flags, level, nkeys, start, keys, vend = toc(node)
    fixed = flags & 4
    for i in range(nkeys):
        if fixed:
            ko, vo = struct.unpack_from("<HH", node, start + 4 * i)
            yield keys + ko, vend - vo
        else:
            ko, kl, vo, vl = struct.unpack_from("<HHHH", node, start + 8 * i)
            yield keys + ko, vend - vo


def main():
    args = sys.argv[1:]
    src, out, password = args[0], args[1], args[2].encode()
    opt = lambda name, d=None: args[args.index(name) + 1] if name in args else d
    recovery = opt("--recovery")
    hint = opt("--hint")
    iterations = int(opt("--iterations", "1000"))
    moved = "--moved" in args
    free_too = "--free-too" in args
    cs = "--corestorage" in args
    img = Img(open(src, "rb").read())
    bs, spb = img.bs, img.bs // 512
    nx = img.block(0)
    xid = u("<Q", nx, 16)
    cuuid = bytes(nx[72:88])
    count = u("<Q", nx, 40)

    # Every copy of the volume's superblock, through the container object map
    # of every checkpoint's superblock (block 0 and the descriptor ring's
    # copies): older checkpoints lead to older trees, which are encrypted too.
    vol_oid = u("<Q", nx, 184)
    sbs = []
    for n in range(count):
        b = img.block(n)
        if u("<I", b, 32) != 0x4253584E or u("<I", b, 24) & 0xFFFF != 1:
            continue
        cleaf = img.block(u("<Q", img.block(u("<Q", b, 160)), 48))
        for k, v in leaf_entries(cleaf):
            at = u("<Q", cleaf, v + 8)
            if u("<Q", cleaf, k) == vol_oid and at not in sbs:
                sbs.append(at)
    vuuid = bytes(img.block(sbs[0])[240:256])
    vek = hashlib.sha256(b"vek" + password).digest()
    kek = hashlib.sha256(b"kek" + password).digest()
    if cs:
        # CoreStorage's 128-bit keys: the tweak key is the first half of
        # SHA-256(volume key, the VEK blob's UUID).
        vek16, kek = vek[:16], kek[:16]
        vek = vek16 + hashlib.sha256(vek16 + bytes(img.block(sbs[0])[240:256])).digest()[:16]

    # Every object-map entry of the volume: marked encrypted, its node kept.
    nodes = set()
    leaves = set()
    for sbn in sbs:
        omap = u("<Q", img.block(sbn), 128)
        leaf_no = u("<Q", img.block(omap), 48)
        if leaf_no in leaves:
            continue
        leaves.add(leaf_no)
        leaf = img.block(leaf_no)
        for k, v in leaf_entries(leaf):
            struct.pack_into("<I", leaf, v, u("<I", leaf, v) | 4)
            nodes.add(u("<Q", leaf, v + 8))
        img.put(leaf_no, leaf)
    # File extents: each given its crypto_id, then its blocks encrypted.
    extents = {}
    first = True
    for n in sorted(nodes):
        node = img.block(n)
        flags, level, *_ = toc(node)
        if level != 0 or u("<I", node, 24) & 0xFFFF not in (2, 3):
            continue
        for k, v in leaf_entries(node):
            hdr = u("<Q", node, k)
            if hdr >> 60 != 8:
                continue
            length = u("<Q", node, v) & ((1 << 56) - 1)
            phys = u("<Q", node, v + 8)
            if phys == 0:
                continue
            crypto = extents.get(phys, (0, None))[1]
            if crypto is None:
                crypto = phys + (1000 if moved and first else 0)
                first = False
            struct.pack_into("<Q", node, v + 16, crypto)
            extents[phys] = (-(-length // bs), crypto)
        img.put(n, node)
    for phys, (blocks, crypto) in extents.items():
        at = phys * bs
        img.d[at:at + blocks * bs] = xts(vek, crypto * spb, img.d[at:at + blocks * bs])
    for n in nodes:
        img.d[n * bs:(n + 1) * bs] = xts(vek, n * spb, img.block(n))

    # --free-too: blocks the space manager calls free but that hold bytes
    # (a deleted file's data, a tree node let go) were written encrypted
    # while in use, each from its own block (a node's tweak; a file extent's,
    # as it was first written).
    # Objects that are never encrypted (object maps, superblocks, the space
    # manager's) stay as they are even where the bitmap says free, as do
    # tree nodes already encrypted above.
    if free_too:
        for n in range(1, count):
            b = img.block(n)
            if n in nodes or not is_free(img, nx, xid, n) or not any(b):
                continue
            plain_object = u("<Q", b, 0) == fletcher64(b) and u("<Q", b, 0) != 0
            if plain_object and u("<I", b, 28) != 0x0E:
                continue
            img.d[n * bs:(n + 1) * bs] = xts(vek, n * spb, b)

    # The key bags, in the last zero-filled blocks.
    zeros = [n for n in range(count - 1, 0, -1) if not any(img.block(n))]
    cbag_no, vbag_no = zeros[0], zeros[1]
    salt = hashlib.sha256(b"salt" + password).digest()[:16]
    recs = []
    for uuid, secret in [(USER_UUID, password), (RECOVERY_UUID, recovery and recovery.encode())]:
        if secret is None:
            continue
        s = hashlib.sha256(uuid + salt).digest()[:16]
        pk = hashlib.pbkdf2_hmac("sha256", secret, s, iterations, len(kek))
        recs.append((uuid, 3, blob(uuid, aes_key_wrap(pk, kek), iterations, s, cs)))
    if hint:
        recs.append((USER_UUID, 4, hint.encode()))
    vbag = bag(bs, vbag_no, 0x72656373, xid, recs)
    cbag = bag(bs, cbag_no, 0x6B657973, xid, [
        (vuuid, 2, blob(vuuid, aes_key_wrap(kek, vek[:16] if cs else vek), cs=cs)),
        (vuuid, 3, struct.pack("<QQ", vbag_no, 1)),
    ])
    img.d[vbag_no * bs:(vbag_no + 1) * bs] = xts(vuuid + vuuid, vbag_no * spb, vbag)
    img.d[cbag_no * bs:(cbag_no + 1) * bs] = xts(cuuid + cuuid, cbag_no * spb, cbag)

    # The superblocks: the keylocker on every container superblock copy, and
    # every volume superblock no longer unencrypted.
    for n in range(count):
        b = img.block(n)
        if u("<I", b, 32) == 0x4253584E and u("<I", b, 24) & 0xFFFF == 1:
            struct.pack_into("<QQ", b, 1296, cbag_no, 1)
            # NX_CRYPTO_SW: the container's encryption is software's, whose
            # keys are on the disk (not a T2's or Apple silicon's).
            struct.pack_into("<Q", b, 1264, u("<Q", b, 1264) | 4)
            img.put(n, b)
    for n in sbs:
        b = img.block(n)
        struct.pack_into("<Q", b, 264, (u("<Q", b, 264) & ~1) | 8)
        img.put(n, b)
    open(out, "wb").write(img.d)
    print(f"encrypted {len(nodes)} tree blocks and {len(extents)} extents; "
          f"container keybag at block {cbag_no}, volume keybag at {vbag_no}")


if __name__ == "__main__":
    main()
