"""A 200-tensor pair of dumps with a divergence and two jumps, for the HTML page's tests and the
screenshots in docs/ (run as a script, `/usr/bin/python3 tests/cli/html_fixture.py OUT_DIR` writes
a.h5, b.h5, report.html and, with chromium present, the two screenshots docs/ keeps).

What it holds, as a module recorder (`hook_module(model, inputs=True, settings=True)`) writes it:
`embed`, a recorded setting `layers.0.norm.eps` (a value, equal on both sides), then for each of
99 layers its recorded input `layers.N.input.0` (the data of the pair before it: a copy) and its
output `layers.N`. Run B's outputs carry float32 rounding until layers.30, whose error is 1e-3
(the first divergence and the first jump, on one row); the code between layers.69 and
layers.70's input adds 5e-2 (the second jump, made after layers.69)."""
import os
import shutil
import subprocess
import sys

import h5py
import numpy as np

SLIP, GAP, LAYERS, ELEMS = 30, 70, 99, 4096
BIN = os.path.abspath(os.environ.get("TENSORDIFF_BIN", os.path.join(os.path.dirname(__file__), "..", "..", "build", "tensordiff")))


def write_pair(d):
    rng = np.random.default_rng(25)
    a, b = os.path.join(d, "a.h5"), os.path.join(d, "b.h5")
    with h5py.File(a, "w", track_order=True) as fa, h5py.File(b, "w", track_order=True) as fb:
        def put(name, xa, xb):
            fa[name], fb[name] = xa, xb
            fb[name].attrs["source"] = f"model.py:{10 + len(fb) % 40}"
        x = rng.standard_normal(ELEMS).astype(np.float32)
        put("embed", x, x)
        for f in (fa, fb):
            v = f.create_dataset("layers.0.norm.eps", data=h5py.Empty("u1"))
            v.attrs["value"] = "1e-05"
        pa, pb = x, x
        for i in range(LAYERS):
            ia, ib = pa, pb
            if i == GAP:  # the code between two modules: what no hook sees
                ib = (pb + 5e-2 * np.abs(pb).mean() * rng.standard_normal(ELEMS)).astype(np.float32)
            put(f"layers.{i}.input.0", ia, ib)
            oa = rng.standard_normal(ELEMS).astype(np.float32)
            rel = 3e-7 if i < SLIP else 1e-3 * 1.01 ** (i - SLIP) if i < GAP else 5e-2
            ob = (oa + rel * rng.standard_normal(ELEMS)).astype(np.float32)
            put(f"layers.{i}", oa, ob)
            pa, pb = oa, ob
    return a, b


def chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name)
    return None


FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--virtual-time-budget=10000"]


def screenshot(browser, url, png, size):
    subprocess.run([browser, *FLAGS, f"--window-size={size}", f"--screenshot={png}", url],
                   capture_output=True, timeout=120)


if __name__ == "__main__":
    out = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "out/html")
    os.makedirs(out, exist_ok=True)
    a, b = write_pair(out)
    page = os.path.join(out, "report.html")
    subprocess.run([BIN, "-q", "a.h5", "b.h5", "--html", "report.html"], cwd=out)  # the title names a.h5, b.h5
    browser = chromium()
    if browser:
        import json, re, pathlib
        data = json.loads(re.search(r'<script id="data" type="application/json">(.*?)</script>',
                                    open(page).read(), re.S).group(1))
        url = pathlib.Path(page).as_uri()
        # the wide window with the second jump's row open beside the table; the narrow one as it
        # opens (headless Chromium paints a scrolled window blank, so neither scrolls the window)
        gap = data["name"].index(data["jumps"][-1])
        screenshot(browser, f"{url}#row-{gap}", os.path.join(out, "html-report-1400x1000.png"), "1400,1000")
        screenshot(browser, url, os.path.join(out, "html-report-1024x768.png"), "1024,768")
    print(out)
