#!/usr/bin/env python3
"""Three-fragment JPEGs (issue 14): how many `dredge carve` brings back bit-exact,
and how many reassemblies it calls complete that are wrong.

Usage: scripts/bench-jpeg-fragments.py [SEED] [COUNT]   (DREDGE=path/to/dredge;
ONLY=N runs case N alone, KEEP=1 keeps its image and case)

Each case: a JPEG written by ImageMagick (`convert`: plasma fractals, its built-in
rose, logo and netscape pictures, and a synthetic red-blue gradient; 480x360 to
1024x768, quality 75-95, chroma 4:2:0, 4:2:2 or 4:4:4), cut at two random sector
boundaries, the pieces laid in order with 1-399 sectors between them of one
filler (random bytes, zeros, English text, or sectors of the other JPEGs made
before it), 128 KiB of random bytes before and after. Files under 8 KiB are
skipped. A case counts when a carved output has the file's SHA-256; a "false
complete" is an output reassembled from fragments, marked complete, with another
hash. Prints one line per case and the totals by filler and by picture.
"""
import hashlib, os, random, subprocess, sys, tempfile
from collections import Counter

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fragbench import carve, finish, image, only, picture, reassembled  # noqa: E402

seed = int(sys.argv[1]) if len(sys.argv) > 1 else 1
count = int(sys.argv[2]) if len(sys.argv) > 2 else 40
dredge = os.environ.get("DREDGE", "target/release/dredge")
R = random.Random(seed)
work = tempfile.mkdtemp(prefix="jpeg-frag-")
ok = tot = false_complete = 0
by = Counter()
others = []
for i in range(count):
    src, (w, h), cmd = picture(R, i, [(640, 480), (800, 600), (480, 360), (1024, 768)])
    q = R.choice([75, 85, 90, 95])
    samp = R.choice(["2x2", "1x1", "2x1"])
    fn = os.path.join(work, f"s{i}.jpg")
    subprocess.run(cmd + ["-quality", str(q), "-sampling-factor", samp, fn], check=True)
    jpg = open(fn, "rb").read()
    others.append(jpg)
    if len(jpg) < 8192:
        continue
    secs = len(jpg) // 512
    a = R.randrange(2, secs - 2)
    b = R.randrange(a + 1, secs)
    fill = R.choice(["noise", "zeros", "text", "jpeg"])
    g1, g2 = R.randrange(1, 400) * 512, R.randrange(1, 400) * 512
    img = image(R, [jpg[:a * 512], jpg[a * 512:b * 512], jpg[b * 512:]], [g1, g2], fill, others)
    if not only(i):
        continue
    got, wrong = reassembled(carve(dredge, work, img), hashlib.sha256(jpg).hexdigest())
    false_complete += len(wrong)
    for art in wrong:
        print("FALSE COMPLETE", i, art["id"], art["size"])
    tot += 1
    ok += got
    by[(fill, got)] += 1
    by[(src, got)] += 1
    print(i, src, f"{w}x{h}", f"q{q}", samp, len(jpg), "cuts", a * 512, b * 512, "gaps", g1, g2, fill,
          "OK" if got else "MISS", flush=True)
finish(work)
print(f"seed {seed}: {ok}/{tot} bit-exact, {false_complete} false complete")
for k in sorted({k for k, _ in by}):
    print(f"  {k}: {by[(k, True)]}/{by[(k, True)] + by[(k, False)]}")
