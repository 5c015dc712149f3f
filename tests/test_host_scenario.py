"""Issue 15's host, end to end, with no glue beyond the protocols.

A host (a Starlette-like app, here plain asyncio) keeps its campaign settings in its own
SQLite table, its records in its own database file, its Do-Not-Call list in a table behind an
async lookup; a campaign runs PureCallerID and the calling window in parallel; two event loops
(two worker threads, each with its own screener) share the database; a restart finds every
record. Plus the loop-safety rules: a screener used from a second loop, or after ``aclose``,
raises a clear ``RuntimeError``.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from purecallerid import (
    Action,
    AsyncScreener,
    CallingWindowIntegration,
    CampaignSettings,
    SettingsError,
    SQLiteResultStore,
    SuppressionEntry,
    SuppressionIntegration,
    normalize_phone,
)
from purecallerid.testing import FakePureCallerID

NOON_EASTERN = datetime(2026, 12, 1, 17, 0, tzinfo=UTC)
TOKEN = "host-token-0123456789"


class HostSettings:
    """The host's provider: one row per campaign, the settings as JSON, 0/1 for booleans."""

    def __init__(self, db: Path) -> None:
        self.db = db
        with sqlite3.connect(db) as conn:
            conn.execute("CREATE TABLE IF NOT EXISTS campaigns (id TEXT PRIMARY KEY, body TEXT)")

    def save(self, campaign_id: str, body: dict[str, Any]) -> None:
        with sqlite3.connect(self.db) as conn:
            conn.execute(
                "INSERT OR REPLACE INTO campaigns VALUES (?, ?)", (campaign_id, json.dumps(body))
            )

    async def get_campaign(self, campaign_id: str) -> CampaignSettings | None:
        def read() -> str | None:
            with sqlite3.connect(self.db) as conn:
                row = conn.execute(
                    "SELECT body FROM campaigns WHERE id = ?", (campaign_id,)
                ).fetchone()
            return None if row is None else str(row[0])

        body = await asyncio.to_thread(read)
        if body is None:
            return None
        return CampaignSettings(campaign_id=campaign_id, **json.loads(body))


class HostDNC:
    """The host's own Do-Not-Call table, read without blocking the loop."""

    def __init__(self, db: Path) -> None:
        self.db = db
        with sqlite3.connect(db) as conn:
            conn.execute("CREATE TABLE IF NOT EXISTS dnc (phone TEXT PRIMARY KEY, why TEXT)")

    def add(self, phone: str, why: str) -> None:
        with sqlite3.connect(self.db) as conn:
            conn.execute("INSERT OR REPLACE INTO dnc VALUES (?, ?)", (normalize_phone(phone), why))

    async def lookup(self, phone: str) -> SuppressionEntry | None:
        def read() -> tuple[str, str] | None:
            with sqlite3.connect(self.db) as conn:
                row = conn.execute(
                    "SELECT phone, why FROM dnc WHERE phone = ?", (phone,)
                ).fetchone()
            return None if row is None else (str(row[0]), str(row[1]))

        row = await asyncio.to_thread(read)
        return None if row is None else SuppressionEntry(phone=row[0], reason=row[1])


def campaign_body(fake: FakePureCallerID) -> dict[str, Any]:
    """What the host's settings UI saved: plain data, as its database gives it back."""
    return {
        "deadline": "10",
        "integrations": [
            {
                "kind": "suppression",
                "sort": 1,
                "options": {"list": "house"},
                "rules": 'reject when suppressed is true because "House DNC: {reason}"',
            },
            {
                "kind": "purecallerid",
                "sort": 2,
                "enabled": 1,
                "base_url": fake.base_url,
                "credentials": {"api_token": TOKEN, "campaign_id": "C1", "list_name": "Main"},
                "rules": ['reject when status = "Rejected" and reason = "DNC" because "DNC"'],
                "failure_policy": "QA",
            },
            {
                "kind": "calling_window",
                "sort": 2,
                "rules": 'flag when within_calling_window is false because "outside the window"',
            },
        ],
    }


def screener_for(db: Path, fake: FakePureCallerID, dnc: HostDNC) -> AsyncScreener:
    async def no_wait(_: float) -> None:
        return None

    from purecallerid import PureCallerIDIntegration  # noqa: PLC0415

    return AsyncScreener(
        settings=HostSettings(db),
        store=SQLiteResultStore(db),
        integrations=[
            PureCallerIDIntegration(transport=fake.async_transport(), sleep=no_wait),
            SuppressionIntegration(lists={"house": dnc}),
            CallingWindowIntegration(now=lambda: NOON_EASTERN),
        ],
    )


def lead(lead_id: str, phone: str) -> Any:
    from purecallerid import Lead  # noqa: PLC0415

    return Lead(lead_id=lead_id, campaign_id="solar", fields={"phone": phone, "zip": "10001"})


def test_the_host_scenario(tmp_path: Path) -> None:
    db = tmp_path / "host.db"
    fake = FakePureCallerID(api_token=TOKEN)
    dnc = HostDNC(db)
    dnc.add("212-555-0150", "asked not to be called")
    HostSettings(db).save("solar", campaign_body(fake))

    # Two worker threads, each with its own event loop and screener, over one database.
    results: dict[str, Any] = {}

    def worker(name: str, leads: list[Any]) -> None:
        async def run() -> None:
            async with screener_for(db, fake, dnc) as screener:
                for one in leads:
                    results[f"{name}:{one.lead_id}"] = await screener.screen(one)

        asyncio.run(run())

    shared = lead("L-shared", "212-555-0104")
    threads = [
        threading.Thread(target=worker, args=("a", [lead("L1", "212-555-0150"), shared])),
        threading.Thread(target=worker, args=("b", [lead("L2", "212-555-0102"), shared])),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    house = results["a:L1"]
    assert house.decision is Action.REJECT
    assert house.reasons == ("House DNC: asked not to be called",)
    assert house.integration("purecallerid").status.value == "skipped"  # never paid for
    assert results["b:L2"].decision is Action.REJECT
    assert results["b:L2"].integration("calling_window").answer is not None
    # The lead both workers got: screened once, one vendor call, the same record for both.
    assert results["a:L-shared"].version == results["b:L-shared"].version == 1
    fake.assert_called(1, phone="212-555-0104")
    assert results["a:L-shared"].decision is Action.ACCEPT

    # A restart over the same database: every record found, no vendor call.
    calls = len(fake.requests)

    async def restart() -> list[Any]:
        async with screener_for(db, fake, dnc) as screener:
            return [
                await screener.screen(lead(i, p))
                for i, p in (("L1", "212-555-0150"), ("L2", "212-555-0102"))
            ]

    again = asyncio.run(restart())
    assert [r.version for r in again] == [1, 1]
    assert len(fake.requests) == calls


def test_a_broken_row_is_a_lead_sent_to_qa_with_the_problem_named(tmp_path: Path) -> None:
    db = tmp_path / "host.db"
    fake = FakePureCallerID(api_token=TOKEN)
    body = campaign_body(fake)
    body["integrations"][1]["enabled"] = "maybe"
    HostSettings(db).save("solar", body)
    with pytest.raises(SettingsError, match=r"integrations\[1\]\.enabled"):
        CampaignSettings(campaign_id="solar", **body)

    async def run() -> Any:
        async with screener_for(db, fake, HostDNC(db)) as screener:
            return await screener.screen(lead("L1", "212-555-0104"))

    record = asyncio.run(run())
    assert record.decision is Action.QA
    assert record.note is not None
    assert "enabled" in record.note
    fake.assert_not_called()


def test_a_screener_belongs_to_one_event_loop(tmp_path: Path) -> None:
    db = tmp_path / "host.db"
    fake = FakePureCallerID(api_token=TOKEN)
    HostSettings(db).save("solar", campaign_body(fake))
    screener = screener_for(db, fake, HostDNC(db))
    first = asyncio.run(screener.screen(lead("L1", "212-555-0104")))
    assert first.decision is Action.ACCEPT
    with pytest.raises(RuntimeError, match="build one per event loop"):
        asyncio.run(screener.screen(lead("L2", "212-555-0104")))


def test_a_closed_screener_does_not_reopen(tmp_path: Path) -> None:
    db = tmp_path / "host.db"
    fake = FakePureCallerID(api_token=TOKEN)
    HostSettings(db).save("solar", campaign_body(fake))

    async def run() -> None:
        screener = screener_for(db, fake, HostDNC(db))
        await screener.screen(lead("L1", "212-555-0104"))
        await screener.aclose()
        with pytest.raises(RuntimeError, match="closed"):
            await screener.screen(lead("L2", "212-555-0104"))

    asyncio.run(run())
