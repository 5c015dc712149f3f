"""The in-memory state backend: the guards' state for one process."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from ..typing import BreakerAdmission, QuotaReservation
from .algorithms import (
    BreakerState,
    breaker_admit,
    breaker_record,
    gcra_reserve,
    gcra_slow_down,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from ..typing import BreakerChange, BreakerOutcome

__all__ = ["InMemoryStateBackend"]


class InMemoryStateBackend:
    """Guard state in this process's memory: the default, for one worker process.

    Every method runs without awaiting, so it is atomic on the event loop. Workers in other
    processes do not see this state: use :class:`SQLiteStateBackend` (one host) or
    :class:`RedisStateBackend` (many hosts) when several share a quota.

    Args:
        clock: Seconds on a monotonic clock, which a step of the wall clock does not move:
            turns, cool-downs, leases and cache TTLs are intervals (injectable for tests).
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
