"""OpenTelemetry traces and metrics of screenings: ``pip install 'purecallerid[otel]'``.

Imports ``opentelemetry-api`` (never the SDK); ``import purecallerid`` does not import this
module. See "Observability" in the docs::

    from purecallerid.otel import OpenTelemetryObserver

    screener = AsyncScreener(..., observer=OpenTelemetryObserver())
"""

try:
    from ._observe.otel import SCOPE, OpenTelemetryObserver
except ImportError as exc:  # said as what to install, not as a missing module deep inside
    if not (exc.name or "").startswith("opentelemetry"):
        raise
    raise ImportError(
        "purecallerid.otel needs opentelemetry-api: pip install 'purecallerid[otel]'",
        name=exc.name,
    ) from exc

__all__ = ["SCOPE", "OpenTelemetryObserver"]
