"""The opt-in pytest plugin's fixtures."""

from __future__ import annotations

import asyncio

from _helpers import request_for
from purecallerid import PureCallerIDClient
from purecallerid.testing import FakePureCallerID, ScreenerHarness

pytest_plugins = ["purecallerid.testing.pytest_plugin"]


def test_fixtures_are_wired(
    purecallerid_fake: FakePureCallerID, purecallerid_client: PureCallerIDClient
) -> None:
    """The client fixture talks to the fake fixture."""
    response = purecallerid_client.screen(request_for("2125550103"))
    assert response.reason == "TCPA_FLAG"
    purecallerid_fake.assert_called(1)


def test_harness_fixture_screens_without_waiting(purecallerid_harness: ScreenerHarness) -> None:
    """The harness fixture: a screener over the fake, retries instant, closed after the test."""
    record = asyncio.run(purecallerid_harness.screen("212-555-0191"))
    assert record.decision.value == "qa"
    assert purecallerid_harness.slept == [1.0, 1.0]
    assert len(purecallerid_harness.fake.requests) == 3
