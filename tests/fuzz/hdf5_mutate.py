#!/usr/bin/python3
"""Mutation fuzzing of whole HDF5 files against the tensordiff CLI (issue 11).

Writes seed dumps with h5py (every layout and filter tensordiff reads: contiguous, chunked with
deflate/shuffle/fletcher32, compact, scalar, never-written, nested groups, attributes, links,
old and new file formats), then corrupts copies of them (bit flips, random bytes, integers set
to boundary values, truncation, duplicated blocks) and runs `tensordiff MUTANT SEED --json R`
and `tensordiff stats MUTANT` on each. A mutant passes when the CLI exits 0-3 within the time
limit with no sanitizer report, leaves the input unchanged and, on exit 2, says why in one
line per failing file or tensor. Failing mutants are kept in --out with their stderr.

Usage: tests/fuzz/hdf5_mutate.py --bin build/tensordiff --count 3000 [--seed 1] [--out DIR]
"""
import argparse
import collections
import hashlib
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time

import h5py
import numpy as np


def write_seeds(d):
    rng = np.random.default_rng(0)
    seeds = []

    def new(name, **kw):
        p = os.path.join(d, name)
        seeds.append(p)
        return h5py.File(p, "w", **kw)

    with new("contiguous.h5") as f:
        f["embed/weight"] = rng.standard_normal((16, 8)).astype(np.float32)
        f["layers.0/act"] = rng.standard_normal(100).astype(np.float16)
        f["layers.0/act"].attrs["order"] = 1
        f["layers.0/act"].attrs["source"] = "model.py:12"
        f["count"] = np.arange(10, dtype=np.int64)
        f["flag"] = np.array([True, False, True])
        f["scalar"] = np.float64(2.5)
    with new("chunked.h5") as f:
        x = rng.standard_normal((33, 17)).astype(np.float32)
        f.create_dataset("gz", data=x, chunks=(8, 5), compression="gzip", shuffle=True, fletcher32=True)
        f.create_dataset("plain", data=x.astype(np.float64), chunks=(16, 16))
        f.create_dataset("sparse", shape=(1000,), dtype=np.float32, chunks=(100,), fillvalue=1.5)
        f["sparse"][200:300] = 3.0
        f.create_dataset("never", shape=(1 << 20,), dtype=np.float16, chunks=(4096,))
        bf = f.create_dataset("bf16", data=rng.integers(0, 65535, 64, dtype=np.uint16), chunks=(16,),
                              compression="gzip")
        bf.attrs["dtype"] = "bfloat16"
    with new("latest.h5", libver="latest", track_order=True) as f:
        g = f.create_group("model/blocks.0", track_order=True)
        g.create_dataset("out", data=rng.standard_normal((4, 4, 4)).astype(np.float32),
                         chunks=(2, 2, 4), compression="gzip")
        dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
        dcpl.set_layout(h5py.h5d.COMPACT)
        sp = h5py.h5s.create_simple((6,))
        ds = h5py.h5d.create(f.id, b"compact", h5py.h5t.NATIVE_FLOAT, sp, dcpl=dcpl)
        ds.write(h5py.h5s.ALL, h5py.h5s.ALL, np.arange(6, dtype=np.float32))
        f["soft"] = h5py.SoftLink("/model/blocks.0/out")
        f["ext"] = h5py.ExternalLink("other.h5", "/x")
        f.attrs["framework"] = "torch"
    with new("many.h5") as f:
        for i in range(40):
            f[f"layers.{i}/w"] = rng.standard_normal(32).astype(np.float32)
    return seeds


INTERESTING = [0, 1, 0x7F, 0x80, 0xFF, 0x7FFF, 0xFFFF, 0x7FFFFFFF, 0xFFFFFFFF, 1 << 32,
               (1 << 63) - 1, (1 << 64) - 1, 1 << 40]


def mutate(data, rng):
    b = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        op = rng.random()
        if not b:
            break
        pos = rng.randrange(len(b))
        if op < 0.35:
            b[pos] ^= 1 << rng.randrange(8)
        elif op < 0.55:
            b[pos] = rng.randrange(256)
        elif op < 0.8:
            width = rng.choice([2, 4, 8])
            v = rng.choice(INTERESTING) + rng.choice([-1, 0, 0, 1])
            b[pos:pos + width] = (v % (1 << (8 * width))).to_bytes(width, "little")
        elif op < 0.9:
            src = rng.randrange(len(b))
            n = rng.randint(1, 64)
            b[pos:pos + n] = b[src:src + n]
        else:
            del b[rng.randrange(len(b) // 2, len(b)):]  # truncated
    return bytes(b)


def contained_sanitizer_report(err):
    """A sanitizer report from inside libhdf5 in the helper process (an instrumented build
    intercepts libhdf5's memcpy): the fault the helper exists to contain, when the engine then
    gave its own error line. Anything else from a sanitizer is a bug of ours."""
    frames = [l for l in err.splitlines() if l.strip().startswith("#")]
    first = next((l for l in frames if "__interceptor_" not in l and "__asan_" not in l), "")
    lines = [l for l in err.splitlines() if l.strip()]
    return "libhdf5" in first and "run_hdf5_helper" in err and lines[-1].startswith("tensordiff: ")


def run(cmd, timeout):
    # libhdf5 loops forever on some corrupt metadata; the engine gives its helper
    # TENSORDIFF_HDF5_TIMEOUT seconds (120 by default), here a few so that the run goes on.
    env = dict(os.environ, TENSORDIFF_HDF5_TIMEOUT=os.environ.get("TENSORDIFF_HDF5_TIMEOUT", "5"))
    t = time.monotonic()
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, errors="replace", timeout=timeout, env=env)
        return p.returncode, p.stderr, time.monotonic() - t
    except subprocess.TimeoutExpired:
        return "hang", "", timeout


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--count", type=int, default=300)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--timeout", type=float, default=30)
    ap.add_argument("--out", default=None, help="keep failing mutants here")
    a = ap.parse_args()
    rng = random.Random(a.seed)
    work = tempfile.mkdtemp(prefix="td-mutate-")
    seeds = write_seeds(work)
    blobs = {s: open(s, "rb").read() for s in seeds}
    codes, failures, slowest = collections.Counter(), [], 0.0
    helper_crashes = helper_timeouts = contained = 0
    mut, report = os.path.join(work, "mutant.h5"), os.path.join(work, "r.json")
    t0 = time.monotonic()
    for i in range(a.count):
        seed = rng.choice(seeds)
        data = mutate(blobs[seed], rng)
        with open(mut, "wb") as f:
            f.write(data)
        digest = hashlib.sha256(data).digest()
        for cmd in ([a.bin, mut, seed, "--json", report, "-q"], [a.bin, "stats", mut, "-q"]):
            rc, err, secs = run(cmd, a.timeout)
            slowest = max(slowest, secs)
            codes[rc] += 1
            helper_crashes += "libhdf5 crashed" in err
            helper_timeouts += "libhdf5 did not answer" in err
            why = None
            if rc == "hang":
                why = f"no exit in {a.timeout:.0f} s"
            elif rc not in (0, 1, 2, 3):
                why = f"exit status {rc}"
            elif ("Sanitizer" in err or "runtime error:" in err) and contained_sanitizer_report(err):
                contained += 1
            elif "Sanitizer" in err or "runtime error:" in err:
                why = "sanitizer report"
            elif rc == 2 and not err.strip():
                why = "exit 2 without an error line"
            elif any(not l.startswith("tensordiff: ") for l in err.splitlines() if l.strip()):
                why = "stderr lines that are not tensordiff's error lines"
            if hashlib.sha256(open(mut, "rb").read()).digest() != digest:
                why = "the input was modified"
            if why:
                failures.append((i, os.path.basename(seed), " ".join(cmd[1:3]), why, err[-2000:]))
                if a.out:
                    os.makedirs(a.out, exist_ok=True)
                    keep = os.path.join(a.out, f"mutant-{i}-{os.path.basename(seed)}")
                    shutil.copy(mut, keep)
                    with open(keep + ".txt", "w") as f:
                        f.write(f"{' '.join(cmd)}\n{why}\n{err}")
    total = time.monotonic() - t0
    print(f"hdf5_mutate: {a.count} mutants of {len(seeds)} seeds, {2 * a.count} runs in {total:.0f} s "
          f"(slowest {slowest:.2f} s); exit codes {dict(sorted(codes.items(), key=str))}; "
          f"libhdf5 crashes / endless loops / sanitizer reports contained in the helper: {helper_crashes} / "
          f"{helper_timeouts} / {contained}; "
          f"failures: {len(failures)}")
    for i, seed, cmd, why, err in failures[:20]:
        print(f"  mutant {i} of {seed}: {why}\n    {err.strip()[:600]}")
    shutil.rmtree(work, ignore_errors=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
