"""What a user imports: the public names, the version, the typing marker."""

from __future__ import annotations

import subprocess
import sys
import types
from importlib import resources
from importlib.metadata import version

import purecallerid
import purecallerid.testing


def test_all_lists_exactly_the_public_names() -> None:
    """__all__ names every public attribute, and only those."""
    public = {
        name
        for name, value in vars(purecallerid).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert len(set(purecallerid.__all__)) == len(purecallerid.__all__)
    assert set(purecallerid.__all__) - {"__version__"} == public
    for name in purecallerid.__all__:
        assert getattr(purecallerid, name) is not None


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
