"""The guards' state: the algorithms, and the in-memory backend (one process).

The algorithms are pure functions over a small state, so that every backend applies the same
rules: this module's in-memory backend and the SQLite one call them inside their own atomic
section; the Redis backend runs the same steps in Lua scripts (``_state_redis``).

- **Quota**: a counter per key and vendor day; a reservation increments it unless the limit
  is reached.
- **Rate**: GCRA (the generic cell rate algorithm) keeps one number per key, the theoretical
  arrival time ``tat``. A call's turn is ``max(tat, now) + T - burst * T`` (``T = 1 / rate``);
  granting it moves ``tat`` on by ``T``. Turns therefore never exceed ``burst + rate * t`` in
  any window of ``t`` seconds, and a caller knows its wait at once.
- **Breaker**: closed -> open after *threshold* consecutive failures; open -> one probe after
  the cool-down (the probe's slot is leased, so a crashed worker cannot keep it); the probe's
  success closes, its failure reopens.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Final

from attrs import define

from ..typing import BreakerAdmission, QuotaReservation

if TYPE_CHECKING:
    from collections.abc import Callable

    from ..typing import BreakerChange, BreakerOutcome

__all__ = [
    "BreakerState",
    "InMemoryStateBackend",
    "breaker_admit",
    "breaker_record",
    "gcra_reserve",
    "gcra_slow_down",
]

CLOSED: Final = "closed"
OPEN: Final = "open"
HALF_OPEN: Final = "half_open"


def gcra_reserve(
    tat: float, now: float, *, rate: float, burst: int, max_wait: float
) -> tuple[float, float | None]:
    """Reserve the next turn: ``(new tat, seconds to wait)``, or ``(tat, None)`` when refused.

    A turn more than *max_wait* seconds away is refused and nothing changes.
    """
    interval = 1.0 / rate
    new_tat = max(tat, now) + interval
    wait = max(0.0, new_tat - burst * interval - now)
    if wait > max_wait:
        return tat, None
    return new_tat, wait


def gcra_slow_down(tat: float, now: float, *, rate: float, burst: int, wait: float) -> float:
    """The ``tat`` after which no turn starts before ``now + wait`` (and no burst follows)."""
    interval = 1.0 / rate
    return max(tat, now + wait + (burst - 1) * interval)


@define
class BreakerState:
    """One breaker's state, as every backend stores it."""

    state: str = CLOSED
    failures: int = 0
    open_until: float = 0.0
    probe_until: float = 0.0


def breaker_admit(state: BreakerState, now: float, *, probe_lease: float) -> BreakerAdmission:
    """Admit a call, grant the one probe, or reject; updates *state* in place."""
    if state.state == CLOSED:
        return BreakerAdmission(decision="call")
    if state.state == OPEN and now < state.open_until:
        return BreakerAdmission(decision="reject", retry_in=state.open_until - now)
    if state.state == HALF_OPEN and now < state.probe_until:
        return BreakerAdmission(decision="reject", retry_in=0.0)
    # The cool-down is over, or the last probe's lease ran out: this caller probes.
    state.state = HALF_OPEN
    state.probe_until = now + probe_lease
    return BreakerAdmission(decision="probe")


def breaker_record(  # noqa: PLR0911 - one return per transition reads like the diagram
    state: BreakerState,
    now: float,
    *,
    outcome: BreakerOutcome,
    probe: bool,
    threshold: int,
    cooldown: float,
) -> BreakerChange | None:
    """Record a call's outcome; updates *state* in place and returns the change, if any."""
    if outcome == "neutral":
        if probe and state.state == HALF_OPEN:
            state.probe_until = 0.0  # the probe said nothing: let the next caller probe
        return None
    if outcome == "success":
        if state.state == CLOSED:
            state.failures = 0
            return None
        if probe and state.state == HALF_OPEN:
            state.state, state.failures, state.probe_until = CLOSED, 0, 0.0
            return "closed"
        return None  # a call admitted before the breaker opened proves little
    if probe and state.state == HALF_OPEN:
        state.state, state.open_until, state.probe_until = OPEN, now + cooldown, 0.0
        return "reopened"
    if state.state == CLOSED:
        state.failures += 1
        if state.failures >= threshold:
            state.state, state.open_until = OPEN, now + cooldown
            return "opened"
    return None


class InMemoryStateBackend:
    """Guard state in this process's memory: the default, for one worker process.

    Every method runs without awaiting, so it is atomic on the event loop. Workers in other
    processes do not see this state: use :class:`SQLiteStateBackend` (one host) or
    :class:`RedisStateBackend` (many hosts) when several share a quota.

    Args:
        clock: Seconds, monotonic (injectable for tests).
        max_cache_entries: Cached answers kept at most; the oldest go first.
    """

    def __init__(
        self, *, clock: Callable[[], float] = time.monotonic, max_cache_entries: int = 100_000
    ) -> None:
        """Create empty state."""
        self._clock = clock
        self._max_cache_entries = max_cache_entries
        self._quota: dict[str, tuple[str, int]] = {}
        self._tat: dict[str, float] = {}
        self._breakers: dict[str, BreakerState] = {}
        self._cache: dict[str, tuple[float, str]] = {}

    async def reserve_quota(
        self, key: str, *, period: str, limit: int, expires_at: float
    ) -> QuotaReservation:
        """Count one call for *key* in *period* unless *limit* is reached."""
        del expires_at  # a new period replaces the old count
        current, used = self._quota.get(key, (period, 0))
        if current != period:
            used = 0
        if used >= limit:
            return QuotaReservation(granted=False, used=used)
        self._quota[key] = (period, used + 1)
        return QuotaReservation(granted=True, used=used + 1)

    async def release_quota(self, key: str, *, period: str) -> None:
        """Give back one call of *key* in *period*."""
        current, used = self._quota.get(key, (period, 0))
        if current == period and used > 0:
            self._quota[key] = (period, used - 1)

    async def acquire_rate(
        self, key: str, *, rate: float, burst: int, max_wait: float
    ) -> float | None:
        """Reserve the next turn of *key*; the seconds to wait, or ``None`` when too far."""
        tat, wait = gcra_reserve(
            self._tat.get(key, 0.0), self._clock(), rate=rate, burst=burst, max_wait=max_wait
        )
        self._tat[key] = tat
        return wait

    async def slow_down(self, key: str, *, rate: float, burst: int, wait: float) -> None:
        """Give no turn of *key* for *wait* seconds."""
        self._tat[key] = gcra_slow_down(
            self._tat.get(key, 0.0), self._clock(), rate=rate, burst=burst, wait=wait
        )

    async def breaker_admit(self, key: str, *, probe_lease: float) -> BreakerAdmission:
        """Admit, probe or reject a call to the endpoint of *key*."""
        state = self._breakers.setdefault(key, BreakerState())
        return breaker_admit(state, self._clock(), probe_lease=probe_lease)

    async def breaker_record(
        self,
        key: str,
        *,
        outcome: BreakerOutcome,
        probe: bool,
        threshold: int,
        cooldown: float,
    ) -> BreakerChange | None:
        """Record a call's outcome on the breaker *key*."""
        state = self._breakers.setdefault(key, BreakerState())
        return breaker_record(
            state,
            self._clock(),
            outcome=outcome,
            probe=probe,
            threshold=threshold,
            cooldown=cooldown,
        )

    async def cache_get(self, key: str) -> str | None:
        """The text under *key*, unless expired."""
        entry = self._cache.get(key)
        if entry is None:
            return None
        if entry[0] <= self._clock():
            del self._cache[key]
            return None
        return entry[1]

    async def cache_put(self, key: str, value: str, *, ttl: float) -> None:
        """Keep *value* under *key* for *ttl* seconds."""
        self._cache.pop(key, None)
        while self._cache and len(self._cache) >= self._max_cache_entries:
            del self._cache[next(iter(self._cache))]  # insertion order: the oldest entry
        self._cache[key] = (self._clock() + ttl, value)

    async def aclose(self) -> None:
        """Nothing to release."""

    def __repr__(self) -> str:
        return "InMemoryStateBackend()"
