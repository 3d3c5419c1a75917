"""Issue 15: reports a person reads. The table under a pseudo-terminal of 80, 120 and 200
columns; --only-diff and --top; CSV read back by the csv module; --json - on stdout; the
progress line on a terminal only; the HTML page in headless Chromium."""
import csv
import fcntl
import io
import json
import os
import pty
import re
import select
import shutil
import struct
import subprocess
import termios

import h5py
import numpy as np
import pytest

BIN = os.path.abspath(os.environ.get("TENSORDIFF_BIN", os.path.join(os.path.dirname(__file__), "..", "..", "build", "tensordiff")))
ANSI = re.compile(r"\x1b\[[0-9;]*m")
SLIP = 23


@pytest.fixture(scope="module")
def megatron(tmp_path_factory):
    """Names as Megatron's gradients have them: the layer index sits in the middle."""
    d = tmp_path_factory.mktemp("megatron")
    a, b = d / "a.h5", d / "b.h5"
    rng = np.random.default_rng(0)
    with h5py.File(a, "w", track_order=True) as f, h5py.File(b, "w", track_order=True) as g:
        for i in range(40):
            for p in ("mlp.dense_4h_to_h.bias.main_grad", "self_attention.query_key_value.weight.main_grad"):
                n = f"module.language_model.encoder.layers.{i}.{p}"
                x = rng.standard_normal(100).astype(np.float32)
                f[n] = x
                g[n] = x * np.float32(1.01 if i >= SLIP else 1.0)
    return a, b


def on_pty(args, cols, env=None):
    """Runs the CLI with stdout and stderr on a pseudo-terminal of `cols` columns."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, cols, 0, 0))
    p = subprocess.Popen([BIN, *map(str, args)], stdout=slave, stderr=slave, stdin=subprocess.DEVNULL,
                         env=dict(os.environ, NO_COLOR="1", **(env or {})), close_fds=True)
    os.close(slave)
    out = b""
    while True:
        r, _, _ = select.select([master], [], [], 30)
        if not r:
            break
        try:
            chunk = os.read(master, 65536)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    p.wait(timeout=30)
    os.close(master)
    return p.returncode, out.decode("utf-8", "replace").replace("\r\n", "\n")


def width(line):
    return len(ANSI.sub("", line))


@pytest.mark.parametrize("cols", [80, 120, 200])
def test_the_table_fits_the_terminal_and_names_stay_distinct(megatron, cols):
    code, out = on_pty([*megatron, "--all"], cols)
    assert code == 1
    lines = out.splitlines()
    assert all(width(l) <= cols for l in lines), [l for l in lines if width(l) > cols]
    rows = [l for l in lines if re.match(r"^[ >*]{2}\s*\d+  ", l)]
    assert len(rows) == 80
    names = [re.split(r"\s{2,}", l[2:].strip())[1] for l in rows]
    assert len(set(names)) == len(names), "shortened names collide"
    assert all(f"layers.{i}" in n for i, n in zip(sorted(list(range(40)) * 2), names)), names[:4]
    assert any(l.startswith(">") for l in rows)
    assert "first divergence:" in out and "first jump:" in out


def test_long_runs_of_matches_fold_on_a_terminal_only(megatron):
    code, out = on_pty(megatron, 120)
    assert "more matching tensors" in out
    plain = subprocess.run([BIN, *map(str, megatron)], capture_output=True, text=True)
    assert "more matching tensors" not in plain.stdout
    assert len(plain.stdout.splitlines()) > 80  # a pipe gets every row and every column


def test_only_diff_and_top(megatron):
    out = subprocess.run([BIN, *map(str, megatron), "--only-diff"], capture_output=True, text=True).stdout
    rows = [l for l in out.splitlines() if re.match(r"^[ >*]{2}\s*\d+  ", l)]
    assert len(rows) == 2 * (40 - SLIP) and all("DIFF" in l for l in rows)
    assert "rows not shown: --only-diff" in out
    out = subprocess.run([BIN, *map(str, megatron), "--top", "3", "--top-by", "growth"], capture_output=True,
                         text=True).stdout
    rows = [l for l in out.splitlines() if re.match(r"^[ >*]{2}\s*\d+  ", l)]
    assert len(rows) == 3 and rows[0].startswith(">*")  # the jump has the largest growth


def test_csv_reads_back_and_agrees_with_json(megatron, tmp_path):
    r = subprocess.run([BIN, *map(str, megatron), "--csv", "-"], capture_output=True, text=True)
    assert r.returncode == 1
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    js = json.loads(subprocess.run([BIN, *map(str, megatron), "--json", "-"], capture_output=True, text=True).stdout)
    assert len(rows) == len(js["tensors"]) == 80
    header = r.stdout.splitlines()[0].split(",")
    assert len(set(header)) == len(header) and all(len(x) == len(header) for x in csv.reader(io.StringIO(r.stdout)))
    for row, t in zip(rows, js["tensors"]):
        assert row["name"] == t["name"] and row["status"] == t["status"]
        assert float(row["rel_l2"]) == t["diff"]["rel_l2"]
        assert int(row["mismatches"]) == t["diff"]["mismatches"]
        assert row["a_checksum"] == t["a"]["checksum"]
    assert sum(r["first_divergence"] == "1" for r in rows) == 1
    # a name with a comma and a quote survives
    with h5py.File(tmp_path / "q.h5", "w") as f:
        f['a,"b"'] = np.ones(3)
    out = subprocess.run([BIN, "stats", tmp_path / "q.h5", "--csv", "-"], capture_output=True, text=True).stdout
    assert list(csv.DictReader(io.StringIO(out)))[0]["name"] == 'a,"b"'


def test_json_on_stdout_and_one_stdout_report(megatron, tmp_path):
    r = subprocess.run([BIN, *map(str, megatron), "--json", "-"], capture_output=True, text=True, cwd=tmp_path)
    assert json.loads(r.stdout)["summary"]["mismatched"] == 2 * (40 - SLIP)
    assert not (tmp_path / "-").exists()
    r = subprocess.run([BIN, *map(str, megatron), "--json", "-", "--csv", "-"], capture_output=True, text=True)
    assert r.returncode == 2 and "only one of --json, --csv and --html" in r.stderr


def test_progress_on_a_terminal_only(tmp_path):
    # 2 x 256 MB read on one thread: long enough for lines every 100 ms (shown from 0 ms here).
    a, b = tmp_path / "a.h5", tmp_path / "b.h5"
    x = np.ones(1 << 26, np.float32)
    for p in (a, b):
        with h5py.File(p, "w") as f:
            f["big"] = x
    env = {"TENSORDIFF_PROGRESS_AFTER_MS": "0"}
    args = [a, b, "--threads", "1", "--criterion", "cosine"]
    _, out = on_pty(args, 120, env)
    assert re.search(r"\d+\.\d\d/0\.54 GB +[\d.]+ GB/s +ETA \d+ s +big", out), out[:500]
    r = subprocess.run([BIN, *map(str, args)], capture_output=True, text=True, env=dict(os.environ, **env))
    assert "ETA" not in r.stderr  # not a terminal
    _, out = on_pty([*args, "-q"], 120, env)
    assert "ETA" not in out


def chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name)
    return None


def test_html_report_renders_in_a_browser(megatron, tmp_path):
    page = tmp_path / "report.html"
    r = subprocess.run([BIN, "-q", *map(str, megatron), "--html", page], capture_output=True, text=True)
    assert r.returncode == 1, r.stderr
    text = page.read_text()
    assert "http://" not in text.replace("http://www.w3.org", "") and "https://" not in text  # self-contained
    browser = chromium()
    if browser is None:
        pytest.skip("no chromium here (scripts/install-deps.sh installs Debian's)")
    flags = ["--headless=new", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=10000"]
    dom = subprocess.run([browser, *flags, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120).stdout
    assert 'data-ready="1"' in dom, dom[:2000]
    assert "data-errors" not in dom, re.findall(r'data-errors="[^"]*"', dom)
    assert 'data-points="80"' in dom  # one point per compared pair
    shot = os.path.join(os.environ.get("TENSORDIFF_BUILD", str(tmp_path)), "html-report.png")
    subprocess.run([browser, *flags, "--hide-scrollbars", "--window-size=1280,1400", f"--screenshot={shot}", page.as_uri()],
                   capture_output=True, timeout=120)
    assert os.path.getsize(shot) > 10000


def test_html_opens_fast_with_100000_tensors(tmp_path):
    """The page's data is columnar and the table paged: 10^5 pairs load in seconds."""
    browser = chromium()
    if browser is None:
        pytest.skip("no chromium here")
    a = tmp_path / "a.h5"
    with h5py.File(a, "w") as f:
        g = f.create_group("t")
        for i in range(100000):
            g.create_dataset(str(i), data=np.float32(i))
    page = tmp_path / "big.html"
    r = subprocess.run([BIN, "-q", a, a, "--html", page], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    import time
    t = time.monotonic()
    dom = subprocess.run([browser, "--headless=new", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=60000",
                          "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=300).stdout
    secs = time.monotonic() - t
    assert 'data-ready="1"' in dom and 'data-points="100000"' in dom
    assert secs < 60, secs
    print(f"\n  100,000-pair HTML: {page.stat().st_size / 1e6:.1f} MB, rendered headless in {secs:.1f} s")


def test_max_rel_where_a_is_zero_is_infinite_in_every_report(tmp_path):
    """docs/design.md §4: max_rel = max |d|/|a|, and |a| = 0 with d != 0 is +inf (no finite
    relative error exists; msprobe's |d|/(|a| + 1e-10) is a number eps makes up). Table, CSV and
    JSON hold that same value, spelled as each format spells infinity, with where it is."""
    a, b = tmp_path / "a", tmp_path / "b"
    for d, x in ((a, [0.0, 1.0, 2.0]), (b, [1.0, 1.0, 2.5])):
        d.mkdir()
        np.save(d / "t.npy", np.array(x, dtype=np.float32))
    r = subprocess.run([BIN, a / "t.npy", b / "t.npy", "--csv", tmp_path / "r.csv", "--json", tmp_path / "r.json"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 1, r.stderr
    assert "max rel" in r.stdout.splitlines()[0]
    assert re.search(r" t +f32 +1 +inf +0\.5 ", r.stdout.splitlines()[1]), r.stdout  # max|d|, max rel, rel L2
    (line,) = list(csv.DictReader(open(tmp_path / "r.csv")))
    assert line["max_rel"] == "inf" and float(line["max_rel"]) == float("inf")
    t = json.load(open(tmp_path / "r.json"))["tensors"][0]
    assert t["diff"]["max_rel"] == "Infinity" and float(t["diff"]["max_rel"]) == float("inf")
    assert t["diff"]["max_rel_at"] == {"index": [0], "flat_index": 0, "a": 0, "b": 1}
    r = subprocess.run([BIN, "show", a / "t.npy", b / "t.npy", "t"], capture_output=True, text=True, timeout=60)
    assert re.search(r"max rel\s+inf at \[0\] \(a 0, b 1\)", r.stdout), r.stdout
