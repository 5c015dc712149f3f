"""Every ``python`` code block in the docs and the README runs as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
PAGES = sorted([*ROOT.joinpath("docs").glob("*.md"), ROOT / "README.md"])
BLOCK = re.compile(r"^```python\n(.*?)^```", re.DOTALL | re.MULTILINE)


def _blocks() -> list[tuple[str, str]]:
    found = []
    for page in PAGES:
        for number, match in enumerate(BLOCK.finditer(page.read_text()), 1):
            found.append((f"{page.name}#{number}", match.group(1)))
    return found


@pytest.mark.parametrize(("where", "code"), _blocks(), ids=[w for w, _ in _blocks()])
def test_code_block_runs(where: str, code: str) -> None:
    """The block executes without raising (its own asserts check the outcome)."""
    exec(compile(code, where, "exec"), {"__name__": f"docs_{where}"})  # noqa: S102 - our own docs
