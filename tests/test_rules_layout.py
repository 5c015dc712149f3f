"""The rule engine's layout: small functions, no vendor imports."""

from __future__ import annotations

import ast
from pathlib import Path

import purecallerid._rules

RULES = Path(purecallerid._rules.__file__).parent
MAX_LINES = 80  # decorators and docstring included


def _functions() -> list[tuple[str, int]]:
    found = []
    for path in sorted(RULES.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
                last = node.end_lineno or node.lineno
                found.append((f"{path.name}:{node.lineno} {node.name}", last - first + 1))
    return found


def test_every_function_is_short() -> None:
    """No function of the rule engine reaches 80 lines: long ones are split at their seams."""
    functions = _functions()
    assert len(functions) > 100  # the walk found the package
    assert [(name, size) for name, size in functions if size >= MAX_LINES] == []


def test_rules_do_not_import_integrations() -> None:
    """The rule engine is vendor-neutral: nothing in it imports an integration."""
    for path in sorted(RULES.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import | ast.ImportFrom):
                module = getattr(node, "module", None) or ""
                names = [module, *(alias.name for alias in node.names)]
                assert all("_integrations" not in name for name in names), path.name
