#!/usr/bin/python3
"""Writes an HDF5 dump's datasets as safetensors, .npz (stored) or a torch.save state dict,
for the benchmark's per-format lines (W1s, W1n, W1p). Usage: convert_dump.py IN.h5 OUT FORMAT"""
import json
import struct
import sys
from collections import OrderedDict

import h5py
import numpy as np

src, out, fmt = sys.argv[1:4]
with h5py.File(src) as f:
    names = []
    f.visititems(lambda n, o: names.append(n) if isinstance(o, h5py.Dataset) else None)
    arrays = OrderedDict((n, f[n][()]) for n in names)
if fmt == "safetensors":
    codes = {"float32": "F32", "float64": "F64", "float16": "F16", "int64": "I64"}
    header, off = OrderedDict(), 0
    for n, a in arrays.items():
        header[n] = {"dtype": codes[a.dtype.name], "shape": list(a.shape), "data_offsets": [off, off + a.nbytes]}
        off += a.nbytes
    h = json.dumps(header).encode()
    with open(out, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h)
        for a in arrays.values():
            f.write(np.ascontiguousarray(a).tobytes())
elif fmt == "npz":
    np.savez(out, **arrays)
elif fmt == "pt":
    import torch
    torch.save(OrderedDict((n, torch.from_numpy(a)) for n, a in arrays.items()), out)
else:
    sys.exit(f"unknown format {fmt}")
