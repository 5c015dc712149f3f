"""Write-back: a number goes onto the house list when a named rule fired on an answer."""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from pathlib import Path
from typing import Any

import attrs
import pytest

from _redis import RedisServer
from purecallerid import (
    AsyncScreener,
    ConfigurationError,
    InMemoryResultStore,
    InMemorySettings,
    InMemorySuppressionList,
    IntegrationStatus,
    Lead,
    PostgresSuppressionList,
    RedisSuppressionList,
    ScreeningRecord,
    SQLiteSuppressionList,
    SuppressionEntry,
    SuppressionIntegration,
    SuppressionListError,
    WritableSuppressionList,
    load_settings,
    record_to_suppression,
)

LITIGATOR = "212-555-0166"


class FailingList:
    """A list whose database is broken."""

    def add(self, phone: str, reason: str | None = None) -> None:
        raise sqlite3.OperationalError("database disk image is malformed")


def _screen(
    house: Any, phones: list[str], litigator_rule: str = "reject when suppressed is true"
) -> list[ScreeningRecord]:
    """Screen with the house list (stage 1) and a litigator list (stage 2, its own kind)."""
    dnc = SuppressionIntegration({"house": house})
    litigators = SuppressionIntegration(
        {"litigators": InMemorySuppressionList([LITIGATOR])}, kind="litigator_check"
    )
    document = {
        "campaigns": {
            "solar": {
                "integrations": [
                    {
                        "id": "house-dnc",
                        "kind": "suppression",
                        "sort": 1,
                        "options": {"list": "house"},
                        "rules": ['on-list: reject when suppressed is true because "house DNC"'],
                    },
                    {
                        "id": "litigators",
                        "kind": "litigator_check",
                        "sort": 2,
                        "options": {"list": "litigators"},
                        "rules": [f'known-litigator: {litigator_rule} because "known litigator"'],
                    },
                ]
            }
        }
    }
    campaigns = load_settings(document, kinds=[dnc, litigators])

    async def main() -> list[ScreeningRecord]:
        async with AsyncScreener(
            settings=InMemorySettings(campaigns.values()),
            store=InMemoryResultStore(),
            integrations=[dnc, litigators],
        ) as screener:
            records = []
            for n, phone in enumerate(phones):
                lead = Lead(lead_id=str(n), campaign_id="solar", fields={"phone": phone})
                record = await screener.screen(lead)
                await record_to_suppression(record, house, rules=["litigators:known-litigator"])
                records.append(record)
            return records

    return asyncio.run(main())


def test_a_litigator_goes_onto_the_house_list() -> None:
    """Rejected by the litigator rule once: the next lead with that phone stops at stage 1."""
    house = InMemorySuppressionList()
    first, second, other = _screen(house, [LITIGATOR, "(212) 555-0166", "212-555-0150"])
    assert first.decided_by == "litigators:known-litigator"
    assert house.lookup("+12125550166") == SuppressionEntry(
        phone="+12125550166", reason="known litigator"
    )
    assert second.decided_by == "house-dnc:on-list"
    assert second.integration("litigators").status == "skipped"  # no second paid check
    assert other.decision == "accept"
    assert len(house) == 1


def test_a_flag_rule_can_write_back_without_rejecting() -> None:
    """The rule's action does not matter: a flag marks the number and lets the lead through."""
    house = InMemorySuppressionList()
    (record,) = _screen(house, [LITIGATOR], litigator_rule="flag when suppressed is true")
    assert record.decision == "flag"
    assert house.lookup("+12125550166") is not None


def test_sqlite_list_is_written_in_a_thread(tmp_path: Path) -> None:
    """A plain `add` (SQLite) is written too, and survives reopening."""
    house = SQLiteSuppressionList(tmp_path / "house.db")
    _screen(house, [LITIGATOR])
    house.close()
    again = SQLiteSuppressionList(tmp_path / "house.db")
    assert again.lookup("+12125550166") == SuppressionEntry(
        phone="+12125550166", reason="known litigator"
    )
    again.close()


def _record(house: InMemorySuppressionList, phone: str = LITIGATOR) -> ScreeningRecord:
    (record,) = _screen(house, [phone])
    return record


@pytest.mark.parametrize(
    ("rules", "added"),
    [
        ("litigators:known-litigator", True),
        (["litigators:*"], True),
        (["house-dnc:on-list", "litigators:known-litigator"], True),
        (["litigators:other-rule"], False),
        (["purecallerid:*"], False),
    ],
)
def test_only_the_named_rules_write_back(rules: Any, added: bool) -> None:
    """A rule by name, or every rule of an integration with `*`; others add nothing."""
    record = _record(InMemorySuppressionList())
    target = InMemorySuppressionList()
    entry = asyncio.run(record_to_suppression(record, target, rules=rules))
    assert (entry is not None) is added
    assert len(target) == int(added)


def test_the_reason_can_be_given() -> None:
    """An explicit reason replaces the rule's reason text."""
    record = _record(InMemorySuppressionList())
    target = InMemorySuppressionList()
    entry = asyncio.run(
        record_to_suppression(record, target, rules="litigators:*", reason="TCPA litigator")
    )
    assert entry == SuppressionEntry(phone="+12125550166", reason="TCPA litigator")


def test_a_failed_integration_never_writes_back() -> None:
    """An error whose `or unknown` rule fired (on unknown values) adds nothing."""
    record = _record(InMemorySuppressionList())
    litigators = record.integration("litigators")
    failed = attrs.evolve(
        litigators,
        status=IntegrationStatus.ERROR,
        rule_trace=tuple({**t, "outcome": "unknown"} for t in litigators.rule_trace),
    )
    unknown_match = attrs.evolve(
        litigators, rule_trace=tuple({**t, "outcome": "unknown"} for t in litigators.rule_trace)
    )
    target = InMemorySuppressionList()
    for changed in (failed, unknown_match):
        broken = attrs.evolve(record, integrations=(record.integrations[0], changed))
        assert asyncio.run(record_to_suppression(broken, target, rules="litigators:*")) is None
    without_phone = attrs.evolve(record, phone=None)
    assert asyncio.run(record_to_suppression(without_phone, target, rules="litigators:*")) is None
    assert len(target) == 0


@pytest.mark.parametrize("rules", ["litigators", ":rule", "litigators:", []])
def test_rule_names_are_checked(rules: Any) -> None:
    """A rule must be named `integration:rule` (or `integration:*`)."""
    record = _record(InMemorySuppressionList())
    with pytest.raises(ConfigurationError, match="rules"):
        asyncio.run(record_to_suppression(record, InMemorySuppressionList(), rules=rules))


def test_a_list_that_cannot_be_written_is_a_library_error() -> None:
    """A broken database is a SuppressionListError for the host to handle."""
    record = _record(InMemorySuppressionList())
    target: WritableSuppressionList = FailingList()
    with pytest.raises(SuppressionListError, match="could not be written: database disk image"):
        asyncio.run(record_to_suppression(record, target, rules="litigators:*"))


def test_write_back_to_postgres(postgres_url: str) -> None:
    """The PostgreSQL list takes a written-back number (async `add`)."""
    record = _record(InMemorySuppressionList())

    async def main() -> SuppressionEntry | None:
        house = PostgresSuppressionList(postgres_url, create=True)
        try:
            await record_to_suppression(record, house, rules="litigators:*")
            return await house.lookup("+12125550166")
        finally:
            await house.aclose()

    assert asyncio.run(main()) == SuppressionEntry(phone="+12125550166", reason="known litigator")


def test_write_back_to_redis(redis_server: RedisServer) -> None:
    """The Redis list takes a written-back number, with its reason in the hash."""
    record = _record(InMemorySuppressionList())

    async def main() -> SuppressionEntry | None:
        key = f"wb-{uuid.uuid4().hex}"
        house = RedisSuppressionList(redis_server.url, key=key, reasons=f"{key}:reasons")
        try:
            await record_to_suppression(record, house, rules="litigators:*")
            return await house.lookup("+12125550166")
        finally:
            await house.aclose()

    assert asyncio.run(main()) == SuppressionEntry(phone="+12125550166", reason="known litigator")


def test_a_shadow_integration_never_writes_back() -> None:
    """A trial's rule matched: the number stays off the list, the trial changes nothing."""
    record = _record(InMemorySuppressionList())
    trial = attrs.evolve(record.integration("litigators"), shadow=True)
    on_trial = attrs.evolve(record, integrations=(record.integrations[0], trial))
    target = InMemorySuppressionList()
    assert asyncio.run(record_to_suppression(on_trial, target, rules="litigators:*")) is None
    assert len(target) == 0


def test_a_campaign_rule_writes_back_by_its_name() -> None:
    """A campaign rule is named as in decided_by: campaign:<rule id>."""
    house = InMemorySuppressionList()
    dnc = SuppressionIntegration({"house": house})
    litigators = SuppressionIntegration(
        {"litigators": InMemorySuppressionList([LITIGATOR])}, kind="litigator_check"
    )
    document = {
        "campaigns": {
            "solar": {
                "rules": [
                    (
                        "both-lists: flag when litigators.suppressed is true and "
                        'lead.source = "aged" because "aged litigator lead"'
                    )
                ],
                "integrations": [
                    {"id": "house-dnc", "kind": "suppression", "options": {"list": "house"}},
                    {
                        "id": "litigators",
                        "kind": "litigator_check",
                        "sort": 2,
                        "options": {"list": "litigators"},
                    },
                ],
            }
        }
    }
    campaigns = load_settings(document, kinds=[dnc, litigators])

    async def main() -> tuple[SuppressionEntry | None, SuppressionEntry | None]:
        async with AsyncScreener(
            settings=InMemorySettings(campaigns.values()),
            store=InMemoryResultStore(),
            integrations=[dnc, litigators],
        ) as screener:
            fields = {"phone": LITIGATOR, "source": "aged"}
            record = await screener.screen(Lead(lead_id="1", campaign_id="solar", fields=fields))
            named = await record_to_suppression(record, house, rules="campaign:both-lists")
            other = await record_to_suppression(record, house, rules="campaign:other")
            return named, other

    named, other = asyncio.run(main())
    assert named == SuppressionEntry(phone="+12125550166", reason="aged litigator lead")
    assert other is None
