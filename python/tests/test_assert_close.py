"""Issue 25 item 1: tensordiff.assert_close in tests and scripts, and `python -m tensordiff`.

assert_close passes only where the command line exits 0; its message is the command line's own
table of what differs (the engine's text, compared here with the binary's output), with the
first divergence and the first jump."""
import os
import re
import subprocess
import sys
import textwrap

import h5py
import numpy as np
import pytest

import tensordiff

from test_formats import MSPROBE_SET, write_msprobe

PYTHON_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
# The last line (and its wrapped continuation): bytes read, seconds and GB/s differ per run.
SPEED = re.compile(r"^precision .*(\n    .*)*", re.M)


def layers(n=6, slip=3, scale=1e-3):
    """A stack of activations where layer `slip` adds an error that the later ones carry."""
    rng = np.random.default_rng(5)
    a, b = {}, {}
    h = rng.standard_normal(512).astype(np.float32)
    err = np.zeros_like(h)
    for i in range(n):
        h = np.tanh(h * 1.3).astype(np.float32)
        if i == slip:
            err = (scale * rng.standard_normal(512)).astype(np.float32)
        a[f"blocks.{i}.act"], b[f"blocks.{i}.act"] = h, h + err
    return a, b


def write(path, tensors):
    with h5py.File(path, "w", track_order=True) as f:
        for k, v in tensors.items():
            f[k] = v
    return str(path)


def test_equal_runs_pass_and_return_the_report():
    a, _ = layers()
    report = tensordiff.assert_close(a, {k: v.copy() for k, v in a.items()})
    assert isinstance(report, tensordiff.Report) and report["exit_code"] == 0
    assert report["summary"]["matched"] == 6
    x = np.linspace(-1, 1, 100, dtype=np.float32)
    assert tensordiff.assert_close(x, x + 1e-3, atol=2e-3)["tensors"][0]["status"] == "match"


def test_the_message_is_the_command_lines_table_with_divergence_and_jump(tmp_path):
    a, b = layers()
    with pytest.raises(AssertionError) as info:
        tensordiff.assert_close(a, b)
    msg = str(info.value)
    assert msg.startswith("assert_close(a, b): 3 of 6 tensors differ (exit status 1)\n\n")
    assert re.search(r"^>\*\s+3\s+blocks\.3\.act .*DIFF$", msg, re.M), msg  # the divergence is the jump
    assert "first divergence: blocks.3.act (order 3)" in msg and "first jump: blocks.3.act (order 3)" in msg
    assert "blocks.0.act" not in msg  # matching rows are not in it
    assert info.value.report["summary"]["first_divergence"] == "blocks.3.act"

    # The same runs as dumps: the message's table is the binary's `--only-diff` output.
    pa, pb = write(tmp_path / "a.h5", a), write(tmp_path / "b.h5", b)
    with pytest.raises(AssertionError) as info:
        tensordiff.assert_close(pa, pb)
    head, table = str(info.value).split("\n\n", 1)
    assert head == f"assert_close({pa!r}, {pb!r}): 3 of 6 tensors differ (exit status 1)"
    cli = subprocess.run([tensordiff.find_binary(), "--only-diff", "--name-width", "60", pa, pb],
                         capture_output=True, text=True)
    assert cli.returncode == 1
    assert SPEED.sub("", table) == SPEED.sub("", cli.stdout)
    assert "first jump: blocks.3.act" in table


def test_many_differing_rows_are_cut_to_the_largest_and_the_markers():
    a, b = layers(n=40, slip=2)
    with pytest.raises(AssertionError) as info:
        tensordiff.assert_close(a, b)
    msg = str(info.value)
    rows = [line for line in msg.splitlines() if re.match(r"^[ >][ *]\s+\d+\s+blocks\.", line)]
    assert len(rows) == 20, msg
    assert "(20 rows not shown: --top 20)" in msg and "first divergence: blocks.2.act" in msg


def test_options_are_compares_and_checked():
    x = np.linspace(-1, 1, 100, dtype=np.float32)
    with pytest.raises(AssertionError):
        tensordiff.assert_close(x, x + 1e-3)
    tensordiff.assert_close(x, x + 1e-3, atol=2e-3)
    tensordiff.assert_close(x, x * (1 + 1e-3), criterion="rel-l2", rtol=1e-2)
    with pytest.raises(TypeError, match=r"assert_close\(\) got an unexpected keyword argument 'rtl'.*rtol"):
        tensordiff.assert_close(x, x, rtl=1e-3)
    with pytest.raises(TypeError, match="printed table"):
        tensordiff.assert_close(x, x, only_diff=True)
    with pytest.raises(TypeError, match=r"assert_close\(\) argument 'b' must be a dump path like 'a'"):
        tensordiff.assert_close("a.h5", x)
    with pytest.raises(TypeError, match=r"assert_close\(\) argument 'a' must be an array"):
        tensordiff.assert_close(None, x)


def test_summaries_only_do_not_pass(tmp_path):
    """Status 3: the summaries agree, no element was compared: not shown to be close."""
    full = write_msprobe(tmp_path / "full", MSPROBE_SET)
    stats = write_msprobe(tmp_path / "stats", MSPROBE_SET, task="statistics")
    assert tensordiff.compare(full, stats)["exit_code"] == 3
    with pytest.raises(AssertionError) as info:
        tensordiff.assert_close(full, stats)
    msg = str(info.value)
    assert "judged from summaries only" in msg and "exit status 3" in msg and "exit_code'] == 3" in msg
    assert "consistent" in msg.split("\n\n", 1)[1]  # the table's rows say so
    assert info.value.report["summary"]["consistent"] == 6


def test_errors_raise_tensordiff_error(tmp_path):
    x = np.linspace(-1, 1, 100, dtype=np.float32)
    a = write(tmp_path / "a.h5", {"h": x})
    with pytest.raises(tensordiff.TensordiffError, match="missing.h5: cannot open"):
        tensordiff.assert_close(a, str(tmp_path / "missing.h5"))
    # A pair of a dtype the engine does not read: exit status 2, never a pass.
    za = write(tmp_path / "za.h5", {"h": x, "z": np.zeros(3, np.complex64)})
    zb = write(tmp_path / "zb.h5", {"h": x, "z": np.zeros(3, np.complex64)})
    with pytest.raises(tensordiff.TensordiffError) as info:
        tensordiff.assert_close(za, zb)
    assert "exit status 2" in str(info.value) and "complex" in str(info.value)
    assert info.value.report["exit_code"] == 2


def test_in_pytest_the_failure_shows_the_table(tmp_path):
    """What a user sees: pytest prints the message (the table, divergence, jump)."""
    test = tmp_path / "test_user.py"
    test.write_text(textwrap.dedent("""
        import numpy as np, tensordiff
        from test_assert_close import layers

        def test_port():
            a, b = layers()
            tensordiff.assert_close(a, b)
    """))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([PYTHON_DIR, os.path.dirname(__file__)]))
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(test)],
                       capture_output=True, text=True, cwd=tmp_path, env=env)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "AssertionError: assert_close(a, b): 3 of 6 tensors differ" in r.stdout
    assert re.search(r"first divergence: blocks\.3\.act", r.stdout) and "first jump: blocks.3.act" in r.stdout
    assert "tensordiff.assert_close(a, b)" in r.stdout and "raise error" not in r.stdout  # the user's line


def test_python_m_tensordiff_is_the_command(tmp_path):
    a, b = layers()
    pa, pb = write(tmp_path / "a.h5", a), write(tmp_path / "b.h5", b)
    env = dict(os.environ, PYTHONPATH=PYTHON_DIR)
    for args in (["--version"], [pa, pb], [pa, pa], ["--rtol", "x", pa, pb], [pa, str(tmp_path / "none.h5")]):
        cli = subprocess.run([tensordiff.find_binary(), *args], capture_output=True, text=True)
        mod = subprocess.run([sys.executable, "-m", "tensordiff", *args], capture_output=True, text=True, env=env)
        assert mod.returncode == cli.returncode, (args, mod.stderr)
        assert SPEED.sub("", mod.stdout) == SPEED.sub("", cli.stdout) and mod.stderr == cli.stderr, args
    assert [cli.returncode for cli in [subprocess.run([sys.executable, "-m", "tensordiff", pa, pb], env=env,
                                                      capture_output=True)]] == [1]
    bad = dict(env, TENSORDIFF_BIN=str(tmp_path / "no-such-binary"))
    r = subprocess.run([sys.executable, "-m", "tensordiff", pa, pb], capture_output=True, text=True, env=bad)
    assert r.returncode == 2 and "is not an executable tensordiff binary" in r.stderr
