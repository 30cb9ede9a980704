#!/usr/bin/env python3
"""Two-fragment PDFs (issue 14): how many `dredge carve` brings back bit-exact,
and how many reassemblies it calls complete that are wrong.

Usage: scripts/bench-pdf-fragments.py [SEED] [COUNT]   (DREDGE=path/to/dredge;
ONLY=N runs case N alone, KEEP=1 keeps its image and case; PIECES=3 cuts each
file at two boundaries instead of one)

Each case: a PDF written by Ghostscript's pdfwrite from PostScript text pages
(1-30 pages of random words; FlateDecode content streams and fonts), in a third
of them a photo (ImageMagick plasma, JPEG) placed by Ghostscript's viewjpeg.ps
(a DCTDecode stream), then as written, rewritten by qpdf with object streams
(an xref stream), or linearized by qpdf. It is cut at one random sector
boundary and the pieces are laid in order with 1-399 sectors between them of
one filler (random bytes, zeros, text, or sectors of the PDFs made before it),
128 KiB of random bytes before and after. A case counts when a carved output
has the file's SHA-256; a "false complete" is an output at the file's offset
marked `carved-complete` with another hash.
"""
import hashlib, os, random, subprocess, sys, tempfile
from collections import Counter

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fragbench import carve, finish, image, only  # noqa: E402

seed = int(sys.argv[1]) if len(sys.argv) > 1 else 1
count = int(sys.argv[2]) if len(sys.argv) > 2 else 30
dredge = os.environ.get("DREDGE", "target/release/dredge")
R = random.Random(seed)
work = tempfile.mkdtemp(prefix="pdf-frag-")
words = ["meet", "at", "the", "harbour", "tonight", "bring", "cash", "ledger", "(copy)", "tuesday"]
viewjpeg = subprocess.run(["sh", "-c", "ls /usr/share/ghostscript/*/lib/viewjpeg.ps"],
                          capture_output=True, text=True).stdout.split()[0]


def make(i):
    """A PDF made by Ghostscript (and qpdf): (bytes, what it holds)."""
    ps, pdf = os.path.join(work, f"t{i}.ps"), os.path.join(work, f"p{i}.pdf")
    lines = ["%!PS", f"/{R.choice(['Courier', 'Helvetica', 'Times-Roman'])} findfont 10 scalefont setfont"]
    for _ in range(R.randrange(1, 31)):
        y = 760
        for _ in range(R.randrange(5, 62)):
            text = " ".join(R.choice(words) for _ in range(R.randrange(3, 14))).replace("(", "\\(").replace(")", "\\)")
            lines.append(f"40 {y} moveto ({text}) show")
            y -= 12
        lines.append("showpage")
    open(ps, "w").write("\n".join(lines) + "\n")
    args = ["gs", "-q", "-dNOPAUSE", "-dBATCH", "-dNOSAFER", "-sDEVICE=pdfwrite", f"-sOutputFile={pdf}", ps]
    what = "text"
    if R.random() < 0.33:
        jpg = os.path.join(work, f"i{i}.jpg")
        w, h = R.randrange(100, 500), R.randrange(100, 400)
        subprocess.run(["convert", "-size", f"{w}x{h}", "-seed", str(R.randrange(1 << 30)), "plasma:fractal",
                        "-quality", str(R.randrange(60, 95)), jpg], check=True)
        args += [viewjpeg, "-c", f"({jpg}) viewJPEG showpage"]
        what = "text+photo"
    subprocess.run(args, check=True)
    form = R.choice(["as written", "object streams", "linearized"])
    if form != "as written":
        out = pdf + ".q"
        flag = "--object-streams=generate" if form == "object streams" else "--linearize"
        subprocess.run(["qpdf", flag, pdf, out], check=True)
        pdf = out
    return open(pdf, "rb").read(), f"{what}, {form}"


ok = tot = false_complete = 0
by = Counter()
others = []
for i in range(count):
    pdf, what = make(i)
    others.append(pdf)
    cut = R.randrange(1, max(2, len(pdf) // 512)) * 512
    fill = R.choice(["noise", "zeros", "text", "pdf"])
    g = R.randrange(1, 400) * 512
    if os.environ.get("PIECES") == "3":
        sectors = len(pdf) // 512
        if sectors < 3:
            continue
        a, b = sorted(R.sample(range(1, sectors), 2))
        cut = (a * 512, b * 512)
        g2 = R.randrange(1, 400) * 512
        img = image(R, [pdf[:cut[0]], pdf[cut[0]:cut[1]], pdf[cut[1]:]], [g, g2], fill, others)
        g = (g, g2)
    else:
        img = image(R, [pdf[:cut], pdf[cut:]], [g], fill, others)
    if not only(i):
        continue
    want = hashlib.sha256(pdf).hexdigest()
    got, status = False, "not carved"
    for art in carve(dredge, work, img):
        if art.get("sha256") == want:
            got = True
        if art["id"].endswith(f"/{0x20000:x}/pdf"):
            status = art["recovery"]
            if art.get("sha256") != want and status == "carved-complete":
                false_complete += 1
                print("FALSE COMPLETE", i, art["id"], art["size"], art.get("recovery_detail"))
    tot += 1
    ok += got
    by[(what, got)] += 1
    by[(fill, got)] += 1
    print(i, len(pdf), what, "cut", cut, "gap", g, fill, "OK" if got else f"MISS ({status})", flush=True)
finish(work)
print(f"seed {seed}: {ok}/{tot} bit-exact, {false_complete} false complete")
for k in sorted({k for k, _ in by}):
    print(f"  {k}: {by[(k, True)]}/{by[(k, True)] + by[(k, False)]}")
