#!/usr/bin/env python3
"""dredge carve against PhotoRec on an image of scripts/make-heldout-carving.py.
Usage (in a scratch directory): bench-carve-heldout.py SEED [DREDGE]
An output is true when it is a whole original file marked complete, or, marked
partial, a prefix (at least 512 bytes) of one; every other output is wrong
(a text file cut short is a prefix marked complete: counted wrong). Recall
counts the whole and two-piece files that came back whole."""
import json, os, sys, subprocess, hashlib, glob
seed = sys.argv[1]; dredge = sys.argv[2] if len(sys.argv) > 2 else "dredge"
if not os.path.exists(f"img{seed}.raw"):
    subprocess.run([sys.executable, os.path.join(os.path.dirname(os.path.abspath(__file__)), "make-heldout-carving.py"), seed], check=True)
truth = json.load(open(f"truth{seed}.json")); C = f"corpus{seed}"
orig = {t["file"]: open(f"{C}/{t['file']}", "rb").read() for t in truth}
whole = {hashlib.sha256(d).hexdigest(): f for f, d in orig.items()}
def prefix_of(b):
    for f, d in orig.items():
        if len(b) >= 512 and len(b) < len(d) and d.startswith(b): return f
out = f"d{seed}"; subprocess.run(f"rm -rf {out} pr{seed}", shell=True)
subprocess.run([dredge, "--progress", "none", "carve", f"img{seed}.raw", "--out", out], stdout=subprocess.DEVNULL)
ls = [json.loads(l) for l in subprocess.run([dredge, "--progress", "json", "ls", out], capture_output=True, text=True).stdout.splitlines()]
ok = bad = 0; got = set(); wrong = []
for a in ls:
    if a["kind"] != "file" or not a.get("extracted"): continue
    b = open(os.path.join(out, a["extracted"]), "rb").read()
    h = hashlib.sha256(b).hexdigest()
    if h in whole and a["status"] == "complete": ok += 1; got.add(whole[h]); continue
    if a["status"] != "complete" and (prefix_of(b) or h in whole): ok += 1; continue
    bad += 1; wrong.append((a["path"], a["status"], a["recovery"], len(b), prefix_of(b) or (whole.get(h))))
need = [t["file"] for t in truth if t["mode"] != "cut"]
print(f"dredge: outputs {ok+bad}, true {ok}, precision {ok/max(1,ok+bad):.3f}, recall {len(got & set(need))}/{len(need)}")
for w in wrong: print("   wrong:", w)
missed = [(t['file'], t['mode']) for t in truth if t["mode"] != "cut" and t["file"] not in got]
print("   missed:", missed)
os.makedirs(f"pr{seed}", exist_ok=True)
subprocess.run(f"cd pr{seed} && photorec /log /d out /cmd ../img{seed}.raw partition_none,fileopt,everything,enable,search", shell=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
ok = bad = 0; got = set(); pw = []
for p in glob.glob(f"pr{seed}/out*/*"):
    if p.endswith("report.xml"): continue
    b = open(p, "rb").read(); h = hashlib.sha256(b).hexdigest()
    if h in whole: ok += 1; got.add(whole[h])
    elif prefix_of(b): ok += 1
    else: bad += 1; pw.append(os.path.basename(p))
print(f"photorec: outputs {ok+bad}, true {ok}, precision {ok/max(1,ok+bad):.3f}, recall {len(got & set(need))}/{len(need)}")
print("   photorec wrong:", sorted(pw)[:40])
