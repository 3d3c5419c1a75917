"""tensordiff: record tensors from a running program, compare two runs, find where they part.

    import tensordiff
    with tensordiff.Recorder("run_a.h5"), tensordiff.hook_module(model):
        model(x)
    ...  # the same for run B
    report = tensordiff.compare("run_a.h5", "run_b.h5")
    report["summary"]["first_divergence"]
"""
from .checksum import checksum
from .compare import TensordiffError, compare, find_binary
from .hooks import hook_module
from .recorder import Recorder, current, save
from .summary import summarize
from .watch import watch

__all__ = ["Recorder", "watch", "hook_module", "save", "compare", "checksum", "summarize",
           "current", "find_binary", "TensordiffError"]
__version__ = "0.1.0"
