#!/usr/bin/env python3
"""A filesystem written through its real driver, then recovered by dredge and
by The Sleuth Kit: every file the driver holds must come back by its path with
its SHA-256, and the files deleted before the end are counted for both tools.

Usage: scripts/sweep-fs-differential.py DREDGE FS SEED   (as root)
FS: ext2, ext3, ext4 (loop mount; ext4 with inline data at random), ntfs
(ntfs-3g, with alternate data streams and a compressed folder), exfat (exfat-fuse on a loop device),
fat12, fat16, fat32 (mtools). The seed draws the volume's size and cluster
size, 20-200 files of 0 bytes to 1 MiB (random or text) in up to 40 folders
with names of 1 to 100 characters (ASCII, accented Latin, Japanese; but on
FAT, euro signs and brackets), a fifth of them deleted, then up to 10 more
files written over the freed space; through a mounted driver also sparse
files, pairs of files grown in turns, hard links (not on exFAT), renames and
rewrites, and at random a folder of 300-900 small files and two files grown
in turns hundreds of times. Prints the files the driver holds that dredge misses or gets wrong
(by path and SHA-256), then how many of the deleted files came back by path
with their content, from dredge and from tsk_recover.
"""
import hashlib, json, os, random, shutil, sqlite3, subprocess, sys, time

DREDGE, FS, SEED = sys.argv[1], sys.argv[2], int(sys.argv[3])
R = random.Random(SEED)
work = f"/tmp/dredge-sweep-{FS}-{SEED}"
shutil.rmtree(work, ignore_errors=True)
os.makedirs(f"{work}/mnt")
img, mnt = f"{work}/img.raw", f"{work}/mnt"
run = lambda *a, **k: subprocess.run(*a, check=True, capture_output=True, **k)
# (FAT12 holds at most 4 084 clusters, FAT16 at most 65 524, FAT32 at
# least 65 525.)
size = {"fat12": [4], "fat16": [48, 96], "fat32": [96, 200]}.get(FS, [48, 96, 200])
run(["truncate", "-s", str(R.choice(size) << 20), img])
FAT = FS.startswith("fat")


def write(path, c):
    """Writes a file whole; a full volume fails here, at the write or the
    close (an unclosed file's error on close would pass unseen)."""
    with open(path, "wb") as f:
        f.write(c)


def name():
    # Through mtools FAT's long names refuse ()[], and a short name takes
    # "EUR" for a euro sign (then no long name keeps it); the others take all.
    alpha = "abcdefghijklmnopqrstuvwxyzABCDEF0123456789 _-.äöüéßñ日本語テスト" + ("" if FAT else "()[]€")
    s = "".join(R.choice(alpha) for _ in range(R.choice([1, 3, 8, 12, 40, 100]))).strip(" .")
    return s or "x"


def content():
    n = R.choice([0, 1, 100, 511, 512, 513, 4095, 4096, 4097, 70000, 300000, 1 << 20])
    return R.randbytes(n) if R.random() < .5 else bytes(R.choice(b"abc\n ") for _ in range(n))


class Mounted:
    """Files written through a mounted driver."""
    def __init__(self):
        self.loop = None
        if FS in ("ext2", "ext3", "ext4"):
            # ext4 with or without small files kept in their inodes.
            extra = ["-O", "inline_data"] if FS == "ext4" and R.random() < .5 else []
            run([f"mkfs.{FS}", "-q", "-F", "-b", str(R.choice([1024, 4096]))] + extra + [img])
            run(["mount", "-o", "loop", img, mnt])
        elif FS == "ntfs":
            run(["mkfs.ntfs", "-F", "-q", "-c", str(R.choice([512, 4096, 65536])), img])
            # Streams named as Windows names them (`file:stream`); files in
            # a folder marked compressed are stored LZNT1-compressed.
            run(["ntfs-3g", "-o", "streams_interface=windows,compression", img, mnt])
            if R.random() < .7:
                os.mkdir(os.path.join(mnt, "packed"))
                os.setxattr(os.path.join(mnt, "packed"), "system.ntfs_attrib_be", (0x800).to_bytes(4, "big"))
        else:
            run(["mkfs.exfat", "-c", str(R.choice([4096, 32768, 131072])), img])
            self.loop = run(["losetup", "-f", "--show", img], text=True).stdout.strip()
            run(["mount.exfat-fuse", self.loop, mnt])

    def mkdir(self, d):
        try:
            os.makedirs(os.path.join(mnt, d), exist_ok=True)
            return True
        except OSError:
            return False

    def put(self, p, c):
        if os.path.exists(os.path.join(mnt, p)):
            return False
        try:
            write(os.path.join(mnt, p), c)
            return True
        except OSError:
            return False

    def rm(self, p):
        os.remove(os.path.join(mnt, p))
        return True

    def close(self):
        run(["umount", mnt])
        if self.loop:
            time.sleep(0.5)
            run(["losetup", "-d", self.loop])


class Mtools:
    """Files written by mtools, which keeps FAT as DOS and Windows do."""
    def __init__(self):
        bits = FS[3:]
        per = {"12": [4, 8], "16": [4, 8, 16], "32": [1, 2]}[bits]
        run(["mkfs.vfat", "-F", bits, "-s", str(R.choice(per)), img])

    def mkdir(self, d):
        return subprocess.run(["mmd", "-i", img, "::/" + d], capture_output=True).returncode == 0

    def put(self, p, c):
        t = f"{work}/put.tmp"
        write(t, c)
        return subprocess.run(["mcopy", "-n", "-i", img, t, "::/" + p], capture_output=True).returncode == 0

    def rm(self, p):
        return subprocess.run(["mdel", "-i", img, "::/" + p], capture_output=True).returncode == 0

    def close(self):
        pass


def more(held, dirs):
    """Through a mounted driver: sparse files, two files grown in turns (so
    their blocks interleave), hard links, renames and rewrites."""
    at = lambda p: os.path.join(mnt, p)
    fresh = lambda: os.path.join(R.choice(dirs), name())
    taken = lambda p: p.lower() in {k.lower() for k in held} or p in dirs
    for _ in range(R.randint(0, 4)):
        p = fresh()
        if taken(p):
            continue
        c = content()
        off = R.randrange(0, 8 << 20) // 512 * 512 + R.choice([0, 1, 4096])
        try:
            with open(at(p), "wb") as f:
                f.seek(off)
                f.write(c)
        except OSError:
            continue
        # (A seek with nothing written after it does not grow the file.)
        held[p] = hashlib.sha256(bytes(off) + c if c else b"").hexdigest()
    for _ in range(R.randint(0, 3)):
        a, b = fresh(), fresh()
        if taken(a) or taken(b) or a == b:
            continue
        ca, cb = b"", b""
        try:
            with open(at(a), "wb") as fa, open(at(b), "wb") as fb:
                for _ in range(R.randint(2, 40)):
                    x, y = R.randbytes(R.choice([512, 4096, 5000])), R.randbytes(4096)
                    fa.write(x); fa.flush(); os.fsync(fa.fileno())
                    fb.write(y); fb.flush(); os.fsync(fb.fileno())
                    ca, cb = ca + x, cb + y
        except OSError:
            continue
        held[a], held[b] = hashlib.sha256(ca).hexdigest(), hashlib.sha256(cb).hexdigest()
    if R.random() < .4:
        # A folder of many small files (index blocks, more than one level),
        # and two files grown in turns hundreds of times (a run list too long
        # for one record: NTFS's attribute list, ext4's deeper extent tree).
        big = fresh()
        if not taken(big):
            try:
                os.makedirs(at(big))
                dirs.append(big)
                for k in range(R.randint(300, 900)):
                    q, c = os.path.join(big, f"f{k:04d}-{name()[:20]}"), R.randbytes(R.randrange(0, 300))
                    write(at(q), c)
                    held[q] = hashlib.sha256(c).hexdigest()
            except OSError:
                pass
        a, b = fresh(), fresh()
        if not (taken(a) or taken(b) or a == b):
            ca, cb = [], []
            try:
                with open(at(a), "wb") as fa, open(at(b), "wb") as fb:
                    for _ in range(R.randint(150, 400)):
                        x, y = R.randbytes(R.choice([512, 4096])), R.randbytes(4096)
                        fa.write(x); fa.flush(); os.fsync(fa.fileno())
                        fb.write(y); fb.flush(); os.fsync(fb.fileno())
                        ca.append(x); cb.append(y)
                held[a] = hashlib.sha256(b"".join(ca)).hexdigest()
                held[b] = hashlib.sha256(b"".join(cb)).hexdigest()
            except OSError:
                pass
    for p in list(held):
        if ":" in p:
            continue
        roll = R.random()
        q = fresh()
        if taken(q):
            continue
        try:
            if roll < .05 and FS != "exfat":
                os.link(at(p), at(q))
                held[q] = held[p]
            elif roll < .10:
                os.rename(at(p), at(q))
                held[q] = held.pop(p)
            elif roll < .15:
                # Rewritten as editors do (a new file renamed over it), so a
                # hard link to the old one keeps the old content.
                c = content()
                write(at(p) + "~", c)
                os.replace(at(p) + "~", at(p))
                held[p] = hashlib.sha256(c).hexdigest()
        except OSError:
            pass
    if FS == "ntfs":
        # Alternate data streams on some files (last: a rename would take
        # the stream along, a rewrite drop it), one per file (its hard links
        # share it).
        streamed = set()
        for p in list(held):
            ino = os.stat(at(p)).st_ino if os.path.exists(at(p)) else None
            if R.random() < .1 and ino not in streamed:
                streamed.add(ino)
                c = content()
                try:
                    write(at(p) + ":ads", c)
                    held[p + ":ads"] = hashlib.sha256(c).hexdigest()
                except OSError:
                    pass


fs = Mtools() if FAT else Mounted()
held, deleted, dirs = {}, {}, [""]
if FS == "ntfs" and os.path.isdir(os.path.join(mnt, "packed")):
    dirs.append("packed")
try:
    for _ in range(R.randint(20, 200)):
        if R.random() < .15 and len(dirs) < 40:
            d = os.path.join(R.choice(dirs), name())
            if d not in dirs and fs.mkdir(d):
                dirs.append(d)
            continue
        p, c = os.path.join(R.choice(dirs), name()), content()
        if p in dirs or p.lower() in {k.lower() for k in held}:
            continue
        if fs.put(p, c):
            held[p] = hashlib.sha256(c).hexdigest()
    for p in list(held):
        if R.random() < .2 and fs.rm(p):
            deleted[p] = held.pop(p)
    for _ in range(R.randint(0, 10)):
        p, c = name(), content()
        if p.lower() not in {k.lower() for k in held} and fs.put(p, c):
            held[p] = hashlib.sha256(c).hexdigest()
    if not FAT:
        more(held, dirs)
finally:
    fs.close()

case = f"{work}/case"
o = subprocess.run([DREDGE, "--progress", "none", "recover", img, "--out", case], capture_output=True, text=True)
if o.returncode not in (0, 3):
    sys.exit(f"{FS} {SEED}: dredge exit {o.returncode}: {o.stderr[-2000:]}")
db = sqlite3.connect(f"{case}/case.sqlite")
live, dead, intact = {}, {}, {}
# A file with several names (hard links) is one artifact; its other names
# are listed with it.
for path, others, gone, sha, rec in db.execute(
        "SELECT path, other_names, deleted, sha256, recovery FROM artifacts WHERE origin = 'filesystem'"):
    for p in [path] + json.loads(others or "[]"):
        (dead if gone else live).setdefault(p, set()).add(sha)
        if gone and rec == "deleted-intact":
            intact.setdefault(p, set()).add(sha)


def found(table, p, h):
    return any(h in v for k, v in table.items() if k == "/" + p or k.endswith("/" + p))


bad = 0
for p, h in held.items():
    if not found(live, p, h):
        bad += 1
        print(f"{FS} {SEED}: {'WRONG' if any(k.endswith('/' + p) for k in live) else 'MISSING'} {p!r}")
tsk = f"{work}/tsk"
subprocess.run(["tsk_recover", img, tsk], capture_output=True)
by_tsk = {}
for d, _, files in os.walk(tsk):
    for f in files:
        q = os.path.join(d, f)
        by_tsk[os.path.relpath(q, tsk)] = hashlib.sha256(open(q, "rb").read()).hexdigest()
print(f"{FS} {SEED}: {len(held)} files held, {bad} missed or wrong; dredge exit {o.returncode}")
# A deleted file called intact whose content is not what was deleted there.
false_intact = sum(1 for p, h in deleted.items()
                   if any(h not in v for k, v in intact.items() if k == "/" + p))
print(f"{FS} {SEED}: deleted {len(deleted)}: dredge by path {sum(found(dead, p, h) for p, h in deleted.items())} "
      f"({false_intact} called intact with other content), "
      f"tsk_recover by path {sum(by_tsk.get(p) == h for p, h in deleted.items())}")
shutil.rmtree(work, ignore_errors=True)
