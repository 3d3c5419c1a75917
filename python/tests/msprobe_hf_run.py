"""One training step of a Hugging Face transformers model (random-initialised small config, no
download) dumped by msprobe's own dumper at module level (L0), for the module replay of issue 23:
GPT-2 (LayerNorm, tanh GELU), LLaMA (RMSNorm, SiLU), Gemma (RMSNorm scaling by 1 + weight),
BERT (LayerNorm eps 1e-12, erf GELU).

    python msprobe_hf_run.py MODEL OUT_DIR SLIP PRECISION [LOSS_SCALE]

SLIP: clean; eps (layer 2's first norm: eps x100 and at least 1e-5, torch's default, as a port
with another framework's default makes it); gelu (layer 2's activation: GELU's other formula, where the model's activation is a
torch GELU). PRECISION: fp32, amp (bf16 autocast on the CPU), bf16 (the model cast to bfloat16) or fp16sim
(float16 at module boundaries: torch 1.13 has no float16 kernels on the CPU). LOSS_SCALE
(optional, default 1): the loss is multiplied by it before backward, as a loss scaler does. Run in msprobe's interpreter
with transformers importable (msprobe patches torch's functions while it dumps)."""
import contextlib
import json
import sys

import torch
import transformers
from msprobe.pytorch import PrecisionDebugger

LAYERS, WIDTH, SEQ, BATCH, VOCAB = 4, 64, 16, 4, 128


def model(name):
    if name == "gpt2":
        cfg = transformers.GPT2Config(n_layer=LAYERS, n_embd=WIDTH, n_head=4, vocab_size=VOCAB, n_positions=SEQ,
                                      resid_pdrop=0, embd_pdrop=0, attn_pdrop=0)
        return transformers.GPT2LMHeadModel(cfg)
    if name == "gemma":  # RMSNorm scaling by 1 + weight
        cfg = transformers.GemmaConfig(num_hidden_layers=LAYERS, hidden_size=WIDTH, intermediate_size=2 * WIDTH,
                                       num_attention_heads=4, num_key_value_heads=2, head_dim=16, vocab_size=VOCAB,
                                       max_position_embeddings=SEQ)
        return transformers.GemmaForCausalLM(cfg)
    if name == "llama":
        cfg = transformers.LlamaConfig(num_hidden_layers=LAYERS, hidden_size=WIDTH, intermediate_size=2 * WIDTH,
                                       num_attention_heads=4, num_key_value_heads=2, vocab_size=VOCAB,
                                       max_position_embeddings=SEQ)
        return transformers.LlamaForCausalLM(cfg)
    cfg = transformers.BertConfig(num_hidden_layers=LAYERS, hidden_size=WIDTH, intermediate_size=2 * WIDTH,
                                  num_attention_heads=4, vocab_size=VOCAB, max_position_embeddings=SEQ,
                                  hidden_dropout_prob=0, attention_probs_dropout_prob=0)
    return transformers.BertForMaskedLM(cfg)


def slip_layer(net, name, slip):
    layer = {"gpt2": lambda: net.transformer.h[2], "llama": lambda: net.model.layers[2],
             "gemma": lambda: net.model.layers[2],
             "bert": lambda: net.bert.encoder.layer[2]}[name]()
    if name in ("gpt2", "bert"):  # the activation as a torch GELU on both sides, so a slip keeps its class name
        for blk in {"gpt2": lambda: net.transformer.h, "bert": lambda: net.bert.encoder.layer}[name]():
            mlp = blk.mlp if name == "gpt2" else blk.intermediate
            attr = "act" if name == "gpt2" else "intermediate_act_fn"
            setattr(mlp, attr, torch.nn.GELU(approximate="tanh" if name == "gpt2" else "none"))
    if slip == "eps":
        norm = {"gpt2": lambda: layer.ln_1, "llama": lambda: layer.input_layernorm,
                "gemma": lambda: layer.input_layernorm,
                "bert": lambda: layer.attention.output.LayerNorm}[name]()
        attr = "variance_epsilon" if hasattr(norm, "variance_epsilon") else "eps"
        setattr(norm, attr, max(100 * getattr(norm, attr), 1e-5))
    elif slip == "gelu":
        mlp = layer.mlp if name == "gpt2" else layer.intermediate
        attr = "act" if name == "gpt2" else "intermediate_act_fn"
        setattr(mlp, attr, torch.nn.GELU(approximate="none" if name == "gpt2" else "tanh"))


def fp16_at_module_boundaries(net):
    """float16 where torch 1.13's CPU has no float16 kernels: the weights rounded to float16,
    and every leaf module's output and input gradient rounded to float16 (subnormals and
    underflow included) as they cross the module's boundary; inside a module, float32."""
    half = lambda t: t.half().float() if isinstance(t, torch.Tensor) and t.is_floating_point() else t
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(half(p))
    for m in net.modules():
        if next(m.children(), None) is None:
            m.register_forward_hook(lambda mod, args, out: half(out) if isinstance(out, torch.Tensor) else out)
            m.register_full_backward_hook(lambda mod, gi, go: tuple(half(g) if g is not None else None for g in gi))


def main(name, out, slip, precision, loss_scale="1"):
    loss_scale = float(loss_scale)
    config = {"task": "tensor", "dump_path": out, "rank": [], "step": [], "level": "L0", "seed": 1234,
              "is_deterministic": False, "tensor": {"scope": [], "list": [], "data_mode": ["all"]}}
    with open(out + ".config.json", "w") as f:
        json.dump(config, f)
    torch.manual_seed(0)
    net = model(name)
    with torch.no_grad():  # trained-like norms, not the fresh 1 and 0
        for m in net.modules():
            if "Norm" in type(m).__name__ and getattr(m, "weight", None) is not None:
                m.weight.add_(0.1 * torch.randn(m.weight.shape))
                if getattr(m, "bias", None) is not None:
                    m.bias.add_(0.05 * torch.randn(m.bias.shape))
    slip_layer(net, name, slip)
    if precision == "bf16":
        net = net.to(torch.bfloat16)
    if precision == "fp16sim":
        fp16_at_module_boundaries(net)
    net.train()
    ids = torch.randint(0, VOCAB, (BATCH, SEQ), generator=torch.Generator().manual_seed(1))
    debugger = PrecisionDebugger(config_path=out + ".config.json")
    debugger.start(net)
    amp = torch.autocast("cpu", dtype=torch.bfloat16) if precision == "amp" else contextlib.nullcontext()
    with amp:
        logits = net(input_ids=ids).logits
    loss = torch.nn.functional.cross_entropy(logits.float().reshape(-1, VOCAB), ids.reshape(-1))
    (loss * loss_scale).backward()
    debugger.stop()
    debugger.step()


if __name__ == "__main__":
    main(*sys.argv[1:6])
