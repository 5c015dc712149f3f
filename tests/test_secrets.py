"""The API token never shows: not in logs, reprs, exceptions, records or the fake's log."""

from __future__ import annotations

import contextlib
import json
import logging
import pickle
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import purecallerid
from _helpers import TOKEN, Screen, request_for
from purecallerid import (
    APIError,
    PureCallerIDClient,
    ScreeningResponse,
    Secret,
    converter,
    mask_phone,
)
from purecallerid.testing import TEST_NUMBERS, CannedAnswer, FakePureCallerID

FAULTS = [*sorted(TEST_NUMBERS), "0000"]


def _everything_shown(outcome: ScreeningResponse | APIError) -> str:
    """Every text a host could log or store about an outcome."""
    parts = [repr(outcome), str(outcome)]
    exchange = outcome.exchange
    if isinstance(outcome, ScreeningResponse):
        parts += [outcome.raw, json.dumps(converter.unstructure(outcome))]
    else:
        parts += [outcome.message, repr(outcome.__dict__), repr(outcome.__cause__)]
    if exchange is not None:
        parts += [repr(exchange), json.dumps(converter.unstructure(exchange))]
    return "\n".join(parts)


@pytest.mark.parametrize("line", FAULTS)
def test_token_never_shown(
    screen: Screen,
    fake: FakePureCallerID,
    dialect: str,
    line: str,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """For success and every fault, the token is absent from logs, reprs, errors and records."""
    caplog.set_level(logging.DEBUG)
    outcome: ScreeningResponse | APIError
    try:
        outcome = screen(request_for(f"212555{line}", dialect), dialect=dialect)
    except APIError as error:
        outcome = error
    shown = _everything_shown(outcome)
    shown += "\n".join(r.getMessage() for r in caplog.records)
    shown += repr(fake) + repr(fake.calls_for())
    captured = capsys.readouterr()
    shown += captured.out + captured.err
    assert TOKEN not in shown
    assert outcome.exchange is not None
    assert "***" in repr(outcome.exchange.request)


@pytest.mark.parametrize("line", FAULTS)
def test_phone_masked_in_logs(screen: Screen, line: str, caplog: pytest.LogCaptureFixture) -> None:
    """The library's own log lines show only the last four digits of the phone."""
    caplog.set_level(logging.DEBUG, logger="purecallerid")
    with contextlib.suppress(APIError):
        screen(request_for(f"212555{line}"))
    ours = [r.getMessage() for r in caplog.records if r.name.startswith("purecallerid")]
    assert ours
    for message in ours:
        assert f"212555{line}" not in message
        assert f"***{line}" in message


def test_connection_errors_do_not_show_token(screen: Screen, fake: FakePureCallerID) -> None:
    """A connection failure's error carries no token either."""
    fake.fail_next(*[CannedAnswer.connect_error()] * 3)
    with pytest.raises(APIError) as info:
        screen(request_for("2125550000"))
    assert TOKEN not in _everything_shown(info.value)


def test_echoed_token_is_redacted(screen: Screen, fake: FakePureCallerID) -> None:
    """A vendor echoing the token back has it masked in raw, extra and error bodies."""
    fake.fail_next(CannedAnswer.json({"status": "Accepted", "echo": {"apiToken": TOKEN}}))
    response = screen(request_for("2125550000"))
    assert response.extra == {"echo": {"apiToken": "***"}}
    assert TOKEN not in _everything_shown(response)
    fake.fail_next(CannedAnswer.status(400, body={"error": f"bad token {TOKEN}"}))
    with pytest.raises(APIError) as info:
        screen(request_for("2125550000"))
    assert TOKEN not in _everything_shown(info.value)


def test_client_repr_masks_token() -> None:
    """The client's repr shows where it talks to, not with what."""
    client = PureCallerIDClient(base_url="https://x.test", api_token=TOKEN)
    assert TOKEN not in repr(client)
    assert "***" in repr(client)
    client.close()


def test_secret_hides_itself() -> None:
    """A Secret shows *** in repr, str and format, and refuses pickling."""
    secret = Secret(TOKEN)
    assert TOKEN not in f"{secret!r} {secret!s} {secret} {secret:>20}"
    assert secret.reveal() == TOKEN
    assert secret == Secret(TOKEN)
    with pytest.raises(TypeError):
        pickle.dumps(secret)


@pytest.mark.parametrize(
    ("phone", "masked"),
    [("+1 (212) 555-0102", "***0102"), ("2125550102", "***0102"), ("12", "***"), ("", "***")],
)
def test_mask_phone(phone: str, masked: str) -> None:
    """Phones are masked to their last four digits."""
    assert mask_phone(phone) == masked


def test_library_configures_no_logging() -> None:
    """The library adds no handler and sets no level on its logger."""
    logger = logging.getLogger("purecallerid")
    assert logger.handlers == []
    assert logger.level == logging.NOTSET
    assert purecallerid.__name__ == "purecallerid"


def test_escaped_and_entity_forms_of_a_secret_are_masked() -> None:
    import base64  # noqa: PLC0415
    import html  # noqa: PLC0415

    from purecallerid._secrets import redact_text, secret_forms  # noqa: PLC0415

    token = "tok?>?>?>en-0123456789"
    pair = base64.b64encode(f"ACsid-0123456789:{token}".encode()).decode()
    for text in (
        json.dumps({"a": "Basic " + pair}).replace("/", "\\/"),
        json.dumps({"a": base64.b64encode(token.encode()).decode()}).replace("/", "\\/"),
        "<e>" + "".join(f"&#{ord(c)};" for c in token) + "</e>",
        "<e>" + html.escape("a&" + token) + "</e>",
    ):
        masked = redact_text(text, (token,))
        assert token not in masked
        assert token not in html.unescape(masked.replace("\\/", "/"))
        for form in secret_forms(token):
            assert form not in masked


def test_a_token_holding_a_quote_is_masked_in_its_repr_of_a_repr() -> None:
    """repr quotes with '"' when the text holds "'": the twice-escaped form differs then."""
    from purecallerid._secrets import redact_text  # noqa: PLC0415

    token = "00000'\\0"
    twice = repr(repr(token)[1:-1])[1:-1]
    assert redact_text(f"a{twice}b", (token,)) == "a***b"


def test_long_secrets_and_long_texts_are_masked_in_every_form() -> None:
    """A key of kilobytes (no one pattern of its forms) and a megabyte body: still masked."""
    import base64  # noqa: PLC0415 - this test's alone

    from purecallerid._secrets import MASK, redact_text  # noqa: PLC0415

    key = "".join(chr(65 + (n * 7) % 26) for n in range(3000))  # a PEM-sized secret
    encoded = base64.b64encode(key.encode()).decode()
    short = "tok-0123456789"
    filler = "x" * 1_000_000
    for secrets, text, leaked in (
        ((key,), f"before {key} after", key),
        ((key,), f"basic {encoded} end", encoded),
        ((short,), f"{filler}{json.dumps(short)[1:-1]}{filler}", short),
        ((short, key), f"{filler} {short} {key} {filler}", key),
    ):
        masked = redact_text(text, secrets)
        assert leaked not in masked
        assert MASK in masked


@given(st.integers(min_value=10_000_000, max_value=10**15), st.booleans())
def test_a_credential_of_digits_echoed_as_a_number_is_masked(digits: int, as_float: bool) -> None:
    """Settings take a number as its digits: the vendor may send it back as a JSON number."""
    from purecallerid._secrets import MASK, redact_values  # noqa: PLC0415

    echoed: float = float(digits) if as_float else digits
    answer = {"account": {"apiKey": echoed, "plan": 3, "ok": True}, "list": [echoed, 1.5]}
    redacted = redact_values(answer, (str(digits),))
    assert redacted == {"account": {"apiKey": MASK, "plan": 3, "ok": True}, "list": [MASK, 1.5]}
    assert str(digits) not in json.dumps(redacted)
    # A token that is no number leaves numbers alone (and costs them nothing).
    assert redact_values(answer, ("tok-0123456789",)) == answer


@pytest.mark.parametrize(
    ("credential", "echoed"),
    [
        ("00123456", 123456),  # read as a number: the leading zeros are gone
        ("+12345678", 12345678),  # and the sign
        ("0048291377", 48291377.0),
        ("12345678901234567890", 1.2345678901234567e19),  # a float keeps 17 digits of 20
    ],
)
def test_a_credential_of_digits_read_as_a_number_is_masked(credential: str, echoed: float) -> None:
    from purecallerid._secrets import MASK, redact_values  # noqa: PLC0415

    assert redact_values({"account": echoed, "count": 3}, (credential,)) == {
        "account": MASK,
        "count": 3,
    }


@pytest.mark.parametrize(
    ("url", "shown_as"),
    [
        ("postgresql://u:pw-0123456@db.test/leads", "postgresql://u:***@db.test/leads"),
        (
            "postgresql://u@db.test/leads?password=pw-0123456",
            "postgresql://u@db.test/leads?password=***",
        ),
        (
            "postgresql:///leads?host=db.test&sslpassword=pw-0123456&sslmode=require",
            "postgresql:///leads?host=db.test&sslpassword=***&sslmode=require",
        ),
        # libpq reads '#' as part of a value, not as a fragment
        ("postgresql://u:pa#ss-0123@db.test/leads", "postgresql://u:***@db.test/leads"),
        ("postgresql:///leads?password=sec#ret-0123", "postgresql:///leads?password=***"),
        ("postgresql://u:pw-0123456@db.test:port/leads", "postgresql://u:***@db.test:port/leads"),
        ("postgres://db.test/leads", "postgres://db.test/leads"),
        ("records.db", "records.db"),
    ],
)
def test_the_command_line_shows_a_database_url_without_its_password(
    url: str, shown_as: str
) -> None:
    """libpq takes the password in the user part or as a parameter: neither is printed."""
    from purecallerid._cli.records import shown  # noqa: PLC0415

    assert shown(url) == shown_as


@pytest.mark.parametrize(
    "given",
    [
        "host=db.test user=app password=pw-0123456 dbname=leads",
        "POSTGRESQL://app:pw-0123456@db.test/leads",
        "mysql://app:pw-0123456@db.test/leads",
    ],
)
def test_the_command_line_refuses_a_database_it_would_take_for_a_file(
    given: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A key=value string or another URL as --db: refused unquoted, no file named after it."""
    from purecallerid.cli import main  # noqa: PLC0415

    monkeypatch.chdir(tmp_path)
    assert main(["records", "export", "--db", given]) == 1
    err = capsys.readouterr().err
    assert "--db takes a SQLite file or a postgresql:// URL" in err
    assert "pw-0123456" not in err
    assert list(tmp_path.iterdir()) == []


def test_a_secret_put_where_the_credentials_table_goes_is_not_quoted() -> None:
    """`credentials = "${TOKEN}"`: the problem says what was given, not its value."""
    from purecallerid import IntegrationSettings, SettingsError  # noqa: PLC0415

    with pytest.raises(SettingsError) as refused:
        IntegrationSettings(id="p", kind="purecallerid", credentials="Sup3r-Secr3t-Tok")  # type: ignore[arg-type]
    assert "Sup3r" not in str(refused.value)
    assert "must be a table or a Credentials, not text" in str(refused.value)


def test_the_wire_objects_keep_what_may_hold_a_credential_out_of_their_reprs() -> None:
    """A path may carry the key; a gateway may echo the request's headers in its answer."""
    import httpx  # noqa: PLC0415

    from purecallerid import VendorReply, WireRequest  # noqa: PLC0415
    from purecallerid._http.received import Received  # noqa: PLC0415

    key = "sk_live_9fK2mQ7xR4"
    wire = WireRequest(method="GET", path=f"/v1/{key}/lookup", headers={"X-Key": key})
    echoed = httpx.Headers({"x-echo-api-key": key})
    reply = VendorReply(status_code=200, headers=echoed, text=key, raw="***", secrets=(key,))
    received = Received(status_code=200, headers=echoed, body=key.encode())
    for shown in (repr(wire), repr(reply), repr(received)):
        assert key not in shown
    assert repr(wire) == "WireRequest(method='GET')"
