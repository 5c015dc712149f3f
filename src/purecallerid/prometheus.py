"""Prometheus metrics of screenings: ``pip install 'purecallerid[prometheus]'``.

Imports ``prometheus_client``; ``import purecallerid`` does not import this module. See
"Observability" in the docs::

    from purecallerid.prometheus import PrometheusObserver, serve_metrics

    observer = PrometheusObserver()
    server = serve_metrics(9464)  # http://127.0.0.1:9464/metrics
    screener = AsyncScreener(..., observer=observer)
"""

try:
    from ._observe.prometheus import (
        MetricsServer,
        PrometheusObserver,
        SimulatorCollector,
        metrics_registry,
        serve_metrics,
    )
except ImportError as exc:  # said as what to install, not as a missing module deep inside
    if not (exc.name or "").startswith("prometheus_client"):
        raise
    raise ImportError(
        "purecallerid.prometheus needs prometheus-client: pip install 'purecallerid[prometheus]'",
        name=exc.name,
    ) from exc

__all__ = [
    "MetricsServer",
    "PrometheusObserver",
    "SimulatorCollector",
    "metrics_registry",
    "serve_metrics",
]
