#!/usr/bin/env python3
"""FLAC files in two pieces (issue 14): how many `dredge carve` brings back
bit-exact, how many reassemblies it calls complete that are wrong, and the
same for FLAC files changed in place (one to 512 bytes overwritten, no cut:
a reassembly there is always wrong); and each file intact, which must come
back bit-exact and complete. PhotoRec runs on the two-piece images.

Usage: scripts/bench-flac-pieces.py [SEED] [COUNT]   (DREDGE=path/to/dredge;
ONLY=N runs case N alone, KEEP=1 keeps the work folder)

Each case: a WAV of 2-8 s (mono or stereo, 16-bit, 22 050 to 48 000 Hz, tones,
chirps and noise at random levels) encoded by flac at a random compression
level (0-8) and block size (default, 1152, 2304 or 4608), cut at a random
sector boundary past its metadata, the rest after 1-2 000 sectors of one
filler (random bytes, zeros, English text, or sectors of the FLACs made
before it), 128 KiB of random bytes before and after. A case counts when a
carved output has the file's SHA-256.
"""
import hashlib, math, os, random, struct, subprocess, sys, tempfile, wave
from collections import Counter

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fragbench import carve, finish, image, only, reassembled  # noqa: E402

seed = int(sys.argv[1]) if len(sys.argv) > 1 else 1
count = int(sys.argv[2]) if len(sys.argv) > 2 else 30
dredge = os.environ.get("DREDGE", "target/release/dredge")
R = random.Random(seed)
work = tempfile.mkdtemp(prefix="flac-pieces-")
by = Counter()
others = []


def wav(path):
    rate = R.choice([22050, 32000, 44100, 48000])
    chans = R.choice([1, 2])
    secs = R.uniform(2, 8)
    f1, f2, noise = R.uniform(80, 2000), R.uniform(200, 6000), R.uniform(0, 0.3)
    n = int(rate * secs)
    frames = bytearray()
    for i in range(n):
        t = i / rate
        for c in range(chans):
            v = 0.4 * math.sin(2 * math.pi * (f1 + 50 * c) * t) \
                + 0.2 * math.sin(2 * math.pi * f2 * t * (1 + t / 8)) + noise * (R.random() - 0.5)
            frames += struct.pack("<h", max(-32768, min(32767, int(v * 32767))))
    with wave.open(path, "wb") as w:
        w.setnchannels(chans)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(bytes(frames))


def photorec(img):
    """The SHA-256 of every file PhotoRec carves from `img`."""
    d = os.path.join(work, "pr")
    subprocess.run(["rm", "-rf", d])
    os.makedirs(d)
    raw = os.path.join(d, "img.raw")
    open(raw, "wb").write(img)
    subprocess.run(["photorec", "/log", "/d", os.path.join(d, "out"), "/cmd", raw,
                    "partition_none,fileopt,everything,enable,search"], cwd=d,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    hs = set()
    for root, _, fs in os.walk(d):
        for f in fs:
            if root != d:
                hs.add(hashlib.sha256(open(os.path.join(root, f), "rb").read()).hexdigest())
    return hs


for i in range(count):
    src = os.path.join(work, f"s{i}.wav")
    wav(src)
    level = R.randrange(0, 9)
    bs = R.choice([None, 1152, 2304, 4608])
    out = os.path.join(work, f"s{i}.flac")
    cmd = ["flac", "-s", "-f", f"-{level}", "-o", out, src] + ([f"--blocksize={bs}"] if bs else [])
    subprocess.run(cmd, check=True)
    flac = open(out, "rb").read()
    others.append(flac)
    first = flac.find(b"\xff\xf8")
    if first < 0 or len(flac) - first < 4096:
        continue
    cut = R.randrange(first // 512 + 1, len(flac) // 512) * 512
    fill = R.choice(["noise", "zeros", "text", "flac"])
    gap = R.randrange(1, 2001) * 512
    want = hashlib.sha256(flac).hexdigest()
    # The same file changed in place: a stretch overwritten, no cut.
    hit = R.randrange(first + 64, len(flac) - 8)
    n = R.randrange(1, 513)
    changed = bytearray(flac)
    changed[hit:hit + n] = R.randbytes(len(changed[hit:hit + n]))
    img = image(R, [flac[:cut], flac[cut:]], [gap], fill, others)
    img2 = image(R, [bytes(changed)], [], "noise", others)
    img3 = image(R, [flac], [], "noise", others)
    if not only(i):
        continue
    got, wrong = reassembled(carve(dredge, work, img), want)
    pr = want in photorec(img)
    _, wrong2 = reassembled(carve(dredge, work, img2), want)
    intact = any(a.get("sha256") == want and a.get("status") == "complete"
                 for a in carve(dredge, work, img3))
    by[("intact, complete and bit-exact", intact)] += 1
    by[("dredge two pieces", got)] += 1
    by[("PhotoRec two pieces", pr)] += 1
    by[(f"filler {fill}", got)] += 1
    by[("false complete, two pieces", bool(wrong))] += 1
    by[("false complete, changed in place", bool(wrong2))] += 1
    print(i, f"level {level} blocksize {bs or 'default'}", len(flac), "cut", cut, "gap", gap, fill,
          "OK" if got else "MISS", "PhotoRec", "OK" if pr else "MISS", "intact OK" if intact else "intact MISS",
          "FALSE" if wrong or wrong2 else "", [(a["id"], a["size"]) for a in wrong + wrong2], flush=True)
finish(work)
for k in sorted({k for k, _ in by}):
    print(f"  {k}: {by[(k, True)]}/{by[(k, True)] + by[(k, False)]}")
