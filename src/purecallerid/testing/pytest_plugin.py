"""Opt-in pytest fixtures. Enable with ``pytest_plugins = ["purecallerid.testing.pytest_plugin"]``.

Fixtures (prefixed, none autouse):

``purecallerid_fake``
    A fresh :class:`~purecallerid.testing.FakePureCallerID` answering from the test number table.
``purecallerid_client``
    A :class:`~purecallerid.PureCallerIDClient` wired to ``purecallerid_fake``, closed after the
    test. For the async client, call ``purecallerid_fake.async_client()`` in your test.
``purecallerid_harness``
    A :class:`~purecallerid.testing.ScreenerHarness` over ``purecallerid_fake``: a screener
    with the memory store and settings, whose retries are instant. Screen with
    ``await purecallerid_harness.screen("212-555-0102")`` (under ``asyncio.run`` or an async
    test runner); closed after the test.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import pytest

from ._fake import FakePureCallerID
from ._harness import ScreenerHarness

if TYPE_CHECKING:
    from collections.abc import Iterator

    from .._integrations.purecallerid.client import PureCallerIDClient

__all__ = ["purecallerid_client", "purecallerid_fake", "purecallerid_harness"]


@pytest.fixture
def purecallerid_fake() -> FakePureCallerID:
    """A fresh fake vendor answering from the test number table."""
    return FakePureCallerID()


@pytest.fixture
def purecallerid_client(purecallerid_fake: FakePureCallerID) -> Iterator[PureCallerIDClient]:
    """A sync client wired to ``purecallerid_fake``."""
    with purecallerid_fake.client() as client:
        yield client


@pytest.fixture
def purecallerid_harness(purecallerid_fake: FakePureCallerID) -> Iterator[ScreenerHarness]:
    """A screener over ``purecallerid_fake``, memory store and settings, instant retries."""
    harness = ScreenerHarness(fake=purecallerid_fake)
    yield harness
    # Closed on a loop of its own: the test's loop (asyncio.run's) is gone by now.
    asyncio.run(harness.aclose())
