"""Issue 20 in Python: compare, compare_arrays, stats and the Recorder's reference mode never
pass silently. Nothing compared raises; every keyword is an option or a TypeError naming it;
report files asked for are written; a reference whose names do not match says so."""
import json
import os
import warnings

import h5py
import numpy as np
import pytest
import torch

import tensordiff


def write(path, tensors):
    with h5py.File(path, "w", track_order=True) as f:
        for k, v in tensors.items():
            f[k] = v
    return str(path)


@pytest.fixture
def pair(tmp_path):
    w = np.random.default_rng(0).standard_normal(1000).astype(np.float32)
    a = write(tmp_path / "a.h5", {"weight": w, "scale": np.ones(4, np.float16)})
    b = write(tmp_path / "b.h5", {"weight": w * np.float32(1 + 5e-4), "scale": np.ones(4, np.float16)})
    return a, b


def test_nothing_compared_raises(pair, tmp_path):
    a, b = pair
    with pytest.raises(tensordiff.TensordiffError, match="'no.such' is in neither"):
        tensordiff.compare(a, b, "no.such")
    with pytest.raises(tensordiff.TensordiffError, match="nothing compared"):
        tensordiff.compare(a, b, include=["nomatch*"])
    with pytest.raises(tensordiff.TensordiffError, match="nothing compared"):
        tensordiff.compare_arrays({}, {})
    with pytest.raises(tensordiff.TensordiffError, match="nothing compared: no tensor of"):
        tensordiff.compare_arrays({"x": np.ones(3)}, {"y": np.ones(3)})
    with pytest.raises(tensordiff.TensordiffError, match="'b' is not in"):
        tensordiff.stats(a, "b")
    assert tensordiff.compare(a, b)["exit_code"] == 1  # the fp16 scale does not loosen weight


def test_keywords_are_options_or_type_errors(pair, tmp_path):
    a, b = pair
    with pytest.raises(TypeError, match=r"compare\(\) got an unexpected keyword argument 'rtl'.*rtol"):
        tensordiff.compare(a, b, rtl=1)
    with pytest.raises(TypeError, match="compare_arrays"):
        tensordiff.compare_arrays(np.ones(3), np.ones(3), atoll=1)
    with pytest.raises(TypeError, match="only_diff"):
        tensordiff.compare(a, b, only_diff=True)
    with pytest.raises(TypeError, match="switch"):
        tensordiff.compare(a, b, exact="yes")
    with pytest.raises(TypeError, match="Recorder"):
        tensordiff.Recorder(reference=a, rtoll=1)


def test_report_files_are_written(pair, tmp_path):
    a, b = pair
    paths = {k: str(tmp_path / f"r.{k}") for k in ("json", "csv", "html")}
    rep = tensordiff.compare(a, b, **paths)
    assert all(os.path.getsize(p) > 0 for p in paths.values())
    assert json.load(open(paths["json"]))["summary"]["mismatched"] == rep["summary"]["mismatched"] == 1
    rep = tensordiff.compare_arrays(np.ones(3), np.ones(3), json=str(tmp_path / "arr.json"))
    assert json.load(open(tmp_path / "arr.json"))["summary"]["matched"] == 1
    with pytest.raises(tensordiff.TensordiffError, match="--html is for comparing two dumps"):
        tensordiff.stats(a, html=str(tmp_path / "s.html"))
    tensordiff.stats(a, csv=str(tmp_path / "s.csv"))
    assert os.path.getsize(tmp_path / "s.csv") > 0


def test_tol_rule_with_a_comma(pair):
    a, b = pair
    rep = tensordiff.compare(a, b, tol=["w*:rtol=1e-2,atol=0"])
    assert rep["exit_code"] == 0
    assert {t["name"]: t["tolerance"] for t in rep["tensors"]}["weight"] == {"rtol": 0.01, "atol": 0}


def mlp():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2))


def test_reference_with_names_unlike_raises_at_the_first_tensor(tmp_path):
    model, x = mlp(), torch.ones(2, 4)
    ref = str(tmp_path / "ref.h5")
    with tensordiff.Recorder(ref), tensordiff.hook_module(model):
        model(x)
    with pytest.raises(tensordiff.TensordiffError, match=r"'net\.0' has no counterpart.*closest there: '0'.*--map"):
        with tensordiff.Recorder(reference=ref), tensordiff.hook_module(model, prefix="net."):
            model(x)
    # the prefix it names, given as a map, pairs everything
    with tensordiff.Recorder(reference=ref, map=[r"^net\.="]) as rec, tensordiff.hook_module(model, prefix="net."):
        model(x)
    assert rec.report()["summary"]["matched"] == 4


def test_reference_warns_once_for_names_it_lacks(tmp_path):
    model, x = mlp(), torch.ones(2, 4)
    ref = str(tmp_path / "ref.h5")
    with tensordiff.Recorder(ref), tensordiff.hook_module(model):
        model(x)
    bigger = torch.nn.Sequential(*model, torch.nn.Tanh(), torch.nn.Identity())
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        with tensordiff.Recorder(reference=ref, on_divergence="mark") as rec, tensordiff.hook_module(bigger):
            bigger(x)
    lacks = [str(w.message) for w in seen if "no counterpart" in str(w.message)]
    assert len(lacks) == 1 and "'3'" in lacks[0], lacks
    assert rec.report()["summary"]["only_in_b"] >= 2


def test_reference_report_with_nothing_checked_raises(tmp_path):
    ref = write(tmp_path / "ref.h5", {"x": np.ones(3, np.float32)})
    with tensordiff.Recorder(reference=ref) as rec:
        pass
    with pytest.raises(tensordiff.TensordiffError, match="nothing compared"):
        rec.report()


def test_reference_refuses_what_it_cannot_honour(tmp_path):
    ref = write(tmp_path / "ref.h5", {"x": np.ones(3, np.float32)})
    for opts, what in [({"align": "order"}, "align"), ({"html": "r.html"}, "html"), ({"stop_at_first": True}, "stop_at_first")]:
        with pytest.raises(tensordiff.TensordiffError, match=what):
            with tensordiff.Recorder(reference=ref, **opts):
                pass


def test_reference_with_no_name_alike_raises_at_the_end(tmp_path):
    """Names with nothing in common (not one prefix apart): no tensor can be named at once, but
    the with-block does not end as if all were checked."""
    model, x = mlp(), torch.ones(2, 4)
    ref = write(tmp_path / "ref.h5", {"something.else": np.ones(3, np.float32)})
    with pytest.raises(tensordiff.TensordiffError, match="nothing compared: none of the 4 tensors"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with tensordiff.Recorder(reference=ref), tensordiff.hook_module(model):
                model(x)


def test_reference_recorded_with_a_filter_is_not_an_error(tmp_path):
    """A reference that holds only some modules: the first recorded tensor missing is fine."""
    model, x = mlp(), torch.ones(2, 4)
    ref = str(tmp_path / "ref.h5")
    with tensordiff.Recorder(ref, filter="2"), tensordiff.hook_module(model):
        model(x)
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        with tensordiff.Recorder(reference=ref) as rec, tensordiff.hook_module(model):
            model(x)
    assert rec.report()["summary"]["matched"] == 1


def test_keyword_values_of_the_wrong_kind(pair, tmp_path, monkeypatch):
    a, b = pair
    monkeypatch.chdir(tmp_path)
    with pytest.raises(TypeError, match="json= takes a value"):
        tensordiff.compare(a, b, json=True)
    assert not os.path.exists(tmp_path / "--")
    with pytest.raises(TypeError, match="rtol= takes one value"):
        tensordiff.compare(a, b, rtol=[1e-6, 1])
    with pytest.raises(TypeError, match="arrays"):
        tensordiff.stats({"a": np.ones(3)}, "nosuch")


def test_equal_nan_false_means_nan_differs(tmp_path):
    x = np.array([np.nan, 1.0], np.float32)
    assert tensordiff.compare_arrays(x, x)["exit_code"] == 0
    assert tensordiff.compare_arrays(x, x, equal_nan=False)["exit_code"] == 1


def test_idle_rules_are_python_warnings(pair):
    a, b = pair
    with pytest.warns(UserWarning, match="--include 'zz\\*' matches no tensor"):
        tensordiff.compare(a, b, include=["weight", "zz*"])


def test_reference_selection_that_leaves_nothing_raises_at_the_end(tmp_path):
    model, x = mlp(), torch.ones(2, 4)
    ref = str(tmp_path / "ref.h5")
    with tensordiff.Recorder(ref), tensordiff.hook_module(model):
        model(x)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        with pytest.raises(tensordiff.TensordiffError, match="not selected"):
            with tensordiff.Recorder(reference=ref, include=["nomatch*"]), tensordiff.hook_module(model):
                model(x)
    assert not [w for w in seen if "no counterpart" in str(w.message)]  # they are in the reference


def test_reference_layer_numbers_apart_is_not_a_prefix_slip(tmp_path):
    """The nearest reference name differs in a layer number (a filtered reference): a warning,
    not an error at the first tensor."""
    ref = write(tmp_path / "ref.h5", {"blocks.1.attn.qkv": np.ones(3, np.float32)})
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        with tensordiff.Recorder(reference=ref) as rec:
            tensordiff.save("blocks.0.attn.qkv", np.ones(3, np.float32))
            tensordiff.save("blocks.1.attn.qkv", np.ones(3, np.float32))
    assert rec.report()["summary"]["matched"] == 1
    assert any("no counterpart" in str(w.message) for w in seen)
