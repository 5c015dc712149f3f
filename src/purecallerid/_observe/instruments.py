"""The metrics the library reports: one catalogue for OpenTelemetry and Prometheus.

Both observers create exactly these instruments, and read what to record from
:func:`measurements`: the two views cannot disagree. The metric table of
``docs/observability.md`` is tested against this catalogue.

Labels are few and bounded by configuration (campaigns, integrations, kinds, the closed sets
of outcomes, decisions and error classes): never a lead id, never a phone. Histograms leave the
campaign out, since each label value multiplies their buckets.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final, Literal

from attrs import frozen

from .._records import IntegrationStatus
from .events import (
    BreakerState,
    GuardEvent,
    IntegrationEnded,
    QuotaUsed,
    ScreeningEnded,
)

if TYPE_CHECKING:
    from .._records import IntegrationRecord
    from .events import ObserverEvent

__all__ = [
    "BREAKER_STATES",
    "BUCKETS",
    "INSTRUMENTS",
    "LABELS",
    "Instrument",
    "Measurement",
    "measurements",
    "outcome",
]

InstrumentKind = Literal["counter", "histogram", "gauge"]


@frozen
class Instrument:
    """One metric: its OpenTelemetry name, type, unit, labels and meaning.

    Attributes:
        name: The OpenTelemetry instrument name (dotted).
        kind: ``counter``, ``histogram`` or ``gauge``.
        unit: UCUM unit: ``s`` for seconds, ``{call}``-style annotations for counts.
        labels: The label names (Prometheus spelling; :data:`LABELS` gives the OpenTelemetry
            attribute key of each).
        description: What it measures.
    """

    name: str
    kind: InstrumentKind
    unit: str
    labels: tuple[str, ...]
    description: str

    @property
    def prometheus_name(self) -> str:
        """The name Prometheus scrapes (a counter's samples add ``_total``)."""
        base = self.name.replace(".", "_")
        return f"{base}_seconds" if self.unit == "s" else base


LABELS: Final[dict[str, str]] = {
    "campaign": "purecallerid.campaign.id",
    "decision": "purecallerid.decision",
    "integration": "purecallerid.integration.id",
    "kind": "purecallerid.integration.kind",
    "outcome": "purecallerid.integration.outcome",
    "error_type": "error.type",
    "event": "purecallerid.guard.event",
}
"""Label name (Prometheus) -> attribute key (OpenTelemetry; ``error.type`` is the semantic
convention's)."""

BUCKETS: Final = (
    0.005,
    0.01,
    0.025,
    0.05,
    0.075,
    0.1,
    0.25,
    0.5,
    0.75,
    1.0,
    2.5,
    5.0,
    7.5,
    10.0,
    30.0,
)
"""Histogram bucket bounds in seconds: the HTTP semantic conventions' advice, and 30 s for
long campaign deadlines."""

BREAKER_STATES: Final = {"closed": 0, "half_open": 1, "open": 2}
"""The breaker state gauge's values, by state: higher is worse."""

_CALL = ("integration", "kind")
INSTRUMENTS: Final = (
    Instrument(
        "purecallerid.screenings", "counter", "{screening}", ("campaign", "decision"),
        "Leads screened (a record saved), by decision.",
    ),
    Instrument(
        "purecallerid.screenings.reused", "counter", "{screening}", ("campaign",),
        "screen() calls answered with a record that stood already (no vendor called).",
    ),
    Instrument(
        "purecallerid.screenings.failed", "counter", "{screening}", ("campaign", "error_type"),
        "screen() calls that raised (no decision returned), by exception class.",
    ),
    Instrument(
        "purecallerid.screening.duration", "histogram", "s", ("decision",),
        "Seconds from screen() to its record, storage included (screened leads only).",
    ),
    Instrument(
        "purecallerid.integration.calls", "counter", "{call}",
        ("campaign", *_CALL, "outcome", "error_type"),
        "Integrations' parts in screenings, by outcome: answered, cached, error (with its "
        "error class), skipped (not called), cancelled.",
    ),
    Instrument(
        "purecallerid.integration.outcome_unknown", "counter", "{call}", _CALL,
        "Calls that may have reached the vendor (and been billed) without an answer.",
    ),
    Instrument(
        "purecallerid.integration.duration", "histogram", "s", (*_CALL, "outcome"),
        "Seconds an integration took for a lead (retries and waits for a turn included).",
    ),
    Instrument(
        "purecallerid.guard.events", "counter", "{event}", (*_CALL, "event"),
        "Guard events: quota_warning, quota_exhausted, circuit_opened, circuit_reopened, "
        "circuit_closed, state_unavailable.",
    ),
    Instrument(
        "purecallerid.quota.used", "gauge", "{call}", _CALL,
        "Calls counted against the daily quota on the vendor's day, as last reserved here.",
    ),
    Instrument(
        "purecallerid.quota.limit", "gauge", "{call}", _CALL,
        "The daily quota's limit.",
    ),
    Instrument(
        "purecallerid.breaker.state", "gauge", "1", _CALL,
        "The circuit breaker as last seen here: 0 closed, 1 half open (a probe out), 2 open.",
    ),
)  # fmt: skip
"""Every instrument the observers create."""

Measurement = tuple[str, float, dict[str, str]]
"""(instrument name, value, labels by Prometheus name)."""


def outcome(record: IntegrationRecord) -> str:
    """An integration record's outcome label: answered, cached, error, skipped, cancelled."""
    if record.status is IntegrationStatus.COMPLETED:
        return "cached" if record.cached else "answered"
    return str(record.status)


def measurements(event: ObserverEvent) -> list[Measurement]:
    """What *event* adds to the metrics (nothing for the start events)."""
    if isinstance(event, IntegrationEnded):
        return _integration(event)
    if isinstance(event, ScreeningEnded):
        return _screening(event)
    if isinstance(event, GuardEvent):
        labels = {"integration": event.integration_id, "kind": event.kind, "event": event.name}
        return [("purecallerid.guard.events", 1, labels)]
    if isinstance(event, QuotaUsed):
        labels = {"integration": event.integration_id, "kind": event.kind}
        return [
            ("purecallerid.quota.used", event.used, labels),
            ("purecallerid.quota.limit", event.limit, labels),
        ]
    if isinstance(event, BreakerState):
        labels = {"integration": event.integration_id, "kind": event.kind}
        return [("purecallerid.breaker.state", BREAKER_STATES[event.state], labels)]
    return []


def _integration(event: IntegrationEnded) -> list[Measurement]:
    record = event.record
    call = {"integration": record.integration_id, "kind": record.kind}
    what = outcome(record)
    found: list[Measurement] = [
        (
            "purecallerid.integration.calls",
            1,
            {
                "campaign": event.lead.campaign_id,
                **call,
                "outcome": what,
                "error_type": record.error_class or "",
            },
        )
    ]
    if record.outcome_unknown:
        found.append(("purecallerid.integration.outcome_unknown", 1, call))
    if record.duration is not None:
        found.append(
            ("purecallerid.integration.duration", record.duration, {**call, "outcome": what})
        )
    return found


def _screening(event: ScreeningEnded) -> list[Measurement]:
    campaign = event.lead.campaign_id
    record = event.record
    if record is None:
        error = "" if event.error is None else type(event.error).__name__
        return [("purecallerid.screenings.failed", 1, {"campaign": campaign, "error_type": error})]
    if event.reused:
        return [("purecallerid.screenings.reused", 1, {"campaign": campaign})]
    # A record saved before an observer hook raised still counts: the lead was screened.
    decision = str(record.decision)
    return [
        ("purecallerid.screenings", 1, {"campaign": campaign, "decision": decision}),
        ("purecallerid.screening.duration", event.duration, {"decision": decision}),
    ]
