"""Issue 25 item 1: every public name documents its options, return value and an example
(help() shows them), and arguments of the wrong kind are TypeErrors naming the argument and what
it accepts, raised before they reach os.fspath, numpy or the engine."""
import inspect
import pydoc
import re

import numpy as np
import pytest
import torch

import tensordiff


def sections(doc: str) -> dict:
    """Heading ("Returns", "Example", ...: a line of its own ending in ':') -> the text under it."""
    out, current = {}, None
    for line in doc.splitlines():
        m = re.match(r"^\s*([A-Z][A-Za-z ]*?)(?: \(.*\))?:\s*(.*)$", line)
        if m and (m.group(2) == "" or m.group(1) in ("Arguments", "Returns")):
            current = m.group(1)
            out[current] = m.group(2)
        elif current:
            out[current] += "\n" + line
    return out


def parameters(obj):
    try:
        sig = inspect.signature(obj)
    except (TypeError, ValueError):  # exceptions' built-in constructors: no signature to check
        return None
    return [p for p in sig.parameters if p != "self"]


@pytest.mark.parametrize("name", tensordiff.__all__)
def test_every_public_name_documents_its_options_return_and_an_example(name):
    obj = getattr(tensordiff, name)
    doc = inspect.getdoc(obj)
    assert doc and len(doc.splitlines()) >= 8, f"{name}: no docstring, or one line"
    s = sections(doc)
    assert "Example" in s and f"tensordiff.{name}" in s["Example"] and ">>>" in s["Example"], \
        f"{name}: no example using it"
    if inspect.isclass(obj):
        assert "Attributes" in s or "Methods" in s, f"{name}: a class documents its attributes or methods"
    else:
        assert "Returns" in s and s["Returns"].strip(), f"{name}: no return value"
    params = parameters(obj)
    if params:
        assert "Arguments" in s or "Options" in s, f"{name}: no arguments or options section"
        for p in params:  # every argument and option is explained
            assert re.search(rf"\b{p}\b", doc), f"{name}: argument {p!r} not documented"
    elif params is not None:
        assert "Arguments: none" in doc, name
    # help() shows it: pydoc renders the docstring with its example
    rendered = pydoc.render_doc(obj, renderer=pydoc.plaintext)
    assert f"tensordiff.{name}" in rendered and "Example" in rendered


def test_report_methods_are_documented():
    for method in ("table", "to_pandas"):
        doc = inspect.getdoc(getattr(tensordiff.Report, method))
        assert {"Returns", "Example"} <= set(sections(doc)), method


class Net(torch.nn.Module):
    def forward(self, x):
        return x


x = np.ones(3, np.float32)
WRONG = [
    (lambda: tensordiff.compare(x, "b.h5"),
     r"compare\(\) argument 'a' must be a file path \(str or os.PathLike\), not numpy.ndarray \(arrays\? "
     r"tensordiff.compare_arrays"),
    (lambda: tensordiff.compare("a.h5", None), r"compare\(\) argument 'b' must be a file path.*not None"),
    (lambda: tensordiff.compare("a.h5", "b.h5", 7), r"compare\(\) argument 'tensors' must be a str, not int"),
    (lambda: tensordiff.compare_arrays(None, x), r"compare_arrays\(\) argument 'a' must be an array or tensor "
                                                r"\(numpy, torch.*or a dict of name -> array, not None"),
    (lambda: tensordiff.compare_arrays(x, "b.h5"),
     r"compare_arrays\(\) argument 'b' must be .*not str \(a dump path\?"),
    (lambda: tensordiff.compare_arrays(x, {"h": object()}),
     r"compare_arrays\(\) argument \"b\['h'\]\" must be an array"),
    (lambda: tensordiff.compare_arrays({1: x}, {1: x}), r"compare_arrays\(\) argument 'a': a dict's keys are tensor "
                                                        r"names \(str\), not int"),
    (lambda: tensordiff.compare_arrays(x, x, name=3), r"compare_arrays\(\) argument 'name' must be a str, not int"),
    (lambda: tensordiff.compare_arrays([object()], x), r"compare_arrays\(\) argument 'a' must be an array"),
    (lambda: tensordiff.stats(None), r"stats\(\) argument 'x' must be an array or tensor.*not None"),
    (lambda: tensordiff.assert_close(None, x), r"assert_close\(\) argument 'a' must be an array.*not None"),
    (lambda: tensordiff.assert_close(x, "b.h5"), r"assert_close\(\) argument 'a' must be a dump path like 'b'"),
    (lambda: tensordiff.hook_module(42), r"hook_module\(\) argument 'model' must be a torch.nn.Module, a "
                                         r"mindspore.nn.Cell or a flax.linen.Module, not int"),
    (lambda: tensordiff.hook_module(Net(), prefix=1), r"hook_module\(\) argument 'prefix' must be a str, not int"),
    (lambda: tensordiff.Recorder(path=3), r"Recorder\(\) argument 'path' must be a file path \(str or "
                                          r"os.PathLike\) or None, not int"),
    (lambda: tensordiff.Recorder(reference=x), r"Recorder\(\) argument 'reference' must be a file path.*numpy.ndarray"),
    (lambda: tensordiff.Recorder("a.h5", filter=3), r"Recorder\(\) argument 'filter' must be a glob"),
    (lambda: tensordiff.Recorder("a.h5", max_bytes="1G"), r"Recorder\(\) argument 'max_bytes' must be an int"),
    (lambda: tensordiff.watch(42), r"watch\(\) argument 'names' must be a str, not int"),
    (lambda: tensordiff.watch(lambda h: h), r"watch\(\) takes the names of the variables.*not the function itself"),
    (lambda: tensordiff.save(3, x), r"save\(\) argument 'name' must be a str, not int"),
    (lambda: tensordiff.save("h", None), r"save\(\) argument 'value' must be an array.*not None"),
    (lambda: tensordiff.summarize("h"), r"summarize\(\) argument 'arr' must be an array.*not str"),
    (lambda: tensordiff.checksum(None), r"checksum\(\) argument 'a' must be an array.*not None"),
    (lambda: tensordiff.replay(42, "a.h5"), r"replay\(\) argument 'model' must be a torch.nn.Module, not int"),
    (lambda: tensordiff.replay(Net(), 3), r"replay\(\) argument 'reference' must be a file path.*not int"),
]


@pytest.mark.parametrize("call,message", WRONG, ids=[m.split("\\(")[0] + str(i) for i, (_, m) in enumerate(WRONG)])
def test_wrong_argument_types_are_type_errors_that_say_what_is_accepted(call, message):
    with pytest.raises(TypeError, match=message):
        call()


def test_right_types_still_work(tmp_path):
    """The checks let through what worked before: PathLike paths, lists of numbers, Python
    numbers, torch tensors, dicts of them."""
    p = tmp_path / "a.h5"
    with tensordiff.Recorder(p, filter=["h*"]):
        assert tensordiff.save("h", torch.ones(3)) and tensordiff.save("h2", 1.5)
        assert not tensordiff.save("other", [1, 2])
    assert tensordiff.compare(p, p)["exit_code"] == 0
    assert tensordiff.compare_arrays([1.0, 2.0], (1.0, 2.0))["exit_code"] == 0
    assert tensordiff.stats({"t": torch.arange(4)})["tensors"][0]["count"] == 4
    assert tensordiff.summarize(2.5)["max"] == 2.5 and len(tensordiff.checksum([1, 2])) == 16
