"""The events an :class:`~purecallerid.typing.EventObserver` is told, one class each.

Each is a frozen value, made only when an event observer is configured: a screener without
one builds none. Events name integrations by id and kind, and guard state by its hashed key:
none holds a token. The lead (in the screening and integration events) is the host's own,
phone and fields included: an observer must not copy its fields into metrics or spans.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from attrs import field, frozen

from .._models import Lead
from .._records import IntegrationRecord, ScreeningRecord

__all__ = [
    "BreakerState",
    "BreakerStateName",
    "GuardEvent",
    "IntegrationEnded",
    "IntegrationStarted",
    "ObserverEvent",
    "QuotaUsed",
    "ScreeningEnded",
    "ScreeningStarted",
]


def _as_dict(value: Mapping[str, Any]) -> Mapping[str, Any]:
    return dict(value)


@frozen(kw_only=True)
class ScreeningStarted:
    """``screen()`` began work on a lead (before its record is looked up).

    Told in the task that screens the lead: whatever an observer makes current then (a span)
    is current for the whole screening, its integrations included.

    Attributes:
        lead: The lead, as the host gave it.
    """

    lead: Lead


@frozen(kw_only=True)
class ScreeningEnded:
    """``screen()`` is done with a lead: a record is returned, or an exception raised.

    Attributes:
        lead: The lead.
        record: The record returned (or saved, when an exception followed the save), or
            ``None`` when none was.
        reused: The record is one that stood already (fresh, or saved meanwhile by another
            worker): nothing was screened, no vendor called.
        duration: Seconds from the start of ``screen()``'s work to now, storage included.
        error: The exception ``screen()`` raises (``StorageError``, a host bug), or ``None``.
    """

    lead: Lead
    record: ScreeningRecord | None
    reused: bool
    duration: float
    error: BaseException | None = None


@frozen(kw_only=True)
class IntegrationStarted:
    """An integration of the lead's campaign is about to be called.

    Told in the task that calls it (one task per integration of a parallel stage).

    Attributes:
        lead: The lead.
        integration_id: The integration's id in the campaign settings.
        kind: Its kind (the vendor: ``purecallerid``, a preset's name, ``suppression``...).
        sort: Its sort number (its stage).
        budget: The seconds it is given (its timeout, or what is left of the deadline).
    """

    lead: Lead
    integration_id: str
    kind: str
    sort: int
    budget: float


@frozen(kw_only=True)
class IntegrationEnded:
    """An integration's part of a screening is recorded: answered, failed, skipped, cancelled.

    Every integration of the campaign ends once, called or not; a skipped one (disabled, or
    after a rejecting stage) was never started. A cancelled one (a sibling rejected the lead)
    ends from the task of its stage, not its own.

    Attributes:
        lead: The lead.
        record: Its :class:`~purecallerid.IntegrationRecord` (status, error class, attempts,
            ``outcome_unknown``, duration).
    """

    lead: Lead
    record: IntegrationRecord


@frozen(kw_only=True)
class GuardEvent:
    """A guard's event: a quota's warning or exhaustion, a breaker's change, a state outage.

    Attributes:
        name: ``quota_warning``, ``quota_exhausted``, ``circuit_opened``,
            ``circuit_reopened``, ``circuit_closed`` or ``state_unavailable``.
        lead_id: The lead whose call raised it.
        integration_id: The integration's id.
        kind: Its kind.
        details: The event's figures: ``key`` (hashed, never a token), ``day``, ``used``,
            ``limit`` for the quota; ``key`` for the breaker; ``error`` for an outage.
    """

    name: str
    lead_id: str
    integration_id: str
    kind: str
    details: Mapping[str, Any] = field(factory=dict, converter=_as_dict)


@frozen(kw_only=True)
class QuotaUsed:
    """A call was counted against a daily quota (what a gauge of the quota shows).

    Attributes:
        lead_id: The lead whose call it is.
        integration_id: The integration's id.
        kind: Its kind.
        key: The quota's key (hashed, never a token).
        day: The vendor's day the count belongs to (``YYYY-MM-DD``).
        used: Calls counted that day, this one included (the limit when refused).
        limit: The daily limit.
    """

    lead_id: str
    integration_id: str
    kind: str
    key: str
    day: str
    used: int
    limit: int


BreakerStateName = Literal["closed", "half_open", "open"]
"""A circuit breaker's state as this process last saw it: closed (calls go), half open (one
probe is out), open (calls refused until the cool-down ends)."""


@frozen(kw_only=True)
class BreakerState:
    """What a circuit breaker was found in, or changed to, around a call.

    Told when a call is admitted or refused by the breaker, and when its outcome changes the
    breaker's state. With state shared by workers, another worker may change it meanwhile:
    this is the state this process last saw.

    Attributes:
        lead_id: The lead whose call it is.
        integration_id: The integration's id.
        kind: Its kind.
        key: The breaker's key (hashed).
        state: ``closed``, ``half_open`` or ``open``.
    """

    lead_id: str
    integration_id: str
    kind: str
    key: str
    state: BreakerStateName


ObserverEvent = (
    ScreeningStarted
    | ScreeningEnded
    | IntegrationStarted
    | IntegrationEnded
    | GuardEvent
    | QuotaUsed
    | BreakerState
)
"""Any event an :class:`~purecallerid.typing.EventObserver` is told."""
