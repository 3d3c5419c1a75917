"""The inputs of scripts/reports_unchanged.sh: every format, views, msprobe dumps, summaries,
hostile files, folders and chunked HDF5, written with python/tests/test_formats.py's writers.
Usage: make_fixtures.py DIR"""
import os, sys, io, pickle, zipfile, struct
from collections import OrderedDict
from pathlib import Path
ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "python"))
sys.path.insert(0, str(ROOT / "python" / "tests"))
import numpy as np, torch
import test_formats as tf

d = Path(sys.argv[1]); d.mkdir(parents=True, exist_ok=True)
a, b = tf.tensors(0), tf.tensors(0, slip=True)
tf.write_h5(d / "a.h5", a); tf.write_h5(d / "b.h5", b)
tf.write_safetensors(d / "a.safetensors", a); tf.write_safetensors(d / "b.safetensors", b)
torch.save(tf.torch_state(a), d / "a.pt"); torch.save(tf.torch_state(b), d / "b.pt")
nb = {k: v for k, v in a.items() if not isinstance(v, torch.Tensor)}
nbb = {k: v for k, v in b.items() if not isinstance(v, torch.Tensor)}
np.savez(d / "a.npz", **nb); np.savez_compressed(d / "b.npz", **nbb)
tf.write_h5(d / "na.h5", nb); tf.write_h5(d / "nb.h5", nbb)
tf.write_safetensors(d / "nb.safetensors", nbb)
x = np.arange(24, dtype=np.float32).reshape(2, 3, 4) * 0.5
np.save(d / "c.npy", x); np.save(d / "f.npy", np.asfortranarray(x)); np.save(d / "big.npy", x.astype(">f4"))
np.save(d / "c2.npy", x * 1.001)
# torch views
base = torch.arange(60, dtype=torch.float32).reshape(6, 10)
st = OrderedDict(t=base.t(), rows=base[2:4], col=base[:, 3], param=torch.nn.Parameter(torch.ones(3)),
                 nested={"a": [torch.zeros(2), torch.full((2,), 7.0)]}, step=12)
torch.save(st, d / "v.pt")
flat = OrderedDict(t=base.t().contiguous(), rows=base[2:4].clone(), col=base[:, 3].clone(), param=torch.ones(3) * 1.5,
                   **{"nested.a.0": torch.zeros(2), "nested.a.1": torch.full((2,), 7.0)})
torch.save(flat, d / "flat.pt")
# msprobe
pt = tf.write_msprobe(d / "msp" / "step0" / "rank0", tf.MSPROBE_SET)
ms = tf.write_msprobe(d / "ms", tf.MSPROBE_SET, framework="mindspore")
stats = tf.write_msprobe(d / "stats", tf.MSPROBE_SET, task="statistics")
bad = tf.write_msprobe(d / "bad", tf.MSPROBE_SET, task="statistics", tweak_max="Functional.op2.0.forward.output.0")
# hostile
tf.write_safetensors(d / "lie.safetensors", a, lie="layers.1.act")
buf = io.BytesIO()
with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
    z.writestr("evil/data.pkl", pickle.dumps({"w": tf.Evil()}, protocol=2))
(d / "evil.pt").write_bytes(buf.getvalue())
# a folder of per-rank dumps
for side, t in (("ra", a), ("rb", b)):
    (d / side).mkdir(exist_ok=True)
    tf.write_h5(d / side / "rank0.h5", t); tf.write_safetensors(d / side / "rank1.safetensors", t)
# larger chunked/compressed HDF5 pair
import h5py
rng = np.random.default_rng(1)
with h5py.File(d / "big_a.h5", "w") as f, h5py.File(d / "big_b.h5", "w") as g:
    for i in range(6):
        v = rng.standard_normal((300, 257)).astype(np.float32 if i % 2 else np.float16)
        f.create_dataset(f"blk.{i}.w", data=v, chunks=(50, 257), compression="gzip", shuffle=True)
        g.create_dataset(f"blk.{i}.w", data=v * (1 + 1e-3 * i), chunks=(64, 64), compression="gzip")
print("ok", d)
