"""The Recorder's alias check (issue 22): 64 x 1 MiB of distinct float32 through Recorder.save with
aliases on and off, median of 5. Run: PYTHONPATH=python TENSORDIFF_ENGINE=build/python/tensordiff
build/venv/bin/python bench/alias_cost.py"""
import time, tempfile, os, numpy as np, statistics, tensordiff
rng = np.random.default_rng(0)
xs = [rng.standard_normal(1 << 18).astype(np.float32) for _ in range(64)]  # 64 x 1 MiB
d = tempfile.mkdtemp()
res = {True: [], False: []}
for rep in range(5):
    for al in (True, False):
        p = os.path.join(d, f"r{al}.h5")
        t = time.perf_counter()
        with tensordiff.Recorder(p, aliases=al):
            for i, x in enumerate(xs):
                tensordiff.save(f"t{i}", x)
        res[al].append(time.perf_counter() - t)
on, off = statistics.median(res[True]), statistics.median(res[False])
print(f"64 x 1 MiB float32, all distinct: aliases on {on*1e3:.1f} ms, off {off*1e3:.1f} ms, ratio {on/off:.3f} (median of 5)")
