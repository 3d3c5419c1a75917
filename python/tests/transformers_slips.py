"""Slips planted in real Hugging Face `transformers` model code (issue 22): GPT-2, BERT, LLaMA
and Mistral, random-initialised small configs (no downloads), each run twice on the same weights
and the same input: run A is the fp32 reference, run B has one slip in layer 2 (or none) and runs
in fp32, in bf16 under CPU autocast ("bf16") or with its weights cast to bf16 ("bf16w"). Both
runs are captured with `tensordiff.hook_module` (outputs only, or with inputs=True) into HDF5 and
compared by the engine; a row says whether the first jump names the slip's module.

The slips are planted without editing transformers: a module's attribute (`eps`,
`variance_epsilon`, `scale_attn_weights`, `scaling`, `training`), a module swapped for another
(`mlp.act`), or a weight changed in place (a query projection scaled by 1.01, a square weight
transposed, a bias dropped). Each slip says where it is:

- a *module* slip is made by one module (`transformer.h.2.ln_2`); the first jump is right when it
  names that module or its direct parent;
- a *functional* slip is made by code between modules inside one module's `forward` (LLaMA's
  functional dropout on the attention weights, GPT-2's and LLaMA's 1/sqrt(d)), so no hook sees
  it; the first jump is right when it names that module, anything inside it (a child's input:
  the gap) or its direct parent.

Weights are either "fresh" (the model's own init: norm weights 1, biases 0) or "trained"-like
(norm weights 1 + N(0, 0.1), norm biases N(0, 0.05), linear biases N(0, 0.02)); on fresh
weights a dropped bias changes nothing (the row says "no-op").

Used by test_transformers_slips.py and as a script:

    PYTHONPATH=python python3 python/tests/transformers_slips.py            # the full table
    PYTHONPATH=python python3 python/tests/transformers_slips.py --quick    # the test's subset
    PYTHONPATH=python python3 python/tests/transformers_slips.py --capture  # what a dump holds

Verdicts: right (the slip's module), early (a record before the slip's first record), wrong
(another module, after it), missed (no jump), no-op (the slip changed nothing in fp32), and for
clean runs: none (no jump) or false (a jump in a run without a slip).
"""
from __future__ import annotations

import argparse
import collections
import contextlib
import dataclasses
import hashlib
import os
import sys
import tempfile
import time
import warnings

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import tensordiff  # noqa: E402

try:  # the reason a test skips when the package is missing or broken on this torch
    import transformers
    from transformers import activations as _act
    # the lazy module imports the model code here: a torch too old for it fails now, not mid-test
    for _cls in ("GPT2LMHeadModel", "BertModel", "LlamaForCausalLM", "MistralForCausalLM"):
        getattr(transformers, _cls)
    IMPORT_ERROR = None
except Exception as e:  # noqa: BLE001 (an ImportError, or a RuntimeError from a torch too old)
    transformers = None
    IMPORT_ERROR = f"{type(e).__name__}: {e}"

LAYER = 2
BATCH, SEQ, VOCAB = 2, 16, 128
DTYPES = ("fp32", "bf16", "bf16w")
MODES = ("outputs", "inputs", "replay")  # replay: tensordiff.replay of run B on A's recorded inputs
WEIGHTS = ("fresh", "trained")
CLEAN_SEEDS = (0, 1, 2)


# -- models -------------------------------------------------------------------------------------
def _config(model):
    t = transformers
    if model == "gpt2":
        return t.GPT2Config(vocab_size=VOCAB, n_positions=64, n_layer=4, n_embd=64, n_head=4), t.GPT2LMHeadModel
    if model == "bert":
        return t.BertConfig(vocab_size=VOCAB, hidden_size=64, num_hidden_layers=4, num_attention_heads=4,
                            intermediate_size=256, max_position_embeddings=64), t.BertModel
    if model == "llama":
        # attention_bias: LLaMA-style models with q/k/v/o biases (InternLM, Qwen) exist, and the
        # dropped-bias slip needs one.
        return t.LlamaConfig(vocab_size=VOCAB, hidden_size=64, num_hidden_layers=4, num_attention_heads=4,
                             num_key_value_heads=4, intermediate_size=172, max_position_embeddings=64,
                             attention_bias=True), t.LlamaForCausalLM
    if model == "mistral":
        return t.MistralConfig(vocab_size=VOCAB, hidden_size=64, num_hidden_layers=4, num_attention_heads=4,
                               num_key_value_heads=2, intermediate_size=172, max_position_embeddings=64,
                               sliding_window=8), t.MistralForCausalLM
    raise KeyError(model)


MODELS = ("gpt2", "bert", "llama", "mistral")


def _is_norm(m):
    return isinstance(m, torch.nn.LayerNorm) or type(m).__name__.endswith("RMSNorm")


def _trained_like(model, seed):
    """Weights as training leaves them where init is special: norm weights off 1, biases off 0."""
    g = torch.Generator().manual_seed(1000 + seed)
    with torch.no_grad():
        for m in model.modules():
            w, b = getattr(m, "weight", None), getattr(m, "bias", None)
            if _is_norm(m):
                w.copy_(1 + 0.1 * torch.randn(w.shape, generator=g))
                if isinstance(b, torch.nn.Parameter):
                    b.copy_(0.05 * torch.randn(b.shape, generator=g))
            elif isinstance(b, torch.nn.Parameter) and b.dim() == 1:  # Linear, Conv1D
                b.copy_(0.02 * torch.randn(b.shape, generator=g))


def build(model, weights="fresh", seed=0):
    """The model (eval mode, eager attention) and its call's keyword arguments."""
    cfg, cls = _config(model)
    cfg._attn_implementation = "eager"
    torch.manual_seed(seed)
    m = cls(cfg).eval()
    if weights == "trained":
        _trained_like(m, seed)
    g = torch.Generator().manual_seed(7 + seed)
    ids = torch.randint(0, VOCAB, (BATCH, SEQ), generator=g)
    mask = torch.ones(BATCH, SEQ, dtype=torch.long)
    mask[1, -3:] = 0  # the second sequence is padded: masks are real inputs
    return m, {"input_ids": ids, "attention_mask": mask}


# -- slips --------------------------------------------------------------------------------------
@dataclasses.dataclass
class Slip:
    where: str               # the module path whose code makes the error
    functional: bool = False  # made by code between that module's children, seen by no hook


def _layer(model, m):
    if model == "gpt2":
        return m.transformer.h[LAYER], f"transformer.h.{LAYER}"
    if model == "bert":
        return m.encoder.layer[LAYER], f"encoder.layer.{LAYER}"
    return m.model.layers[LAYER], f"model.layers.{LAYER}"


def _norm_eps(model, m):
    blk, p = _layer(model, m)
    if model == "gpt2":  # 1e-5 -> BERT's 1e-12
        blk.ln_2.eps = 1e-12
        return Slip(f"{p}.ln_2")
    if model == "bert":  # 1e-12 -> torch's default 1e-5
        blk.output.LayerNorm.eps = 1e-5
        return Slip(f"{p}.output.LayerNorm")
    blk.post_attention_layernorm.variance_epsilon = 1e-5  # 1e-6 -> LLaMA-2's 1e-5
    return Slip(f"{p}.post_attention_layernorm")


def _act_swap(model, m):
    blk, p = _layer(model, m)
    if model == "gpt2":  # gelu_new (tanh) -> exact erf GELU
        blk.mlp.act = _act.ACT2FN["gelu"]
        return Slip(f"{p}.mlp.act")
    if model == "bert":  # exact erf GELU -> tanh
        blk.intermediate.intermediate_act_fn = _act.ACT2FN["gelu_new"]
        return Slip(f"{p}.intermediate.intermediate_act_fn")
    blk.mlp.act_fn = _act.ACT2FN["gelu"]  # SiLU -> GELU
    return Slip(f"{p}.mlp.act_fn")


def _query_scale(model, m):
    blk, p = _layer(model, m)
    with torch.no_grad():
        if model == "gpt2":  # Conv1D weight is (in, out): the query is the first n_embd outputs
            e = blk.attn.embed_dim
            blk.attn.c_attn.weight[:, :e] *= 1.01
            blk.attn.c_attn.bias[:e] *= 1.01
            return Slip(f"{p}.attn.c_attn")
        if model == "bert":
            q, where = blk.attention.self.query, f"{p}.attention.self.query"
        else:
            q, where = blk.self_attn.q_proj, f"{p}.self_attn.q_proj"
        q.weight *= 1.01
        if q.bias is not None:
            q.bias *= 1.01
    return Slip(where)


def _linear_in_layer(model, m, paths):
    """The linear layer at paths[model] (else paths["llama"]) inside the slipped layer."""
    blk, p = _layer(model, m)
    rel = paths.get(model, paths["llama"])
    return blk.get_submodule(rel), f"{p}.{rel}"


def _transposed(model, m):
    lin, where = _linear_in_layer(model, m, {"gpt2": "attn.c_proj", "bert": "attention.output.dense",
                                             "llama": "self_attn.o_proj"})
    with torch.no_grad():
        lin.weight.copy_(lin.weight.t().clone())
    return Slip(where)


def _dropped_bias(model, m):
    lin, where = _linear_in_layer(model, m, {"gpt2": "mlp.c_fc", "bert": "intermediate.dense",
                                             "llama": "self_attn.o_proj"})
    with torch.no_grad():
        lin.bias.zero_()
    return Slip(where)


def _dropout_module(model, m):
    blk, p = _layer(model, m)
    if model == "gpt2":
        blk.mlp.dropout.train()
        return Slip(f"{p}.mlp.dropout")
    blk.output.dropout.train()
    return Slip(f"{p}.output.dropout")


def _dropout_functional(model, m):
    """LLaMA's attention calls F.dropout(p=attention_dropout, training=module.training)."""
    blk, p = _layer(model, m)
    blk.self_attn.attention_dropout = 0.1
    blk.self_attn.training = True  # this module only: its children stay in eval mode
    return Slip(f"{p}.self_attn", functional=True)


def _missing_scale(model, m):
    blk, p = _layer(model, m)
    if model == "gpt2":
        blk.attn.scale_attn_weights = False
        return Slip(f"{p}.attn", functional=True)
    blk.self_attn.scaling = 1.0
    return Slip(f"{p}.self_attn", functional=True)


SLIP_FNS = {"norm_eps": _norm_eps, "act_swap": _act_swap, "query_x1.01": _query_scale,
            "transposed_w": _transposed, "dropped_bias": _dropped_bias, "dropout_module": _dropout_module,
            "dropout_functional": _dropout_functional, "missing_scale": _missing_scale}
SLIPS = {  # the slips each architecture has a place for
    "gpt2": ["norm_eps", "act_swap", "query_x1.01", "transposed_w", "dropped_bias", "dropout_module",
             "missing_scale"],
    "bert": ["norm_eps", "act_swap", "query_x1.01", "transposed_w", "dropped_bias", "dropout_module"],
    "llama": ["norm_eps", "act_swap", "query_x1.01", "transposed_w", "dropped_bias", "dropout_functional",
              "missing_scale"],
    "mistral": ["norm_eps", "act_swap", "query_x1.01", "transposed_w", "dropout_functional", "missing_scale"],
}


# -- one run ------------------------------------------------------------------------------------
def record(path, model, dtype="fp32", slip=None, inputs=False, weights="fresh", seed=0, aliases=True):
    """Runs `model` once and records it with hook_module; returns (Slip or None, module paths,
    warnings the capture raised)."""
    m, kwargs = build(model, weights, seed)
    where = SLIP_FNS[slip](model, m) if slip else None
    if dtype == "bf16w":
        m = m.to(torch.bfloat16)
    ctx = torch.autocast("cpu", dtype=torch.bfloat16) if dtype == "bf16" else contextlib.nullcontext()
    paths = [p for p, _ in m.named_modules()]
    torch.manual_seed(1234)  # the dropout slips draw the same mask every time
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with torch.no_grad(), tensordiff.Recorder(path, aliases=aliases), tensordiff.hook_module(m, inputs=inputs), ctx:
            m(**kwargs)
    return where, paths, [str(w.message) for w in caught]


def module_of(name, paths):
    """The module path a record name belongs to: the longest path that prefixes it (`X`, `X.0`,
    `X.input.0`, `X#2`); the root's records (`output...`) belong to ''."""
    base = name.split("#")[0].split("~")[0]
    best = ""
    for p in paths:
        if p and (base == p or base.startswith(p + ".")) and len(p) > len(best):
            best = p
    return best


def _parent(path):
    return path.rpartition(".")[0]


def verdict(report, slip, paths):
    """(verdict, first jump's name, its growth)."""
    s = report["summary"]
    jump = s.get("first_jump")
    rows = {t["name"]: t for t in report["tensors"]}
    growth = rows.get(jump, {}).get("growth") if jump else None
    if slip is None:
        return ("false" if jump else "none"), jump, growth
    if jump is None:
        return "missed", None, None
    mod = module_of(jump, paths)
    ok = {slip.where, _parent(slip.where)}
    if mod in ok or (slip.functional and mod.startswith(slip.where + ".")):
        return "right", jump, growth
    order = [t["name"] for t in report["tensors"]]
    first_slip = next((i for i, n in enumerate(order)
                       if module_of(n, paths) == slip.where or module_of(n, paths).startswith(slip.where + ".")),
                      None)
    if first_slip is not None and order.index(jump) < first_slip:
        return "early", jump, growth
    return "wrong", jump, growth


@dataclasses.dataclass
class Row:
    model: str
    weights: str
    dtype: str
    slip: str          # "clean" for no slip
    mode: str
    seed: int
    verdict: str
    first_jump: str | None
    growth: float | None
    jumps: int
    where: str | None
    at_where: str      # the slip module's own output: rel L2 and growth, '*' when marked a jump
    rel: float | None    # that record's rel L2 (in fp32: the slip's own size)
    noise: float | None  # rel L2 of that record in the clean run of the same dtype (the run's rounding)
    warnings: int


def _slip_record(report, where, paths):
    """The slip module's first output record."""
    for t in report["tensors"]:
        n = t["name"]
        if ".input" not in n and module_of(n, paths) == where:
            return t
    return None


def _at(report, where, paths):
    """rel L2 / growth of the slip module's first output record."""
    if where is None:
        return ""
    t = _slip_record(report, where, paths)
    if t is None:
        return "?"
    rl, g = (t.get("diff") or {}).get("rel_l2"), t.get("growth")
    return (f"{rl:.2g}" if isinstance(rl, float) else "-") + "/x" + \
        (f"{g:.3g}" if isinstance(g, float) else "-") + ("*" if t.get("jump") else "")


class Harness:
    """Runs cases in a scratch folder, recording each reference (fp32, no slip) once."""

    def __init__(self, folder):
        self.folder = folder
        self.refs = {}
        self.noop = {}
        self.clean = {}  # (model, dtype, mode, weights) -> {name: rel L2} of the seed-0 clean run

    def reference(self, model, mode, weights, seed):
        key = (model, mode, weights, seed)
        if key not in self.refs:
            path = os.path.join(self.folder, "ref_" + "_".join(map(str, key)) + ".h5")
            record(path, model, "fp32", None, mode == "inputs", weights, seed)
            self.refs[key] = path
        return self.refs[key]

    def is_noop(self, model, slip, weights):
        """Whether the slip leaves run B's fp32 outputs bit for bit equal to A's."""
        key = (model, slip, weights)
        if key not in self.noop:
            a, kw = build(model, weights)
            b, _ = build(model, weights)
            SLIP_FNS[slip](model, b)
            with torch.no_grad():
                torch.manual_seed(1234)
                oa = a(**kw)[0]
                torch.manual_seed(1234)
                ob = b(**kw)[0]
            self.noop[key] = bool(torch.equal(oa, ob))
        return self.noop[key]

    def replay(self, model, dtype, slip, weights, seed=0):
        """tensordiff.replay of run B's model on the reference's recorded inputs: the module
        whose own error stands out, judged like a first jump."""
        ref = self.reference(model, "inputs", weights, seed)
        m, _ = build(model, weights, seed)
        where = SLIP_FNS[slip](model, m) if slip else None
        if dtype == "bf16w":
            m = m.to(torch.bfloat16)
        ctx = torch.autocast("cpu", dtype=torch.bfloat16) if dtype == "bf16" else contextlib.nullcontext()
        with ctx:
            r = tensordiff.replay(m, ref)
        paths = [p for p, _ in m.named_modules()]
        named = r["named"]
        out = [{"name": x["name"], "diff": {"rel_l2": x["own_rel_l2"]}, "jump": x["stands_out"], "growth": None}
               for x in r["modules"]]
        fake = {"summary": {"first_jump": named, "jumps": [x["name"] for x in r["modules"] if x["stands_out"]]},
                "tensors": out}
        v, jump, _ = verdict(fake, where, paths)
        if slip and v != "right" and self.is_noop(model, slip, weights):
            v = "no-op" if jump is None else "no-op,false"
        own = next((x["own_rel_l2"] for x in r["modules"] if where and x["name"] == where.where), None)
        return Row(model, weights, dtype, slip or "clean", "replay", seed, v, jump, None,
                   len(fake["summary"]["jumps"]), where.where if where else None,
                   (f"{own:.2g}" if isinstance(own, float) else "-") + "/own", own, None, 0)

    def run(self, model, dtype, slip, mode, weights, seed=0):
        if mode == "replay":
            return self.replay(model, dtype, slip, weights, seed)
        ref = self.reference(model, mode, weights, seed)
        path = os.path.join(self.folder, "b.h5")
        where, paths, warns = record(path, model, dtype, slip, mode == "inputs", weights, seed)
        report = tensordiff.compare(ref, path)
        v, jump, growth = verdict(report, where, paths)
        if slip and v != "right" and self.is_noop(model, slip, weights):
            v = "no-op" if jump is None else "no-op,false"
        key = (model, dtype, mode, weights)
        if slip is None and seed == 0:
            self.clean[key] = {t["name"]: (t.get("diff") or {}).get("rel_l2") for t in report["tensors"]}
        noise = rel = None
        if where is not None:
            if key not in self.clean:
                self.run(model, dtype, None, mode, weights, 0)
            t = _slip_record(report, where.where, paths)
            noise = self.clean[key].get(t["name"]) if t else None
            rel = (t.get("diff") or {}).get("rel_l2") if t else None
        return Row(model, weights, dtype, slip or "clean", mode, seed, v, jump, growth,
                   len(report["summary"].get("jumps") or []), where.where if where else None,
                   _at(report, where.where if where else None, paths), rel, noise, len(warns))


def cases(quick=False, models=MODELS):
    """(model, dtype, slip, mode, weights, seed) of the full table, or of the test's subset."""
    if quick:
        return [(m, "fp32", s, "outputs", "trained", 0) for m in models if m != "mistral" for s in SLIPS[m]]
    out = []
    for m in models:
        for w in WEIGHTS:
            for d in DTYPES:
                for mode in MODES:
                    out += [(m, d, None, mode, w, seed) for seed in CLEAN_SEEDS]
                    out += [(m, d, s, mode, w, 0) for s in SLIPS[m]]
    return out


def run_cases(case_list, folder=None, progress=None):
    with contextlib.ExitStack() as stack:
        if folder is None:
            folder = stack.enter_context(tempfile.TemporaryDirectory(prefix="tf_slips_"))
        h = Harness(folder)
        rows = []
        for i, c in enumerate(case_list):
            rows.append(h.run(*c))
            if progress:
                progress(i + 1, len(case_list), rows[-1])
        return rows


# -- what a dump holds ----------------------------------------------------------------------------
def capture_census(model, weights="fresh", inputs=True, dtype="fp32"):
    """Records, bytes, and records whose data repeats an earlier record's (same dtype, shape
    and bytes), grouped; plus the capture's warnings, the names of cache records, and the file
    sizes with the Recorder's alias records (the default) and without (every copy written)."""
    import h5py
    with tempfile.TemporaryDirectory(prefix="tf_census_") as d:
        path, full = os.path.join(d, "a.h5"), os.path.join(d, "full.h5")
        _, _, warns = record(path, model, dtype, None, inputs, weights)
        record(full, model, dtype, None, inputs, weights, aliases=False)
        seen, dup_groups, total, dup_bytes, n, aliased = {}, collections.defaultdict(list), 0, 0, 0, 0
        order = []
        with h5py.File(path, "r") as f:
            f.visititems(lambda name, obj: order.append((int(obj.attrs["order"]), name, obj))
                         if isinstance(obj, h5py.Dataset) else None)
            order.sort()
            for _, name, ds in order:
                if ds.shape is None and "alias_of" in ds.attrs:  # an alias record: its target's data
                    aliased += 1
                    ds = f[ds.attrs["alias_of"]]
                raw = ds[()]
                key = (str(ds.dtype), ds.shape, hashlib.sha1(raw.tobytes()).hexdigest())
                n += 1
                total += raw.nbytes
                if key in seen:
                    dup_groups[seen[key]].append(name)
                    dup_bytes += raw.nbytes
                else:
                    seen[key] = name
        cache = [name for _, name, _ in order if "past_key_value" in name or "key_cache" in name]
        sizes = (os.path.getsize(path), os.path.getsize(full))
    return {"records": n, "bytes": total, "repeated_records": sum(map(len, dup_groups.values())),
            "repeated_bytes": dup_bytes, "groups": dict(dup_groups), "warnings": warns, "cache_names": cache,
            "aliased_records": aliased, "file_bytes": sizes[0], "file_bytes_without_aliases": sizes[1]}


# -- the table ----------------------------------------------------------------------------------
def _fmt_g(g):
    return f"x{g:.3g}" if isinstance(g, (int, float)) else ""


def print_table(rows, out=sys.stdout):
    """One line per model x weights x dtype x slip x capture mode; clean runs over their seeds."""
    by = collections.OrderedDict()
    for r in rows:
        by.setdefault((r.model, r.weights, r.dtype, r.slip, r.mode), []).append(r)
    w = max([len(r.first_jump or "") for r in rows] + [10])
    head = (f"{'model':7} {'weights':7} {'dtype':5} {'slip':18} {'mode':7} {'verdict':8} "
            f"{'first jump':{w}} {'growth':>9} {'jumps':>5}  slip module: rel L2 (clean run's)/growth (* jump)")
    print(head, file=out)
    print("-" * len(head), file=out)
    for (model, weights, dtype, slip, mode), rs in by.items():
        lead = f"{model:7} {weights:7} {dtype:5} {slip:18} {mode:7} "
        if slip == "clean":
            false = [r for r in rs if r.verdict == "false"]
            print(lead + f"{len(false)}/{len(rs)} false" + (": " + ", ".join(
                f"seed {r.seed} {r.first_jump} {_fmt_g(r.growth)}" for r in false) if false else ""), file=out)
        else:
            r = rs[0]
            rl, _, g = r.at_where.partition("/")
            noise = f" ({r.noise:.2g})" if isinstance(r.noise, float) else ""
            print(lead + f"{r.verdict:8} {r.first_jump or '-':{w}} {_fmt_g(r.growth):>9} {r.jumps:>5}  "
                  f"{r.where}: {rl}{noise}/{g}", file=out)


def print_sizes(rows, out=sys.stdout):
    """Per slip: its size in fp32 (rel L2 of the slip module's output), each bf16 run's own
    rounding at that record (its clean run), and the verdicts outputs/inputs per dtype (R right,
    E early, W wrong, M missed, - no-op)."""
    short = {"right": "R", "early": "E", "wrong": "W", "missed": "M"}
    by = collections.OrderedDict()
    for r in rows:
        if r.slip != "clean":
            by.setdefault((r.model, r.weights, r.slip), {})[r.dtype, r.mode] = r
    if not by:
        return

    def num(x):
        return f"{x:8.2g}" if isinstance(x, float) else f"{'':8}"

    def field(rs, dtype, attr):
        r = rs.get((dtype, "outputs"))
        return getattr(r, attr) if r else None

    print("\nslip size (fp32 rel L2 at the slip module) against each bf16 run's own rounding there, "
          "and verdicts outputs/inputs:", file=out)
    print(f"  {'model':7} {'weights':7} {'slip':18} {'size':>8} {'bf16':>8} {'bf16w':>8}   "
          + " ".join(f"{d:5}" for d in DTYPES), file=out)
    for (model, weights, slip), rs in by.items():
        cells = ["/".join(short.get(rs[d, m].verdict, "-") if (d, m) in rs else " " for m in MODES)
                 for d in DTYPES]
        print(f"  {model:7} {weights:7} {slip:18} {num(field(rs, 'fp32', 'rel'))} "
              f"{num(field(rs, 'bf16', 'noise'))} {num(field(rs, 'bf16w', 'noise'))}   "
              + " ".join(f"{c:5}" for c in cells), file=out)


def summarize_rows(rows, out=sys.stdout):
    print("\nslips named right / slips that change something (no-op excluded), false-jump clean runs:", file=out)
    keys = sorted({(r.weights, r.dtype, r.mode) for r in rows}, key=lambda k: (WEIGHTS.index(k[0]),
                  DTYPES.index(k[1]), MODES.index(k[2])))
    for k in keys:
        rs = [r for r in rows if (r.weights, r.dtype, r.mode) == k]
        slips = [r for r in rs if r.slip != "clean" and not r.verdict.startswith("no-op")]
        clean = [r for r in rs if r.slip == "clean"]
        cnt = collections.Counter(r.verdict for r in slips)
        print(f"  {k[0]:7} {k[1]:5} {k[2]:7}: right {cnt['right']}/{len(slips)}"
              f" (early {cnt['early']}, wrong {cnt['wrong']}, missed {cnt['missed']});"
              f" false jumps in {sum(r.verdict == 'false' for r in clean)}/{len(clean)} clean runs", file=out)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="the test's subset: fp32, outputs only, trained-like")
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--capture", action="store_true", help="what each model's dump holds (repeats, caches)")
    ap.add_argument("--keep", help="a folder to keep the dumps in (the last run B is b.h5)")
    a = ap.parse_args(argv)
    if transformers is None:
        print(f"transformers cannot be imported: {IMPORT_ERROR}")
        return 2
    models = tuple(a.models.split(","))
    print(f"transformers {transformers.__version__}, torch {torch.__version__}, tensordiff engine "
          f"{getattr(tensordiff, '__version__', '?')}")
    if a.capture:
        for m in models:
            for inputs in (False, True):
                c = capture_census(m, inputs=inputs)
                print(f"\n{m} (inputs={inputs}): {c['records']} records, {c['bytes']} bytes; "
                      f"{c['repeated_records']} records ({c['repeated_bytes']} bytes, "
                      f"{100 * c['repeated_bytes'] / max(c['bytes'], 1):.0f}%) repeat an earlier record's data")
                for first, again in list(c["groups"].items()):
                    print(f"    {first} = {', '.join(again)}")
                print(f"    {len(c['cache_names'])} records hold a KV cache (past_key_value(s), key_cache/value_cache)")
                print(f"    file: {c['file_bytes']} bytes with {c['aliased_records']} alias records, "
                      f"{c['file_bytes_without_aliases']} bytes with every copy written "
                      f"({100 * (1 - c['file_bytes'] / c['file_bytes_without_aliases']):.0f}% smaller)")
                for w in sorted(set(c["warnings"])):
                    print(f"    warning: {w}")
        return 0
    t0 = time.time()
    rows = run_cases(cases(a.quick, models), a.keep,
                     progress=lambda i, n, r: print(f"\r{i}/{n} {time.time() - t0:.0f}s", end="", file=sys.stderr))
    print(file=sys.stderr)
    print_table(rows)
    print_sizes(rows)
    summarize_rows(rows)
    print(f"\n{len(rows)} runs in {time.time() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
