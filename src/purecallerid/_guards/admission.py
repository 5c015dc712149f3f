"""An optional capability of a state backend: a call's admission in one operation.

Before a call the guards ask the breaker, then the quota, then the rate limiter, each its own
operation of the :class:`~purecallerid.typing.StateBackend`: a round trip each on a remote
backend. A backend that can run the three as one atomic operation, with the same rules, offers
it as a method named :data:`CAPABILITY` taking the three requests (:class:`BreakerAsk`,
:class:`QuotaAsk`, :class:`RateAsk`, ``None`` for a step not asked) and answering
:class:`Admitted`: it asks the breaker, stops at a rejection, reserves the quota, stops at a
refusal, then takes the turn. :class:`~purecallerid.RedisStateBackend` offers it (one Lua script).

Not part of the public protocol: a host's backend needs nothing more, and the in-memory and
SQLite backends, local and cheap, keep the separate operations. The method's name is private,
so that it stays out of the public API.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final, NamedTuple, Protocol, cast

if TYPE_CHECKING:
    from collections.abc import Awaitable

    from ..typing import BreakerAdmission, QuotaReservation

__all__ = [
    "CAPABILITY",
    "STANDS_FOR",
    "AdmitAtOnce",
    "Admitted",
    "BreakerAsk",
    "QuotaAsk",
    "RateAsk",
    "combined_admission",
]

CAPABILITY: Final = "_admit_at_once"
"""The name of a backend's combined admission: a :class:`AdmitAtOnce`."""

_SEPARATE: Final = ("breaker_admit", "reserve_quota", "acquire_rate")
"""The operations the combined admission stands for."""

STANDS_FOR: Final = "_admission_stands_for"
"""The name under which a backend class may record the functions of :data:`_SEPARATE` it had."""


class BreakerAsk(NamedTuple):
    """The arguments of :meth:`StateBackend.breaker_admit`."""

    key: str
    probe_lease: float


class QuotaAsk(NamedTuple):
    """The arguments of :meth:`StateBackend.reserve_quota`."""

    key: str
    period: str
    limit: int
    expires_at: float


class RateAsk(NamedTuple):
    """The arguments of :meth:`StateBackend.acquire_rate`."""

    key: str
    rate: float
    burst: int
    max_wait: float


class Admitted(NamedTuple):
    """What the combined admission answers: each step's answer, as its own operation's.

    Attributes:
        breaker: The breaker's admission; ``None`` when it was not asked.
        quota: The quota's reservation; ``None`` when it was not asked, or when the breaker
            rejected the call first.
        turn_asked: Whether a turn was asked (not when it was not in the request, nor after a
            rejection or a refusal).
        wait: The seconds to wait for the turn; ``None`` when refused (or not asked).
        failed: The step that failed (``"b"``, ``"q"`` or ``"r"``), if one did: the steps
            before it stand (their answers above), nothing after it was asked.
    """

    breaker: BreakerAdmission | None
    quota: QuotaReservation | None
    turn_asked: bool
    wait: float | None
    failed: str | None = None


class AdmitAtOnce(Protocol):
    """A backend's combined admission (a bound method named :data:`CAPABILITY`)."""

    def __call__(
        self, breaker: BreakerAsk | None, quota: QuotaAsk | None, rate: RateAsk | None
    ) -> Awaitable[Admitted]:
        """Ask the steps given, in turn, in one atomic operation; stop at a refusal."""
        ...


def combined_admission(state: object) -> AdmitAtOnce | None:
    """The combined admission of *state*, or ``None`` when the guards must not use one.

    Looked up on the class (an object answering any attribute, such as a mock, offers
    nothing), and refused when a subclass or the instance replaced one of the separate
    operations: the combined one would bypass that replacement. A subclass sets the name to
    ``None`` to turn it off, an instance in its ``__dict__``.
    """
    kind = type(state)
    owner = next((c for c in kind.__mro__ if CAPABILITY in vars(c)), None)
    if owner is None or vars(owner)[CAPABILITY] is None:
        return None
    replaced = getattr(state, "__dict__", {})
    if replaced.get(CAPABILITY, ...) is None:
        return None  # turned off for this instance (a Redis Cluster client)
    # The functions the owner's combined admission stands for, as the owner declared them when
    # it was made: a patch of the owner class itself (a test's) differs from them too.
    originals = vars(owner).get(STANDS_FOR) or tuple(getattr(owner, n, None) for n in _SEPARATE)
    for name, original in zip(_SEPARATE, originals, strict=True):
        if name in replaced or getattr(kind, name, None) is not original:
            return None
    return cast("AdmitAtOnce", getattr(state, CAPABILITY))
