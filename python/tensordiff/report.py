"""The report compare(), compare_arrays(), stats() and Recorder.report() return: the dict of
`--json` (plus "exit_code"), as a dict subclass that also prints the command line's table,
renders itself in a notebook and becomes a pandas DataFrame.

The table is the engine's (src/report/table_report.cpp, through the `_engine` module's
Result.table): the same text `tensordiff A B` prints into a pipe, never a second formatter in
Python. It is laid out from the engine's report as it was returned; editing the dict does not
change it.
"""
from __future__ import annotations

import copy
import math

from . import notebook_html

# `tensors` entries' scalar fields, and their diff's, as DataFrame columns.
_PAIR_FIELDS = ("order", "name", "name_b", "status", "dtype_a", "dtype_b", "shape_a", "shape_b", "growth",
                "scale", "shift", "jump", "reason")
_DIFF_FIELDS = ("count", "max_abs", "max_rel", "mean_abs", "rmse", "rel_l2", "cosine", "mismatches",
                "mismatch_fraction", "nan_mismatch", "inf_mismatch", "bits_differ", "max_ulp")
_SIDE_FIELDS = ("count", "nonzero", "nan", "pos_inf", "neg_inf", "min", "max", "mean", "std", "l2", "checksum")
# Non-finite numbers are strings in the report, as in the JSON (docs/design.md §8).
_NONFINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


def _number(v):
    return _NONFINITE.get(v, v) if isinstance(v, str) else v


class Report(dict):
    """A tensordiff report: the dict of the command line's `--json` plus "exit_code", with the
    command line's table, a notebook view and a DataFrame.

    It is a dict (``report["summary"]["first_divergence"]``, ``report["tensors"]``, json.dumps,
    ``==`` with a dict all work as before); compare(), compare_arrays(), stats(),
    Recorder.report() and assert_close() make it. Pickled or copied it stays a Report; a pickled
    one keeps its table as rendered when pickled.

    Arguments:
        document: the report's fields (the dict the engine built).
        result: the engine's result it came from, which lays the table out (internal).

    Attributes:
        ["exit_code"]: the status the command line would exit with: 0 every pair matches,
            1 some differ, 2 an error, 3 nothing differs but some pairs were judged from
            summaries only.

    Methods:
        table(width=0, name_width=None, only_diff=False, top=0, top_by_growth=False): the
            command line's table and the lines under it (first divergence, first jump) as text.
        str(report), print(report): the whole table; in IPython the table as a terminal shows
            it (long runs of matching rows folded).
        _repr_html_(): the notebook view: the summary, then the rows that differ, the first
            divergence and every jump marked.
        to_pandas(): one row per tensor (needs pandas).

    Example:
        >>> x = np.linspace(-1, 1, 1000, dtype=np.float32)
        >>> report = tensordiff.compare_arrays({"h": x}, {"h": x + 1e-3})
        >>> isinstance(report, tensordiff.Report), isinstance(report, dict), report["exit_code"]
        (True, True, 1)
        >>> print(report.table(only_diff=True, width=100))
              #  name  dtype       max|d|     rel L2       cosine              mismatched     growth  status
        >*    0  h     f32          0.001    0.00173   0.99999850        1000/1000 (100%)   x2.9e+04  DIFF
        <BLANKLINE>
        1 compared: 0 match, 1 differ
        first divergence: h (order 0): 1000 of 1000 elements not close (rtol 1.3e-06, atol 1e-05); ...
        first jump: h (order 0): rel L2 0.00173, x2.9e+04 what it inherited, ...
        >>> df = report.to_pandas()  # with pandas installed
    """

    def __init__(self, document=(), result=None):
        super().__init__(document)
        self._result = result
        self._text = None  # the table as rendered when pickled, where the result is gone

    # -- the command line's text --------------------------------------------------------------
    def table(self, width: int = 0, name_width: int | None = None, only_diff: bool = False, top: int = 0,
              top_by_growth: bool = False, collapse: int = 0) -> str:
        """The command line's table and the lines under it (counts, first divergence, first
        jump, precision), as `tensordiff A B` prints them into a pipe.

        Options:
            width: columns to fit (0: unlimited; columns drop and lines wrap to fit).
            name_width: longest name shown whole (None: every name whole).
            only_diff: only the rows that differ (--only-diff); the first divergence and every
                jump always.
            top: the N pairs of largest rel L2 (--top N), top_by_growth: of largest growth.
            collapse: runs of more matching rows than this become one line (0: never).

        Returns:
            the text, ending in a newline.

        Example:
            >>> print(tensordiff.compare("a.h5", "b.h5").table(only_diff=True, width=100))
        """
        if self._result is None:
            if self._text is not None and (width, name_width, only_diff, top, top_by_growth, collapse) == \
                    (0, None, False, 0, False, 0):
                return self._text
            raise ValueError("this report holds no engine result (it was unpickled, or made from a dict): an "
                             "unpickled one keeps the table as rendered when pickled (table() with no options); "
                             "compare again to lay it out otherwise")
        return self._result.table(width=width, name_width=name_width, only_diff=only_diff, top=top,
                                  top_by_growth=top_by_growth, collapse=collapse)

    def summary_text(self, width: int = 0) -> str:
        """A compare report's lines under the table (counts, first divergence, first jump,
        precision), as the command line prints them; "" for a stats report."""
        if self._result is None or self.is_stats:
            return ""
        return self._result.summary(width)

    @property
    def is_stats(self) -> bool:
        """A stats report (`tensordiff stats`: one dump's tensors), not a comparison."""
        return self.get("kind") == "stats"

    def __str__(self) -> str:
        return self.table()

    def _repr_pretty_(self, p, cycle):  # IPython's text: what a terminal shows
        p.text(self.table(collapse=20, name_width=60) if self._result is not None else self.table())

    def _repr_html_(self) -> str:
        return notebook_html.render(self, self.summary_text())

    # -- pandas -------------------------------------------------------------------------------
    def to_pandas(self):
        """One row per tensor: a compare report's pair fields (order, name, status, dtypes,
        shapes, growth, scale, shift, jump, reason), its diff's numbers (max_abs, rel_l2, cosine,
        mismatches, ...) and `divergence` (the first divergence's row); a stats report's
        tensors with their summary fields. Non-finite numbers are floats, as numpy has them.

        Returns:
            a pandas.DataFrame. Raises ImportError when pandas is not installed (tensordiff
            does not depend on it).

        Example:
            >>> df = tensordiff.compare("a.h5", "b.h5").to_pandas()
            >>> df[df.status != "match"].sort_values("rel_l2")
        """
        try:
            import pandas
        except ImportError:
            raise ImportError("Report.to_pandas() needs pandas, which tensordiff does not install: pip install "
                              "pandas (the report itself is a dict: report['tensors'])") from None
        tensors = self.get("tensors", [])
        if not self.is_stats:
            first = self["summary"].get("first_divergence")
            rows = []
            for t in tensors:
                row = {k: t.get(k) for k in _PAIR_FIELDS}
                for k in ("shape_a", "shape_b"):
                    row[k] = tuple(row[k]) if row[k] is not None else None
                d = t.get("diff") or {}
                row.update({k: _number(d.get(k)) for k in _DIFF_FIELDS})
                row["divergence"] = t["name"] == first
                rows.append(row)
            columns = [*_PAIR_FIELDS, *_DIFF_FIELDS, "divergence"]
        else:
            rows = []
            for t in tensors:
                row = {"order": t.get("order"), "name": t.get("name"), "dtype": t.get("dtype"),
                       "shape": tuple(t.get("shape") or ())}
                row.update({k: _number(t.get(k)) for k in _SIDE_FIELDS})
                rows.append(row)
            columns = ["order", "name", "dtype", "shape", *_SIDE_FIELDS]
        return pandas.DataFrame(rows, columns=columns)

    # -- copies keep the class ----------------------------------------------------------------
    def __copy__(self):
        new = Report(self, self._result)
        new._text = self._text
        return new

    def __deepcopy__(self, memo):
        new = Report(copy.deepcopy(dict(self), memo), self._result)  # the engine's report never changes
        new._text = self._text
        return new

    def __reduce__(self):
        text = self.table() if self._result is not None else self._text
        return (_unpickle, (dict(self), text))


def _unpickle(document, text):
    r = Report(document)
    r._text = text
    return r
