"""Compares two run_all.sh outputs: every file byte for byte, a JSON report's seconds and
gb_per_s aside, and the table's read time. Usage: compare.py BEFORE AFTER"""
import json, sys, os, re
a, b = sys.argv[1:3]
def strip(x):
    if isinstance(x, dict): return {k: strip(v) for k, v in x.items() if k not in ("seconds", "gb_per_s")}
    if isinstance(x, list): return [strip(v) for v in x]
    return x
fa, fb = sorted(os.listdir(a)), sorted(os.listdir(b))
assert fa == fb, (set(fa) ^ set(fb))
bad = 0
for f in fa:
    ta, tb = open(os.path.join(a, f), "rb").read(), open(os.path.join(b, f), "rb").read()
    if ta == tb: continue
    try:
        ja, jb = json.loads(ta), json.loads(tb)
        if strip(ja) == strip(jb): 
            # byte-identical apart from those fields? check text with the fields' values blanked
            ra = re.sub(rb'"(seconds|gb_per_s)": ?[-0-9.eE+a-z]+', b'"\\1": X', ta)
            rb_ = re.sub(rb'"(seconds|gb_per_s)": ?[-0-9.eE+a-z]+', b'"\\1": X', tb)
            if ra == rb_: continue
            print("same JSON, different bytes:", f); bad += 1; continue
    except Exception: pass
    mask = lambda s: re.sub(rb'read in [-0-9.e+]+ s \([-0-9.e+]+ GB/s', b'read in T s (R GB/s', s)
    if mask(ta) == mask(tb): continue
    print("DIFFERS:", f); bad += 1
print(f"{len(fa)} files, {bad} differ")
sys.exit(1 if bad else 0)
