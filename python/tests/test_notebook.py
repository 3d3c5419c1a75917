"""Issue 25 item 2: a report in a real notebook. A notebook is executed in an IPython kernel
(nbclient, ipykernel and nbformat from PyPI, installed by scripts/python-venv.sh) and its
outputs are checked: the report's HTML holds the summary and the divergence row, marked; its
text is the engine's table; print() prints that table; to_pandas() gives a DataFrame."""
import os
import re

import pytest

nbformat = pytest.importorskip("nbformat", reason="nbformat could not be installed (scripts/python-venv.sh)")
nbclient = pytest.importorskip("nbclient", reason="nbclient could not be installed (scripts/python-venv.sh)")
pytest.importorskip("ipykernel", reason="ipykernel could not be installed (scripts/python-venv.sh)")

PYTHON_DIR = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
TESTS_DIR = os.path.dirname(os.path.abspath(__file__))

CELLS = [
    # the kernel is a fresh process: the package from this tree, the engine from $TENSORDIFF_ENGINE
    f"import sys; sys.path[:0] = [{PYTHON_DIR!r}, {TESTS_DIR!r}]",
    "import numpy as np, tensordiff\n"
    "from test_report_object import two_slips\n"
    "a, b = two_slips()\n"
    "report = tensordiff.compare_arrays(a, b)\n"
    "report",
    "print(report)",
    "report.to_pandas()[['name', 'status', 'rel_l2', 'jump', 'divergence']].head(3)",
]


def output(cell, mime):
    for o in cell["outputs"]:
        if o["output_type"] in ("execute_result", "display_data") and mime in o["data"]:
            return o["data"][mime]
        if mime == "stream" and o["output_type"] == "stream":
            return o["text"]
    raise AssertionError(f"no {mime} output in {cell['outputs']}")


def test_a_report_renders_in_a_notebook_kernel(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(src) for src in CELLS]
    client = nbclient.NotebookClient(nb, timeout=180, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    nbformat.validate(nb)
    nbformat.write(nb, str(tmp_path / "report.ipynb"))  # kept for a person to open

    page = output(nb.cells[1], "text/html")
    assert page.startswith('<div class="tensordiff-report">') and "<script" not in page
    assert "first divergence: blocks.2.act (order 2)" in page and "1 more jump (*): blocks.5.act" in page
    row = re.search(r'<tr class="divergence jump" data-mark="divergence jump"[^>]*>(.*?)</tr>', page)
    assert row and "<td class=\"l\">blocks.2.act</td>" in row.group(1) and "&gt;*" in row.group(1), page
    assert re.search(r'<tr class="jump" data-mark="jump"[^>]*>.*?blocks\.5\.act', page)
    assert "<img" not in page

    text = output(nb.cells[1], "text/plain")  # IPython's text: the engine's table, as a terminal shows it
    assert re.search(r"^>\*\s+2\s+blocks\.2\.act\s.*DIFF$", text, re.M), text
    assert re.search(r"^ \*\s+5\s+blocks\.5\.act\s.*DIFF$", text, re.M)
    printed = output(nb.cells[2], "stream")
    assert printed.splitlines()[0].split() == ["#", "name", "dtype", "max|d|", "max", "rel", "rel", "L2", "cosine",
                                               "mismatched", "p99|d|", "growth", "status"]
    assert "first jump: blocks.2.act (order 2)" in printed

    frame = output(nb.cells[3], "text/html")  # pandas' own HTML of to_pandas()
    assert "<table" in frame and "blocks.2.act" in frame and "divergence" in frame
