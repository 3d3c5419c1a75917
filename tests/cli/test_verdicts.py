"""Issue 20: no silent pass. Every way a run could print "0 compared" or a reassuring table
while the truth is otherwise, through the real binary (exit status, stdout, stderr, reports).
Each test failed on main before the issue's commits."""
import csv
import json
import os
import re
import subprocess

import h5py
import numpy as np
import pytest

BIN = os.environ.get("TENSORDIFF_BIN", os.path.join(os.path.dirname(__file__), "..", "..", "build", "tensordiff"))


def td(*args, env=None):
    p = subprocess.run([BIN, *map(str, args)], capture_output=True, text=True, timeout=120,
                       env={**os.environ, **(env or {})})
    return p.returncode, p.stdout, p.stderr


def write(path, tensors, order=True):
    with h5py.File(path, "w", track_order=order) as f:
        for k, v in tensors.items():
            f[k] = v
    return str(path)


@pytest.fixture
def pair(tmp_path):
    rng = np.random.default_rng(0)
    w = rng.standard_normal(10000).astype(np.float32)
    a = write(tmp_path / "a.h5", {"weight": w, "scale": np.ones(4, np.float16)})
    b = write(tmp_path / "b.h5", {"weight": (w * (1 + 5e-4)).astype(np.float32), "scale": np.ones(4, np.float16)})
    return a, b


def one_error_line(err):
    lines = [l for l in err.splitlines() if l.strip()]
    assert len(lines) == 1, err
    return lines[0]


# 1. Nothing compared is exit 2 with one line saying why ------------------------------------

def test_a_name_in_neither_dump_is_an_error_naming_it(pair):
    a, b = pair
    code, out, err = td(a, b, "no.such.tensor")
    assert code == 2 and "'no.such.tensor'" in one_error_line(err) and "neither" in err
    # a glob that matches nothing likewise; a name that exists passes through
    assert td(a, b, "nomatch*")[0] == 2
    assert td(a, b, "weight")[0] == 1


def test_a_selection_that_leaves_nothing_is_an_error(pair):
    a, b = pair
    code, _, err = td(a, b, "--include", "nomatch*")
    assert code == 2 and "nothing compared" in err and "--include 'nomatch*' matches no tensor" in err
    code, _, err = td(a, b, "--exclude", "*")
    assert code == 2 and "nothing compared" in err


def test_empty_dumps_and_empty_folders_are_errors(tmp_path):
    e1 = write(tmp_path / "e1.h5", {})
    e2 = write(tmp_path / "e2.h5", {})
    code, _, err = td(e1, e2)
    assert code == 2 and "hold no tensors" in one_error_line(err)
    (tmp_path / "d1").mkdir()
    (tmp_path / "d2").mkdir()
    code, _, err = td(tmp_path / "d1", tmp_path / "d2")
    assert code == 2 and "nothing compared" in one_error_line(err)


def test_stats_with_two_dumps_names_the_slip(pair):
    a, b = pair
    code, _, err = td("stats", a, b)
    assert code == 2 and "stats summarises one dump" in one_error_line(err)
    assert td("stats", a)[0] == 0
    code, _, err = td("stats", write(os.path.dirname(a) + "/empty.h5", {}))
    assert code == 2 and "holds no tensors" in err


def test_dumps_with_no_name_in_common_are_an_error_with_a_way_out(tmp_path):
    x = np.ones(8, np.float32)
    a = write(tmp_path / "a.h5", {"model.fc1": x, "model.fc2": x})
    b = write(tmp_path / "b.h5", {"net.fc1": x, "net.fc2": x})
    code, _, err = td(a, b)
    assert code == 2 and "no tensor of" in err and "--map" in one_error_line(err)
    # the fix it names works
    assert td(a, b, "--map", r"^net\.=model.")[0] == 0


def test_one_sided_tensors_beside_compared_ones_stay_a_difference(tmp_path):
    x = np.ones(8, np.float32)
    a = write(tmp_path / "a.h5", {"w": x, "extra": x})
    b = write(tmp_path / "b.h5", {"w": x})
    assert td(a, b)[0] == 1


# 2. One tensor cannot change another's verdict ---------------------------------------------

def verdicts(a, b, tmp_path, *opts):
    """The verdict of every pair by compare's table, JSON, CSV, HTML, and by show."""
    j, c, h = tmp_path / "r.json", tmp_path / "r.csv", tmp_path / "r.html"
    code, out, err = td(a, b, *opts, "--json", j, "--csv", c, "--html", h)
    assert code in (0, 1), err
    js = {t["name"]: t["status"] for t in json.load(open(j))["tensors"]}
    cs = {r["name"]: r["status"] for r in csv.DictReader(open(c))}
    data = json.loads(re.search(r'<script id="data" type="application/json">(.*?)</script>',
                                open(h).read(), re.S).group(1))
    hs = dict(zip(data["name"], data["status"]))
    table = {}
    for line in out.splitlines():
        m = re.match(r"^[>* ]{2}\s+\d+\s+(\S+)\s.*\s(ok|DIFF)\b", line)
        if m:
            table[m.group(1)] = "match" if m.group(2) == "ok" else "mismatch"
    show = {}
    for name in js:
        scode, sout, _ = td("show", a, b, name, *opts)
        show[name] = re.search(r"\[(\w+)\]", sout.splitlines()[0]).group(1)
        assert scode == (0 if show[name] == "match" else 1)
    assert js == cs == hs == table == show, (js, cs, hs, table, show)
    return js, code


def test_a_small_fp16_tensor_does_not_loosen_fp32_weights(pair, tmp_path):
    a, b = pair
    v, code = verdicts(a, b, tmp_path)
    assert v["weight"] == "mismatch" and code == 1
    # and excluding it changes nothing
    v2, code2 = verdicts(a, b, tmp_path, "--exclude", "scale")
    assert v2["weight"] == "mismatch" and code2 == 1
    rep = json.load(open(tmp_path / "r.json"))
    assert rep["summary"]["precision"] == "fp32" and "precision_reason" in rep["summary"]


def test_a_bf16_run_keeps_its_precision_for_its_fp32_tensors(tmp_path):
    """The case the run precision is for: LayerNorm outputs stay fp32 inside a bf16 run."""
    rng = np.random.default_rng(1)
    big = rng.standard_normal(20000).astype(np.float32)
    ln = rng.standard_normal(2000).astype(np.float32)
    bf = lambda x: (x.view(np.uint32) & 0xFFFF0000).view(np.float32)  # bf16's values, stored as fp32
    a = write(tmp_path / "a.h5", {"fc": big, "ln": ln})
    t = h5py.h5t.IEEE_F32LE.copy()  # the HDF5 float the engine reads as bfloat16
    t.set_fields(15, 7, 8, 0, 7)
    t.set_size(2)
    t.set_precision(16)
    t.set_ebias(127)
    with h5py.File(tmp_path / "b.h5", "w", track_order=True) as f:
        d = f.create_dataset("fc", shape=big.shape, dtype=h5py.Datatype(t))
        d.id.write(h5py.h5s.ALL, h5py.h5s.ALL, (bf(big).view(np.uint32) >> 16).astype(np.uint16), mtype=t)
        f["ln"] = ln * (1 + 3e-3)
    code, out, err = td(a, tmp_path / "b.h5", "--json", tmp_path / "r.json")
    rep = json.load(open(tmp_path / "r.json"))
    assert rep["tensors"][0]["dtype_b"] == "bfloat16"
    assert rep["summary"]["precision"] == "bf16", rep["summary"]
    assert {t["name"]: t["status"] for t in rep["tensors"]} == {"fc": "match", "ln": "match"}


# 3. Every option parsed the same way ---------------------------------------------------------

def test_tol_rule_with_comma_from_the_command_line(pair, tmp_path):
    a, b = pair
    code, _, err = td(a, b, "--tol", "w*:rtol=1e-2,atol=0", "--json", tmp_path / "r.json")
    assert code == 0, err
    tol = {t["name"]: t["tolerance"] for t in json.load(open(tmp_path / "r.json"))["tensors"]}
    assert tol["weight"] == {"rtol": 0.01, "atol": 0}
    # a glob with a comma in braces is one glob, not two
    code, _, err = td(a, b, "--include", "{a,b}", "--include", "weight")
    assert code == 1 and "--include '{a,b}' matches no tensor" in err


# 6. NaN and inf differences are visible -------------------------------------------------------

@pytest.fixture
def nan_pair(tmp_path):
    x = np.array([1.0, 2, 3, np.nan, 5, 1.85], np.float32)
    y = x.copy()
    y[0] = np.nan
    y[4] = np.inf
    return write(tmp_path / "a.h5", {"t": x}), write(tmp_path / "b.h5", {"t": y})


def test_nan_and_inf_positions_show_in_table_line_and_show(nan_pair, tmp_path):
    a, b = nan_pair
    code, out, _ = td(a, b, "--json", tmp_path / "r.json")
    assert code == 1
    row = [l for l in out.splitlines() if re.match(r"^>", l)][0]
    assert "1 NaN, 1 inf mismatched" in row
    fd = [l for l in out.splitlines() if l.startswith("first divergence")][0]
    assert "first NaN mismatch at [0] (a 1, b nan)" in fd and "max|d| 0 at" not in fd
    d = json.load(open(tmp_path / "r.json"))["tensors"][0]["diff"]
    assert [(x["flat_index"], x["kind"]) for x in d["nonfinite"]] == [(0, "nan"), (4, "inf")]
    code, out, _ = td("show", a, b, "t")
    nf = out.index("NaN/inf mismatches")
    assert nf < out.index("worst") and "NaN mismatch" in out and "inf mismatch" in out


def test_values_print_with_the_digits_that_differ(tmp_path):
    x = np.array([1.85, 0.5], np.float32)
    y = np.array([np.nextafter(np.float32(1.85), np.float32(2)), 0.5], np.float32)
    a, b = write(tmp_path / "a.h5", {"t": x}), write(tmp_path / "b.h5", {"t": y})
    code, out, _ = td(a, b, "--exact")
    assert code == 1
    assert "(a 1.85, b 1.8500001)" in out
    assert "(a 1.85, b 1.8500001)" in td("show", a, b, "t", "--exact")[1]


# 7. Names never collide -----------------------------------------------------------------------

MEGATRON = "module.language_model.encoder.layers.{}.mlp.{}.bias.main_grad"  # Megatron's grads


def megatron(tmp_path):
    t, u = {}, {}
    for layer in range(2):
        for part in ("dense_4h_to_h", "dense_h_to_4h"):
            n = MEGATRON.format(layer, part)
            t[n] = np.ones(3, np.float32)
            u[n] = np.ones(3, np.float32) * (2 if part == "dense_4h_to_h" else 1)
    return write(tmp_path / "a.h5", t), write(tmp_path / "b.h5", u), list(t)


@pytest.mark.parametrize("width", ["", "80", "100", "140"])
def test_shortened_names_stay_distinct(tmp_path, width):
    a, b, names = megatron(tmp_path)
    code, out, _ = td(a, b, *(["--width", width] if width else []))
    rows = [l for l in out.splitlines() if re.match(r"^[>* ]{2}\s+\d+  \S", l)]
    shown = [re.split(r"\s{2,}", l[2:].strip())[1] for l in rows]
    assert len(rows) == 4 and len(set(shown)) == 4, out
    if not width:  # a pipe gets whole names
        assert shown == names


def test_folder_mode_rows_name_their_file(tmp_path):
    for side in ("A", "B"):
        (tmp_path / side).mkdir()
        for rank in range(2):
            write(tmp_path / side / f"rank{rank}.h5",
                  {"encoder.layers.0.mlp.dense_4h_to_h.weight": np.ones(4, np.float32) * (rank + (side == "B"))})
    code, out, _ = td(tmp_path / "A", tmp_path / "B", "--width", "90")
    rows = [l for l in out.splitlines() if re.match(r"^[>* ]{2}\s+\d+  \S", l)]
    shown = [re.split(r"\s{2,}", l[2:].strip())[1] for l in rows]
    assert len(set(shown)) == 2 and all("rank" in s for s in shown), out


# 8. Every jump --------------------------------------------------------------------------------

def test_every_jump_is_marked_and_listed(tmp_path):
    rng = np.random.default_rng(2)
    ta, tb = {}, {}
    for i in range(8):
        x = rng.standard_normal(4096).astype(np.float32)
        rel = 1e-4 if i < 5 else 0.3   # a slip at 0 (x1700 over fp32 roundoff), another at 5
        ta[f"t{i}"], tb[f"t{i}"] = x, x + (rel * rng.standard_normal(4096)).astype(np.float32)
    a, b = write(tmp_path / "a.h5", ta), write(tmp_path / "b.h5", tb)
    code, out, _ = td(a, b, "--json", tmp_path / "r.json", "--csv", tmp_path / "r.csv", "--html", tmp_path / "r.html")
    rep = json.load(open(tmp_path / "r.json"))
    assert rep["summary"]["first_jump"] == "t0" and rep["summary"]["jumps"] == ["t0", "t5"]
    starred = [l.split()[1] for l in out.splitlines() if re.match(r"^.\*\s+\d", l)]
    assert starred == ["0", "5"], out
    assert "1 more jump (*): t5 (order 5" in out
    assert [r["name"] for r in csv.DictReader(open(tmp_path / "r.csv")) if r["jump"] == "1"] == ["t0", "t5"]
    html = open(tmp_path / "r.html").read()
    assert '"jumps":["t0","t5"]' in html  # the headline links every jump to its row
    assert re.search(r'2 jumps</span> <a class="row-link" href="#row-0" data-row="0">t0</a>.*'
                     r'<a class="row-link" href="#row-5" data-row="5">t5</a>', html)
    # --top-by growth lists them first
    code, out, _ = td(a, b, "--top", "2", "--top-by", "growth")
    assert [l.split()[2] for l in out.splitlines() if re.match(r"^.\*\s+\d", l)] == ["t5", "t0"] or \
           {l.split()[2] for l in out.splitlines() if re.match(r"^.\*\s+\d", l)} == {"t0", "t5"}


# 9. Rules that match nothing say so; -q prints nothing -----------------------------------------

def test_idle_rules_warn_and_strict_makes_them_errors(pair):
    a, b = pair
    code, out, err = td(a, b, "--map", "x=y", "--exclude", "zz", "--tol", "q*:rtol=1", "--include", "*")
    assert code == 1
    for what in ("--map 'x=y' renames no tensor of B", "--exclude 'zz' matches no tensor",
                 "--tol 'q*:...' matches no pair of the two dumps"):
        assert what in err
    code, out, err = td(a, b, "--map", "x=y", "--strict")
    assert code == 2 and "(--strict)" in one_error_line(err) and out == ""


def test_quiet_prints_nothing_even_with_warnings(pair):
    a, b = pair
    code, out, err = td("-q", a, b, "--map", "x=y", "--exclude", "zz")
    assert (code, out, err) == (1, "", "")
    # but an error still gets its one line
    code, out, err = td("-q", a, b, "nope")
    assert code == 2 and out == "" and "nope" in one_error_line(err)


# Options a command would ignore are refused, not dropped ----------------------------------------

def test_options_a_command_ignores_are_errors(pair, tmp_path):
    a, b = pair
    for args, what in [(["stats", a, "--rtol", "1"], "--rtol"), (["stats", a, "--exclude", "w*"], "--exclude"),
                       (["show", a, b, "weight", "--json", tmp_path / "r.json"], "--json"),
                       (["show", a, b, "weight", "--top", "3"], "--top")]:
        code, out, err = td(*args)
        assert code == 2 and what in one_error_line(err), (args, err)
    assert not (tmp_path / "r.json").exists()


def test_show_and_compare_judge_rules_alike(pair):
    a, b = pair
    # a --tol rule for another tensor than the one shown is not idle: show says what compare says
    assert td("show", "--strict", "--tol", "weight:rtol=1", a, b, "scale")[0] == 0
    assert td("--strict", "--tol", "weight:rtol=1", a, b)[0] == 0
    code, out, err = td("show", "--map", "^q=r", a, b, "weight")
    assert "--map '^q=r' renames no tensor of B" in err


def test_bit_only_differences_are_not_pointed_at_equal_elements(tmp_path):
    a = write(tmp_path / "a.h5", {"z": np.array([1, 2, 0.0, 4], np.float32)})
    b = write(tmp_path / "b.h5", {"z": np.array([1, 2, -0.0, 4], np.float32)})
    code, out, _ = td(a, b, "--exact")
    fd = [l for l in out.splitlines() if l.startswith("first divergence")][0]
    assert code == 1 and "max|d| 0 at" not in fd and "bits only" in fd, fd


def test_folder_orders_by_step_then_execution_then_rank(tmp_path):
    # Issue 23: steps are separate runs in time. rank*/step*.h5 files: every tensor of step 0
    # comes before step 1's (before: "order within a file, then the file" interleaved them).
    for side, scale in (("a", 1.0), ("b", 2.0)):
        for rank in (0, 1):
            for step in (1, 0, 10):
                (tmp_path / side / f"rank{rank}").mkdir(parents=True, exist_ok=True)
                write(tmp_path / side / f"rank{rank}" / f"step{step}.h5",
                      {"x": np.ones(4, np.float32), "y": np.full(4, scale if step == 1 else 1.0, np.float32)})
    r = subprocess.run([BIN, "-q", str(tmp_path / "a"), str(tmp_path / "b"), "--json", str(tmp_path / "r.json")],
                       capture_output=True, text=True)
    assert r.returncode == 1, r.stderr
    rep = json.load(open(tmp_path / "r.json"))
    names = [t["name"] for t in rep["tensors"]]
    assert names[:4] == ["rank0/step0.h5:x", "rank1/step0.h5:x", "rank0/step0.h5:y", "rank1/step0.h5:y"], names
    assert [n.split(":")[0].split("/")[1] for n in names] == ["step0.h5"] * 4 + ["step1.h5"] * 4 + ["step10.h5"] * 4
    assert rep["summary"]["first_divergence"] == "rank0/step1.h5:y"
    files = {f["file"]: f for f in rep["files"]}
    assert files["rank1/step1.h5"]["first_divergence"] == "rank1/step1.h5:y"
    assert "first_jump" in files["rank1/step1.h5"]
