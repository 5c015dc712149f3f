"""What PureCallerID offers the rule engine, and how its answer and request are built.

The field registry (:data:`PURECALLERID_FIELDS`), the answer as the mapping rules read
(:func:`answer_from_response`), the standard preset rules (:func:`purecallerid_preset`) and the
request built from a lead by a campaign's field mapping (:func:`map_request`). The rule engine
and the mapper know none of this: they get it through the integration.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from ..._errors import ConfigurationError
from ..._rules.fields import FieldRegistry, FieldSpec, FieldType
from ..._rules.ruleset import RuleSet
from .models import Reason, ScreeningRequest, Status

if TYPE_CHECKING:
    from collections.abc import Mapping

    from ..._mapping import FieldMapping
    from ..._models import Lead
    from .models import ScreeningResponse

__all__ = [
    "PURECALLERID_FIELDS",
    "REQUEST_TARGETS",
    "answer_from_response",
    "map_request",
    "purecallerid_preset",
]

PURECALLERID_FIELDS: Final = FieldRegistry(
    integration="purecallerid",
    fields=(
        FieldSpec(
            name="status",
            type=FieldType.STRING,
            label="Status",
            description="Overall validation result.",
            values=tuple(s.value for s in Status),
        ),
        FieldSpec(
            name="reason",
            type=FieldType.STRING,
            label="Reason",
            description="Why the number was rejected or flagged; configured per vendor campaign.",
            values=tuple(r.value for r in Reason),
        ),
        FieldSpec(
            name="message",
            type=FieldType.STRING,
            label="Message",
            description="The vendor's human-readable detail.",
        ),
        FieldSpec(
            name="activity_score",
            type=FieldType.NUMBER,
            label="Activity score",
            description="Line activity, 0 to 100.",
        ),
        FieldSpec(
            name="known_litigator",
            type=FieldType.BOOLEAN,
            label="Known litigator",
            description="Whether the number belongs to a known TCPA litigator.",
        ),
        FieldSpec(
            name="carrier",
            type=FieldType.STRING,
            label="Carrier",
            description="The carrier's name.",
        ),
        FieldSpec(
            name="line_type",
            type=FieldType.STRING,
            label="Line type",
            description="Kind of line.",
            values=("mobile", "landline", "voip"),
        ),
    ),
)
"""The fields the PureCallerID integration offers to rules (statuses and reasons are open)."""


def answer_from_response(response: ScreeningResponse) -> dict[str, Any]:
    """Turn a PureCallerID answer into the plain mapping rules read.

    The typed fields come under their own names (``None`` when not sent) and every other key
    the vendor sent under ``extra``.
    """
    return response.as_answer()


# The preset is written in the text form, one rule a line, as an admin would write it.
_PRESET: Final = (
    'reject-bad-phone: reject when status = "Rejected"'
    ' and reason in ("INACTIVE", "DNC", "TCPA_FLAG")'
    ' because "Rejected by PureCallerID: {reason}"\n'
    'qa-suppressed: qa when status = "Accepted" and reason = "SUPPRESSED"'
    ' because "Suppressed number: send to quality control"\n'
)
_PRESET_INVALID: Final = (
    'reject-invalid: reject when status = "Rejected" and reason = "INVALID"'
    ' because "Invalid phone number"\n'
)


def purecallerid_preset(*, reject_invalid: bool = False) -> RuleSet:
    """The standard rules for PureCallerID, ready to use.

    * ``reject-bad-phone``: reject when status = Rejected and reason in (INACTIVE, DNC,
      TCPA_FLAG);
    * ``qa-suppressed``: send to quality control when status = Accepted and reason = SUPPRESSED;
    * with *reject_invalid*, also ``reject-invalid``: reject when status = Rejected and
      reason = INVALID.
    """
    text = _PRESET + (_PRESET_INVALID if reject_invalid else "")
    return RuleSet.load(text, PURECALLERID_FIELDS)


# The mapped targets that are ScreeningRequest attributes; every other target lands in `extra`.
REQUEST_TARGETS: Final = (
    "phone",
    "zip",
    "first_name",
    "last_name",
    "address",
    "street",
    "city",
    "state",
)


def map_request(
    mapping: FieldMapping,
    lead: Lead | Mapping[str, Any],
    *,
    campaign_id: str | None = None,
    list_name: str | None = None,
    dialer_list_id: str | None = None,
) -> ScreeningRequest:
    """Map *lead* with *mapping* to a :class:`purecallerid.ScreeningRequest`.

    The known targets (``phone``, ``zip``, ``first_name``, ``last_name``, ``address``,
    ``street``, ``city``, ``state``) fill the request's attributes; every other target goes
    to ``extra`` under its own name.

    Args:
        mapping: The campaign's field mapping (:data:`purecallerid.DEFAULT_FIELD_MAPPING`...).
        lead: A :class:`purecallerid.Lead`, or its fields as a mapping.
        campaign_id: The vendor's campaign id, from the integration's credentials.
        list_name: The vendor's dialer list name, from the credentials.
        dialer_list_id: The vendor's dialer list id, from the credentials.

    Raises:
        MappingError: At least one target is missing or invalid; lists them all.
        ConfigurationError: The mapping has no ``phone`` target.
    """
    if "phone" not in mapping.targets:
        raise ConfigurationError(
            "this mapping has no 'phone' target, and a screening request needs one"
        )
    payload = mapping.map_payload(lead)
    known = {name: payload.pop(name) for name in REQUEST_TARGETS if name in payload}
    return ScreeningRequest(
        **known,
        extra=payload,
        campaign_id=campaign_id,
        list_name=list_name,
        dialer_list_id=dialer_list_id,
    )
