"""Stopping a ``screen`` run when a vendor fails for every lead, and saying what to check.

A run against a closed port, with a refused token or at a URL without the vendor's endpoint
gives every lead the same error, which its failure policy turns into a decision (``qa`` by
default): the run would go on recording thousands of such decisions, and spend a call on each
lead that got an answer. These failures say nothing about a lead, so a run of them at one
integration stops the run (``--stop-after``); the leads recorded so far stay recorded, and
``--rescreen-failures`` screens them again once the cause is fixed.

A failure is *vendor-wide* when it would hit any lead: the token refused (401/403), the vendor
never reached (connection refused, DNS, a connect timeout: the request provably never left),
no such endpoint (404, 405, 501), the circuit breaker open or the daily quota spent. An
integration that reached its vendor otherwise (an answer, a 500, a 429) ends its run of
failures; one that did not call (a lead it could not map, a skip) neither counts nor ends it.
A shadow integration (a trial, never counted in a decision) is not watched.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Final

from attrs import frozen

from .._errors import ErrorClass
from .._records import IntegrationStatus

if TYPE_CHECKING:
    from collections.abc import Mapping

    from .._records import IntegrationRecord, ScreeningRecord

__all__ = ["DEFAULT_STOP_AFTER", "Outage", "OutageWatch", "vendor_wide_failure"]

DEFAULT_STOP_AFTER: Final = 20
"""Vendor-wide failures in a row at one integration that stop a ``screen`` run."""

UNREACHABLE: Final = "unreachable"
ENDPOINT_MISSING: Final = "endpoint_missing"
_MISSING_STATUSES: Final = frozenset({404, 405, 501})
_NEVER_SENT: Final = frozenset({ErrorClass.CONNECTION, ErrorClass.TIMEOUT})

_WHAT: Final = {
    ErrorClass.AUTH_FAILED.value: "the vendor refused the credentials",
    UNREACHABLE: "the vendor was never reached",
    ENDPOINT_MISSING: "no such endpoint at the vendor's URL",
    ErrorClass.CIRCUIT_OPEN.value: "the circuit breaker is open",
    ErrorClass.QUOTA_EXHAUSTED.value: "the daily quota is spent",
}


def _status(integration: IntegrationRecord) -> int | None:
    """The HTTP status of the last attempt that got an answer, if any."""
    answered = [a.status_code for a in integration.attempts if a.status_code is not None]
    return answered[-1] if answered else None


def vendor_wide_failure(integration: IntegrationRecord) -> str | None:
    """The vendor-wide failure an integration's record shows (see the module), or ``None``.

    One of ``auth_failed``, ``unreachable``, ``endpoint_missing``, ``circuit_open`` and
    ``quota_exhausted``.
    """
    if integration.status is not IntegrationStatus.ERROR:
        return None
    error_class = integration.error_class
    if error_class in {ErrorClass.AUTH_FAILED, ErrorClass.CIRCUIT_OPEN}:
        return error_class
    if error_class == ErrorClass.QUOTA_EXHAUSTED:
        return error_class
    if _status(integration) in _MISSING_STATUSES:
        return ENDPOINT_MISSING
    # Only a failure that provably never left: a read timeout reached the vendor, and may be
    # this lead's own (a number the vendor holds on).
    if (
        error_class in _NEVER_SENT
        and integration.outcome_unknown is False
        and integration.attempts
        and _status(integration) is None
    ):
        return UNREACHABLE
    return None


def _reached(integration: IntegrationRecord) -> bool:
    """Whether the integration got through to its vendor (or list) for this lead."""
    if integration.status is IntegrationStatus.COMPLETED:
        return not integration.cached  # a cached answer says nothing about the vendor now
    return _status(integration) is not None


@frozen(kw_only=True)
class Outage:
    """Why a ``screen`` run stopped: one integration's vendor-wide failures in a row.

    Attributes:
        integration_id: The integration that kept failing.
        kind: Its kind.
        failure: The most frequent vendor-wide failure of the run (see
            :func:`vendor_wide_failure`).
        failures: How many leads in a row failed so.
        endpoint: The integration's base URL, when it has one.
        status_code: The HTTP status of the last failure, when there was an answer.
        message: The last failure's error message.
    """

    integration_id: str
    kind: str
    failure: str
    failures: int
    endpoint: str | None = None
    status_code: int | None = None
    message: str = ""

    def lines(self) -> list[str]:
        """What happened, then what to check, one line each."""
        where = f" at {self.endpoint}" if self.endpoint else ""
        status = f" (HTTP {self.status_code})" if self.status_code is not None else ""
        return [
            (
                f"stopped: {self.failures} leads in a row failed at {self.integration_id} "
                f"({self.kind}): {_WHAT.get(self.failure, self.failure)}{where}{status}"
            ),
            f"  last error: {self.message}",
            f"  check: {self.check()}",
        ]

    def check(self) -> str:
        """What to check for this failure, in one sentence."""
        name = f"integration {self.integration_id}"
        if self.failure == ErrorClass.AUTH_FAILED:
            return (
                f"the API token of {name} (credentials.api_token, or the variable it reads, "
                "such as PURECALLERID_API_TOKEN): is it the one issued for this endpoint?"
            )
        if self.failure == UNREACHABLE:
            return (
                f"the base_url of {name} (or the variable it reads, such as "
                "PURECALLERID_BASE_URL): is the vendor, or the simulator, listening there, "
                "and reachable from here (DNS, firewall, proxy)?"
            )
        if self.failure == ENDPOINT_MISSING:
            return (
                f"the base_url and dialect of {name}: something answers there, but not the "
                "vendor's API (another local service on that port?)"
            )
        if self.failure == ErrorClass.CIRCUIT_OPEN:
            return (
                f"the errors that opened the circuit breaker of {name} (purecallerid records "
                "show LEAD_ID --db ...); it lets calls through again after its cool-down"
            )
        return (
            f"the daily quota of {name} (quota.daily in the settings); screening can go on "
            "when the vendor's day turns"
        )

    def to_json(self) -> dict[str, object]:
        """The outage as JSON data (for ``--summary-json``)."""
        return {
            "integration": self.integration_id,
            "kind": self.kind,
            "failure": self.failure,
            "failures_in_a_row": self.failures,
            "endpoint": self.endpoint,
            "status_code": self.status_code,
            "last_error": self.message,
            "check": self.check(),
        }


class OutageWatch:
    """Counts each integration's vendor-wide failures in a row, as screenings end.

    Args:
        limit: Failures in a row that trip the watch; 0 never trips.
        integrations: Integration id -> (kind, base URL or ``None``), to describe an outage.
    """

    def __init__(self, limit: int, integrations: Mapping[str, tuple[str, str | None]]) -> None:
        """Start with no failure counted."""
        self.limit = limit
        self.integrations = integrations
        self.tripped: Outage | None = None
        self._runs: dict[str, Counter[str]] = {}
        self._last: dict[str, IntegrationRecord] = {}

    def observe(self, record: ScreeningRecord) -> Outage | None:
        """Count a screening made in this run; return the outage once tripped."""
        if self.limit == 0 or self.tripped is not None:
            return self.tripped
        for integration in record.integrations:
            if integration.shadow:
                continue  # a trial: it never decides a lead, so its vendor down stops nothing
            key = integration.integration_id
            failure = vendor_wide_failure(integration)
            if failure is not None:
                run = self._runs.setdefault(key, Counter())
                run[failure] += 1
                self._last[key] = integration
                if run.total() >= self.limit:
                    self.tripped = self._outage(key, run)
                    return self.tripped
            elif _reached(integration):
                self._runs.pop(key, None)
        return None

    def _outage(self, key: str, run: Counter[str]) -> Outage:
        last = self._last[key]
        kind, endpoint = self.integrations.get(key, (last.kind, None))
        return Outage(
            integration_id=key,
            kind=kind,
            failure=run.most_common(1)[0][0],
            failures=run.total(),
            endpoint=endpoint,
            status_code=_status(last),
            message=last.error_message or "",
        )
