"""Acceptance of ``kind = "http"``: a vendor the library has never seen, from TOML alone.

A loopback server stands for the vendor (POST JSON, key in a header, answers
``{"litigator": true|false}``); it runs in parallel with PureCallerID (the simulator) through
``purecallerid screen``, and each failure is recorded with the same error class and
``outcome_unknown`` as PureCallerID's for the same failure.
"""

from __future__ import annotations

import asyncio
import csv
import json
import logging
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from purecallerid import (
    AsyncScreener,
    ConfigurationError,
    InMemoryResultStore,
    InMemorySettings,
    Lead,
    ScreeningRecord,
    SettingsError,
    SQLiteResultStore,
    WireRequest,
    http_integrations,
    load_settings,
)
from purecallerid.cli import main
from purecallerid.testing import Simulator

TOKEN = "pcid-token-0123456789"
KEY = "litigator-key-9876543210"
LINES = ("0103", "0104", "0190", "0191", "0192", "0193", "0195")


class _Vendor(BaseHTTPRequestHandler):
    """The litigator list: behaviour by the test number's line, as the simulator's table."""

    calls: list[str] = []  # noqa: RUF012 - one server per test, reset by the fixture

    def log_message(self, *_: Any) -> None:
        """Quiet: the test output must stay clean."""

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        phone = str(body.get("phone", ""))
        self.calls.append(phone)
        if self.headers.get("X-Api-Key") != KEY:
            return self._answer(401, b'{"error": "bad key"}')
        line = phone[-4:]
        if line == "0193":
            time.sleep(2.5)  # past the 2 s timeout: a read timeout
            return self._answer(200, b'{"litigator": false}')
        answers: dict[str, tuple[int, bytes, dict[str, str]]] = {
            "0103": (200, b'{"litigator": true}', {}),
            "0190": (500, b'{"error": "down"}', {}),
            "0191": (429, b'{"error": "slow down"}', {"Retry-After": "1"}),
            "0192": (200, b"<html>not an answer</html>", {}),
            "0195": (401, b'{"error": "bad key"}', {}),
        }
        status, payload, headers = answers.get(line, (200, b'{"litigator": false}', {}))
        return self._answer(status, payload, headers)

    def _answer(self, status: int, payload: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)


class _Server(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        """The client gave up on the slow answer (its read timeout): nothing to report."""


@pytest.fixture
def vendor() -> Iterator[str]:
    _Vendor.calls = []
    server = _Server(("127.0.0.1", 0), _Vendor)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _closed_port() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


def _settings(folder: Path, pcid_url: str, litigator_url: str) -> Path:
    path = folder / "settings.toml"
    path.write_text(
        f"""
[[campaigns.c.integrations]]
id = "pcid"
kind = "purecallerid"
base_url = "{pcid_url}"
timeout = 2
credentials = {{ api_token = "{TOKEN}", campaign_id = "C1", list_name = "Main" }}
rules = 'reject when status = "Rejected" and reason = "TCPA_FLAG" because "TCPA"'

[[campaigns.c.integrations]]
id = "litigator"
kind = "http"
base_url = "{litigator_url}"
timeout = 2
skip_remaining_on_reject = false
credentials = {{ api_key = "{KEY}" }}
rules = 'reject when litigator is true because "Known litigator"'

[campaigns.c.integrations.http]
vendor = "Litigator list"
method = "POST"
path = "/v1/check"
headers = {{ X-Api-Key = "{{credentials.api_key}}" }}

[campaigns.c.integrations.http.answer.fields.litigator]
type = "boolean"
required = true
"""
    )
    return path


def _screen(folder: Path, lines: tuple[str, ...]) -> dict[str, ScreeningRecord]:
    leads = folder / "leads.csv"
    with leads.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["lead_id", "phone", "zip"])
        writer.writerows([line, f"212-555-{line}", "10001"] for line in lines)
    db = folder / "records.db"
    argv = ["screen", str(leads), "--settings", str(folder / "settings.toml")]
    argv += ["--campaign", "c", "--out", str(folder / "out.csv"), "--db", str(db)]
    assert main([*argv, "--no-progress"]) == 0

    async def load() -> dict[str, ScreeningRecord]:
        store = SQLiteResultStore(db)
        try:
            found = {line: await store.load("c", line) for line in lines}
        finally:
            store.close()
        return {line: record for line, record in found.items() if record is not None}

    return asyncio.run(load())


def test_a_vendor_from_toml_records_failures_as_purecallerid_does(
    tmp_path: Path, vendor: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with Simulator(api_token=TOKEN, hang_seconds=2.5) as sim:
        _settings(tmp_path, sim.url, vendor)
        records = _screen(tmp_path, LINES)
        throttled = int(sim.stats()["by_line"]["0191"])
    assert set(records) == set(LINES)
    expected = {
        "0103": (None, None),
        "0104": (None, None),
        "0190": ("server_error", True),
        "0191": ("rate_limited", False),
        "0192": ("invalid_response", True),
        "0193": ("timeout", True),
        "0195": ("auth_failed", False),
    }
    for line, (error_class, unknown) in expected.items():
        pcid, litigator = records[line].integration("pcid"), records[line].integration("litigator")
        seen = (litigator.error_class, litigator.outcome_unknown)
        assert seen == (pcid.error_class, pcid.outcome_unknown), line
        if error_class is not None:
            assert seen == (error_class, unknown), line
    assert records["0103"].decision.value == "reject"
    assert records["0103"].reasons == ("TCPA", "Known litigator")
    assert records["0104"].decision.value == "accept"
    # A load (POST) is never sent twice unless it provably never left; the throttled one is
    # retried after Retry-After while the 2 s timeout leaves time, as PureCallerID's is.
    for line in LINES:
        sent = throttled if line == "0191" else 1
        assert _Vendor.calls.count(f"+1212555{line}") == sent, line
    output = capsys.readouterr()
    assert KEY not in output.out + output.err
    assert KEY not in (tmp_path / "out.csv").read_text()
    for record in records.values():
        assert KEY not in json.dumps(record.to_public_dict())


def test_connection_refused_is_recorded_alike(tmp_path: Path) -> None:
    _settings(tmp_path, _closed_port(), _closed_port())
    records = _screen(tmp_path, ("0104",))
    pcid, litigator = records["0104"].integration("pcid"), records["0104"].integration("litigator")
    assert (litigator.error_class, litigator.outcome_unknown) == ("connection", False)
    assert (pcid.error_class, pcid.outcome_unknown) == ("connection", False)


def _load(http: dict[str, Any], **extra: Any) -> None:
    item = {"kind": "http", "base_url": "https://v.example", "http": http, **extra}
    load_settings({"campaigns": {"c": {"integrations": [item]}}}, kinds=http_integrations())


def test_every_problem_of_a_definition_at_load_with_its_path() -> None:
    http = {
        "method": "FETCH",
        "path": "v1/{phon}",
        "headers": {"X-Key": "{credentials.key}"},
        "answer": {"fields": {"hit": {"path": "a..b", "type": "bool"}, "and": {}}},
    }
    with pytest.raises(SettingsError) as caught:
        _load(http, rules="reject when hit is true")
    found = {p.path: p.message for p in caught.value.problems}
    base = "campaigns.c.integrations[0].http"
    assert "must be one of GET, POST, PUT, PATCH" in found[f"{base}.method"]
    assert "must start with '/'" in found[f"{base}.path"]
    assert "empty step" in found[f"{base}.answer.fields.hit.path"]
    assert "did you mean 'boolean'" in found[f"{base}.answer.fields.hit.type"]
    assert "cannot name a field" in found[f"{base}.answer.fields.and"]


def test_placeholders_are_checked_against_mapping_and_credentials() -> None:
    http = {
        "path": "/v1/{phon}",
        "headers": {"X-Key": "{credentials.key}"},
        "answer": {"fields": {"hit": {"type": "boolean"}}},
    }
    with pytest.raises(SettingsError) as caught:
        _load(http)
    messages = [str(p) for p in caught.value.problems]
    assert any(
        "{phon} is not a target of the mapping; did you mean {phone}?" in m for m in messages
    )
    assert any("{credentials.key} names a credential that is not set" in m for m in messages)


def test_rules_read_the_declared_fields() -> None:
    http = {"answer": {"fields": {"hit": {"type": "boolean"}}}}
    with pytest.raises(SettingsError) as caught:
        _load(http, credentials={"api_key": KEY}, rules="reject when hits is true")
    assert 'unknown field "hits"; did you mean "hit"?' in str(caught.value)
    _load(http, rules="reject when hit is true or http_status = 404")


def test_a_non_http_kind_refuses_an_http_table() -> None:
    from purecallerid import PureCallerIDIntegration  # noqa: PLC0415

    item = {
        "kind": "purecallerid",
        "base_url": "https://p.example",
        "credentials": {"api_token": TOKEN, "campaign_id": "C", "list_name": "L"},
        "http": {"path": "/x"},
    }
    with pytest.raises(SettingsError, match=r"integrations\[0\]\.http: kind 'purecallerid'"):
        load_settings(
            {"campaigns": {"c": {"integrations": [item]}}}, kinds=[PureCallerIDIntegration()]
        )


def _run(kinds: list[Any], item: dict[str, Any], fields: dict[str, Any]) -> ScreeningRecord:
    """Load one campaign of *item*, screen one lead of *fields* through it."""
    campaigns = load_settings({"campaigns": {"c": {"integrations": [item]}}}, kinds=kinds)

    async def go() -> ScreeningRecord:
        async with AsyncScreener(
            settings=InMemorySettings(campaigns.values()),
            store=InMemoryResultStore(),
            integrations=kinds,
        ) as screener:
            return await screener.screen(Lead(lead_id="1", campaign_id="c", fields=fields))

    return asyncio.run(go())


def _screen_with(
    handler: Any, http: dict[str, Any], phone: str = "2125550104", **extra: Any
) -> ScreeningRecord:
    kinds = http_integrations(transport=httpx.MockTransport(handler))
    item = {"id": "v", "kind": "http", "base_url": "https://v.example", "http": http, **extra}
    return _run(kinds, item, {"phone": phone})


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"hit": "true"}, True),
        ({"hit": "N"}, False),
        ({"hit": 1}, True),
        ({"hit": "maybe"}, "invalid_response"),
        ({"hit": {"nested": 1}}, "invalid_response"),
        ({}, "invalid_response"),
    ],
)
def test_booleans_are_read_strictly(body: dict[str, Any], expected: object) -> None:
    http = {"answer": {"fields": {"hit": {"type": "boolean", "required": True}}}}
    record = _screen_with(lambda _: httpx.Response(200, json=body), http)
    result = record.integration("v")
    if isinstance(expected, bool):
        assert result.answer is not None
        assert result.answer["hit"] is expected
    else:
        assert result.error_class == expected


def test_query_path_form_and_basic_auth_are_masked_in_the_record() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        echo = {"ok": True, "said": f"key {KEY}", "user": "acct-0123456789"}
        return httpx.Response(200, json=echo)

    http = {
        "method": "POST",
        "send": "form",
        "path": "/v1/{credentials.api_key}/{phone}",
        "query": {"key": "{credentials.api_key}", "v": 3},
        "form": {"secret": "{credentials.api_key}"},
        "basic_auth": {"username": "{credentials.account}", "password": "{credentials.api_key}"},
        "answer": {"fields": {"ok": {"type": "boolean"}, "said": {}}},
    }
    credentials = {"api_key": KEY, "account": "acct-0123456789"}
    record = _screen_with(handler, http, credentials=credentials)
    request = seen[0]
    assert KEY in str(request.url)
    assert request.url.raw_path.startswith(f"/v1/{KEY}/%2B12125550104".encode())
    assert b"secret=" in request.content
    assert request.headers["Authorization"].startswith("Basic ")
    text = json.dumps(record.to_public_dict())
    assert KEY not in text
    assert "acct-0123456789" not in text
    result = record.integration("v")
    assert result.request is not None
    assert result.request.headers["Authorization"] == "***"
    assert result.answer is not None
    assert result.answer["said"] == "key ***"


def test_xml_answers_and_body_errors() -> None:
    http = {
        "method": "GET",
        "query": {"output": "xml"},
        "answer": {
            "format": "xml",
            "fields": {"code": {"path": "Result.Code"}, "ids": {"path": "Id", "type": "list"}},
            "errors": [{"path": "Status", "not_equals": "OK", "message": "Message"}],
        },
    }
    good = (
        b"<Response><Status>OK</Status><Result><Code>C</Code></Result>"
        b"<Id>1</Id><Id>2</Id></Response>"
    )
    record = _screen_with(lambda _: httpx.Response(200, content=good), http)
    assert record.integration("v").answer == {"code": "C", "ids": ["1", "2"], "http_status": 200}
    bad = f"<Response><Status>ERR</Status><Message>bad token {KEY}</Message></Response>"
    record = _screen_with(
        lambda _: httpx.Response(200, content=bad.encode()), http, credentials={"api_key": KEY}
    )
    result = record.integration("v")
    assert result.error_class == "invalid_response"
    assert result.error_message is not None
    assert "bad token ***" in result.error_message
    bomb = b'<!DOCTYPE x [<!ENTITY a "aaaa">]><Response><Status>&a;</Status></Response>'
    record = _screen_with(lambda _: httpx.Response(200, content=bomb), http)
    assert record.integration("v").error_class == "invalid_response"


def test_answer_statuses_read_a_404_as_an_answer() -> None:
    http = {
        "method": "GET",
        "answer_statuses": [404],
        "answer": {"fields": {"found": {"type": "boolean"}}},
    }
    record = _screen_with(
        lambda _: httpx.Response(404, json={"error": "not found"}),
        http,
        rules='flag when http_status = 404 because "unknown number"',
    )
    assert record.decision.value == "flag"
    assert record.integration("v").answer == {"found": None, "http_status": 404}


def test_a_path_cannot_leave_the_host() -> None:
    for path in ("m/v1", "@evil.test/x", "/a?b=1", "/a#b"):
        with pytest.raises(ConfigurationError):
            WireRequest(method="GET", path=path)


def test_a_lead_value_that_cannot_be_sent_is_a_recorded_failure(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    http = {
        "headers": {"X-Name": "{first_name} {credentials.api_key}"},
        "answer": {"fields": {"hit": {"type": "boolean"}}},
    }
    mapping = {
        "targets": {"phone": {"source": "phone", "transform": "phone"}, "first_name": "first"}
    }
    kinds = http_integrations(transport=httpx.MockTransport(lambda _: httpx.Response(200)))
    item = {
        "id": "v",
        "kind": "http",
        "base_url": "https://v.example",
        "http": http,
        "mapping": mapping,
        "credentials": {"api_key": KEY},
    }
    record = _run(kinds, item, {"phone": "2125550104", "first": "José"})
    result = record.integration("v")
    assert result.error_class == "connection"
    assert result.outcome_unknown is False
    assert KEY not in json.dumps(record.to_public_dict())
    assert KEY not in caplog.text


def test_a_phone_in_the_url_is_masked_in_the_http_layers_log(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    http = {"method": "GET", "answer": {"fields": {"hit": {"type": "boolean"}}}}
    record = _screen_with(
        lambda _: httpx.Response(200, json={"hit": False}),
        http,
        credentials={"api_key": KEY},
        mapping={"targets": {"phone": {"source": "phone", "transform": "phone"}}},
    )
    assert record.decision.value == "accept"
    request_lines = [r for r in caplog.records if r.name == "httpx"]
    assert request_lines, "httpx logs each request at INFO"
    assert "2125550104" not in caplog.text
    assert "***0104" in caplog.text


# -- found by attacking it -------------------------------------------------------------------


def test_many_repeated_xml_tags_are_read_in_linear_time() -> None:
    # Quadratic, this took about 90 s (the deadline cannot cut CPU work on the loop).
    body = "<r>" + "<a>1</a>" * 50_000 + "<a>last</a></r>"
    http = {"answer": {"format": "xml", "fields": {"a": {"path": "a[-1]"}}}}
    record = _screen_with(lambda _: httpx.Response(200, content=body.encode()), http)
    assert record.integration("v").answer == {"a": "last", "http_status": 200}


def test_a_line_break_from_the_lead_in_a_header_is_never_sent() -> None:
    http = {
        "headers": {"X-Name": "{first_name}"},
        "answer": {"fields": {"hit": {"type": "boolean"}}},
    }
    phone = {"source": "phone", "transform": "phone"}
    mapping = {"targets": {"phone": phone, "first_name": "first"}}
    with Simulator() as sim:
        kinds = http_integrations()
        item = {"id": "v", "kind": "http", "base_url": sim.url, "http": http, "mapping": mapping}
        record = _run(kinds, item, {"phone": "2125550104", "first": "bob\r\nX-Injected: yes"})
        assert sim.stats()["total_requests"] == 0
    result = record.integration("v")
    assert (result.error_class, result.outcome_unknown) == ("connection", False)


def test_dot_segments_from_the_lead_stay_in_their_segment() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"hit": False})

    http = {
        "method": "GET",
        "path": "/v1/accounts/{account}/lookup",
        "answer": {"fields": {"hit": {"type": "boolean"}}},
    }
    phone = {"source": "phone", "transform": "phone"}
    mapping = {"targets": {"phone": phone, "account": {"source": "account", "required": True}}}
    kinds = http_integrations(transport=httpx.MockTransport(handler))
    item = {"id": "v", "kind": "http", "base_url": "https://v.example", "http": http}
    item["mapping"] = mapping
    _run(kinds, item, {"phone": "2125550104", "account": ".."})
    assert seen[0].url.raw_path.startswith(b"/v1/accounts/%2E%2E/lookup")


@pytest.mark.parametrize(
    ("http", "where", "words"),
    [
        ({"throttle_statuses": [500]}, "http.throttle_statuses", "4xx"),
        ({"headers": {"Host": "x"}}, "http.headers.Host", "HTTP stack"),
        ({"headers": {"X Bad": "x"}}, "http.headers.X Bad", "header name"),
        ({"path": "/a?b=1"}, "http.path", "query"),
        ({"json": {"x": float("nan")}}, "http.json.x", "finite"),
        ({"send": "query", "json": {"x": 1}}, "http.json", "sends none"),
        ({"answer": {"fields": {"a": {}}, "errors": [{"path": "e", "equals": None}]}}, "", "null"),
    ],
)
def test_request_definitions_that_would_misbehave_are_refused(
    http: dict[str, Any], where: str, words: str
) -> None:
    table = {"answer": {"fields": {"a": {}}}, **http}
    with pytest.raises(SettingsError) as caught:
        _load(table)
    assert any(where in str(p) and words in p.message for p in caught.value.problems), caught.value


def test_no_environment_variable_in_an_http_table() -> None:
    table = {"headers": {"X-Key": "${KEY}"}, "answer": {"fields": {"a": {}}}}
    item = {"kind": "http", "base_url": "https://v.example", "http": table}
    with pytest.raises(SettingsError, match=r"http\.headers\.X-Key: no \$\{VAR\}"):
        load_settings(
            {"campaigns": {"c": {"integrations": [item]}}},
            kinds=http_integrations(),
            environ={"KEY": KEY},
        )


def test_a_disabled_integration_has_its_table_checked() -> None:
    table = {"answer": {"fields": {"a": {"type": "bool"}}}}
    with pytest.raises(SettingsError, match=r"fields\.a\.type"):
        _load(table, enabled=False)


def test_documents_that_are_not_settings_are_refused_not_crashed() -> None:
    deep: list[Any] = []
    inner = deep
    for _ in range(3000):
        inner.append([])
        inner = inner[0]
    with pytest.raises(SettingsError, match="nests too deep"):
        _load({"answer": {"fields": {"a": {}}}}, options={"x": deep})
    with pytest.raises(SettingsError, match="keys must be text"):
        _load({"headers": {None: "x"}, "answer": {"fields": {"a": {}}}})


def test_an_answer_status_reads_any_body_as_the_answer() -> None:
    http = {"answer_statuses": [404], "answer": {"fields": {"hit": {"type": "boolean"}}}}
    page = b"<html>Not Found</html>"
    record = _screen_with(lambda _: httpx.Response(404, content=page), http)
    assert record.integration("v").answer == {"hit": None, "http_status": 404}


def test_a_secret_split_by_a_list_separator_is_masked_first() -> None:
    key = "tok,en-SECRET-abcdefgh"
    http = {"answer": {"fields": {"tags": {"type": "list", "split": ","}}}}

    def handler(_: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"tags": f"a,{key}"})

    record = _screen_with(handler, http, credentials={"api_key": key})
    assert "SECRET" not in repr(record)
    assert "SECRET" not in json.dumps(record.to_public_dict())


@pytest.mark.parametrize("name", ["trestle", "twilio", "ipqs", "blacklist_alliance"])
@pytest.mark.parametrize("body", [b"{}", b"[]", b"null", b'"maintenance"'])
def test_a_preset_never_accepts_an_answer_without_a_verdict(name: str, body: bytes) -> None:
    from purecallerid import preset_named  # noqa: PLC0415

    preset = preset_named(name)
    kinds = http_integrations(
        transport=httpx.MockTransport(lambda _: httpx.Response(200, content=body))
    )
    secrets = {"api_key": KEY, "account_sid": "AC" + "0" * 32, "auth_token": KEY}
    used = {n: v for n, v in secrets.items() if "{credentials." + n in json.dumps(preset.http)}
    item = {"id": "v", "kind": name, "credentials": used}
    assert _run(kinds, item, {"phone": "2125550104"}).decision.value != "accept"
