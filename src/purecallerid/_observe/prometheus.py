"""Prometheus: the library's metrics in a ``prometheus_client`` registry, for hosts that scrape.

The same instruments and measurements as the OpenTelemetry observer (``instruments``), named
the Prometheus way (``purecallerid_integration_duration_seconds``, counters ending in
``_total``), plus a small HTTP server for a demo or a worker without a web framework, and the
simulator's counts as metrics (the vendor's side of a demo).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, Self

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import start_http_server
from prometheus_client.registry import Collector

from .instruments import BUCKETS, INSTRUMENTS, Instrument, measurements

if TYPE_CHECKING:
    import threading
    from collections.abc import Callable, Iterable, Mapping
    from wsgiref.simple_server import WSGIServer

    from .events import ObserverEvent

__all__ = [
    "MetricsServer",
    "PrometheusObserver",
    "SimulatorCollector",
    "metrics_registry",
    "serve_metrics",
]


class PrometheusObserver:
    """The library's metrics, kept in a ``prometheus_client`` registry for scraping.

    Pass it as a screener's ``observer`` (with others in a
    :class:`~purecallerid.CompositeObserver`), and expose the registry the host's way (its
    web framework's ``/metrics`` route, ``prometheus_client.make_asgi_app``) or with
    :func:`serve_metrics`. One per registry: a second on the same registry would register the
    same names twice (``ValueError``); share one between screeners.

    The metrics are those of the table in "Observability": ``purecallerid_screenings_total``,
    ``purecallerid_integration_calls_total``, ``purecallerid_integration_duration_seconds``,
    ``purecallerid_quota_used``, ``purecallerid_breaker_state``...

    Requires the ``prometheus`` extra (``pip install 'purecallerid[prometheus]'``).

    Args:
        registry: Where the metrics are registered (default: ``prometheus_client``'s global
            registry, which its own servers and exporters expose).
    """

    def __init__(self, *, registry: CollectorRegistry | None = None) -> None:
        """Register the metrics; see the class docstring."""
        self.registry = REGISTRY if registry is None else registry
        self._metrics = {spec.name: _metric(spec, self.registry) for spec in INSTRUMENTS}

    def observe(self, event: ObserverEvent) -> None:
        """Add *event*'s measurements to the metrics."""
        for name, value, labels in measurements(event):
            self._metrics[name](value, labels)


def _metric(spec: Instrument, registry: CollectorRegistry) -> Callable[[float, Any], None]:
    """The metric for *spec* in *registry*, as its recording function."""
    name = spec.name.replace(".", "_")
    unit = "seconds" if spec.unit == "s" else ""
    if spec.kind == "counter":
        counter = Counter(name, spec.description, spec.labels, unit=unit, registry=registry)
        return lambda value, labels: counter.labels(**labels).inc(value)
    if spec.kind == "histogram":
        histogram = Histogram(
            name, spec.description, spec.labels, unit=unit, registry=registry, buckets=BUCKETS
        )
        return lambda value, labels: histogram.labels(**labels).observe(value)
    gauge = Gauge(name, spec.description, spec.labels, unit=unit, registry=registry)
    return lambda value, labels: gauge.labels(**labels).set(value)


class MetricsServer:
    """A running metrics endpoint (:func:`serve_metrics`): ``GET /metrics`` on its port.

    Attributes:
        host: The address it listens on.
        port: The port it listens on (the one picked, when asked for 0).
    """

    def __init__(self, server: WSGIServer, thread: threading.Thread) -> None:
        """Hold the server and its thread (made by :func:`serve_metrics`)."""
        self._server = server
        self._thread = thread
        self.host = str(server.server_address[0])
        self.port = int(server.server_address[1])

    @property
    def url(self) -> str:
        """The URL to scrape."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/metrics"

    def close(self) -> None:
        """Stop serving and release the port (idempotent)."""
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join()
        self._server.server_close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def serve_metrics(
    port: int, *, host: str = "127.0.0.1", registry: CollectorRegistry | None = None
) -> MetricsServer:
    """Serve *registry* for Prometheus at ``http://host:port/metrics``, in a daemon thread.

    For a demo, a batch job or a worker without a web framework; a web service exposes the
    registry on a route of its own instead. Loopback by default: pass ``host="0.0.0.0"`` for
    a Prometheus on another machine (the endpoint has no authentication).

    Args:
        port: The port (0 picks a free one: read it from the returned server).
        host: The address to listen on.
        registry: What to serve (default: ``prometheus_client``'s global registry, where a
            :class:`PrometheusObserver` registers by default).

    Raises:
        OSError: The port cannot be listened on.
    """
    server, thread = start_http_server(
        port, addr=host, registry=REGISTRY if registry is None else registry
    )
    return MetricsServer(server, thread)


def metrics_registry(*, process: bool = True) -> CollectorRegistry:
    """A new registry, with the process's own metrics (CPU, memory, file descriptors, GC).

    For a :class:`PrometheusObserver` and :func:`serve_metrics` of their own, apart from
    ``prometheus_client``'s global registry (a command line run twice in one process, tests).

    Args:
        process: Register ``prometheus_client``'s process, platform and GC collectors.
    """
    registry = CollectorRegistry()
    if process:
        ProcessCollector(registry=registry)
        PlatformCollector(registry=registry)
        GCCollector(registry=registry)
    return registry


class _HasStats(Protocol):
    def stats(self) -> Mapping[str, Any]: ...


class SimulatorCollector(Collector):
    """The counts of a :class:`~purecallerid.testing.Simulator` as metrics, read at each scrape.

    The vendor's side of a demo: the simulator's ``purecallerid_simulator_*`` metrics next to
    the screener's ``purecallerid_*`` ones show the same calls from both ends. Registers
    itself in *registry*.

    Args:
        simulator: The simulator (anything with its ``stats()``; safe from any thread).
        registry: Where to register (default: ``prometheus_client``'s global registry).
    """

    def __init__(self, simulator: _HasStats, *, registry: CollectorRegistry | None = None) -> None:
        """Keep the simulator and register; see the class docstring."""
        self._simulator = simulator
        (REGISTRY if registry is None else registry).register(self)

    def collect(self) -> Iterable[Metric]:
        """The simulator's counts now."""
        stats = self._simulator.stats()
        counts: tuple[tuple[str, str, str], ...] = (
            ("by_dialect", "dialect", "Screening requests received, by wire format."),
            ("by_preset", "preset", "Requests to each vendor preset's routes."),
            ("by_status", "status", "Answers by HTTP status (or timeout, connect_error)."),
            ("by_line", "line", "Requests by test number line (other for any other number)."),
        )
        for key, label, text in counts:
            family = CounterMetricFamily(
                f"purecallerid_simulator_{key.removeprefix('by_')}_requests", text, labels=[label]
            )
            for value, count in sorted(stats.get(key, {}).items()):
                family.add_metric([str(value)], count)
            yield family
        rejected = CounterMetricFamily(
            "purecallerid_simulator_rejected",
            "Requests refused by the simulated daily quota or rate limit.",
            labels=["by"],
        )
        rejected.add_metric(["quota"], stats.get("rejected_by_quota", 0))
        rejected.add_metric(["rate"], stats.get("rejected_by_rate", 0))
        yield rejected
        yield GaugeMetricFamily(
            "purecallerid_simulator_quota_used",
            "Screenings counted against the simulated daily quota today.",
            value=stats.get("quota_used", 0),
        )
