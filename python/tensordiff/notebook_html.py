"""A report in a notebook (Report._repr_html_): one self-contained HTML fragment (one <style>
scoped to its own class; no script, nothing fetched), every name and reason escaped.

A compare report shows the command line's summary lines (counts, first divergence, first jump:
the engine's text, src/report/table_report.cpp) and a table of the rows that differ, in
execution order, with the first divergence and every jump marked (`>` and `*`, as in the
terminal table, and a coloured row). A stats report shows its tensors. The full page, with its
plot, is html= (--html).
"""
from __future__ import annotations

import html

MAX_ROWS = 200  # rows shown; the rest are counted (table() and to_pandas() have them all)

# Scoped to the fragment's class: a notebook's other outputs keep their own styles.
_STYLE = ("<style>"
          ".tensordiff-report pre{font-family:monospace;font-size:12px;white-space:pre-wrap;margin:0}"
          ".tensordiff-report table{border-collapse:collapse;font-family:monospace;font-size:12px;margin-top:4px}"
          ".tensordiff-report td,.tensordiff-report th{padding:1px 8px;border-bottom:1px solid #ddd;"
          "text-align:right;white-space:nowrap}"
          ".tensordiff-report .l{text-align:left}"
          ".tensordiff-report tr.jump{background:#fff3c4}"        # a jump ('*')
          ".tensordiff-report tr.divergence{background:#fde2e1}"  # the first divergence ('>'), a jump or not
          ".tensordiff-report .note{font-size:11px;color:#555}"
          "</style>")


def _esc(x) -> str:
    return html.escape(str(x), quote=True)


def _num(v, fmt: str = "{:.3g}") -> str:
    if v is None:
        return "-"
    if isinstance(v, str):  # "NaN", "Infinity": non-finite, as the JSON writes them
        return v
    return "0" if v == 0 else fmt.format(v)


def _cosine(c) -> str:
    """Cosine with the digits that matter: 1 − x where x is small (0.9999955 reads 1 − 4.5e-06)."""
    if c is None or isinstance(c, str):
        return _num(c)
    if c == 1:
        return "1"
    return f"1 \u2212 {1 - c:.2g}" if 0 < 1 - c < 1e-3 else f"{c:.6f}"


def _growth(g) -> str:
    """As the terminal's growth column: x0.35, x343."""
    if g is None:
        return "-"
    if isinstance(g, str):
        return "inf" if g == "Infinity" else g
    return f"x{g:.3g}" if g >= 100 else f"x{g:.2f}"


def _cells(values, aligns) -> str:
    return "".join(f'<td class="l">{v}</td>' if a == "left" else f"<td>{v}</td>" for v, a in zip(values, aligns))


def _head(names, aligns) -> str:
    return "<tr>" + "".join(f'<th class="l">{_esc(n)}</th>' if a == "left" else f"<th>{_esc(n)}</th>"
                            for n, a in zip(names, aligns)) + "</tr>"


def _compare_rows(report) -> tuple[list[str], int]:
    s = report.get("summary", {})
    first = s.get("first_divergence")
    aligns = ["left", "right", "left", "left", "right", "right", "right", "right", "right", "left"]
    rows, hidden = [], 0
    for t in report.get("tensors", []):
        divergence, jump = t["name"] == first, bool(t.get("jump"))
        if t["status"] == "match" and not divergence and not jump:
            continue
        if len(rows) >= MAX_ROWS:
            hidden += 1
            continue
        d = t.get("diff") or {}
        marks = (">" if divergence else "") + ("*" if jump else "")
        what = [w for w, on in (("first divergence", divergence), ("jump", jump)) if on]
        dtype = t.get("dtype_a") or "-"
        if t.get("dtype_b") and t.get("dtype_b") != t.get("dtype_a"):
            dtype += "/" + t["dtype_b"]
        # As the terminal's status column: a mismatch is DIFF (its reason in the summary and the
        # row's tooltip), other statuses say why.
        status = "DIFF" if t["status"] == "mismatch" else t["status"] + (f": {t['reason']}" if t.get("reason") else "")
        growth = t.get("growth")
        values = [_esc(marks), _esc(t.get("order", "")), _esc(t["name"]), _esc(dtype), _num(d.get("max_abs")),
                  _num(d.get("rel_l2")), _esc(_cosine(d.get("cosine"))),
                  _esc(f"{d['mismatches']}/{d['count']}") if d else "-",
                  _esc(_growth(growth)), f'<span title="{_esc(t.get("reason") or "")}">{_esc(status)}</span>']
        marked = " ".join(w.split()[-1] for w in what)  # "divergence", "jump", "divergence jump"
        attrs = f' class="{marked}" data-mark="{marked}" title="{", ".join(what)}"' if what else ""
        rows.append(f"<tr{attrs}>{_cells(values, aligns)}</tr>")
    head = _head(["", "#", "name", "dtype", "max|d|", "rel L2", "cosine", "mismatched", "growth", "status"], aligns)
    return [head, *rows], hidden


def _stats_rows(report) -> tuple[list[str], int]:
    aligns = ["right", "left", "left", "left", "right", "right", "right", "right", "right", "left"]
    rows, hidden = [], 0
    for t in report.get("tensors", []):
        if len(rows) >= MAX_ROWS:
            hidden += 1
            continue
        values = [_esc(t.get("order", "")), _esc(t.get("name", "")), _esc(t.get("dtype", "")),
                  _esc(t.get("shape", "")), _num(t.get("min")), _num(t.get("max")), _num(t.get("mean")),
                  _num(t.get("std")), _esc(t.get("nan", "-")), _esc(t.get("checksum", "-"))]
        rows.append(f"<tr>{_cells(values, aligns)}</tr>")
    head = _head(["#", "name", "dtype", "shape", "min", "max", "mean", "std", "NaN", "checksum"], aligns)
    return [head, *rows], hidden


def render(report, summary_text: str) -> str:
    """The report as one HTML fragment; `summary_text` is the engine's lines under the table."""
    compare = not report.is_stats
    rows, hidden = _compare_rows(report) if compare else _stats_rows(report)
    out = ['<div class="tensordiff-report">', _STYLE]
    if compare:
        out.append(f"<pre>{_esc(summary_text.rstrip())}</pre>")
    else:
        out.append(f'<pre>{_esc(report.get("input", ""))}: {len(report.get("tensors", []))} tensors</pre>')
    if len(rows) > 1:
        out.append(f'<table><thead>{rows[0]}</thead><tbody>{"".join(rows[1:])}</tbody></table>')
        if compare:
            out.append('<div class="note">rows that differ, in execution order; &gt; the first divergence, '
                       "* a jump (where an error is introduced)</div>")
    if hidden:
        out.append(f'<div class="note">&hellip; {hidden} more rows (report.table() and report.to_pandas() '
                   "have them all)</div>")
    out.append(f'<div class="note">exit status {_esc(report.get("exit_code", "-"))}</div>')
    out.append("</div>")
    return "".join(out)
