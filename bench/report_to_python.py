#!/usr/bin/env python3
# The report of 20000 small pairs reaching Python: Result.report() (dicts built from the
# library's document, no text) against json.loads of --json's text (issue 21 item 3).
#   /usr/bin/python3 bench/report_to_python.py
import json, os, statistics, sys, time
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "python"))
os.environ.setdefault("TENSORDIFF_ENGINE", os.path.join(HERE, "..", "build", "python", "tensordiff"))
import numpy as np
from tensordiff._native import engine
eng = engine()
n = 20000
xs = [(f"t{i}", "float32", [16], np.full(16, i, np.float32), "") for i in range(n)]
ys = [(f"t{i}", "float32", [16], np.full(16, i + 1e-3, np.float32), "") for i in range(n)]
r = eng.compare_arrays(xs, ys, {})
for name, f in [("report() dicts", lambda: r.report()), ("json.loads(json())", lambda: json.loads(r.json())), ("json() text only", lambda: r.json())]:
    ts = []
    for _ in range(5):
        t = time.perf_counter(); f(); ts.append(time.perf_counter() - t)
    print(f"{name}: median {statistics.median(ts)*1e3:.1f} ms for {n} tensors")
