"""Wire formats ("dialects"): the only place that knows what PureCallerID's JSON looks like.

Two shapes of the same operation are in use, chosen per credential set:

``leadexec``
    LeadExec's lead-loading format: ``POST {base_url}/singleLeadLoading`` with a flat JSON
    body of ``campaignId``, ``listName``, ``apiToken`` and the mapped lead fields
    (``phone``, ``zip``, ``firstName``, ``lastName``, ``address`` and any extra). The token
    goes in the body by default or, when configured, in a header.

``public``
    PureCallerID's own public API: ``POST {base_url}/api/public/lead/load``, the token in
    the ``X-API-KEY`` header, and a body of ``campaignId``, ``dialerListId``, ``listName`` and
    ``fields: [{"value", "dialerField", "type"}]``.

Both answer with the same JSON object, read by :func:`purecallerid.response_from_wire`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final, Literal, Protocol

from attrs import field, frozen

from ..._errors import ConfigurationError, ResponseValidationError
from ..._http.call import WireRequest
from .wire import response_from_wire

if TYPE_CHECKING:
    from ..._secrets import Secret
    from .models import ScreeningRequest, ScreeningResponse

__all__ = [
    "DEFAULT_DIALER_FIELDS",
    "Dialect",
    "LeadExecDialect",
    "PublicDialect",
    "WireRequest",
    "dialect_named",
    "parse_answer",
]


class Dialect(Protocol):
    """A wire format of the Single Lead Loading operation.

    Implemented by :class:`LeadExecDialect` and :class:`PublicDialect`; a host needing a
    third shape implements this protocol and passes the instance as ``dialect=``.
    """

    @property
    def name(self) -> str:
        """A short name recorded with every exchange (``"leadexec"``)."""
        ...

    def build(self, request: ScreeningRequest, token: Secret) -> WireRequest:
        """Turn *request* into the HTTP request to send, placing *token* where it belongs.

        Raises:
            ConfigurationError: A value the wire format requires is missing.
        """
        ...

    def parse(self, body: str | bytes, *, raw: str) -> ScreeningResponse:
        """Read a 2xx answer's *body*; *raw* is its redacted text, kept on the response.

        Raises:
            ResponseValidationError: The body is not an answer.
        """
        ...


def parse_answer(body: str | bytes, *, raw: str) -> ScreeningResponse:
    """Decode a JSON answer body and read it into a :class:`ScreeningResponse`.

    Raises:
        ResponseValidationError: The body is not UTF-8 JSON, not an object, or has no status.
    """
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        # RecursionError: a hostile, deeply nested body must still be a validation error.
        raise ResponseValidationError(
            f"the answer is not JSON ({type(exc).__name__})", body=raw[:2000]
        ) from None
    return response_from_wire(data, raw=raw)


def _require(value: str | None, what: str, dialect: str) -> str:
    if value is None or not value.strip():
        raise ConfigurationError(f"the {dialect} dialect requires {what}; set it in the settings")
    return value


# Keys the leadexec dialect writes itself; an extra field may not overwrite them.
_LEADEXEC_KEYS: Final = frozenset(
    {"campaignId", "listName", "apiToken", "phone", "zip", "firstName", "lastName", "address"}
)


@frozen(kw_only=True)
class LeadExecDialect:
    """The flat body of LeadExec's lead-loading format.

    Attributes:
        token_in: ``"body"`` (the ``apiToken`` key, the default) or ``"header"``.
        token_header: The header carrying the token when ``token_in="header"``.
        path: The operation's path below the base URL.
    """

    token_in: Literal["body", "header"] = "body"  # noqa: S105 - a place, not a password
    token_header: str = "X-API-KEY"  # noqa: S105 - a header name, not a password
    path: str = "/singleLeadLoading"

    @property
    def name(self) -> str:
        """``"leadexec"``."""
        return "leadexec"

    def build(self, request: ScreeningRequest, token: Secret) -> WireRequest:
        """Build the flat JSON body (see the module docstring)."""
        body: dict[str, Any] = {
            "campaignId": _require(request.campaign_id, "a campaign id", self.name),
            "listName": _require(request.list_name, "a list name", self.name),
        }
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self.token_in == "body":  # noqa: S105 - a place, not a password
            body["apiToken"] = token.reveal()
        else:
            headers[self.token_header] = token.reveal()
        body["phone"] = _require(request.phone, "a phone number", self.name)
        address = request.address
        if address is None:
            parts = [p for p in (request.street, request.city, request.state) if p]
            address = ", ".join(parts) or None
        optional = {
            "zip": request.zip,
            "firstName": request.first_name,
            "lastName": request.last_name,
            "address": address,
        }
        body.update({key: value for key, value in optional.items() if value is not None})
        clashes = sorted(_LEADEXEC_KEYS.intersection(request.extra))
        if clashes:
            raise ConfigurationError(
                f"the extra field(s) {clashes} would overwrite keys the leadexec dialect sets; "
                "map them to other names"
            )
        body.update(request.extra)
        return WireRequest(method="POST", path=self.path, headers=headers, json=body)

    def parse(self, body: str | bytes, *, raw: str) -> ScreeningResponse:
        """Read the answer (see :func:`parse_answer`)."""
        return parse_answer(body, raw=raw)


DEFAULT_DIALER_FIELDS: Final[Mapping[str, str]] = {
    "phone": "number1",
    "zip": "zip",
    "first_name": "first_name",
    "last_name": "last_name",
    "street": "street",
    "city": "city",
    "state": "state",
}
"""Which PureCallerID dialer field receives each request field in the ``public`` dialect."""

# The public API types these dialer fields; other fields are sent without a type.
_FIELD_TYPES: Final = {"phone": "Phone", "zip": "Zip"}


def _dialer_fields(value: Mapping[str, str]) -> Mapping[str, str]:
    merged = {**DEFAULT_DIALER_FIELDS, **value}
    unknown = set(merged) - set(DEFAULT_DIALER_FIELDS)
    if unknown:
        raise ConfigurationError(
            f"unknown request field(s) in dialer_fields: {sorted(unknown)}; "
            f"known: {sorted(DEFAULT_DIALER_FIELDS)} (extra fields use their own name)"
        )
    return merged


@frozen(kw_only=True)
class PublicDialect:
    """PureCallerID's public ``lead/load`` API.

    Attributes:
        dialer_fields: Overrides of :data:`DEFAULT_DIALER_FIELDS` (for instance
            ``{"phone": "number2"}``); extra fields are sent under their own names. A one-line
            ``address`` is sent as the street when no street is given.
        token_header: The header carrying the token.
        path: The operation's path below the base URL.
    """

    dialer_fields: Mapping[str, str] = field(factory=dict, converter=_dialer_fields)
    token_header: str = "X-API-KEY"  # noqa: S105 - a header name, not a password
    path: str = "/api/public/lead/load"

    @property
    def name(self) -> str:
        """``"public"``."""
        return "public"

    def build(self, request: ScreeningRequest, token: Secret) -> WireRequest:
        """Build the ``fields[]`` body (see the module docstring)."""
        values = {
            "phone": _require(request.phone, "a phone number", self.name),
            "zip": request.zip,
            "first_name": request.first_name,
            "last_name": request.last_name,
            "street": request.street if request.street is not None else request.address,
            "city": request.city,
            "state": request.state,
        }
        fields: list[dict[str, Any]] = []
        used: set[str] = set()
        for name, value in values.items():
            if value is None:
                continue
            entry: dict[str, Any] = {"value": value, "dialerField": self.dialer_fields[name]}
            if name in _FIELD_TYPES:
                entry["type"] = _FIELD_TYPES[name]
            fields.append(entry)
            used.add(self.dialer_fields[name])
        for key, value in request.extra.items():
            if key in used:
                raise ConfigurationError(
                    f"the extra field {key!r} would duplicate a dialer field already sent; "
                    "map it to another name"
                )
            fields.append({"value": value, "dialerField": key})
        body: dict[str, Any] = {
            "campaignId": _require(request.campaign_id, "a campaign id", self.name),
            "dialerListId": _require(request.dialer_list_id, "a dialer list id", self.name),
        }
        if request.list_name is not None:
            body["listName"] = request.list_name
        body["fields"] = fields
        headers = {
            "Content-Type": "application/json",
            "Accept": "application/json",
            self.token_header: token.reveal(),
        }
        return WireRequest(method="POST", path=self.path, headers=headers, json=body)

    def parse(self, body: str | bytes, *, raw: str) -> ScreeningResponse:
        """Read the answer (see :func:`parse_answer`)."""
        return parse_answer(body, raw=raw)


def dialect_named(name: str) -> Dialect:
    """Return the default dialect called *name* (``"leadexec"`` or ``"public"``).

    Raises:
        ConfigurationError: *name* is not a known dialect.
    """
    if name == "leadexec":
        return LeadExecDialect()
    if name == "public":
        return PublicDialect()
    raise ConfigurationError(f"unknown dialect {name!r}; use 'leadexec' or 'public'")


def shared_dialect(name: str) -> Dialect:
    """The default dialect called *name*, one instance per name, for the library's own calls.

    The integration looks its dialect up twice per call; nothing it does changes the
    dialect. :func:`dialect_named` still hands each caller its own.

    Raises:
        ConfigurationError: *name* is not a known dialect.
    """
    found = _SHARED.get(name)
    if found is None:
        found = _SHARED[name] = dialect_named(name)
    return found


_SHARED: Final[dict[str, Dialect]] = {}
