"""Observability: the events a screening tells, and the views built from them.

``events`` (the typed events), ``dispatch`` (the screener's hooks, free without observers),
``logs`` (the logger tree and log fields), ``instruments`` (the metric catalogue), and the
adapters ``otel`` (OpenTelemetry, API only) and ``prometheus`` (``prometheus_client``), which
import their optional dependency and are imported only when asked for
(``purecallerid.otel``, ``purecallerid.prometheus``). Nothing here is imported eagerly: this
package's own import costs nothing.
"""
