"""Clean and slipped training steps of Hugging Face models dumped by msprobe's own dumper at
module level (L0), over several seeds, and what tensordiff names in each (issue 23): the
measurement behind the backward rules. One step of GPT-2, LLaMA, Gemma and BERT
(python/tests/msprobe_hf_run.py, random-initialised small configs) per seed and mode, run B
against an fp32 run A of the same seed (and loss scale):

    build/venv/bin/python bench/msprobe_hf_steps.py [--venv build/venv-msprobe] [--seeds 0 1 2 3]

Modes: bf16 autocast (amp), a bf16 model, float16 at module boundaries (fp16sim; torch 1.13
has no float16 CPU kernels) without loss scaling and with a loss scale of 1024 on both sides;
slips: layer 2's first norm eps (x100, at least 1e-5) in each mode, GELU's formula in fp32.
Prints one row per (model, mode, slip): the runs whose first jump is the slipped module (slips)
or that name no jump (clean), out of the seeds; and what else was named.
"""
import argparse
import concurrent.futures
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TD = os.environ.get("TENSORDIFF_BIN", os.path.join(ROOT, "build", "tensordiff"))
RUN = os.path.join(ROOT, "python", "tests", "msprobe_hf_run.py")
SLIPPED = {"gpt2": "Module.transformer.h.2.ln_1.LayerNorm.forward.0.output.0",
           "llama": "Module.model.layers.2.input_layernorm.LlamaRMSNorm.forward.0.output.0",
           "gemma": "Module.model.layers.2.input_layernorm.GemmaRMSNorm.forward.0.output.0",
           "bert": "Module.bert.encoder.layer.2.attention.output.LayerNorm.LayerNorm.forward.0.output.0"}
GELU = {"gpt2": "Module.transformer.h.2.mlp.act.GELU.forward.0.output.0",
        "bert": "Module.bert.encoder.layer.2.intermediate.intermediate_act_fn.GELU.forward.0.output.0"}
# (precision, loss scale) of run B; A is fp32 with the same loss scale.
MODES = [("amp", "1"), ("bf16", "1"), ("fp16sim", "1"), ("fp16sim", "1024")]
# Seeds shift torch's seed for the weights (msprobe_hf_run.py seeds 0 itself).
SEEDED = """import runpy, sys, torch
seed = int(sys.argv.pop(1)); orig = torch.manual_seed
torch.manual_seed = lambda s: orig(s + 1000 * seed)
sys.argv[0] = {run!r}
runpy.run_path({run!r}, run_name="__main__")
"""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--venv", default=os.path.join(ROOT, "build", "venv-msprobe"))
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3])
    args = ap.parse_args()
    py = os.path.join(args.venv, "bin", "python")
    work = tempfile.mkdtemp(prefix="msprobe_hf_steps_")
    seeded = os.path.join(work, "seeded.py")
    with open(seeded, "w") as f:
        f.write(SEEDED.format(run=RUN))
    runs = []  # (model, slip, precision, scale, seed)
    for seed in args.seeds:
        for m in SLIPPED:
            for precision, scale in MODES:
                if (m, precision) == ("bert", "amp"):  # BERT's MLM head fails under CPU autocast with msprobe's hooks
                    continue
                runs += [(m, "clean", "fp32", scale, seed), (m, "clean", precision, scale, seed),
                         (m, "eps", precision, scale, seed)]
            if m in GELU:
                runs += [(m, "gelu", "fp32", "1", seed)]
    runs = sorted(set(runs))

    def dump(run):
        m, slip, precision, scale, seed = run
        out = os.path.join(work, "_".join(map(str, run)))
        r = subprocess.run([py, seeded, str(seed), m, out, slip, precision, scale], capture_output=True, text=True)
        if r.returncode:
            sys.exit(f"{run}: {r.stderr[-1500:]}")
        return run, out

    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        dumps = dict(pool.map(dump, runs))
    rows = {}
    for (m, slip, precision, scale, seed), b in sorted(dumps.items()):
        if (slip, precision) == ("clean", "fp32"):
            continue
        a = dumps[(m, "clean", "fp32", scale, seed)]
        out = os.path.join(work, "r.json")
        cmd = [TD, "-q", a, b, "--json", out] + (["--precision", "fp16"] if precision == "fp16sim" else [])
        subprocess.run(cmd, capture_output=True)
        with open(out) as f:
            rep = json.load(f)
        jumps = [j.split(":", 1)[1] for j in rep["summary"]["jumps"]]
        want = {"clean": None, "eps": SLIPPED[m], "gelu": GELU.get(m)}[slip]
        right = not jumps if want is None else bool(jumps) and jumps[0] == want
        key = (m, precision + ("" if scale == "1" else f" x{scale}"), slip)
        row = rows.setdefault(key, {"right": 0, "runs": 0, "other": 0, "underflow": 0})
        row["runs"] += 1
        row["right"] += right
        row["other"] += len([j for j in jumps if j != want])
        row["underflow"] += any("under the normal range" in n for n in rep["notes"])
    print(f"{'model':6} {'run B':13} {'slip':5} {'right':>6} {'other jumps':>12} {'underflow noted':>16}")
    for (m, mode, slip), r in sorted(rows.items()):
        print(f"{m:6} {mode:13} {slip:5} {r['right']:>3}/{r['runs']:<2} {r['other']:>12} {r['underflow']:>13}/{r['runs']}")
    print(f"{len(dumps)} dumps in {work}")


if __name__ == "__main__":
    main()
