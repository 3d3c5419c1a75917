"""tensordiff against msprobe's own compare on the same pair of msprobe dumps (issue 23), side
by side in one run: two dumps written by msprobe's dumper (python/tests/msprobe_run.py: an fp32
reference and a run with block 2's LayerNorm eps slipped; $TD_WIDTH x $TD_BLOCKS, batch
$TD_BATCH), then `msprobe -f pytorch compare` and `tensordiff -q` on them, each timed (wall
seconds and peak RSS, median of N), and what each names.

    build/venv/bin/python bench/msprobe_side_by_side.py [--width 1024 --blocks 24 --batch 256 --runs 3]
        [--venv build/venv-msprobe8 --level L0 --precision amp]

--venv: the msprobe whose dumper writes the pair and whose compare runs (default 1.3.0's);
--level: API (L1, default) or module (L0) dumps; --precision: run B's (fp32 or amp, bf16
autocast; the reference is fp32).
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TD = os.environ.get("TENSORDIFF_BIN", os.path.join(ROOT, "build", "tensordiff"))


def timed(cmd, **kw):
    t = time.perf_counter()
    r = subprocess.run(["/usr/bin/time", "-f", "%M", *cmd], capture_output=True, text=True, **kw)
    wall = time.perf_counter() - t
    rss_kb = int(r.stderr.strip().splitlines()[-1])
    return r, wall, rss_kb


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--width", type=int, default=1024)
    ap.add_argument("--blocks", type=int, default=24)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--venv", default=os.path.join(ROOT, "build", "venv-msprobe"))
    ap.add_argument("--level", default="L1", choices=["L1", "L0"])
    ap.add_argument("--precision", default="fp32", choices=["fp32", "amp"])
    a = ap.parse_args()
    msvenv = os.path.join(a.venv, "bin")
    version = subprocess.run([os.path.join(msvenv, "python"), "-c",
                              "import importlib.metadata as m; print(m.version('mindstudio-probe'))"],
                             capture_output=True, text=True, check=True).stdout.strip()
    env = {**os.environ, "TD_WIDTH": str(a.width), "TD_BLOCKS": str(a.blocks), "TD_BATCH": str(a.batch)}
    with tempfile.TemporaryDirectory(prefix="msprobe_bench_") as d:
        for run, precision in (("clean", "fp32"), ("slip", a.precision)):
            subprocess.run([os.path.join(msvenv, "python"), os.path.join(ROOT, "python", "tests", "msprobe_run.py"),
                            "tensor", a.level, f"{d}/{run}", run, "1", precision], check=True, env=env,
                           capture_output=True)
        rank = "step0/rank"
        size = sum(os.path.getsize(os.path.join(p, f)) for run in ("clean", "slip")
                   for p, _, fs in os.walk(f"{d}/{run}") for f in fs)
        files = len(os.listdir(f"{d}/clean/{rank}/dump_tensor_data"))
        cfg = {"npu_path": f"{d}/slip/{rank}/dump.json", "bench_path": f"{d}/clean/{rank}/dump.json",
               "stack_path": f"{d}/slip/{rank}/stack.json", "is_print_compare_log": False}
        with open(f"{d}/cmp.json", "w") as f:
            json.dump(cfg, f)
        ms, td = [], []
        for _ in range(a.runs):
            out = tempfile.mkdtemp(dir=d)
            r, wall, rss = timed([os.path.join(msvenv, "msprobe"), "-f", "pytorch", "compare", "-i", f"{d}/cmp.json",
                                  "-o", out])
            assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
            ms.append((wall, rss))
            r, wall, rss = timed([TD, "-q", f"{d}/clean/{rank}", f"{d}/slip/{rank}", "--json", f"{d}/r.json"])
            assert r.returncode == 1, r.stderr
            td.append((wall, rss))
        rep = json.load(open(f"{d}/r.json"))
        advisor = [f for f in os.listdir(out) if f.startswith("advisor")]
        advice = open(os.path.join(out, advisor[0])).read() if advisor else ""
    m_wall, t_wall = statistics.median(w for w, _ in ms), statistics.median(w for w, _ in td)
    print(f"pair: msprobe {version} {a.level} dumps, fp32 against {a.precision} with the eps slip; {files} tensor "
          f"files per side, {size / 1e9:.2f} GB both sides; width {a.width}, {a.blocks} blocks, batch {a.batch}; "
          f"median of {a.runs}")
    print(f"msprobe {version} compare: {m_wall:.2f} s, peak RSS {max(r for _, r in ms) / 1024:.0f} MB")
    print(f"tensordiff -q:         {t_wall:.2f} s, peak RSS {max(r for _, r in td) / 1024:.0f} MB")
    print(f"ratio: tensordiff {m_wall / t_wall:.1f}x faster")
    print(f"tensordiff first divergence: {rep['summary']['first_divergence']}, first jump: {rep['summary']['first_jump']}")
    names = sorted(set(re.findall(r"[A-Za-z_]+\.[a-z_]+\.\d+\.(?:forward|backward)", advice)))[:5]
    print(f"msprobe advisor names: {names or advice.strip()[:300]!r}")


if __name__ == "__main__":
    sys.exit(main())
