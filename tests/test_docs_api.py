"""The API reference shows what a reader needs: default values, identifiers in one piece."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import griffe

ROOT = Path(__file__).parent.parent
EXTENSION = ROOT / "docs" / "_ext" / "docstring_markdown.py"


def load_with_extension() -> griffe.Module:
    """The package as the docs build loads it, with the docs' griffe extension applied."""
    spec = importlib.util.spec_from_file_location("docstring_markdown", EXTENSION)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    extensions = griffe.load_extensions(module.DocstringMarkdown())
    package = griffe.load("purecallerid", search_paths=[ROOT / "src"], extensions=extensions)
    assert isinstance(package, griffe.Module)
    return package


def test_defaults_naming_a_constant_show_its_value() -> None:
    """``timeout=DEFAULT_TIMEOUT`` is shown as ``timeout=10.0``, in the signature and table."""
    package = load_with_extension()
    client = package["_integrations.purecallerid.client.PureCallerIDClient.__init__"]
    assert isinstance(client, griffe.Function)
    assert str(client.parameters["timeout"].default) == "10.0"
    assert str(client.parameters["max_connections"].default) == "16"
    lists = package["_integrations.suppression.integration.SuppressionIntegration.__init__"]
    assert isinstance(lists, griffe.Function)
    assert str(lists.parameters["max_threads"].default) == "8"


def test_code_in_tables_is_never_broken_mid_word() -> None:
    """The site's extra CSS keeps code in table cells whole, and mkdocs.yml loads it."""
    assert "extra_css:\n  - stylesheets/extra.css\n" in (ROOT / "mkdocs.yml").read_text()
    css = (ROOT / "docs" / "stylesheets" / "extra.css").read_text()
    assert "table:not([class]) code" in css
    assert "word-break: normal" in css
    assert "overflow-wrap: normal" in css
