#!/usr/bin/env bash
# Writes testimages/carving/seeds/: one small, valid file of each family the
# ground-truth image (make-carving.py) does not hold, as starting points for the
# carvers' mutation test (carvers/tests/mutation.rs). Every file is made here from
# text written for dredge, with Debian's own tools: no third-party content. (The
# Windows event log, registry hive and shortcut seeds cannot be made on Linux: they
# are third-party files, listed in testimages/carving/SOURCES.md, and not touched
# here.)
# Usage: testimages/make-carving-seeds.sh   (needs tar, xz, bzip2, zstd, lz4, lzip, lzop, wat2wasm, python3 ds_store, iconv, gcc,
# python3 (and plyvel), flac, oggenc, lame, ffmpeg, clang, ld64.lld, llvm-lipo, 7zz, gcab, xorriso, heif-enc, smali, javac, pyftsubset,
# mkvmerge, opusenc, icotool, png2icns, convert, abc2midi, cpio, ar, dpkg-deb, mktorrent, gs, qpdf; the files are committed, so the test needs none of these)
set -euo pipefail
out="$(cd "$(dirname "$0")" && pwd)/carving/seeds"
mkdir -p "$out"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
text() {
  for i in $(seq 1 40); do
    echo "Line $i of the dredge carving seed: evidence is read, never written; every byte is accounted for."
  done
}
text > "$out/text.txt"
text | iconv -f UTF-8 -t UTF-16LE | { printf '\xff\xfe'; cat; } > "$out/utf16.txt"
mkdir -p "$work/t"
text > "$work/t/notes.txt"
head -c 700 "$out/text.txt" > "$work/t/short.txt"
tar --format=ustar --sort=name --mtime=2026-11-30 --owner=0 --group=0 --numeric-owner \
  -C "$work/t" -cf "$out/seed.tar" notes.txt short.txt
rm -f "$out/seed.7z"
(cd "$work/t" && 7zz a -bd -bso0 -bsp0 "$out/seed.7z" notes.txt short.txt)
(cd "$work/t" && gcab -c -z "$out/seed.cab" notes.txt short.txt)
rm -f "$out/seed.iso"
xorriso -as mkisofs -quiet -no-pad -J -R -V SEED -o "$out/seed.iso" "$work/t" 2>/dev/null
xz -9 -c "$out/text.txt" > "$out/text.txt.xz"
bzip2 -9 -c "$out/text.txt" > "$out/text.txt.bz2"
zstd -q -19 -c "$out/text.txt" > "$out/text.txt.zst"
lz4 -q -9 -c "$out/text.txt" > "$out/text.txt.lz4"
lzip -9 -c "$out/text.txt" > "$out/text.txt.lz"
lzop -c "$out/text.txt" > "$out/text.txt.lzo"
cat > "$work/seed.c" <<'C'
int main(void) { return 0; }
C
gcc -Os -s -o "$out/seed.elf" "$work/seed.c"
# A SQLite write-ahead log: written while the database is open, copied before the
# connection closes (closing would checkpoint it away).
python3 - "$work" "$out/seed.db-wal" <<'PY'
import shutil, sqlite3, sys
work, dst = sys.argv[1], sys.argv[2]
c = sqlite3.connect(f"{work}/seed.db")
c.execute("PRAGMA journal_mode=WAL")
c.execute("PRAGMA wal_autocheckpoint=0")
c.execute("CREATE TABLE notes(id INTEGER PRIMARY KEY, body TEXT)")
for i in range(40):
    c.execute("INSERT INTO notes(body) VALUES (?)", (f"note {i}: read, never written",))
c.commit()
shutil.copyfile(f"{work}/seed.db-wal", dst)
c.close()
PY
# A SQLite database whose b-trees the walk covers: 1 KiB pages, a table with an
# index, blobs spilling into overflow pages, rows deleted so the freelist holds
# pages.
python3 - "$out/seed.sqlite" <<'PY'
import os, random, sqlite3, sys
dst = sys.argv[1]
if os.path.exists(dst):
    os.remove(dst)
r = random.Random(7)
c = sqlite3.connect(dst)
c.execute("PRAGMA page_size=1024")
c.execute("CREATE TABLE msgs(id INTEGER PRIMARY KEY, sender TEXT, body TEXT)")
c.execute("CREATE INDEX by_sender ON msgs(sender)")
for i in range(120):
    c.execute("INSERT INTO msgs(sender, body) VALUES (?, ?)", (f"user{i % 9}", "meet at the harbour " * (i % 7 + 1)))
for i in range(3):
    c.execute("INSERT INTO msgs(sender, body) VALUES (?, ?)", ("blob", "x" * 3000))
c.execute("DELETE FROM msgs WHERE id % 5 = 0")
c.commit()
c.close()
PY
# Audio: three quarters of a second of two tones (16-bit stereo WAV written by
# Python), encoded by flac, oggenc, lame and ffmpeg's AAC encoder (ADTS).
python3 - "$work/tone.wav" <<'PY'
import math, struct, sys, wave
with wave.open(sys.argv[1], "wb") as w:
    w.setnchannels(2); w.setsampwidth(2); w.setframerate(8000)
    w.writeframes(b"".join(
        struct.pack("<hh", int(8000 * math.sin(i * 0.3)), int(8000 * math.sin(i * 0.2)))
        for i in range(6000)))
PY
flac -s -f --no-seektable --padding=0 -o "$out/tone.flac" "$work/tone.wav"
oggenc -Q --serial 7 -o "$out/tone.ogg" "$work/tone.wav"
lame --quiet -b 32 "$work/tone.wav" "$out/tone.mp3"
ffmpeg -loglevel error -y -i "$work/tone.wav" -ar 24000 -c:a aac -b:a 24k -fflags +bitexact -flags:a +bitexact "$out/tone.aac"
# Mach-O: an arm64 executable linked by ld64.lld (ad-hoc code signature, so its
# pages are hashed) and a universal file of it and an x86_64 build (llvm-lipo).
printf 'int g = 42;\nconst char *s = "evidence";\nint f(int x){return x*g;}\nvoid start(void){ f(3); for(;;); }\n' > "$work/m.c"
clang -target arm64-apple-macos11 -nostdlib -fuse-ld=lld -Wl,-e,_start \
    -Wl,-platform_version,macos,11.0,11.0 "$work/m.c" -o "$out/seed.macho"
clang -target x86_64-apple-macos10.15 -nostdlib -fuse-ld=lld -Wl,-e,_start \
    -Wl,-platform_version,macos,10.15,10.15 "$work/m.c" -o "$work/m64"
llvm-lipo-14 -create "$out/seed.macho" "$work/m64" -output "$out/seed-fat.macho"
# Prefetch: two of plaso's files (testimages/external/plaso, Apache-2.0), one
# Windows 7 file as it is and one Windows 10 file in its compressed container.
cp "$out/../../external/plaso/PING.EXE-B29F6629.pf" "$out/seed.pf"
cp "$out/../../external/plaso/NOTEPAD.EXE-D8414F97.pf" "$out/seed-mam.pf"
# LevelDB: a write-ahead log of 300 puts (two 32 KiB blocks, records split
# across them) written by the LevelDB library through plyvel.
py=python3; python3 -c "import plyvel" 2>/dev/null || py=/usr/bin/python3
"$py" - "$work/ldb" <<'PY'
import sys, plyvel
db = plyvel.DB(sys.argv[1], create_if_missing=True)
for i in range(300):
    db.put(b"key%04d" % i, b"value %d " % i * 20)
db.close()
PY
cp "$(ls "$work"/ldb/*.log | tail -n 1)" "$out/seed-leveldb.log"
# A HEIC photo (its items placed by iloc) from a 64x48 gradient PNG.
python3 - "$work/grad.png" <<'PY'
import struct, sys, zlib
w, h = 64, 48
raw = b"".join(b"\0" + bytes(v for x in range(w) for v in (x * 4, y * 5, (x ^ y) * 3)) for y in range(h))
def chunk(t, d):
    return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
open(sys.argv[1], "wb").write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
    + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))
PY
heif-enc -q 50 -o "$out/photo.heic" "$work/grad.png" >/dev/null
# An Android DEX file assembled by smali from one class written here.
cat > "$work/Seed.smali" <<'SMALI'
.class public LSeed;
.super Ljava/lang/Object;
.method public static main([Ljava/lang/String;)V
    .registers 2
    sget-object v0, Ljava/lang/System;->out:Ljava/io/PrintStream;
    const-string v1, "evidence is read, never written"
    invoke-virtual {v0, v1}, Ljava/io/PrintStream;->println(Ljava/lang/String;)V
    return-void
.end method
SMALI
smali assemble -o "$out/seed.dex" "$work/Seed.smali"
# An Apple binary property list, written by Python's plistlib.
python3 - "$out/seed.plist" <<'PY'
import datetime, plistlib, sys
v = {"case": "seed", "items": [1, 2.5, True, "evidence is read, never written"],
     "when": datetime.datetime(2026, 12, 3), "data": bytes(range(16)), "uid": plistlib.UID(1)}
with open(sys.argv[1], "wb") as f:
    plistlib.dump(v, f, fmt=plistlib.FMT_BINARY)
PY
# A SQLite rollback journal: a transaction that changed pages of a database
# spilled to disk, the journal copied before the transaction ends.
python3 - "$work" "$out/seed.db-journal" <<'PY'
import shutil, sqlite3, sys
work, dst = sys.argv[1], sys.argv[2]
c = sqlite3.connect(f"{work}/j.db", isolation_level=None)
c.execute("PRAGMA journal_mode=DELETE")
c.execute("PRAGMA page_size=1024")
c.execute("CREATE TABLE notes(id INTEGER PRIMARY KEY, body TEXT)")
for i in range(20):
    c.execute("INSERT INTO notes(body) VALUES (?)", (f"note {i}: read, never written " * 3,))
c.execute("BEGIN")
c.execute("UPDATE notes SET body = 'changed' WHERE id % 2 = 0")
c.execute("PRAGMA cache_size=1")
for i in range(40):
    c.execute("INSERT INTO notes(body) VALUES (?)", ("x" * 300,))
shutil.copyfile(f"{work}/j.db-journal", dst)
c.execute("ROLLBACK")
PY
# A Java class compiled by javac from a class written here.
mkdir -p "$work/java"
cat > "$work/java/Seed.java" <<'JAVA'
public class Seed implements Comparable<Seed> {
    private final String body;
    private static long count = 1L << 40;
    public Seed(String b) { body = b; }
    public int compareTo(Seed o) { return body.compareTo(o.body); }
    public static void main(String[] a) { System.out.println(new Seed("evidence is read, never written").body + count); }
}
JAVA
javac -d "$work/java" "$work/java/Seed.java"
cp "$work/java/Seed.class" "$out/Seed.class"
# A TrueType font: DejaVu Sans cut down by fontTools to the letters of "evidence".
pyftsubset /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf --text=evidence --output-file="$out/seed.ttf" 2>/dev/null
# A WebM (Matroska) file: a second of the tone above, Opus in mkvmerge's WebM.
python3 - "$work/tone48.wav" <<'PY'
import math, struct, sys, wave
with wave.open(sys.argv[1], "wb") as w:
    w.setnchannels(1); w.setsampwidth(2); w.setframerate(48000)
    w.writeframes(b"".join(struct.pack("<h", int(8000 * math.sin(i * 0.03))) for i in range(48000)))
PY
opusenc --quiet --bitrate 16 "$work/tone48.wav" "$work/tone.opus"
mkvmerge -q --webm --no-date -o "$out/seed.webm" "$work/tone.opus"
# Icons from the gradient PNG: an ICO by icotool, an ICNS by png2icns; a
# Photoshop document by ImageMagick.
python3 - "$work/g16.png" 16 <<'PY'
import struct, sys, zlib
w = h = int(sys.argv[2])
raw = b"".join(b"\0" + bytes(v for x in range(w) for v in (x * 9, y * 11, 128, 255)) for y in range(h))
def chunk(t, d):
    return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
open(sys.argv[1], "wb").write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 6, 0, 0, 0))
    + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))
PY
icotool -c -o "$out/seed.ico" "$work/g16.png"
png2icns "$out/seed.icns" "$work/g16.png" >/dev/null
/usr/bin/convert "$work/g16.png" "$out/seed.psd"
# Sound: the tone as AIFF (flac decoding to AIFF), a tune as MIDI (abc2midi).
flac -s -d -f --force-aiff-format -o "$out/tone.aiff" "$out/tone.flac"
printf 'X:1\nT:Seed\nM:4/4\nL:1/8\nK:G\nGABc dedB|c2ec B2dB|]\n' > "$work/seed.abc"
abc2midi "$work/seed.abc" -o "$out/seed.mid" >/dev/null
# Archives of the two text files: cpio (newc with checksums), ar, a Debian
# package (dpkg-deb), and a torrent of them (mktorrent).
(cd "$work/t" && printf 'notes.txt\nshort.txt\n' | cpio --quiet -o -H crc > "$out/seed.cpio")
rm -f "$out/seed.a" && (cd "$work/t" && ar rcD "$out/seed.a" notes.txt short.txt)
mkdir -p "$work/pkg/DEBIAN" "$work/pkg/usr/share/doc/seed"
printf 'Package: seed\nVersion: 1.0\nArchitecture: all\nMaintainer: dredge <dredge@example.org>\nDescription: seed\n' > "$work/pkg/DEBIAN/control"
cp "$work/t/short.txt" "$work/pkg/usr/share/doc/seed/"
SOURCE_DATE_EPOCH=1796256000 dpkg-deb --root-owner-group -Zxz --build "$work/pkg" "$out/seed.deb" >/dev/null
rm -f "$out/seed.torrent"
mktorrent -a http://tracker.example/announce -d -o "$out/seed.torrent" "$work/t" >/dev/null
cat > "$work/seed.wat" <<'WAT'
(module
  (import "env" "log" (func $log (param i32)))
  (memory (export "mem") 1)
  (data (i32.const 16) "evidence is read, never written")
  (func $fib (export "fib") (param $n i32) (result i32)
    (if (result i32) (i32.lt_s (local.get $n) (i32.const 2))
      (then (local.get $n))
      (else (i32.add (call $fib (i32.sub (local.get $n) (i32.const 1)))
                     (call $fib (i32.sub (local.get $n) (i32.const 2))))))))
WAT
wat2wasm --debug-names "$work/seed.wat" -o "$out/seed.wasm"
python3 - "$out/seed.DS_Store" <<'PY'
import sys
from ds_store import DSStore
with DSStore.open(sys.argv[1], 'w+') as d:
    d['notes.txt']['Iloc'] = (104, 116)
    for i in range(40):
        d[f'ledger {i:02d}.xlsx']['Iloc'] = (i, 2 * i)
PY
# A PDF with an xref stream and object streams (the ground truth holds a
# classic-table PDF): Ghostscript's text and a small photo, rewritten by qpdf.
python3 - "$work/seed.ps" <<'PY'
import sys
lines = ["%!PS", "/Helvetica findfont 9 scalefont setfont"]
for page in range(2):
    for i in range(40):
        lines.append(f"40 {760 - 14 * i} moveto (ledger line {page}.{i}: meet at the harbour, bring cash) show")
    lines.append("showpage")
open(sys.argv[1], "w").write("\n".join(lines) + "\n")
PY
convert -size 96x64 -seed 2 plasma:fractal -quality 80 "$work/seed-pdf.jpg"
gs -q -dNOPAUSE -dBATCH -dNOSAFER -sDEVICE=pdfwrite -sOutputFile="$work/seed.pdf" "$work/seed.ps" \
  "$(ls /usr/share/ghostscript/*/lib/viewjpeg.ps | head -1)" -c "($work/seed-pdf.jpg) viewJPEG showpage"
qpdf --object-streams=generate "$work/seed.pdf" "$out/seed.pdf"
ls -l "$out"
