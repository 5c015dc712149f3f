"""The library's loggers and the structured fields of their records.

Each part of the library logs on its own child of ``purecallerid``, so that a host can set a
level per part (``purecallerid.vendor`` at DEBUG, the rest at INFO). Records carry their facts
as attributes (``logging``'s ``extra=``) for JSON formatters and log pipelines: ids, classes,
decisions and durations, never a phone (the message masks it) and never a secret. The tables
of ``docs/observability.md`` are tested against :data:`LOGGERS` and :data:`LOG_FIELDS`.
"""

from __future__ import annotations

from typing import Final

__all__ = ["LOGGERS", "LOG_FIELDS"]

LOGGERS: Final = {
    "purecallerid.screener": "a lead decided (INFO); an observer hook that failed (ERROR)",
    "purecallerid.integration": "an integration failed for a lead, as recorded (INFO)",
    "purecallerid.vendor": (
        "each vendor answer (DEBUG); retries, give-ups, unreadable answers (INFO)"
    ),
    "purecallerid.guards": (
        "quota and breaker events, state outages (WARNING; circuit_closed at INFO); "
        "a lookup shared by leads (DEBUG)"
    ),
    "purecallerid.settings": "settings reloaded (INFO) or refused (WARNING)",
    "purecallerid.suppression": "a phone written back to a suppression list (INFO)",
}
"""Logger name -> what it logs."""

LOG_FIELDS: Final = {
    "lead_id": "the host's lead id",
    "campaign_id": "the host's campaign id",
    "integration_id": "the integration's id in the campaign settings",
    "kind": "the integration's kind (the vendor)",
    "decision": "the screening's decision: accept, flag, qa or reject",
    "decided_by": "integration:rule that decided (null for a plain accept)",
    "error_class": "a failed integration's error class (timeout, server_error...)",
    "outcome_unknown": "whether a failed call may have reached the vendor (and been billed)",
    "duration_ms": "milliseconds the screening, call or attempt took",
    "status_code": "the vendor's HTTP status",
    "attempt": "the attempt's number (1 for the first)",
    "retry_in_s": "seconds before the next attempt",
    "event": "a guard's event name, or the event an observer failed on",
    "used": "calls counted against a quota on its day",
    "limit": "a quota's daily limit",
}
"""Field (a log record attribute) -> its meaning."""
