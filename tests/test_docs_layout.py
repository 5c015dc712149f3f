"""The docs fit their column: no line of a code block is wider than 88 characters.

A wider line is cut off on the site (the code column holds about 88 characters at a
1,400 px window) and on a terminal; the hidden part is often the one that matters.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
PAGES = sorted([*ROOT.joinpath("docs").rglob("*.md"), ROOT / "README.md", ROOT / "CHANGELOG.md"])
WIDTH = 88
FENCE = re.compile(r"^\s*(```|~~~)")
SNIPPET = re.compile(r'^[ \t]*--8<-- "([^"]+)"[ \t]*$', re.MULTILINE)


def shown(page: Path) -> str:
    """The page as the site shows it: each snippet line replaced by the file it includes."""
    return SNIPPET.sub(lambda m: (ROOT / m.group(1)).read_text().rstrip("\n"), page.read_text())


def wide_lines(text: str, width: int = WIDTH) -> list[tuple[int, int]]:
    """(line number, length) of every line inside a fenced code block wider than `width`."""
    found: list[tuple[int, int]] = []
    fence: str | None = None
    for number, line in enumerate(text.splitlines(), 1):
        match = FENCE.match(line)
        if match and fence is None:
            fence = match.group(1)
        elif match and match.group(1) == fence and not line.strip().strip(fence):
            fence = None
        elif fence is not None and len(line) > width:
            found.append((number, len(line)))
    return found


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(ROOT)) for p in PAGES])
def test_code_blocks_fit_the_column(page: Path) -> None:
    """Every line of every fenced block of the page, snippets included, is at most 88 wide."""
    assert wide_lines(shown(page)) == []


def test_a_wide_line_is_found() -> None:
    """The check sees a wide line in any fenced block, and ignores prose and closed blocks."""
    wide = "x" * (WIDTH + 1)
    lines = [wide, "```python", "ok", wide, "```", wide, "~~~", wide, "~~~"]
    text = "\n".join([*lines, "    ```text", f"    {wide}", "    ```", ""])
    assert wide_lines(text) == [(4, WIDTH + 1), (8, WIDTH + 1), (11, WIDTH + 5)]
    assert wide_lines("```\n" + "y" * WIDTH + "\n```\n") == []


def test_architecture_diagrams_fit_a_narrow_column() -> None:
    """The layout tree and the layer diagram of architecture.md are at most 80 columns."""
    assert wide_lines(shown(ROOT / "docs" / "architecture.md"), width=80) == []


def test_snippets_are_read_as_shown() -> None:
    """A picture included into a code block is checked as part of the page."""
    page = ROOT / "docs" / "observability.md"
    assert "--8<--" in page.read_text()
    assert (ROOT / "docs" / "observability-trace.txt").read_text().rstrip() in shown(page)
