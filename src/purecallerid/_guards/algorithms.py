"""The guards' algorithms: the spec every state backend applies (the Lua scripts mirror it).

The algorithms are pure functions over a small state, so that every backend applies the same
rules: the in-memory backend (``memory.py``) and the SQLite one call them inside their own atomic
section; the Redis backend runs the same steps in Lua scripts (``redis.py``).

- **Quota**: a counter per key and vendor day; a reservation increments it unless the limit
  is reached.
- **Rate**: GCRA (the generic cell rate algorithm) keeps one number per key, the theoretical
  arrival time ``tat``. A call's turn is ``max(tat, now) + T - burst * T`` (``T = 1 / rate``);
  granting it moves ``tat`` on by ``T``. Turns therefore never exceed ``burst + rate * t`` in
  any window of ``t`` seconds, and a caller knows its wait at once.
- **Breaker**: closed -> open after *threshold* consecutive failures; open -> one probe after
  the cool-down (the probe's slot is leased, so a crashed worker cannot keep it); the probe's
  success closes, its failure reopens.
- **Clock**: every time above is a point on the backend's clock, and intervals are measured on
  it, so that clock must not step back with the wall clock (memory: the process's monotonic
  clock; SQLite: the host's, with a base kept in the file). A backend whose clock is a wall
  clock (Redis: the server's ``TIME``) stores with each state when it was written and undoes a
  step back with :func:`clock_stepped_back`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from attrs import define

from ..typing import BreakerAdmission

if TYPE_CHECKING:
    from ..typing import BreakerChange, BreakerOutcome

__all__ = [
    "BreakerState",
    "breaker_admit",
    "breaker_record",
    "clock_stepped_back",
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


def clock_stepped_back(written_at: float, now: float) -> float:
    """How far a wall clock has stepped back since a state was written at *written_at*.

    A state written "in the future" proves that the clock went back at least that far since.
    Moving the state's times (``tat``, ``open_until``, ``probe_until``) back by the result
    keeps each exactly as far ahead of *now* as it was when written: no wait grows by the
    step (a step back of an hour does not hold calls for an hour), and no turn or probe comes
    earlier than it would have. The time that passed between the write and the step is not
    counted: the rule errs toward waiting, by at most the state's own interval. ``0.0`` when
    the clock did not go back.

    The moved times are written back at once, with *now* as their written time, even by a
    call that changes nothing else (a refused turn, a rejected call): left as written, each
    later read would find them as far ahead again, until the clock caught up.
    """
    return max(0.0, written_at - now)


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
