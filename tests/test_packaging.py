"""What a user imports: the public names, the version, the typing marker."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
import types
from importlib import resources
from importlib.metadata import version
from pathlib import Path

import pytest

import purecallerid
import purecallerid.testing


def test_all_lists_exactly_the_public_names() -> None:
    """__all__, the table of lazily imported names and the typing imports name the same."""
    source = purecallerid._SOURCE
    assert len(set(purecallerid.__all__)) == len(purecallerid.__all__)
    assert set(purecallerid.__all__) - {"__version__"} == set(source)
    # The imports type checkers and the docs read (under TYPE_CHECKING) say the same.
    tree = ast.parse(Path(purecallerid.__file__).read_text())
    guarded = next(n for n in tree.body if isinstance(n, ast.If))
    typed = {
        (alias.asname or alias.name): (node.module or "")
        for node in guarded.body
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
    }
    assert typed == source
    for name in purecallerid.__all__:
        value = getattr(purecallerid, name)
        assert value is not None
        if name != "__version__":
            module = importlib.import_module(f"purecallerid.{source[name]}")
            assert value is getattr(module, name)
    public = {
        name
        for name, value in vars(purecallerid).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert public == set(purecallerid.__all__) - {"__version__"}  # all loaded by now
    assert set(purecallerid.__all__) <= set(dir(purecallerid))


def test_an_unknown_name_is_an_attribute_error() -> None:
    """A misspelt name fails as any module's would (hasattr and getattr defaults work)."""
    with pytest.raises(AttributeError, match="AsyncScreenr"):
        purecallerid.AsyncScreenr  # type: ignore[attr-defined]  # noqa: B018
    assert not hasattr(purecallerid, "Screner")


def test_import_loads_only_what_is_used() -> None:
    """`import purecallerid` loads no HTTP stack, phone data or stores; a name loads its own."""
    code = (
        "import sys, purecallerid\n"
        "heavy = ('httpx', 'aiohttp', 'phonenumbers', 'sqlite3', 'cattrs')\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
        "from purecallerid import normalize_phone\n"
        "print(normalize_phone('(212) 555-0102'), 'httpx' in sys.modules)\n"
        "from purecallerid import PureCallerIDIntegration\n"
        "print(PureCallerIDIntegration.__name__, 'httpx' in sys.modules)\n"
    )
    shown = subprocess.run(  # noqa: S603
        [sys.executable, "-c", code], check=True, capture_output=True, text=True
    ).stdout.splitlines()
    assert shown == ["[]", "+12125550102 False", "PureCallerIDIntegration True"]


def test_testing_all_is_complete() -> None:
    """purecallerid.testing exports what it defines."""
    public = {
        name
        for name, value in vars(purecallerid.testing).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert set(purecallerid.testing.__all__) == public


def test_version_comes_from_metadata() -> None:
    """__version__ is the installed distribution's version."""
    assert purecallerid.__version__ == version("purecallerid")


def test_typed_marker_is_shipped() -> None:
    """The package ships py.typed, so type checkers use its hints."""
    assert resources.files("purecallerid").joinpath("py.typed").is_file()


def test_testing_imports_without_pytest() -> None:
    """purecallerid.testing works in a process where pytest cannot be imported."""
    code = (
        "import sys; sys.modules['pytest'] = None\n"
        "from purecallerid.testing import FakePureCallerID\n"
        "from purecallerid import ScreeningRequest\n"
        "fake = FakePureCallerID()\n"
        "request = ScreeningRequest(phone='2125550102', campaign_id='c', list_name='l')\n"
        "r = fake.client().screen(request)\n"
        "assert r.reason == 'DNC', r\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)  # noqa: S603


def test_threads_first_using_names_at_once_all_get_them() -> None:
    """Names first used by many threads at the same moment all resolve (no half imports)."""
    code = (
        "import sys, threading, purecallerid\n"
        "names = [n for n in purecallerid.__all__ if n != '__version__'][::5][:32]\n"
        "start = threading.Barrier(len(names))\n"
        "failed = []\n"
        "def use(name):\n"
        "    start.wait()\n"
        "    try:\n"
        "        getattr(purecallerid, name)\n"
        "    except Exception as exc:\n"
        "        failed.append(f'{name}: {exc!r}')\n"
        "threads = [threading.Thread(target=use, args=(n,)) for n in names]\n"
        "[t.start() for t in threads]\n"
        "[t.join() for t in threads]\n"
        "print(failed, purecallerid.typing.ResultStore.__name__)\n"
    )
    for _ in range(4):
        shown = subprocess.run(  # noqa: S603
            [sys.executable, "-c", code], check=True, capture_output=True, text=True
        ).stdout.strip()
        assert shown == "[] ResultStore"
