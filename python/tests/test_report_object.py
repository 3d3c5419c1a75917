"""Issue 25 item 2: the report object. Still the dict it was (every key, ==, json, pickle), and
also the command line's table (the engine's text, compared with the binary's output), a
notebook view with the divergence and every jump marked, and a DataFrame."""
import copy
import html
import json
import pickle
import re
import subprocess
import sys

import h5py
import numpy as np
import pytest

import tensordiff

from test_assert_close import SPEED, layers, write


def two_slips():
    """Layers with a divergence at 2 and a second jump at 5; a name that is HTML."""
    a, b = layers(n=8, slip=2)
    b["blocks.5.act"] = (b["blocks.5.act"] + 0.05 * np.sign(a["blocks.5.act"])).astype(np.float32)
    a["<img src=x onerror=alert(1)>"] = b["<img src=x onerror=alert(1)>"] = np.ones(4, np.float32)
    return a, b


def test_it_is_the_dict_it_was(tmp_path):
    a, b = layers()
    report = tensordiff.compare_arrays(a, b)
    assert isinstance(report, dict) and isinstance(report, tensordiff.Report)
    plain = json.loads(json.dumps(report))
    assert plain == report and report == plain and set(plain) == set(report)
    assert report["summary"]["first_divergence"] == "blocks.3.act" and report["exit_code"] == 1
    pa, pb = write(tmp_path / "a.h5", a), write(tmp_path / "b.h5", b)
    for r in (tensordiff.compare(pa, pb), tensordiff.stats(pa), tensordiff.stats(a["blocks.0.act"]),
              tensordiff.compare_arrays(a["blocks.0.act"], b["blocks.0.act"])):
        assert type(r) is tensordiff.Report
        for clone in (copy.copy(r), copy.deepcopy(r), pickle.loads(pickle.dumps(r))):
            assert type(clone) is tensordiff.Report and clone == r and clone.table() == r.table()
    clone = copy.deepcopy(report)
    clone["tensors"][0]["name"] = "changed"
    assert report["tensors"][0]["name"] == "blocks.0.act"  # a deep copy
    with pytest.raises(ValueError, match="unpickled"):
        pickle.loads(pickle.dumps(report)).table(width=80)
    with pytest.raises(ValueError, match="no engine result"):
        tensordiff.Report(plain).table()


def test_table_is_the_command_lines_text(tmp_path):
    a, b = layers()
    pa, pb = write(tmp_path / "a.h5", a), write(tmp_path / "b.h5", b)
    report = tensordiff.compare(pa, pb)
    for options, flags in [({}, []), ({"only_diff": True}, ["--only-diff"]), ({"width": 72}, ["--width", "72"]),
                           ({"top": 2, "name_width": 8}, ["--top", "2", "--name-width", "8"])]:
        cli = subprocess.run([tensordiff.find_binary(), *flags, pa, pb], capture_output=True, text=True)
        assert cli.returncode == 1
        assert SPEED.sub("", report.table(**options)) == SPEED.sub("", cli.stdout), options
    assert str(report) == report.table()
    assert all(len(line) <= 72 for line in report.table(width=72).splitlines())
    stats = tensordiff.stats(pa)
    cli = subprocess.run([tensordiff.find_binary(), "stats", pa], capture_output=True, text=True)
    strip = re.compile(r"^\d+ tensors, .*$", re.M)
    assert strip.sub("", str(stats)) == strip.sub("", cli.stdout) and "blocks.5.act" in str(stats)


def test_ipython_text_is_the_terminals_table():
    """IPython's text view: what a terminal shows (runs of matching rows folded)."""
    pretty = pytest.importorskip("IPython.lib.pretty", reason="IPython comes with ipykernel (scripts/python-venv.sh)")
    a, b = layers(n=30, slip=25)
    report = tensordiff.compare_arrays(a, b)
    text = pretty.pretty(report)
    assert text == report.table(collapse=20, name_width=60)
    assert "\u2026 21 more matching tensors" in text and ">*   25  blocks.25.act" in text


def test_recorder_reports_and_divergences_are_reports(tmp_path):
    a, b = layers()
    ref = tmp_path / "a.h5"
    with tensordiff.Recorder(str(ref)):
        for k, v in a.items():
            tensordiff.save(k, v)
    with tensordiff.Recorder(reference=str(ref), on_divergence="mark") as rec:
        for k, v in b.items():
            tensordiff.save(k, v)
    report = rec.report()
    assert type(report) is tensordiff.Report and type(rec.divergence.report) is tensordiff.Report
    assert re.search(r"^>\*\s+3\s+blocks\.3\.act", report.table(), re.M)
    assert "first jump: blocks.3.act" in report.table()


def test_html_shows_the_summary_and_marks_divergence_and_every_jump():
    a, b = two_slips()
    report = tensordiff.compare_arrays(a, b)
    s = report["summary"]
    assert s["first_divergence"] == "blocks.2.act" and s["jumps"] == ["blocks.2.act", "blocks.5.act"]
    page = report._repr_html_()
    # the engine's lines under the table, escaped
    assert html.escape(report.summary_text().splitlines()[1]) in page
    rows = re.findall(r"<tr([^>]*)>(.*?)</tr>", page)
    body = [(attrs, cells) for attrs, cells in rows if "<td" in cells]
    names = [re.findall(r"<td[^>]*>(.*?)</td>", cells)[2] for _, cells in body]
    assert names == [f"blocks.{i}.act" for i in range(2, 8)]  # the rows that differ, in order
    marks = {re.findall(r"<td[^>]*>(.*?)</td>", cells)[2]: attrs for attrs, cells in body if "data-mark" in attrs}
    assert set(marks) == {"blocks.2.act", "blocks.5.act"}
    assert 'data-mark="divergence jump"' in marks["blocks.2.act"] and "first divergence" in marks["blocks.2.act"]
    assert 'data-mark="jump"' in marks["blocks.5.act"]
    assert "&gt;*" in body[0][1] and "<td" in body[3][1] and ">*</td>" in body[3][1]
    # cosine with the digits that matter, not "1"
    assert re.search(r"1 \u2212 \d(\.\d)?e-0\d", body[0][1]), body[0][1]
    # self-contained, and names are text
    assert "<script" not in page and "<link" not in page and "url(" not in page and "<img" not in page
    equal = tensordiff.compare_arrays(a, a)
    assert "no divergence" in equal._repr_html_() and "<table" not in equal._repr_html_()
    x = {"<b>bold</b>": np.ones(3, np.float32)}
    assert "&lt;b&gt;bold&lt;/b&gt;" in tensordiff.stats(x)._repr_html_()
    assert "<b>" not in tensordiff.compare_arrays(x, {"<b>bold</b>": np.zeros(3, np.float32)})._repr_html_()


def test_to_pandas():
    pandas = pytest.importorskip("pandas", reason="pandas could not be installed (scripts/python-venv.sh)")
    a, b = two_slips()
    report = tensordiff.compare_arrays(a, b)
    df = report.to_pandas()
    assert isinstance(df, pandas.DataFrame) and len(df) == len(report["tensors"])
    assert list(df["name"]) == [t["name"] for t in report["tensors"]]
    assert list(df.loc[df["divergence"], "name"]) == ["blocks.2.act"]
    assert list(df.loc[df["jump"], "name"]) == ["blocks.2.act", "blocks.5.act"]
    assert df["rel_l2"].tolist() == [t["diff"]["rel_l2"] for t in report["tensors"]]
    assert df["rel_l2"].dtype == np.float64 and df["mismatches"].dtype == np.int64
    y = np.array([1.0, np.nan, np.inf], np.float32)
    s = tensordiff.stats({"y": y}).to_pandas()
    assert s.loc[0, "nan"] == 1 and s.loc[0, "max"] == 1.0 and s.loc[0, "shape"] == (3,)
    d = tensordiff.compare_arrays(np.zeros(3, np.float32), np.ones(3, np.float32)).to_pandas()
    assert d.loc[0, "max_rel"] == np.inf  # "Infinity" in the JSON, a float here


def test_to_pandas_without_pandas_says_so(monkeypatch):
    monkeypatch.setitem(sys.modules, "pandas", None)  # import pandas raises ImportError
    with pytest.raises(ImportError, match=r"to_pandas\(\) needs pandas.*pip install pandas"):
        tensordiff.compare_arrays(np.ones(3), np.ones(3)).to_pandas()


def test_a_report_of_many_rows_keeps_the_html_short():
    from tensordiff import notebook_html
    x = np.linspace(1, 2, 16, dtype=np.float32)
    a = {f"t.{i}": x for i in range(notebook_html.MAX_ROWS + 30)}
    b = {k: v * 1.01 for k, v in a.items()}
    page = tensordiff.compare_arrays(a, b)._repr_html_()
    assert page.count("<tr") == notebook_html.MAX_ROWS + 1 and "30 more rows" in page


def test_hdf5_names_with_groups_render(tmp_path):
    p = tmp_path / "g.h5"
    with h5py.File(p, "w") as f:
        f["enc/l0"] = np.ones(3, np.float32)
    assert "enc/l0" in tensordiff.stats(str(p))._repr_html_()
