#!/usr/bin/env python3
"""Three-fragment ZIPs (issue 14): how many `dredge carve` brings back bit-exact,
and how many reassemblies it calls complete that are wrong.

Usage: scripts/bench-zip-fragments.py [SEED] [COUNT]   (DREDGE=path/to/dredge;
ONLY=N runs case N alone, KEEP=1 keeps its image and case)

Each case: a ZIP written by Info-ZIP's `zip` of 2-9 members (text of random
words, deflated; or random bytes, stored), 2-40 KiB each, cut at two random
sector boundaries of the file, the pieces laid in order with 1-399 sectors
between them of one filler (random bytes, zeros, text, or sectors of the ZIPs
made before it), 128 KiB of random bytes before and after. A case counts when a
carved output has the file's SHA-256; a "false complete" is an output
reassembled from fragments, marked complete, with another hash. The cuts are
anywhere: in one member, in two, or in the directory (dredge places two cuts
in different members or in one member, not in the directory); the line of
each case says where they fell.
"""
import hashlib, os, random, struct, subprocess, sys, tempfile
from collections import Counter

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fragbench import carve, finish, image, only, reassembled  # noqa: E402

seed = int(sys.argv[1]) if len(sys.argv) > 1 else 1
count = int(sys.argv[2]) if len(sys.argv) > 2 else 40
dredge = os.environ.get("DREDGE", "target/release/dredge")
R = random.Random(seed)
work = tempfile.mkdtemp(prefix="zip-frag-")
words = [b"ledger", b"harbour", b"custody", b"invoice", b"shipment", b"exhibit", b"warrant"]
ok = tot = false_complete = 0
by = Counter()
others = []
for i in range(count):
    d = os.path.join(work, f"z{i}")
    os.makedirs(d)
    names = []
    for m in range(R.randrange(2, 10)):
        n = R.randrange(2048, 40960)
        if R.random() < 0.7:
            body = b" ".join(R.choice(words) for _ in range(n // 7))[:n]
        else:
            body = R.randbytes(n)
        names.append(f"m{m}.dat")
        open(os.path.join(d, names[-1]), "wb").write(body)
    subprocess.run(["zip", "-q", "-X", "a.zip"] + names, cwd=d, check=True)
    z = open(os.path.join(d, "a.zip"), "rb").read()
    others.append(z)
    secs = len(z) // 512
    if secs < 4:
        continue
    a = R.randrange(1, secs - 1)
    b = R.randrange(a + 1, secs)
    heads = [j for j in range(len(z) - 3) if z[j:j + 4] == b"PK\x03\x04"]
    cd = struct.unpack("<I", z[-6:-2])[0]

    def where(c):
        if c >= cd:
            return "dir"
        return f"m{max(k for k, h in enumerate(heads) if h < c)}"

    place = f"{where(a * 512)}+{where(b * 512)}"
    fill = R.choice(["noise", "zeros", "text", "zip"])
    g1, g2 = R.randrange(1, 400) * 512, R.randrange(1, 400) * 512
    img = image(R, [z[:a * 512], z[a * 512:b * 512], z[b * 512:]], [g1, g2], fill, others)
    if not only(i):
        continue
    got, wrong = reassembled(carve(dredge, work, img), hashlib.sha256(z).hexdigest())
    false_complete += len(wrong)
    for art in wrong:
        print("FALSE COMPLETE", i, art["id"], art["size"])
    two_members = place.count("m") == 2 and place.split("+")[0] != place.split("+")[1]
    kind = "different members" if two_members else "same member or directory"
    tot += 1
    ok += got
    by[(kind, got)] += 1
    by[(fill, got)] += 1
    print(i, len(z), "cuts", a * 512, b * 512, place, "gaps", g1, g2, fill, "OK" if got else "MISS", flush=True)
finish(work)
print(f"seed {seed}: {ok}/{tot} bit-exact, {false_complete} false complete")
for k in sorted({k for k, _ in by}):
    print(f"  {k}: {by[(k, True)]}/{by[(k, True)] + by[(k, False)]}")
