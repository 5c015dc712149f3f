"""One screening per lead across workers: claims, takeovers, append-only versions, bounds."""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from _scripted import SCRIPTED_FIELDS, Scripted, scripted
from purecallerid import (
    Action,
    AsyncScreener,
    CampaignSettings,
    Credentials,
    InMemoryResultStore,
    InMemorySettings,
    IntegrationSettings,
    InvalidLeadError,
    Lead,
    PostgresResultStore,
    PureCallerIDIntegration,
    RecordBounds,
    RuleSet,
    ScreeningRecord,
    SQLiteResultStore,
    converter,
    purecallerid_preset,
)
from purecallerid._bounds import bound_answer
from purecallerid.testing import CannedAnswer, FakePureCallerID
from purecallerid.typing import IntegrationAnswer, ResultStore


def campaigns(*integrations: IntegrationSettings, **campaign: Any) -> InMemorySettings:
    return InMemorySettings(
        [
            CampaignSettings(campaign_id=name, integrations=integrations, **campaign)
            for name in ("c", "other")
        ]
    )


def lead(lead_id: str = "L1", campaign_id: str = "c", **fields: Any) -> Lead:
    return Lead(lead_id=lead_id, campaign_id=campaign_id, fields={"phone": "2125550100", **fields})


def test_two_workers_sharing_a_store_make_one_call() -> None:
    """Two screeners (two workers) posting one lead at once: one vendor call, one record."""
    fake = Scripted()
    store = InMemoryResultStore(check_json=True)
    settings = campaigns(scripted("a", latency=0.05))

    async def go() -> list[ScreeningRecord]:
        async with (
            AsyncScreener(settings=settings, store=store, integrations=[fake], owner="w1") as one,
            AsyncScreener(settings=settings, store=store, integrations=[fake], owner="w2") as two,
        ):
            return list(await asyncio.gather(one.screen(lead()), two.screen(lead())))

    first, second = asyncio.run(go())
    assert fake.calls == ["a"]
    assert first == second
    assert first.version == 1


def test_a_dead_workers_lead_is_taken_over_with_the_doubt_recorded() -> None:
    """A claim left by a worker that died is taken over after its lease, outcome unknown."""
    fake = Scripted()
    store = InMemoryResultStore()
    settings = campaigns(scripted("a"))

    async def go() -> ScreeningRecord:
        dead = await store.claim("c", "L1", owner="dead", lease=0.2, seen_version=0)
        assert dead.granted
        async with AsyncScreener(settings=settings, store=store, integrations=[fake]) as screener:
            return await screener.screen(lead())

    record = asyncio.run(go())
    assert fake.calls == ["a"]
    assert record.outcome_unknown is True
    assert record.note is not None
    assert "may have reached the vendors" in record.note
    assert record.decision is Action.ACCEPT
    assert all("may have reached" not in reason for reason in record.reasons)


def test_force_appends_a_version_and_keeps_the_first() -> None:
    """A forced re-screening never overwrites: the first record stays in the history."""
    fake = Scripted()
    store = InMemoryResultStore()

    async def go() -> tuple[ScreeningRecord, ScreeningRecord, list[ScreeningRecord]]:
        settings = campaigns(scripted("a"))
        async with AsyncScreener(settings=settings, store=store, integrations=[fake]) as screener:
            first = await screener.screen(lead())
            again = await screener.screen(lead(), force=True)
            same = await screener.screen(lead())
            assert same == again
            return first, again, await store.history("c", "L1")

    first, again, history = asyncio.run(go())
    assert (first.version, again.version) == (1, 2)
    assert history == [first, again]
    assert fake.calls == ["a", "a"]


def test_a_record_older_than_max_age_is_screened_again() -> None:
    """Past the campaign's max_age a posted lead is screened again (a new version)."""
    fake = Scripted()
    store = InMemoryResultStore()
    settings = campaigns(scripted("a"), max_age=0.1)

    async def go() -> list[int]:
        async with AsyncScreener(settings=settings, store=store, integrations=[fake]) as screener:
            versions = [(await screener.screen(lead())).version]
            versions.append((await screener.screen(lead())).version)
            await asyncio.sleep(0.15)
            versions.append((await screener.screen(lead())).version)
            return versions

    assert asyncio.run(go()) == [1, 1, 2]
    assert fake.calls == ["a", "a"]


def test_max_age_reads_units() -> None:
    """max_age takes seconds or text with a unit."""
    assert CampaignSettings(campaign_id="c", max_age="31d").max_age == 31 * 86400
    assert CampaignSettings(campaign_id="c", max_age="12h").max_age == 12 * 3600
    assert CampaignSettings(campaign_id="c", max_age=90).max_age == 90.0
    assert CampaignSettings(campaign_id="c").max_age is None


def test_the_same_lead_id_in_another_campaign_is_screened_under_its_rules() -> None:
    """A lead id reused in another campaign is a new screening, not the first one's record."""
    fake = Scripted()
    store = InMemoryResultStore()
    settings = InMemorySettings(
        [
            CampaignSettings(campaign_id="c", integrations=[scripted("a", "ok")]),
            CampaignSettings(campaign_id="other", integrations=[scripted("a", "bad")]),
        ]
    )

    async def go() -> tuple[ScreeningRecord, ScreeningRecord]:
        async with AsyncScreener(settings=settings, store=store, integrations=[fake]) as screener:
            return await screener.screen(lead()), await screener.screen(lead(campaign_id="other"))

    mine, theirs = asyncio.run(go())
    assert (mine.decision, theirs.decision) == (Action.ACCEPT, Action.REJECT)
    assert fake.calls == ["a", "a"]


def test_the_record_holds_the_phone_in_e164() -> None:
    """Records are found by phone: the screener keeps the lead's phone in E.164."""
    fake = Scripted()
    store = InMemoryResultStore()

    async def go() -> ScreeningRecord:
        settings = campaigns(scripted("a"))
        async with AsyncScreener(settings=settings, store=store, integrations=[fake]) as screener:
            return await screener.screen(lead(phone="(212) 555-0147"))

    assert asyncio.run(go()).phone == "+12125550147"


class Hostile:
    """An integration whose answer is whatever the test gives it; counts its calls."""

    kind = "hostile"
    fields = SCRIPTED_FIELDS

    def __init__(self, answer: Mapping[str, Any], raw: str = "") -> None:
        self.answer = answer
        self.raw = raw
        self.calls = 0

    def check_settings(self, settings: IntegrationSettings) -> list[str]:
        return []

    async def screen(
        self, lead: Lead, settings: IntegrationSettings, *, deadline: float
    ) -> IntegrationAnswer:
        self.calls += 1
        return IntegrationAnswer(answer=self.answer, raw=self.raw)

    async def aclose(self) -> None:
        return None


def _nested(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {"verdict": "ok"}
    for _ in range(depth):
        value = {"x": value, "verdict": "ok"}
    return value


HOSTILE_SETTINGS = IntegrationSettings(
    id="h", kind="hostile", rules=RuleSet.empty(SCRIPTED_FIELDS), failure_policy="qa"
)
RECORD_CAP = 1_000_000  # characters of a record's JSON, with the default bounds and one answer


def _stores(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> ResultStore:
    if kind == "sqlite":
        return SQLiteResultStore(tmp_path / "r.db")
    if kind == "postgres":
        return PostgresResultStore(request.getfixturevalue("postgres_url"))
    return InMemoryResultStore(check_json=True)


@pytest.mark.parametrize("kind", ["memory", "sqlite", "postgres"])
@pytest.mark.parametrize(
    "answer",
    [
        pytest.param(_nested(1000), id="1000-deep"),
        pytest.param({"verdict": "ok", "blob": "x" * 50_000_000}, id="50MB-text"),
        pytest.param({"verdict": "ok", **{f"k{n}": n for n in range(200_000)}}, id="200k-keys"),
        pytest.param({"verdict": "ok\x00", "nan": math.nan, "inf": -math.inf}, id="nul-nan"),
    ],
)
def test_a_hostile_answer_is_recorded_bounded_once(
    kind: str, answer: dict[str, Any], tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """Every lead gets one record under the cap, whatever came; posting again calls nobody."""
    hostile = Hostile(answer, raw="y" * 5_000_000)
    settings = InMemorySettings(
        [CampaignSettings(campaign_id="c", integrations=[HOSTILE_SETTINGS])]
    )

    async def go() -> list[ScreeningRecord]:
        store = _stores(kind, tmp_path, request)
        async with AsyncScreener(
            settings=settings, store=store, integrations=[hostile]
        ) as screener:
            records = [await screener.screen(lead()) for _ in range(3)]
        if isinstance(store, PostgresResultStore):
            await store.aclose()
        return records

    records = asyncio.run(go())
    assert hostile.calls == 1
    assert records[0] == records[1] == records[2]
    record = records[0]
    assert record.version == 1
    assert record.integrations[0].truncated is not None
    assert len(json.dumps(converter.unstructure(record))) < RECORD_CAP


def test_an_answer_no_record_can_hold_is_an_invalid_response() -> None:
    """An answer holding bytes (or another non-JSON value) is recorded as invalid_response."""
    hostile = Hostile({"verdict": b"ok"})
    settings = InMemorySettings(
        [CampaignSettings(campaign_id="c", integrations=[HOSTILE_SETTINGS])]
    )

    async def go() -> ScreeningRecord:
        store = InMemoryResultStore(check_json=True)
        async with AsyncScreener(
            settings=settings, store=store, integrations=[hostile]
        ) as screener:
            return await screener.screen(lead())

    record = asyncio.run(go())
    assert record.integrations[0].error_class == "invalid_response"
    assert record.decision is Action.QA


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=6) | st.dictionaries(st.text(max_size=8), children, max_size=6)
    ),
    max_leaves=80,
)


def _texts(value: Any) -> Iterator[str]:
    """Every key and text in a decoded JSON value."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, child in value.items():
            yield key
            yield from _texts(child)
    elif isinstance(value, list):
        for child in value:
            yield from _texts(child)


@given(
    st.dictionaries(st.text(max_size=8), _JSON, max_size=8), st.integers(1, 6), st.integers(1, 40)
)
@example({"\\u0000": None}, 1, 1)  # the text "\u0000", no NUL: it stays (found in CI)
@example({"\x00": "a\x00"}, 1, 1)  # NULs: replaced
def test_bounding_any_json_answer_gives_strict_json_within_the_bounds(
    answer: dict[str, Any], depth: int, values: int
) -> None:
    """Any JSON answer bounds to strict JSON (no NaN, no NUL), no deeper and no larger than set."""
    bounds = RecordBounds(max_depth=depth, max_values=values, max_string=20, max_text=100)
    bounded, truncated = bound_answer(answer, bounds)
    text = json.dumps(bounded, allow_nan=False)
    # No NUL character in any key or text, read back from the JSON (the six characters
    # "\u0000" are text like any other: escaped as "\\u0000", they may stay).
    assert not any("\x00" in part for part in _texts(json.loads(text)))

    def measure(value: Any, level: int) -> tuple[int, int]:
        if isinstance(value, dict):
            children = list(value.values())
        elif isinstance(value, list):
            children = value
        else:
            return level, 1
        deepest, count = level, 0
        for child in children:
            d, c = measure(child, level + 1)
            deepest, count = max(deepest, d), count + c
        return deepest, count + (1 if level > 1 else 0)

    deepest, count = measure(bounded, 1)
    assert deepest <= depth + 1
    assert count <= values + 1
    if truncated is None:
        assert bounded == answer


@pytest.mark.parametrize(
    ("body", "status"),
    [
        pytest.param(
            '{"status":"Accepted","x":' + '{"a":' * 1000 + "1" + "}" * 1000 + "}",
            "error",
            id="1000-deep",
        ),
        pytest.param(
            # Over the client's 1 MiB read limit: refused as invalid_response, and recorded.
            json.dumps({"status": "Accepted", "blob": "x" * 50_000_000}),
            "error",
            id="50MB",
        ),
    ],
)
def test_a_hostile_vendor_answer_through_the_client_is_recorded_once(
    body: str, status: str, tmp_path: Path
) -> None:
    """Through the real client and SQLite: decided, recorded under the cap, one vendor call."""
    fake = FakePureCallerID()
    fake.program("2125550100", CannedAnswer.raw(body, content_type="application/json"))
    pcid = PureCallerIDIntegration(transport=fake.async_transport())
    campaign = CampaignSettings(
        campaign_id="c",
        integrations=[
            IntegrationSettings(
                id="p",
                kind="purecallerid",
                base_url="https://p.test",
                credentials=Credentials(api_token="tok-12345678", campaign_id="C", list_name="L"),
                rules=purecallerid_preset(),
            )
        ],
    )

    async def go() -> list[ScreeningRecord]:
        store = SQLiteResultStore(tmp_path / "r.db")
        settings = InMemorySettings([campaign])
        async with AsyncScreener(settings=settings, store=store, integrations=[pcid]) as screener:
            records = [await screener.screen(lead(zip="02134")) for _ in range(3)]
        store.close()
        return records

    records = asyncio.run(go())
    assert records[0] == records[1] == records[2]
    assert records[0].integrations[0].status == status
    assert len(json.dumps(converter.unstructure(records[0]))) < RECORD_CAP
    fake.assert_called(1)


def test_one_lead_id_in_two_campaigns_at_once_is_two_screenings() -> None:
    """The same lead id posted to two campaigns concurrently: two calls, two records."""
    fake = Scripted()
    store = InMemoryResultStore()
    settings = campaigns(scripted("a", latency=0.02))

    async def go() -> tuple[ScreeningRecord, ScreeningRecord]:
        async with AsyncScreener(settings=settings, store=store, integrations=[fake]) as screener:
            one, two = await asyncio.gather(
                screener.screen(lead()), screener.screen(lead(campaign_id="other"))
            )
            return one, two

    one, two = asyncio.run(go())
    assert fake.calls == ["a", "a"]
    assert (one.campaign_id, two.campaign_id) == ("c", "other")


class Buggy(Scripted):
    """Answers once (billed), then raises a host bug on the next integration."""

    async def screen(
        self, lead: Lead, settings: IntegrationSettings, *, deadline: float
    ) -> IntegrationAnswer:
        if settings.id == "b" and len(self.calls) < 2:
            self.calls.append(settings.id)
            raise RuntimeError("host bug")
        return await super().screen(lead, settings, deadline=deadline)


def test_a_host_bug_after_a_billed_call_keeps_the_claim_and_flags_the_retry() -> None:
    """A host bug after a call left: raised, the claim kept, the next screening flagged."""
    fake = Buggy()
    store = InMemoryResultStore()
    settings = campaigns(scripted("a"), scripted("b", sort=2))

    async def go() -> ScreeningRecord:
        async with AsyncScreener(settings=settings, store=store, integrations=[fake]) as screener:
            with pytest.raises(RuntimeError, match="host bug"):
                await screener.screen(lead())
            assert await store.load("c", "L1") is None
            # Another worker cannot take the lead while the claim's lease runs.
            other = await store.claim("c", "L1", owner="other", lease=30, seen_version=0)
            assert not other.granted
            return await screener.screen(lead())

    record = asyncio.run(go())
    assert record.outcome_unknown is True
    assert fake.calls.count("a") == 2


@pytest.mark.parametrize("lead_id", ["x" * 257, "bad\ud800id", "nul\x00id"])
def test_a_lead_id_no_database_can_key_is_an_invalid_lead(lead_id: str) -> None:
    """Too long, a lone surrogate, a NUL: refused before any call."""
    fake = Scripted()

    async def go() -> None:
        settings = campaigns(scripted("a"))
        store = InMemoryResultStore()
        async with AsyncScreener(settings=settings, store=store, integrations=[fake]) as screener:
            await screener.screen(Lead(lead_id=lead_id, campaign_id="c", fields={}))

    with pytest.raises(InvalidLeadError):
        asyncio.run(go())
    assert fake.calls == []


def test_a_forced_rescreening_of_a_stale_version_makes_no_second_call(tmp_path: Path) -> None:
    """Two workers decide to re-screen the same failed lead: the second finds a newer record
    than the one it read, and returns it without calling the vendor."""
    from purecallerid import (  # noqa: PLC0415  # noqa: PLC0415  # noqa: PLC0415
        AsyncScreener,
        CampaignSettings,
        Credentials,
        InMemorySettings,
        IntegrationSettings,
        Lead,
        PureCallerIDIntegration,
        SQLiteResultStore,
    )
    from purecallerid.testing import CannedAnswer, FakePureCallerID  # noqa: PLC0415

    fake = FakePureCallerID()
    fake.program(
        "212-555-0150", CannedAnswer.status(500), CannedAnswer.json({"status": "Accepted"})
    )
    campaign = CampaignSettings(
        campaign_id="c",
        integrations=[
            IntegrationSettings(
                id="pcid",
                kind="purecallerid",
                base_url=fake.base_url,
                credentials=Credentials(api_token="t-0123456789", campaign_id="C", list_name="L"),
            )
        ],
    )
    db = tmp_path / "records.db"
    lead = Lead(lead_id="L1", campaign_id="c", fields={"phone": "212-555-0150", "zip": "10001"})

    async def worker() -> AsyncScreener:
        return AsyncScreener(
            settings=InMemorySettings([campaign]),
            store=SQLiteResultStore(db),
            integrations=[PureCallerIDIntegration(transport=fake.async_transport())],
        )

    async def run() -> tuple[int, int, int]:
        first, second = await worker(), await worker()
        failed = await first.screen(lead)  # 500: decided by the failure policy
        seen = failed.version
        again = await first.screen(lead, force_version=seen)  # re-screened: version 2
        late = await second.screen(lead, force_version=seen)  # read v1 earlier: no call
        await first.aclose()
        await second.aclose()
        return again.version, late.version, len(fake.requests)

    again, late, calls = asyncio.run(run())
    assert (again, late) == (2, 2)
    assert calls == 2
