"""The observability page keeps up with the code: its trace picture, metric and log tables.

The picture is rendered from a real run (``_observed``: a parallel stage, one failing vendor)
through the OpenTelemetry SDK's in-memory exporter. Times differ from run to run, so they
are compared as ``#``; everything else (the tree, the order of starts and ends, attributes)
must match. After an intended change, regenerate it with
``.venv/bin/python tests/test_observability_docs.py`` and review the diff.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

from opentelemetry.metrics import NoOpMeter
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client import CollectorRegistry

import purecallerid
from _observed import GUARDS, screen
from purecallerid._observe.instruments import INSTRUMENTS, LABELS, Instrument
from purecallerid._observe.logs import LOG_FIELDS, LOGGERS
from purecallerid._secrets import LOGGERS_FILTERED
from purecallerid.otel import OpenTelemetryObserver
from purecallerid.prometheus import PrometheusObserver

ROOT = Path(__file__).parent.parent
PAGE = ROOT / "docs" / "observability.md"
PICTURE = ROOT / "docs" / "observability-trace.txt"
NUMBER = re.compile(r" *\d+\.\d+")  # a time, and the spaces that align it
HEADING = re.compile(r"^#{2,6} (.+)$", re.MULTILINE)
ROW = re.compile(r"^\|\s*`([^`]+)`\s*\|(.*)\|\s*$", re.MULTILINE)
BAR_WIDTH = 2  # characters per start or end, in the timeline


# -- the trace picture -------------------------------------------------------------------------


def traced() -> list[ReadableSpan]:
    """The spans of one lead through the parallel stage."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    screen(OpenTelemetryObserver(tracer_provider=provider))
    provider.shutdown()
    return list(exporter.get_finished_spans())


def _tree(spans: list[ReadableSpan]) -> list[tuple[str, ReadableSpan]]:
    """Each span with its tree prefix, parents first, siblings by start."""
    ids = {s.context.span_id: s for s in spans if s.context}
    kids: dict[int | None, list[ReadableSpan]] = {}
    for span in spans:
        parent = span.parent.span_id if span.parent and span.parent.span_id in ids else None
        kids.setdefault(parent, []).append(span)
    ordered: list[tuple[str, ReadableSpan]] = []

    def walk(parent: int | None, lead: str, branch: str) -> None:
        below = sorted(kids.get(parent, []), key=lambda s: s.start_time or 0)
        for number, span in enumerate(below):
            last = number == len(below) - 1
            mark = "" if parent is None else ("└─ " if last else "├─ ")
            ordered.append((branch + mark, span))
            assert span.context is not None
            child = branch + ("" if parent is None else ("   " if last else "│  "))
            walk(span.context.span_id, lead, child)

    walk(None, "", "")
    return ordered


def _shown(key: str, value: Any) -> str:
    if key == "purecallerid.settings_hash":
        return "(the SHA-256 of the campaign settings)"
    return repr(value) if isinstance(value, str) else str(value)


def render(spans: list[ReadableSpan]) -> str:
    """The span tree: a timeline of starts and ends, durations, then every attribute."""
    tree = _tree(spans)
    moments = sorted({t for _, s in tree for t in (s.start_time or 0, s.end_time or 0)})
    rank = {moment: number for number, moment in enumerate(moments)}
    width = max(len(prefix + span.name) for prefix, span in tree) + 2
    title = "timeline (order, not scale)"
    wide = max(len(moments) * BAR_WIDTH, len(title)) + 2
    lines = [f"{'span':{width}}{title:{wide}}duration"]
    for prefix, span in tree:
        start, end = rank[span.start_time or 0], rank[span.end_time or 0]
        bar = " " * (start * BAR_WIDTH) + "█" * max((end - start) * BAR_WIDTH, 1)
        took = ((span.end_time or 0) - (span.start_time or 0)) / 1e6
        lines.append(f"{prefix + span.name:{width}}{bar:{wide}}{took:5.1f} ms")
    lines.append("")
    for prefix, span in tree:
        kind = span.kind.name
        status = (
            ""
            if span.status.status_code.name == "UNSET"
            else f", status {span.status.status_code.name}"
        )
        lines.append(f"{prefix}{span.name} ({kind}{status})")
        pad = prefix.replace("├─ ", "│  ").replace("└─ ", "   ")
        attributes = dict(span.attributes or {})
        lines.extend(
            f"{pad}    {key} = {_shown(key, attributes[key])}" for key in sorted(attributes)
        )
        lines.extend(f"{pad}    event: {event.name}" for event in span.events)
    return "\n".join(lines) + "\n"


def _regenerate() -> None:
    PICTURE.write_text(render(traced()), encoding="utf-8")


def test_the_trace_picture_is_from_the_code() -> None:
    """docs/observability-trace.txt is what a run renders now (times aside)."""
    now = NUMBER.sub(" #", render(traced()))
    pinned = NUMBER.sub(" #", PICTURE.read_text(encoding="utf-8"))
    assert now == pinned, "regenerate: .venv/bin/python tests/test_observability_docs.py"


def test_the_page_shows_the_picture() -> None:
    """The page includes the picture file (pymdownx.snippets)."""
    assert f'--8<-- "{PICTURE.relative_to(ROOT)}"' in PAGE.read_text(encoding="utf-8")


# -- the metric table ---------------------------------------------------------------------------


def sections() -> dict[str, str]:
    text = PAGE.read_text(encoding="utf-8")
    found: dict[str, str] = {}
    headings = list(HEADING.finditer(text))
    for number, heading in enumerate(headings):
        end = headings[number + 1].start() if number + 1 < len(headings) else len(text)
        found[heading.group(1).strip()] = text[heading.end() : end]
    return found


def metric_row(spec: Instrument) -> str:
    """An instrument's row of the metric table, as the page writes it."""
    shown = (
        f"`{spec.prometheus_name}_total`" if spec.kind == "counter" else f"`{spec.prometheus_name}`"
    )
    labels = ", ".join(f"`{label}`" for label in spec.labels)
    return (
        f"| `{spec.name}` | {shown} | {spec.kind} | `{spec.unit}` | {labels} | {spec.description} |"
    )


def test_the_metric_table_lists_exactly_the_instruments() -> None:
    """One row per instrument, as the catalogue says: name, type, unit, labels, meaning."""
    rows = [line for line in sections()["Metrics"].splitlines() if line.startswith("| `")]
    assert rows == [metric_row(spec) for spec in INSTRUMENTS]


def test_the_label_table_lists_every_label() -> None:
    """Every label, with its OpenTelemetry attribute key."""
    rows = dict(ROW.findall(sections()["Labels"]))
    assert set(rows) == set(LABELS)
    for label, rest in rows.items():
        assert f"`{LABELS[label]}`" in rest.split("|")[0]


class CreatedMeter(NoOpMeter):
    """A meter that notes each instrument created: (name, kind, unit)."""

    def __init__(self) -> None:
        super().__init__("test")
        self.created: list[tuple[str, str, str]] = []

    def create_counter(self, name: str, unit: str = "", description: str = "") -> Any:
        self.created.append((name, "counter", unit))
        return super().create_counter(name, unit, description)

    def create_histogram(
        self, name: str, unit: str = "", description: str = "", **advice: Any
    ) -> Any:
        self.created.append((name, "histogram", unit))
        return super().create_histogram(name, unit, description, **advice)

    def create_gauge(self, name: str, unit: str = "", description: str = "") -> Any:
        self.created.append((name, "gauge", unit))
        return super().create_gauge(name, unit, description)


class CreatedMeters:
    """A meter provider handing out one :class:`CreatedMeter`."""

    def __init__(self) -> None:
        self.meter = CreatedMeter()

    def get_meter(self, *_: Any, **__: Any) -> CreatedMeter:
        return self.meter


def test_the_observers_create_exactly_the_catalogued_instruments() -> None:
    """OpenTelemetry and Prometheus: the catalogue's instruments, no more, no fewer."""
    meters = CreatedMeters()
    OpenTelemetryObserver(meter_provider=meters)  # type: ignore[arg-type]
    assert meters.meter.created == [(s.name, s.kind, s.unit) for s in INSTRUMENTS]
    registry = CollectorRegistry()
    PrometheusObserver(registry=registry)
    families = {(f.name, f.type) for f in registry.collect()}
    expected = {(s.prometheus_name, s.kind) for s in INSTRUMENTS}
    assert families == expected


# -- the log tables -----------------------------------------------------------------------------


def test_the_logger_table_lists_every_logger() -> None:
    """The page lists the loggers the library writes to, and the code uses no other."""
    rows = dict(ROW.findall(sections()["Loggers"]))
    assert set(rows) == set(LOGGERS)
    used = set()
    for path in Path(purecallerid.__file__).parent.rglob("*.py"):
        used |= set(re.findall(r'getLogger\("(purecallerid[\w.]*)"\)', path.read_text()))
    assert used == set(LOGGERS)
    assert set(LOGGERS) <= set(LOGGERS_FILTERED)  # a parent's filter misses its children's records


def test_the_field_table_lists_every_field() -> None:
    """The page lists the log fields; a run with guards logs none other."""
    rows = dict(ROW.findall(sections()["Log fields"]))
    assert set(rows) == set(LOG_FIELDS)
    standard = set(vars(logging.LogRecord("x", logging.INFO, "x", 1, "x", None, None)))
    seen: set[str] = set()

    class Fields(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.update(set(vars(record)) - standard - {"message", "asctime"})

    handler = Fields(logging.DEBUG)
    logger = logging.getLogger("purecallerid")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        screen(None, leads=3, **GUARDS)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(logging.NOTSET)
    assert seen
    assert seen <= set(LOG_FIELDS)


if __name__ == "__main__":
    _regenerate()
