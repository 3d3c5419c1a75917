#!/usr/bin/env python3
"""A synthetic msprobe statistics dump of N entries (issue 26: the dump.json listing at scale).

    python3 bench/msprobe_many_entries.py N OUT_DIR

writes OUT_DIR/a/dump.json and OUT_DIR/b/dump.json: N entries Functional.linear.I.forward, each
two float32 tensor inputs, a float argument and one output, with msprobe's statistics (Max, Min,
Mean, Norm); B's first Max is NaN (written bare, as Python's json does). Time and peak memory:

    /usr/bin/time -f "%e s %M KiB" build/tensordiff -q OUT_DIR/a OUT_DIR/b
"""
import json
import os
import random
import sys


def tensor(shape):
    return {"type": "torch.Tensor", "dtype": "torch.float32", "shape": shape, "Max": random.random(),
            "Min": -random.random(), "Mean": random.random() * 1e-3, "Norm": random.random() * 10,
            "requires_grad": False}


def main():
    n, out = int(sys.argv[1]), sys.argv[2]
    random.seed(1)
    data = {}
    for i in range(n):
        data[f"Functional.linear.{i}.forward"] = {
            "input_args": [tensor([4, 64]), tensor([64, 64]), {"type": "float", "value": 0.001}],
            "input_kwargs": {}, "output": [tensor([4, 64])]}
    for side in ("a", "b"):
        if side == "b":
            data["Functional.linear.0.forward"]["input_args"][0]["Max"] = float("nan")
        os.makedirs(f"{out}/{side}", exist_ok=True)
        with open(f"{out}/{side}/dump.json", "w") as f:
            json.dump({"task": "statistics", "level": "L1", "framework": "pytorch", "dump_data_dir": None,
                       "data": data}, f)


if __name__ == "__main__":
    main()
