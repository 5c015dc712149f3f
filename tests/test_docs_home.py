"""The Home page says what a newcomer needs first, and every page tells one install story."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

import purecallerid

ROOT = Path(__file__).parent.parent
HOME = (ROOT / "docs" / "index.md").read_text()
PAGES = sorted([*ROOT.joinpath("docs").rglob("*.md"), ROOT / "README.md"])
INSTALL = "pip install 'purecallerid[cli]'"


def test_home_states_the_version_of_the_package() -> None:
    """The version on Home is the package's: a release updates the page, or this fails."""
    shown = re.search(r"^Version (\S+) ", HOME, re.MULTILINE)
    assert shown is not None
    assert shown.group(1) == purecallerid.__version__


def test_home_links_the_repository() -> None:
    """Home links the repository named in pyproject.toml's [project.urls]."""
    urls = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["urls"]
    assert f"]({urls['Repository']})" in HOME


def test_home_has_an_install_line_and_an_example() -> None:
    """An install line in a console block, then Python that test_docs.py runs."""
    assert re.search(rf"^```console\n{re.escape(INSTALL)}\n```", HOME, re.MULTILINE)
    example = re.search(r"^```python\n(.*?)^```", HOME, re.DOTALL | re.MULTILINE)
    assert example is not None
    assert 5 <= len(example.group(1).splitlines()) <= 20


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(ROOT)) for p in PAGES])
def test_one_install_story(page: Path) -> None:
    """Users install the package by name; a checkout is installed editable, as a contributor."""
    for line in page.read_text().splitlines():
        for command in re.findall(r"pip install (\S+(?: \S+)?)", line):
            target = command.lstrip("`'\"")
            assert target.startswith(("purecallerid", "-e '.[dev]'")), (page.name, line)
