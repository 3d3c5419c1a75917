#!/usr/bin/env python3
"""What a user writes instead of tensordiff on a GPU (issue 24, gpu_check (c)): docs/design.md
§4's fields of a tensor pair in plain torch, on whatever device the tensors are on: counts,
extremes, mean/std/L2, magnitude and error histograms, max |d| and max relative error with their
first indices, mean |d|, RMSE, rel L2, cosine, mismatches (NaN and inf rules), bits that differ,
largest ULP distance, and the checksum. python/tests/test_torch_fields.py holds it to the
engine's report on the CPU, so that a timing of it is a timing of the same work.

  torch_fields.py [--device cuda] [--mib 1024] [--dtype float32|bfloat16|float16] [--repeats 10]

prints the median time of pair_fields on two resident tensors of MIB MiB each and GB/s of input.
"""
from __future__ import annotations

import argparse
import math
import statistics
import time

import torch

MIN_EXP, MAX_EXP = -40, 40
_BITS = {torch.float32: torch.int32, torch.bfloat16: torch.int16, torch.float16: torch.int16,
         torch.float64: torch.int64}


def _u64(x: int) -> int:
    """An unsigned 64-bit constant as the int64 torch holds it."""
    return x - (1 << 64) if x >= 1 << 63 else x


def _shr(x: torch.Tensor, s: int) -> torch.Tensor:
    """Logical right shift of int64 words (torch's >> is arithmetic)."""
    return (x >> s) & ((1 << (64 - s)) - 1)


def _mix(x: torch.Tensor) -> torch.Tensor:
    x = x ^ _shr(x, 30)
    x = x * _u64(0xBF58476D1CE4E5B9)
    x = x ^ _shr(x, 27)
    x = x * _u64(0x94D049BB133111EB)
    return x ^ _shr(x, 31)


def checksum(t: torch.Tensor) -> str:
    """§4's checksum of the tensor's little-endian bytes (int64 arithmetic wraps mod 2^64)."""
    raw = t.contiguous().view(-1).view(torch.uint8)
    nbytes = raw.numel()
    pad = (-nbytes) % 8
    if pad:
        raw = torch.cat([raw, torch.zeros(pad, dtype=torch.uint8, device=raw.device)])
    words = raw.view(torch.int64)
    j = torch.arange(1, words.numel() + 1, dtype=torch.int64, device=raw.device)
    h = _mix(words + j * _u64(0x9E3779B97F4A7C15)).sum()
    h = _mix(h ^ nbytes)
    return f"{int(h.item()) & ((1 << 64) - 1):016x}"


def exp_hist(mag: torch.Tensor) -> dict:
    """|x| (finite, float64) binned by binary exponent, as the report's mag_hist/err_hist."""
    zero = int((mag == 0).sum())
    nz = mag[mag != 0]
    _, e = torch.frexp(nz)
    exp = e.to(torch.int64) - 1  # 2^exp <= |x| < 2^(exp+1)
    inner = (exp >= MIN_EXP) & (exp <= MAX_EXP)
    counts = torch.bincount(exp[inner] - MIN_EXP, minlength=MAX_EXP - MIN_EXP + 1).tolist()
    return {"zero": zero, "underflow": int((exp < MIN_EXP).sum()), "min_exp": MIN_EXP, "max_exp": MAX_EXP,
            "exp": {str(MIN_EXP + i): c for i, c in enumerate(counts) if c}, "overflow": int((exp > MAX_EXP).sum())}


def side_fields(t: torch.Tensor) -> dict:
    v = t.reshape(-1).to(torch.float64)
    fin = torch.isfinite(v)
    f = v[fin]
    out = {"count": v.numel(), "nonzero": int(((v != 0) | torch.isnan(v)).sum()), "nan": int(torch.isnan(v).sum()),
           "pos_inf": int((v == math.inf).sum()), "neg_inf": int((v == -math.inf).sum())}
    if f.numel():
        out.update(min=float(f.min()), max=float(f.max()), mean=float(f.mean()),
                   std=float(f.std(unbiased=False)), l2=float(torch.sqrt((f * f).sum())))
    else:
        out.update(min=None, max=None, mean=None, std=None, l2=None)
    out["mag_hist"] = exp_hist(f.abs())
    out["checksum"] = checksum(t)
    return out


def _first_max(x: torch.Tensor) -> tuple[float, int]:
    """The largest value and the smallest index that holds it."""
    m = x.max()
    return float(m), int(torch.nonzero(x == m)[0, 0])


def _ulp(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Sign-magnitude ULP distance of two same-dtype float tensors' bits, as int64."""
    it = _BITS[a.dtype]
    width = torch.finfo(a.dtype).bits
    xa, xb = a.view(it).to(torch.int64), b.view(it).to(torch.int64)
    mask = (1 << (width - 1)) - 1
    ma, mb = xa & mask, xb & mask
    sign_differs = (xa ^ xb) & (1 << (width - 1)) != 0 if width < 64 else (xa ^ xb) < 0
    return torch.where(sign_differs, ma + mb, (ma - mb).abs())


def pair_fields(a: torch.Tensor, b: torch.Tensor, rtol: float, atol: float, equal_nan: bool = True) -> dict:
    """Both sides' fields and the diff's, for tensors of one shape (any device)."""
    x, y = a.reshape(-1).to(torch.float64), b.reshape(-1).to(torch.float64)
    fx, fy = torch.isfinite(x), torch.isfinite(y)
    F = fx & fy
    nx, ny = torch.isnan(x), torch.isnan(y)
    nan_bad = (nx != ny) | (nx & ny & (not equal_nan))
    inf_pair = ~F & ~nx & ~ny
    inf_bad = inf_pair & (x != y)
    d = (y - x)[F]
    ad = d.abs()
    xa = x[F]
    close = torch.zeros_like(x, dtype=torch.bool)
    close[F] = ad <= atol + rtol * xa.abs()
    equal = close | (inf_pair & ~inf_bad) | (nx & ny & equal_nan)
    diff = {"count": x.numel(), "finite_pairs": int(F.sum()), "mismatches": int((~equal).sum()),
            "nan_mismatch": int(nan_bad.sum()), "inf_mismatch": int(inf_bad.sum())}
    idx = torch.nonzero(F).reshape(-1)
    if d.numel():
        m, k = _first_max(ad)
        diff["max_abs"], diff["max_abs_flat"] = m, int(idx[k])
        rel = torch.where(ad == 0, torch.zeros_like(ad), ad / xa.abs())
        m, k = _first_max(rel)
        diff["max_rel"], diff["max_rel_flat"] = m, int(idx[k])
        n = d.numel()
        s_aa, s_bb, s_ab, s_dd = (xa * xa).sum(), (y[F] * y[F]).sum(), (xa * y[F]).sum(), (d * d).sum()
        diff["mean_abs"] = float(ad.sum() / n)
        diff["rmse"] = float(torch.sqrt(s_dd / n))
        na, nb = float(torch.sqrt(s_aa)), float(torch.sqrt(s_bb))
        diff["rel_l2"] = (0.0 if s_dd == 0 else math.inf) if na == 0 else float(torch.sqrt(s_dd)) / na
        diff["cosine"] = (1.0 if na == nb == 0 else 0.0) if na == 0 or nb == 0 else max(-1.0, min(1.0, float(s_ab) / (na * nb)))
    diff["err_hist"] = exp_hist(ad)
    if a.dtype == b.dtype and a.dtype in _BITS:
        ia, ib = a.reshape(-1).view(_BITS[a.dtype]), b.reshape(-1).view(_BITS[a.dtype])
        diff["bits_differ"] = int((ia != ib).sum())
        diff["max_ulp"] = int(_ulp(a.reshape(-1)[F], b.reshape(-1)[F]).max()) if d.numel() else 0
    return {"a": side_fields(a), "b": side_fields(b), "diff": diff}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--mib", type=int, default=1024)
    ap.add_argument("--dtype", default="float32", choices=["float32", "bfloat16", "float16"])
    ap.add_argument("--repeats", type=int, default=10)
    args = ap.parse_args()
    dt = getattr(torch, args.dtype)
    n = args.mib * (1 << 20) // torch.finfo(dt).bits * 8
    g = torch.Generator(device=args.device).manual_seed(1)
    a = torch.randn(n, generator=g, device=args.device, dtype=torch.float32).to(dt)
    b = (a.float() * (1 + 1e-3 * torch.randn(n, generator=g, device=args.device))).to(dt)
    sync = torch.cuda.synchronize if a.is_cuda else (lambda: None)
    pair_fields(a, b, 1.3e-6, 1e-5)  # warm-up
    times = []
    for _ in range(args.repeats):
        sync()
        t0 = time.perf_counter()
        pair_fields(a, b, 1.3e-6, 1e-5)
        sync()
        times.append(time.perf_counter() - t0)
    med = statistics.median(times)
    print(f"torch fields ({args.device}, {args.dtype}, 2 x {args.mib} MiB): {med * 1e3:.2f} ms median of "
          f"{args.repeats}, {2 * args.mib * (1 << 20) / med / 1e9:.1f} GB/s of input")


if __name__ == "__main__":
    main()
