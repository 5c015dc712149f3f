"""``kind = "http"``: a vendor from settings alone, and the presets built on it.

The integration reads the ``http`` table of each integration's settings (or a preset's table
with the settings' changes merged over it), checks it whole at load, and then builds each
request and reads each answer by it, on the toolkit's :class:`~purecallerid.HttpIntegration`:
the deadline, retries, failure table, masking and evidence are the same as PureCallerID's.
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Collection, Mapping
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import quote

from ..._errors import (
    APIError,
    APIStatusError,
    AuthenticationError,
    ClientError,
    ConfigurationError,
    RateLimitError,
    ResponseValidationError,
    ServerError,
)
from ..._http.call import BODY_LIMIT, SUCCESS, WireRequest
from ..._http.integration import HttpIntegration
from ..._mapping import FieldMapping, structure_mapping
from ..._rules.fields import FieldType
from .definition import STATUS_FIELD, Definition, Template, check_against, load_definition
from .paths import MISSING, read_path, xml_data

if TYPE_CHECKING:
    from ..._http.call import VendorReply
    from ..._rules.fields import FieldRegistry
    from ..._settings import IntegrationSettings
    from .definition import AnswerField, BodyError
    from .presets import Preset

__all__ = ["ConfiguredHttpIntegration", "http_integrations"]

_TRUE: Final = frozenset({"true", "yes", "y", "1"})
_FALSE: Final = frozenset({"false", "no", "n", "0"})
_PHONE_ONLY: Final = structure_mapping(
    {"targets": {"phone": {"source": "phone", "transform": "phone"}}, "phone_format": "e164"}
)


def merged(base: Mapping[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    """*base* with *changes* merged in: tables key by key, any other value replaced."""
    out = dict(base)
    for key, value in changes.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merged(out[key], value)
        else:
            out[key] = value
    return out


class ConfiguredHttpIntegration(HttpIntegration):
    """An HTTP vendor described by the settings' ``http`` table. Kind ``"http"``.

    With a *preset*, the kind is the preset's name and its table, base URL, mapping and vendor
    name are the defaults; a campaign's ``http`` table changes them key by key. See
    "Configuring an HTTP vendor" in the docs for every key.

    Args:
        preset: The preset this kind runs, or ``None`` for the plain ``http`` kind.
        **options: The toolkit's options (``transport``, ``retry_policy``, ``sleep``...):
            see :class:`~purecallerid.HttpIntegration`.
    """

    def __init__(self, *, preset: Preset | None = None, **options: Any) -> None:
        """Create the integration; see the class docstring."""
        super().__init__(**options)
        self._preset = preset
        self._definitions: dict[str, Definition] = {}

    @property
    def kind(self) -> str:  # type: ignore[override]
        """``"http"``, or the preset's name."""
        return "http" if self._preset is None else self._preset.name

    @property
    def preset(self) -> Preset | None:
        """The preset this kind runs, if any."""
        return self._preset

    @property
    def fields(self) -> FieldRegistry:
        """The preset's fields; for the plain kind only ``http_status`` (see :meth:`fields_for`)."""
        if self._preset is not None:
            return load_definition(self._preset.http).registry(self.kind)
        return Definition.empty_registry(self.kind)

    def fields_for(self, settings: IntegrationSettings) -> FieldRegistry:
        """The fields rules may read with these settings: those their ``http`` table declares.

        Raises:
            ConfigurationError: The ``http`` table has problems (listed, with paths).
        """
        return self.definition(settings).registry(settings.id)

    def definition(self, settings: IntegrationSettings) -> Definition:
        """The checked ``http`` table in effect for *settings* (cached by its content).

        Raises:
            ConfigurationError: It has problems (listed, one a line, with paths).
        """
        table = dict(settings.http)
        if self._preset is not None:
            table = merged(self._preset.http, table)
        elif not table:
            raise ConfigurationError("http: is required for kind 'http' (method, path, answer...)")
        try:
            key = json.dumps(table, sort_keys=True, default=str)
        except (TypeError, ValueError, RecursionError):
            # Keys that are not text (settings in code), or a table nesting into itself.
            raise ConfigurationError("http: must be a table of text keys, JSON data") from None
        found = self._definitions.get(key)
        if found is None:
            found = self._definitions[key] = load_definition(table)
        return found

    def recommended_rules(self, settings: IntegrationSettings) -> str:
        """The preset's rules, for campaigns that set none (the plain kind has none)."""
        del settings  # the same for every campaign of the preset
        return "" if self._preset is None else self._preset.rules

    def mapping_for(self, settings: IntegrationSettings) -> FieldMapping:
        """The campaign's mapping, else the preset's, else the phone alone in E.164."""
        if settings.mapping is not None:
            return settings.mapping
        return _PHONE_ONLY if self._preset is None else self._preset.mapping

    def base_url_of(self, settings: IntegrationSettings) -> str | None:
        """The settings' base URL, else the preset's."""
        if settings.base_url or self._preset is None:
            return settings.base_url
        return self._preset.base_url

    def vendor_name(self, settings: IntegrationSettings) -> str:
        """The ``http.vendor`` name, else the preset's vendor, else the integration id."""
        try:
            vendor = self.definition(settings).vendor
        except ConfigurationError:
            vendor = None
        if vendor is None and self._preset is not None:
            vendor = self._preset.vendor
        return vendor or settings.id

    def is_idempotent(self, settings: IntegrationSettings) -> bool:
        """``http.idempotent`` (true for GET by default)."""
        return self.definition(settings).idempotent

    def answer_statuses(self, settings: IntegrationSettings) -> Collection[int]:
        """2xx and ``http.answer_statuses``."""
        extra = self.definition(settings).answer_statuses
        return SUCCESS if not extra else frozenset(SUCCESS) | extra

    def throttle_statuses(self, settings: IntegrationSettings) -> frozenset[int]:
        """``http.throttle_statuses``."""
        return self.definition(settings).throttle_statuses

    def check_settings(self, settings: IntegrationSettings) -> list[str]:
        """Every problem of the ``http`` table, its placeholders, the base URL and secrets."""
        try:
            definition = self.definition(settings)
        except ConfigurationError as exc:
            problems = str(exc).splitlines()
        else:
            credentials = settings.credentials
            named = {"api_token", "campaign_id", "list_name", "dialer_list_id"}
            given = {n for n in named if getattr(credentials, n) is not None}
            problems = check_against(
                definition, self.mapping_for(settings), given | set(credentials.secrets)
            )
        return problems + super().check_settings(settings)

    def build_request(
        self, payload: Mapping[str, Any], settings: IntegrationSettings
    ) -> WireRequest:
        """The request the ``http`` table describes, for one mapped lead."""
        definition = self.definition(settings)
        values = _Values(payload, settings)
        query = values.table(definition.query)
        json_body = values.table(definition.json, keep_types=True)
        form = values.table(definition.form)
        if definition.send == "query":
            query = {**{k: _text(v) for k, v in payload.items()}, **query}
        elif definition.send == "json":
            json_body = {**payload, **json_body}
        elif definition.send == "form":
            form = {**{k: _text(v) for k, v in payload.items()}, **form}
        headers = {k: _text(v) for k, v in values.table(definition.headers).items()}
        headers.setdefault("Accept", f"application/{definition.format}")
        if definition.basic_auth is not None:
            user, password = (values.render(t, encode=False) for t in definition.basic_auth)
            pair = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
            headers["Authorization"] = f"Basic {pair}"
        path = values.render(definition.path, encode=True)
        if path is MISSING:  # the load refuses an optional target in a path: settings in code
            raise ConfigurationError("http.path: a lead field it names has no value")
        return WireRequest(
            method=definition.method,
            path=str(path),
            headers=headers,
            query={k: _text(v) for k, v in query.items()},
            json=json_body if (json_body or definition.send == "json") else None,
            form=form if (form or definition.send == "form") else None,
        )

    def read_answer(self, reply: VendorReply, settings: IntegrationSettings) -> Mapping[str, Any]:
        """The declared fields of the answer, typed, and ``http_status``."""
        definition = self.definition(settings)
        vendor = self.vendor_name(settings)
        data: Any = {}
        if reply.text.strip():
            try:
                data = _parse(reply, definition.format, vendor)
            except ResponseValidationError:
                if reply.status_code in SUCCESS:
                    raise
                # An answer_statuses status (404 "not found") is the answer itself; its body,
                # an HTML error page as often as not, need not be.
        # Masked before typing: a secret split by a list's separator, or written as a number,
        # would no longer be found in what typing makes of it.
        data = reply.redact(data)
        for error in definition.errors:
            _check_error(error, data, reply, vendor)
        answer = {f.name: _field_value(f, data, reply, vendor) for f in definition.fields}
        answer[STATUS_FIELD] = reply.status_code
        return answer


class _Values:
    """Renders templates from the mapped lead and the credentials."""

    def __init__(self, payload: Mapping[str, Any], settings: IntegrationSettings) -> None:
        self.payload = payload
        self.credentials = settings.credentials

    def lookup(self, name: str) -> Any:
        head, _, tail = name.partition(".")
        if head != "credentials":
            return self.payload.get(name, MISSING)
        secret = self.credentials.secrets.get(tail)
        if secret is None and tail == "api_token":
            secret = self.credentials.api_token
        if secret is not None:
            return secret.reveal()
        value = getattr(self.credentials, tail, None) if tail in _IDS else None
        if value is None:
            raise ConfigurationError(f"http: {{{name}}} names a credential that is not set")
        return value

    def render(self, template: Template, *, encode: bool, keep_types: bool = False) -> Any:
        """The template's value, or :data:`MISSING` when a lead field it uses is missing."""
        if template.constant is not None:
            return template.constant
        if template.whole is not None and keep_types:
            return self.lookup(template.whole)
        pieces: list[str] = []
        for i, part in enumerate(template.parts):
            if i % 2 == 0:
                pieces.append(part)
                continue
            value = self.lookup(part)
            if value is MISSING:
                return MISSING
            text = _text(value)
            if encode:
                # "." and ".." are kept by percent-encoding and then resolved by the URL: a
                # lead's ".." would move the request up a segment.
                text = "%2E" * len(text) if text in {".", ".."} else quote(text, safe="")
            pieces.append(text)
        return "".join(pieces)

    def table(
        self, templates: Mapping[str, Template], *, keep_types: bool = False
    ) -> dict[str, Any]:
        rendered = {
            k: self.render(t, encode=False, keep_types=keep_types) for k, t in templates.items()
        }
        return {k: v for k, v in rendered.items() if v is not MISSING}


_IDS: Final = frozenset({"campaign_id", "list_name", "dialer_list_id"})


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def _refuse(vendor: str, problem: str, reply: VendorReply) -> ResponseValidationError:
    return ResponseValidationError(f"{vendor}'s answer: {problem}", body=reply.raw[:BODY_LIMIT])


def _parse(reply: VendorReply, fmt: str, vendor: str) -> Any:
    problem = None
    if fmt == "xml":
        try:
            return xml_data(reply.text)
        except ValueError as exc:
            problem = str(exc)
    else:
        try:
            return json.loads(reply.text)
        except (ValueError, RecursionError):
            problem = "not JSON"
    # Raised out here: the parser's exception holds the text, credentials and all.
    raise _refuse(vendor, problem, reply)


def _present(value: Any) -> bool:
    return value is not MISSING and value is not None and value not in ({}, [], "")


def _check_error(error: BodyError, data: Any, reply: VendorReply, vendor: str) -> None:
    value = read_path(data, error.path)
    if error.present is not None:
        fired = _present(value) is error.present
    elif error.equals is not None:
        fired = value is not MISSING and _same(value, error.equals)
    elif error.one_of is not None:
        fired = value is not MISSING and any(_same(value, v) for v in error.one_of)
    else:
        fired = value is not MISSING and not _same(value, error.not_equals)
    if not fired:
        return
    detail = None if error.message is None else read_path(data, error.message)
    said = "" if not _present(detail) else f": {reply.redact(_text(detail))[:200]}"
    message = f"{vendor} reported an error in its answer{said}"
    raise _body_error(error.error_class, message, reply)


def _body_error(error_class: str, message: str, reply: VendorReply) -> APIError:
    """The error a vendor reported in a 2xx body, of the class the definition names.

    A refusal the vendor states (credentials, throttling, a bad request) was not processed:
    ``outcome_unknown`` is false, as for the same refusal sent as an HTTP status.
    """
    body = reply.raw[:BODY_LIMIT]
    if error_class == "invalid_response":
        return ResponseValidationError(message, body=body)
    kinds: dict[str, tuple[type[APIStatusError], bool]] = {
        "auth_failed": (AuthenticationError, False),
        "rate_limited": (RateLimitError, False),
        "client_error": (ClientError, False),
        "server_error": (ServerError, True),
    }
    cls, unknown = kinds[error_class]
    error = cls(message, status_code=reply.status_code, body=body)
    error.outcome_unknown = unknown
    return error


def _same(value: Any, expected: Any) -> bool:
    if isinstance(value, bool) or isinstance(expected, bool):
        return isinstance(value, bool) and isinstance(expected, bool) and value is expected
    return bool(value == expected)


def _field_value(spec: AnswerField, data: Any, reply: VendorReply, vendor: str) -> Any:
    value = read_path(data, spec.path)
    if value is MISSING or value is None or (value in ({}, []) and spec.type is not FieldType.LIST):
        if spec.required:
            raise _refuse(vendor, f"the required field {spec.name!r} is missing", reply)
        return None
    if spec.map is not None and isinstance(value, str | int | float | bool):
        value = spec.map.get(_text(value), value)
    try:
        return _typed(spec, value)
    except ValueError as exc:
        raise _refuse(vendor, f"{spec.name!r} {exc}", reply) from None


def _typed(spec: AnswerField, value: Any) -> Any:  # noqa: C901, PLR0911, PLR0912 - a case a type
    kind = spec.type
    if kind is FieldType.BOOLEAN:
        if isinstance(value, bool):
            return value
        word = _text(value).strip().lower() if isinstance(value, str | int) else None
        if word in _TRUE:
            return True
        if word in _FALSE:
            return False
        raise ValueError(f"must be true or false, not a {type(value).__name__} value")
    if kind is FieldType.NUMBER:
        number = value
        if isinstance(value, str):
            try:
                number = float(value)
            except ValueError:
                raise ValueError("must be a number, not a text") from None
        if isinstance(number, bool) or not isinstance(number, int | float):
            raise ValueError(f"must be a number, not {type(value).__name__}")
        if isinstance(number, float) and not math.isfinite(number):
            raise ValueError("must be a finite number")
        return number
    if kind is FieldType.LIST:
        if isinstance(value, str) and spec.split is not None:
            return [p.strip() for p in value.split(spec.split) if p.strip()]
        items = value if isinstance(value, list) else [value]
        if any(isinstance(i, dict | list) for i in items):
            raise ValueError("must be a list of plain values")
        return list(items)
    if isinstance(value, dict | list):
        shape = "a table" if isinstance(value, dict) else "a list"
        raise ValueError(f"must be a text, not {shape}")  # noqa: TRY004 - "unreadable"
    return _text(value)


def http_integrations(**options: Any) -> list[ConfiguredHttpIntegration]:
    """The ``http`` kind and one kind per shipped preset, sharing *options*.

    *options* are the toolkit's (``transport``, ``sleep``...): see
    :class:`~purecallerid.HttpIntegration`. Pass the list to the screener and to
    :func:`~purecallerid.load_settings` with the other kinds.
    """
    from .presets import presets  # noqa: PLC0415 - the presets read data files: on demand

    kinds = [ConfiguredHttpIntegration(**options)]
    kinds.extend(ConfiguredHttpIntegration(preset=p, **options) for p in presets())
    return kinds
