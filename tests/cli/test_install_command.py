"""Issue 25 item 4: after scripts/demo.sh the `tensordiff` command is on PATH. Its step,
scripts/install-command.sh, into a folder of the test's: a link to the build that runs by its
name from PATH and still finds its HDF5 helper; something else already there is left alone."""
import os
import subprocess

import h5py
import numpy as np

BIN = os.path.abspath(os.environ.get("TENSORDIFF_BIN", os.path.join(os.path.dirname(__file__), "..", "..", "build", "tensordiff")))
SCRIPT = os.path.join(os.path.dirname(__file__), "..", "..", "scripts", "install-command.sh")


def install(d):
    return subprocess.run([SCRIPT, str(d)], capture_output=True, text=True, timeout=60,
                          env=dict(os.environ, TENSORDIFF_BIN=BIN))


def test_the_command_runs_by_name_from_path(tmp_path):
    d = tmp_path / "bin"
    r = install(d)
    assert r.returncode == 0, r.stderr
    assert os.path.realpath(d / "tensordiff") == os.path.realpath(BIN) and f"{d}/tensordiff ->" in r.stdout
    assert "not on PATH here" in r.stdout  # the test's folder is not: the script says how
    for side, x in (("a", 1.0), ("b", 1.5)):
        with h5py.File(tmp_path / f"{side}.h5", "w") as f:
            f["w"] = np.full(8, x, np.float32)
    env = dict(os.environ, PATH=f"{d}:/usr/bin:/bin")
    env.pop("TENSORDIFF_HDF5_HELPER", None)
    r = subprocess.run(["tensordiff", "a.h5", "b.h5"], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60)
    assert r.returncode == 1 and "first divergence: w" in r.stdout, r.stdout + r.stderr  # runs, reads HDF5
    assert install(d).returncode == 0 and os.path.islink(d / "tensordiff")  # rerunning it is fine


def test_something_else_at_the_name_is_left_alone(tmp_path):
    d = tmp_path / "bin"
    d.mkdir()
    (d / "tensordiff").write_text("#!/bin/sh\necho pip's\n")
    r = install(d)
    assert r.returncode == 0 and "left alone" in r.stdout
    assert (d / "tensordiff").read_text() == "#!/bin/sh\necho pip's\n"
