"""The package's layout: families are subpackages, functions fit in a reviewer's head."""

from __future__ import annotations

import ast
from collections import Counter
from pathlib import Path

import purecallerid

PACKAGE = Path(purecallerid.__file__).parent
MAX_FUNCTION_LINES = 80


def _functions() -> list[tuple[int, str]]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                found.append((length, f"{path.relative_to(PACKAGE)}:{node.lineno} {node.name}"))
    return found


def test_no_function_reaches_the_line_limit() -> None:
    """Every function, docstring included, is under 80 lines."""
    too_long = sorted((f for f in _functions() if f[0] >= MAX_FUNCTION_LINES), reverse=True)
    assert too_long == []


def test_no_top_level_family_of_modules_by_prefix() -> None:
    """Three modules sharing a name prefix belong in a subpackage of that name."""
    prefixes = Counter(
        path.stem.lstrip("_").split("_")[0]
        for path in PACKAGE.glob("*.py")
        if path.stem != "__init__"
    )
    assert [prefix for prefix, count in prefixes.items() if count >= 3] == []


def test_subpackages_are_the_families() -> None:
    """The rule engine, the guards, the CLI and the integrations each have their subpackage."""
    subpackages = {p.parent.name for p in PACKAGE.glob("*/__init__.py")}
    assert {"_rules", "_guards", "_cli", "_integrations", "testing"} <= subpackages
    assert (PACKAGE / "_integrations" / "purecallerid" / "__init__.py").is_file()
