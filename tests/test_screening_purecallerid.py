"""The screener with the PureCallerID integration against FakePureCallerID."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from purecallerid import (
    Action,
    AsyncScreener,
    InMemoryResultStore,
    InMemorySettings,
    InMemorySuppressionList,
    IntegrationStatus,
    Lead,
    PureCallerIDIntegration,
    ScreeningRecord,
    SuppressionIntegration,
    load_settings,
)
from purecallerid.testing import FakePureCallerID

TOKEN = "pcid-token-123456"
BRIEF_RULES = [
    'reject when status = "Rejected" and reason in ("INACTIVE", "DNC", "TCPA_FLAG")',
    'qa when status = "Accepted" and reason = "SUPPRESSED"',
    'reject when status = "Rejected" and reason = "INVALID"',
]


async def _no_wait(_: float) -> None:
    return None


def pcid_settings(**overrides: Any) -> dict[str, Any]:
    settings: dict[str, Any] = {
        "id": "pcid",
        "kind": "purecallerid",
        "sort": 2,
        "base_url": "https://purecallerid.test",
        "credentials": {"api_token": TOKEN, "campaign_id": "C1", "list_name": "Main"},
        "rules": BRIEF_RULES,
    }
    settings.update(overrides)
    return settings


def screen_leads(
    integrations: list[dict[str, Any]], *leads: Lead, fake: FakePureCallerID | None = None
) -> tuple[list[ScreeningRecord], FakePureCallerID]:
    fake = fake or FakePureCallerID(api_token=TOKEN)
    pcid = PureCallerIDIntegration(transport=fake.async_transport(), sleep=_no_wait)
    suppression = SuppressionIntegration({"dnc": InMemorySuppressionList(["2125550150"])})
    campaigns = load_settings(
        {"campaigns": {"c": {"integrations": integrations}}}, kinds=[pcid, suppression]
    )

    async def go() -> list[ScreeningRecord]:
        async with AsyncScreener(
            settings=InMemorySettings(campaigns.values()),
            store=InMemoryResultStore(),
            integrations=[pcid, suppression],
        ) as screener:
            return [await screener.screen(one) for one in leads]

    return asyncio.run(go()), fake


def lead(phone: str | None, lead_id: str = "L1", **fields: Any) -> Lead:
    posted: dict[str, Any] = {"zip": "02134", **fields}
    if phone is not None:
        posted["phone"] = phone
    return Lead(lead_id=lead_id, campaign_id="c", fields=posted)


@pytest.mark.parametrize(
    ("line", "decision", "decided_by"),
    [
        ("0101", Action.REJECT, "pcid:rule-1"),
        ("0102", Action.REJECT, "pcid:rule-1"),
        ("0103", Action.REJECT, "pcid:rule-1"),
        ("0104", Action.REJECT, "pcid:rule-3"),
        ("0105", Action.QA, "pcid:rule-2"),
        ("0106", Action.ACCEPT, None),
        ("0000", Action.ACCEPT, None),
    ],
)
def test_verdicts_become_decisions(line: str, decision: Action, decided_by: str | None) -> None:
    """The brief's rules turn each verdict of the test number table into its decision."""
    (record,), fake = screen_leads([pcid_settings()], lead(f"(212) 555-{line}"))
    assert record.decision is decision
    assert record.decided_by == decided_by
    pcid = record.integration("pcid")
    assert pcid.status is IntegrationStatus.COMPLETED
    assert pcid.request is not None
    assert pcid.request.body["apiToken"] == "***"
    assert pcid.raw
    assert len(pcid.attempts) == 1
    fake.assert_called_with(phone=f"212555{line}", zip="02134", campaignId="C1", listName="Main")


FAULTS = [
    ("0190", "server_error", True),
    ("0191", "rate_limited", False),
    ("0192", "invalid_response", True),
    ("0193", "timeout", True),
    ("0194", "server_error", False),  # 503: the vendor did not take the lead in
    ("0195", "auth_failed", False),
]


@pytest.mark.parametrize("policy", list(Action))
@pytest.mark.parametrize(("line", "error_class", "maybe_billed"), FAULTS)
def test_faults_follow_the_failure_policy(
    line: str, error_class: str, maybe_billed: bool, policy: Action
) -> None:
    """Each fault of the test number table is an error whose action is the failure policy."""
    (record,), _ = screen_leads([pcid_settings(failure_policy=policy.value)], lead(f"212555{line}"))
    pcid = record.integration("pcid")
    assert pcid.status is IntegrationStatus.ERROR
    assert pcid.error_class == error_class
    assert pcid.outcome_unknown is maybe_billed
    assert pcid.action is policy
    assert record.decision is policy
    assert pcid.attempts  # the evidence of what was tried is kept
    assert TOKEN not in repr(record)


@pytest.mark.parametrize("policy", list(Action))
def test_unmappable_lead_follows_the_failure_policy(policy: Action) -> None:
    """A lead without a phone is an error before any call, decided by the failure policy."""
    (record,), fake = screen_leads([pcid_settings(failure_policy=policy.value)], lead(None))
    pcid = record.integration("pcid")
    assert pcid.error_class == "mapping_error"
    assert "phone" in (pcid.error_message or "")
    assert pcid.outcome_unknown is False
    assert record.decision is policy
    fake.assert_not_called()


def test_suppression_reject_means_no_vendor_call() -> None:
    """A reject by the suppression list in stage 1 spends no PureCallerID call."""
    suppression = {
        "id": "dnc",
        "kind": "suppression",
        "sort": 1,
        "options": {"list": "dnc"},
        "rules": ["reject when suppressed is true"],
    }
    records, fake = screen_leads(
        [suppression, pcid_settings()],
        lead("2125550150", "L1"),
        lead("2125550102", "L2"),
    )
    fake.assert_not_called(phone="2125550150")
    fake.assert_called(1)
    assert records[0].decision is Action.REJECT
    assert records[0].decided_by == "dnc:rule-1"
    assert records[0].integration("pcid").status is IntegrationStatus.SKIPPED
    assert records[1].decision is Action.REJECT
    assert records[1].decided_by == "pcid:rule-1"


def test_two_credential_sets_in_parallel() -> None:
    """Two PureCallerID integrations in one stage each send with their own credentials."""
    first = pcid_settings(id="east", sort=1)
    second = pcid_settings(id="west", sort=1, dialect="public")
    second["credentials"] = {**second["credentials"], "campaign_id": "C2", "dialer_list_id": "9"}
    (record,), fake = screen_leads([first, second], lead("2125550105"))
    assert {r.fields["campaignId"] for r in fake.calls_for()} == {"C1", "C2"}
    assert {r.dialect for r in fake.calls_for()} == {"leadexec", "public"}
    assert record.decision is Action.QA


def test_pool_reused_across_leads() -> None:
    """One pool serves every lead (every credential set shares it)."""
    fake = FakePureCallerID(api_token=TOKEN)
    pcid = PureCallerIDIntegration(transport=fake.async_transport())
    campaigns = load_settings(
        {"campaigns": {"c": {"integrations": [pcid_settings()]}}}, kinds=[pcid]
    )

    async def go() -> None:
        screener = AsyncScreener(
            settings=InMemorySettings(campaigns.values()),
            store=InMemoryResultStore(),
            integrations=[pcid],
        )
        drivers = set()
        for i in range(5):
            await screener.screen(lead("2125550000", f"L{i}"))
            drivers.add(id(pcid._driver))
        assert len(drivers) == 1
        assert pcid._driver is not None
        http = pcid._driver.http
        await screener.aclose()
        assert http.is_closed
        assert pcid._driver is None  # last: mypy takes it for always false (narrowed above)

    asyncio.run(go())
    fake.assert_called(5)


def test_deadline_caps_the_vendor_call() -> None:
    """A slow vendor is cut off by the campaign deadline and recorded as a timeout."""
    fake = FakePureCallerID(api_token=TOKEN, latency=1.0)
    pcid = PureCallerIDIntegration(transport=fake.async_transport())
    campaigns = load_settings(
        {"campaigns": {"c": {"deadline": 0.1, "integrations": [pcid_settings()]}}}, kinds=[pcid]
    )

    async def go() -> ScreeningRecord:
        screener = AsyncScreener(
            settings=InMemorySettings(campaigns.values()),
            store=InMemoryResultStore(),
            integrations=[pcid],
        )
        return await screener.screen(lead("2125550000"))

    record = asyncio.run(go())
    result = record.integration("pcid")
    assert result.error_class == "timeout"
    # The client's own timeout wins over the screener's guard: the attempt is on record.
    assert [a.outcome for a in result.attempts] == ["read_timeout"]
    assert result.outcome_unknown is True
    assert record.duration < 0.5
