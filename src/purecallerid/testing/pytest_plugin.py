"""Opt-in pytest fixtures. Enable with ``pytest_plugins = ["purecallerid.testing.pytest_plugin"]``.

Fixtures (prefixed, none autouse):

``purecallerid_fake``
    A fresh :class:`~purecallerid.testing.FakePureCallerID` answering from the test number table.
``purecallerid_client``
    A :class:`~purecallerid.PureCallerIDClient` wired to ``purecallerid_fake``, closed after the
    test. For the async client, call ``purecallerid_fake.async_client()`` in your test.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from ._fake import FakePureCallerID

if TYPE_CHECKING:
    from collections.abc import Iterator

    from .._integrations.purecallerid.client import PureCallerIDClient

__all__ = ["purecallerid_client", "purecallerid_fake"]


@pytest.fixture
def purecallerid_fake() -> FakePureCallerID:
    """A fresh fake vendor answering from the test number table."""
    return FakePureCallerID()


@pytest.fixture
def purecallerid_client(purecallerid_fake: FakePureCallerID) -> Iterator[PureCallerIDClient]:
    """A sync client wired to ``purecallerid_fake``."""
    with purecallerid_fake.client() as client:
        yield client
