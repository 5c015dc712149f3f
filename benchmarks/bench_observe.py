"""Observability's cost: CPU per lead with no observer, the OpenTelemetry API alone, the SDK.

Run with ``.venv/bin/python benchmarks/bench_observe.py`` (part of ``make bench``). One
screening per lead through the library's whole single-integration path (``AsyncScreener`` +
``PureCallerIDIntegration``: mapping, request, answer, rules, record in memory), its vendor an
in-process ``httpx.MockTransport`` that answers at once, so that the figures are the library's
own CPU. Contenders, interleaved in rounds (each round runs every contender on the same
machine state):

- ``off``: no observer (and ``off-again``: the same, to show this run's noise);
- ``otel-api``: ``OpenTelemetryObserver()`` with no SDK configured (the API's no-op tracer
  and meter): what a host pays for installing the extra before setting anything up;
- ``otel-sdk``: the SDK's ``TracerProvider`` (batch processor, an exporter that drops the
  spans) and ``MeterProvider`` (a reader aggregating in memory): every span and measurement
  recorded, the export thread's CPU included;
- ``prometheus``: ``PrometheusObserver`` on its own registry.

CPU is the screening thread's (``time.thread_time``): the SDK's batch processor exports from
a thread of its own, idle here (its exporter drops the spans). Each contender's figure is its
CPU over all rounds per lead; the ratios to ``off`` are those totals' (and the spread of the
round-by-round ratios). ``off-again`` against ``off`` is this run's noise, and ``otel-api``
must stay within it. Then, with no noise from the rest of the path, the events of one lead
are replayed into each observer alone: its own CPU per lead.
"""

from __future__ import annotations

import asyncio
import gc
import statistics
import time
from typing import TYPE_CHECKING, Any

import httpx
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from prometheus_client import CollectorRegistry

from purecallerid import (
    PURECALLERID_FIELDS,
    AsyncScreener,
    CampaignSettings,
    Credentials,
    InMemoryResultStore,
    InMemorySettings,
    IntegrationSettings,
    Lead,
    PureCallerIDIntegration,
    RuleSet,
)
from purecallerid.otel import OpenTelemetryObserver
from purecallerid.prometheus import PrometheusObserver

if TYPE_CHECKING:
    from collections.abc import Sequence

    from purecallerid import ObserverEvent
    from purecallerid.typing import EventObserver

LEADS = 100  # per contender and round: short turns, so that all see the same machine
ROUNDS = 40
REPLAYS = 20_000
BODY = b'{"status":"Accepted","reason":null,"message":"Lead loaded"}'


class Dropped(SpanExporter):
    """An exporter that takes the spans and sends them nowhere."""

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS


def _answer(_: httpx.Request) -> httpx.Response:
    return httpx.Response(200, content=BODY, headers={"content-type": "application/json"})


def _campaign() -> InMemorySettings:
    rules = RuleSet.from_text(
        'reject when status = "Rejected" and reason in ("INACTIVE", "DNC", "TCPA_FLAG")',
        PURECALLERID_FIELDS,
    )
    settings = IntegrationSettings(
        id="pcid",
        kind="purecallerid",
        base_url="https://purecallerid.test",
        # The in-process vendor's token, not a secret.
        credentials=Credentials(api_token="bench-token", campaign_id="C1", list_name="Main"),  # noqa: S106
        rules=rules,
    )
    return InMemorySettings([CampaignSettings(campaign_id="c", integrations=[settings])])


class Contender:
    """A screener with one observer (or none), screening fresh leads."""

    def __init__(self, observer: EventObserver | None) -> None:
        self.observer = observer
        self.store = InMemoryResultStore()
        self.screener = AsyncScreener(
            settings=_campaign(),
            store=self.store,
            integrations=[PureCallerIDIntegration(transport=httpx.MockTransport(_answer))],
            observer=observer,
        )
        self.serial = 0

    async def run(self, leads: int) -> float:
        """CPU microseconds per lead over *leads* leads, one at a time."""
        self.store.clear()  # a store that grows would tax the later rounds
        gc.collect()
        started = time.thread_time()
        for _ in range(leads):
            self.serial += 1
            lead = Lead(
                lead_id=f"L{self.serial}",
                campaign_id="c",
                fields={"phone": "(212) 555-0000", "zip": "02134", "first_name": "Ann"},
            )
            await self.screener.screen(lead)
        return (time.thread_time() - started) / leads * 1e6


class Recorded:
    """Keeps the events it is told."""

    def __init__(self) -> None:
        self.events: list[ObserverEvent] = []

    def observe(self, event: ObserverEvent) -> None:
        self.events.append(event)


async def one_lead() -> list[ObserverEvent]:
    """The events of one screening."""
    recorded = Recorded()
    contender = Contender(recorded)
    await contender.run(1)
    await contender.screener.aclose()
    return recorded.events


def replayed(observer: EventObserver, events: list[ObserverEvent]) -> float:
    """CPU microseconds *observer* spends on the events of one lead."""
    started = time.thread_time()
    for _ in range(REPLAYS):
        for event in events:
            observer.observe(event)
    return (time.thread_time() - started) / REPLAYS * 1e6


def _sdk() -> tuple[OpenTelemetryObserver, TracerProvider, MeterProvider]:
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(BatchSpanProcessor(Dropped()))
    meter_provider = MeterProvider(metric_readers=[InMemoryMetricReader()])
    observer = OpenTelemetryObserver(tracer_provider=tracer_provider, meter_provider=meter_provider)
    return observer, tracer_provider, meter_provider


async def measure() -> dict[str, list[float]]:
    sdk, tracer_provider, meter_provider = _sdk()
    contenders = {
        "off": Contender(None),
        "off-again": Contender(None),
        "otel-api": Contender(OpenTelemetryObserver()),  # no global provider is ever set here
        "otel-sdk": Contender(sdk),
        "prometheus": Contender(PrometheusObserver(registry=CollectorRegistry())),
    }
    for contender in contenders.values():  # warm-up: imports, pools, caches
        await contender.run(200)
    results: dict[str, list[float]] = {name: [] for name in contenders}
    order = list(contenders)
    for number in range(ROUNDS):
        # Rotate who goes first, so that no contender always follows the same one.
        for name in order[number % len(order) :] + order[: number % len(order)]:
            results[name].append(await contenders[name].run(LEADS))
    for contender in contenders.values():
        await contender.screener.aclose()
    events = await one_lead()
    for name, contender in contenders.items():
        observer = contender.observer
        results[f"{name} (observer alone)"] = [
            0.0 if observer is None else replayed(observer, events)
        ]
    tracer_provider.shutdown()
    meter_provider.shutdown()
    return results


def _quartiles(values: list[float]) -> tuple[float, float]:
    low, _, high = statistics.quantiles(values, n=4)
    return low, high


def report(results: dict[str, list[float]]) -> dict[str, Any]:
    """Print the table and the ratios to ``off``; return them."""
    print(f"{'contender':12} {'CPU us/lead':>12} {'vs off':>8} {'by round: quartiles':>22}")
    off = statistics.fmean(results["off"])
    summary: dict[str, Any] = {}
    for name, values in results.items():
        if name.endswith("(observer alone)"):
            continue
        rounds = [value / base for value, base in zip(values, results["off"], strict=True)]
        low, high = _quartiles(rounds)
        row = {
            "cpu_us": statistics.fmean(values),
            "ratio": statistics.fmean(values) / off,
            "round_ratio_q1": low,
            "round_ratio_q3": high,
            "alone_us": results[f"{name} (observer alone)"][0],
        }
        summary[name] = row
        print(f"{name:12} {row['cpu_us']:>12.1f} {row['ratio']:>8.3f} {low:>13.3f} - {high:.3f}")
    again = summary["off-again"]
    # This run's noise: how far an identical contender lands, or half its rounds' spread.
    noise = max(
        abs(again["ratio"] - 1), (again["round_ratio_q3"] - again["round_ratio_q1"]) / 2, 0.02
    )
    api = summary["otel-api"]["ratio"]
    verdict = "within" if abs(api - 1) <= noise else "OUTSIDE"
    print(
        f"\notel-api vs off: {api:.3f}, {verdict} this run's noise of {noise:.1%} (off-again vs "
        f"off {again['ratio']:.3f}, its rounds' quartiles {again['round_ratio_q1']:.3f}-"
        f"{again['round_ratio_q3']:.3f}; at least 2%)"
    )
    print(
        f"otel-sdk vs off: {summary['otel-sdk']['ratio']:.3f}; "
        f"prometheus vs off: {summary['prometheus']['ratio']:.3f}"
    )
    print("\nthe events of one lead replayed into the observer alone (CPU us per lead):")
    for name in ("otel-api", "otel-sdk", "prometheus"):
        alone = summary[name]["alone_us"]
        print(f"  {name:12} {alone:7.1f} us = {alone / off:.1%} of a lead screened with none")
    summary["noise"] = noise
    summary["otel_api_within_noise"] = verdict == "within"
    return summary


def main() -> dict[str, Any]:
    return report(asyncio.run(measure()))


if __name__ == "__main__":
    main()
