"""Every ``python`` code block in the docs and the README runs as written.

The blocks of one page run in order in one namespace, as a reader would follow them.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
PAGES = sorted([*ROOT.joinpath("docs").glob("*.md"), ROOT / "README.md"])
BLOCK = re.compile(r"^```python\n(.*?)^```", re.DOTALL | re.MULTILINE)


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_page_code_runs(page: Path) -> None:
    """The page's blocks execute without raising (their own asserts check the outcome)."""
    namespace = {"__name__": f"docs_{page.stem}"}
    for number, match in enumerate(BLOCK.finditer(page.read_text()), 1):
        code = compile(match.group(1), f"{page.name}#{number}", "exec")
        exec(code, namespace)  # noqa: S102 - our own docs
