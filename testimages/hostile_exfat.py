"""exFAT classes of make-hostile.py (same licence and conventions).

exfat-dir-bomb: an exFAT volume written by mkfs.exfat and exfat-fuse, holding
honest files, then a folder of hundreds of empty subfolders whose stream
extensions are rewritten (valid set checksums) to say: contiguous (NoFatChain),
64 GiB long. Each subfolder then claims every cluster from its own to the end of
the volume as directory data, so a reader that reads each folder's claim reads
the volume once per folder, and finds the other folders' entries again in it.
Honest files are written after them too.
"""
import os
import struct
import subprocess
import tempfile


def _le(b, o, n):
    return int.from_bytes(b[o:o + n], "little")


def _set_checksum(entries):
    c = 0
    for i, x in enumerate(entries):
        if i in (2, 3):
            continue
        c = (((c << 15) | (c >> 1)) + x) & 0xFFFF
    return c


class _Vol:
    def __init__(self, f):
        self.f = f
        f.seek(0)
        b = f.read(512)
        self.bps = 1 << b[108]
        self.cs = self.bps << b[109]
        self.fat = _le(b, 80, 4) * self.bps
        self.heap = _le(b, 88, 4) * self.bps
        self.root = _le(b, 96, 4)

    def at(self, c):
        return self.heap + (c - 2) * self.cs

    def chain(self, c, contiguous, n):
        out = []
        while 2 <= c < 0xFFFFFFF7 and len(out) < n:
            out.append(c)
            if contiguous:
                c += 1
            else:
                self.f.seek(self.fat + 4 * c)
                c = _le(self.f.read(4), 0, 4)
        return out

    def sets(self, clusters):
        """(image offset of each entry, entry bytes) of every file entry set."""
        slots = []
        for c in clusters:
            self.f.seek(self.at(c))
            data = self.f.read(self.cs)
            slots += [(self.at(c) + i, data[i:i + 32]) for i in range(0, self.cs, 32)]
        i = 0
        while i < len(slots):
            e = slots[i][1]
            if e[0] == 0x85:
                n = e[1]
                yield slots[i:i + n + 1]
                i += n + 1
            else:
                i += 1


def _name(s):
    return b"".join(e[2:32] for _, e in s[2:]).decode("utf-16-le").split("\0")[0][: s[1][1][3]]


def exfat_dir_bomb(out, rng, honest_files, sha):
    if os.path.exists(out):
        os.remove(out)
    with open(out, "wb") as f:
        f.truncate(32 << 20)
    subprocess.run(["mkfs.exfat", "-c", "4096", "-L", "BOMB", out], check=True, capture_output=True)
    loop = subprocess.run(["losetup", "-f", "--show", out], check=True, capture_output=True,
                          text=True).stdout.strip()
    mnt = tempfile.mkdtemp()
    want = {}
    n = rng.randrange(600, 1200)
    try:
        subprocess.run(["mount.exfat-fuse", loop, mnt], check=True, capture_output=True)
        try:
            want.update(honest_files(rng, mnt, rng.randrange(3, 7), "a-"))
            os.mkdir(os.path.join(mnt, "docs"))
            want.update({"/docs" + k: v for k, v in
                         honest_files(rng, os.path.join(mnt, "docs"), rng.randrange(3, 7)).items()})
            os.mkdir(os.path.join(mnt, "z"))
            for i in range(n):
                os.mkdir(os.path.join(mnt, "z", f"d{i:04d}"))
            want.update(honest_files(rng, mnt, rng.randrange(3, 7), "zz-"))
        finally:
            subprocess.run(["umount", mnt], check=True)
    finally:
        subprocess.run(["losetup", "-d", loop], check=True)
        os.rmdir(mnt)
    done = 0
    with open(out, "r+b") as f:
        v = _Vol(f)
        root = v.chain(v.root, False, 1 << 16)
        z = next(s for s in v.sets(root) if _name(s) == "z")
        st = z[1][1]
        zc = v.chain(_le(st, 20, 4), st[1] & 2, _le(st, 24, 8) // v.cs + 1)
        for s in v.sets(zc):
            if not _name(s).startswith("d") or not s[0][1][4] & 0x10:
                continue
            at, e = s[1]
            e = bytearray(e)
            e[1] |= 0x03  # allocation possible, no FAT chain
            struct.pack_into("<Q", e, 8, 1 << 36)  # valid data length
            struct.pack_into("<Q", e, 24, 1 << 36)  # data length
            entries = bytearray(s[0][1]) + e + b"".join(x for _, x in s[2:])
            struct.pack_into("<H", entries, 2, _set_checksum(entries))
            f.seek(s[0][0])
            f.write(entries[:32])
            f.seek(at)
            f.write(entries[32:64])
            done += 1
    if done < n // 2:
        raise SystemExit(f"only {done} of {n} folders rewritten")
    return want
