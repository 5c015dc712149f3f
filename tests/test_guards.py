"""The screener's guards around any integration: quota, rate limit, circuit breaker, cache."""

from __future__ import annotations

import asyncio
import json
import statistics
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from purecallerid import (
    Action,
    APIConnectionError,
    AsyncScreener,
    Attempt,
    AuthenticationError,
    CacheSettings,
    CampaignSettings,
    CircuitBreakerSettings,
    CircuitOpenError,
    Credentials,
    Exchange,
    FieldRegistry,
    FieldSpec,
    FieldType,
    GuardEvent,
    InMemoryResultStore,
    InMemorySettings,
    InMemoryStateBackend,
    IntegrationSettings,
    IntegrationStatus,
    Lead,
    MappingError,
    ObserverEvent,
    QuotaExhaustedError,
    QuotaSettings,
    RateLimitError,
    RateLimitSettings,
    RequestRecord,
    ScreeningRecord,
    ServerError,
    SQLiteStateBackend,
    StateUnavailableError,
    ThrottledError,
    converter,
    error_class,
)
from purecallerid._guards.guards import _slow_downs
from purecallerid._guards.keys import cache_key, credential_key, endpoint_key, vendor_day
from purecallerid.typing import IntegrationAnswer

FIELDS = FieldRegistry(
    integration="counting", fields=(FieldSpec(name="verdict", type=FieldType.STRING),)
)


class Counting:
    """An integration that counts its calls; ``failures`` are raised first, one per call."""

    kind = "counting"
    fields = FIELDS

    def __init__(self, *, latency: float = 0.0, failures: list[BaseException] | None = None):
        self.latency = latency
        self.failures = list(failures or [])
        self.calls: list[float] = []
        self.cacheable = True

    def check_settings(self, settings: IntegrationSettings) -> list[str]:
        return []

    async def screen(
        self, lead: Lead, settings: IntegrationSettings, *, deadline: float
    ) -> IntegrationAnswer:
        self.calls.append(time.monotonic())
        await asyncio.sleep(self.latency)
        if self.failures:
            raise self.failures.pop(0)
        return IntegrationAnswer(
            answer={"verdict": "ok"}, raw='{"verdict": "ok"}', cacheable=self.cacheable
        )

    async def aclose(self) -> None:
        return None


class Events:
    """An observer that also hears the guards' events (an EventObserver)."""

    def __init__(self) -> None:
        self.events: list[tuple[str, Mapping[str, Any]]] = []

    def on_integration_result(self, lead: Lead, record: Any) -> None:
        return None

    def on_decision(self, record: ScreeningRecord) -> None:
        return None

    def observe(self, event: ObserverEvent) -> None:
        if isinstance(event, GuardEvent):
            details = {"integration_id": event.integration_id, "kind": event.kind}
            self.on_event(event.name, {**details, **event.details})

    def on_event(self, name: str, details: Mapping[str, Any]) -> None:
        self.events.append((name, details))

    def names(self) -> list[str]:
        return [name for name, _ in self.events]


def guarded(**guards: Any) -> IntegrationSettings:
    """Settings of the counting integration with *guards* (and overrides)."""
    guards.setdefault("failure_policy", "qa")
    return IntegrationSettings(
        id="count",
        kind="counting",
        base_url="https://vendor.test",
        credentials=Credentials(api_token="secret-token-1"),
        **guards,
    )


def lead(number: int, phone: str | None = None, **fields: Any) -> Lead:
    return Lead(
        lead_id=f"L{number}",
        campaign_id="c",
        fields={"phone": phone or f"212734{number:04d}", **fields},
    )


def screen(
    settings: IntegrationSettings,
    leads: list[Lead],
    integration: Any,
    *,
    concurrent: bool = False,
    state: Any = None,
    observer: Any = None,
    store: Any = None,
    pause: float = 0.0,
) -> list[ScreeningRecord]:
    """Screen *leads* in order (or all at once) with one campaign of *settings*."""
    store = InMemoryResultStore(check_json=True) if store is None else store
    campaign = CampaignSettings(campaign_id="c", integrations=[settings])

    async def go() -> list[ScreeningRecord]:
        async with AsyncScreener(
            settings=InMemorySettings([campaign]),
            store=store,
            integrations=[integration],
            observer=observer,
            state=state,
        ) as screener:
            if concurrent:
                return list(await asyncio.gather(*(screener.screen(one) for one in leads)))
            records = []
            for one in leads:
                records.append(await screener.screen(one))
                await asyncio.sleep(pause)
            return records

    return asyncio.run(go())


def classes(records: list[ScreeningRecord]) -> list[str | None]:
    return [r.integration("count").error_class for r in records]


# -- quota -----------------------------------------------------------------------------


@pytest.mark.parametrize("policy", list(Action))
def test_spent_quota_means_no_call_and_the_failure_policy(policy: Action) -> None:
    """Past the daily quota no call is made; the lead is an error decided by its policy."""
    counting = Counting()
    records = screen(
        guarded(quota=QuotaSettings(daily=2), failure_policy=policy),
        [lead(i) for i in range(4)],
        counting,
    )
    assert len(counting.calls) == 2
    assert classes(records) == [None, None, "quota_exhausted", "quota_exhausted"]
    spent = records[3].integration("count")
    assert spent.status is IntegrationStatus.ERROR
    assert spent.outcome_unknown is False
    assert spent.attempts == ()
    assert records[3].decision is policy
    assert spent.decided_by == "failure_policy"


def test_concurrent_leads_share_the_quota_exactly() -> None:
    """Thirty leads at once against a quota of 7 make exactly 7 calls."""
    counting = Counting(latency=0.01)
    records = screen(
        guarded(quota=QuotaSettings(daily=7)), [lead(i) for i in range(30)], counting,
        concurrent=True,
    )  # fmt: skip
    assert len(counting.calls) == 7
    assert classes(records).count("quota_exhausted") == 23


def test_quota_given_back_when_the_request_never_left() -> None:
    """A connection refused (outcome known: not sent) gives its unit back."""
    counting = Counting(failures=[APIConnectionError("refused", outcome_unknown=False)])
    records = screen(guarded(quota=QuotaSettings(daily=1)), [lead(1), lead(2)], counting)
    assert classes(records) == ["connection", None]
    assert len(counting.calls) == 2


def test_quota_kept_when_the_request_may_have_arrived() -> None:
    """A dropped connection after sending (outcome unknown) counts as used."""
    counting = Counting(failures=[APIConnectionError("dropped", outcome_unknown=True)])
    records = screen(guarded(quota=QuotaSettings(daily=1)), [lead(1), lead(2)], counting)
    assert classes(records) == ["connection", "quota_exhausted"]


def test_timed_out_call_counts_against_the_quota() -> None:
    """A call that timed out may have been billed: its unit is not given back."""
    counting = Counting(latency=0.3)
    records = screen(
        guarded(quota=QuotaSettings(daily=1), timeout=0.05), [lead(1), lead(2)], counting
    )
    assert classes(records) == ["timeout", "quota_exhausted"]
    assert len(counting.calls) == 1


def test_unmappable_lead_gives_the_unit_back() -> None:
    """A lead refused before sending (a mapping error) does not spend the quota."""
    counting = Counting(failures=[MappingError([])])
    records = screen(guarded(quota=QuotaSettings(daily=1)), [lead(1), lead(2)], counting)
    assert classes(records) == ["mapping_error", None]


def test_quota_warning_and_exhaustion_are_reported_once() -> None:
    """The observer hears quota_warning at the threshold and quota_exhausted once."""
    events = Events()
    screen(
        guarded(quota=QuotaSettings(daily=5, warn_at=0.6)),
        [lead(i) for i in range(8)],
        Counting(),
        observer=events,
    )
    assert events.names() == ["quota_warning", "quota_exhausted"]
    warning = events.events[0][1]
    assert (warning["used"], warning["limit"], warning["integration_id"]) == (3, 5, "count")
    assert "secret-token-1" not in json.dumps(events.events)


def test_observer_without_on_event_keeps_working() -> None:
    """An observer with only the two original hooks is fine with guards that report events."""

    class Plain:
        def __init__(self) -> None:
            self.decisions = 0

        def on_integration_result(self, lead: Lead, record: Any) -> None:
            return None

        def on_decision(self, record: ScreeningRecord) -> None:
            self.decisions += 1

    plain = Plain()
    screen(guarded(quota=QuotaSettings(daily=0)), [lead(1)], Counting(), observer=plain)
    assert plain.decisions == 1


@pytest.mark.parametrize(
    ("moment", "day"),
    [
        ("2025-03-10T03:59:00+00:00", "2025-03-09"),  # 23:59 in New York, the day before
        ("2025-03-10T04:00:00+00:00", "2025-03-10"),  # midnight in New York (EDT)
        ("2025-01-10T04:59:00+00:00", "2025-01-09"),  # 23:59 in New York (EST)
    ],
)
def test_vendor_day_follows_the_vendor_time_zone(moment: str, day: str) -> None:
    """The quota's day is the vendor's, and its counter outlives the day's end by an hour."""
    now = datetime.fromisoformat(moment).timestamp()
    found, expires_at = vendor_day("America/New_York", now)
    assert found == day
    end_of_day = datetime.fromisoformat(f"{day}T00:00:00-05:00").timestamp() + 86_400
    assert abs(expires_at - (end_of_day + 3600)) <= 3600  # DST moves the end by an hour


# -- rate limit ------------------------------------------------------------------------


def test_callers_wait_their_turn() -> None:
    """Six leads at once at 20/s (no burst) are called one every 50 ms, none refused."""
    counting = Counting()
    start = time.monotonic()
    records = screen(
        guarded(rate_limit=RateLimitSettings(per_second=20, burst=1)),
        [lead(i) for i in range(6)],
        counting,
        concurrent=True,
    )
    assert classes(records) == [None] * 6
    # The k-th call cannot come before its turn, k * 50 ms after the start (a busy machine
    # only makes calls later: gaps between two calls are not what the limiter promises).
    calls = sorted(counting.calls)
    assert [round(t - start, 3) >= 0.05 * k - 0.005 for k, t in enumerate(calls)] == [True] * 6
    assert calls[-1] - start >= 0.245


def test_a_turn_past_the_deadline_is_throttled_without_a_call() -> None:
    """At 2/s with a 0.2 s timeout, the second of two leads at once is throttled, not sent."""
    counting = Counting()
    state = InMemoryStateBackend()
    settings = guarded(
        rate_limit=RateLimitSettings(per_second=2, burst=1),
        quota=QuotaSettings(daily=2),
        timeout=0.2,
    )
    records = screen(settings, [lead(1), lead(2)], counting, concurrent=True, state=state)
    assert sorted(classes(records), key=str) == [None, "throttled"]
    assert len(counting.calls) == 1
    time.sleep(0.5)
    # The throttled lead gave its quota unit back: a later lead still has one.
    assert classes(screen(settings, [lead(3)], counting, state=state)) == [None]


def test_max_wait_bounds_the_wait() -> None:
    """With max_wait 0, a caller without a free turn is throttled at once."""
    counting = Counting()
    records = screen(
        guarded(rate_limit=RateLimitSettings(per_second=1, burst=1, max_wait=0)),
        [lead(1), lead(2)],
        counting,
        concurrent=True,
    )
    assert sorted(classes(records), key=str) == [None, "throttled"]


def test_a_wall_clock_step_back_throttles_nothing_on_sqlite(tmp_path: Path) -> None:
    """Issue 13: the wall clock steps back an hour between two batches on a SQLite state.

    Rate-limited calls go on at the rate: none throttled, none sent to the failure policy
    (before, every one was ``throttled``, then ``qa``, until the clock caught up).
    """
    wall = [time.time()]
    state = SQLiteStateBackend(tmp_path / "state.db", wall_clock=lambda: wall[0])
    settings = guarded(rate_limit=RateLimitSettings(per_second=20, burst=2, max_wait=1))
    counting = Counting()
    records = screen(settings, [lead(i) for i in range(3)], counting, state=state)
    wall[0] -= 3600
    later = [lead(i) for i in range(3, 9)]
    records += screen(settings, later, counting, concurrent=True, state=state)
    asyncio.run(state.aclose())
    assert classes(records) == [None] * 9
    assert len(counting.calls) == 9


def test_vendor_429_slows_the_limiter() -> None:
    """A 429 with Retry-After 0.3 s is waited out by the limiter, then the lead goes again."""
    throttled = RateLimitError("429", status_code=429, body="", retry_after=0.3)
    counting = Counting(failures=[throttled])
    records = screen(
        guarded(rate_limit=RateLimitSettings(per_second=100, burst=5)),
        [lead(1), lead(2)],
        counting,
    )
    assert classes(records) == [None, None]
    assert len(counting.calls) == 3  # the refused call, its retry on a new turn, lead 2
    assert counting.calls[1] - counting.calls[0] >= 0.28


def test_a_429_with_no_turn_left_stands() -> None:
    """A 429 whose pause outlasts the deadline is the outcome: rate_limited, nothing retried."""
    throttled = RateLimitError("429", status_code=429, body="", retry_after=5.0)
    counting = Counting(failures=[throttled])
    records = screen(
        guarded(rate_limit=RateLimitSettings(per_second=100, burst=5), timeout=1.0),
        [lead(1)],
        counting,
    )
    assert classes(records) == ["rate_limited"]
    assert len(counting.calls) == 1


# -- circuit breaker -------------------------------------------------------------------


def test_breaker_opens_then_fails_fast() -> None:
    """Three failures open the breaker; the next leads fail at once, with no call."""
    events = Events()
    failures: list[BaseException] = [ServerError("500", status_code=500, body="") for _ in range(3)]
    counting = Counting(failures=failures)
    breaker = CircuitBreakerSettings(failures=3, cooldown=0.2)
    records = screen(
        guarded(circuit_breaker=breaker), [lead(i) for i in range(6)], counting, observer=events
    )
    assert classes(records) == ["server_error"] * 3 + ["circuit_open"] * 3
    assert len(counting.calls) == 3
    fast = [r.integration("count") for r in records[3:]]
    assert all(r.attempts == () and r.outcome_unknown is False for r in fast)
    assert statistics.median(r.duration or 1 for r in fast) < 0.005  # no vendor time: guard only
    assert events.names() == ["circuit_opened"]


def test_breaker_probe_after_cooldown_closes_it() -> None:
    """With one backend, the first lead after the cool-down probes and closes the breaker."""
    events = Events()
    counting = Counting(failures=[ServerError("500", status_code=500, body="")] * 2)
    breaker = CircuitBreakerSettings(failures=2, cooldown=0.15)
    state = InMemoryStateBackend()
    first = screen(
        guarded(circuit_breaker=breaker), [lead(1), lead(2), lead(3)], counting,
        state=state, observer=events,
    )  # fmt: skip
    time.sleep(0.2)
    second = screen(
        guarded(circuit_breaker=breaker), [lead(4), lead(5)], counting,
        state=state, observer=events,
    )  # fmt: skip
    assert classes(first) == ["server_error", "server_error", "circuit_open"]
    assert classes(second) == [None, None]
    assert events.names() == ["circuit_opened", "circuit_closed"]


def test_only_one_probe_at_a_time() -> None:
    """After the cool-down, ten leads at once make one call (the probe); the rest fail fast."""
    counting = Counting(failures=[ServerError("500", status_code=500, body="")])
    breaker = CircuitBreakerSettings(failures=1, cooldown=0.1)
    state = InMemoryStateBackend()
    screen(guarded(circuit_breaker=breaker), [lead(1)], counting, state=state)
    time.sleep(0.12)
    counting.latency = 0.1
    records = screen(
        guarded(circuit_breaker=breaker), [lead(i) for i in range(10, 20)], counting,
        state=state, concurrent=True,
    )  # fmt: skip
    assert len(counting.calls) == 2
    assert sorted(classes(records), key=str) == [None] + ["circuit_open"] * 9


def test_failed_probe_reopens_the_breaker() -> None:
    """A probe that fails opens the breaker again, reported as circuit_reopened."""
    events = Events()
    counting = Counting(failures=[APIConnectionError("refused", outcome_unknown=False)] * 2)
    breaker = CircuitBreakerSettings(failures=1, cooldown=0.1)
    state = InMemoryStateBackend()
    screen(guarded(circuit_breaker=breaker), [lead(1)], counting, state=state, observer=events)
    time.sleep(0.12)
    records = screen(
        guarded(circuit_breaker=breaker), [lead(2), lead(3)], counting,
        state=state, observer=events,
    )  # fmt: skip
    assert classes(records) == ["connection", "circuit_open"]
    assert events.names() == ["circuit_opened", "circuit_reopened"]


def test_an_answering_vendor_keeps_the_breaker_closed() -> None:
    """4xx answers (here 401) show the endpoint is up: they reset the failure count."""
    server = ServerError("500", status_code=500, body="")
    auth = AuthenticationError("401", status_code=401, body="")
    counting = Counting(failures=[server, auth, server, auth, server])
    records = screen(
        guarded(circuit_breaker=CircuitBreakerSettings(failures=2)),
        [lead(i) for i in range(5)],
        counting,
    )
    assert "circuit_open" not in classes(records)
    assert len(counting.calls) == 5


def test_circuit_open_gives_no_quota() -> None:
    """A lead stopped by the open breaker spends no quota."""
    counting = Counting(failures=[ServerError("500", status_code=500, body="")])
    state = InMemoryStateBackend()
    settings = guarded(
        circuit_breaker=CircuitBreakerSettings(failures=1, cooldown=0.1),
        quota=QuotaSettings(daily=2),
    )
    first = screen(settings, [lead(1), lead(2)], counting, state=state)
    time.sleep(0.12)
    second = screen(settings, [lead(3), lead(4)], counting, state=state)
    assert classes(first) == ["server_error", "circuit_open"]
    assert classes(second) == [None, "quota_exhausted"]


# -- cache -----------------------------------------------------------------------------


def test_same_number_within_the_ttl_is_one_call() -> None:
    """Two screenings of one number (written two ways) make one call; the second is cached."""
    counting = Counting()
    records = screen(
        guarded(cache=CacheSettings(ttl=60)),
        [lead(1, "(212) 734-0001"), lead(2, "+1 212 734 0001")],
        counting,
    )
    assert len(counting.calls) == 1
    fresh, reused = (r.integration("count") for r in records)
    assert (fresh.cached, reused.cached) == (False, True)
    assert reused.status is IntegrationStatus.COMPLETED
    assert reused.answer == {"verdict": "ok"}
    assert reused.raw == fresh.raw
    assert reused.attempts == ()
    assert reused.request is None
    assert reused.fetched_at is not None
    assert reused.fetched_at <= datetime.now(UTC)


def test_cached_record_round_trips_json() -> None:
    """A cached integration record survives the library converter and JSON."""
    records = screen(guarded(cache=CacheSettings(ttl=60)), [lead(1), lead(2, "2127340001")],
                     Counting())  # fmt: skip
    record = records[1]
    data = json.loads(json.dumps(converter.unstructure(record)))
    assert data["integrations"][0]["cached"] is True
    assert converter.structure(data, ScreeningRecord) == record


def test_errors_are_never_cached() -> None:
    """A failed lookup is asked again next time."""
    counting = Counting(failures=[ServerError("500", status_code=500, body="")])
    records = screen(
        guarded(cache=CacheSettings(ttl=60)), [lead(1), lead(2, "2127340001")], counting
    )
    assert classes(records) == ["server_error", None]
    assert len(counting.calls) == 2
    assert records[1].integration("count").cached is False


def test_indefinite_answers_are_not_cached() -> None:
    """An answer the integration marks as not cacheable is asked again."""
    counting = Counting()
    counting.cacheable = False
    screen(guarded(cache=CacheSettings(ttl=60)), [lead(1), lead(2, "2127340001")], counting)
    assert len(counting.calls) == 2


def test_hundred_concurrent_lookups_make_one_call() -> None:
    """A hundred screenings of one number at once share one call (single flight)."""
    counting = Counting(latency=0.05)
    records = screen(
        guarded(cache=CacheSettings(ttl=60)),
        [lead(i, "212-734-0001") for i in range(100)],
        counting,
        concurrent=True,
    )
    assert len(counting.calls) == 1
    assert [r.integration("count").cached for r in records].count(False) == 1
    assert all(r.integration("count").status is IntegrationStatus.COMPLETED for r in records)


def test_concurrent_lookups_share_a_failure_too() -> None:
    """Identical lookups in flight share the leader's failure; none is cached for later."""
    counting = Counting(latency=0.02, failures=[ServerError("500", status_code=500, body="")])
    settings = guarded(cache=CacheSettings(ttl=60))
    records = screen(settings, [lead(i, "2127340001") for i in range(5)], counting,
                     concurrent=True)  # fmt: skip
    assert classes(records) == ["server_error"] * 5
    assert len(counting.calls) == 1


def test_a_follower_of_a_failed_lookup_keeps_nothing_of_the_leader() -> None:
    """A lead that shared a failed call: not 'maybe billed', and no other lead's request."""
    exchange = Exchange(
        dialect="x",
        request=RequestRecord(method="POST", url="https://v.test/", body={"phone": "leader"}),
        attempts=(
            Attempt(
                number=1,
                started_at=datetime.now(UTC),
                duration=0.01,
                outcome="answered",
                status_code=500,
            ),
        ),
    )
    failure = ServerError("500", status_code=500, body="", exchange=exchange)
    counting = Counting(latency=0.02, failures=[failure])
    records = screen(guarded(cache=CacheSettings(ttl=60)),
                     [lead(i, "2127340001") for i in range(3)], counting,
                     concurrent=True)  # fmt: skip
    outcomes = sorted(
        (r.integrations[0].outcome_unknown, len(r.integrations[0].attempts)) for r in records
    )
    assert outcomes == [(False, 0), (False, 0), (True, 1)]


def test_cache_fields_tell_lookups_apart() -> None:
    """With fields = ["zip"], the same phone with another ZIP is another lookup."""
    counting = Counting()
    screen(
        guarded(cache=CacheSettings(ttl=60, fields=("zip",))),
        [lead(1, "2127340001", zip="02134"), lead(2, "2127340001", zip="10001"),
         lead(3, "2127340001", zip="02134")],
        counting,
    )  # fmt: skip
    assert len(counting.calls) == 2


def test_cache_entries_expire_after_the_ttl() -> None:
    """Past its TTL an answer is fetched again."""
    counting = Counting()
    screen(
        guarded(cache=CacheSettings(ttl=0.05)),
        [lead(1, "2127340001"), lead(2, "2127340001")],
        counting,
        pause=0.08,
    )
    assert len(counting.calls) == 2


def test_no_cache_unless_configured() -> None:
    """Without a cache setting, every screening calls (PureCallerID's loads must all go)."""
    counting = Counting()
    screen(guarded(quota=QuotaSettings(daily=10)), [lead(1, "2127340001"),
                                                    lead(2, "2127340001")], counting)  # fmt: skip
    assert len(counting.calls) == 2


# -- state backend failures ------------------------------------------------------------


class Broken(InMemoryStateBackend):
    """A backend whose chosen operations fail, as a Redis that went away would."""

    def __init__(self, *failing: str) -> None:
        super().__init__()
        for name in failing:
            setattr(self, name, self._fail)

    async def _fail(self, *args: Any, **kwargs: Any) -> Any:
        raise ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")


@pytest.mark.parametrize("policy", [Action.QA, Action.ACCEPT, Action.REJECT])
def test_state_unavailable_goes_to_the_failure_policy(policy: Action) -> None:
    """Without its state no call is made; the lead is recorded and its policy decides."""
    counting = Counting()
    store = InMemoryResultStore(check_json=True)
    events = Events()
    records = screen(
        guarded(quota=QuotaSettings(daily=10), failure_policy=policy),
        [lead(1)],
        counting,
        state=Broken("reserve_quota"),
        store=store,
        observer=events,
    )
    record = records[0].integration("count")
    assert record.error_class == "state_unavailable"
    assert record.outcome_unknown is False
    assert records[0].decision is policy
    assert counting.calls == []
    assert store.lead_ids() == ["L1"]
    assert events.names() == ["state_unavailable"]


def test_a_hung_state_backend_is_bounded_by_the_deadline() -> None:
    """A backend that never answers costs the lead its timeout, not more."""

    class Hung(InMemoryStateBackend):
        async def breaker_admit(self, key: str, *, probe_lease: float) -> Any:
            await asyncio.sleep(30)

    started = time.monotonic()
    records = screen(
        guarded(circuit_breaker=CircuitBreakerSettings(), timeout=0.1),
        [lead(1)],
        Counting(),
        state=Hung(),
    )
    assert classes(records) == ["state_unavailable"]
    assert time.monotonic() - started < 1


def test_failing_bookkeeping_after_the_call_keeps_the_answer() -> None:
    """When the backend fails after the call, the answer stands (and is recorded)."""
    records = screen(
        guarded(circuit_breaker=CircuitBreakerSettings(), cache=CacheSettings(ttl=5)),
        [lead(1)],
        Counting(),
        state=Broken("breaker_record", "cache_put"),
    )
    assert records[0].integration("count").status is IntegrationStatus.COMPLETED


# -- keys, classes -----------------------------------------------------------------------


def test_keys_hold_neither_token_nor_phone() -> None:
    """Guard keys are hashed; two tokens give two quota keys, one endpoint one breaker key."""
    one = guarded(cache=CacheSettings(ttl=1))
    two = IntegrationSettings(
        id="count",
        kind="counting",
        base_url="https://vendor.test",
        credentials=Credentials(api_token="secret-token-2"),
        cache=CacheSettings(ttl=1),
    )
    keys = [credential_key(one), credential_key(two), endpoint_key(one)]
    key = cache_key(lead(1, "2127340001"), one)
    assert key is not None
    assert not any("secret-token" in k or "2127340001" in k for k in [*keys, key])
    assert credential_key(one) != credential_key(two)
    assert endpoint_key(one) == endpoint_key(two)
    assert cache_key(lead(1, "2127340001"), one) != cache_key(lead(1, "2127340001"), two)
    assert cache_key(lead(1, "not a phone"), one) is None


def test_named_secrets_tell_accounts_apart() -> None:
    """Two accounts that differ only in a named secret share no quota, limit or cache key."""

    def account(token: str) -> IntegrationSettings:
        return IntegrationSettings(
            id="count",
            kind="counting",
            base_url="https://vendor.test",
            credentials=Credentials(secrets={"account_sid": "AC-0001-sid", "auth_token": token}),
            cache=CacheSettings(ttl=1),
        )

    one, two = account("auth-token-one"), account("auth-token-two")
    assert credential_key(one) != credential_key(two)
    assert cache_key(lead(1, "2127340001"), one) != cache_key(lead(1, "2127340001"), two)
    assert credential_key(one) == credential_key(account("auth-token-one"))
    assert "auth-token" not in credential_key(one) + str(cache_key(lead(1, "2127340001"), one))
    # A credential without named secrets keeps the key it had (its counters stay valid).
    plain = IntegrationSettings(
        id="count",
        kind="counting",
        base_url="https://vendor.test",
        credentials=Credentials(api_token="secret-token-2"),
    )
    assert credential_key(plain) == "counting:e2b27dfa4579bab12731257905937edc"  # as before


@pytest.mark.parametrize(
    ("error", "name"),
    [
        (QuotaExhaustedError("spent", limit=1, day="2030-01-01"), "quota_exhausted"),
        (CircuitOpenError("open", retry_in=1), "circuit_open"),
        (ThrottledError("no turn", wait=1), "throttled"),
        (StateUnavailableError("down"), "state_unavailable"),
    ],
)
def test_guard_errors_have_their_classes(error: Exception, name: str) -> None:
    """error_class names each guard error; none says the outcome is unknown."""
    assert error_class(error) == name
    assert getattr(error, "outcome_unknown", None) is False


# -- review fixes ----------------------------------------------------------------------


def test_every_429_slows_the_limiter_and_the_limiter_retries() -> None:
    """At 5/s behind a 20/s limiter, every 429 slows the limiter, which retries the lead."""
    from purecallerid import PureCallerIDIntegration  # noqa: PLC0415 - this test only
    from purecallerid.testing import Simulator  # noqa: PLC0415

    slowed: list[float] = []

    class Spy(InMemoryStateBackend):
        async def slow_down(self, key: str, *, rate: float, burst: int, wait: float) -> None:
            slowed.append(wait)
            await super().slow_down(key, rate=rate, burst=burst, wait=wait)

    with Simulator(rate_limit=5, rate_burst=1) as simulator:
        settings = IntegrationSettings(
            id="count",
            kind="purecallerid",
            base_url=simulator.url,
            timeout=3,
            credentials=Credentials(api_token="tok-SECRET-123", campaign_id="C1", list_name="Main"),
            rate_limit=RateLimitSettings(per_second=20, burst=1),
        )
        records = screen(
            settings,
            [lead(i, zip="10001") for i in range(20)],
            PureCallerIDIntegration(),
            concurrent=True,
            state=Spy(),
        )
        rejected = simulator.stats()["by_status"].get("429", 0)
    assert rejected > 0
    assert len(slowed) == rejected  # each 429 paused the limiter once
    # The client never retried a 429 by itself (that would bypass the limiter) ...
    assert all(
        sum(a.status_code == 429 for a in r.integration("count").attempts) <= 1 for r in records
    )
    # ... and a lead the limiter could not get through in time ends refused, never sent twice
    # on its own.
    outcomes = classes(records)
    assert set(outcomes) <= {None, "rate_limited", "throttled"}
    assert outcomes.count(None) == simulator_served(records)


def simulator_served(records: list[ScreeningRecord]) -> int:
    """The leads whose last attempt was answered 200."""
    return sum(
        1
        for r in records
        if r.integration("count").attempts
        and r.integration("count").attempts[-1].status_code == 200
    )


def test_a_turn_that_leaves_no_time_for_the_call_is_throttled() -> None:
    """A turn 0.3 s away with 0.4 s left and min_call_time 0.2 is refused; quota given back."""
    counting = Counting()
    state = InMemoryStateBackend()
    settings = guarded(
        rate_limit=RateLimitSettings(per_second=1 / 0.3, burst=1, min_call_time=0.2),
        quota=QuotaSettings(daily=2),
        timeout=0.4,
    )
    records = screen(settings, [lead(1), lead(2)], counting, concurrent=True, state=state)
    assert sorted(classes(records), key=str) == [None, "throttled"]
    assert len(counting.calls) == 1
    time.sleep(0.4)
    assert classes(screen(settings, [lead(3)], counting, state=state)) == [None]


def test_the_default_minimum_call_time_refuses_a_turn_at_the_deadline() -> None:
    """With a 1 s timeout, a turn 0.9 s away is refused (a quarter of the timeout is needed)."""
    counting = Counting()
    settings = guarded(rate_limit=RateLimitSettings(per_second=1 / 0.9, burst=1), timeout=1.0)
    records = screen(settings, [lead(1), lead(2)], counting, concurrent=True)
    assert sorted(classes(records), key=str) == [None, "throttled"]


def test_a_failure_before_any_attempt_leaves_the_breaker_alone() -> None:
    """Timeouts with no attempt made (nothing sent) never open the breaker."""
    from purecallerid import APITimeoutError, Exchange, RequestRecord  # noqa: PLC0415

    exchange = Exchange(
        dialect="standard",
        request=RequestRecord(method="POST", url="https://vendor.test", headers={}, body={}),
        attempts=(),
    )
    unsent: list[BaseException] = [
        APITimeoutError("the deadline ran out", outcome_unknown=False, exchange=exchange)
        for _ in range(3)
    ]
    counting = Counting(failures=unsent)
    records = screen(
        guarded(circuit_breaker=CircuitBreakerSettings(failures=2, cooldown=60)),
        [lead(i) for i in range(4)],
        counting,
    )
    assert classes(records) == ["timeout", "timeout", "timeout", None]
    assert len(counting.calls) == 4


def test_the_breaker_is_asked_again_after_waiting_for_a_turn() -> None:
    """A breaker that opens while a call waits for its turn stops that call; quota back."""
    state = InMemoryStateBackend()
    counting = Counting(latency=0.05, failures=[ServerError("500", status_code=500, body="")])
    settings = guarded(
        rate_limit=RateLimitSettings(per_second=5, burst=1),
        circuit_breaker=CircuitBreakerSettings(failures=1, cooldown=60),
        quota=QuotaSettings(daily=2),
        timeout=2,
    )
    records = screen(settings, [lead(1), lead(2)], counting, concurrent=True, state=state)
    assert sorted(classes(records), key=str) == ["circuit_open", "server_error"]
    assert len(counting.calls) == 1

    async def used() -> int:
        day, _ = vendor_day("UTC", time.time())
        reservation = await state.reserve_quota(
            credential_key(settings), period=day, limit=2, expires_at=2e9
        )
        return reservation.used

    assert asyncio.run(used()) == 2  # the stopped call gave its unit back


def test_a_deprecated_on_event_still_hears_the_guards_events() -> None:
    """An observer with on_event(name, details) and no observe: same events, a warning."""

    class Legacy:
        def __init__(self) -> None:
            self.events: list[tuple[str, Mapping[str, Any]]] = []

        def on_integration_result(self, lead: Lead, record: Any) -> None:
            return None

        def on_decision(self, record: ScreeningRecord) -> None:
            return None

        def on_event(self, name: str, details: Mapping[str, Any]) -> None:
            self.events.append((name, details))

    legacy, typed = Legacy(), Events()
    settings = guarded(quota=QuotaSettings(daily=5, warn_at=0.6))
    leads = [lead(i) for i in range(7)]
    with pytest.warns(DeprecationWarning, match=r"Legacy\.on_event\(name, details\)"):
        screen(settings, leads, Counting(), observer=legacy)
    screen(settings, leads, Counting(), observer=typed)
    assert legacy.events == typed.events
    assert [name for name, _ in legacy.events] == ["quota_warning", "quota_exhausted"]


def test_a_failing_on_event_surfaces_after_the_record_is_saved() -> None:
    """An event hook that raises is raised to the caller once the record is saved; no leak."""

    class Broken(Events):
        def on_event(self, name: str, details: Mapping[str, Any]) -> None:
            raise RuntimeError(f"observer bug on {name}")

    store = InMemoryResultStore()
    state = InMemoryStateBackend()
    settings = guarded(quota=QuotaSettings(daily=10, warn_at=0.1))
    with pytest.raises(RuntimeError, match="quota_warning"):
        screen(settings, [lead(1)], Counting(), observer=Broken(), store=store, state=state)
    assert asyncio.run(store.load("c", "L1")) is not None
    # The unit was spent on a call that was made, and no more: 9 remain.
    records = screen(settings, [lead(i) for i in range(2, 11)], Counting(), state=state)
    assert classes(records) == [None] * 9


def test_a_huge_retry_after_pauses_the_limiter_at_most_five_minutes() -> None:
    """A garbled Retry-After (a year) pauses the limiter for the cap, not for a year."""
    throttled = RateLimitError("429", status_code=429, body="", retry_after=3.2e7)
    assert _slow_downs(None, throttled) == (300.0,)
    modest = RateLimitError("429", status_code=429, body="", retry_after=2.0)
    assert _slow_downs(None, modest) == (2.0,)
