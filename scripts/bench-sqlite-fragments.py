#!/usr/bin/env python3
"""Two-fragment SQLite databases (issue 14): how many `dredge carve` brings back
bit-exact, and how many reassemblies it calls complete that are wrong.

Usage: scripts/bench-sqlite-fragments.py [SEED] [COUNT]   (DREDGE=path/to/dredge;
ONLY=N runs case N alone, KEEP=1 keeps its image and case)

Each case: a database written by Python's sqlite3 (page size 1-16 KiB; a
message table with an index, a table of blobs that spill into overflow pages,
rows deleted so the freelist holds pages, sometimes VACUUMed), cut at one random
sector boundary, the pieces laid in order with 1-399 sectors between them of
one filler (random bytes, zeros, text, or sectors of the databases made before
it), 128 KiB of random bytes before and after. A case counts when a carved output
has the file's SHA-256; a "false complete" is an output at the database's
offset marked `carved-complete` with another hash (one marked
`carved-unverified-contiguous` with another hash is counted apart).
"""
import hashlib, os, random, sqlite3, sys, tempfile
from collections import Counter

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fragbench import carve, finish, image, only  # noqa: E402

seed = int(sys.argv[1]) if len(sys.argv) > 1 else 1
count = int(sys.argv[2]) if len(sys.argv) > 2 else 30
dredge = os.environ.get("DREDGE", "target/release/dredge")
R = random.Random(seed)
work = tempfile.mkdtemp(prefix="sqlite-frag-")
words = ["meet", "at", "the", "harbour", "tonight", "bring", "cash", "ledger"]
ok = tot = false_complete = unverified_wrong = 0
by = Counter()
others = []
for i in range(count):
    path = os.path.join(work, f"d{i}.db")
    c = sqlite3.connect(path)
    ps = R.choice([1024, 4096, 4096, 8192, 16384])
    c.execute(f"PRAGMA page_size={ps}")
    c.execute("CREATE TABLE msgs(id INTEGER PRIMARY KEY, sender TEXT, body TEXT, ts INTEGER)")
    c.execute("CREATE INDEX by_sender ON msgs(sender)")
    c.execute("CREATE TABLE blobs(k TEXT, v BLOB)")
    for j in range(R.randrange(200, 4000)):
        body = " ".join(R.choice(words) for _ in range(R.randrange(3, 60)))
        c.execute("INSERT INTO msgs(sender, body, ts) VALUES (?, ?, ?)", (f"user{R.randrange(80)}", body, 1700000000 + j))
    for j in range(R.randrange(0, 30)):
        c.execute("INSERT INTO blobs VALUES (?, ?)", (f"k{j}", R.randbytes(R.randrange(50, 30000))))
    c.execute(f"DELETE FROM msgs WHERE id % {R.randrange(3, 20)} = 0")
    c.commit()
    if R.random() < 0.3:
        c.execute("VACUUM")
    c.close()
    db = open(path, "rb").read()
    others.append(db)
    secs = len(db) // 512
    cut = R.randrange(1, secs) * 512
    fill = R.choice(["noise", "zeros", "text", "sqlite"])
    g = R.randrange(1, 400) * 512
    img = image(R, [db[:cut], db[cut:]], [g], fill, others)
    if not only(i):
        continue
    want = hashlib.sha256(db).hexdigest()
    got, status = False, "not carved"
    for art in carve(dredge, work, img):
        if art.get("sha256") == want:
            got = True
        if art["id"].endswith(f"/{0x20000:x}/sqlite"):
            status = art["recovery"]
            if art.get("sha256") != want and status == "carved-complete":
                false_complete += 1
                print("FALSE COMPLETE", i, art["id"], art["size"], art["recovery_detail"])
            elif art.get("sha256") != want and status == "carved-unverified-contiguous":
                unverified_wrong += 1
    page_aligned = cut % ps == 0
    tot += 1
    ok += got
    by[("cut at a page boundary" if page_aligned else "cut inside a page", got)] += 1
    by[(fill, got)] += 1
    print(i, len(db), "page", ps, "cut", cut, "gap", g, fill, "OK" if got else f"MISS ({status})", flush=True)
finish(work)
print(f"seed {seed}: {ok}/{tot} bit-exact, {false_complete} false complete, "
      f"{unverified_wrong} wrong but marked unverified-contiguous")
for k in sorted({k for k, _ in by}):
    print(f"  {k}: {by[(k, True)]}/{by[(k, True)] + by[(k, False)]}")
