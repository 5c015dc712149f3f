"""Screener-level host tests: the harness makes retries instant and keeps their timing true.

Fifty tests of the kind a host writes (its campaign, its rules, the vendor's failures
included: 429 with Retry-After, 503, timeouts) through :class:`ScreenerHarness`; none waits.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from purecallerid import Action, ScreeningRecord
from purecallerid.testing import CannedAnswer, FakePureCallerID, ScreenerHarness

# line -> (decision, error class of the integration or None), with the preset rules and the
# default failure policy (qa).
EXPECTED: dict[str, tuple[Action, str | None]] = {
    "0101": (Action.REJECT, None),
    "0102": (Action.REJECT, None),
    "0103": (Action.REJECT, None),
    "0104": (Action.ACCEPT, None),
    "0105": (Action.QA, None),
    "0190": (Action.QA, "server_error"),
    "0191": (Action.QA, "rate_limited"),
    "0192": (Action.QA, "invalid_response"),
    "0193": (Action.QA, "timeout"),
    "0194": (Action.QA, "server_error"),
    "0195": (Action.QA, "auth_failed"),
    "0150": (Action.ACCEPT, None),
}
AREA_CODES = ("212", "305", "415", "512", "646")
CASES = [(area, line) for area in AREA_CODES for line in EXPECTED][:50]


def screen(harness: ScreenerHarness, phone: str) -> ScreeningRecord:
    async def go() -> ScreeningRecord:
        async with harness:
            return await harness.screen(phone)

    return asyncio.run(go())


@pytest.mark.parametrize(("area", "line"), CASES)
def test_a_host_test_through_the_screener(area: str, line: str) -> None:
    harness = ScreenerHarness()
    record = screen(harness, f"{area}-555-{line}")
    decision, error_class = EXPECTED[line]
    assert record.decision is decision
    assert record.integration("purecallerid").error_class == error_class


def test_retries_wait_on_the_fake_clock_not_for_real() -> None:
    harness = ScreenerHarness()
    before, started = harness.clock(), time.monotonic()
    record = screen(harness, "212-555-0191")
    # 3 attempts, each answered 429 with Retry-After: 1 -> two waits of 1 s, none real.
    assert harness.slept == [1.0, 1.0]
    assert harness.clock() - before == pytest.approx(2.0)
    assert time.monotonic() - started < 1.0
    assert [a.status_code for a in record.integration("purecallerid").attempts] == [429] * 3
    harness.fake.assert_called(3)


def test_503_is_retried_with_backoff_instantly() -> None:
    harness = ScreenerHarness()
    harness.fake.program("212-555-0150", CannedAnswer.status(503), CannedAnswer.status(503))
    record = screen(harness, "212-555-0150")
    assert record.decision is Action.QA
    assert len(harness.slept) == 2
    assert all(0 < s <= 4.0 for s in harness.slept)


def test_a_host_campaign_and_store_of_its_own() -> None:
    fake = FakePureCallerID()
    harness = ScreenerHarness(fake=fake)
    campaign = harness.demo_campaign("solar")
    harness.settings.put(campaign)

    async def go() -> tuple[ScreeningRecord, ScreeningRecord | None]:
        async with harness:
            record = await harness.screen("212-555-0102", campaign_id="solar", lead_id="L1")
            again = await harness.store.load("solar", "L1")
            return record, again

    record, again = asyncio.run(go())
    assert record.decision is Action.REJECT
    assert again is not None
    assert again.version == 1


def test_the_fake_integration_retries_instantly() -> None:
    fake = FakePureCallerID()
    integration = fake.integration()
    harness = ScreenerHarness(fake=fake)
    assert integration.kind == "purecallerid"
    fake.program(
        "212-555-0150", CannedAnswer.status(503), CannedAnswer.json({"status": "Accepted"})
    )
    record = screen(harness, "212-555-0150")
    assert record.decision is Action.ACCEPT
    assert len(harness.slept) == 1
