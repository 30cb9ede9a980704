#!/usr/bin/env python3
"""BMP and WAV files in pieces: how many `dredge carve` puts together, cuts, or
gets wrong, and whether any whole one is cut (a false alarm of the texture
check, carvers/src/signal.rs). Files from real tools: ImageMagick's built-in
pictures, plasma, patterns and a diagram of small anti-aliased text passed
through JPEG (its ringing makes sharp, varied pixels), as 24-bit and 32-bit
BMPs; ffmpeg's tones, chirps, noise and gated tones as 8/16/24-bit WAVs at
8 and 44.1 kHz, and every third of them as AIFF. Each is laid whole, and again in two pieces with 1-60 sectors
of noise between, into a noise image.
Usage (in a scratch directory): bench-carve-samples.py SEED [DREDGE]"""
import os, subprocess, random, json, hashlib, sys
seed = int(sys.argv[1]) if len(sys.argv) > 1 else 1
D = sys.argv[2] if len(sys.argv) > 2 else "dredge"
R = random.Random(seed)
os.makedirs("f", exist_ok=True)
def sh(c): subprocess.run(c, shell=True, check=True, cwd="f", stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
files = []
lines = " ".join(f"-draw \"text 12,{16 + 14 * k} '+ method{k}(ParserElement, list) : ParserElement'\"" for k in range(40))
sh(f"convert -size 700x600 xc:'#FFFFE0' -fill black -pointsize 11 {lines} -quality 75 diagram.jpg")
for k, b in enumerate(["rose:", "logo:", "wizard:", "netscape:", "granite:", "plasma:fractal", "gradient:", "pattern:checkerboard", "pattern:bricks", "diagram.jpg"]):
    sh(f"convert -seed {seed} -size 400x300 {b} -resize 400x300 -type truecolor y{k}.bmp"); files.append(f"y{k}.bmp")
    sh(f"convert -seed {seed} -size 400x300 {b} -resize 640x -alpha set -type truecolormatte -define bmp:format=bmp4 y{k}a.bmp"); files.append(f"y{k}a.bmp")
for k, a in enumerate(["sine=frequency=440:duration=3", "sine=frequency=3000:duration=2", "anoisesrc=d=2:c=pink:a=0.3", "anoisesrc=d=2:c=white:a=0.1",
     "aevalsrc='sin(440*2*PI*t)*0.5+sin(1234*2*PI*t)*0.3':d=3", "aevalsrc='sin(2*PI*t*(200+2000*t))':d=3", "aevalsrc='0.8*sin(2*PI*50*t)*gt(mod(t\\,0.5)\\,0.25)':d=3"]):
    for fmt in ["-ac 1", "-ac 2", "-ac 2 -acodec pcm_u8", "-ac 2 -acodec pcm_s24le", "-ac 1 -ar 8000"]:
        n = f"a{k}_{len(files)}.wav"; sh(f"ffmpeg -y -loglevel quiet -f lavfi -i {a} {fmt} {n}"); files.append(n)
for n in [f for f in files if f.endswith(".wav")][::3]:
    sh(f"ffmpeg -y -loglevel quiet -i {n} {n[:-4]}.aiff"); files.append(n[:-4] + ".aiff")
img = bytearray(b"".join(R.randbytes(1 << 20) for _ in range(320))); cur = 1 << 20
whole, two = {}, {}
for f in files:
    d = open(f"f/{f}", "rb").read()
    cur = (cur + 8192) // 512 * 512
    whole[cur] = f; img[cur:cur + len(d)] = d; cur += len(d)
for f in files:
    d = open(f"f/{f}", "rb").read()
    if len(d) < 40 * 512: continue
    cur = (cur + 8192) // 512 * 512
    k = R.randint(8, len(d) // 512 - 8) * 512; g = R.randint(1, 60) * 512
    img[cur:cur + k] = d[:k]; img[cur + k + g:cur + len(d) + g] = d[k:]
    two[cur] = f; cur += len(d) + g
assert cur < len(img)
open("samples.raw", "wb").write(img[:cur + 65536])
subprocess.run(f"rm -rf case; {D} --progress none carve samples.raw --out case", shell=True, stdout=subprocess.DEVNULL)
ls = [json.loads(l) for l in subprocess.run([D, "--progress", "json", "ls", "case"], capture_output=True, text=True).stdout.splitlines()]
at = {a["runs"][0]["image_offset"]: a for a in ls if a["kind"] == "file" and a.get("runs")}
def verdict(o, f):
    d = open(f"f/{f}", "rb").read(); a = at.get(o)
    if a is None: return "missing"
    if a["sha256"] == hashlib.sha256(d).hexdigest() and a["status"] == "complete":
        return "joined" if len(a["runs"]) > 1 else "whole"
    if a["status"] == "partial" and d.startswith(open("case/" + a["extracted"], "rb").read()): return "cut (a prefix)"
    return "wrong (" + a["recovery"] + ")"
for name, laid in [("laid whole", whole), ("in two pieces", two)]:
    tally = {}
    for o, f in laid.items():
        v = verdict(o, f); tally[v] = tally.get(v, 0) + 1
        if name == "laid whole" and v != "whole": print("   whole file not whole:", f, v)
    print(f"{name}: {len(laid)} files:", ", ".join(f"{v} {n}" for v, n in sorted(tally.items())))
