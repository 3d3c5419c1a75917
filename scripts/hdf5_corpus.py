#!/usr/bin/python3
"""Issue 20: runs tensordiff over a folder of real HDF5 files (HDF5's own test files: test/,
tools/test/*/testfiles/ of github.com/HDFGroup/hdf5, kept outside this repository) and sorts
each file's outcome:
 ok            values equal h5py's (tensordiff A ref --exact, ref written by h5py), and any
               tensor it cannot read is named 'unsupported: ...' or as a read error
 filelevel     one clean file-level error, exit 2 (libhdf5 cannot open it either, or not HDF5)
 internal      an internal/bad-listing message, a crash, a hang
 mismatch      some value differs from h5py's, or a tensor is missing

Usage: scripts/hdf5_corpus.py build/tensordiff CORPUS_DIR [RESULTS.json]
The reference for a file's values is h5py's reading of it (libhdf5), written out plainly.
"""
import glob
import json
import os
import re
import subprocess
import sys
import tempfile
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import h5py
import numpy as np

TD, corpus = sys.argv[1], sys.argv[2]
out = sys.argv[3] if len(sys.argv) > 3 else None
files = sorted(glob.glob(corpus + "/*.h5")) + sorted(glob.glob(corpus + "/*.nc"))
results = {}
ref_dir = tempfile.mkdtemp(prefix="hdf5_corpus_")

def h5py_open(path):
    try:
        return h5py.File(path, "r")
    except Exception:
        pass
    m = re.match(r"(.*?)(0+)(\.[^./]*)$", path)
    if m:
        try:
            return h5py.File(m.group(1) + "%0" + str(len(m.group(2))) + "d" + m.group(3), "r", driver="family", memb_size=0)
        except Exception:
            pass
    if path.endswith("-m.h5"):
        try:
            return h5py.File(path[:-5], "r", driver="split")
        except Exception:
            pass
    return None

def h5py_numeric(f):
    out, seen = {}, set()
    def walk(g, prefix):
        for name in g:
            try:  # user-defined links and reference types are beyond h5py: not compared
                if not isinstance(g.get(name, getlink=True), h5py.HardLink):
                    continue
                obj = g[name]
                obj.dtype if isinstance(obj, h5py.Dataset) else None
            except Exception:
                continue
            if isinstance(obj, h5py.Group):
                addr = h5py.h5o.get_info(obj.id).addr
                if addr in seen: continue
                seen.add(addr); walk(obj, prefix + name + "/")
            elif isinstance(obj, h5py.Dataset):
                dt = obj.dtype
                if obj.shape is None and dt.kind in "iufb":  # null dataspace: no elements
                    out[prefix + name] = np.zeros(0, dt)
                elif dt.kind in "iufb" and dt.itemsize in (1, 2, 4, 8) and not dt.shape and obj.shape is not None:
                    try: out[prefix + name] = obj[()]
                    except Exception: pass
    walk(f, "")
    return out

def check(path):
    base = os.path.basename(path)
    try:
        check_file(path, base)
    except Exception as e:  # the checker's own trouble, not tensordiff's
        results[base] = {"cls": "checker-error", "msg": [repr(e)]}


def check_file(path, base):
    try:
        p = subprocess.run([TD, "stats", path], capture_output=True, text=True, timeout=300)
        rc, text = p.returncode, p.stdout + p.stderr
    except subprocess.TimeoutExpired:
        rc, text = "hang", ""
    lines = [l for l in text.splitlines() if l.strip()]
    r = results[base] = {"rc": rc}
    bad = [l for l in lines if re.search(r"internal|bad listing|helper sent|bad answer|crashed|Assertion|terminate", l)]
    if rc == "hang" or (isinstance(rc, int) and rc not in (0, 1, 2, 3)) or bad:
        r["cls"], r["msg"] = "internal", bad[:2] or lines[-2:]; return
    table = [l for l in p.stdout.splitlines() if re.match(r"\s+\d+\s", l)]
    if rc == 2 and not table:
        r["cls"], r["msg"] = "filelevel", lines[-1:]; return
    unsup = set()
    for l in table:
        m = re.match(r"\s+\d+\s+(\S+)\s.*(unsupported:|error:)", l)
        if m:
            unsup.add(m.group(1))
    r["unsupported"] = len(unsup)
    f = h5py_open(path)
    if f is None:
        r["cls"] = "h5py-cannot-open"; return
    ref = h5py_numeric(f); f.close()
    rp = os.path.join(ref_dir, base + ".ref.h5")
    with h5py.File(rp, "w") as g:
        for k, v in ref.items():
            a = np.asarray(v)
            if a.dtype.byteorder == ">": a = a.astype(a.dtype.newbyteorder("<"))
            g.create_dataset(k, data=a)
    p2 = subprocess.run([TD, "--exact", path, rp], capture_output=True, text=True, timeout=300)
    o2 = p2.stdout.splitlines()
    problems = []
    for l in o2:
        m = re.match(r"[>* ]*\s*\d+\s+(\S+)\s", l)
        if not m or "compared:" in l:
            continue
        name = m.group(1)
        if " DIFF" in l or "only in b" in l or ("only in a" in l and name not in unsup) or "shape" in l:
            problems.append(l.strip()[:160])
    r["cls"] = "mismatch" if problems else ("ok+unsupported" if unsup else "ok")
    r["problems"] = problems[:4]


with ThreadPoolExecutor(4) as pool:
    list(pool.map(check, files))
c = Counter(r["cls"] for r in results.values())
for k, v in sorted(c.items()):
    print(f"{v:4d} {k}")
if out:
    json.dump(results, open(out, "w"), indent=1, sort_keys=True)
