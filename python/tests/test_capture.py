"""The capture package end to end: record two runs, compare them with the engine, read the
first divergence (issue 4's scenarios)."""
import json
import os
import subprocess

import h5py
import numpy as np
import pytest
import torch

import tensordiff


class Block(torch.nn.Module):
    def __init__(self, dim, approximate="none"):
        super().__init__()
        self.fc = torch.nn.Linear(dim, dim)
        self.act = torch.nn.GELU(approximate=approximate)

    def forward(self, x):
        return x + self.act(self.fc(x))


class Model(torch.nn.Module):
    def __init__(self, dim=64, depth=4, slip_at=None):
        super().__init__()
        self.embed = torch.nn.Linear(16, dim)
        self.blocks = torch.nn.ModuleList(
            Block(dim, "tanh" if i == slip_at else "none") for i in range(depth))
        self.head = torch.nn.Linear(dim, 8)

    def forward(self, x):
        h = self.embed(x)
        for b in self.blocks:
            h = b(h)
        return self.head(h)


def run(path, slip_at=None, dtype=torch.float32, mode="full"):
    torch.manual_seed(0)
    x = torch.randn(32, 16)
    model = Model(slip_at=slip_at)
    if dtype == torch.float16:
        # CPU torch has no float16 matmul: compute in float32, record every output as
        # float16, as a run whose activations are dumped in half precision would.
        def record_half(mod, args, out, name):
            tensordiff.save(name, out.half())  # returns None: the output itself is unchanged

        with tensordiff.Recorder(path, mode=mode):
            hooks = [m.register_forward_hook(
                lambda mod, args, out, name=(n or "output"): record_half(mod, args, out, name))
                for n, m in model.named_modules()]
            with torch.no_grad():
                model(x)
            for h in hooks:
                h.remove()
        return
    model = model.to(dtype)
    with tensordiff.Recorder(path, mode=mode), tensordiff.hook_module(model):
        with torch.no_grad():
            model(x.to(dtype))


def test_hook_module_finds_the_slipped_block(tmp_path):
    a, b = str(tmp_path / "a.h5"), str(tmp_path / "b.h5")
    run(a)
    run(b, slip_at=2)
    report = tensordiff.compare(a, b)
    assert report["exit_code"] == 1
    # GELU's tanh approximation in block 2: its activation is the first divergence, by
    # execution order (blocks.2.fc ran before it and matches).
    assert report["summary"]["first_divergence"] == "blocks.2.act"
    status = {t["name"]: t["status"] for t in report["tensors"]}
    assert status["blocks.2.fc"] == "match"
    assert status["blocks.1.act"] == "match"
    assert status["head"] == "mismatch"
    with h5py.File(a) as f:
        assert f["blocks.2.act"].attrs["framework"] == "pytorch"
        assert f["blocks.2.act"].attrs["order"] < f["head"].attrs["order"]
        assert ":" in f["embed"].attrs["source"]


def test_hooks_are_removed_on_exit(tmp_path):
    model = Model()
    with tensordiff.Recorder(str(tmp_path / "r.h5")), tensordiff.hook_module(model):
        pass
    assert all(not m._forward_hooks for m in model.modules())


def test_repeated_module_calls_get_suffixes(tmp_path):
    lin = torch.nn.Linear(4, 4)
    path = str(tmp_path / "r.h5")
    with tensordiff.Recorder(path), tensordiff.hook_module(lin, root_name="lin"):
        lin(torch.ones(1, 4))
        lin(torch.ones(1, 4))
    with h5py.File(path) as f:
        assert list(f.keys()) == ["lin", "lin#2"]


def step_function(x, slip):
    h = x * 2.0
    h = h + 1.0
    h = np.tanh(h) if not slip else np.tanh(h) + 1e-3  # the 3rd value of h differs
    h = h * 0.5
    return h


watched = tensordiff.watch("h")(step_function)


def test_watch_names_the_third_change(tmp_path):
    a, b = str(tmp_path / "a.h5"), str(tmp_path / "b.h5")
    x = np.linspace(-1, 1, 1000)
    for path, slip in ((a, False), (b, True)):
        with tensordiff.Recorder(path):
            watched(x, slip)
    with h5py.File(a) as f:
        names = []
        f.visititems(lambda n, o: names.append(n) if isinstance(o, h5py.Dataset) else None)
    base = "step_function[0]"  # the call's number, no Python module in the name
    assert sorted(names) == sorted(f"{base}/h#{k}" for k in range(1, 5))
    report = tensordiff.compare(a, b)
    assert report["summary"]["first_divergence"] == f"{base}/h#3"


def test_watch_without_recorder_and_tracer_restored():
    import sys
    before = sys.gettrace()
    assert watched(np.ones(3), False).shape == (3,)
    assert sys.gettrace() is before


@pytest.mark.parametrize("dtype,name", [(torch.bfloat16, "bfloat16"), (torch.float16, "float16")])
def test_low_precision_runs_compare_against_float32(tmp_path, dtype, name):
    a, b = str(tmp_path / "f32.h5"), str(tmp_path / "low.h5")
    run(a)
    run(b, dtype=dtype)
    with h5py.File(b) as f:
        assert f["embed"].attrs["dtype"] == name
        assert f["embed"].id.get_type().get_size() == 2  # kept as 2 bytes, never upcast
    report = tensordiff.compare(a, b)
    t = {x["name"]: x for x in report["tensors"]}
    assert t["embed"]["dtype_a"] == "float32" and t["embed"]["dtype_b"] == name
    # Same model in lower precision: close in direction everywhere, not bit-identical.
    for x in report["tensors"]:
        assert x["diff"]["cosine"] > 0.999, x["name"]
    assert report["summary"]["compared"] == len(report["tensors"])


def test_summary_mode_matches_the_engine_on_the_full_dump(tmp_path):
    full, summ = str(tmp_path / "full.h5"), str(tmp_path / "summary.jsonl")
    run(full)
    run(summ, mode="summary")
    stats_json = str(tmp_path / "stats.json")
    subprocess.run([tensordiff.find_binary(), "stats", "-q", full, "--json", stats_json], check=True)
    engine = {t["name"]: t for t in json.load(open(stats_json))["tensors"]}
    lines = [json.loads(l) for l in open(summ)]
    assert lines[0]["kind"] == "summary"
    recorded = {t["name"]: t for t in lines[1:]}
    assert recorded.keys() == engine.keys()
    for name, t in recorded.items():
        e = engine[name]
        assert t["checksum"] == e["checksum"], name
        assert t["first_nonzero"] == e["first_nonzero"], name
        assert t["nonzero"] == e["nonzero"] and t["shape"] == e["shape"]
        assert t["mag_hist"] == e["mag_hist"], name
    # Summaries compare like dumps: identical runs match, a slipped run diverges at block 2.
    other = str(tmp_path / "slip.jsonl")
    torch.manual_seed(0)
    run(other, slip_at=2, mode="summary")
    assert tensordiff.compare(summ, summ)["summary"]["mismatched"] == 0
    report = tensordiff.compare(summ, other)
    assert report["summary"]["first_divergence"] == "blocks.2.act"
    # A full dump against a summary: the engine summarises the dump itself.
    assert tensordiff.compare(full, summ)["summary"]["mismatched"] == 0


def test_recorder_filter_and_max_bytes(tmp_path):
    path = str(tmp_path / "r.h5")
    with tensordiff.Recorder(path, filter="keep*", max_bytes=100) as rec:
        assert rec.save("keep.a", np.zeros(10, np.float32))
        assert not rec.save("drop.b", np.zeros(10, np.float32))
        with pytest.warns(UserWarning):
            assert not rec.save("keep.big", np.zeros(100, np.float32))
    with h5py.File(path) as f:
        assert list(f.keys()) == ["keep.a"]


def test_plain_objects_with_array_interface(tmp_path):
    class Wrapped:  # like a JAX array: only __array__
        def __init__(self, a):
            self.a = a

        def __array__(self, dtype=None):
            return self.a

    path = str(tmp_path / "r.h5")
    with tensordiff.Recorder(path):
        tensordiff.save("w", Wrapped(np.arange(6, dtype=np.int64).reshape(2, 3)))
    with h5py.File(path) as f:
        assert f["w"][()].tolist() == [[0, 1, 2], [3, 4, 5]]
        assert f["w"].attrs["framework"] == __name__.split(".")[0]  # the object's own module


def test_missing_binary_or_engine_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("TENSORDIFF_BIN", str(tmp_path / "nope"))
    with pytest.raises(tensordiff.TensordiffError, match="TENSORDIFF_BIN"):
        tensordiff.find_binary()
    import sys
    monkeypatch.setattr(sys.modules["tensordiff.compare"], "engine", lambda: None)
    with pytest.raises(tensordiff.TensordiffError, match="engine module is not built: pip install"):
        tensordiff.compare("a.h5", "b.h5")


def test_compare_reports_engine_errors(tmp_path):
    with pytest.raises(tensordiff.TensordiffError, match="missing.h5"):
        tensordiff.compare(str(tmp_path / "missing.h5"), str(tmp_path / "missing.h5"))


def test_inputs_and_gradients(tmp_path):
    torch.manual_seed(0)
    lin = torch.nn.Linear(3, 2)
    path = str(tmp_path / "g.h5")
    with tensordiff.Recorder(path), tensordiff.hook_module(lin, inputs=True, grads=True,
                                                         root_name="lin"):
        lin(torch.ones(4, 3)).sum().backward()
    with h5py.File(path) as f:
        assert sorted(f.keys(), key=lambda k: f[k].attrs["order"]) == ["lin.input.0", "lin", "lin.grad.0"]
        assert np.allclose(f["lin.grad.0"][()], 1.0)  # d(sum)/d(output)


def test_a_crash_keeps_what_was_recorded(tmp_path):
    path = str(tmp_path / "crash.h5")
    code = ("import numpy as np, os, tensordiff\n"
            f"rec = tensordiff.Recorder({path!r}).__enter__()\n"
            "rec.save('before', np.arange(10.0))\n"
            "os._exit(3)\n")
    env = dict(os.environ, PYTHONPATH=os.path.join(os.path.dirname(__file__), ".."))
    assert subprocess.run(["/usr/bin/python3", "-c", code], env=env).returncode == 3
    with h5py.File(path, "r") as f:
        assert f["before"][()].tolist() == list(np.arange(10.0))


def test_summary_keeps_the_sign_of_zero(tmp_path):
    # min -0.0 must survive JSON: the engine writes "-0.0" ("-0" reads back as the integer 0).
    path = str(tmp_path / "s.jsonl")
    with tensordiff.Recorder(path, mode="summary") as rec:
        rec.save("x", np.array([1.0, -0.0, np.nan, np.inf], np.float32))
    t = json.loads(open(path).read().splitlines()[1])
    assert isinstance(t["min"], float) and t["min"] == 0 and np.signbit(t["min"])


def test_inputs_recorded_before_children_with_keywords(tmp_path):
    """Issue 22: a module's inputs are recorded before its children run, keyword arguments by
    name; a scripted submodule (no hooks in torch.jit) is skipped with one warning naming it;
    removing the hooks restores every forward."""
    class Inner(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = torch.nn.Linear(3, 3)

        def forward(self, x, scale=None):
            return self.lin(x) * (1 if scale is None else scale)

    class Outer(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.inner = Inner()
            self.scripted = torch.jit.script(torch.nn.Linear(3, 3))

        def forward(self, x):
            return self.scripted(self.inner(x, scale=torch.full((3,), 2.0)))

    torch.manual_seed(0)
    model = Outer()
    path = str(tmp_path / "k.h5")
    with pytest.warns(UserWarning, match=r"1 scripted module\(s\) cannot be hooked.*\(scripted\)"):
        with tensordiff.Recorder(path), tensordiff.hook_module(model, inputs=True):
            model(torch.ones(2, 3))
    with h5py.File(path) as f:
        order = sorted(f.keys(), key=lambda k: f[k].attrs["order"])
    assert order.index("inner.input.0") < order.index("inner.input.scale") < order.index("inner.lin.input.0") \
        < order.index("inner.lin") < order.index("inner") < order.index("output")
    assert not any(n.startswith("scripted") for n in order)
    assert all("forward" not in m.__dict__ for m in model.modules() if not isinstance(m, torch.jit.ScriptModule))


def test_copies_are_recorded_once_as_aliases(tmp_path):
    # Issue 22: a module's input that is its predecessor's output, a cache returned twice: the
    # data is written once, the copy is an alias record with its own order and source, and the
    # engine reads it as its target's data (the same verdicts as a dump of full copies).
    model = Model(depth=3)
    x = torch.randn(8, 16)
    paths = {}
    for aliases in (True, False):
        paths[aliases] = str(tmp_path / f"aliases_{aliases}.h5")
        with tensordiff.Recorder(paths[aliases], aliases=aliases), tensordiff.hook_module(model, inputs=True):
            model(x)
            tensordiff.save("logits_again", model(x).detach().clone())  # equal data, another tensor
    with h5py.File(paths[True]) as f, h5py.File(paths[False]) as g:
        assert sorted(f) == sorted(g)
        aliased = {n: f[n].attrs["alias_of"] for n in _datasets(f) if f[n].shape is None}
        # blocks.1's input is blocks.0's output; the second call's records copy the first's
        assert aliased["blocks.1.input.0"] == "blocks.0"
        assert aliased["logits_again"] == "head"
        for n, target in aliased.items():
            assert f[n].attrs["order"] != f[target].attrs["order"]
            np.testing.assert_array_equal(g[n][()], f[target][()])
    assert os.path.getsize(paths[True]) < os.path.getsize(paths[False])
    report = tensordiff.compare(paths[False], paths[True])
    assert report["exit_code"] == 0 and report["summary"]["compared"] == len(_datasets(g := h5py.File(paths[False])))
    g.close()
    orders = [t["name"] for t in tensordiff.stats(paths[True])["tensors"]]
    assert orders == [t["name"] for t in tensordiff.stats(paths[False])["tensors"]]


def test_an_alias_the_file_cannot_resolve_is_an_error(tmp_path):
    path = str(tmp_path / "bad.h5")
    with h5py.File(path, "w") as f:
        f["x"] = np.ones(4, np.float32)
        for name, target in (("y", "nope"), ("z", "y")):  # missing; an alias of an alias
            d = f.create_dataset(name, data=h5py.Empty("u1"))
            d.attrs["alias_of"] = target
    r = subprocess.run([tensordiff.find_binary(), "stats", "-q", path], capture_output=True, text=True)
    assert r.returncode == 2
    assert "tensor 'y': an alias of 'nope', which the file does not hold as a dataset" in r.stderr
    assert "tensor 'z': an alias of 'y', itself an alias (an alias must name the dataset holding" in r.stderr


def _datasets(f):
    out = []
    f.visititems(lambda n, o: out.append(n) if isinstance(o, h5py.Dataset) else None)
    return out


class SettingsBlock(torch.nn.Module):
    def __init__(self, eps=1e-5, approximate="none"):
        super().__init__()
        self.ln = torch.nn.LayerNorm(16, eps=eps)
        self.fc = torch.nn.Linear(16, 16)
        self.act = torch.nn.GELU(approximate=approximate)
        self.drop = torch.nn.Dropout(0.1)

    def forward(self, x):
        return x + self.drop(self.act(self.fc(self.ln(x))))


@pytest.mark.parametrize("slip,named", [(None, None), ("eps", "blocks.2.ln.setting.eps"),
                                        ("gelu", "blocks.2.act.setting.approximate"),
                                        ("dropout_on", "blocks.2.drop.setting.training")])
def test_settings_are_recorded_and_a_differing_one_is_named_first(tmp_path, slip, named):
    """Issue 23 item 5: hook_module(settings=True) records each module's settings (eps,
    approximate, p, training, ...) as value records; in a bf16 autocast run, where an eps of 1e-3
    or a tanh GELU hides below the rounding, the differing setting is the first jump."""
    def net(slip=None):
        torch.manual_seed(0)
        blocks = torch.nn.ModuleList(SettingsBlock(**({"eps": 1e-3} if slip == "eps" and i == 2 else {}),
                                                   **({"approximate": "tanh"} if slip == "gelu" and i == 2 else {}))
                                     for i in range(4))
        m = torch.nn.Sequential()
        m.blocks = blocks
        m.eval()
        if slip == "dropout_on":
            m.blocks[2].drop.train()
        return m

    x = torch.randn(4, 16)
    paths = []
    for run in (None, slip):
        paths.append(str(tmp_path / f"{run}.h5"))
        m = net(run)
        torch.manual_seed(1)  # the dropout left on draws the same mask in every run
        with tensordiff.Recorder(paths[-1]), tensordiff.hook_module(m, settings=True), \
                torch.autocast("cpu", dtype=torch.bfloat16), torch.no_grad():
            h = x
            for b in m.blocks:
                h = b(h)
    rep = tensordiff.compare(*paths)
    assert rep["summary"]["first_jump"] == named, rep["summary"]["jumps"]
    rows = {t["name"]: t for t in rep["tensors"]}
    assert rows["blocks.0.ln.setting.eps"]["value_a"] == "float 1e-05"
    if named is None:
        assert rep["exit_code"] == 0, [(t["name"], t["reason"]) for t in rep["tensors"] if t["status"] != "match"]
    stats = tensordiff.stats(paths[0])
    assert {"blocks.1.act.setting.approximate": 'str "none"'}.items() <= \
        {t["name"]: t.get("value") for t in stats["tensors"]}.items()


def test_settings_in_summary_mode_are_skipped_with_one_warning(tmp_path):
    m = SettingsBlock()
    with pytest.warns(UserWarning, match="full mode only"):
        with tensordiff.Recorder(str(tmp_path / "s.jsonl"), mode="summary"), tensordiff.hook_module(m, settings=True):
            m(torch.randn(2, 16))
