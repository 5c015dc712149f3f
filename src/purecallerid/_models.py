"""The data every layer shares: the lead, and the evidence of a vendor call.

Vendor-neutral: an integration's own request and answer models live with the integration
(PureCallerID's in ``_integrations/purecallerid/models.py``). Models are frozen attrs classes
and know nothing about JSON: the converter (``_converter.py``) owns serialisation.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from attrs import field, frozen

__all__ = [
    "Attempt",
    "Exchange",
    "Lead",
    "RequestRecord",
]


def _frozen_mapping(value: Mapping[str, Any]) -> Mapping[str, Any]:
    # A private copy, so that a caller mutating its dict cannot change a frozen model.
    return dict(value)


@frozen(kw_only=True)
class Lead:
    """A lead as the host received it.

    Attributes:
        lead_id: The host's identifier of the lead; screening records are keyed by it.
        campaign_id: The host's campaign the lead was posted to.
        fields: The posted fields, as posted: strings, numbers, ``None``, nested values.
    """

    lead_id: str
    campaign_id: str
    fields: Mapping[str, Any] = field(factory=dict, converter=_frozen_mapping)


@frozen(kw_only=True)
class RequestRecord:
    """The request as it was sent, with the API token masked (``***``).

    Attributes:
        method: The HTTP method.
        url: The full URL.
        headers: The headers the library set (the token masked).
        body: The JSON body (the token masked).
    """

    method: str
    url: str
    headers: Mapping[str, str] = field(factory=dict, converter=_frozen_mapping)
    body: Any = None


@frozen(kw_only=True)
class Attempt:
    """One HTTP attempt.

    Attributes:
        number: 1 for the first attempt.
        started_at: Wall-clock start (UTC).
        duration: Seconds the attempt took.
        outcome: ``"answered"`` when an HTTP answer arrived, otherwise the kind of failure:
            an :class:`purecallerid.AttemptOutcome` value (the failure table in
            ``docs/errors.md`` says which may have reached the vendor).
        status_code: The HTTP status, when an answer arrived.
        request_id: The vendor's request id header, when it sent one.
        retry_after: The parsed ``Retry-After`` of the answer, in seconds.
        wait: Seconds slept before the next attempt; ``None`` when there was none.
    """

    number: int
    started_at: datetime
    duration: float
    outcome: str
    status_code: int | None = None
    request_id: str | None = None
    retry_after: float | None = None
    wait: float | None = None


@frozen(kw_only=True)
class Exchange:
    """What the client did for one call: the masked request and every attempt.

    Attributes:
        dialect: The wire format used (``"leadexec"`` or ``"public"``).
        request: The masked request.
        attempts: Each attempt in order.
    """

    dialect: str
    request: RequestRecord
    attempts: tuple[Attempt, ...] = ()
