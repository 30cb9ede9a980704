#!/usr/bin/env python3
"""Three-fragment PNGs (issue 14): how many `dredge carve` brings back bit-exact,
and how many reassemblies it calls complete that are wrong.

Usage: scripts/bench-png-fragments.py [SEED] [COUNT]   (DREDGE=path/to/dredge;
ONLY=N runs case N alone, KEEP=1 keeps its image and case)

Each case: a PNG written by ImageMagick (`convert`: plasma fractals, its
built-in rose, logo and netscape pictures, or a red-blue gradient; 320x240 to
1024x768, RGB, RGB with alpha or grey; libpng's 8 KiB IDAT chunks), cut at
two random sector boundaries, the
pieces laid in order with 1-399 sectors between them of one filler (random
bytes, zeros, English text, or sectors of the other PNGs made before it),
128 KiB of random bytes before and after. Files under 8 KiB are skipped. A
case counts when a carved output has the file's SHA-256; a "false complete" is
an output reassembled from fragments, marked complete, with another hash.
Prints one line per case (which chunks the cuts fell in) and the totals by
filler and by picture.
"""
import hashlib, os, random, struct, subprocess, sys, tempfile
from collections import Counter

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fragbench import carve, finish, image, only, picture, reassembled  # noqa: E402

seed = int(sys.argv[1]) if len(sys.argv) > 1 else 1
count = int(sys.argv[2]) if len(sys.argv) > 2 else 40
dredge = os.environ.get("DREDGE", "target/release/dredge")
R = random.Random(seed)
work = tempfile.mkdtemp(prefix="png-frag-")
ok = tot = false_complete = 0
by = Counter()
others = []


def chunks(png):
    """(offset, type) of each chunk."""
    out, at = [], 8
    while at + 8 <= len(png):
        n, t = struct.unpack(">I4s", png[at:at + 8])
        out.append((at, t.decode("latin-1")))
        at += 12 + n
    return out


for i in range(count):
    src, (w, h), cmd = picture(R, i, [(320, 240), (640, 480), (800, 600), (1024, 768)])
    kind = R.choice(["TrueColor", "TrueColorAlpha", "Grayscale"])
    fn = os.path.join(work, f"s{i}.png")
    subprocess.run(cmd + ["-type", kind, fn], check=True)
    png = open(fn, "rb").read()
    others.append(png)
    if len(png) < 8192:
        continue
    secs = len(png) // 512
    a = R.randrange(1, secs - 1)
    b = R.randrange(a + 1, secs)
    cs = chunks(png)

    def where(c):
        k = max(j for j, (at, _) in enumerate(cs) if at <= c)
        return f"{cs[k][1]}{k}"

    place = f"{where(a * 512)}+{where(b * 512)}"
    fill = R.choice(["noise", "zeros", "text", "png"])
    g1, g2 = R.randrange(1, 400) * 512, R.randrange(1, 400) * 512
    img = image(R, [png[:a * 512], png[a * 512:b * 512], png[b * 512:]], [g1, g2], fill, others)
    if not only(i):
        continue
    got, wrong = reassembled(carve(dredge, work, img), hashlib.sha256(png).hexdigest())
    false_complete += len(wrong)
    for art in wrong:
        print("FALSE COMPLETE", i, art["id"], art["size"])
    same = place.split("+")[0] == place.split("+")[1]
    tot += 1
    ok += got
    by[(fill, got)] += 1
    by[(src, got)] += 1
    by[("cuts in one chunk" if same else "cuts in two chunks", got)] += 1
    print(i, src, f"{w}x{h}", kind, len(png), "cuts", a * 512, b * 512, place, "gaps", g1, g2, fill,
          "OK" if got else "MISS", flush=True)
finish(work)
print(f"seed {seed}: {ok}/{tot} bit-exact, {false_complete} false complete")
for k in sorted({k for k, _ in by}):
    print(f"  {k}: {by[(k, True)]}/{by[(k, True)] + by[(k, False)]}")
