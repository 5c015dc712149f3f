"""OpenTelemetry: a span per screening, a child per integration, HTTP attempts, metrics.

Written against ``opentelemetry-api`` only: the host configures the SDK (or not). With no SDK
the API's tracer and meter do nothing, and this observer costs a few no-op calls per lead.

The span tree of one lead::

    purecallerid.screening                       (INTERNAL; the caller's span is its parent)
    ├── purecallerid.integration <id>            (INTERNAL; one per integration, skipped too)
    │   └── <METHOD>                             (CLIENT; one per HTTP attempt, HTTP semconv)
    └── ...

An integration's span is current while it is called (it runs in its own task in a parallel
stage), so that spans the host's own HTTP instrumentation makes nest under it. Attributes
hold ids, kinds, classes and counts: never a phone, a lead field, a URL or a secret.
"""

from __future__ import annotations

import asyncio
import contextvars
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlsplit

from opentelemetry import context as otel_context
from opentelemetry import metrics, trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from .._records import IntegrationStatus
from .._version import __version__
from .events import (
    GuardEvent,
    IntegrationEnded,
    IntegrationStarted,
    ScreeningEnded,
    ScreeningStarted,
)
from .instruments import BUCKETS, INSTRUMENTS, LABELS, Instrument, measurements, outcome

if TYPE_CHECKING:
    from collections.abc import Callable

    from opentelemetry.util.types import AttributeValue

    from .._models import Attempt
    from .._records import IntegrationRecord
    from .events import ObserverEvent

__all__ = ["SCOPE", "OpenTelemetryObserver"]

SCOPE: Final = "purecallerid"
"""The instrumentation scope of the library's tracer and meter."""
SCHEMA_URL: Final = "https://opentelemetry.io/schemas/1.27.0"
"""The semantic conventions the HTTP attributes follow (stable since 1.23)."""
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND: Final = timedelta(microseconds=1)
_DEFAULT_PORTS: Final = {"http": 80, "https": 443}
_FIRST_ERROR_STATUS: Final = 400


class _Call:
    """An integration's span while it is called, and where it was made current."""

    __slots__ = ("span", "task", "token")

    def __init__(
        self, span: trace.Span, token: contextvars.Token[otel_context.Context] | None
    ) -> None:
        self.span = span
        self.token = token
        self.task = _task() if token is not None else None


class _Screening:
    """A screening's span, the token that made it current, its integrations' open spans."""

    __slots__ = ("calls", "span", "token")

    def __init__(
        self, span: trace.Span, token: contextvars.Token[otel_context.Context] | None
    ) -> None:
        self.span = span
        self.token = token
        self.calls: dict[str, _Call] = {}


class OpenTelemetryObserver:
    """Traces and metrics of every screening, through the OpenTelemetry API.

    Pass it as a screener's ``observer`` (with others in a
    :class:`~purecallerid.CompositeObserver`). It reports to the global tracer and meter
    providers unless given its own; with none configured (no SDK), it does nothing.

    Spans: ``purecallerid.screening`` per ``screen()`` call (child of the caller's current
    span), ``purecallerid.integration <id>`` per integration of the campaign, and one
    ``CLIENT`` span per HTTP attempt named by its method, with the HTTP semantic conventions'
    attributes (``http.request.method``, ``server.address``, ``server.port``,
    ``http.response.status_code``, ``http.request.resend_count``, ``error.type``). The metrics
    are those of the table in "Observability" (``purecallerid.screenings``,
    ``purecallerid.integration.calls``, ``purecallerid.integration.duration``...).

    Requires the ``otel`` extra (``pip install 'purecallerid[otel]'``).

    Args:
        tracer_provider: Where spans go (default: the global provider).
        meter_provider: Where metrics go (default: the global provider).
    """

    def __init__(
        self,
        *,
        tracer_provider: trace.TracerProvider | None = None,
        meter_provider: metrics.MeterProvider | None = None,
    ) -> None:
        """Get the tracer and create the instruments; see the class docstring."""
        self._tracer = trace.get_tracer(
            SCOPE, __version__, tracer_provider=tracer_provider, schema_url=SCHEMA_URL
        )
        meter = metrics.get_meter(
            SCOPE, __version__, meter_provider=meter_provider, schema_url=SCHEMA_URL
        )
        self._instruments = {spec.name: _instrument(meter, spec) for spec in INSTRUMENTS}
        # Each observer its own: two observers (two providers) keep their spans apart.
        self._open: contextvars.ContextVar[_Screening | None] = contextvars.ContextVar(
            "purecallerid_otel_screening", default=None
        )
        # With the global providers, nothing may be configured (the API alone, no SDK): then
        # each event is dropped at once, instead of no-op spans and no-op measurements.
        self._global = tracer_provider is None and meter_provider is None
        self._idle = self._global and _nothing_configured()
        self._spans: dict[type, Callable[[Any], None]] = {
            ScreeningStarted: self._screening_started,
            ScreeningEnded: self._screening_ended,
            IntegrationStarted: self._integration_started,
            IntegrationEnded: self._integration_ended,
            GuardEvent: self._guard_event,
        }

    def observe(self, event: ObserverEvent) -> None:
        """Record *event*: open or close its span, add its measurements."""
        if self._global:
            # Looked up when a screening starts (the API's lookup reads the environment):
            # the SDK set up later counts from the next screening on.
            if type(event) is ScreeningStarted:
                self._idle = _nothing_configured()
            if self._idle:
                return
        spans = self._spans.get(type(event))
        if spans is not None:
            spans(event)
        for name, value, labels in measurements(event):
            # An empty label (no error class) is left out: OpenTelemetry has no empty value.
            self._instruments[name](value, {LABELS[k]: v for k, v in labels.items() if v})

    # -- spans ------------------------------------------------------------------------------

    def _screening_started(self, event: ScreeningStarted) -> None:
        span = self._tracer.start_span("purecallerid.screening")
        if span.is_recording():
            span.set_attributes(
                {
                    "purecallerid.lead.id": event.lead.lead_id,
                    "purecallerid.campaign.id": event.lead.campaign_id,
                }
            )
        self._open.set(_Screening(span, _attach(span)))

    def _screening_ended(self, event: ScreeningEnded) -> None:
        screening = self._open.get()
        if screening is None:
            return
        self._open.set(None)
        for call in screening.calls.values():
            # A host bug ended the screening mid-call: the span says so rather than leak.
            call.span.set_status(Status(StatusCode.ERROR, "the screening ended first"))
            call.span.end()
        span = screening.span
        if span.is_recording():
            span.set_attributes(_screening_attributes(event))
            if event.error is not None:
                span.set_status(Status(StatusCode.ERROR, type(event.error).__name__))
        span.end()
        if screening.token is not None:
            otel_context.detach(screening.token)

    def _integration_started(self, event: IntegrationStarted) -> None:
        screening = self._open.get()
        if screening is None:
            return
        span = self._tracer.start_span(f"purecallerid.integration {event.integration_id}")
        if span.is_recording():
            span.set_attributes(
                {
                    "purecallerid.integration.id": event.integration_id,
                    "purecallerid.integration.kind": event.kind,
                    "purecallerid.integration.sort": event.sort,
                    "purecallerid.integration.budget_s": round(event.budget, 3),
                }
            )
        screening.calls[event.integration_id] = _Call(span, _attach(span))

    def _integration_ended(self, event: IntegrationEnded) -> None:
        screening = self._open.get()
        if screening is None:
            return
        record = event.record
        call = screening.calls.pop(record.integration_id, None)
        if call is None:
            # Never started (skipped): an instant under the screening shows why.
            parent = trace.set_span_in_context(screening.span)
            call = _Call(
                self._tracer.start_span(
                    f"purecallerid.integration {record.integration_id}", context=parent
                ),
                None,
            )
        span = call.span
        if span.is_recording():
            span.set_attributes(_call_attributes(record))
            if record.status is IntegrationStatus.ERROR:
                span.set_status(Status(StatusCode.ERROR, record.error_class))
            self._attempt_spans(span, record)
        span.end()
        # A cancelled integration ends from its stage's task: the context it was made current
        # in went with its own task.
        if call.token is not None and call.task is _task():
            otel_context.detach(call.token)

    def _attempt_spans(self, parent: trace.Span, record: IntegrationRecord) -> None:
        if not record.attempts or record.request is None:
            return
        method = record.request.method.upper()
        where = _server(record.request.url)
        context = trace.set_span_in_context(parent)
        for attempt in record.attempts:
            start = (attempt.started_at - _EPOCH) // _MICROSECOND * 1000
            attributes = {"http.request.method": method, **where, **_attempt_attributes(attempt)}
            span = self._tracer.start_span(
                method,
                context=context,
                kind=SpanKind.CLIENT,
                attributes=attributes,
                start_time=start,
            )
            if "error.type" in attributes:
                span.set_status(Status(StatusCode.ERROR))
            span.end(end_time=start + int(attempt.duration * 1e9))

    def _guard_event(self, event: GuardEvent) -> None:
        span = trace.get_current_span()
        if span.is_recording():
            attributes: dict[str, AttributeValue] = {
                "purecallerid.integration.id": event.integration_id,
                "purecallerid.integration.kind": event.kind,
            }
            for key, value in event.details.items():
                if isinstance(value, str | int | float | bool):
                    attributes[f"purecallerid.guard.{key}"] = value
            span.add_event(event.name, attributes)


def _task() -> asyncio.Task[Any] | None:
    """The running task, or ``None`` outside an event loop (events replayed by a host)."""
    try:
        return asyncio.current_task()
    except RuntimeError:
        return None


def _attach(span: trace.Span) -> contextvars.Token[otel_context.Context] | None:
    """Make *span* current in this task; nothing to do for a span that records nothing."""
    if not span.is_recording():
        return None
    return otel_context.attach(trace.set_span_in_context(span))


def _instrument(meter: metrics.Meter, spec: Instrument) -> Callable[[float, Any], None]:
    """The instrument for *spec*, as its recording method."""
    if spec.kind == "counter":
        return meter.create_counter(spec.name, spec.unit, spec.description).add
    if spec.kind == "histogram":
        histogram = meter.create_histogram(
            spec.name, spec.unit, spec.description, explicit_bucket_boundaries_advisory=BUCKETS
        )
        return histogram.record
    return meter.create_gauge(spec.name, spec.unit, spec.description).set


def _screening_attributes(event: ScreeningEnded) -> dict[str, AttributeValue]:
    attributes: dict[str, AttributeValue] = {"purecallerid.reused": event.reused}
    record = event.record
    if record is not None:
        attributes.update(
            {
                "purecallerid.decision": str(record.decision),
                "purecallerid.outcome_unknown": record.outcome_unknown,
                "purecallerid.record.version": record.version,
                "purecallerid.settings_hash": record.settings_hash,
            }
        )
        if record.decided_by is not None:
            attributes["purecallerid.decided_by"] = record.decided_by
    if event.error is not None:
        attributes["error.type"] = type(event.error).__name__
    return attributes


def _call_attributes(record: IntegrationRecord) -> dict[str, AttributeValue]:
    attributes: dict[str, AttributeValue] = {
        "purecallerid.integration.id": record.integration_id,
        "purecallerid.integration.kind": record.kind,
        "purecallerid.integration.sort": record.sort,
        "purecallerid.integration.outcome": outcome(record),
        "purecallerid.integration.attempts": len(record.attempts),
        "purecallerid.integration.cached": record.cached,
    }
    optional: dict[str, AttributeValue | None] = {
        "purecallerid.integration.action": None if record.action is None else str(record.action),
        "purecallerid.integration.decided_by": record.decided_by,
        "purecallerid.integration.outcome_unknown": record.outcome_unknown,
        # Built from ids by the plan ("not called: dnc rejected the lead").
        "purecallerid.integration.skip_reason": record.skip_reason,
        "error.type": record.error_class,
    }
    attributes.update({k: v for k, v in optional.items() if v is not None})
    if record.request is not None:
        attributes.update(_server(record.request.url))
    return attributes


def _attempt_attributes(attempt: Attempt) -> dict[str, AttributeValue]:
    attributes: dict[str, AttributeValue] = {}
    if attempt.number > 1:
        attributes["http.request.resend_count"] = attempt.number - 1
    status = attempt.status_code
    if status is not None:
        attributes["http.response.status_code"] = status
    if attempt.outcome != "answered":
        attributes["error.type"] = str(attempt.outcome)  # the transport failure's class
    elif status is not None and status >= _FIRST_ERROR_STATUS:
        attributes["error.type"] = str(status)  # the conventions' choice for an HTTP error
    if attempt.request_id is not None:
        attributes["purecallerid.vendor.request_id"] = attempt.request_id
    if attempt.wait is not None:
        attributes["purecallerid.attempt.retry_in_s"] = round(attempt.wait, 3)
    return attributes


def _server(url: str) -> dict[str, AttributeValue]:
    """``server.address`` and ``server.port`` of *url*: its path and query may hold a phone."""
    parts = urlsplit(url)
    found: dict[str, AttributeValue] = {}
    if parts.hostname:
        found["server.address"] = parts.hostname
    try:
        port = parts.port or _DEFAULT_PORTS.get(parts.scheme)
    except ValueError:
        port = None
    if port is not None:
        found["server.port"] = port
    return found


def _nothing_configured() -> bool:
    """Whether no SDK was set up: the global providers are still the API's stand-ins.

    A host may configure the SDK after building the observer: it is looked up again as each
    screening starts (a screening already under way then just has no span).
    """
    return isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider) and (
        type(metrics.get_meter_provider()).__name__ == "_ProxyMeterProvider"
    )
