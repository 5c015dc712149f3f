"""A guarded call's admission on Redis: breaker, quota and turn in one round trip.

The combined script must decide exactly as the three separate ones, in the same order, with
the same hooks, errors and refunds; these tests run the same calls against a backend with it
and one without (``Separate``), on a real redis-server.
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Final, cast
from unittest import mock

import redis.asyncio
from hypothesis import given
from hypothesis import strategies as st

from _redis import RedisServer
from purecallerid import (
    APIConnectionError,
    AsyncScreener,
    CampaignSettings,
    CircuitBreakerSettings,
    Credentials,
    FieldRegistry,
    FieldSpec,
    FieldType,
    InMemoryResultStore,
    InMemorySettings,
    InMemoryStateBackend,
    IntegrationSettings,
    Lead,
    QuotaSettings,
    RateLimitError,
    RateLimitSettings,
    RedisStateBackend,
    ScreeningRecord,
    ServerError,
    SQLiteStateBackend,
)
from purecallerid._guards.admission import combined_admission
from purecallerid._guards.guards import Guards
from purecallerid._guards.keys import credential_key, endpoint_key, vendor_day
from purecallerid._observe.dispatch import Hooks
from purecallerid._observe.events import BreakerStateName
from purecallerid.typing import IntegrationAnswer

FIELDS = FieldRegistry(
    integration="counting", fields=(FieldSpec(name="verdict", type=FieldType.STRING),)
)


class Separate(RedisStateBackend):
    """A Redis backend without the combined admission: the separate scripts, as before."""

    _admit_at_once = None  # type: ignore[assignment]  # turns the capability off


class CountingRedis(redis.asyncio.Redis):
    """A client that notes every command it sends (a round trip each): a script by its sha."""

    sent: list[str]

    async def execute_command(self, *args: Any, **options: Any) -> Any:
        self.sent.append(str(args[1] if args[0] == "EVALSHA" else args[0]))
        send: Callable[..., Awaitable[Any]] = super().execute_command
        return await send(*args, **options)


def counting_client(url: str) -> CountingRedis:
    client = cast("CountingRedis", CountingRedis.from_url(url, decode_responses=True))
    client.sent = []
    return client


def scripts(state: RedisStateBackend) -> dict[str, str]:
    """The backend's scripts by sha: their operations' names."""
    return {
        state._admit.sha: "breaker_admit",
        state._reserve.sha: "reserve_quota",
        state._acquire.sha: "acquire_rate",
        state._at_once.sha: "admit_at_once",
        state._record.sha: "breaker_record",
        state._release.sha: "release_quota",
        state._slow.sha: "slow_down",
    }


class Counted:
    """A counting client, the backend on it and what each screening sent."""

    def __init__(self, url: str, kind: type[RedisStateBackend], key_prefix: str) -> None:
        self.client = counting_client(url)
        self.state = kind(client=self.client, prefix=key_prefix)
        self.names = scripts(self.state)

    def take(self) -> list[str]:
        """The operations sent since the last take.

        A script the server did not know yet is sent again after loading it: one operation.
        """
        sent = self.client.sent
        kept = [
            self.names.get(name, name)
            for i, name in enumerate(sent)
            if name != "SCRIPT LOAD" and sent[i + 1 : i + 2] != ["SCRIPT LOAD"]
        ]
        sent.clear()
        return kept


class Scripted:
    """An integration that fails with its queued failures, one per call, then answers."""

    kind = "counting"
    fields = FIELDS

    def __init__(self, counted: Counted | None = None) -> None:
        self.failures: list[BaseException] = []
        self.calls = 0
        self.counted = counted
        self.before_call: list[list[str]] = []

    def check_settings(self, settings: IntegrationSettings) -> list[str]:
        return []

    async def screen(
        self, lead: Lead, settings: IntegrationSettings, *, deadline: float
    ) -> IntegrationAnswer:
        self.calls += 1
        if self.counted is not None:
            self.before_call.append(self.counted.take())
        if self.failures:
            raise self.failures.pop(0)
        return IntegrationAnswer(answer={"verdict": "ok"}, raw='{"verdict": "ok"}')

    async def aclose(self) -> None:
        return None


def guarded(**guards: Any) -> IntegrationSettings:
    guards.setdefault("failure_policy", "qa")
    return IntegrationSettings(
        id="count",
        kind="counting",
        base_url="https://vendor.test",
        credentials=Credentials(api_token="secret-token-1"),
        **guards,
    )


ALL_THREE: Mapping[str, Any] = {
    "quota": QuotaSettings(daily=1000),
    "rate_limit": RateLimitSettings(per_second=1000, burst=100),
    "circuit_breaker": CircuitBreakerSettings(failures=100, cooldown=60),
}


def lead(number: int) -> Lead:
    return Lead(lead_id=f"L{number}", campaign_id="c", fields={"phone": f"212734{number:04d}"})


def prefix() -> str:
    return f"t-{uuid.uuid4().hex}"


async def screen_all(
    settings: IntegrationSettings, leads: list[Lead], integration: Scripted, state: Any
) -> list[ScreeningRecord]:
    campaign = CampaignSettings(campaign_id="c", integrations=[settings])
    async with AsyncScreener(
        settings=InMemorySettings([campaign]),
        store=InMemoryResultStore(),
        integrations=[integration],
        state=state,
    ) as screener:
        return [await screener.screen(one) for one in leads]


def classes(records: list[ScreeningRecord]) -> list[str | None]:
    return [r.integration("count").error_class for r in records]


async def stored(url: str, key: str) -> str | None:
    """The text under *key* (a quota counter, a limiter's state), read by a client of its own."""
    client = redis.asyncio.Redis.from_url(url, decode_responses=True)
    try:
        value = await client.get(key)
        return None if value is None else str(value)
    finally:
        await client.aclose()


async def quota_used(url: str, key_prefix: str, settings: IntegrationSettings) -> int:
    """The quota counter of *settings* for today, where every worker keeps it."""
    day, _ = vendor_day("UTC", time.time())
    return int(await stored(url, f"{key_prefix}:quota:{credential_key(settings)}:{day}") or 0)


async def limiter(url: str, key_prefix: str, settings: IntegrationSettings) -> str | None:
    """The limiter's state of *settings* (its tat and when it was written)."""
    return await stored(url, f"{key_prefix}:rate:{credential_key(settings)}")


# -- one round trip ------------------------------------------------------------------------


async def sent_per_lead(
    url: str, kind: type[RedisStateBackend], leads: int = 2, **guards: Any
) -> list[tuple[list[str], list[str]]]:
    """What each lead sent before its call and after it (the scripts loaded beforehand)."""
    counted = Counted(url, kind, prefix())
    integration = Scripted(counted)
    try:
        await screen_all(guarded(**guards), [lead(0)], integration, counted.state)  # loads
        counted.take()
        found = []
        for number in range(1, leads + 1):
            integration.before_call.clear()
            await screen_all(guarded(**guards), [lead(number)], integration, counted.state)
            found.append((integration.before_call[0], counted.take()))
        return found
    finally:
        await counted.client.aclose()


def test_the_admission_is_one_round_trip_where_it_was_three(redis_server: RedisServer) -> None:
    """With a breaker, a quota and a rate limit: one script before the call instead of three."""
    separate = asyncio.run(sent_per_lead(redis_server.url, Separate, **ALL_THREE))
    assert (
        separate == [(["breaker_admit", "reserve_quota", "acquire_rate"], ["breaker_record"])] * 2
    )
    combined = asyncio.run(sent_per_lead(redis_server.url, RedisStateBackend, **ALL_THREE))
    assert combined == [(["admit_at_once"], ["breaker_record"])] * 2


def test_any_two_guards_share_the_script_and_one_guard_keeps_its_own(
    redis_server: RedisServer,
) -> None:
    """Two guards of three: one script too. A single guard: its own script, as before."""
    for pair in (
        ("quota", "rate_limit"),
        ("circuit_breaker", "quota"),
        ("circuit_breaker", "rate_limit"),
    ):
        guards = {name: ALL_THREE[name] for name in pair}
        [(before, _)] = asyncio.run(sent_per_lead(redis_server.url, RedisStateBackend, 1, **guards))
        assert before == ["admit_at_once"], pair
    for name, script in (
        ("quota", "reserve_quota"),
        ("rate_limit", "acquire_rate"),
        ("circuit_breaker", "breaker_admit"),
    ):
        guards = {name: ALL_THREE[name]}
        [(before, _)] = asyncio.run(sent_per_lead(redis_server.url, RedisStateBackend, 1, **guards))
        assert before == [script], name


async def two_screenings(
    counted: Counted,
    integration: Scripted,
    settings: IntegrationSettings,
    between: Callable[[], Awaitable[Any]] | None = None,
) -> tuple[list[ScreeningRecord], list[ScreeningRecord], list[str], Any]:
    """Screen lead 1 (its admission loads the scripts), then lead 2; close the client.

    Returns the records of both, what lead 2 sent, and what *between* read after lead 1.
    """
    try:
        first = await screen_all(settings, [lead(1)], integration, counted.state)
        counted.take()
        read = None if between is None else await between()
        second = await screen_all(settings, [lead(2)], integration, counted.state)
        return first, second, counted.take(), read
    finally:
        await counted.client.aclose()


def test_no_time_for_a_turn_leaves_the_turn_out(redis_server: RedisServer) -> None:
    """A call whose deadline leaves no turn worth taking asks none: throttled, unit back."""
    settings = guarded(
        quota=QuotaSettings(daily=5),
        rate_limit=RateLimitSettings(per_second=10, min_call_time=5),
        circuit_breaker=CircuitBreakerSettings(),
        timeout=1,
    )
    key_prefix = prefix()

    async def go() -> None:
        counted = Counted(redis_server.url, RedisStateBackend, key_prefix)
        integration = Scripted(counted)
        _, records, sent, _ = await two_screenings(counted, integration, settings)
        assert classes(records) == ["throttled"]
        assert integration.calls == 0
        # Breaker and quota in one script, no turn; then the unit given back, the breaker told.
        assert sent == ["admit_at_once", "release_quota", "breaker_record"]
        assert await quota_used(redis_server.url, key_prefix, settings) == 0
        assert await limiter(redis_server.url, key_prefix, settings) is None

    asyncio.run(go())


def test_a_turn_refused_after_the_quota_gives_the_unit_back(redis_server: RedisServer) -> None:
    """The script reserves the unit, then finds no turn: the unit is given back, as before."""
    settings = guarded(
        quota=QuotaSettings(daily=5),
        rate_limit=RateLimitSettings(per_second=1, burst=1, max_wait=0),
        circuit_breaker=CircuitBreakerSettings(),
    )
    key_prefix = prefix()

    async def go() -> None:
        counted = Counted(redis_server.url, RedisStateBackend, key_prefix)
        integration = Scripted(counted)
        first, second, sent, _ = await two_screenings(counted, integration, settings)
        assert classes(first + second) == [None, "throttled"]
        assert integration.calls == 1
        assert sent == ["admit_at_once", "release_quota", "breaker_record"]
        assert await quota_used(redis_server.url, key_prefix, settings) == 1

    asyncio.run(go())


def test_a_breaker_rejection_reserves_no_quota_and_no_turn(redis_server: RedisServer) -> None:
    """The open breaker stops the script before the quota and the limiter: nothing to give back."""
    settings = guarded(
        quota=QuotaSettings(daily=5),
        rate_limit=RateLimitSettings(per_second=1, burst=5),
        circuit_breaker=CircuitBreakerSettings(failures=1, cooldown=60),
    )
    key_prefix = prefix()

    async def go() -> None:
        counted = Counted(redis_server.url, RedisStateBackend, key_prefix)
        integration = Scripted(counted)
        integration.failures.append(ServerError("500", status_code=500, body=""))
        opened, rejected, sent, before = await two_screenings(
            counted, integration, settings, lambda: limiter(redis_server.url, key_prefix, settings)
        )
        assert classes(opened + rejected) == ["server_error", "circuit_open"]
        assert sent == ["admit_at_once"]  # nothing held: nothing given back, nothing recorded
        assert await quota_used(redis_server.url, key_prefix, settings) == 1  # the 500's unit
        assert before is not None
        assert await limiter(redis_server.url, key_prefix, settings) == before

    asyncio.run(go())


def test_a_spent_quota_takes_no_turn(redis_server: RedisServer) -> None:
    """The quota refuses: the script stops before the limiter; the breaker is told neutral."""
    settings = guarded(
        quota=QuotaSettings(daily=1),
        rate_limit=RateLimitSettings(per_second=1, burst=5),
        circuit_breaker=CircuitBreakerSettings(),
    )
    key_prefix = prefix()

    async def go() -> None:
        counted = Counted(redis_server.url, RedisStateBackend, key_prefix)
        integration = Scripted(counted)
        first, refused, sent, before = await two_screenings(
            counted, integration, settings, lambda: limiter(redis_server.url, key_prefix, settings)
        )
        assert classes(first + refused) == [None, "quota_exhausted"]
        assert sent == ["admit_at_once", "breaker_record"]
        assert await quota_used(redis_server.url, key_prefix, settings) == 1
        assert before is not None
        assert await limiter(redis_server.url, key_prefix, settings) == before

    asyncio.run(go())


async def alternate(
    url: str, key_prefix: str, settings: IntegrationSettings, integration: Scripted, leads: int
) -> list[ScreeningRecord]:
    """Screen *leads* leads, in turn by a worker with the combined script and one without."""
    new = RedisStateBackend(url, prefix=key_prefix)
    old = Separate(url, prefix=key_prefix)
    records = []
    try:
        for number in range(leads):
            state = new if number % 2 else old
            records += await screen_all(settings, [lead(number)], integration, state)
    finally:
        await new.aclose()
        await old.aclose()
    return records


def test_old_and_new_workers_share_the_same_state(redis_server: RedisServer) -> None:
    """A worker with the combined script and one without share quota and breaker: same keys."""

    async def go() -> None:
        key_prefix = prefix()
        settings = guarded(**{**ALL_THREE, "quota": QuotaSettings(daily=3)})
        records = await alternate(redis_server.url, key_prefix, settings, Scripted(), 6)
        assert classes(records) == [None] * 3 + ["quota_exhausted"] * 3
        assert await quota_used(redis_server.url, key_prefix, settings) == 3

        key_prefix = prefix()
        breaker = CircuitBreakerSettings(failures=2, cooldown=60)
        settings = guarded(**{**ALL_THREE, "circuit_breaker": breaker})
        integration = Scripted()
        integration.failures += [ServerError("500", status_code=500, body="")] * 2
        records = await alternate(redis_server.url, key_prefix, settings, integration, 4)
        # One failure each opens the shared breaker.
        assert classes(records) == ["server_error", "server_error"] + ["circuit_open"] * 2
        assert await quota_used(redis_server.url, key_prefix, settings) == 2

    asyncio.run(go())


def test_a_failed_combined_admission_is_state_unavailable(redis_server: RedisServer) -> None:
    """Redis down, or an error inside the script: state_unavailable, no call, as before."""
    settings = guarded(**ALL_THREE)

    async def go() -> None:
        integration = Scripted()
        down = RedisStateBackend("redis://127.0.0.1:1/0", timeout=0.5)
        records = await screen_all(settings, [lead(1)], integration, down)
        await down.aclose()
        assert classes(records) == ["state_unavailable"]
        for kind in (RedisStateBackend, Separate):
            # The quota counter turned into a hash: the quota step fails inside the script.
            key_prefix = prefix()
            day, _ = vendor_day("UTC", time.time())
            client = redis.asyncio.Redis.from_url(redis_server.url, decode_responses=True)
            await client.hset(f"{key_prefix}:quota:{credential_key(settings)}:{day}", "a", "b")
            await client.aclose()
            state = kind(redis_server.url, prefix=key_prefix)
            records = await screen_all(settings, [lead(1)], integration, state)
            await state.aclose()
            record = records[0].integration("count")
            assert record.error_class == "state_unavailable", kind
            assert record.error_message is not None
            message = "the guards' state backend failed (ResponseError); no call made"
            assert message in record.error_message
        assert integration.calls == 0

    asyncio.run(go())


def test_a_step_failing_after_others_gives_back_what_they_took(redis_server: RedisServer) -> None:
    """The limiter's key of another type, the breaker due for a probe: the quota unit the
    script reserved is given back and the probe slot freed, as with the separate scripts."""
    settings = guarded(
        quota=QuotaSettings(daily=5),
        rate_limit=RateLimitSettings(per_second=1, burst=5),
        circuit_breaker=CircuitBreakerSettings(failures=1, cooldown=60),
    )

    async def run_one(kind: type[RedisStateBackend]) -> tuple[Any, ...]:
        key_prefix = prefix()
        integration = Scripted()
        state = kind(redis_server.url, prefix=key_prefix)
        integration.failures.append(ServerError("500", status_code=500, body=""))
        opened = await screen_all(settings, [lead(1)], integration, state)  # the breaker opens
        client = redis.asyncio.Redis.from_url(redis_server.url, decode_responses=True)
        breaker = f"{key_prefix}:breaker:{endpoint_key(settings)}"
        try:
            await client.hset(breaker, "open_until", "0")  # its cool-down over: a probe is due
            rate_key = f"{key_prefix}:rate:{credential_key(settings)}"
            await client.delete(rate_key)
            await client.hset(rate_key, "a", "b")  # the limiter's key, now of another type
            failed = await screen_all(settings, [lead(2)], integration, state)
            probe_until = await client.hget(breaker, "probe_until")
        finally:
            await client.aclose()
            await state.aclose()
        used = await quota_used(redis_server.url, key_prefix, settings)
        message = failed[0].integration("count").error_message
        return classes(opened + failed), used, float(probe_until or 0), message, integration.calls

    async def go() -> None:
        combined = await run_one(RedisStateBackend)
        separate = await run_one(Separate)
        assert combined == separate
        assert combined[:3] == (["server_error", "state_unavailable"], 1, 0.0)  # the 500's unit
        assert combined[4] == 1  # the call that opened the breaker; none after

    asyncio.run(go())


def test_a_patch_of_the_class_turns_the_combined_admission_off() -> None:
    """A test patching a separate operation on the class itself is not bypassed."""
    state = RedisStateBackend("redis://127.0.0.1:1/0")
    assert combined_admission(state) is not None
    with mock.patch.object(RedisStateBackend, "reserve_quota", mock.AsyncMock()):
        assert combined_admission(state) is None
    assert combined_admission(state) is not None
    asyncio.run(state.aclose())


def test_only_a_backend_of_its_own_offers_the_combined_admission(tmp_path: Any) -> None:
    """Redis offers it; memory, SQLite, mocks, and a Redis whose separate steps were replaced
    (the combined one would bypass the replacement) do not."""

    class Spied(RedisStateBackend):
        async def reserve_quota(self, key: str, **kwargs: Any) -> Any:
            return await super().reserve_quota(key, **kwargs)

    redis_state = RedisStateBackend("redis://127.0.0.1:1/0")
    assert combined_admission(redis_state) == redis_state._admit_at_once
    patched = RedisStateBackend("redis://127.0.0.1:1/0")
    patched.acquire_rate = mock.AsyncMock()  # type: ignore[method-assign]
    sqlite = SQLiteStateBackend(tmp_path / "state.db")
    others: list[Any] = [
        InMemoryStateBackend(),
        sqlite,
        Separate("redis://127.0.0.1:1/0"),
        Spied("redis://127.0.0.1:1/0"),
        patched,
        mock.MagicMock(),
        mock.MagicMock(spec=RedisStateBackend),
    ]
    assert [combined_admission(state) for state in others] == [None] * len(others)

    async def close() -> None:
        for state in (redis_state, patched, sqlite, others[2], others[3]):
            await state.aclose()

    asyncio.run(close())


def test_a_cluster_client_keeps_the_separate_scripts() -> None:
    """One script over several keys would be refused by a cluster (CROSSSLOT): not offered."""
    from redis.asyncio.cluster import RedisCluster  # noqa: PLC0415 - this test alone

    cluster = RedisCluster(host="127.0.0.1", port=1)  # connects on its first command only
    assert combined_admission(RedisStateBackend(client=cluster)) is None
    plain = redis.asyncio.Redis(host="127.0.0.1", port=1)
    assert combined_admission(RedisStateBackend(client=plain)) is not None


# -- the same decisions, events and counts ----------------------------------------------------

# The vendor's day: fixed, so that no example crosses a midnight between its two runs.
WALL = 1_900_000_000.0
BUDGET = 4.75
"""Seconds a call may take: with min_call_time 0.5, turns up to 4.25 s away are worth it."""
SHORT = 0.3
"""A budget that leaves no turn worth taking (less than min_call_time)."""
# Every wait Redis hands out here lies on a 0.5 s grid (turns 1 s apart, a 429 pausing the
# limiter 0.5 s) minus the real time since the limiter was last idle (milliseconds), and every
# bound a call sets (max_wait 2.25, 4.25 s of budget minus grid waits) lies between grid
# points: the runs with and without the combined script, interleaved step by step, cannot
# fall on two sides of a bound. Time does not otherwise pass: the guards' clock moves only by
# their (fake) sleeps, the breakers' cool-down (60 s) ends only at a "cool" step.
STEPS = ("ok", "fail", "refused", "429", "short", "cool", "refill")
NUMBER = re.compile(r"\d+(\.\d+)?")


class Recorded(Hooks):
    """Hooks noting, in order, every event, quota count and breaker state the guards tell."""

    def __init__(self) -> None:
        self.told: list[tuple[Any, ...]] = []

    def guard_event(
        self, name: str, settings: IntegrationSettings, lead_id: str, details: Mapping[str, Any]
    ) -> None:
        self.told.append(("event", name, lead_id, dict(details)))

    def quota_used(
        self, settings: IntegrationSettings, lead_id: str, key: str, day: str, used: int, limit: int
    ) -> None:
        self.told.append(("quota_used", lead_id, key, day, used, limit))

    def breaker_state(
        self, settings: IntegrationSettings, lead_id: str, key: str, state: BreakerStateName
    ) -> None:
        self.told.append(("breaker_state", lead_id, key, state))


class Worker:
    """Guards on one backend, with a clock that moves only when they sleep for a turn."""

    def __init__(self, state: RedisStateBackend) -> None:
        self.state = state
        self.now = 100.0
        self.slept: list[float] = []
        self.hooks = Recorded()
        self.integration = Scripted()
        self.guards = Guards(
            state, hooks=self.hooks, clock=lambda: self.now, wall=lambda: WALL, sleep=self.sleep
        )

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds

    async def call(
        self, settings: IntegrationSettings, number: int, budget: float, failure: Any
    ) -> tuple[Any, ...]:
        """One guarded call: how it ended, and what it did on the way."""
        self.integration.failures = [] if failure is None else [failure]
        calls, told, slept = self.integration.calls, len(self.hooks.told), len(self.slept)
        ended = await self.guards.call(self.integration, lead(number), settings, budget)
        error = ended.failure
        figures = [float(m.group()) for m in NUMBER.finditer(str(error or ""))]
        return (
            type(error).__name__,
            NUMBER.sub("#", str(error or "")),
            figures,
            self.integration.calls - calls,
            self.hooks.told[told:],
            self.slept[slept:],
        )


def same(one: tuple[Any, ...], other: tuple[Any, ...]) -> bool:
    """Equal, but for the figures Redis's own clock sets (a wait, a retry_in): near enough."""
    (kind, text, figures, calls, told, slept) = one
    (kind2, text2, figures2, calls2, told2, slept2) = other

    def near(a: list[float], b: list[float]) -> bool:
        return len(a) == len(b) and all(abs(x - y) <= _NEAR for x, y in zip(a, b, strict=True))

    return (kind, text, calls, told) == (kind2, text2, calls2, told2) and (
        near(figures, figures2) and near(slept, slept2)
    )


# How far apart the two runs' clock-set figures may be: the real time between their matching
# steps (a loaded CI machine takes a tenth of a second now and then), below the 0.25 s by which
# every bound clears the 0.5 s grid of waits, so that a wrong wait still shows.
_NEAR: Final = 0.2


def same_state(one: tuple[Any, ...], other: tuple[Any, ...]) -> bool:
    """Equal quota counts and breakers; the limiters' lead within :data:`_NEAR`."""
    (used, breaker, ahead), (used2, breaker2, ahead2) = one, other
    if (used, breaker) != (used2, breaker2) or (ahead is None) != (ahead2 is None):
        return False
    return ahead is None or abs(ahead - ahead2) <= _NEAR


def failure_of(step: str) -> BaseException | None:
    if step == "fail":
        return ServerError("500", status_code=500, body="")
    if step == "refused":
        return APIConnectionError("refused", outcome_unknown=False)
    if step == "429":
        return RateLimitError("429", status_code=429, body="", retry_after=0.5)
    return None


@st.composite
def guard_settings(draw: st.DrawFn) -> IntegrationSettings:
    """Any of the three guards, each with or without, in sizes a short run exhausts."""
    guards: dict[str, Any] = {}
    if draw(st.booleans()):
        guards["circuit_breaker"] = CircuitBreakerSettings(
            failures=draw(st.integers(1, 3)), cooldown=60
        )
    if draw(st.booleans()):
        guards["quota"] = QuotaSettings(daily=draw(st.integers(0, 6)), warn_at=0.5)
    if draw(st.booleans()):
        guards["rate_limit"] = RateLimitSettings(
            per_second=1,
            burst=draw(st.integers(1, 2)),
            max_wait=draw(st.sampled_from([None, 2.25, 0])),
            min_call_time=0.5,
        )
    return guarded(timeout=10, **guards)


async def time_passes(step: str, url: str, settings: IntegrationSettings, *prefixes: str) -> None:
    """What time would do, on both backends alike: a breaker cooled down, a limiter refilled."""
    client = redis.asyncio.Redis.from_url(url, decode_responses=True)
    try:
        for key_prefix in prefixes:
            if step == "cool":
                breaker = f"{key_prefix}:breaker:{endpoint_key(settings)}"
                if await client.exists(breaker):
                    await client.hset(breaker, "open_until", "0")
            else:
                await client.delete(f"{key_prefix}:rate:{credential_key(settings)}")
    finally:
        await client.aclose()


async def state_of(url: str, key_prefix: str, settings: IntegrationSettings) -> tuple[Any, ...]:
    """The quota's count, the breaker's state and failures, and how far ahead the limiter's
    next turn was when it was written (Redis's clock moves meanwhile: see :func:`same_state`)."""
    day, _ = vendor_day("UTC", WALL)
    client = redis.asyncio.Redis.from_url(url, decode_responses=True)
    try:
        used = await client.get(f"{key_prefix}:quota:{credential_key(settings)}:{day}")
        breaker = await client.hmget(
            f"{key_prefix}:breaker:{endpoint_key(settings)}", ["state", "failures"]
        )
        limiter = await client.get(f"{key_prefix}:rate:{credential_key(settings)}")
    finally:
        await client.aclose()
    ahead = None
    if limiter is not None:
        tat, written = map(float, limiter.split())
        ahead = tat - written
    return used, breaker, ahead


@given(settings=guard_settings(), steps=st.lists(st.sampled_from(STEPS), max_size=10))
def test_the_combined_admission_decides_as_the_separate_steps(
    redis_server: RedisServer, settings: IntegrationSettings, steps: list[str]
) -> None:
    """Any run of calls, with and without the combined script: the same outcomes, step by step.

    The same refusals and errors (their figures within Redis's clock), the same hooks told in
    the same order with the same values, the same waits, the same calls made, and in the end
    the same quota count and breaker state.
    """
    url = redis_server.url
    prefixes = (prefix(), prefix())

    async def go() -> None:
        workers = (
            Worker(RedisStateBackend(url, prefix=prefixes[0])),
            Worker(Separate(url, prefix=prefixes[1])),
        )
        try:
            for number, step in enumerate(steps):
                if step in {"cool", "refill"}:
                    await time_passes(step, url, settings, *prefixes)
                    continue
                budget = SHORT if step == "short" else BUDGET
                combined, separate = [
                    await worker.call(settings, number, budget, failure_of(step))
                    for worker in workers
                ]
                assert same(combined, separate), (step, combined, separate)
                states = [await state_of(url, key_prefix, settings) for key_prefix in prefixes]
                assert same_state(states[0], states[1]), (step, states)
        finally:
            for worker in workers:
                await worker.guards.aclose()
                await worker.state.aclose()

    asyncio.run(go())
