"""tensordiff: record tensors from a running program, compare two runs, find where they part.

    import tensordiff
    with tensordiff.Recorder("run_a.h5"), tensordiff.hook_module(model):
        model(x)
    ...  # the same for run B
    report = tensordiff.compare("run_a.h5", "run_b.h5")
    report["summary"]["first_divergence"]
    print(report)  # the command line's table; in a notebook, `report` shows it as HTML

    # in a test: raises AssertionError with that table unless every pair matches
    tensordiff.assert_close("run_a.h5", "run_b.h5", precision="bf16")

    # or: run B checks itself against run A as it goes, and stops where it parts from it
    with tensordiff.Recorder(reference="run_a.h5"), tensordiff.hook_module(model):
        model(x)  # raises tensordiff.Divergence at the first tensor that differs

`python -m tensordiff A B` is the command line. help(tensordiff.NAME) shows each name's
options, return value and an example.
"""
from .assertions import assert_close
from .checksum import checksum
from .compare import TensordiffError, compare, compare_arrays, find_binary, stats
from .hooks import hook_module
from .recorder import Divergence, Recorder, current, save
from .replay import replay
from .report import Report
from .summary import summarize
from .watch import watch

__all__ = ["Recorder", "Divergence", "watch", "hook_module", "save", "compare", "compare_arrays",
           "assert_close", "Report", "stats", "checksum", "summarize", "current", "find_binary", "replay",
           "TensordiffError"]
__version__ = "0.1.0"
