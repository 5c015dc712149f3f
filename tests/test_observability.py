"""Observability: the spans, metrics and logs of a parallel campaign with one failing vendor.

The OpenTelemetry SDK's in-memory exporters receive what :class:`OpenTelemetryObserver`
reports through the API; a fresh Prometheus registry what :class:`PrometheusObserver` keeps.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import (
    HistogramDataPoint,
    InMemoryMetricReader,
    NumberDataPoint,
)
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode
from prometheus_client import CollectorRegistry

from _observed import CANARY, GUARDS, PHONE, screen
from purecallerid import CompositeObserver, IntegrationRecord, Lead, ScreeningRecord
from purecallerid.otel import OpenTelemetryObserver
from purecallerid.prometheus import PrometheusObserver


class Telemetry:
    """An SDK tracer and meter provider, each with an in-memory exporter."""

    def __init__(self) -> None:
        self.spans = InMemorySpanExporter()
        self.tracer_provider = TracerProvider()
        self.tracer_provider.add_span_processor(SimpleSpanProcessor(self.spans))
        self.reader = InMemoryMetricReader()
        self.meter_provider = MeterProvider(metric_readers=[self.reader])

    def observer(self) -> OpenTelemetryObserver:
        return OpenTelemetryObserver(
            tracer_provider=self.tracer_provider, meter_provider=self.meter_provider
        )

    def finished(self) -> list[ReadableSpan]:
        return list(self.spans.get_finished_spans())

    def points(self) -> dict[str, list[tuple[dict[str, Any], Any]]]:
        """Metric name -> (attributes, value) of each data point (a histogram's: its count)."""
        found: dict[str, list[tuple[dict[str, Any], Any]]] = {}
        data = self.reader.get_metrics_data()
        assert data is not None
        for resource in data.resource_metrics:
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    for point in metric.data.data_points:
                        assert isinstance(point, HistogramDataPoint | NumberDataPoint)
                        value = (
                            point.count if isinstance(point, HistogramDataPoint) else point.value
                        )
                        labels = dict(point.attributes or {})
                        found.setdefault(metric.name, []).append((labels, value))
        return found


class Recorder:
    """An Observer (the original two hooks)."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def on_integration_result(self, lead: Lead, record: IntegrationRecord) -> None:
        self.seen.append(f"{record.integration_id}:{record.status}")

    def on_decision(self, record: ScreeningRecord) -> None:
        self.seen.append(f"decision:{record.decision}")


@pytest.fixture
def telemetry() -> Iterator[Telemetry]:
    found = Telemetry()
    yield found
    found.tracer_provider.shutdown()
    found.meter_provider.shutdown()


def by_name(spans: list[ReadableSpan]) -> dict[str, list[ReadableSpan]]:
    named: dict[str, list[ReadableSpan]] = {}
    for span in sorted(spans, key=lambda s: s.start_time or 0):
        named.setdefault(span.name, []).append(span)
    return named


def children(spans: list[ReadableSpan], parent: ReadableSpan) -> list[ReadableSpan]:
    assert parent.context is not None
    return sorted(
        (s for s in spans if s.parent is not None and s.parent.span_id == parent.context.span_id),
        key=lambda s: s.start_time or 0,
    )


def test_the_span_tree_of_a_parallel_stage_with_a_failing_vendor(telemetry: Telemetry) -> None:
    """One root per screening; a child per integration; a CLIENT child per HTTP attempt."""
    (record,) = screen(telemetry.observer())
    assert record.decision == "flag"
    spans = telemetry.finished()
    named = by_name(spans)
    (root,) = named["purecallerid.screening"]
    assert root.parent is None
    assert root.attributes == {
        "purecallerid.lead.id": "L-1",
        "purecallerid.campaign.id": "solar",
        "purecallerid.reused": False,
        "purecallerid.decision": "flag",
        "purecallerid.decided_by": "backup:failure_policy",
        "purecallerid.outcome_unknown": False,
        "purecallerid.record.version": 1,
        "purecallerid.settings_hash": record.settings_hash,
    }
    assert root.status.status_code is StatusCode.UNSET  # a decision, not an error
    calls = children(spans, root)
    assert [s.name for s in calls] == [
        "purecallerid.integration house-dnc",
        "purecallerid.integration pcid",
        "purecallerid.integration backup",
    ]
    assert root.context is not None
    assert {s.context.trace_id for s in spans if s.context} == {root.context.trace_id}
    house, pcid, backup = calls
    # The parallel stage: both vendors were in flight at once, after the first stage ended.
    assert max(pcid.start_time or 0, backup.start_time or 0) < min(
        pcid.end_time or 0, backup.end_time or 0
    )
    assert (house.end_time or 0) <= (pcid.start_time or 0)
    assert house.attributes is not None
    assert house.attributes["purecallerid.integration.outcome"] == "answered"
    assert children(spans, house) == []  # a local list: no HTTP
    assert pcid.attributes is not None
    assert pcid.attributes["purecallerid.integration.outcome"] == "answered"
    assert pcid.attributes["purecallerid.integration.attempts"] == 1
    assert pcid.attributes["server.address"] == "purecallerid.test"
    (answer,) = children(spans, pcid)
    assert answer.kind is SpanKind.CLIENT
    assert answer.name == "POST"
    assert answer.attributes == {
        "http.request.method": "POST",
        "server.address": "purecallerid.test",
        "server.port": 443,
        "http.response.status_code": 200,
    }
    assert backup.status.status_code is StatusCode.ERROR
    assert backup.attributes is not None
    assert {
        k: backup.attributes[k]
        for k in backup.attributes
        if k != "purecallerid.integration.budget_s"
    } == {
        "purecallerid.integration.id": "backup",
        "purecallerid.integration.kind": "purecallerid",
        "purecallerid.integration.sort": 2,
        "purecallerid.integration.outcome": "error",
        "purecallerid.integration.attempts": 3,
        "purecallerid.integration.cached": False,
        "purecallerid.integration.action": "flag",
        "purecallerid.integration.decided_by": "failure_policy",
        "purecallerid.integration.outcome_unknown": False,
        "error.type": "server_error",
        "server.address": "backup.test",
        "server.port": 443,
    }
    attempts = children(spans, backup)
    assert [a.attributes.get("http.request.resend_count") for a in attempts if a.attributes] == [
        None,
        1,
        2,
    ]
    for attempt in attempts:
        assert attempt.kind is SpanKind.CLIENT
        assert attempt.status.status_code is StatusCode.ERROR
        assert attempt.attributes is not None
        assert attempt.attributes["http.response.status_code"] == 503
        assert attempt.attributes["error.type"] == "503"
        assert (backup.start_time or 0) <= (attempt.start_time or 0)
        assert (attempt.end_time or 0) <= (backup.end_time or 0)


def test_the_metrics_of_a_parallel_stage_with_a_failing_vendor(telemetry: Telemetry) -> None:
    """Screenings by decision, calls by vendor and outcome, and their durations."""
    screen(telemetry.observer(), leads=2)
    points = telemetry.points()
    assert points["purecallerid.screenings"] == [
        ({"purecallerid.campaign.id": "solar", "purecallerid.decision": "flag"}, 2)
    ]
    calls = {
        (
            a["purecallerid.integration.id"],
            a["purecallerid.integration.outcome"],
            a.get("error.type"),
        ): v
        for a, v in points["purecallerid.integration.calls"]
    }
    assert calls == {
        ("house-dnc", "answered", None): 2,
        ("pcid", "answered", None): 2,
        ("backup", "error", "server_error"): 2,
    }
    durations = {
        (a["purecallerid.integration.id"], a["purecallerid.integration.outcome"]): count
        for a, count in points["purecallerid.integration.duration"]
    }
    assert durations == {
        ("house-dnc", "answered"): 2,
        ("pcid", "answered"): 2,
        ("backup", "error"): 2,
    }
    assert points["purecallerid.screening.duration"] == [({"purecallerid.decision": "flag"}, 2)]
    assert "purecallerid.integration.outcome_unknown" not in points  # 503s: answered, not billed


def test_a_lead_screened_again_is_reused_not_counted(telemetry: Telemetry) -> None:
    """screen() twice for a lead: one screening, one reused record, two spans."""
    import asyncio  # noqa: PLC0415

    from _observed import Vendors, lead, screener  # noqa: PLC0415

    async def twice() -> None:
        async with screener(telemetry.observer(), Vendors()) as running:
            first = await running.screen(lead())
            assert await running.screen(lead()) == first

    asyncio.run(twice())
    points = telemetry.points()
    assert [v for _, v in points["purecallerid.screenings"]] == [1]
    assert points["purecallerid.screenings.reused"] == [({"purecallerid.campaign.id": "solar"}, 1)]
    roots = by_name(telemetry.finished())["purecallerid.screening"]
    assert [(s.attributes or {}).get("purecallerid.reused") for s in roots] == [False, True]


def test_guard_gauges_and_events(telemetry: Telemetry) -> None:
    """Quota used and limit, the breaker's state; guard events as counts and span events."""
    records = screen(telemetry.observer(), leads=3, **GUARDS)
    assert [r.integration("backup").error_class for r in records] == [
        "server_error",
        "server_error",
        "circuit_open",
    ]
    points = telemetry.points()
    backup = {
        "purecallerid.integration.id": "backup",
        "purecallerid.integration.kind": "purecallerid",
    }
    assert points["purecallerid.quota.used"] == [(backup, 2)]
    assert points["purecallerid.quota.limit"] == [(backup, 3)]
    assert points["purecallerid.breaker.state"] == [(backup, 2)]  # open
    events = {a["purecallerid.guard.event"]: v for a, v in points["purecallerid.guard.events"]}
    assert events == {"quota_warning": 1, "circuit_opened": 1}
    # The events are on the span of the call that raised them.
    backups = by_name(telemetry.finished())["purecallerid.integration backup"]
    assert [[e.name for e in s.events] for s in backups] == [
        [],
        ["quota_warning", "circuit_opened"],
        [],
    ]


def test_prometheus_keeps_the_same_metrics() -> None:
    """PrometheusObserver: the same counts under the Prometheus names."""
    registry = CollectorRegistry()
    screen(PrometheusObserver(registry=registry), leads=2, **GUARDS)
    value = registry.get_sample_value
    assert value("purecallerid_screenings_total", {"campaign": "solar", "decision": "flag"}) == 2
    labels = {"campaign": "solar", "integration": "backup", "kind": "purecallerid"}
    assert (
        value(
            "purecallerid_integration_calls_total",
            {**labels, "outcome": "error", "error_type": "server_error"},
        )
        == 2
    )
    call = {"integration": "pcid", "kind": "purecallerid", "outcome": "answered"}
    assert value("purecallerid_integration_duration_seconds_count", call) == 2
    assert value("purecallerid_screening_duration_seconds_count", {"decision": "flag"}) == 2
    backup = {"integration": "backup", "kind": "purecallerid"}
    assert value("purecallerid_quota_used", backup) == 2
    assert value("purecallerid_quota_limit", backup) == 3
    assert value("purecallerid_breaker_state", backup) == 2


def test_a_composite_tells_every_observer(telemetry: Telemetry) -> None:
    """OpenTelemetry, Prometheus and an original Observer at once: each hears everything."""
    registry = CollectorRegistry()
    recorder = Recorder()
    screen(CompositeObserver(recorder, telemetry.observer(), PrometheusObserver(registry=registry)))
    assert recorder.seen == [
        "house-dnc:completed",
        "backup:error",
        "pcid:completed",
        "decision:flag",
    ]
    assert len(by_name(telemetry.finished())["purecallerid.screening"]) == 1
    assert (
        registry.get_sample_value(
            "purecallerid_screenings_total", {"campaign": "solar", "decision": "flag"}
        )
        == 1
    )


def test_an_observer_that_raises_costs_no_record_and_no_event() -> None:
    """A failing observer: the others still hear every event; the bug surfaces after the save."""
    from purecallerid import ObserverEvent  # noqa: PLC0415

    class Broken:
        def observe(self, event: ObserverEvent) -> None:
            raise RuntimeError(f"observer bug on {type(event).__name__}")

    registry = CollectorRegistry()
    with pytest.raises(RuntimeError, match="ScreeningStarted"):
        screen(CompositeObserver(Broken(), PrometheusObserver(registry=registry)))
    assert (
        registry.get_sample_value(
            "purecallerid_screenings_total", {"campaign": "solar", "decision": "flag"}
        )
        == 1
    )


class Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


STANDARD = set(vars(logging.LogRecord("x", logging.INFO, "x", 1, "x", None, None))) | {
    "message",
    "asctime",
}


def fields(record: logging.LogRecord) -> dict[str, Any]:
    """The structured fields of a log record (what ``extra=`` added)."""
    return {k: v for k, v in vars(record).items() if k not in STANDARD}


@pytest.fixture
def logs() -> Iterator[list[logging.LogRecord]]:
    capture = Capture()
    logger = logging.getLogger("purecallerid")
    logger.addHandler(capture)
    logger.setLevel(logging.DEBUG)
    try:
        yield capture.records
    finally:
        logger.removeHandler(capture)
        logger.setLevel(logging.NOTSET)


def test_no_secret_or_phone_in_spans_metrics_or_log_fields(
    telemetry: Telemetry, logs: list[logging.LogRecord]
) -> None:
    """The failing vendor echoes the token and the phone: neither reaches any view."""
    registry = CollectorRegistry()
    screen(
        CompositeObserver(telemetry.observer(), PrometheusObserver(registry=registry)),
        leads=3,
        **GUARDS,
    )
    shown: list[str] = []
    for span in telemetry.finished():
        shown += [span.name, json.dumps(dict(span.attributes or {}))]
        shown += [json.dumps([e.name, dict(e.attributes or {})]) for e in span.events]
        shown.append(str(span.status.description))
    for name, points in telemetry.points().items():
        shown += [name, json.dumps([a for a, _ in points])]
    for family in registry.collect():
        shown += [json.dumps([s.name, s.labels]) for s in family.samples]
    assert logs, "the run logs"
    for record in logs:
        shown += [record.getMessage(), json.dumps(fields(record), default=str)]
    text = "\n".join(shown)
    assert "backup.test" in text  # the views were looked at
    for secret in (CANARY, "cAnArY", PHONE, "555-0123", "5550123"):
        assert secret not in text


def test_log_records_carry_their_fields(logs: list[logging.LogRecord]) -> None:
    """Decisions, failed integrations, vendor attempts: each with its structured fields."""
    screen(None, **GUARDS)
    by_logger: dict[str, list[dict[str, Any]]] = {}
    for record in logs:
        by_logger.setdefault(record.name, []).append(fields(record))
    (decided,) = by_logger["purecallerid.screener"]
    assert decided["decision"] == "flag"
    assert decided["decided_by"] == "backup:failure_policy"
    assert {decided["lead_id"], decided["campaign_id"]} == {"L-1", "solar"}
    assert isinstance(decided["duration_ms"], float)
    (failed,) = by_logger["purecallerid.integration"]
    assert failed == {
        "lead_id": "L-1",
        "campaign_id": "solar",
        "integration_id": "backup",
        "kind": "purecallerid",
        "error_class": "server_error",
        "outcome_unknown": False,
    }
    vendor = by_logger["purecallerid.vendor"]
    assert [(f["attempt"], f["status_code"]) for f in vendor] == [
        (1, 503),
        (2, 503),
        (3, 503),
        (1, 200),
    ]
    assert [("retry_in_s" in f) for f in vendor] == [True, True, False, False]


def test_the_library_works_without_the_optional_packages() -> None:
    """No opentelemetry, no prometheus_client: it imports and screens; the adapters say why not."""
    code = """
import sys
sys.modules["opentelemetry"] = None
sys.modules["prometheus_client"] = None
sys.path.insert(0, "tests")
import purecallerid
from _observed import screen
from purecallerid import CompositeObserver
(record,) = screen(CompositeObserver())
assert record.decision == "flag", record
for module, extra in (("otel", "otel"), ("prometheus", "prometheus")):
    try:
        __import__(f"purecallerid.{module}")
    except ImportError as exc:
        assert f"purecallerid[{extra}]" in str(exc), exc
    else:
        raise AssertionError(module)
"""
    subprocess.run([sys.executable, "-c", code], check=True)  # noqa: S603


def test_import_purecallerid_imports_neither_adapter() -> None:
    """The optional packages are imported only with the adapter modules."""
    code = """
import sys, purecallerid
optional = ("opentelemetry", "prometheus_client")
loaded = [m for m in sys.modules if m.split(".")[0] in optional]
assert not loaded, loaded
assert "purecallerid.otel" not in sys.modules, "purecallerid.otel"
assert "purecallerid.prometheus" not in sys.modules, "purecallerid.prometheus"
"""
    subprocess.run([sys.executable, "-c", code], check=True)  # noqa: S603


def test_cancelled_and_skipped_integrations_end_their_spans(
    telemetry: Telemetry, caplog: pytest.LogCaptureFixture
) -> None:
    """A sibling cancelled by a reject, and a stage skipped after it: spans ended, none leaked."""
    import asyncio  # noqa: PLC0415

    import httpx  # noqa: PLC0415

    from _observed import _vendor  # noqa: PLC0415
    from purecallerid import (  # noqa: PLC0415
        AsyncScreener,
        CampaignSettings,
        InMemoryResultStore,
        InMemorySettings,
        PureCallerIDIntegration,
    )
    from purecallerid.testing import FakePureCallerID  # noqa: PLC0415

    fake = FakePureCallerID(base_url="https://purecallerid.test", api_token=CANARY)

    async def route(request: httpx.Request) -> httpx.Response:
        if request.url.host == "backup.test":
            await asyncio.sleep(30)  # cancelled long before
        return await fake.ahandle(request)

    campaign = CampaignSettings(
        campaign_id="solar",
        integrations=[
            _vendor("pcid", "https://purecallerid.test", cancel_siblings_on_reject=True),
            _vendor("backup", "https://backup.test"),
            _vendor("later", "https://purecallerid.test", sort=3),
        ],
    )

    async def go() -> ScreeningRecord:
        async with AsyncScreener(
            settings=InMemorySettings([campaign]),
            store=InMemoryResultStore(),
            integrations=[PureCallerIDIntegration(transport=httpx.MockTransport(route))],
            observer=telemetry.observer(),
        ) as running:
            fields = {"phone": "212-555-0102", "zip": "02134"}
            dnc = Lead(lead_id="L-9", campaign_id="solar", fields=fields)
            return await running.screen(dnc)

    with caplog.at_level(logging.DEBUG, logger="opentelemetry"):
        record = asyncio.run(go())
    assert [(i.integration_id, i.status) for i in record.integrations] == [
        ("pcid", "completed"),
        ("backup", "cancelled"),
        ("later", "skipped"),
    ]
    named = by_name(telemetry.finished())
    (backup,) = named["purecallerid.integration backup"]
    (later,) = named["purecallerid.integration later"]
    assert backup.attributes is not None
    assert later.attributes is not None
    assert backup.attributes["purecallerid.integration.outcome"] == "cancelled"
    assert backup.attributes["purecallerid.integration.outcome_unknown"] is True
    assert later.attributes["purecallerid.integration.outcome"] == "skipped"
    assert later.attributes["purecallerid.integration.skip_reason"] == (
        "not called: pcid rejected the lead"
    )
    (root,) = named["purecallerid.screening"]
    assert root.context is not None
    for span in (backup, later):
        assert span.parent is not None
        assert span.parent.span_id == root.context.span_id
    assert not [r for r in caplog.records if r.name.startswith("opentelemetry")]
    points = telemetry.points()
    outcomes = {
        a["purecallerid.integration.id"]: a["purecallerid.integration.outcome"]
        for a, _ in points["purecallerid.integration.calls"]
    }
    assert outcomes == {"pcid": "answered", "backup": "cancelled", "later": "skipped"}
    unknown = points["purecallerid.integration.outcome_unknown"]
    assert [(a["purecallerid.integration.id"], v) for a, v in unknown] == [("backup", 1)]


def test_serve_metrics_serves_a_registry_and_closes() -> None:
    """serve_metrics: GET /metrics on a free loopback port; closed, the port is free again."""
    import socket  # noqa: PLC0415
    import urllib.request  # noqa: PLC0415

    from purecallerid.prometheus import metrics_registry, serve_metrics  # noqa: PLC0415

    registry = metrics_registry()
    screen(PrometheusObserver(registry=registry))
    with serve_metrics(0, registry=registry) as server:
        assert server.url == f"http://127.0.0.1:{server.port}/metrics"
        with urllib.request.urlopen(server.url) as answer:  # noqa: S310 - loopback
            text = answer.read().decode()
    assert 'purecallerid_screenings_total{campaign="solar",decision="flag"} 1.0' in text
    assert "process_cpu_seconds_total" in text  # the process's own metrics, for a demo
    server.close()  # idempotent
    with socket.socket() as again:
        # Reusable past the scrape's TIME_WAIT, but not while anything still listens there.
        again.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        again.bind(("127.0.0.1", server.port))
        again.listen()


def test_the_simulator_counts_as_metrics() -> None:
    """SimulatorCollector: the vendor's side of a demo, read at each scrape."""
    from purecallerid import PureCallerIDClient, ScreeningRequest  # noqa: PLC0415
    from purecallerid.prometheus import SimulatorCollector  # noqa: PLC0415
    from purecallerid.testing import Simulator  # noqa: PLC0415

    registry = CollectorRegistry()
    with Simulator(daily_quota=5) as simulator:
        SimulatorCollector(simulator, registry=registry)
        with PureCallerIDClient(base_url=simulator.url, api_token="test-token-0123") as client:
            for line in ("0102", "0000"):
                request = ScreeningRequest(phone=f"212555{line}", campaign_id="C", list_name="L")
                client.screen(request)
        value = registry.get_sample_value
        assert value("purecallerid_simulator_status_requests_total", {"status": "200"}) == 2
        assert value("purecallerid_simulator_line_requests_total", {"line": "0102"}) == 1
        assert value("purecallerid_simulator_dialect_requests_total", {"dialect": "leadexec"}) == 2
        assert value("purecallerid_simulator_rejected_total", {"by": "quota"}) == 0
        assert value("purecallerid_simulator_quota_used") == 2


def test_the_sync_screener_tells_its_observers(telemetry: Telemetry) -> None:
    """Screener (its loop in a thread): the same span tree, under the caller's span."""
    import httpx  # noqa: PLC0415

    from _observed import Vendors, campaign, lead  # noqa: PLC0415
    from purecallerid import (  # noqa: PLC0415
        InMemoryResultStore,
        InMemorySettings,
        InMemorySuppressionList,
        PureCallerIDIntegration,
        Screener,
        SuppressionIntegration,
    )

    vendors = Vendors()
    with Screener(
        settings=InMemorySettings([campaign()]),
        store=InMemoryResultStore(),
        integrations=[
            PureCallerIDIntegration(transport=httpx.MockTransport(vendors.handle)),
            SuppressionIntegration({"house": InMemorySuppressionList()}),
        ],
        observer=telemetry.observer(),
    ) as screener:
        tracer = telemetry.tracer_provider.get_tracer("host")
        with tracer.start_as_current_span("POST /leads") as request:
            assert screener.screen(lead()).decision == "flag"
    named = by_name(telemetry.finished())
    (root,) = named["purecallerid.screening"]
    assert len(children(telemetry.finished(), root)) == 3
    assert root.parent is not None
    assert root.parent.span_id == request.get_span_context().span_id
