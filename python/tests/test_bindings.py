"""Issue 12: the engine in this process. compare() equals the command line's JSON; arrays of
every dtype compare as the same data written to HDF5 does; contiguous memory is not copied;
a run checks itself against a reference and stops at the slip."""
import json
import os
import subprocess
import sys
import time
import warnings

import h5py
import numpy as np
import pytest
import torch

import tensordiff
from tensordiff.recorder import _bf16_type

from test_watch_loop import SLIP_STEP, line_of, train_step

# Fields that differ between two runs of the same comparison.
TIMING = {"seconds", "gb_per_s"}


def strip_timing(x):
    if isinstance(x, dict):
        return {k: strip_timing(v) for k, v in x.items() if k not in TIMING}
    if isinstance(x, list):
        return [strip_timing(v) for v in x]
    return x


def write_pair(tmp_path):
    a, b = str(tmp_path / "a.h5"), str(tmp_path / "b.h5")
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 33)).astype(np.float32)
    with h5py.File(a, "w", track_order=True) as f, h5py.File(b, "w", track_order=True) as g:
        f["embed"], g["embed"] = x, x
        f["act"], g["act"] = x * 2, x * 2 + 1e-3
        f["ids"], g["ids"] = np.arange(10), np.arange(10)
        f["only_a"] = np.zeros(3, np.float32)
    return a, b


def test_compare_equals_the_command_lines_json(tmp_path):
    a, b = write_pair(tmp_path)
    for options, flags in [({}, []), ({"rtol": 1e-2, "worst_k": 3}, ["--rtol", "0.01", "--worst-k", "3"]),
                           ({"exclude": ["ids"], "criterion": "cosine"}, ["--exclude", "ids", "--criterion", "cosine"])]:
        out = str(tmp_path / "cli.json")
        proc = subprocess.run([tensordiff.find_binary(), "-q", a, b, *flags, "--json", out])
        cli = json.load(open(out))
        py = tensordiff.compare(a, b, **options)
        assert py.pop("exit_code") == proc.returncode
        assert strip_timing(py) == strip_timing(cli)
    # stats of a path: the same as `tensordiff stats --json`
    out = str(tmp_path / "stats.json")
    subprocess.run([tensordiff.find_binary(), "stats", "-q", a, "--json", out], check=True)
    py = tensordiff.stats(a)
    assert py.pop("exit_code") == 0 and strip_timing(py) == strip_timing(json.load(open(out)))


def test_errors_and_options_are_the_command_lines(tmp_path):
    a, b = write_pair(tmp_path)
    with pytest.raises(tensordiff.TensordiffError, match="--rtol 'x' is not a number"):
        tensordiff.compare(a, b, rtol="x")
    with pytest.raises(tensordiff.TensordiffError, match="missing.h5: cannot open"):
        tensordiff.compare(a, str(tmp_path / "missing.h5"))
    with pytest.raises(TypeError, match="printed table"):
        tensordiff.compare(a, b, quiet=True)
    with pytest.raises(TypeError, match="unexpected keyword argument 'no_such_option'"):
        tensordiff.compare(a, b, no_such_option=1)


def bf16_bits(x32):
    return (x32.view(np.uint32) >> 16).astype(np.uint16)


DTYPES = ["float64", "float32", "float16", "bfloat16", "int8", "int16", "int32", "int64",
          "uint8", "uint16", "uint32", "uint64", "bool"]


def sample(dtype, rng, n=999):
    x = rng.standard_normal(n) * 50
    if dtype == "bool":
        return x > 0
    if dtype == "bfloat16":
        return torch.from_numpy(x.astype(np.float32)).to(torch.bfloat16)
    if dtype.startswith("uint"):
        return np.abs(x).astype(dtype)
    return x.astype(dtype)


def write_h5(path, name, value):
    with h5py.File(path, "w") as f:
        if isinstance(value, torch.Tensor):  # bfloat16: the custom float
            bits = value.view(torch.int16).numpy().view(np.uint16)
            tid = _bf16_type()
            ds = h5py.h5d.create(f.id, name.encode(), tid, h5py.h5s.create_simple(bits.shape))
            ds.write(h5py.h5s.ALL, h5py.h5s.ALL, bits, mtype=tid)
        else:
            f[name] = value


@pytest.mark.parametrize("dtype", DTYPES)
def test_compare_arrays_equals_the_engine_on_hdf5(tmp_path, dtype):
    rng = np.random.default_rng(hash(dtype) % 1000)
    a, b = sample(dtype, rng), sample(dtype, rng)
    if dtype != "bool":  # b close to a in most places
        b[: len(b) // 2] = a[: len(a) // 2]
    pa, pb = str(tmp_path / "a.h5"), str(tmp_path / "b.h5")
    write_h5(pa, "x", a)
    write_h5(pb, "x", b)
    from_files = tensordiff.compare(pa, pb)
    in_memory = tensordiff.compare_arrays(a, b, name="x")
    fa, fm = from_files["tensors"][0], in_memory["tensors"][0]
    for k in ("storage", "source"):
        fa.pop(k, None), fm.pop(k, None)
    assert strip_timing(fm) == strip_timing(fa)
    assert in_memory["exit_code"] == from_files["exit_code"]
    st = tensordiff.stats(a, name="x")["tensors"][0]
    sf = tensordiff.stats(pa)["tensors"][0]
    assert st["checksum"] == sf["checksum"] and st["mag_hist"] == sf["mag_hist"] and st["min"] == sf["min"]


def test_float8_and_frameworks():
    ml_dtypes = pytest.importorskip("ml_dtypes", reason="ml_dtypes comes with JAX (build/venv)")
    x = np.linspace(-3, 3, 101).astype(ml_dtypes.float8_e4m3fn)
    r = tensordiff.stats(x)
    assert r["tensors"][0]["dtype"] == "float8_e4m3fn"
    assert r["tensors"][0]["max"] == 3.0
    jnp = pytest.importorskip("jax.numpy")
    j = jnp.arange(12, dtype=jnp.bfloat16).reshape(3, 4)
    t = torch.arange(12, dtype=torch.bfloat16).reshape(3, 4)
    assert tensordiff.compare_arrays(j, t, exact=True)["exit_code"] == 0


def test_dicts_compare_like_dumps_and_views_are_read_right():
    base = torch.arange(24, dtype=torch.float32).reshape(4, 6)
    a = {"t": base.t(), "row": base[1], "scalar": torch.tensor(2.0)}  # t() is a strided view
    b = {"t": base.t().contiguous(), "row": base[1].clone(), "extra": torch.zeros(2)}
    r = tensordiff.compare_arrays(a, b)
    rows = {t["name"]: t for t in r["tensors"]}
    assert rows["t"]["status"] == "match" and rows["row"]["status"] == "match"
    assert rows["scalar"]["status"] == "only_in_a" and rows["extra"]["status"] == "only_in_b"
    assert r["exit_code"] == 1


ZERO_COPY = r"""
import resource, sys, time, numpy as np
sys.path.insert(0, {path!r})
import tensordiff
x = np.ones(1 << 28, np.float32)  # 1 GiB, contiguous
x[::4096] = 2.0
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t = time.perf_counter()
s = tensordiff.stats(x)["tensors"][0]
secs = time.perf_counter() - t
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
assert s["count"] == 1 << 28 and s["max"] == 2.0
print((after - before) // 1024, secs)
"""


def test_a_contiguous_gib_is_not_copied():
    here = os.path.join(os.path.dirname(__file__), "..")
    out = subprocess.run([sys.executable, "-c", ZERO_COPY.format(path=here)], capture_output=True, text=True,
                         env=dict(os.environ), check=True).stdout.split()
    grown_mib, secs = int(out[0]), float(out[1])
    # The engine's chunk buffers only (a copy would add 1024 MiB).
    assert grown_mib < 128, f"peak RSS grew by {grown_mib} MiB for stats of a 1 GiB array"


def run_reference(tmp_path, reference, on_divergence="raise"):
    torch.manual_seed(0)
    W = torch.randn(8, 8)
    x = torch.randn(16, 8)
    rec = tensordiff.Recorder(reference=reference, on_divergence=on_divergence)
    with rec:
        for step in range(4):
            train_step(W, x, step, True)
    return rec


def test_a_run_checks_itself_and_stops_at_the_slip(tmp_path):
    a = str(tmp_path / "a.h5")
    torch.manual_seed(0)
    W = torch.randn(8, 8)
    x = torch.randn(16, 8)
    with tensordiff.Recorder(a):
        for step in range(4):
            train_step(W, x, step, False)
    with warnings.catch_warnings(), pytest.raises(tensordiff.Divergence) as e:
        warnings.simplefilter("error")  # a call stopped by Divergence warns of nothing
        run_reference(tmp_path, a)
    d = e.value
    assert d.name == f"train_step[{SLIP_STEP}]/h#2"
    assert d.source.endswith(f":{line_of(train_step, 'h += 1.001')}")
    assert d.row["status"] == "mismatch" and d.row["diff"]["max_abs"] > 0
    msg = str(d)
    assert d.name in msg and d.source in msg and "rel L2" in msg and "not close" in msg
    # Every tensor before the slip was checked and matched.
    assert d.report["summary"]["matched"] > 0 and d.report["summary"]["mismatched"] == 1
    # warn: the run goes on, the divergence is kept; mark: silent.
    with pytest.warns(UserWarning, match="parts from"):
        rec = run_reference(tmp_path, a, "warn")
    assert rec.divergence.name == d.name
    rec = run_reference(tmp_path, a, "mark")
    assert rec.divergence.name == d.name
    full = rec.report()
    assert full["summary"]["first_divergence"] == d.name and full["exit_code"] == 1


def test_reference_mode_errors(tmp_path):
    with pytest.raises(tensordiff.TensordiffError, match="cannot open"):
        with tensordiff.Recorder(reference=str(tmp_path / "missing.h5")):
            pass
    with pytest.raises(ValueError, match="needs a path"):
        tensordiff.Recorder()
    with pytest.raises(TypeError, match="need reference"):
        tensordiff.Recorder(str(tmp_path / "x.h5"), rtol=1e-3)


def test_in_process_overhead_per_tensor_and_per_gb(capsys):
    # The note's figures: 10,000 small tensors, and one large one.
    small = {f"t{i}": np.full(64, i, np.float32) for i in range(10000)}
    t = time.perf_counter()
    r = tensordiff.compare_arrays(small, small)
    per_tensor = (time.perf_counter() - t) / 10000
    assert r["summary"]["matched"] == 10000
    big = np.ones(1 << 27, np.float32)  # 0.5 GiB per side
    t = time.perf_counter()
    tensordiff.compare_arrays(big, big)
    per_gb = (time.perf_counter() - t) / (2 * big.nbytes / 1e9)
    with capsys.disabled():
        print(f"\n  in-process compare_arrays: {per_tensor * 1e6:.1f} us per small tensor, "
              f"{per_gb:.3f} s per GB")
    assert per_tensor < 1e-3


def test_reports_reach_python_as_the_json_texts_dicts(tmp_path):
    """Issue 21: the module builds the report's dicts from the library's one definition of its
    fields (no JSON text in between); they are exactly what json.loads gives for --json's text:
    non-finite values as their strings, -0.0 kept, integers as ints, every status and section."""
    from tensordiff._native import engine
    eng = engine()
    a, b = str(tmp_path / "a.h5"), str(tmp_path / "b.h5")
    x = np.linspace(-3, 3, 300, dtype=np.float32)
    y = x.copy()
    y[[1, 5]] = [np.nan, np.inf]
    y[7] = -0.0
    with h5py.File(a, "w", track_order=True) as f, h5py.File(b, "w", track_order=True) as g:
        f["same"], g["same"] = x, x
        f["slip"], g["slip"] = x, y
        f["ids"], g["ids"] = np.arange(10), np.arange(10)[::-1].copy()
        f["shape"], g["shape"] = x, x[:100]
        f["only_a"] = np.zeros(3, np.float32)
        g["only_b"] = np.full(4, -0.0, np.float32)
        tid = _bf16_type()
        for h in (f, g):
            ds = h5py.h5d.create(h.id, b"bf", tid, h5py.h5s.create_simple((8,)))
            ds.write(h5py.h5s.ALL, h5py.h5s.ALL, np.arange(8, dtype=np.uint16) + 0x3f80, mtype=tid)
    runs = [eng.compare({}, a, b, []), eng.compare({"exact": True, "tol": ["s*:rtol=0.5"]}, a, b, []),
            eng.stats({}, b, []), eng.stats({}, a, ["sl*"]),
            eng.compare_arrays([("t", "float32", [300], x, "here.py:1")], [("t", "float32", [300], y, "")], {}),
            eng.stats_arrays([("t", "float32", [300], y, "")], {})]
    for r in runs:
        doc = r.report()
        assert doc == json.loads(r.json())
        assert doc["tensors"], doc
    statuses = {t["status"] for t in runs[0].report()["tensors"]}
    assert {"match", "mismatch", "only_in_a", "only_in_b", "incompatible"} <= statuses
    slip = next(t for t in runs[0].report()["tensors"] if t["name"] == "slip")
    assert slip["b"]["nan"] == 1 and slip["b"]["pos_inf"] == 1
    assert any(e["kind"] == "nan" for e in slip["diff"]["nonfinite"])


def test_peer_key_is_the_diagnosis_own():
    # replay ranks own errors among the peers the engine's diagnosis uses (one definition)
    from tensordiff._native import engine
    eng = engine()
    assert eng.peer_key("h.2.ln_1", "model.py:7 (LayerNorm)") == "h.#.ln_1 (LayerNorm)"
    assert eng.peer_key("layers.10.mlp.0", "") == "layers.#.mlp.#"
    assert eng.peer_key("head", "model.py:9 (Linear)") == ""
    assert eng.checksum(np.zeros(0, np.uint8)) == int(tensordiff.checksum(np.zeros(0, np.uint8)), 16)
