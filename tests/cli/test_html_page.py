"""Issue 25 item 3: the HTML page shows the answer. The page of a 200-tensor report with a
divergence and two jumps (tests/cli/html_fixture.py): its embedded data and its headline as
written, then the page in headless Chromium after its scripts ran (the DOM, and screenshots at
1400x1000 and 1024x768 that must not be blank)."""
import html
import json
import os
import re
import struct
import subprocess
import time
import zlib

import pytest

import html_fixture
from html_fixture import BIN, GAP, SLIP

DATA = re.compile(r'<script id="data" type="application/json">(.*?)</script>', re.S)
LINK = re.compile(r'<a class="row-link" href="#row-(\d+)" data-row="(\d+)">([^<]*)</a>')


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    d = str(tmp_path_factory.mktemp("html"))
    a, b = html_fixture.write_pair(d)
    path = os.path.join(d, "report.html")
    r = subprocess.run([BIN, a, b, "--html", path, "--json", os.path.join(d, "r.json")],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 1, r.stderr
    text = open(path).read()
    return {"path": path, "text": text, "data": json.loads(DATA.search(text).group(1)),
            "json": json.load(open(os.path.join(d, "r.json"))), "table": r.stdout}


def test_the_data_holds_the_answer_and_its_digits(page):
    D, rep = page["data"], page["json"]
    names = D["name"]
    assert len(names) == 200 and rep["summary"]["compared"] == 200
    assert D["first_divergence"] == D["first_jump"] == f"layers.{SLIP}"
    assert D["jumps"] == [f"layers.{SLIP}", f"layers.{GAP}.input.0"] == rep["summary"]["jumps"]
    by = {t["name"]: t for t in rep["tensors"]}
    for i, n in enumerate(names):  # every number as the JSON report has it: no digit lost
        t = by[n]
        for key, got in (("rel_l2", D["rel_l2"][i]), ("cosine", D["cosine"][i])):
            assert got == (t.get("diff") or {}).get(key), (n, key)
        assert D["growth"][i] == t.get("growth") and D["jump"][i] == t["jump"]
        assert D["copy_of"][i] == t.get("copy_of") and D["gap_after"][i] == t.get("gap_after")
        assert D["value_a"][i] == t.get("value_a") and D["value_b"][i] == t.get("value_b")
    gap = names.index(f"layers.{GAP}.input.0")
    assert D["gap_after"][gap] == f"layers.{GAP - 1}"
    assert D["copy_of"][names.index(f"layers.{SLIP + 1}.input.0")] == f"layers.{SLIP}"
    eps = names.index("layers.0.norm.eps")
    assert D["value_a"][eps] == D["value_b"][eps] == "1e-05"
    # where max|d| is, with both elements as the terminal prints them
    fd = names.index(f"layers.{SLIP}")
    assert f"at {D['max_at'][fd]}" in page["table"], (D["max_at"][fd], page["table"][-800:])
    assert D["unit_roundoff"] == rep["summary"]["unit_roundoff"]


def test_the_headline_links_the_divergence_and_every_jump_to_their_rows(page):
    text, names = page["text"], page["data"]["name"]
    head = text[text.index('<section id="headline">'):text.index("</section>")]
    for href, row, name in LINK.findall(head):
        assert href == row and names[int(row)] == name  # each link opens its own row
    fd = re.search(r'<p class="hl fd">.*?</p>', head, re.S).group(0)
    fj = re.search(r'<p class="hl fj">.*?</p>', head, re.S).group(0)
    jl = re.search(r'<p class="hl jl">.*?</p>', head, re.S).group(0)
    assert [n for _, _, n in LINK.findall(fd)] == [f"layers.{SLIP}"] and "elements not close" in fd and "max|d|" in fd
    assert [n for _, _, n in LINK.findall(fj)] == [f"layers.{SLIP}"] and "what it inherited" in fj
    assert "2 jumps" in jl
    assert [n for _, _, n in LINK.findall(jl)] == [f"layers.{SLIP}", f"layers.{GAP}.input.0", f"layers.{GAP - 1}"]
    assert "made by the code after" in jl
    # the terminal's summary lines are all there (the "more jumps" line became the list)
    for line in page["table"].split("\n\n")[-1].splitlines():
        if line and "more jump" not in line and not line.startswith(("first divergence", "first jump")):
            assert html.escape(line, quote=False).replace('"', "&quot;") in head, line


def test_the_page_is_one_file_that_fetches_nothing(page):
    text = page["text"]
    assert "http://" not in text.replace("http://www.w3.org", "") and "https://" not in text
    assert not re.search(r"<(link|img|iframe|object|embed)\b|\bsrc\s*=|@import|url\(|fetch\(|XMLHttpRequest", text)
    assert len(re.findall(r"<script\b", text)) == 2 and len(re.findall(r"<style\b", text)) == 1
    assert '<canvas id="cv-rel">' in text and '<canvas id="cv-growth">' in text


# ---- In a browser ----------------------------------------------------------------------------

FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--virtual-time-budget=10000"]


def browser_or_skip():
    b = html_fixture.chromium()
    if b is None:
        print("\n  chromium, chromium-browser and google-chrome are not on PATH: the page is not opened "
              "(scripts/install-deps.sh installs Debian's chromium)")
        pytest.skip("no chromium on PATH (scripts/install-deps.sh installs it)")
    return b


def dom(browser, url, size):
    t = time.monotonic()
    r = subprocess.run([browser, *FLAGS, f"--window-size={size}", "--dump-dom", url],
                       capture_output=True, text=True, timeout=120)
    assert time.monotonic() - t < 120
    assert 'data-ready="1"' in r.stdout, r.stdout[:2000] + r.stderr[-2000:]
    assert "data-errors" not in r.stdout, re.findall(r'data-errors="[^"]*"', r.stdout)
    return r.stdout


def js_number(v):
    """A double as JavaScript's String(v) writes it (decimal from 1e-6 to 1e21)."""
    from decimal import Decimal
    if v != 0 and 1e-6 <= abs(v) < 1e21:
        return format(Decimal(repr(v)), "f")
    return re.sub(r"e([+-])0*(\d)", lambda m: "e" + ("-" if m.group(1) == "-" else "+") + m.group(2), repr(v))


def row(html, i):
    m = re.search(r'<tr id="tr-%d" class="([^"]*)" data-i="%d">(.*?)</tr>' % (i, i), html, re.S)
    assert m, f"row {i} not in the table"
    return m.group(1).split(), re.findall(r"<td[^>]*>(.*?)</td>", m.group(2), re.S)


def test_after_the_scripts_ran_the_rows_are_marked_and_the_plots_drawn(page):
    browser = browser_or_skip()
    D = page["data"]
    html = dom(browser, "file://" + page["path"], "1400,1000")
    box = re.search(r'<div id="plotbox"([^>]*)>', html).group(1)
    assert 'data-points="%d"' % sum(v is not None for v in D["rel_l2"]) in box
    assert 'data-jumps="2"' in box and 'data-divergence="%d"' % D["name"].index(D["first_divergence"]) in box
    fd, gap = D["name"].index(f"layers.{SLIP}"), D["name"].index(f"layers.{GAP}.input.0")
    cls, cells = row(html, fd)
    assert {"fd", "jump", "mismatch"} <= set(cls) and "&gt;" in cells[1] and "*" in cells[1]
    cos = 1 - D["cosine"][fd]
    assert cells[7] == "1 \u2212 " + re.sub(r"e([+-])0*", r"e\1", f"{cos:.1e}").replace("e+", "e")  # "1 − 5.2e-7"
    cls, cells = row(html, gap)
    assert "jump" in cls and "fd" not in cls and "made after layers.%d" % (GAP - 1) in cells[10]
    marked = [int(i) for i in re.findall(r'<tr id="tr-(\d+)" class="[^"]*\bjump\b', html)]
    assert marked == [D["name"].index(n) for n in D["jumps"]]
    # no pair that differs reads as cosine 1
    for i in range(len(D["name"])):
        if D["cosine"][i] is not None and D["cosine"][i] < 1:
            assert row(html, i)[1][7] != "1", D["name"][i]
    assert re.search(r'<aside id="detail" hidden', html)  # closed until a row is opened


@pytest.mark.parametrize("size", ["1400,1000", "1024,768"])
def test_a_headline_link_opens_its_row_in_view_with_its_details(page, size):
    browser = browser_or_skip()
    D = page["data"]
    gap = D["name"].index(f"layers.{GAP}.input.0")
    html = dom(browser, "file://%s#row-%d" % (page["path"], gap), size)  # where the headline's link leads
    aside = re.search(r'<aside id="detail"([^>]*)>(.*?)</aside>', html, re.S)
    attrs, body = aside.groups()
    assert "hidden" not in attrs and 'data-row="%d"' % gap in attrs
    assert 'data-row-in-view="1"' in attrs and 'data-in-view="1"' in attrs  # scrolled into view
    assert "sel" in row(html, gap)[0]
    fields = dict(re.findall(r"<tr><td>([^<]*)</td><td class=\"v\">(.*?)</td></tr>", body, re.S))
    assert 'data-row="%d">layers.%d</a>' % (gap - 1, GAP - 1) in fields["made after"]
    assert fields["rel L2"] == js_number(D["rel_l2"][gap])  # every digit
    assert fields["cosine"].startswith("1 \u2212 ") and js_number(D["cosine"][gap]) in fields["cosine"]
    assert "at [" in fields["max|d|"] and D["max_at"][gap] in fields["max|d|"]
    # beside the table on a wide window, over it on a narrow one
    assert ('data-beside="1"' in attrs) == (size == "1400,1000"), attrs


def test_a_recorded_value_and_a_copy_show_in_their_details(page):
    browser = browser_or_skip()
    D = page["data"]
    eps, copy = D["name"].index("layers.0.norm.eps"), D["name"].index(f"layers.{SLIP + 1}.input.0")
    body = dom(browser, "file://%s#row-%d" % (page["path"], eps), "1400,1000")
    assert re.search(r"<td>value a</td><td class=\"v\">1e-05</td>.*<td>value b</td><td class=\"v\">1e-05</td>", body, re.S)
    body = dom(browser, "file://%s#row-%d" % (page["path"], copy), "1400,1000")
    assert re.search(r'<td>copy of</td><td class="v"><a class="row-link" href="#row-%d"' % (copy - 1), body)


def nonwhite_rows(png):
    """The fraction of pixel rows of an 8-bit RGB(A) PNG that hold anything but white."""
    data = open(png, "rb").read()
    w, h, depth, ctype = struct.unpack(">IIBB", data[16:26])
    assert depth == 8 and ctype in (2, 6), (depth, ctype)
    bpp = 3 if ctype == 2 else 4
    raw, pos = b"", 8
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        if kind == b"IDAT":
            raw += data[pos + 8:pos + 8 + n]
        pos += 12 + n
    raw, stride, prev, inked = zlib.decompress(raw), w * bpp, bytearray(w * bpp), 0
    for y in range(h):
        f, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for x in range(stride):
            a = line[x - bpp] if x >= bpp else 0
            b, c = prev[x], prev[x - bpp] if x >= bpp else 0
            if f == 1: line[x] = (line[x] + a) & 255
            elif f == 2: line[x] = (line[x] + b) & 255
            elif f == 3: line[x] = (line[x] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        inked += any(line[x] < 240 for x in range(0, stride, bpp))
        prev = line
    return inked / h


@pytest.mark.parametrize("size,hash_row", [("1400,1000", True), ("1024,768", False)])
def test_screenshots_show_the_page(page, size, hash_row):
    """What docs/ keeps for the README; a scrolled window painted blank once (headless)."""
    browser = browser_or_skip()
    D = page["data"]
    url = "file://" + page["path"] + ("#row-%d" % D["name"].index(D["jumps"][-1]) if hash_row else "")
    shot = os.path.join(os.environ.get("TENSORDIFF_BUILD", os.path.dirname(page["path"])),
                        "html-report-%s.png" % size.replace(",", "x"))
    html_fixture.screenshot(browser, url, shot, size)
    assert os.path.getsize(shot) > 20000
    assert nonwhite_rows(shot) > 0.6, shot


def test_a_page_with_nothing_to_find_says_so(tmp_path):
    a, _ = html_fixture.write_pair(str(tmp_path))
    path = tmp_path / "same.html"
    r = subprocess.run([BIN, "-q", a, a, "--html", path], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    text = path.read_text()
    head = text[text.index('<section id="headline">'):text.index("</section>")]
    assert '<p class="hl none">no divergence</p>' in head and "no jump" in head and "row-link" not in head
    browser = browser_or_skip()
    html = dom(browser, path.as_uri(), "1024,768")
    assert 'data-jumps="0"' in html and 'data-divergence="-1"' in html
