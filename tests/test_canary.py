"""A canary token through every path: no form of it anywhere a host could look.

Both clients, both dialects, every test number, and a vendor echoing the token back in every
encoding it could (plain, JSON-escaped, ``\\u``-escaped, percent-encoded in either case, form
encoded, base64 and base64url, UTF-16), in the body, in headers, in the status line; over
mock transports and over real loopback sockets (aiohttp and httpcore underneath). Checked:
every log line at DEBUG of every logger, ``repr``/``str`` of what is returned or raised and of
its whole ``__cause__``/``__context__`` chain, records, and terminal output.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import copy
import json
import logging
import pickle
import re
import socket
import threading
import time
import tracemalloc
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from purecallerid import (
    APIError,
    AsyncPureCallerIDClient,
    PureCallerIDClient,
    RetryPolicy,
    ScreeningRequest,
    ScreeningResponse,
    converter,
)
from purecallerid._secrets import redact_text, redact_values, secret_forms
from purecallerid.cli import main
from purecallerid.testing import TEST_NUMBERS, FakePureCallerID
from purecallerid.testing._fake import _AsSent as _Streamed

CANARY = "cAnArY/t0k+en=x7Q"
# Quotes and a backslash: Python's repr (in the HTTP layers' log lines and messages) escapes them.
QUOTED = "cAn'ArY\"/t0k\\en=x7Q"
TOKENS = [pytest.param(CANARY, id="plain-token"), pytest.param(QUOTED, id="quoted-token")]


def encodings(token: str) -> dict[str, str]:
    """The token as a vendor could echo it."""
    return {
        "plain": token,
        "json_slash": token.replace("/", "\\/"),
        "u_lower": "".join(f"\\u{ord(c):04x}" for c in token),
        "u_upper": "".join(f"\\u{ord(c):04X}" for c in token),
        "u_mixed": "".join(f"\\u{ord(c):04x}" if n % 2 else c for n, c in enumerate(token)),
        "pct_upper": quote(token, safe=""),
        "pct_lower": re.sub("%[0-9A-F]{2}", lambda m: m[0].lower(), quote(token, safe="")),
        "form": quote_plus(token, safe=""),
        "b64": base64.b64encode(token.encode()).decode(),
        "b64url": base64.urlsafe_b64encode(token.encode()).decode().rstrip("="),
        "b64_in_basic": base64.b64encode(f"user:{token}".encode()).decode(),
        "repr_str": repr(token)[1:-1],
        "repr_bytes": repr(token.encode())[2:-1],
        "repr_twice": repr(repr(token.encode())[2:-1])[1:-1],
        # The request body quoted inside a JSON string (JSON-escaped twice), and base64-encoded
        # as a gateway echoes it (the token as JSON wrote it).
        "json_twice": json.dumps(json.dumps({"apiToken": token}))[1:-1],
        "b64_json_body": base64.b64encode(json.dumps({"apiToken": token}).encode()).decode(),
        # .NET's default encoder: quotes and HTML characters as \u00XX, a backslash as \\.
        "dotnet": _dotnet(token),
        # The last two, in a body a gateway echoes base64-encoded.
        "b64_json_twice": _b64(json.dumps(json.dumps({"apiToken": token}))),
        "b64_dotnet_body": _b64('{"apiToken":"' + _dotnet(token) + '"}'),
        # A form or a query string a gateway echoes base64-encoded.
        "b64_form": _b64(f"phone=%2B12125550199&key={quote_plus(token, safe='')}"),
        "b64_query": _b64(f"/v1/check?key={quote(token, safe='')}&x=1"),
        # A .NET service quoting the JSON body it received, and that in base64.
        "dotnet_of_json": _dotnet(json.dumps({"apiToken": token})),
        "b64_dotnet_of_json": _b64(_dotnet(json.dumps({"apiToken": token}))),
    }


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _dotnet(text: str) -> str:
    return "".join(_DOTNET.get(c, c) for c in text)


_DOTNET = {c: f"\\u{ord(c):04X}" for c in "'\"<>&+`"} | {"\\": "\\\\"}


def leaked(text: str, token: str = CANARY) -> list[str]:
    """Which forms of *token* occur in *text* (its decoded forms included).

    Also looked for once NULs (and their ``repr``, ``\\x00``) and replacement characters are
    dropped: a UTF-16 text read as UTF-8 holds the token with a NUL between its characters.
    """
    text += "\n" + text.replace("\x00", "").replace("\\x00", "").replace("\ufffd", "")
    found = [name for name, form in encodings(token).items() if form in text and len(form) >= 6]
    found.extend(form for form in secret_forms(token) if form in text)
    return found


def chain_text(error: BaseException | None) -> str:
    """repr, str and attributes of an exception and of everything it chains to."""
    parts: list[str] = []
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        parts += [repr(error), str(error), repr(vars(error)) if hasattr(error, "__dict__") else ""]
        parts += [repr(getattr(error, "request", None)), repr(getattr(error, "response", None))]
        parts.append(chain_text(error.__context__) if error.__context__ is not error else "")
        error = error.__cause__
    return "\n".join(parts)


def shown(outcome: ScreeningResponse | APIError) -> str:
    if isinstance(outcome, APIError):
        return chain_text(outcome) + json.dumps(converter.unstructure(outcome.exchange))
    parts = [repr(outcome), str(outcome), outcome.raw, json.dumps(converter.unstructure(outcome))]
    return "\n".join([*parts, repr(outcome.exchange)])


@contextlib.contextmanager
def every_log_line() -> Iterator[list[str]]:
    """Every record of every logger at DEBUG, formatted."""
    lines: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(self.format(record))

    handler = Collect(logging.DEBUG)
    root = logging.getLogger()
    before = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield lines
    finally:
        root.removeHandler(handler)
        root.setLevel(before)


Handler = Callable[[httpx.Request], httpx.Response]


def _answer(status: int, **response: Any) -> Handler:
    def handle(_: httpx.Request) -> httpx.Response:
        if "content" in response:
            streamed = {**response, "stream": _Streamed(response["content"])}
            del streamed["content"]
            return httpx.Response(status, **streamed)
        return httpx.Response(status, **response)

    return handle


def echo_answers(token: str) -> list[Handler]:
    """Answers that echo *token* every way, as mock-transport handlers."""
    answers: list[Handler] = []
    for name, form in encodings(token).items():
        body = '{"status": "Accepted", "echo": "' + form + '", "note": "' + name + '"}'
        answers += [
            _answer(200, text=body),
            _answer(200, text=f"not json {form}"),
            _answer(500, text=f"failed for {form}"),
            _answer(
                200, json={"status": "Accepted"}, headers={"X-Request-Id": form, "X-Echo": form}
            ),
            _answer(
                429,
                json={"error": form},
                headers={"Retry-After": form},
                extensions={"reason_phrase": form.encode("latin-1", "replace")},
            ),
        ]
    answers.append(
        _answer(200, content=json.dumps({"status": "Accepted", "echo": token}).encode("utf-16"))
    )
    answers.append(_answer(200, content=json.dumps({"status": token}).encode("utf-32")))
    return answers


def _screen_with(handler: Handler, mode: str, dialect: str, token: str = CANARY) -> Any:
    request = ScreeningRequest(phone="2125550100", campaign_id="C", list_name="L",
                               dialer_list_id="9")  # fmt: skip
    options: dict[str, Any] = {
        "base_url": "https://vendor.test",
        "api_token": token,
        "dialect": dialect,
        "retry_policy": RetryPolicy(max_attempts=1),
    }
    try:
        if mode == "sync":
            with PureCallerIDClient(transport=httpx.MockTransport(handler), **options) as client:
                return client.screen(request)

        async def go() -> ScreeningResponse:
            transport = httpx.MockTransport(handler)
            async with AsyncPureCallerIDClient(transport=transport, **options) as client:
                return await client.screen(request)

        return asyncio.run(go())
    except APIError as error:
        return error


@pytest.mark.parametrize("token", TOKENS)
@pytest.mark.parametrize("dialect", ["leadexec", "public"])
@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_vendor_echoing_the_token_every_way_never_shows_it(
    mode: str, dialect: str, token: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every echo form, in bodies, headers and status lines: the token shows nowhere."""
    with every_log_line() as lines:
        outcomes = [_screen_with(answer, mode, dialect, token) for answer in echo_answers(token)]
    everything = "\n".join(shown(o) for o in outcomes) + "\n".join(lines)
    captured = capsys.readouterr()
    everything += captured.out + captured.err
    assert leaked(everything, token) == []


@pytest.mark.parametrize("dialect", ["leadexec", "public"])
@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("line", [*sorted(TEST_NUMBERS), "0000"])
def test_every_test_number_keeps_the_canary(mode: str, dialect: str, line: str) -> None:
    """Each answer of the test number table (faults included): no form of the token shows."""
    fake = FakePureCallerID(api_token=CANARY)
    request = ScreeningRequest(phone=f"212555{line}", campaign_id="C", list_name="L",
                               dialer_list_id="9")  # fmt: skip
    with every_log_line() as lines:
        try:
            if mode == "sync":
                with fake.client(api_token=CANARY, dialect=dialect, timeout=0.2) as client:
                    outcome: Any = client.screen(request)
            else:

                async def go() -> ScreeningResponse:
                    client = fake.async_client(api_token=CANARY, dialect=dialect, timeout=0.2)
                    async with client:
                        return await client.screen(request)

                outcome = asyncio.run(go())
        except APIError as error:
            outcome = error
    assert leaked(shown(outcome) + "\n".join(lines)) == []


class EchoServer:
    """A loopback HTTP server that answers with the request's token echoed, as told."""

    def __init__(self) -> None:
        self.mode = "header"
        self.token = CANARY
        self.gzip = b""
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(32)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(20)
                with contextlib.suppress(OSError):
                    self._answer(conn)

    def _answer(self, conn: socket.socket) -> None:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(65536)
            if not chunk:
                return
            data += chunk
        head, _, body_so_far = data.partition(b"\r\n\r\n")
        length = re.search(rb"(?i)content-length:\s*(\d+)", head)
        missing = (int(length[1]) if length else 0) - len(body_so_far)
        while missing > 0:  # read the whole request: closing on unread bytes resets
            chunk = conn.recv(65536)
            if not chunk:
                return
            missing -= len(chunk)
        token = self.token.encode()
        body = json.dumps({"status": "Accepted", "echo": self.token}).encode()
        answers = {
            "header": b"HTTP/1.1 200 OK\r\nX-Echo: " + token + b"\r\n",
            "status_line": b"HTTP/1.1 200 " + token + b"\r\n",
            "bad_status": b"HTTP/1.1 2OO " + token + b"\r\n",
            "huge_header": b"HTTP/1.1 200 OK\r\nX-Big: " + token * 700 + b"\r\n",
            "many_headers": b"HTTP/1.1 200 OK\r\n"
            + b"".join(b"X-H%d: v\r\n" % n for n in range(200)),
            "utf16": b"HTTP/1.1 200 OK\r\n",
        }
        if self.mode == "utf16":
            body = json.dumps({"status": "Accepted", "echo": self.token}).encode("utf-16")
        if self.mode == "utf16_nobom":
            # No byte order mark and a non-ASCII first character: JSON's rules guess UTF-8.
            answers["utf16_nobom"] = (
                b"HTTP/1.1 500 Oops\r\nContent-Type: text/plain; charset=utf-16\r\n"
            )
            body = f"\u4e2d error for token {self.token}".encode("utf-16-le")
        if self.mode == "gzip":
            answers["gzip"] = b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\n"
            body = self.gzip
        head = answers[self.mode] + b"Content-Length: " + str(len(body)).encode()
        conn.sendall(head + b"\r\nConnection: close\r\n\r\n" + body)

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def echo_server() -> Iterator[EchoServer]:
    server = EchoServer()
    yield server
    server.close()


@pytest.mark.parametrize("token", TOKENS)
@pytest.mark.parametrize("dialect", ["leadexec", "public"])
@pytest.mark.parametrize("mode", ["sync", "async"])
def test_real_http_layers_never_show_the_token(
    echo_server: EchoServer,
    mode: str,
    dialect: str,
    token: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Over real sockets (httpcore, aiohttp): malformed and echoing answers leak nothing."""
    request = ScreeningRequest(phone="2125550100", campaign_id="C", list_name="L",
                               dialer_list_id="9")  # fmt: skip
    options: dict[str, Any] = {"base_url": echo_server.url, "api_token": token,
                               "dialect": dialect, "timeout": 2}  # fmt: skip
    echo_server.token = token
    outcomes: list[Any] = []
    modes = ("header", "status_line", "bad_status", "huge_header", "utf16", "utf16_nobom")
    with every_log_line() as lines:
        for server_mode in modes:
            echo_server.mode = server_mode
            try:
                if mode == "sync":
                    with PureCallerIDClient(**options) as client:
                        outcomes.append(client.screen(request))
                else:

                    async def go() -> ScreeningResponse:
                        async with AsyncPureCallerIDClient(**options) as client:
                            return await client.screen(request)

                    outcomes.append(asyncio.run(go()))
            except APIError as error:
                outcomes.append(error)
    everything = "\n".join(shown(o) for o in outcomes) + "\n".join(lines)
    captured = capsys.readouterr()
    assert leaked(everything + captured.out + captured.err, token) == []


_TOKEN_CHARS = st.characters(min_codepoint=33, max_codepoint=126)


@given(
    st.text(_TOKEN_CHARS, min_size=8, max_size=40),
    st.sampled_from(sorted(encodings("x" * 8))),
    st.text(max_size=20),
    st.text(max_size=20),
)
def test_every_encoding_of_any_token_is_redacted(
    token: str, form_name: str, before: str, after: str
) -> None:
    """For any token, each encoding embedded in any text is redacted."""
    form = encodings(token)[form_name]
    text = before + form + after
    redacted = redact_text(text, (token,))
    assert token not in redacted
    assert form not in redacted or len(form) < 6


_JSON_LEAVES = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8)


@given(
    st.text(_TOKEN_CHARS, min_size=8, max_size=40),
    st.sampled_from(sorted(encodings("x" * 8))),
    st.recursive(
        _JSON_LEAVES,
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
        max_leaves=8,
    ),
    st.booleans(),
)
def test_every_encoding_is_redacted_in_any_parsed_answer(
    token: str, form_name: str, answer: Any, long: bool
) -> None:
    """An answer of any shape holding the token in keys, values and long texts: none left.

    Long texts (over 4 KiB) take the per-form search instead of the one-pattern scan.
    """
    form = encodings(token)[form_name]
    padding = "." * 5000 if long else ""
    value = {f"k{form}": [answer, (form, padding + form)], "nested": {"v": f"a{form}b"}}
    redacted = redact_values(value, (token,))
    shown = json.dumps(redacted, ensure_ascii=False, default=str)
    assert token not in shown
    assert form not in shown or len(form) < 6


@pytest.fixture(scope="module")
def gzip_bomb() -> bytes:
    """About 1 MB of gzip that inflates to about 1 GB of zeros (built without holding it)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    zeros = b"\0" * (1 << 20)
    parts = [packer.compress(zeros) for _ in range(1024)]
    parts.append(packer.flush())
    return b"".join(parts)


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_gzip_bomb_is_refused_within_bounded_memory(mode: str, gzip_bomb: bytes) -> None:
    """A 1 MB gzip answer inflating to 1 GB: refused as invalid_response, memory under 100 MB."""
    assert len(gzip_bomb) < 1.1 * (1 << 20)
    handler = _answer(
        200,
        content=gzip_bomb,
        headers={"Content-Encoding": "gzip", "Content-Type": "application/json"},
    )
    tracemalloc.start()
    try:
        outcome = _screen_with(handler, mode, "leadexec")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert isinstance(outcome, APIError)
    assert outcome.error_class == "invalid_response"
    assert peak < 100 * (1 << 20)


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_gzip_bomb_over_a_real_socket_is_refused(mode: str, gzip_bomb: bytes) -> None:
    """The same bomb over loopback (httpcore, aiohttp): refused, memory bounded."""
    server = EchoServer()
    server.mode = "gzip"
    server.gzip = gzip_bomb
    request = ScreeningRequest(phone="2125550100", campaign_id="C", list_name="L")
    options: dict[str, Any] = {"base_url": server.url, "api_token": CANARY, "timeout": 5}
    tracemalloc.start()
    try:
        if mode == "sync":
            with PureCallerIDClient(**options) as client, pytest.raises(APIError) as info:
                client.screen(request)
        else:

            async def go() -> None:
                async with AsyncPureCallerIDClient(**options) as client:
                    await client.screen(request)

            with pytest.raises(APIError) as info:
                asyncio.run(go())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        server.close()
    assert info.value.error_class == "invalid_response", repr(info.value.__cause__)
    assert peak < 100 * (1 << 20)


def test_the_sync_client_keeps_its_deadline_while_headers_trickle() -> None:
    """A vendor sending its status line a byte a second: the call ends at its deadline."""
    stop = threading.Event()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(4)

    def trickle() -> None:
        conn, _ = sock.accept()
        with conn:
            for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 100:
                if stop.wait(0.25):
                    return
                with contextlib.suppress(OSError):
                    conn.sendall(bytes([byte]))

    thread = threading.Thread(target=trickle, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    request = ScreeningRequest(phone="2125550100", campaign_id="C", list_name="L")
    started = time.monotonic()
    try:
        with (
            PureCallerIDClient(base_url=url, api_token=CANARY, timeout=5) as client,
            pytest.raises(APIError) as info,
        ):
            client.screen(request, deadline=1.0)
    finally:
        stop.set()
        sock.close()
    took = time.monotonic() - started
    assert info.value.error_class == "timeout"
    assert took < 3


@pytest.mark.parametrize(
    "server_mode", ["header", "status_line", "bad_status", "huge_header", "utf16"]
)
def test_the_command_line_never_shows_the_token(
    echo_server: EchoServer,
    server_mode: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`check` and `screen` against an echoing vendor: terminal, output file and records clean."""
    echo_server.mode = server_mode
    monkeypatch.setenv("CANARY_TOKEN", CANARY)
    settings = tmp_path / "settings.toml"
    settings.write_text(
        f"""
[campaigns.c]
[[campaigns.c.integrations]]
id = "pcid"
kind = "purecallerid"
base_url = "{echo_server.url}"
credentials = {{ api_token = "${{CANARY_TOKEN}}", campaign_id = "C", list_name = "L" }}
"""
    )
    (tmp_path / "leads.csv").write_text("lead_id,phone,zip\nL1,2125550100,10001\n")
    with every_log_line() as lines:
        main(["check", "--settings", str(settings), "--campaign", "c", "--phone", "2125550100",
              "--zip", "10001"])  # fmt: skip
        main(["screen", str(tmp_path / "leads.csv"), "--settings", str(settings), "--campaign",
              "c", "--out", str(tmp_path / "out.csv"), "--no-progress"])  # fmt: skip
        main(["records", "show", "L1", "--db", str(tmp_path / "out.records.db")])
    captured = capsys.readouterr()
    written = [p for p in tmp_path.iterdir() if p.is_file() and p.name != "settings.toml"]
    files = "".join(path.read_bytes().decode("utf-8", "replace") for path in written)
    assert "decision" in captured.out  # the commands ran: check printed its decision
    assert (tmp_path / "out.csv").is_file()
    assert leaked(captured.out + captured.err + "\n".join(lines) + files) == []


def test_an_echo_decoded_in_place_cannot_change_the_answer() -> None:
    """A percent-encoded echo that decodes into JSON syntax: the vendor's own structure stands."""
    echo = quote(CANARY, safe="/")  # Python's default quote: '/' left as it is
    body = (
        '{"status": "Rejected", "reason": "DNC", "note": "' + echo
        + '%22,%22status%22:%22Accepted", "phone": "+12125550100"}'
    )  # fmt: skip
    for mode in ("sync", "async"):
        outcome = _screen_with(_answer(200, text=body), mode, "leadexec")
        assert isinstance(outcome, ScreeningResponse)
        assert (outcome.status, outcome.reason) == ("Rejected", "DNC")
        assert outcome.extra["phone"] == "+12125550100"
        assert leaked(shown(outcome)) == []


def test_errors_pickle_and_copy() -> None:
    """Every vendor error survives pickle and copy (a process pool, a queue)."""
    outcome = _screen_with(_answer(503, text="down"), "sync", "leadexec")
    assert isinstance(outcome, APIError)
    pickled = pickle.loads(pickle.dumps(outcome))  # noqa: S301 - our own bytes
    for clone in (pickled, copy.copy(outcome), copy.deepcopy(outcome)):
        assert type(clone) is type(outcome)
        assert (clone.message, clone.outcome_unknown) == (outcome.message, outcome.outcome_unknown)


def test_a_token_that_starts_another_is_redacted_whole() -> None:
    """Two live tokens, one the start of the other: neither leaves a tail."""
    short, long = "abcdefgh12", "abcdefgh12XYZ99"
    for secrets in ((short, long), (long, short)):
        assert redact_text(f"a {long} b {short}", secrets) == "a *** b ***"


def test_many_headers_are_read_alike_by_both_clients(echo_server: EchoServer) -> None:
    """A 2xx with 200 small header lines is an answer for both clients (the limit is bytes)."""
    echo_server.mode = "many_headers"
    request = ScreeningRequest(phone="2125550100", campaign_id="C", list_name="L")
    options: dict[str, Any] = {"base_url": echo_server.url, "api_token": CANARY, "timeout": 2}
    with PureCallerIDClient(**options) as client:
        assert client.screen(request).status == "Accepted"

    async def go() -> ScreeningResponse:
        async with AsyncPureCallerIDClient(**options) as client:
            return await client.screen(request)

    assert asyncio.run(go()).status == "Accepted"


@pytest.mark.parametrize("name", sorted(encodings(QUOTED)))
def test_the_client_masks_every_echo_in_the_answer_values(name: str) -> None:
    """A JSON text with no form of the token can still decode to one (its repr, escaped once
    more by JSON): the client masks the values it read, not only the text."""
    form = encodings(QUOTED)[name]
    body = json.dumps({"status": "Accepted", "message": form}).encode()
    client = AsyncPureCallerIDClient(
        base_url="https://p.test",
        api_token=QUOTED,
        transport=httpx.MockTransport(lambda _: httpx.Response(200, content=body)),
    )
    request = ScreeningRequest(phone="+12125550104", campaign_id="C", list_name="L")
    response = asyncio.run(client.screen(request))
    shown = repr(response) + json.dumps(response.as_answer()) + (response.raw or "")
    assert leaked(shown, QUOTED) == []
