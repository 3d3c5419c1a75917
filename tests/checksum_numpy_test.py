"""The engine's checksum (tensordiff stats --json) against docs/checksum.py (a link to the numpy
oracle python/tests/checksum_oracle.py), on fresh random data of several dtypes, byte orders and
odd lengths (docs/design.md §4)."""
import json
import os
import subprocess
import sys
import tempfile

import h5py
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "docs"))
from checksum import checksum  # noqa: E402

rng = np.random.default_rng()
arrays = {
    "f32": rng.standard_normal(1001).astype("<f4"),
    "f64_be": rng.standard_normal((7, 13)).astype(">f8"),
    "f16": rng.standard_normal(333).astype("<f2"),
    "i64": rng.integers(-2**62, 2**62, 257, dtype="<i8"),
    "u8_odd": rng.integers(0, 255, 13, dtype="u1"),
    "bool": rng.integers(0, 2, 9).astype(bool),
    "scalar": np.float32(3.25),
}
with tempfile.TemporaryDirectory() as d:
    path = os.path.join(d, "c.h5")
    with h5py.File(path, "w") as f:
        for k, v in arrays.items():
            f[k] = v
    out = os.path.join(d, "s.json")
    subprocess.run([os.environ["TENSORDIFF_BIN"], "stats", path, "-q", "--json", out], check=True)
    got = {t["name"]: t["checksum"] for t in json.load(open(out))["tensors"]}
failed = 0
for k, v in arrays.items():
    want = checksum(np.asarray(v))
    ok = got[k] == want
    failed += not ok
    print(f"{k:8s} engine {got[k]} numpy {want} {'ok' if ok else 'MISMATCH'}")
print(f"{len(arrays) - failed} passed, {failed} failed")
sys.exit(1 if failed else 0)
