"""PureCallerID's request and answer, as the client speaks them.

Frozen attrs classes that know nothing about wire formats or JSON: the dialects
(``dialects.py``) own the wire shapes and ``wire.py`` owns the answer's (un)structuring.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import field, frozen

from ..._models import Exchange

__all__ = ["Reason", "ScreeningRequest", "ScreeningResponse", "Status"]


def _frozen_mapping(value: Mapping[str, Any]) -> Mapping[str, Any]:
    # A private copy, so that a caller mutating its dict cannot change a frozen model.
    return dict(value)


class Status(enum.StrEnum):
    """The statuses PureCallerID is known to send.

    The set is open: a :class:`ScreeningResponse` keeps whatever string the vendor sent, and
    members compare equal to their string values, so ``response.status == Status.ACCEPTED``
    works whether or not the value is known.
    """

    ACCEPTED = "Accepted"
    REJECTED = "Rejected"


class Reason(enum.StrEnum):
    """The reasons PureCallerID is known to send. Open, like :class:`Status`.

    Reasons are configured per campaign on the vendor side, so an unknown reason is normal
    and is kept verbatim.
    """

    INACTIVE = "INACTIVE"
    DNC = "DNC"
    TCPA_FLAG = "TCPA_FLAG"
    INVALID = "INVALID"
    SUPPRESSED = "SUPPRESSED"


@frozen(kw_only=True)
class ScreeningRequest:
    """One lead, mapped to the vendor's fields, plus the vendor-side identifiers.

    Values are sent as given: normalising phones and ZIP codes is the field mapper's job.

    Attributes:
        phone: The phone number to screen, already rendered the way the vendor wants it.
        zip: The ZIP code as a string (``"02134"``), or ``None``.
        first_name: Optional first name.
        last_name: Optional last name.
        address: Optional one-line address (the ``leadexec`` dialect sends this).
        street: Optional street (the ``public`` dialect sends street, city and state apart).
        city: Optional city.
        state: Optional state.
        extra: Any other mapped field (``email`` ...), by the vendor's field name.
        campaign_id: The vendor's campaign identifier.
        list_name: The dialer list's name inside PureCallerID.
        dialer_list_id: The dialer list's id (the ``public`` dialect requires it).
    """

    phone: str
    zip: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    address: str | None = None
    street: str | None = None
    city: str | None = None
    state: str | None = None
    extra: Mapping[str, Any] = field(factory=dict, converter=_frozen_mapping)
    campaign_id: str | None = None
    list_name: str | None = None
    dialer_list_id: str | None = None


@frozen(kw_only=True)
class ScreeningResponse:
    """The vendor's answer.

    ``status`` and ``reason`` are kept exactly as sent (compare with :class:`Status` and
    :class:`Reason`). The typed optional fields are filled when the vendor sends them in the
    expected type; a value of another type is left in ``extra`` under its own key, so that
    nothing the vendor said is lost. Every key the library does not know lands in ``extra``.

    Attributes:
        status: ``"Accepted"``, ``"Rejected"`` or any other string the vendor sent.
        reason: The reason code (``"DNC"`` ...), or ``None``.
        message: The human-readable detail, or ``None``.
        activity_score: Line activity, 0-100, when sent.
        known_litigator: The ``knownLitigatorCheck`` flag, when sent.
        carrier: The carrier name, when sent.
        line_type: ``"mobile"``, ``"landline"``, ``"voip"`` ..., when sent.
        extra: Every other key of the answer, untouched.
        raw: The body as received (redacted); not part of equality.
        exchange: The request sent and the attempts made; not part of equality.
    """

    status: str
    reason: str | None = None
    message: str | None = None
    activity_score: int | None = None
    known_litigator: bool | None = None
    carrier: str | None = None
    line_type: str | None = None
    extra: Mapping[str, Any] = field(factory=dict, converter=_frozen_mapping)
    raw: str = field(default="", eq=False, repr=False)
    exchange: Exchange | None = field(default=None, eq=False, repr=False)

    def as_answer(self) -> dict[str, Any]:
        """The answer as the mapping rules read (:func:`purecallerid.answer_from_response`)."""
        return {
            "status": self.status,
            "reason": self.reason,
            "message": self.message,
            "activity_score": self.activity_score,
            "known_litigator": self.known_litigator,
            "carrier": self.carrier,
            "line_type": self.line_type,
            "extra": dict(self.extra),
        }

    @property
    def accepted(self) -> bool:
        """Whether the status is Accepted (ignoring case and surrounding spaces)."""
        return self.status.strip().casefold() == Status.ACCEPTED.casefold()

    @property
    def rejected(self) -> bool:
        """Whether the status is Rejected (ignoring case and surrounding spaces)."""
        return self.status.strip().casefold() == Status.REJECTED.casefold()

    @property
    def known_status(self) -> Status | None:
        """The status as a :class:`Status` member (ignoring case), or ``None`` if unknown."""
        return _lookup(Status, self.status)

    @property
    def known_reason(self) -> Reason | None:
        """The reason as a :class:`Reason` member (ignoring case), or ``None`` if unknown."""
        return None if self.reason is None else _lookup(Reason, self.reason)


_E = TypeVar("_E", bound=enum.StrEnum)


def _lookup(enum_type: type[_E], value: str) -> _E | None:
    folded = value.strip().casefold()
    for member in enum_type:
        if member.value.casefold() == folded:
            return member
    return None
