"""The contract is in the repository (issue 21): every "docs/design.md §N" that a comment, a
script or a page cites names a section docs/design.md has (a heading "## N."), nothing cites the
design by its old name (the upper-case file of the shared notes outside the repository), and
nothing refers to a path outside the repository (the shared folder beside it). Every text file
git knows is read: tracked ones, and new ones not yet added unless .gitignore keeps them out;
symlinks are read at their target.

Run: /usr/bin/python3 -m pytest -q -p no:cacheprovider tests/docs_test.py"""
import os
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DESIGN = ROOT / "docs" / "design.md"
SELF = Path(__file__).resolve()

# "design.md §4", "design.md\n// §4" (a comment wrapped after the name), "design.md's §8",
# "design.md §2 and §6", "design.md section 3".
_SEP = r"(?:'s|’s)?(?:\s|//|#|\*)*"
CITE = re.compile(r"(?i:design)\.md" + _SEP + r"(?:§\s*|[Ss]ection\s+)(\d+)"
                  r"((?:\s*(?:,|and|or)\s*§\s*\d+)*)")
MORE = re.compile(r"§\s*(\d+)")
# Markdown links to a heading: [..](docs/design.md#8-output).
ANCHOR = re.compile(r"design\.md#([A-Za-z0-9_-]+)")
# The old name: the shared file the design started as. Spelled in pieces so this file does not
# match itself.
OLD_NAME = re.compile(r"\b" + "DES" + r"IGN(?:\.md)?\b")
OUTSIDE = re.compile(r"(?:\.\./)+" + "sha" + r"red\b|/work/" + "sha" + r"red\b")


def repo_files():
    """Tracked files and new files .gitignore does not exclude, as paths relative to ROOT."""
    try:
        out = subprocess.run(["git", "-C", str(ROOT), "ls-files", "-z", "--cached", "--others",
                              "--exclude-standard"], check=True, capture_output=True).stdout
        names = sorted({n.decode() for n in out.split(b"\0") if n})
    except (OSError, subprocess.CalledProcessError):  # a source tarball: walk it
        names = []
        for d, sub, files in os.walk(ROOT):
            sub[:] = [s for s in sub if not (s.startswith(".git") or s.startswith("build")
                                             or s in (".devpack", "out", "__pycache__"))]
            names += [os.path.relpath(os.path.join(d, f), ROOT) for f in files]
    return [n for n in names if (ROOT / n).is_file()]


def text_of(rel):
    data = (ROOT / rel).read_bytes()
    if b"\0" in data[:8192]:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def line_of(text, pos):
    return text.count("\n", 0, pos) + 1


def sections():
    return {int(m.group(1)) for m in re.finditer(r"^## (\d+)\.", DESIGN.read_text("utf-8"), re.M)}


def anchors():
    """GitHub's anchors of docs/design.md's headings: lower case, punctuation dropped, spaces
    to hyphens ("## 8. Output" is #8-output)."""
    heads = re.findall(r"^#+ (.+)$", DESIGN.read_text("utf-8"), re.M)
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in heads}


def bad_citations(rel, text, have, slugs):
    """file:line and why, for every citation in `text` of a section or heading that is not there."""
    bad = []
    for m in CITE.finditer(text):
        cited = [int(m.group(1))] + [int(x) for x in MORE.findall(m.group(2) or "")]
        for n in cited:
            if n not in have:
                bad.append(f"{rel}:{line_of(text, m.start())}: cites §{n}, which docs/design.md "
                           f"does not have (its sections: {min(have)}..{max(have)})")
    for m in ANCHOR.finditer(text):
        if m.group(1) not in slugs:
            bad.append(f"{rel}:{line_of(text, m.start())}: links to #{m.group(1)}, which is no "
                       f"heading of docs/design.md")
    return bad


def test_design_document_has_its_sections():
    assert DESIGN.is_file(), "docs/design.md is missing"
    have = sections()
    assert have == set(range(1, max(have) + 1)), f"docs/design.md sections not 1..N: {sorted(have)}"


def test_the_scanner_sees_every_form_of_citation():
    have, slugs = {1, 2, 4}, {"4-what-is-computed"}
    text = ("// ok docs/design.md §4\n"
            "// (docs/design.md §3), wrapped: docs/design.md\n// §5's rules\n"
            "# docs/design.md §2 and §6; design.md section 7\n"
            "[x](docs/design.md#4-what-is-computed) [y](docs/design.md#9-style)\n")
    bad = bad_citations("f", text, have, slugs)
    found = [re.match(r"f:(\d+): \D*(§\d+|#[\w-]+)", b).groups() for b in bad]
    assert found == [("2", "§3"), ("2", "§5"), ("4", "§6"), ("4", "§7"), ("5", "#9-style")], bad
    assert OLD_NAME.search("see " + "DES" + "IGN.md §4") and OLD_NAME.search("DES" + "IGN's bound")
    assert not OLD_NAME.search("## Design") and not OLD_NAME.search("docs/design.md §4")
    assert OUTSIDE.search("../" + "shared/device/pack.sh") and not OUTSIDE.search("src/shared.h")


def test_every_section_cited_exists():
    have, slugs = sections(), anchors()
    bad = []
    for rel in repo_files():
        if (ROOT / rel).resolve() == SELF:  # its examples of bad citations are checked above
            continue
        text = text_of(rel)
        if text is not None:
            bad += bad_citations(rel, text, have, slugs)
    if bad:
        pytest.fail("\n".join(bad), pytrace=False)


def test_nothing_cites_the_old_name_or_a_path_outside_the_repository():
    bad = []
    for rel in repo_files():
        if (ROOT / rel).resolve() == SELF:
            continue
        text = text_of(rel)
        if text is None:
            continue
        for i, line in enumerate(text.split("\n"), 1):
            m = OLD_NAME.search(line)
            if m:
                bad.append(f"{rel}:{i}: cites '{m.group(0)}' (the design is docs/design.md; "
                           f"cite it as 'docs/design.md §N'): {line.strip()[:100]}")
            m = OUTSIDE.search(line)
            if m:
                bad.append(f"{rel}:{i}: refers to '{m.group(0)}', a path outside the repository: "
                           f"{line.strip()[:100]}")
    if bad:
        pytest.fail("\n".join(bad), pytrace=False)
