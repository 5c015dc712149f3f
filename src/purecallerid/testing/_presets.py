"""The presets' test vendors, without any I/O: one source of truth for FakeVendor and the simulator.

Each preset carries its test answers (``[fakes]`` in its TOML file, by the line of a 555-01NN
test number). :class:`PresetVendor` reads one request the way that vendor would (the method,
the path below the base URL, where the credentials go, the phone anywhere in the path, the
query or the body) and picks the fake for its line. :class:`purecallerid.testing.FakeVendor`
(in process, through ``httpx.MockTransport``) and :class:`purecallerid.testing.Simulator`
(over real HTTP, at ``/presets/<name>``) both hand requests to it, so they answer alike by
construction.

A fake's texts may say ``{credentials.<name>}``: the vendor puts there the credential the
request carried, as a vendor that echoes a key in an error would (masking is tested with it).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import parse_qsl, unquote

from attrs import field, frozen

from .._integrations.configured.definition import Template, load_definition
from ._testnumbers import CannedAnswer

if TYPE_CHECKING:
    from .._integrations.configured.definition import Definition
    from .._integrations.configured.presets import Preset

__all__ = ["PRESETS_PREFIX", "PresetReading", "PresetVendor", "find_phone", "find_test_number"]

PRESETS_PREFIX: Final = "/presets/"
"""Where the simulator serves the presets: ``{url}/presets/<name>``."""

# A NANP test number (NPA-555-01NN) as 10 digits, 11 (a leading 1) or E.164 (+1...).
_TEST_NUMBER: Final = re.compile(r"(?<![0-9])(?:\+?1)?([2-9][0-9]{2}555(01[0-9]{2}))(?![0-9])")
# Any NANP number, for answers programmed by phone: 10 digits, 11, or E.164.
_NANP: Final = re.compile(r"(?<![0-9])(?:\+?1)?([2-9][0-9]{2}[2-9][0-9]{6})(?![0-9])")
_ECHO: Final = re.compile(r"\{credentials\.([A-Za-z_][A-Za-z0-9_]*)\}")
_CREDENTIAL: Final = "credentials."


def find_test_number(*texts: str) -> tuple[str, str] | None:
    """The first test number in *texts* (percent-decoded): its 10 digits and its line."""
    for text in texts:
        match = _TEST_NUMBER.search(unquote(text))
        if match is not None:
            return match.group(1), match.group(2)
    return None


def find_phone(*texts: str) -> tuple[str | None, str | None]:
    """The phone in *texts* (a test number first, else any NANP number) and its test line."""
    test = find_test_number(*texts)
    if test is not None:
        return test
    for text in texts:
        match = _NANP.search(unquote(text))
        if match is not None:
            return match.group(1), None
    return None, None


def _frozen(value: Mapping[str, Any]) -> Mapping[str, Any]:
    return dict(value)


@frozen(kw_only=True)
class PresetReading:
    """What a preset's vendor made of one request.

    Attributes:
        line: The test-number line found (``"0101"``), or ``None``.
        phone: The phone's 10 digits (a test number's, else any NANP number's), or ``None``.
        credentials: The credentials the request carried, by name (for echoes; never logged).
        refusal: The answer to give instead of a fake (404, 405, 401), or ``None``.
    """

    line: str | None = None
    phone: str | None = None
    credentials: Mapping[str, str] = field(factory=dict, converter=_frozen, repr=False)
    refusal: CannedAnswer | None = None


class _Placement:
    """Where one template holding credentials sits, and how to read them back from a text."""

    def __init__(self, template: Template, *, segment: bool = False) -> None:
        self.segment = segment  # a path: values are percent-encoded, one segment each
        self.names: list[str] = []
        pattern = []
        for i, part in enumerate(template.parts):
            if i % 2 == 0:
                pattern.append(re.escape(part))
            else:
                self.names.append(part)
                pattern.append("([^/]*)" if segment else "(.*?)")
        self.pattern = re.compile("".join(pattern), re.DOTALL)

    def read(self, text: str | None) -> dict[str, str] | None:
        """The placeholders' values in *text*, or ``None`` when it does not fit."""
        if text is None:
            return None
        match = self.pattern.fullmatch(text)
        if match is None:
            return None
        values = [unquote(v) if self.segment else v for v in match.groups()]
        return dict(zip(self.names, values, strict=True))


def _holds_credentials(template: Template) -> bool:
    return any(name.startswith(_CREDENTIAL) for name in template.names)


def _credential_places(templates: Mapping[str, Template]) -> dict[str, _Placement]:
    return {k: _Placement(t) for k, t in templates.items() if _holds_credentials(t)}


class PresetVendor:
    """One preset's vendor: reads requests and answers from the preset's fakes.

    Args:
        preset: The preset whose ``http`` table and ``[fakes]`` it follows.
    """

    def __init__(self, preset: Preset) -> None:
        """Read the preset's table once; see the class docstring."""
        definition: Definition = load_definition(preset.http)
        self.preset = preset
        self.method = definition.method
        self._path = _Placement(definition.path, segment=True)
        self._headers = {k.lower(): p for k, p in _credential_places(definition.headers).items()}
        self._query = _credential_places(definition.query)
        self._json = _credential_places(definition.json)
        self._form = _credential_places(definition.form)
        basic = definition.basic_auth
        self._basic = None if basic is None else (_Placement(basic[0]), _Placement(basic[1]))
        self._fakes = {
            line: _answer_of(spec, f"{preset.name} {line}") for line, spec in preset.fakes.items()
        }

    def read(
        self, method: str, path: str, query: str, headers: Mapping[str, str], body: bytes
    ) -> PresetReading:
        """Read one request.

        Args:
            method: The HTTP method.
            path: The path below the preset's base URL, as sent (percent-encoded).
            query: The query string, as sent, without ``?``.
            headers: The request headers; names in any case.
            body: The request body.
        """
        text = body.decode("utf-8", errors="replace")
        phone, line = find_phone(path, query, text)
        path_values = self._path.read(path)
        if path_values is None:
            return _refused(404, "no such operation", line, phone)
        if method.upper() != self.method:
            return _refused(405, f"use {self.method}", line, phone)
        credentials = self._credentials(path_values, query, headers, text)
        if credentials is None:
            return _refused(401, "missing credentials", line, phone)
        return PresetReading(line=line, phone=phone, credentials=credentials)

    def answer(self, reading: PresetReading) -> CannedAnswer:
        """The answer to *reading*: its refusal, or the fake for its line (else the default)."""
        if reading.refusal is not None:
            return reading.refusal
        fake = self._fakes.get(reading.line or "") or self._fakes.get("default")
        if fake is None:
            return CannedAnswer.json({}, description=f"{self.preset.name} default")
        if not fake.echo:
            return fake.answer
        return _echoed(fake.answer, reading.credentials)

    def _credentials(
        self, path_values: dict[str, str], query: str, headers: Mapping[str, str], text: str
    ) -> dict[str, str] | None:
        """Every credential the request carries where the preset puts it; ``None`` if any lacks."""
        lower = {k.lower(): v for k, v in headers.items()}
        params = dict(parse_qsl(query, keep_blank_values=True))
        found: list[dict[str, str] | None] = [path_values]
        found += [place.read(lower.get(name)) for name, place in self._headers.items()]
        found += [place.read(params.get(name)) for name, place in self._query.items()]
        if self._form:
            form = dict(parse_qsl(text, keep_blank_values=True))
            found += [place.read(form.get(name)) for name, place in self._form.items()]
        if self._json:
            data = _json_object(text)
            found += [place.read(_as_text(data.get(name))) for name, place in self._json.items()]
        if self._basic is not None:
            found += _basic_values(lower.get("authorization"), self._basic)
        credentials: dict[str, str] = {}
        for values in found:
            if values is None:
                return None
            for name, value in values.items():
                if name.startswith(_CREDENTIAL):
                    if not value:
                        return None
                    credentials[name.removeprefix(_CREDENTIAL)] = value
        return credentials


def _refused(status: int, error: str, line: str | None, phone: str | None) -> PresetReading:
    refusal = CannedAnswer.status(status, body={"error": error})
    return PresetReading(line=line, phone=phone, refusal=refusal)


def _json_object(text: str) -> Mapping[str, Any]:
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        return {}
    return data if isinstance(data, dict) else {}


def _as_text(value: Any) -> str | None:
    if value is None or isinstance(value, dict | list):
        return None
    return value if isinstance(value, str) else json.dumps(value)


def _basic_values(
    header: str | None, places: tuple[_Placement, _Placement]
) -> list[dict[str, str] | None]:
    scheme, _, encoded = (header or "").partition(" ")
    if scheme.lower() != "basic":
        return [None]
    try:
        pair = base64.b64decode(encoded, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return [None]
    user, colon, password = pair.partition(":")
    if not colon:
        return [None]
    return [places[0].read(user), places[1].read(password)]


@frozen
class _Fake:
    answer: CannedAnswer
    echo: bool


def _answer_of(spec: Mapping[str, Any], description: str) -> _Fake:
    """A ``[fakes.<line>]`` table: ``status``, ``headers``, and ``json`` or ``body``."""
    status = int(spec.get("status", 200))
    headers = {str(k): str(v) for k, v in dict(spec.get("headers", {})).items()}
    if "json" in spec:
        body = json.dumps(spec["json"]).encode()
        headers = {"Content-Type": "application/json", **headers}
    else:
        body = str(spec.get("body", "")).encode()
        if not any(k.lower() == "content-type" for k in headers):
            headers["Content-Type"] = "text/plain"
    answer = CannedAnswer(status_code=status, headers=headers, body=body, description=description)
    return _Fake(answer=answer, echo=_ECHO.search(body.decode()) is not None)


def _echoed(answer: CannedAnswer, credentials: Mapping[str, str]) -> CannedAnswer:
    """*answer* with each ``{credentials.<name>}`` replaced by what the request carried."""
    text = answer.body.decode()
    json_body = answer.headers.get("Content-Type") == "application/json"

    def put(match: re.Match[str]) -> str:
        value = credentials.get(match.group(1), "")
        # Inside a JSON string the value must stay JSON: escape it as JSON would.
        return json.dumps(value)[1:-1] if json_body else value

    return CannedAnswer(
        status_code=answer.status_code,
        headers=answer.headers,
        body=_ECHO.sub(put, text).encode(),
        description=answer.description,
    )
