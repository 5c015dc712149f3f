"""PureCallerID's answer to and from its JSON shape, on the library's converter.

A :class:`ScreeningResponse` (un)structures to the vendor's own shape: the known keys under
their wire names, and every key of ``extra`` next to them, so that
``structure(unstructure(r)) == r``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any, Final

from ..._converter import converter
from ..._errors import ResponseValidationError
from .models import ScreeningResponse

__all__ = ["RESPONSE_FIELD_ALIASES", "response_from_wire", "response_to_wire"]


# Wire names for the typed fields of ScreeningResponse, first name preferred when writing.
# The vendor's documentation and its webhooks disagree on casing, so both are read.
RESPONSE_FIELD_ALIASES: Final[Mapping[str, tuple[str, ...]]] = {
    "status": ("status", "result"),
    "reason": ("reason",),
    "message": ("message",),
    "activity_score": ("activity_score", "activityScore"),
    "known_litigator": ("knownLitigatorCheck", "known_litigator_check"),
    "carrier": ("carrier",),
    "line_type": ("line_type", "lineType"),
}


def _as_text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _as_score(value: Any) -> int | None:
    # bool is an int in Python; a vendor sending true as a score has sent no score.
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    if isinstance(value, str) and _SCORE_TEXT.fullmatch(value.strip()):
        return int(value)
    return None


# A score sent as text: an optional minus and a few ASCII digits (int() of a long digit string
# raises ValueError past Python's conversion limit, and no score has nine digits).
_SCORE_TEXT: Final = re.compile(r"-?[0-9]{1,9}")


def _as_flag(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in {"true", "false"}:
        return value.strip().lower() == "true"
    return None


_READERS: Final = {
    "reason": _as_text,
    "message": _as_text,
    "activity_score": _as_score,
    "known_litigator": _as_flag,
    "carrier": _as_text,
    "line_type": _as_text,
}


def response_from_wire(data: Any, *, raw: str = "") -> ScreeningResponse:
    """Read a vendor answer (a decoded JSON value) into a :class:`ScreeningResponse`.

    Raises:
        ResponseValidationError: *data* is not an object, or has no usable status.
    """
    if not isinstance(data, Mapping):
        raise ResponseValidationError(
            f"the answer is a JSON {type(data).__name__}, not an object", body=raw[:2000]
        )
    rest = dict(data)
    status: str | None = None
    for key in RESPONSE_FIELD_ALIASES["status"]:
        value = rest.get(key)
        if isinstance(value, str) and value.strip():
            status = value
            del rest[key]
            break
    if status is None:
        raise ResponseValidationError(
            "the answer has no status (expected a non-empty string under 'status' or 'result')",
            body=raw[:2000],
        )
    typed: dict[str, Any] = {}
    for name, read in _READERS.items():
        for key in RESPONSE_FIELD_ALIASES[name]:
            if rest.get(key) is None:
                # Absent, or null: a null stays in `extra` as sent, and another spelling of the
                # same field may still carry the value.
                continue
            value = read(rest[key])
            # An ill-typed value stays in `extra` as sent: nothing is lost.
            if value is not None:
                typed[name] = value
                del rest[key]
            break
    return ScreeningResponse(status=status, extra=rest, raw=raw, **typed)


def response_to_wire(response: ScreeningResponse) -> dict[str, Any]:
    """Write *response* in the vendor's shape (inverse of :func:`response_from_wire`)."""
    out: dict[str, Any] = dict(response.extra)
    # An ill-typed "status" kept in `extra` must not be overwritten: use the next alias.
    status_key = next(k for k in (*RESPONSE_FIELD_ALIASES["status"], "status") if k not in out)
    out[status_key] = response.status
    for name in _READERS:
        value = getattr(response, name)
        if value is not None:
            # A spelling already used in `extra` (a null, an ill-typed value) must survive.
            key = next((k for k in RESPONSE_FIELD_ALIASES[name] if k not in out), None)
            if key is None:
                raise ValueError(f"every spelling of {name} is taken in extra; cannot write it")
            out[key] = value
    return out


converter.register_unstructure_hook(ScreeningResponse, response_to_wire)
converter.register_structure_hook(ScreeningResponse, lambda data, _: response_from_wire(data))
