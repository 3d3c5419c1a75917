#!/usr/bin/env python3
"""The GPU kernel's static proxy (issue 24), measured without a GPU.

Reads the sm_90 SASS of the chunk kernels (kernels/leaf_kernel.cu's object) with cuobjdump and
prints, per kernel: its size in instructions, the instructions of its leaf loop (the loop that
loads a leaf of both sides and reduces it: every element pair of a chunk passes through it), and
the registers and stack it needs, and the local-memory loads and stores (spills, arrays the
compiler could not keep in registers) in its leaf loop. The leaf loop holds 8 element pairs per
lane, so its static size over 8 is an upper bound on the instructions a lane issues per element
pair on that kernel's path (cold paths in the body count too; its inner loops are listed apart,
by their static size, since their trip counts are not in the binary).

  sass_proxy.py OBJECT [--arch sm_90] [--budget FILE] [--tools DIR]

--budget FILE: lines `KERNEL MAX_PER_PAIR MAX_INNER MAX_LOCAL` (the kernels by their short names
below): exit 1 when a kernel's leaf loop per element pair, its inner loops' size or its local
loads and stores exceed its line, or a named kernel is missing. cuobjdump and nvdisasm come from PyPI (nvidia-cuda-cuobjdump,
nvidia-cuda-nvdisasm; scripts/python-venv.sh installs them into build/venv) or from --tools.
"""
import argparse
import os
import re
import shutil
import subprocess
import sys

INSTR = re.compile(r"/\*([0-9a-f]{4,})\*/\s+(.*?)\s*;")
FUNC = re.compile(r"Function : (\S+)")
BRANCH = re.compile(r"^(?:@!?U?P\w+\s+)?BRA(?:\.\w+)*\s+(?:`\(\.L_x_\d+\)|0x([0-9a-f]+))")

# include/tensordiff/dtype.hpp's order; -1 (kAnyType): the dtypes are read at run time.
DTYPES = {"-1": "any", "0": "f64", "1": "f32", "2": "f16", "3": "bf16"}


def short_names(mangled):
    """mangled -> "leaf_groups<4,4,pair>" (c++filt's template arguments, DType names shortened)."""
    out = subprocess.run(["c++filt"], input="\n".join(mangled), capture_output=True, text=True,
                         check=True).stdout.splitlines()
    names = {}
    for m, d in zip(mangled, out):
        st = re.search(r"stages::(stage_\w+)\(", d)
        if st:  # bench/sass_stages.cu's probes: one stage of the float32 pair loop each
            names[m] = st.group(1)
            continue
        k = re.search(r"(leaf_groups\w*)<(.*?)>\(", d)
        if not k:
            continue
        args = [x.strip() for x in k.group(2).split(",")]
        # leaf_groups<EA, EB, PAIR, TA, TB>: element sizes, pair or side, the typed kernels' dtypes.
        args = ["pair" if x == "true" else "side" if x == "false" else x for x in args]
        if len(args) == 5:
            args = args[:3] + [DTYPES.get(args[3], args[3])] if args[3] == args[4] else args[:3] + [
                DTYPES.get(args[3], args[3]), DTYPES.get(args[4], args[4])]
        names[m] = k.group(1) + "<" + ",".join(args) + ">"
    return names


def tool(name: str, tools: str | None) -> str:
    cands = []
    if tools:
        cands.append(os.path.join(tools, name))
    here = os.path.dirname(os.path.abspath(__file__))
    for venv in (os.path.join(here, "..", "build", "venv"), os.environ.get("VIRTUAL_ENV", "")):
        if venv:
            for root, _dirs, files in os.walk(os.path.join(venv, "lib")):
                if name in files and root.endswith(os.path.join("cu13", "bin")):
                    cands.append(os.path.join(root, name))
    found = shutil.which(name)
    if found:
        cands.append(found)
    for c in cands:
        if os.access(c, os.X_OK):
            return c
    sys.exit(f"sass_proxy: {name} not found (pip install nvidia-cuda-cuobjdump nvidia-cuda-nvdisasm, "
             f"as scripts/python-venv.sh does, or give --tools)")


def functions(sass: str):
    """name -> [(address, instruction text)] in address order."""
    out, name = {}, None
    for line in sass.splitlines():
        f = FUNC.search(line)
        if f:
            name = f.group(1)
            out[name] = []
            continue
        m = INSTR.search(line)
        if name and m:
            out[name].append((int(m.group(1), 16), m.group(2).strip()))
    return out


def loops(code):
    """Back edges as (head, tail) address ranges, innermost first by size."""
    found = []
    for addr, text in code:
        m = BRANCH.match(text)
        if m and m.group(1):
            target = int(m.group(1), 16)
            if target <= addr:
                found.append((target, addr))
    return sorted(set(found), key=lambda r: r[1] - r[0])


def count(code, lo, hi):
    return sum(1 for a, t in code if lo <= a <= hi and not t.startswith("NOP"))


def leaf_loop(code):
    """The smallest loop that holds the kernel's first global load (the leaf's data)."""
    first_load = next((a for a, t in code if re.search(r"\bLDG\b|\bLDG\.", t)), None)
    if first_load is None:
        return None, []
    ls = loops(code)
    outer = next(((h, t) for h, t in ls if h <= first_load <= t), None)
    if outer is None:
        return None, []
    inner = [(h, t) for h, t in ls if outer[0] <= h and t <= outer[1] and (h, t) != outer]
    # Only the outermost of the inner loops: nested ones are inside their sizes already.
    top = [r for r in inner if not any(o != r and o[0] <= r[0] and r[1] <= o[1] for o in inner)]
    return outer, top


def resources(obj: str, arch: str, cuobjdump: str):
    text = subprocess.run([cuobjdump, "-res-usage", "-arch", arch, obj], capture_output=True, text=True,
                          check=True).stdout
    res, name = {}, None
    for line in text.splitlines():
        f = re.search(r"Function (\S+):", line)
        if f:
            name = f.group(1)
            continue
        r = re.search(r"REG:(\d+) STACK:(\d+) SHARED:(\d+) LOCAL:(\d+)", line)
        if name and r:
            res[name] = tuple(int(x) for x in r.groups())
    return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("object")
    ap.add_argument("--arch", default="sm_90")
    ap.add_argument("--budget")
    ap.add_argument("--tools")
    ap.add_argument("--all", action="store_true", help="every leaf kernel, not only the budget's")
    a = ap.parse_args()
    cuobjdump = tool("cuobjdump", a.tools)
    nvdisasm = tool("nvdisasm", a.tools)
    env = dict(os.environ, PATH=os.path.dirname(nvdisasm) + os.pathsep + os.environ.get("PATH", ""))
    sass = subprocess.run([cuobjdump, "-sass", "-arch", a.arch, a.object], capture_output=True, text=True,
                          env=env, check=True).stdout
    fns = functions(sass)
    if not fns:
        sys.exit(f"sass_proxy: no {a.arch} code in {a.object}")
    res = resources(a.object, a.arch, cuobjdump)
    budget = {}
    if a.budget:
        for line in open(a.budget):
            line = line.split("#", 1)[0].split()
            if line:
                budget[line[0]] = (float(line[1]), int(line[2]), int(line[3]))
    rows, seen, bad = [], set(), []
    names = short_names(list(fns))
    for mangled, code in fns.items():
        name = names.get(mangled)
        if not name:
            continue
        if a.budget and not a.all and name not in budget:
            continue
        outer, inner = leaf_loop(code)
        total = count(code, 0, 1 << 62)
        body = count(code, *outer) if outer else 0
        inner_n = sum(count(code, *r) for r in inner)
        spill = sum(1 for ad, t in code if outer and outer[0] <= ad <= outer[1] and re.search(r"\b(LDL|STL)\b", t))
        reg, stack, _shared, _local = res.get(mangled, (0, 0, 0, 0))
        per_pair = body / 8
        rows.append((name, total, body, per_pair, len(inner), inner_n, reg, stack, spill))
        seen.add(name)
        if name in budget:
            lim, lim_inner, lim_local = budget[name]
            if per_pair > lim or inner_n > lim_inner or spill > lim_local:
                bad.append(f"{name}: {per_pair:.1f} instructions per element pair (budget {lim:g}), "
                           f"inner loops {inner_n} (budget {lim_inner}), local loads and stores {spill} "
                           f"(budget {lim_local})")
    print(f"{a.arch} SASS of {os.path.basename(a.object)} (cuobjdump {cuobjdump})")
    print(f"{'kernel':28} {'instr':>7} {'leaf loop':>9} {'per pair':>8} {'inner loops':>12} {'regs':>5} {'stack':>6} {'LDL/STL':>8}")
    for name, total, body, per_pair, n_in, inner_n, reg, stack, spill in sorted(rows):
        print(f"{name:28} {total:7d} {body:9d} {per_pair:8.1f} {f'{n_in}: {inner_n}':>12} {reg:5d} {stack:6d} {spill:8d}")
    for name in budget:
        if name not in seen:
            bad.append(f"{name}: not in {a.object}")
    f32 = [r for r in rows if r[0] == "leaf_groups<4,4,pair,f32>"]
    if f32:
        print(f"issue 24's target: at most 40 instructions per float32 pair; the leaf loop's static bound "
              f"is {f32[0][3]:.1f} (" + ("met" if f32[0][3] <= 40 else "not met") + ")")
    for b in bad:
        print("over budget:", b)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
