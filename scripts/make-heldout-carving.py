#!/usr/bin/env python3
"""A carving image dredge's tests never saw, made the way issue 14's held-out
image was: files made by real tools (ImageMagick, Ghostscript, LAME, flac,
oggenc, ffmpeg, gzip/bzip2/xz/zstd, Python's sqlite3 and zipfile), laid at
sector boundaries among stretches of noise and of zeros; about one in eight
in two pieces with noise between, one in sixteen cut short.
Usage (in a scratch directory): make-heldout-carving.py SEED
Writes corpusSEED/ (the files), imgSEED.raw (256 MiB) and truthSEED.json."""
import os, random, subprocess, json, sys, shutil, sqlite3, zipfile
seed = int(sys.argv[1]) if len(sys.argv) > 1 else 1
R = random.Random(seed)
C = f"corpus{seed}"; shutil.rmtree(C, ignore_errors=True); os.makedirs(C)
def sh(c): subprocess.run(c, shell=True, check=True, cwd=C, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
words = "evidence ledger harbour meeting transfer account witness payment schedule vessel container invoice shipment customs".split()
def text(n): return "\n".join(" ".join(R.choice(words) for _ in range(R.randint(5, 14))) for _ in range(n)) + "\n"
files = []
for i in range(14):
    w, h = R.choice([(320, 240), (640, 480), (800, 600), (1024, 768)])
    kind = R.choice(["plasma:", "plasma:fractal", "gradient:red-blue"]) if i % 5 else "xc:white -fill black -draw 'circle 50,50 90,90'"
    inter = "-interlace Plane" if i % 4 == 3 else ""
    sh(f"convert -size {w}x{h} {kind} {inter} -quality {R.randint(60, 95)} p{i}.jpg"); files.append(f"p{i}.jpg")
for i in range(6):
    sh(f"convert -size {R.randint(100, 600)}x{R.randint(100, 400)} plasma: i{i}.png"); files.append(f"i{i}.png")
for i in range(3):
    sh(f"convert -size 200x150 plasma: g{i}.gif"); files.append(f"g{i}.gif")
for i in range(3):
    sh(f"convert -size {R.randint(200, 500)}x{R.randint(200, 400)} plasma: -type truecolor b{i}.bmp"); files.append(f"b{i}.bmp")
for i in range(2):
    sh(f"convert -size 300x200 plasma: t{i}.tif"); files.append(f"t{i}.tif")
for i in range(4):
    open(f"{C}/d{i}.txt", "w").write(text(R.randint(20, 400))); files.append(f"d{i}.txt")
for i in range(3):
    open(f"{C}/w{i}.html", "w").write("<html><head><title>Report</title></head><body>\n" + "".join(f"<p>{l}</p>\n" for l in text(R.randint(20, 200)).splitlines()) + "</body></html>\n"); files.append(f"w{i}.html")
for i in range(2):
    open(f"{C}/c{i}.csv", "w").write("id,name,amount\n" + "".join(f"{k},{R.choice(words)},{R.randint(1, 99999)}\n" for k in range(R.randint(50, 3000)))); files.append(f"c{i}.csv")
for i in range(3):
    sh(f"ps2pdf /dev/stdin q{i}.pdf <<'X'\n%!\n/Times-Roman findfont 12 scalefont setfont\n" + "".join(f"72 {700 - 14 * k} moveto ({R.choice(words)} {k}) show\n" for k in range(40)) + "showpage\nX")
    files.append(f"q{i}.pdf")
sh("gs -q -dNOSAFER -sDEVICE=pdfwrite -o pj.pdf /usr/share/ghostscript/10.00.0/lib/viewjpeg.ps -c '(p1.jpg) viewJPEG'"); files.append("pj.pdf")
for i in range(3):
    con = sqlite3.connect(f"{C}/s{i}.sqlite"); con.execute("create table t(a,b)")
    con.executemany("insert into t values(?,?)", [(k, text(1)) for k in range(R.randint(200, 3000))]); con.commit(); con.close(); files.append(f"s{i}.sqlite")
for i in range(2):
    z = zipfile.ZipFile(f"{C}/z{i}.zip", "w", zipfile.ZIP_DEFLATED)
    for k in range(5): z.writestr(f"doc{k}.txt", text(R.randint(10, 100)))
    z.write(f"{C}/p{i+2}.jpg", "photo.jpg", compress_type=zipfile.ZIP_STORED); z.close(); files.append(f"z{i}.zip")
# a DOCX-like OOXML with a stored JPEG inside
z = zipfile.ZipFile(f"{C}/x0.docx", "w", zipfile.ZIP_DEFLATED)
z.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="xml" ContentType="application/xml"/></Types>')
z.writestr("word/document.xml", "<w:document><w:body>" + text(30) + "</w:body></w:document>")
z.write(f"{C}/p4.jpg", "word/media/image1.jpeg", compress_type=zipfile.ZIP_STORED); z.close(); files.append("x0.docx")
sh("ffmpeg -loglevel quiet -f lavfi -i sine=frequency=440:duration=3 a0.wav"); files.append("a0.wav")
sh("lame --quiet a0.wav a0.mp3"); files.append("a0.mp3")
sh("flac --silent a0.wav -o a0.flac"); files.append("a0.flac")
sh("oggenc -Q a0.wav -o a0.ogg"); files.append("a0.ogg")
open(f"{C}/big.txt", "w").write(text(3000))
for z, ext in [("gzip -9 -c", "gz"), ("bzip2 -c", "bz2"), ("xz -c", "xz"), ("zstd -q -c", "zst")]:
    sh(f"{z} big.txt > big.{ext}"); files.append(f"big.{ext}")
shutil.copy("/usr/bin/true", f"{C}/e0.elf"); files.append("e0.elf")
R.shuffle(files)
SIZE = 256 << 20
img = bytearray(SIZE)
# background: noise in some stretches, zeros in others
pos = 0
while pos < SIZE:
    n = R.randint(1, 64) << 16
    if R.random() < 0.5: img[pos:pos + n] = R.randbytes(min(n, SIZE - pos))
    pos += n
truth = []; cur = 1 << 20
for f in files:
    data = open(f"{C}/{f}", "rb").read()
    cur = (cur + R.randint(1, 400) * 512) // 512 * 512
    mode = "intact"
    r = R.random()
    if r < 0.12 and len(data) > 8192: mode = "two"
    elif r < 0.18 and len(data) > 4096: mode = "cut"
    pieces = []
    if mode == "two":
        k = R.randint(2, len(data) // 512 - 2) * 512
        gap = R.randint(1, 100) * 512
        pieces = [(cur, 0, k), (cur + k + gap, k, len(data) - k)]
        img[cur + k:cur + k + gap] = R.randbytes(gap)
        end = cur + len(data) + gap
    elif mode == "cut":
        k = R.randint(1, len(data) // 512 - 1) * 512
        pieces = [(cur, 0, k)]
        img[cur + k:cur + k + 4096] = R.randbytes(4096)
        end = cur + k + 4096
    else:
        pieces = [(cur, 0, len(data))]; end = cur + len(data)
    for at, off, n in pieces: img[at:at + n] = data[off:off + n]
    truth.append({"file": f, "mode": mode, "pieces": pieces, "size": len(data)})
    cur = end
open(f"img{seed}.raw", "wb").write(img)
json.dump(truth, open(f"truth{seed}.json", "w"), indent=0)
print(len(files), "files, end at", cur >> 20, "MiB")
