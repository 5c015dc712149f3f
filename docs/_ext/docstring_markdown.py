"""Griffe extension: render the reST habits of the docstrings as Markdown in the API reference.

The source docstrings follow Google style, but two reST habits read badly in Markdown:

- Sphinx roles (``:class:`Lead```) would print verbatim. Each becomes an *optional* autorefs
  cross-reference: a link when the target is rendered somewhere in the site, plain code
  otherwise. Optional, because a docstring may name a private helper or a member the
  reference does not show, and that must not fail the strict build.
- Doctest paragraphs (``>>> normalize_zip(...)``) would render as nested block quotes. Each
  becomes a fenced ``pycon`` code block.

A parameter whose default names a module constant (``timeout=DEFAULT_TIMEOUT``) is shown with
the constant's value (``timeout=10.0``): the reference does not document the constants, and a
long name was clipped in the Default column.

The source stays as it is: this runs on griffe's copy of each docstring and signature, before
rendering.
"""

# ruff: noqa: INP001 - loaded by path from mkdocs.yml, not imported as a package

from __future__ import annotations

import html
import importlib
import re
from typing import Any

import griffe

_DOCTEST = re.compile(r"^( *)>>> .*?(?=\n[ \t]*\n|\Z)", re.DOTALL | re.MULTILINE)
_CONSTANT = re.compile(r"_?[A-Z][A-Z0-9_]*")
_ROLE = re.compile(r":(?:class|func|meth|data|attr|exc|mod|obj):`(~?)([\w.]+)`")
# The public packages: a bare name links to the first of them that exports it.
_PUBLIC = ("purecallerid", "purecallerid.testing", "purecallerid.typing")


def _exports() -> dict[str, str]:
    """Map each public name to the public path it is documented under."""
    found: dict[str, str] = {}
    for package in _PUBLIC:
        for name in importlib.import_module(package).__all__:
            found.setdefault(name, f"{package}.{name}")
    return found


def _target(name: str, owner: griffe.Object, exports: dict[str, str]) -> str:
    """The identifier *name* refers to, seen from the docstring of *owner*."""
    if name.startswith("purecallerid"):
        return name
    head, _, rest = name.partition(".")
    if head in exports:
        return f"{exports[head]}.{rest}" if rest else exports[head]
    scope: griffe.Object | None = owner if owner.is_class else owner.parent
    while scope is not None:  # a member of the enclosing class or module (``:meth:`load```)
        if head in scope.members:
            return f"{scope.path}.{name}"
        scope = scope.parent
    return name


def _show_default_values(function: griffe.Function) -> None:
    """Replace each default that names a constant of the function's module by its value."""
    module = None
    for parameter in function.parameters:
        name = str(parameter.default) if parameter.default is not None else ""
        if not _CONSTANT.fullmatch(name):
            continue
        module = module or importlib.import_module(function.module.path)
        value = getattr(module, name, None)
        if isinstance(value, bool | int | float | str):
            parameter.default = repr(value)


def _fence(match: re.Match[str]) -> str:
    """Wrap a doctest paragraph in a ``pycon`` fence at its own indentation."""
    indent = match.group(1)
    return f"{indent}```pycon\n{match.group(0)}\n{indent}```"


class DocstringMarkdown(griffe.Extension):
    """Rewrite roles and doctests of every docstring, once the package is loaded."""

    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:  # noqa: ARG002
        """Rewrite every docstring of *pkg* (hook called by griffe)."""
        if pkg.name != "purecallerid":
            return
        exports = _exports()
        self._walk(pkg, exports)

    def _walk(self, obj: griffe.Object, exports: dict[str, str]) -> None:
        if obj.docstring is not None:

            def link(match: re.Match[str]) -> str:
                short, name = match.group(1), match.group(2)
                title = name.rsplit(".", 1)[-1] if short else name
                identifier = html.escape(_target(name, obj, exports))
                return f'<autoref identifier="{identifier}" optional><code>{title}</code></autoref>'

            text = _ROLE.sub(link, obj.docstring.value)
            obj.docstring.value = _DOCTEST.sub(_fence, text)
        if isinstance(obj, griffe.Function):
            _show_default_values(obj)
        for member in obj.members.values():
            if not member.is_alias:
                self._walk(member, exports)  # type: ignore[arg-type]
