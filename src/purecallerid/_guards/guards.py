"""The guards around an integration's call: cache, circuit breaker, quota, rate limit.

The screener hands every call of an integration whose settings carry a guard to
:class:`Guards`, which runs, in this order::

    cache hit? ── yes ──▶ the cached answer (no call, no quota)
    identical lookup in flight? ── yes ──▶ share its result (single flight)
    breaker: open ──▶ circuit_open           (nothing reserved yet)
    quota: spent ──▶ quota_exhausted         (breaker probe slot freed)
    rate: no turn leaving time for the call ──▶ throttled   (quota given back)
    wait for the turn; breaker open meanwhile? ──▶ circuit_open   (quota given back)
    call with the time left
    afterwards: breaker outcome, quota given back if the call never left, every 429 among
    the attempts slows the limiter, a definitive answer is cached

The quota is checked before the rate limiter, so that a spent quota fails at once instead of
queuing for turns. Nothing here knows a vendor: keys are derived from the settings (kind, base
URL, a hash of the token), and errors are classified by the library's error tree.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import math
import time
from typing import TYPE_CHECKING, Any, Final, TypeVar

import attrs

from .._converter import converter
from .._errors import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    CircuitOpenError,
    ForkedError,
    PureCallerIDError,
    QuotaExhaustedError,
    RateLimitError,
    ServerError,
    StateUnavailableError,
    ThrottledError,
    may_have_left,
)
from .._observe.dispatch import NO_HOOKS
from ..typing import BreakerAdmission, IntegrationAnswer, QuotaReservation
from .admission import BreakerAsk, QuotaAsk, RateAsk, combined_admission
from .keys import cache_key, credential_key, endpoint_key, vendor_day

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from .._models import Attempt, Lead
    from .._observe.dispatch import Hooks
    from .._observe.events import BreakerStateName
    from .._settings import IntegrationSettings
    from ..typing import BreakerOutcome, Integration, StateBackend
    from .admission import AdmitAtOnce
    from .settings import RateLimitSettings

__all__ = ["GRACE", "Guarded", "Guards"]

logger: Final = logging.getLogger("purecallerid.guards")
_T = TypeVar("_T")

GRACE: Final = 0.05
"""Seconds the screener's own timeout allows past an integration's deadline."""
_AFTER_CALL_TIMEOUT: Final = 0.5
"""Seconds the bookkeeping after a call may take: the answer is in hand and must not wait."""
_SLOW_DOWN_DEFAULT: Final = 1.0
"""Seconds the limiter pauses after a 429 that gave no Retry-After."""
_MIN_CALL_TIME: Final = 0.5
"""Seconds a call needs at least after its turn, unless the timeout is short (see below)."""
_MIN_CALL_FRACTION: Final = 0.25
"""The share of the integration's timeout a call needs at least, when that is under 0.5 s."""
_TOO_MANY_REQUESTS: Final = 429
_TURN_ATTEMPTS: Final = 3
"""Turns a call takes at most: a 429 while it waits for one makes it take the next."""


def _for_follower(failure: BaseException) -> BaseException:
    """The leader's failure, as it stands for a lead whose own request was never sent."""
    if isinstance(failure, TimeoutError) and not isinstance(failure, PureCallerIDError):
        return APITimeoutError(
            "the shared lookup this lead waited for timed out", outcome_unknown=False
        )
    if isinstance(failure, PureCallerIDError) and (
        failure.outcome_unknown or isinstance(failure, APIError)
    ):
        # A shallow copy that skips __init__ (whose keyword arguments copy.copy cannot replay).
        copied = type(failure).__new__(type(failure), *failure.args)
        copied.__dict__.update(vars(failure))
        copied.outcome_unknown = False
        if isinstance(copied, APIError):
            # The leader's request and attempts are another lead's (its name, its address).
            copied.exchange = None
        copied.__cause__, copied.__suppress_context__ = failure.__cause__, True
        return copied
    return failure


class Guarded:
    """How a guarded call ended: an answer or a failure, and whether it was reused.

    Attributes:
        answer: The integration's answer, or ``None``.
        failure: The library error (or timeout) it failed with, or ``None``.
        cached: The result was not fetched for this lead (result cache, or an identical
            lookup in flight).
        fetched_at: When a reused result was fetched (UTC).
    """

    __slots__ = ("answer", "cached", "failure", "fetched_at")

    def __init__(
        self,
        answer: IntegrationAnswer | None = None,
        failure: BaseException | None = None,
        *,
        cached: bool = False,
        fetched_at: dt.datetime | None = None,
    ) -> None:
        """Hold the outcome."""
        self.answer = answer
        self.failure = failure
        self.cached = cached
        self.fetched_at = fetched_at


def _breaker_outcome(failure: BaseException | None) -> BreakerOutcome:
    if failure is None:
        return "success"
    if isinstance(failure, APIError) and failure.exchange is not None and not failure.attempts:
        # Nothing was sent (the deadline ran out before the first attempt, spent waiting for
        # a turn): it says nothing about the endpoint.
        return "neutral"
    if isinstance(failure, ServerError | APIConnectionError) or (
        isinstance(failure, TimeoutError) and not isinstance(failure, PureCallerIDError)
    ):
        return "failure"
    if isinstance(failure, APIError):
        return "success"  # the endpoint answered (4xx, 429, an unreadable body): it is up
    return "neutral"  # never sent (a lead that cannot be mapped...): nothing learnt


def _encode(answer: IntegrationAnswer, fetched_at: dt.datetime) -> str:
    # The request is another lead's (its name, its address): it stays with that lead's record.
    data = converter.unstructure(attrs.evolve(answer, request=None, attempts=()))
    return json.dumps({"answer": data, "fetched_at": fetched_at.isoformat()})


def _decode(text: str) -> tuple[IntegrationAnswer, dt.datetime]:
    data = json.loads(text)
    answer = converter.structure(data["answer"], IntegrationAnswer)
    return answer, dt.datetime.fromisoformat(data["fetched_at"])


class Guards:
    """Applies integrations' guards around their calls; one per screener.

    Args:
        state: Where quota, limiter, breaker and cache state live.
        hooks: The screener's observer hooks: told the guards' events, each quota count and
            each breaker state seen (an observer's exception is the hooks' to handle).
        clock: Monotonic seconds (the screener's).
        wall: Unix time, for the vendor's day.
        sleep: How a caller waits for its rate-limiter turn.
    """

    def __init__(
        self,
        state: StateBackend,
        *,
        hooks: Hooks = NO_HOOKS,
        clock: Callable[[], float],
        wall: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        """Create the guards; see the class docstring."""
        self.state = state
        self._hooks = hooks
        self._clock = clock
        self._wall = wall
        self._sleep = sleep
        self._in_flight: dict[str, asyncio.Task[Guarded]] = {}
        self._background: set[asyncio.Task[None]] = set()
        self._reported: set[tuple[str, str, str]] = set()
        # Limiter key -> when (clock) the last 429 asked this process to stay quiet until.
        self._slowed: dict[str, float] = {}
        # The backend's breaker, quota and turn in one operation (one round trip on Redis).
        self._at_once = combined_admission(state)

    # -- the call -----------------------------------------------------------------------

    async def call(  # noqa: PLR0911 - one return per way a guarded call ends
        self, integration: Integration, lead: Lead, settings: IntegrationSettings, budget: float
    ) -> Guarded:
        """Call *integration* for *lead* within *budget* seconds, under its guards.

        Library errors and timeouts come back in :attr:`Guarded.failure`; anything else (a
        host bug) propagates.
        """
        started = self._clock()
        key = cache_key(lead, settings)
        if key is None:
            return await self._guarded(integration, lead, settings, budget, started, None)
        try:
            hit = await self._state_op(self.state.cache_get(key), budget)
        except StateUnavailableError as exc:
            self._event("state_unavailable", settings, lead.lead_id, error=str(exc))
            return Guarded(failure=exc)
        if hit is not None:
            try:
                answer, fetched_at = _decode(hit)
            except Exception:  # noqa: BLE001 - an unreadable entry is a miss, not a failure
                logger.warning(
                    "%s: an unreadable cache entry was ignored",
                    settings.id,
                    extra={"integration_id": settings.id, "kind": settings.kind},
                )
            else:
                return Guarded(answer, cached=True, fetched_at=fetched_at)
        running = self._in_flight.get(key)
        if running is None:
            running = asyncio.ensure_future(
                self._guarded(integration, lead, settings, budget, started, key)
            )
            self._in_flight[key] = running
            running.add_done_callback(lambda task: self._landed(key, task))
            # The call is shared: a caller cancelled (a rejecting sibling) must not cancel it.
            return await asyncio.shield(running)
        logger.debug(
            "lead %s: %s shares a lookup in flight",
            lead.lead_id,
            settings.id,
            extra={"lead_id": lead.lead_id, "integration_id": settings.id, "kind": settings.kind},
        )
        try:
            async with asyncio.timeout(max(budget - (self._clock() - started), 0.0) + GRACE):
                shared = await asyncio.shield(running)
        except TimeoutError as exc:
            return Guarded(failure=_for_follower(exc))
        if shared.failure is not None:
            # The leader's call failed; nothing was sent for this lead, whatever the leader's
            # own outcome was: the same failure, but no reused answer and no billing doubt.
            return Guarded(failure=_for_follower(shared.failure))
        return Guarded(
            shared.answer,
            cached=True,
            fetched_at=shared.fetched_at or dt.datetime.now(dt.UTC),
        )

    def _landed(self, key: str, task: asyncio.Task[Guarded]) -> None:
        if self._in_flight.get(key) is task:
            del self._in_flight[key]
        if not task.cancelled():
            task.exception()  # retrieved: whoever awaits it re-raises; nobody else logs it

    async def _guarded(  # noqa: PLR0917 - private, two call sites
        self,
        integration: Integration,
        lead: Lead,
        settings: IntegrationSettings,
        budget: float,
        started: float,
        key: str | None,
    ) -> Guarded:
        def left() -> float:
            return budget - (self._clock() - started)

        ticket = _Ticket(lead.lead_id)
        try:
            refusal = await self._admit(settings, ticket, left)
        except StateUnavailableError as exc:
            self._event("state_unavailable", settings, ticket.lead_id, error=str(exc))
            await self._settle(settings, ticket, "neutral", refund=True)
            return Guarded(failure=exc)
        if refusal is not None:
            await self._settle(settings, ticket, "neutral", refund=True)
            return Guarded(failure=refusal)
        answer: IntegrationAnswer | None = None
        failure: BaseException | None = None
        slowed = False
        while True:
            answer, failure = None, None
            try:
                deadline = max(left(), 0.0)
                # The guard fires a little after the integration's own deadline, so that one
                # honouring it reports its own timeout, with its attempts as evidence.
                async with asyncio.timeout(deadline + GRACE):
                    answer = await integration.screen(lead, settings, deadline=deadline)
            except (TimeoutError, PureCallerIDError) as exc:
                failure = exc
            except BaseException:
                # Cancelled (a rejecting sibling) or a host bug: the call may have left, so
                # the quota stays spent; a probe's slot is freed. Not awaited: this task is
                # going.
                self._spawn(self._settle(settings, ticket, "neutral", refund=False))
                raise
            if not (isinstance(failure, RateLimitError) and ticket.rate is not None):
                break
            # A 429 under a rate limit: the vendor refused the call unprocessed. The limiter,
            # not the client, waits it out: pause it, then try again on a new turn while the
            # deadline allows (the lead keeps its one quota unit).
            await self._slow(settings, ticket, _slow_downs(None, failure))
            if await self._take_turn(settings, ticket, left) is not None:
                # No turn in time: the 429 stands as the outcome (its pause already applied).
                slowed = True
                break
        await self._settle(
            settings,
            ticket,
            _breaker_outcome(failure),
            refund=failure is not None and not may_have_left(failure),
            slow_downs=() if slowed else _slow_downs(answer, failure),
        )
        if answer is not None and key is not None and answer.cacheable and settings.cache:
            await self._after_call(
                self.state.cache_put(
                    key, _encode(answer, dt.datetime.now(dt.UTC)), ttl=settings.cache.ttl
                ),
                settings,
            )
        return Guarded(answer, failure)

    async def _admit(
        self, settings: IntegrationSettings, ticket: _Ticket, left: Callable[[], float]
    ) -> PureCallerIDError | None:
        """Take the breaker, the quota and a turn; return the refusal, if any."""
        breaker = settings.circuit_breaker
        ticket.breaker = None if breaker is None else breaker.key or endpoint_key(settings)
        together = None
        if self._at_once is not None:
            together = await self._admit_together(self._at_once, settings, ticket, left)
        # What the combined admission answered stands for the separate operation's answer;
        # what it did not ask is asked separately, as without it. A step that failed in it
        # fails here, where its separate operation would have: what the steps before it took
        # is on the ticket, and given back as after any state failure.
        if ticket.breaker is not None:
            _unless_failed(together, "b")
            if together is not None and together.breaker is not None:
                admission = together.breaker
            else:
                admission = await self._state_op(
                    self.state.breaker_admit(ticket.breaker, probe_lease=max(left(), 0.0) + GRACE),
                    left(),
                )
            self._breaker_seen(settings, ticket, admission)
            if admission.decision == "reject":
                ticket.breaker = None
                what = "probing" if admission.retry_in <= 0 else "open"
                return CircuitOpenError(
                    f"the circuit breaker of {settings.id} is {what} after repeated failures; "
                    f"no call made (next probe in {admission.retry_in:.3g} s)",
                    retry_in=admission.retry_in,
                )
            ticket.probe = admission.decision == "probe"
        quota = settings.quota
        if quota is not None:
            _unless_failed(together, "q")
            if together is not None and together.quota is not None:
                quota_key, day, reservation = together.quota_key, together.day, together.quota
            else:
                quota_key = quota.key or credential_key(settings)
                day, expires_at = vendor_day(quota.timezone, self._wall())
                reservation = await self._state_op(
                    self.state.reserve_quota(
                        quota_key, period=day, limit=quota.daily, expires_at=expires_at
                    ),
                    left(),
                )
            self._hooks.quota_used(
                settings, ticket.lead_id, quota_key, day, reservation.used, quota.daily
            )
            if not reservation.granted:
                self._report_once(
                    "quota_exhausted",
                    settings,
                    ticket.lead_id,
                    quota_key,
                    day,
                    used=reservation.used,
                )
                return QuotaExhaustedError(
                    f"the daily quota of {quota.daily} calls of {settings.id} is spent for "
                    f"{day} ({quota.timezone}); no call made",
                    limit=quota.daily,
                    day=day,
                )
            ticket.quota = (quota_key, day)
            if reservation.used >= max(1, math.ceil(quota.warn_at * quota.daily)):
                self._report_once(
                    "quota_warning",
                    settings,
                    ticket.lead_id,
                    quota_key,
                    day,
                    used=reservation.used,
                )
        _unless_failed(together, "r")
        return await self._take_turn(
            settings, ticket, left, None if together is None else together.turn
        )

    async def _admit_together(
        self,
        at_once: AdmitAtOnce,
        settings: IntegrationSettings,
        ticket: _Ticket,
        left: Callable[[], float],
    ) -> _Together | None:
        """Ask the breaker, the quota and a turn in the backend's one combined operation.

        ``None``, nothing asked, when it would ask one step only: the separate operation does.
        A failure is a :class:`StateUnavailableError`, as any state operation's before a call.
        """
        quota, rate = settings.quota, settings.rate_limit
        # The separate operations each read left() as they start, the turn's after two round
        # trips; here left() is read once, before the one round trip: the turn's max_wait is
        # longer by those round trips' time (microseconds on a local Redis), which the call
        # no longer spends. Either way the turn's answer comes one round trip after the read.
        remaining = left()
        breaker_ask = None
        if ticket.breaker is not None:
            breaker_ask = BreakerAsk(ticket.breaker, max(remaining, 0.0) + GRACE)
        credential = ""
        if (quota is not None and not quota.key) or (rate is not None and not rate.key):
            credential = credential_key(settings)
        quota_ask = None
        day = ""
        if quota is not None:
            day, expires_at = vendor_day(quota.timezone, self._wall())
            quota_ask = QuotaAsk(quota.key or credential, day, quota.daily, expires_at)
        rate_ask = None
        if rate is not None:
            longest = remaining - _min_call_time(settings, rate)
            if rate.max_wait is not None:
                longest = min(rate.max_wait, longest)
            # No turn leaves time for the call: none is asked, and _take_turn refuses the call
            # without asking, as it would without the combined admission.
            if longest >= 0:
                rate_ask = RateAsk(rate.key or credential, rate.per_second, rate.burst, longest)
        if (breaker_ask is None) + (quota_ask is None) + (rate_ask is None) > 1:
            return None
        admitted = await self._state_op(at_once(breaker_ask, quota_ask, rate_ask), remaining)
        turn = None
        if rate_ask is not None and admitted.turn_asked:
            turn = _Turn(rate_ask.key, rate_ask.max_wait, admitted.wait)
        quota_key = "" if quota_ask is None else quota_ask.key
        return _Together(
            admitted.breaker, admitted.quota, quota_key, day, turn, failed=admitted.failed
        )

    async def _take_turn(
        self,
        settings: IntegrationSettings,
        ticket: _Ticket,
        left: Callable[[], float],
        first: _Turn | None = None,
    ) -> PureCallerIDError | None:
        """Take a rate-limiter turn and wait for it; return the refusal, if any.

        *first*: the first turn's answer, when the combined admission asked for it.
        """
        rate = settings.rate_limit
        if rate is None:
            return None
        rate_key = (rate.key or credential_key(settings)) if first is None else first.key
        ticket.rate = rate_key
        minimum = _min_call_time(settings, rate)
        waited = 0.0
        for _ in range(_TURN_ATTEMPTS):
            if first is not None:
                longest, wait, first = first.longest, first.wait, None
            else:
                longest = left() - minimum
                if rate.max_wait is not None:
                    longest = min(rate.max_wait - waited, longest)
                wait = None
                if longest >= 0:
                    wait = await self._state_op(
                        self.state.acquire_rate(
                            rate_key, rate=rate.per_second, burst=rate.burst, max_wait=longest
                        ),
                        left(),
                    )
            if wait is None:
                return ThrottledError(
                    f"the rate limit of {settings.id} ({rate.per_second:g}/s) has no turn "
                    f"within {max(longest, 0.0):.3g} s that leaves {minimum:.3g} s for the "
                    "call; no call made",
                    wait=max(longest, 0.0),
                )
            if wait <= 0:
                return None
            asked = self._clock()
            await self._sleep(wait)
            waited += wait
            refusal = await self._recheck_breaker(settings, ticket, left)
            if refusal is not None:
                return refusal
            # A 429 that came back while this call slept: its turn was handed out before the
            # vendor said to slow down, so it takes a new one, after the pause.
            if self._slowed.get(rate_key, 0.0) <= asked:
                return None
        return None

    async def _recheck_breaker(
        self, settings: IntegrationSettings, ticket: _Ticket, left: Callable[[], float]
    ) -> PureCallerIDError | None:
        """Ask the breaker again after waiting for a turn: it may have opened meanwhile."""
        if ticket.breaker is None or ticket.probe:
            return None  # no breaker, or this call is the probe (its slot is leased to it)
        admission = await self._state_op(
            self.state.breaker_admit(ticket.breaker, probe_lease=max(left(), 0.0) + GRACE),
            left(),
        )
        self._breaker_seen(settings, ticket, admission)
        if admission.decision == "reject":
            ticket.breaker = None
            return CircuitOpenError(
                f"the circuit breaker of {settings.id} opened while this call waited for its "
                f"turn; no call made (next probe in {admission.retry_in:.3g} s)",
                retry_in=admission.retry_in,
            )
        ticket.probe = admission.decision == "probe"
        return None

    async def _settle(
        self,
        settings: IntegrationSettings,
        ticket: _Ticket,
        outcome: BreakerOutcome,
        *,
        refund: bool,
        slow_downs: tuple[float, ...] = (),
    ) -> None:
        """The bookkeeping after a call (or a refusal): errors are logged, never raised."""
        if refund and ticket.quota is not None:
            quota_key, day = ticket.quota
            await self._after_call(self.state.release_quota(quota_key, period=day), settings)
        breaker = settings.circuit_breaker
        if ticket.breaker is not None and breaker is not None:
            change = await self._after_call(
                self.state.breaker_record(
                    ticket.breaker,
                    outcome=outcome,
                    probe=ticket.probe,
                    threshold=breaker.failures,
                    cooldown=breaker.cooldown,
                ),
                settings,
            )
            if change is not None:
                self._event(f"circuit_{change}", settings, ticket.lead_id, key=ticket.breaker)
                state: BreakerStateName = "closed" if change == "closed" else "open"
                self._hooks.breaker_state(settings, ticket.lead_id, ticket.breaker, state)
        await self._slow(settings, ticket, slow_downs)

    async def _slow(
        self, settings: IntegrationSettings, ticket: _Ticket, slow_downs: tuple[float, ...]
    ) -> None:
        """Pause the rate limiter once for each 429 (with its Retry-After)."""
        rate = settings.rate_limit
        if ticket.rate is None or rate is None:
            return
        # Every 429 slows the limiter, those the client retried and answered in the end too:
        # each says the vendor's rate is below ours.
        for wait in slow_downs:
            self._slowed[ticket.rate] = self._clock()
            await self._after_call(
                self.state.slow_down(
                    ticket.rate, rate=rate.per_second, burst=rate.burst, wait=wait
                ),
                settings,
            )

    # -- state operations -----------------------------------------------------------------

    async def _state_op(self, operation: Awaitable[_T], seconds: float) -> _T:
        """Run a state operation before the call; any failure is a StateUnavailableError."""
        try:
            async with asyncio.timeout(max(seconds, 0.0)):
                return await operation
        except ForkedError:
            raise  # a backend built before a fork: the host's set-up, not an outage
        except Exception as exc:
            detail = "timed out" if isinstance(exc, TimeoutError) else f"{type(exc).__name__}"
            raise _state_unavailable(detail) from exc

    async def _after_call(
        self, operation: Awaitable[_T], settings: IntegrationSettings
    ) -> _T | None:
        try:
            async with asyncio.timeout(_AFTER_CALL_TIMEOUT):
                return await operation
        except Exception as exc:  # noqa: BLE001 - the answer is kept; the state is best effort
            logger.warning(
                "%s: the guards' state backend failed after the call (%s); answer kept",
                settings.id,
                type(exc).__name__,
                extra={"integration_id": settings.id, "kind": settings.kind},
            )
            return None

    def _spawn(self, coroutine: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def aclose(self) -> None:
        """Wait for the bookkeeping still running, and for shared calls."""
        pending = [*self._background, *self._in_flight.values()]
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)

    # -- events ---------------------------------------------------------------------------

    def _report_once(
        self,
        name: str,
        settings: IntegrationSettings,
        lead_id: str,
        key: str,
        day: str,
        *,
        used: int,
    ) -> None:
        # Once per process, key and vendor day: every lead after the quota is spent would
        # otherwise log the same line.
        if (name, key, day) in self._reported:
            return
        self._reported.add((name, key, day))
        quota = settings.quota
        limit = 0 if quota is None else quota.daily
        self._event(name, settings, lead_id, key=key, day=day, used=used, limit=limit)

    def _event(
        self, name: str, settings: IntegrationSettings, lead_id: str, **details: Any
    ) -> None:
        shown = {"integration_id": settings.id, "kind": settings.kind, **details}
        text = ", ".join(f"{k}={v}" for k, v in shown.items())
        level = logging.INFO if name == "circuit_closed" else logging.WARNING
        fields = {"lead_id": lead_id, "integration_id": settings.id, "kind": settings.kind}
        fields.update(event=name, **{k: details[k] for k in ("used", "limit") if k in details})
        logger.log(level, "guard event %s: %s", name, text, extra=fields)
        # An observer's exception is the hooks' to hold: it must not cost the lead its record,
        # nor leak the quota unit or the breaker's probe slot held at this moment.
        self._hooks.guard_event(name, settings, lead_id, details)

    def _breaker_seen(
        self, settings: IntegrationSettings, ticket: _Ticket, admission: BreakerAdmission
    ) -> None:
        """Tell the hooks the state a breaker's admission shows."""
        if ticket.breaker is None:
            return
        state: BreakerStateName = "closed"
        if admission.decision == "probe" or (
            admission.decision == "reject" and admission.retry_in <= 0
        ):
            state = "half_open"  # this call is the probe, or another caller's probe is out
        elif admission.decision == "reject":
            state = "open"
        self._hooks.breaker_state(settings, ticket.lead_id, ticket.breaker, state)


def _min_call_time(settings: IntegrationSettings, rate: RateLimitSettings) -> float:
    """The seconds a call needs at least after its turn."""
    # A turn is worth taking only if the call still has time after it: a turn at the
    # deadline's edge would be a timeout that spent a quota unit and a turn.
    if rate.min_call_time is not None:
        return rate.min_call_time
    return min(_MIN_CALL_TIME, _MIN_CALL_FRACTION * settings.timeout)


@attrs.define
class _Turn:
    """A first turn the combined admission asked for: its limiter, its max_wait, its wait."""

    key: str
    longest: float
    wait: float | None


@attrs.define
class _Together:
    """The combined admission's answers, as _admit takes them (``None``: not asked)."""

    breaker: BreakerAdmission | None
    quota: QuotaReservation | None
    quota_key: str
    day: str
    turn: _Turn | None
    failed: str | None = attrs.field(default=None, kw_only=True)


def _unless_failed(together: _Together | None, step: str) -> None:
    """Raise, as its separate operation's failure would, if *step* failed in the combined one.

    The same words as that failure's: Redis answered the step with an error (a
    ``ResponseError``, for the separate script).
    """
    if together is not None and together.failed == step:
        raise _state_unavailable("ResponseError")


def _state_unavailable(detail: str) -> StateUnavailableError:
    """A state operation before a call that failed (*detail*: how): no call is made."""
    return StateUnavailableError(f"the guards' state backend failed ({detail}); no call made")


class _Ticket:
    """What a call holds while it runs: its breaker slot, quota unit and limiter."""

    __slots__ = ("breaker", "lead_id", "probe", "quota", "rate")

    def __init__(self, lead_id: str) -> None:
        self.lead_id = lead_id
        self.breaker: str | None = None
        self.probe = False
        self.quota: tuple[str, str] | None = None
        self.rate: str | None = None


_SLOW_DOWN_MAX: Final = 300.0


def _slow_downs(
    answer: IntegrationAnswer | None, failure: BaseException | None
) -> tuple[float, ...]:
    """The pause each 429 of a call asks of the limiter, whether or not the call ended in it."""
    attempts: tuple[Attempt, ...] = ()
    if answer is not None:
        attempts = answer.attempts
    elif isinstance(failure, APIError) and failure.exchange is not None:
        attempts = failure.exchange.attempts
    waits = [
        _SLOW_DOWN_DEFAULT if a.retry_after is None else a.retry_after
        for a in attempts
        if a.status_code == _TOO_MANY_REQUESTS
    ]
    if not waits and isinstance(failure, RateLimitError):
        # An integration that records no attempts: its final 429 is all there is to go by.
        waits.append(_SLOW_DOWN_DEFAULT if failure.retry_after is None else failure.retry_after)
    # A vendor's Retry-After pauses every worker: a garbled or huge one must not freeze the
    # limiter for hours (nor overflow a Redis expiry).
    return tuple(min(wait, _SLOW_DOWN_MAX) for wait in waits)
