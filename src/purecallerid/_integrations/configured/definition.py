"""The ``http`` table of a ``kind = "http"`` integration, checked whole into a definition.

An HTTP vendor described by settings alone: how to build its request (method, path with
placeholders, where each credential goes, where the mapped lead goes) and how to read its
answer (JSON or XML, read by paths into declared, typed fields that rules use; statuses that
are answers or throttles; errors a vendor reports inside a 200). Every problem is reported with
its path below ``http``, all at once.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

from attrs import frozen

from ..._errors import ConfigurationError
from ..._rules.fields import RESERVED_WORDS, FieldRegistry, FieldSpec, FieldType, is_word
from .paths import Path, parse_path

if TYPE_CHECKING:
    from ..._mapping import FieldMapping

__all__ = [
    "BODY_ERROR_CLASSES",
    "HTTP_KEYS",
    "STATUS_FIELD",
    "AnswerField",
    "BodyError",
    "Definition",
    "Template",
    "check_against",
    "load_definition",
]

HTTP_KEYS: Final = frozenset(
    {
        "vendor",
        "method",
        "path",
        "idempotent",
        "send",
        "query",
        "headers",
        "json",
        "form",
        "basic_auth",
        "answer_statuses",
        "throttle_statuses",
        "answer",
    }
)
"""The keys of an ``http`` table."""

_ANSWER_KEYS: Final = frozenset({"format", "fields", "errors"})
_FIELD_KEYS: Final = frozenset(
    {"path", "type", "required", "values", "open_values", "map", "split", "label", "description"}
)
_ERROR_KEYS: Final = frozenset(
    {"path", "equals", "not_equals", "in", "present", "message", "error_class"}
)
BODY_ERROR_CLASSES: Final = (
    "invalid_response",
    "auth_failed",
    "rate_limited",
    "client_error",
    "server_error",
)
"""What an error reported in a 2xx body may be recorded as (``invalid_response`` by default)."""
_METHODS: Final = ("GET", "POST", "PUT", "PATCH")
_SENDS: Final = ("json", "form", "query", "none")
_FORMATS: Final = ("json", "xml")
_TYPES: Final = ("string", "number", "boolean", "list")
_PLACEHOLDER: Final = re.compile(r"\{([^{}]*)\}")
_CREDENTIAL_IDS: Final = ("campaign_id", "list_name", "dialer_list_id")
STATUS_FIELD: Final = "http_status"
"""The field every ``http`` integration offers: the HTTP status of the answer read."""


@frozen(kw_only=True)
class Template:
    """A text with ``{name}`` placeholders (a mapped field, or ``credentials.<name>``).

    Attributes:
        parts: Literal texts and placeholder names, alternating (literal first).
        whole: The placeholder name when the text is exactly one placeholder (its value then
            keeps its type in a JSON body), else ``None``.
        constant: A non-text constant (a number or boolean from the settings), else ``None``.
    """

    parts: tuple[str, ...]
    whole: str | None = None
    constant: Any = None

    @property
    def names(self) -> tuple[str, ...]:
        """The placeholder names, in order."""
        return self.parts[1::2]


@frozen(kw_only=True)
class AnswerField:
    """One declared answer field: where it is, its type, how vendor values translate."""

    name: str
    path: Path
    type: FieldType
    required: bool = False
    values: tuple[str, ...] = ()
    open_values: bool = True
    map: Mapping[str, Any] | None = None
    split: str | None = None
    label: str = ""
    description: str = ""


@frozen(kw_only=True)
class BodyError:
    """A condition on a 2xx answer that means the vendor reported an error in its body."""

    path: Path
    equals: Any = None
    not_equals: Any = None
    one_of: tuple[Any, ...] | None = None
    present: bool | None = None
    message: Path | None = None
    error_class: str = "invalid_response"


@frozen(kw_only=True)
class Definition:
    """A checked ``http`` table."""

    vendor: str | None
    method: str
    path: Template
    idempotent: bool
    send: str
    query: Mapping[str, Template]
    headers: Mapping[str, Template]
    json: Mapping[str, Template]
    form: Mapping[str, Template]
    basic_auth: tuple[Template, Template] | None
    answer_statuses: frozenset[int]
    throttle_statuses: frozenset[int]
    format: str
    fields: tuple[AnswerField, ...]
    errors: tuple[BodyError, ...]

    @staticmethod
    def empty_registry(integration: str) -> FieldRegistry:
        """The fields of a definition that declares none: :data:`STATUS_FIELD` alone."""
        return FieldRegistry(integration=integration, fields=[_status_spec()], extra=False)

    def registry(self, integration: str) -> FieldRegistry:
        """The fields rules may read: the declared ones and :data:`STATUS_FIELD`."""
        specs = [
            FieldSpec(
                name=f.name,
                type=f.type,
                label=f.label,
                description=f.description,
                values=f.values,
                open_values=f.open_values,
            )
            for f in self.fields
        ]
        specs.append(_status_spec())
        return FieldRegistry(integration=integration, fields=specs, extra=False)

    def placeholders(self) -> set[str]:
        """Every placeholder name the request uses."""
        templates = [self.path, *self.query.values(), *self.headers.values()]
        templates += [*self.json.values(), *self.form.values(), *(self.basic_auth or ())]
        return {name for t in templates for name in t.names}


def _status_spec() -> FieldSpec:
    return FieldSpec(
        name=STATUS_FIELD,
        type=FieldType.NUMBER,
        label="HTTP status",
        description="The HTTP status of the answer read (200, or one of answer_statuses).",
    )


class _Problems:
    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, path: str, message: str) -> None:
        self.items.append(f"{path}: {message}")


def _unknown(data: Mapping[str, Any], allowed: frozenset[str], path: str, out: _Problems) -> None:
    for key in data:
        if key not in allowed:
            close = difflib.get_close_matches(str(key), sorted(allowed), n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"known keys: {sorted(allowed)}"
            out.add(f"{path}.{key}", f"unknown key; {hint}")


def _template(value: Any, path: str, out: _Problems) -> Template | None:
    if isinstance(value, bool | int | float):
        if isinstance(value, float) and not math.isfinite(value):
            out.add(path, "must be a finite number (JSON has no nan or inf)")
            return None
        return Template(parts=("",), constant=value)
    if not isinstance(value, str):
        out.add(path, f"must be text, a number or true/false, not {type(value).__name__}")
        return None
    text = value.replace("{{", "\x00").replace("}}", "\x01")
    pieces = _PLACEHOLDER.split(text)
    literal = "".join(pieces[0::2])
    if "{" in literal or "}" in literal:
        out.add(path, "has an unmatched '{' or '}' (write '{{' or '}}' for a brace)")
        return None
    parts = tuple(p.replace("\x00", "{").replace("\x01", "}") for p in pieces)
    for name in parts[1::2]:
        if not _placeholder_ok(name):
            out.add(path, f"{{{name}}} is not a placeholder: use {{field}} or {{credentials.name}}")
            return None
    whole = parts[1] if len(parts) == 3 and parts[0] == parts[2] == "" else None  # noqa: PLR2004
    return Template(parts=parts, whole=whole)


def _bad_path_char(char: str) -> bool:
    return char in "?#\\" or char.isspace() or not char.isprintable()


# What the HTTP stack writes itself: a table setting them would break the request's framing.
_OWN_HEADERS: Final = frozenset({"host", "content-length", "transfer-encoding", "connection"})
_TOKEN_CHARS: Final = frozenset("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyz")


def _header_problems(headers: Mapping[str, Template], out: _Problems) -> None:
    for name, template in headers.items():
        where = f"http.headers.{name}"
        if not name or not set(name.lower()) <= _TOKEN_CHARS:
            out.add(where, "is not a header name (letters, digits and !#$%&'*+-.^_`|~)")
        elif name.lower() in _OWN_HEADERS:
            out.add(where, "is written by the HTTP stack itself; it cannot be set")
        literal = "".join(template.parts[0::2])
        if any(c in "\r\n\x00" for c in literal):
            out.add(where, "holds a line break or NUL")


def _placeholder_ok(name: str) -> bool:
    head, _, tail = name.partition(".")
    if head == "credentials":
        return tail.isidentifier()
    return not tail and is_word(name)


def _templates(data: Any, path: str, out: _Problems) -> dict[str, Template]:
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        out.add(path, "must be a table of names to values")
        return {}
    found = {str(k): _template(v, f"{path}.{k}", out) for k, v in data.items()}
    return {k: t for k, t in found.items() if t is not None}


def _statuses(data: Any, path: str, out: _Problems) -> frozenset[int]:
    if data is None:
        return frozenset()
    ok = isinstance(data, list) and all(
        isinstance(s, int) and not isinstance(s, bool) and 100 <= s <= 599  # noqa: PLR2004
        for s in data
    )
    if not ok:
        out.add(path, "must be a list of HTTP statuses (100-599)")
        return frozenset()
    return frozenset(data)


def _choice(  # noqa: PLR0917 - private, reads like a table at its call sites
    data: Mapping[str, Any],
    key: str,
    options: tuple[str, ...],
    default: str,
    path: str,
    out: _Problems,
) -> str:
    value = data.get(key, default)
    if not isinstance(value, str) or value.lower() not in options:
        out.add(f"{path}.{key}", f"must be one of {', '.join(options)}, not {value!r}")
        return default
    return value.lower()


def load_definition(data: Any) -> Definition:
    """Check an ``http`` table whole.

    Raises:
        ConfigurationError: Lists every problem, one a line, each as ``http.<path>: message``.
    """
    out = _Problems()
    if not isinstance(data, Mapping):
        raise ConfigurationError("http: must be a table (method, path, answer...)")
    _unknown(data, HTTP_KEYS, "http", out)
    method = str(data.get("method", "POST"))
    if method.upper() not in _METHODS:
        out.add("http.method", f"must be one of {', '.join(_METHODS)}, not {method!r}")
    method = method.upper() if method.upper() in _METHODS else "POST"
    path = _template(data.get("path", "/"), "http.path", out)
    _path_problems(path, out)
    idempotent = data.get("idempotent", method == "GET")
    if not isinstance(idempotent, bool):
        out.add("http.idempotent", "must be true or false")
        idempotent = False
    send = _choice(data, "send", _SENDS, "query" if method == "GET" else "json", "http", out)
    basic = _basic_auth(data.get("basic_auth"), out)
    vendor = data.get("vendor")
    if vendor is not None and (not isinstance(vendor, str) or not vendor.strip()):
        out.add("http.vendor", "must be a name")
        vendor = None
    answer = data.get("answer")
    fmt, fields, errors = _answer(answer, out)
    definition = Definition(
        vendor=vendor,
        method=method,
        path=path or Template(parts=("/",)),
        idempotent=idempotent,
        send=send,
        query=_templates(data.get("query"), "http.query", out),
        headers=_templates(data.get("headers"), "http.headers", out),
        json=_templates(data.get("json"), "http.json", out),
        form=_templates(data.get("form"), "http.form", out),
        basic_auth=basic,
        answer_statuses=_statuses(data.get("answer_statuses"), "http.answer_statuses", out),
        throttle_statuses=_statuses(data.get("throttle_statuses"), "http.throttle_statuses", out),
        format=fmt,
        fields=fields,
        errors=errors,
    )
    _request_problems(definition, out)
    if out.items:
        raise ConfigurationError("\n".join(out.items))
    return definition


def _path_problems(path: Template | None, out: _Problems) -> None:
    if path is None:
        return
    if not path.parts[0].startswith("/"):
        out.add("http.path", "must start with '/' (the path below base_url)")
    elif any(_bad_path_char(c) for c in "".join(path.parts[0::2])):
        out.add(
            "http.path",
            "holds '?', '#', a backslash, a space or a control character: put query "
            "parameters in http.query",
        )


def _request_problems(definition: Definition, out: _Problems) -> None:
    """What is wrong with the request as a whole: bodies for the wrong send, headers..."""
    send = definition.send
    if definition.json and send in {"form", "query"}:
        out.add("http.json", f"is a JSON body, but send = {send!r} sends none")
    if definition.form and send in {"json", "query", "none"}:
        out.add("http.form", f"is a form body, but send = {send!r} sends none")
    _header_problems(definition.headers, out)
    if any(not 400 <= s <= 499 for s in definition.throttle_statuses):  # noqa: PLR2004
        # A 5xx or a 2xx is no throttle: retried as one, a load could be sent twice.
        out.add("http.throttle_statuses", "must be 4xx statuses (the vendor refused: 403...)")


def _basic_auth(data: Any, out: _Problems) -> tuple[Template, Template] | None:
    if data is None:
        return None
    if not isinstance(data, Mapping) or set(data) != {"username", "password"}:
        out.add("http.basic_auth", "must be a table of exactly username and password")
        return None
    user = _template(data["username"], "http.basic_auth.username", out)
    password = _template(data["password"], "http.basic_auth.password", out)
    return None if user is None or password is None else (user, password)


def _answer(
    data: Any, out: _Problems
) -> tuple[str, tuple[AnswerField, ...], tuple[BodyError, ...]]:
    if not isinstance(data, Mapping):
        out.add("http.answer", "is required: a table with the answer's fields")
        return "json", (), ()
    _unknown(data, _ANSWER_KEYS, "http.answer", out)
    fmt = _choice(data, "format", _FORMATS, "json", "http.answer", out)
    raw_fields = data.get("fields")
    if not isinstance(raw_fields, Mapping) or not raw_fields:
        out.add("http.answer.fields", "is required: a table of field name to {path, type}")
        raw_fields = {}
    fields = [
        _field(str(n), spec, f"http.answer.fields.{n}", out) for n, spec in raw_fields.items()
    ]
    raw_errors = data.get("errors", [])
    if not isinstance(raw_errors, list):
        out.add("http.answer.errors", "must be a list of tables")
        raw_errors = []
    errors = [_body_error(e, f"http.answer.errors[{i}]", out) for i, e in enumerate(raw_errors)]
    return (
        fmt,
        tuple(f for f in fields if f is not None),
        tuple(e for e in errors if e is not None),
    )


def _path(value: Any, where: str, out: _Problems) -> Path | None:
    if not isinstance(value, str):
        out.add(where, "must be a path such as 'result.code' or 'items[0][\"a.b\"]'")
        return None
    try:
        return parse_path(value)
    except ValueError as exc:
        out.add(where, str(exc))
        return None


def _field(  # noqa: C901, PLR0911 - one refusal per key, in the table's order
    name: str, spec: Any, path: str, out: _Problems
) -> AnswerField | None:
    if not is_word(name) or name.lower() in RESERVED_WORDS or name == STATUS_FIELD:
        out.add(path, f"{name!r} cannot name a field (letters, digits, '_'; not a rule word)")
        return None
    if not isinstance(spec, Mapping):
        out.add(path, "must be a table: {path = '...', type = '...'}")
        return None
    _unknown(spec, _FIELD_KEYS, path, out)
    where = _path(spec.get("path", name), f"{path}.path", out)
    kind = spec.get("type", "string")
    if kind not in _TYPES:
        close = difflib.get_close_matches(str(kind), _TYPES, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        out.add(f"{path}.type", f"must be one of {', '.join(_TYPES)}, not {kind!r}{hint}")
        return None
    flags = {k: spec.get(k, d) for k, d in (("required", False), ("open_values", True))}
    for key, value in flags.items():
        if not isinstance(value, bool):
            out.add(f"{path}.{key}", "must be true or false")
            return None
    values = spec.get("values", [])
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        out.add(f"{path}.values", "must be a list of texts")
        return None
    mapped = spec.get("map")
    if mapped is not None and not isinstance(mapped, Mapping):
        out.add(f"{path}.map", "must be a table of vendor value to value")
        return None
    split = spec.get("split")
    if split is not None and (kind != "list" or not isinstance(split, str) or not split):
        out.add(f"{path}.split", "is a separator text, for a list field only")
        return None
    texts = {k: spec.get(k, "") for k in ("label", "description")}
    if where is None or not all(isinstance(t, str) for t in texts.values()):
        if where is not None:
            out.add(path, "label and description must be texts")
        return None
    return AnswerField(
        name=name,
        path=where,
        type=FieldType(kind),
        values=tuple(values),
        map=None if mapped is None else dict(mapped),
        split=split,
        **flags,
        **texts,
    )


def _body_error(  # noqa: PLR0911 - one refusal per key
    spec: Any, path: str, out: _Problems
) -> BodyError | None:
    if not isinstance(spec, Mapping):
        out.add(path, "must be a table: {path = '...', equals = ...}")
        return None
    _unknown(spec, _ERROR_KEYS, path, out)
    where = _path(spec.get("path"), f"{path}.path", out)
    tests = [k for k in ("equals", "not_equals", "in", "present") if k in spec]
    if len(tests) != 1:
        out.add(path, "needs exactly one of equals, not_equals, in, present")
        return None
    if any(spec.get(k, 0) is None for k in ("equals", "not_equals")):
        out.add(path, "equals / not_equals cannot be null: use present = false (or true)")
        return None
    if "present" in spec and not isinstance(spec["present"], bool):
        out.add(f"{path}.present", "must be true or false")
        return None
    if "in" in spec and (not isinstance(spec["in"], list) or not spec["in"]):
        out.add(f"{path}.in", "must be a list of values")
        return None
    error_class = spec.get("error_class", "invalid_response")
    if error_class not in BODY_ERROR_CLASSES:
        out.add(f"{path}.error_class", f"must be one of {', '.join(BODY_ERROR_CLASSES)}")
        return None
    message = spec.get("message")
    if message is not None:
        message = _path(message, f"{path}.message", out)
    if where is None:
        return None
    return BodyError(
        path=where,
        equals=spec.get("equals"),
        not_equals=spec.get("not_equals"),
        one_of=None if "in" not in spec else tuple(spec["in"]),
        present=spec.get("present"),
        message=message,
        error_class=error_class,
    )


def check_against(
    definition: Definition, mapping: FieldMapping, credentials: set[str]
) -> list[str]:
    """Problems of *definition* with the campaign's mapping and credentials.

    Every placeholder must name a mapping target or a credential that is set; a placeholder
    in the path must name a target the mapping requires (the path cannot leave it out).
    """
    problems: list[str] = []
    targets = set(mapping.targets)
    for name in sorted(definition.placeholders()):
        head, _, tail = name.partition(".")
        if head == "credentials":
            if tail not in credentials:
                problems.append(
                    f"http: {{{name}}} names a credential that is not set "
                    f"(set: {sorted(credentials) or 'none'})"
                )
        elif name not in targets:
            close = difflib.get_close_matches(name, sorted(targets), n=1)
            hint = f"; did you mean {{{close[0]}}}?" if close else f"; targets: {sorted(targets)}"
            problems.append(f"http: {{{name}}} is not a target of the mapping{hint}")
    problems.extend(
        f"http.path: {{{name}}} must be a required target of the mapping "
        "(a path cannot leave a value out)"
        for name in definition.path.names
        if "." not in name and name in targets and not _required(mapping, name)
    )
    return problems


def _required(mapping: FieldMapping, name: str) -> bool:
    source = mapping.targets[name]
    if source.required is not None:
        return source.required
    return name in {"phone", "zip"} or source.constant is not None
