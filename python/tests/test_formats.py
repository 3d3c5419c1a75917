"""Issue 14: the dumps migrators have. Every format holds the same tensors as an HDF5 twin and
must give the same report; any two formats compare with each other; hostile files are refused
with one line."""
import io
import json
import os
import pickle
import struct
import subprocess
import zipfile
from collections import OrderedDict

import h5py
import numpy as np
import pytest
import torch

BIN = os.path.abspath(os.environ.get("TENSORDIFF_BIN", os.path.join(os.path.dirname(__file__), "..", "..", "build", "tensordiff")))

# Row fields that name where a tensor is stored, not what it holds.
WHERE = {"storage", "storage_a", "storage_b", "source", "order"}


def run(*args, timeout=120, env=None):
    e = dict(os.environ, **(env or {}))
    return subprocess.run([BIN, *map(str, args)], capture_output=True, text=True, timeout=timeout, env=e)


def report(a, b, *extra):
    out = os.path.join(os.path.dirname(str(a)), f"r{abs(hash((str(a), str(b), extra)))}.json")
    r = run("-q", a, b, "--json", out, *extra)
    assert r.returncode in (0, 1, 3), r.stderr
    return json.load(open(out)), r.returncode


def rows(rep):
    return {t["name"]: {k: v for k, v in t.items() if k not in WHERE} for t in rep["tensors"]}


def bf16(x):
    return torch.from_numpy(np.asarray(x, np.float32)).to(torch.bfloat16)


def tensors(seed, slip=False):
    """The test set: every dtype the formats share, names in natural order."""
    rng = np.random.default_rng(0)
    t = OrderedDict()
    t["layers.0.weight"] = rng.standard_normal((64, 33)).astype(np.float32)
    t["layers.1.act"] = rng.standard_normal(500).astype(np.float16)
    t["layers.2.bf16"] = bf16(rng.standard_normal(300))
    t["layers.10.ids"] = rng.integers(-1000, 1000, 77).astype(np.int64)
    t["layers.11.mask"] = rng.random(40) > 0.5
    t["layers.12.bytes"] = rng.integers(0, 255, 20).astype(np.uint8)
    t["layers.13.scalar"] = np.float64(2.5)
    if slip:
        t["layers.0.weight"] = t["layers.0.weight"] * np.float32(1.1)
        t["layers.2.bf16"] = bf16(t["layers.2.bf16"].float().numpy() * 1.2)
    return t


def np_of(v):
    return v.view(torch.int16).numpy().view(np.uint16) if isinstance(v, torch.Tensor) else np.asarray(v)


def write_h5(path, ts):
    from tensordiff.recorder import _bf16_type
    with h5py.File(path, "w") as f:
        for name, v in ts.items():
            if isinstance(v, torch.Tensor):
                bits = np_of(v)
                tid = _bf16_type()
                ds = h5py.h5d.create(f.id, name.encode(), tid, h5py.h5s.create_simple(bits.shape))
                ds.write(h5py.h5s.ALL, h5py.h5s.ALL, bits, mtype=tid)
            else:
                f[name] = v


ST_CODE = {"float64": "F64", "float32": "F32", "float16": "F16", "int64": "I64", "int32": "I32",
           "int8": "I8", "uint8": "U8", "bool": "BOOL", "bfloat16": "BF16"}


def write_safetensors(path, ts, lie=None, header_pad=0):
    """The format by hand (8-byte length, JSON header, data)."""
    header, blobs, off = OrderedDict(), [], 0
    for name, v in ts.items():
        arr = np_of(v)
        dt = "bfloat16" if isinstance(v, torch.Tensor) else arr.dtype.name
        data = np.ascontiguousarray(arr).astype(arr.dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": ST_CODE[dt], "shape": list(arr.shape), "data_offsets": [off, off + len(data)]}
        blobs.append(data)
        off += len(data)
    header["__metadata__"] = {"format": "pt"}
    if lie:
        header[lie]["data_offsets"][1] += 10**9
    h = json.dumps(header).encode() + b" " * header_pad
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def torch_state(ts):
    out = OrderedDict()
    for name, v in ts.items():
        out[name] = v if isinstance(v, torch.Tensor) else torch.from_numpy(np.array(v))
    return out


def test_safetensors_npz_pt_and_hdf5_give_one_report(tmp_path):
    a, b = tensors(0), tensors(0, slip=True)
    want_rep, want_code = report(*(write_h5(tmp_path / f"{k}.h5", t) or tmp_path / f"{k}.h5" for k, t in (("a", a), ("b", b))))
    want = rows(want_rep)
    assert want_code == 1 and want_rep["summary"]["first_divergence"] == "layers.0.weight"
    # safetensors, by hand and (when installed) by the safetensors package
    for k, t in (("a", a), ("b", b)):
        write_safetensors(tmp_path / f"{k}.safetensors", t)
    got, code = report(tmp_path / "a.safetensors", tmp_path / "b.safetensors")
    assert rows(got) == want and code == want_code
    # PyTorch state dicts: torch.save's zip format
    for k, t in (("a", a), ("b", b)):
        torch.save(torch_state(t), tmp_path / f"{k}.pt")
    got, code = report(tmp_path / "a.pt", tmp_path / "b.pt")
    assert rows(got) == want and code == want_code
    # npz, stored and deflated (no bfloat16 in numpy: that tensor is left out of both sides)
    nb = {k: v for k, v in a.items() if not isinstance(v, torch.Tensor)}
    nbb = {k: v for k, v in b.items() if not isinstance(v, torch.Tensor)}
    write_h5(tmp_path / "na.h5", nb)
    write_h5(tmp_path / "nb.h5", nbb)
    want_np = rows(report(tmp_path / "na.h5", tmp_path / "nb.h5")[0])
    np.savez(tmp_path / "a.npz", **nb)
    np.savez_compressed(tmp_path / "b.npz", **nbb)
    got, code = report(tmp_path / "a.npz", tmp_path / "b.npz")
    assert rows(got) == want_np
    # any two formats with each other
    got, _ = report(tmp_path / "a.safetensors", tmp_path / "b.pt")
    assert rows(got) == want
    got, _ = report(tmp_path / "a.pt", tmp_path / "b.h5")
    assert rows(got) == want
    write_safetensors(tmp_path / "nb.safetensors", nbb)
    got, _ = report(tmp_path / "a.npz", tmp_path / "nb.safetensors")
    assert rows(got) == want_np


def test_safetensors_package_and_shards(tmp_path):
    st = pytest.importorskip("safetensors.torch", reason="the safetensors package (build/venv)")
    a = torch_state(tensors(0))
    st.save_file({k: v.contiguous() for k, v in a.items()}, str(tmp_path / "pkg.safetensors"))
    write_safetensors(tmp_path / "hand.safetensors", tensors(0))
    rep, code = report(tmp_path / "pkg.safetensors", tmp_path / "hand.safetensors", "--exact")
    assert code == 0 and rep["summary"]["matched"] == len(a)
    # a sharded checkpoint: its index (or its folder) is one dump
    shard = tmp_path / "shards"
    shard.mkdir()
    names = list(a)
    st.save_file({k: a[k].contiguous() for k in names[:3]}, str(shard / "model-00001-of-00002.safetensors"))
    st.save_file({k: a[k].contiguous() for k in names[3:]}, str(shard / "model-00002-of-00002.safetensors"))
    index = {"metadata": {"total_size": 0},
             "weight_map": {k: f"model-0000{1 if i < 3 else 2}-of-00002.safetensors" for i, k in enumerate(names)}}
    (shard / "model.safetensors.index.json").write_text(json.dumps(index))
    for p in (shard, shard / "model.safetensors.index.json"):
        rep, code = report(p, tmp_path / "hand.safetensors", "--exact")
        assert code == 0 and rep["summary"]["matched"] == len(a), rep["summary"]


def test_npy_byte_orders_fortran_order_and_ml_dtypes(tmp_path):
    x = np.arange(24, dtype=np.float32).reshape(2, 3, 4) * 0.5
    np.save(tmp_path / "c.npy", x)
    np.save(tmp_path / "f.npy", np.asfortranarray(x))
    np.save(tmp_path / "big.npy", x.astype(">f4"))
    for other in ("f.npy", "big.npy"):
        rep, code = report(tmp_path / "c.npy", tmp_path / other, "--exact", "--map", "^.*$=c")
        assert code == 0, (other, rep["tensors"])
    ml = pytest.importorskip("ml_dtypes", reason="ml_dtypes comes with JAX (build/venv)")
    np.save(tmp_path / "bf.npy", x.astype(ml.bfloat16))
    np.save(tmp_path / "e5.npy", x.astype(ml.float8_e5m2))
    r = run("stats", tmp_path / "bf.npy", "--json", "-")
    t = json.loads(r.stdout)["tensors"][0]
    assert t["dtype"] == "bfloat16" and t["max"] == 11.5
    t = json.loads(run("stats", tmp_path / "e5.npy", "--json", "-").stdout)["tensors"][0]
    assert t["dtype"] == "float8_e5m2"
    np.save(tmp_path / "e4.npy", x.astype(ml.float8_e4m3fn))  # '<V1': which float8 is not recorded
    r = run("stats", tmp_path / "e4.npy")
    assert r.returncode == 2 and "ml_dtypes float8 whose variant" in r.stderr


def test_torch_views_shared_storages_and_parameters(tmp_path):
    base = torch.arange(60, dtype=torch.float32).reshape(6, 10)
    state = OrderedDict()
    state["t"] = base.t()                 # a strided view
    state["rows"] = base[2:4]             # an offset view of the same storage
    state["col"] = base[:, 3]             # strided with an offset
    state["param"] = torch.nn.Parameter(torch.ones(3))
    state["nested"] = {"a": [torch.zeros(2), torch.full((2,), 7.0)]}
    state["step"] = 12                    # not a tensor: skipped with a note
    torch.save(state, tmp_path / "v.pt")
    flat = OrderedDict(t=base.t().contiguous(), rows=base[2:4].clone(), col=base[:, 3].clone(),
                       param=torch.ones(3), **{"nested.a.0": torch.zeros(2), "nested.a.1": torch.full((2,), 7.0)})
    torch.save(flat, tmp_path / "flat.pt")
    rep, code = report(tmp_path / "v.pt", tmp_path / "flat.pt", "--exact")
    assert code == 0 and rep["summary"]["matched"] == 6, rep["tensors"]
    r = run("stats", tmp_path / "v.pt")
    assert "1 values that are not tensors" in r.stderr


def write_msprobe(root, ts, framework="pytorch", task="tensor", tweak_max=None):
    """An msprobe dump folder, field by field as msprobe writes it (dump.json with indent=1)."""
    data_dir = root / "dump_tensor_data"
    if task == "tensor":
        data_dir.mkdir(parents=True)
    else:
        root.mkdir(parents=True)
    entries = OrderedDict()

    def tensor_dict(entry, cat, idx, v):
        t = v if isinstance(v, torch.Tensor) else torch.from_numpy(np.array(v))
        f = t.float()
        d = OrderedDict(type="torch.Tensor" if framework == "pytorch" else "mindspore.Tensor",
                        dtype=(str(t.dtype) if framework == "pytorch" else
                               {"torch.float32": "Float32", "torch.bfloat16": "BFloat16",
                                "torch.float16": "Float16"}[str(t.dtype)]),
                        shape=list(t.shape), Max=float(f.max()), Min=float(f.min()), Mean=float(f.mean()),
                        Norm=float(f.norm()))
        if tweak_max and f"{entry}.{cat}.{idx}" == tweak_max:
            d["Max"] += 1.0
        if task == "tensor":
            name = f"{entry}.{cat}.{idx}." + ("pt" if framework == "pytorch" else "npy")
            if framework == "pytorch":
                torch.save(t.clone().contiguous(), data_dir / name)
            else:  # MindSpore: bfloat16 widened to float32 in the .npy
                np.save(data_dir / name, t.float().numpy() if t.dtype == torch.bfloat16 else t.numpy())
            d["data_name"] = name
        return d

    for i, (name, v) in enumerate(ts.items()):
        entry = f"Functional.op{i}.0.forward"
        entries[entry] = OrderedDict(
            input_args=[tensor_dict(entry, "input", 0, v), {"type": "int", "value": 3}, None],
            input_kwargs={"alpha": {"type": "float", "value": 1.0}},
            output=[tensor_dict(entry, "output", 0, v * 2)])
    dump = OrderedDict(task=task, level="L1", framework=framework,
                       dump_data_dir=str(data_dir) if task == "tensor" else None, data=entries)
    text = json.dumps(dump, indent=1)
    (root / "dump.json").write_text(text)
    stack = {"0": [list(entries), ["File /x/site-packages/torch/nn/modules/module.py, line 1, in f, \n x",
                                   "File /work/train.py, line 41, in forward, \n y = op(x)"]]}
    (root / "stack.json").write_text(json.dumps(stack))
    return root


MSPROBE_SET = OrderedDict([("a", torch.randn(4, 5, generator=torch.Generator().manual_seed(1))),
                           ("b", bf16(np.linspace(-2, 2, 33))),
                           ("c", torch.randn(7, generator=torch.Generator().manual_seed(2)).half())])


def test_msprobe_tensor_dumps_read_like_hdf5(tmp_path):
    pt = write_msprobe(tmp_path / "pt" / "step0" / "rank0", MSPROBE_SET)
    # The HDF5 twin, named as msprobe names its files.
    twin = OrderedDict()
    for i, v in enumerate(MSPROBE_SET.values()):
        twin[f"Functional.op{i}.0.forward.input.0"] = v if v.dtype == torch.bfloat16 else v.numpy()
        twin[f"Functional.op{i}.0.forward.output.0"] = v * 2 if v.dtype == torch.bfloat16 else (v * 2).numpy()
    write_h5(tmp_path / "twin.h5", twin)
    rep, code = report(pt, tmp_path / "twin.h5", "--exact")
    assert code == 0 and rep["summary"]["matched"] == 6, rep["tensors"]
    # the msprobe side's recorded arguments have no counterpart in the twin: noted, not differences
    assert any("on one side only" in n for n in rep["notes"]), rep["notes"]
    assert all(t["source"] == "/work/train.py:41" for t in rep["tensors"])
    # MindSpore: bfloat16 saved widened to float32 reads back as bfloat16, bit for bit
    ms = write_msprobe(tmp_path / "ms", MSPROBE_SET, framework="mindspore")
    rep, code = report(pt, ms, "--exact")
    tensors = [t for t in rep["tensors"] if "value_a" not in t]  # msprobe's non-tensor arguments are values
    assert code == 0 and sum(t["status"] == "match" for t in tensors) == 6, rep["tensors"]
    assert {t["dtype_b"] for t in tensors} == {"float32", "bfloat16", "float16"}
    assert all(t["status"] == "match" for t in rep["tensors"] if "value_a" in t)
    # its dump.json alone names the dump too
    rep, code = report(pt / "dump.json", ms / "dump.json", "--exact")
    assert code == 0


def test_msprobe_statistics_dumps_compare_as_summaries(tmp_path):
    full = write_msprobe(tmp_path / "full", MSPROBE_SET)
    stats = write_msprobe(tmp_path / "stats", MSPROBE_SET, task="statistics")
    rep, code = report(full, stats)
    assert code == 3 and rep["summary"]["consistent"] == 6  # statistics agree; elements unseen
    t = rep["tensors"][0]
    assert t["b"]["nan"] is None and t["b"]["l2"] is not None
    bad = write_msprobe(tmp_path / "bad", MSPROBE_SET, task="statistics", tweak_max="Functional.op2.0.forward.output.0")
    rep, code = report(stats, bad)
    assert code == 1 and rep["summary"]["first_divergence"] == "Functional.op2.0.forward.output.0"
    assert "max" in rep["tensors"][-1]["reason"]


def test_hdf5_filter_plugins(tmp_path):
    """blosc, lz4, bzip2 and lzf through HDF5's plugin path (Debian's plugins)."""
    x = np.random.default_rng(0).standard_normal((200, 30)).astype(np.float32)
    filters = {"lzf": 32000, "blosc": 32001, "lz4": 32004, "bzip2": 307}
    written = []
    with h5py.File(tmp_path / "f.h5", "w") as f, h5py.File(tmp_path / "plain.h5", "w") as g:
        for name, fid in filters.items():
            dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
            dcpl.set_chunk((50, 30))
            try:
                dcpl.set_filter(fid, h5py.h5z.FLAG_OPTIONAL)
                ds = h5py.h5d.create(f.id, name.encode(), h5py.h5t.NATIVE_FLOAT, h5py.h5s.create_simple(x.shape), dcpl=dcpl)
                ds.write(h5py.h5s.ALL, h5py.h5s.ALL, x)
            except Exception:
                continue  # that plugin is not installed here
            g[name] = x
            written.append(name)
    if not written:
        pytest.skip("no HDF5 filter plugin is installed (scripts/install-deps.sh installs them)")
    rep, code = report(tmp_path / "f.h5", tmp_path / "plain.h5", "--exact")
    assert code == 0 and rep["summary"]["matched"] == len(written), rep["tensors"]
    # Without the plugins: each tensor's row names its filter.
    r = run("-q", tmp_path / "f.h5", tmp_path / "plain.h5", env={"HDF5_PLUGIN_PATH": str(tmp_path / "none")})
    assert r.returncode == 2
    assert "HDF5_PLUGIN_PATH" in r.stderr


# -- hostile inputs --------------------------------------------------------------------------

class Evil:
    def __reduce__(self):
        return (os.system, ("touch PWNED",))


def test_a_pickle_that_runs_code_is_refused(tmp_path):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        z.writestr("evil/data.pkl", pickle.dumps({"w": Evil()}, protocol=2))
    (tmp_path / "evil.pt").write_bytes(buf.getvalue())
    r = subprocess.run([BIN, "stats", "evil.pt"], cwd=tmp_path, capture_output=True, text=True)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1
    assert "refuses the pickle global 'posix.system'" in r.stderr
    assert not (tmp_path / "PWNED").exists()


def test_legacy_torch_truncated_zip_and_lying_headers(tmp_path):
    torch.save({"w": torch.ones(3)}, tmp_path / "old.pt", _use_new_zipfile_serialization=False)
    r = run("stats", tmp_path / "old.pt")
    assert r.returncode == 2 and "legacy format" in r.stderr
    np.savez(tmp_path / "z.npz", a=np.ones(1000), b=np.zeros(10))
    data = (tmp_path / "z.npz").read_bytes()
    (tmp_path / "cut.npz").write_bytes(data[: len(data) // 2])
    r = run("stats", tmp_path / "cut.npz")
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and "cut.npz" in r.stderr
    # a safetensors header whose offsets run past the data: that tensor's row, the others compared
    ts = tensors(0)
    write_safetensors(tmp_path / "lie.safetensors", ts, lie="layers.1.act")
    write_safetensors(tmp_path / "ok.safetensors", ts)
    r = run("-q", tmp_path / "lie.safetensors", tmp_path / "ok.safetensors", "--json", tmp_path / "r.json")
    assert r.returncode == 2
    got = {t["name"]: t["status"] for t in json.load(open(tmp_path / "r.json"))["tensors"]}
    assert got.pop("layers.1.act") == "error" and set(got.values()) == {"match"}
    # a 100 MB+ header
    with open(tmp_path / "huge.safetensors", "wb") as f:
        f.write(struct.pack("<Q", 200_000_000) + b"{" + b" " * 1000)
    r = run("stats", tmp_path / "huge.safetensors")
    assert r.returncode == 2 and "the format allows 100 MB" in r.stderr
    # an .npy header with an enormous shape
    hdr = b"{'descr': '<f4', 'fortran_order': False, 'shape': (1099511627776, 1099511627776), }"
    hdr += b" " * (127 - len(hdr) % 128) + b"\n"
    (tmp_path / "big.npy").write_bytes(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(hdr)) + hdr + b"\0" * 64)
    r = run("stats", tmp_path / "big.npy")
    assert r.returncode == 2 and "2^60" in r.stderr
    # not any format: one line naming what is read
    (tmp_path / "x.bin").write_bytes(b"garbage" * 10)
    r = run("stats", tmp_path / "x.bin")
    assert r.returncode == 2 and "safetensors" in r.stderr and "msprobe" in r.stderr
