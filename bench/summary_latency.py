#!/usr/bin/env python3
# The recorder's summary cost per call (tensordiff._engine.summarize), median and p90, for a
# 128 KiB and a 4 MiB float32 array. Run idle and beside two busy loops (issue 22 item 6):
#   /usr/bin/python3 bench/summary_latency.py
#   (for i in 1 2; do timeout 20 sh -c "while :; do :; done" & done; /usr/bin/python3 bench/summary_latency.py)
import os, statistics, sys, time
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "python"))
os.environ.setdefault("TENSORDIFF_ENGINE", os.path.join(HERE, "..", "build", "python", "tensordiff"))
import numpy as np
from tensordiff._native import engine
eng = engine()
for n in (32768, 1 << 20):
    a = np.random.default_rng(0).standard_normal(n).astype(np.float32)
    ts = []
    for _ in range(200 if n < 1e6 else 30):
        t = time.perf_counter(); eng.summarize([("x", "float32", [n], a, "")]); ts.append(time.perf_counter() - t)
    print(f"{a.nbytes/1024:.0f} KiB: median {statistics.median(ts)*1e3:.3f} ms, p90 {sorted(ts)[int(len(ts)*.9)]*1e3:.3f} ms")
