"""Shared test configuration: Hypothesis profiles and the client fixtures.

``dev`` (the default) keeps everyday runs fast; ``ci`` (set by ``.ci/run`` through
``HYPOTHESIS_PROFILE``) tries more examples.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

from _helpers import Screen, make_screen
from purecallerid.testing import FakePureCallerID

settings.register_profile("dev", max_examples=60, deadline=None)
settings.register_profile(
    "ci", max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


@pytest.fixture
def fake() -> FakePureCallerID:
    """A fake vendor answering from the test number table."""
    return FakePureCallerID()


@pytest.fixture(params=["sync", "async"])
def mode(request: pytest.FixtureRequest) -> str:
    """Run the test once with each client."""
    return str(request.param)


@pytest.fixture(params=["leadexec", "public"])
def dialect(request: pytest.FixtureRequest) -> str:
    """Run the test once with each dialect."""
    return str(request.param)


@pytest.fixture
def screen(fake: FakePureCallerID, mode: str) -> Screen:
    """Screen one request through the client of this test's ``mode``."""
    return make_screen(fake, mode)
