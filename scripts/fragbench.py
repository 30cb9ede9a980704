"""What the fragment benchmarks (bench-jpeg-fragments.py, bench-zip-fragments.py,
bench-sqlite-fragments.py) share: the image a file's pieces are laid in, and
carving it with dredge. Random numbers are drawn in the same order as the
scripts drew them before sharing this, so a seed still makes the same cases."""
import json
import os
import subprocess

TEXT = b"The quick brown fox jumps over the lazy dog. "
BUILTIN = ["logo:", "rose:", "netscape:"]


def picture(R, i, sizes):
    """An ImageMagick picture for case `i`: plasma fractals (seeded by `i`), a
    red-blue gradient, or a built-in picture, at one of `sizes`; (source,
    (width, height), the `convert` command up to its output options)."""
    src = R.choice(["plasma:fractal", "gradient:red-blue"] + BUILTIN)
    w, h = R.choice(sizes)
    if src in BUILTIN:
        return src, (w, h), ["convert", src, "-resize", f"{w}x{h}!"]
    return src, (w, h), ["convert", "-size", f"{w}x{h}", "-seed", str(i), src]


def filler(R, kind, n, others):
    """`n` bytes between two pieces: random, zeros, text, or (any other kind)
    sectors of one of the files made before this one."""
    if kind == "noise":
        return R.randbytes(n)
    if kind == "zeros":
        return bytes(n)
    if kind == "text":
        return (TEXT * (n // 40 + 1))[:n]
    o = R.choice(others[:-1] or [R.randbytes(n)])
    at = R.randrange(0, max(1, len(o) - n)) // 512 * 512
    return o[at:at + n].ljust(n, b"\0")


def image(R, pieces, gaps, kind, others):
    """128 KiB of random bytes, the pieces in order with `gaps[i]` bytes of
    filler after piece i, 128 KiB of random bytes: the file starts at 0x20000."""
    img = bytearray(R.randbytes(0x20000))
    img += pieces[0]
    for g, piece in zip(gaps, pieces[1:]):
        img += filler(R, kind, g, others) + piece
    img += R.randbytes(0x20000)
    return img


def carve(dredge, work, img):
    """`dredge carve` of the image; its artifacts as `dredge ls --progress json` lists them."""
    raw, case = os.path.join(work, "img.raw"), os.path.join(work, "case")
    open(raw, "wb").write(img)
    subprocess.run(["rm", "-rf", case])
    subprocess.run([dredge, "--progress", "none", "carve", raw, "--out", case], capture_output=True)
    ls = subprocess.run([dredge, "ls", "--progress", "json", case], capture_output=True, text=True).stdout
    return [json.loads(line) for line in ls.splitlines()]


def reassembled(arts, want):
    """Whether an artifact has the SHA-256 `want`, and the artifacts reassembled
    from fragments and marked complete with another hash (false completes)."""
    got = any(a.get("sha256") == want for a in arts)
    wrong = [a for a in arts if a.get("sha256") != want and a.get("status") == "complete"
             and "fragments" in (a.get("recovery_detail") or "")]
    return got, wrong


def only(i):
    """Whether case `i` runs (ONLY=N runs case N alone)."""
    return os.environ.get("ONLY") in (None, str(i))


def finish(work):
    """Removes the work folder, or says where it is (KEEP=1)."""
    if os.environ.get("KEEP"):
        print("kept", work)
    else:
        subprocess.run(["rm", "-rf", work])
