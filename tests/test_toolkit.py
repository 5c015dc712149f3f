"""The toolkit's HTTP base on its own: a probe vendor built on ``HttpIntegration``.

The probe places its credential (a named secret) where a test says: a header, the query, the
URL path or the JSON body; the fake vendor echoes it back as told. Checked: the credential
never shows (records, errors and their whole chain, reprs, log lines, terminal output), the
retries follow ``idempotent``, the hooks change what is recorded, ``check_settings`` finds
bad secrets and URLs, one pool serves every credential set, and whatever the vendor answers
ends in a record.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote, unquote

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from purecallerid import (
    DEFAULT_FIELD_MAPPING,
    APIError,
    AsyncScreener,
    CampaignSettings,
    ConfigurationError,
    Credentials,
    ErrorClass,
    FieldMapping,
    FieldRegistry,
    FieldSpec,
    FieldType,
    HttpIntegration,
    InMemoryResultStore,
    InMemorySettings,
    IntegrationRecord,
    IntegrationSettings,
    IntegrationStatus,
    Lead,
    PhoneFormat,
    PureCallerIDError,
    ResponseValidationError,
    ScreeningRecord,
    SettingsError,
    VendorReply,
    WireRequest,
)
from purecallerid.typing import IntegrationAnswer
from test_canary import CANARY, QUOTED, chain_text, encodings, every_log_line, leaked

PROBE_FIELDS = FieldRegistry(
    integration="probe",
    fields=(
        FieldSpec(name="hit", type=FieldType.BOOLEAN),
        FieldSpec(name="note", type=FieldType.STRING),
    ),
    extra=False,
)
PHONE_ONLY = FieldMapping(
    targets={"phone": DEFAULT_FIELD_MAPPING.targets["phone"]}, phone_format=PhoneFormat.E164
)
KEY = "pk_live_7Hq2xV9s"
# Where the probe puts its key; the last two encoded, as some vendors want it (the record must
# mask every form, not only the plain one).
PLACEMENTS = ["header", "query", "path", "path_quoted", "body", "header_base64", "body_quoted"]

Answer = Callable[[httpx.Request], httpx.Response]


class Probe(HttpIntegration):
    """A vendor taking the phone and an API key, placed where *placement* says."""

    kind = "probe"
    vendor = "Probe"
    fields = PROBE_FIELDS
    default_mapping = PHONE_ONLY

    def __init__(self, placement: str = "header", **options: Any) -> None:
        super().__init__(**options)
        self.placement = placement

    def build_request(
        self, payload: Mapping[str, Any], settings: IntegrationSettings
    ) -> WireRequest:
        key = settings.credentials.secrets["api_key"].reveal()
        quoted = quote(key, safe="")
        path = {"path": f"/v1/keys/{key}/check", "path_quoted": f"/v1/keys/{quoted}/check"}
        headers = {
            "header": {"X-Api-Key": key},
            "header_base64": {"X-Auth": base64.b64encode(f"acct-7:{key}".encode()).decode()},
        }
        body = {"body": {"key": key}, "body_quoted": {"callback": f"https://me.test/?key={quoted}"}}
        return WireRequest(
            method="POST",
            path=path.get(self.placement, "/v1/check"),
            headers=headers.get(self.placement, {}),
            query={"key": key} if self.placement == "query" else {},
            json={"phone": payload["phone"], **body.get(self.placement, {})},
        )

    def read_answer(self, reply: VendorReply, settings: IntegrationSettings) -> Mapping[str, Any]:
        try:
            answer = json.loads(reply.text)
        except ValueError:
            answer = None  # raised outside the except block: the parser's error holds the text
        hit = answer.get("hit") if isinstance(answer, dict) else None
        if not isinstance(hit, bool):
            raise ResponseValidationError("not a probe answer", body=reply.raw)
        assert isinstance(answer, dict)
        note = answer.get("note")
        return {"hit": hit, "note": note if isinstance(note, str) else None}


class IdempotentProbe(Probe):
    """The probe as a pure lookup, free to be sent twice."""

    idempotent = True


class ThrottlingProbe(Probe):
    """The probe of a vendor that throttles with 403."""

    def throttle_statuses(self, settings: IntegrationSettings) -> frozenset[int]:
        return frozenset({403})


class Vendor:
    """A mock vendor: answers with ``answer``, keeps every request."""

    def __init__(self, answer: Answer | None = None) -> None:
        self.answer = answer or answers(200, json={"hit": False})
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.answer(request)


def answers(status: int, **response: Any) -> Answer:
    return lambda _: httpx.Response(status, **response)


def fails(error: type[httpx.RequestError], message: str = "simulated") -> Answer:
    def answer(request: httpx.Request) -> httpx.Response:
        raise error(f"{message} ({request.url})", request=request)

    return answer


async def no_wait(seconds: float) -> None:
    del seconds


def settings_for(key: str = KEY, **options: Any) -> IntegrationSettings:
    options.setdefault("base_url", "https://probe.test")
    return IntegrationSettings(
        id="probe",
        kind="probe",
        credentials=Credentials(secrets={"api_key": key}),
        failure_policy="qa",
        **options,
    )


def lead_for(number: int, campaign: str = "c", phone: str | None = None) -> Lead:
    return Lead(
        lead_id=f"lead-{number}",
        campaign_id=campaign,
        fields={"phone": phone or f"212555{number % 10000:04d}"},
    )


def screener_for(integration: HttpIntegration, *campaigns: CampaignSettings) -> AsyncScreener:
    return AsyncScreener(
        settings=InMemorySettings(campaigns),
        store=InMemoryResultStore(),
        integrations=[integration],
    )


async def screen_one(
    integration: HttpIntegration, settings: IntegrationSettings
) -> ScreeningRecord:
    campaign = CampaignSettings(campaign_id="c", integrations=[settings])
    async with screener_for(integration, campaign) as screener:
        return await screener.screen(lead_for(100))


def record_of(
    answer: Answer, integration_type: type[Probe] = Probe
) -> tuple[IntegrationRecord, int]:
    """The probe's integration record for one lead answered by *answer*; requests made."""
    vendor = Vendor(answer)
    integration = integration_type(transport=httpx.MockTransport(vendor), sleep=no_wait)
    record = asyncio.run(screen_one(integration, settings_for()))
    return record.integration("probe"), len(vendor.requests)


# -- the credential never shows ----------------------------------------------------------------


def echoes(token: str) -> list[Answer]:
    """Answers that echo *token* every way: in answers, error bodies, headers, failures."""
    found: list[Answer] = []
    for name, form in encodings(token).items():
        found += [
            answers(200, json={"hit": False, "note": f"{name}: {form}"}),
            answers(200, text=f"not json {form}"),
            answers(500, text=f"failed for {form}"),
            answers(401, json={"error": f"bad key {form}"}),
            answers(200, json={"hit": True}, headers={"X-Request-Id": form, "X-Echo": form}),
            answers(
                429,
                json={"error": form},
                headers={"Retry-After": form},
                extensions={"reason_phrase": form.encode("latin-1", "replace")},
            ),
            fails(httpx.ReadTimeout, f"timed out reading {form}"),
            fails(httpx.ConnectError, f"refused {form}"),
        ]
    found.append(answers(200, content=json.dumps({"hit": True, "note": token}).encode("utf-16")))
    return found


def shown_direct(integration: Probe, settings: IntegrationSettings) -> str:
    """Everything a host sees of one call made without the screener."""

    async def call() -> IntegrationAnswer:
        try:
            return await integration.screen(lead_for(1), settings, deadline=5)
        finally:
            await integration.aclose()

    try:
        result = asyncio.run(call())
    except APIError as error:
        return chain_text(error) + repr(error.exchange)
    return "\n".join([repr(result), str(result.raw), repr(result.answer), repr(result.request)])


def shown_record(record: ScreeningRecord) -> str:
    return "\n".join([repr(record), str(record), json.dumps(record.to_public_dict())])


@pytest.mark.parametrize("token", [CANARY, QUOTED], ids=["plain-token", "quoted-token"])
@pytest.mark.parametrize("placement", PLACEMENTS)
def test_the_credential_never_shows(
    placement: str, token: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Wherever it is placed and however the vendor echoes it: no form of it anywhere."""
    vendor = Vendor()
    settings = settings_for(token)
    if placement == "path" and "\\" in token:
        # A raw backslash cannot be in a path (some stacks read it as '/'): refused before
        # anything is sent, and the refusal does not quote the path.
        probe = Probe(placement, transport=httpx.MockTransport(vendor), sleep=no_wait)
        with pytest.raises(ConfigurationError) as refused:
            probe.build_request({"phone": "+12125550104"}, settings)
        assert not leaked(token, chain_text(refused.value))
        assert vendor.requests == []
        return
    seen: list[str] = []

    async def through_screener() -> None:
        integration = Probe(placement, transport=httpx.MockTransport(vendor), sleep=no_wait)
        campaign = CampaignSettings(campaign_id="c", integrations=[settings])
        async with screener_for(integration, campaign) as screener:
            for number, answer in enumerate(echoes(token)):
                vendor.answer = answer
                seen.append(shown_record(await screener.screen(lead_for(number))))

    with every_log_line() as lines:
        asyncio.run(through_screener())
        for answer in echoes(token):
            vendor.answer = answer
            integration = Probe(placement, transport=httpx.MockTransport(vendor), sleep=no_wait)
            seen.append(shown_direct(integration, settings))
    captured = capsys.readouterr()
    everything = "\n".join([*seen, *lines, captured.out, captured.err])
    assert leaked(everything, token) == []
    # The vendor did receive it, where it was placed.
    assert all(request_carries(r, token, placement) for r in vendor.requests)


def request_carries(request: httpx.Request, token: str, placement: str) -> bool:
    if placement == "header":
        return request.headers["X-Api-Key"] == token
    if placement == "query":
        return request.url.params["key"] == token
    if placement == "body":
        return bool(json.loads(request.content)["key"] == token)
    if placement == "header_base64":
        return base64.b64decode(request.headers["X-Auth"]).decode() == f"acct-7:{token}"
    if placement == "body_quoted":
        return unquote(json.loads(request.content)["callback"].partition("key=")[2]) == token
    return f"/v1/keys/{token}/check" == unquote(request.url.raw_path.decode())


@pytest.mark.parametrize("placement", PLACEMENTS)
def test_the_record_masks_the_request(placement: str) -> None:
    """The recorded request shows where the credential went, masked."""
    vendor = Vendor()
    integration = Probe(placement, transport=httpx.MockTransport(vendor))
    record = asyncio.run(screen_one(integration, settings_for())).integration("probe")
    request = record.request
    assert record.status is IntegrationStatus.COMPLETED
    assert request is not None
    text = repr(request)
    assert KEY not in text
    assert quote(KEY) not in text
    assert leaked(text, KEY) == []  # nor in any other form (base64 of "acct-7:key" included)
    assert "***" in text
    assert request.body["phone"] == "+12125550100"  # the phone only, in E.164


# -- retries ----------------------------------------------------------------------------------

UNKNOWN_OUTCOMES = [
    pytest.param(fails(httpx.ReadTimeout), "timeout", id="read-timeout"),
    pytest.param(answers(500, text="down"), "server_error", id="500"),
]


@pytest.mark.parametrize(("answer", "error_class"), UNKNOWN_OUTCOMES)
def test_a_call_that_may_have_arrived_is_sent_once_by_default(
    answer: Answer, error_class: str
) -> None:
    """A read timeout or a 500 may have been processed (and billed): not sent again."""
    record, requests = record_of(answer)
    assert (record.error_class, record.outcome_unknown) == (error_class, True)
    assert requests == 1
    assert len(record.attempts) == 1


@pytest.mark.parametrize(("answer", "error_class"), UNKNOWN_OUTCOMES)
def test_an_idempotent_call_is_retried(answer: Answer, error_class: str) -> None:
    """``idempotent = True``: the same failures are tried again, up to the policy's attempts."""
    record, requests = record_of(answer, IdempotentProbe)
    assert (record.error_class, record.outcome_unknown) == (error_class, True)
    assert requests == 3
    assert len(record.attempts) == 3


def test_an_idempotent_call_recovers() -> None:
    """A 500, then an answer: the lookup's answer is recorded, with both attempts."""
    statuses = iter([500, 200])

    def answer(_: httpx.Request) -> httpx.Response:
        return httpx.Response(next(statuses), json={"hit": True})

    record, requests = record_of(answer, IdempotentProbe)
    assert record.status is IntegrationStatus.COMPLETED
    assert record.answer is not None
    assert record.answer["hit"] is True
    assert requests == 2
    assert [a.status_code for a in record.attempts] == [500, 200]


@pytest.mark.parametrize("integration_type", [Probe, IdempotentProbe])
def test_a_call_that_never_left_is_retried_either_way(integration_type: type[Probe]) -> None:
    """A refused connection provably never left: tried again, idempotent or not."""
    record, requests = record_of(fails(httpx.ConnectError), integration_type)
    assert (record.error_class, record.outcome_unknown) == ("connection", False)
    assert requests == 3


# -- the hooks --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("integration_type", "error_class", "requests"),
    [(Probe, "auth_failed", 1), (ThrottlingProbe, "rate_limited", 3)],
)
def test_throttle_statuses_make_a_403_a_throttle(
    integration_type: type[Probe], error_class: str, requests: int
) -> None:
    """``throttle_statuses`` {403}: recorded as rate_limited and retried as a 429 is."""
    record, made = record_of(answers(403, text="slow down"), integration_type)
    assert (record.error_class, record.outcome_unknown) == (error_class, False)
    assert made == requests


def test_answer_statuses_let_the_reader_see_a_404() -> None:
    """A vendor answering "not listed" with 404: ``answer_statuses`` hands it to the reader."""

    class NotFoundIsAnAnswer(Probe):
        def answer_statuses(self, settings: IntegrationSettings) -> frozenset[int]:
            return frozenset({200, 404})

    record, _ = record_of(answers(404, json={"hit": False}), NotFoundIsAnAnswer)
    assert record.status is IntegrationStatus.COMPLETED
    assert record.answer == {"hit": False, "note": None}
    record, _ = record_of(answers(404, json={"hit": False}))
    assert record.error_class == "client_error"


def test_wire_format_is_recorded_with_the_exchange() -> None:
    """An error's exchange names the wire format (the kind by default)."""
    vendor = Vendor(answers(500))
    integration = Probe(transport=httpx.MockTransport(vendor))

    async def call() -> None:
        await integration.screen(lead_for(1), settings_for(), deadline=5)

    with pytest.raises(APIError) as info:
        asyncio.run(call())
    assert info.value.exchange is not None
    assert info.value.exchange.dialect == "probe"


# -- check_settings ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "base_url", "problem"),
    [
        (KEY[:4] + " " + KEY[4:], "https://probe.test", "credentials.api_key: must be visible"),
        (KEY + "\u00e9", "https://probe.test", "credentials.api_key: must be visible ASCII"),
        (KEY, "http://probe.example.com", "base_url: must use https"),
        (KEY, "https://user:pw@probe.test", "base_url: must not carry a user name"),
        (KEY, None, "base_url is missing (the Probe endpoint)"),
    ],
    ids=["inner-space", "not-ascii", "http", "userinfo", "no-base-url"],
)
def test_check_settings_finds_the_problem(key: str, base_url: str | None, problem: str) -> None:
    """Each problem is reported, in words, at load."""
    problems = Probe().check_settings(settings_for(key, base_url=base_url))
    assert len(problems) == 1
    assert problems[0].startswith(problem)


@pytest.mark.parametrize(
    "base_url",
    ["https://probe.test", "http://127.0.0.1:8080", "http://localhost:9", "http://[::1]"],
)
def test_check_settings_accepts_https_and_loopback_http(base_url: str) -> None:
    assert Probe().check_settings(settings_for(base_url=base_url)) == []


def test_a_short_secret_is_refused_at_construction_without_showing_it() -> None:
    """Too short to be masked: refused when the credentials are built, the value unshown."""
    with pytest.raises(SettingsError) as caught:
        settings_for("sh0rt")
    assert [str(p) for p in caught.value.problems] == [
        "credentials.api_key: shorter than 8 characters"
    ]
    assert "sh0rt" not in repr(caught.value)
    # A value from a file or a form, trailing newline included, is trimmed, not refused.
    assert Probe().check_settings(settings_for(KEY + "\n")) == []


# -- one pool ---------------------------------------------------------------------------------


class ClosingTransport(httpx.MockTransport):
    """A mock transport that counts how often a client closed it."""

    closed = 0

    async def aclose(self) -> None:
        self.closed += 1


def test_one_pool_serves_every_credential_set() -> None:
    """Two campaigns with their own keys: one client, each request with its campaign's key."""
    keys = {"c1": "key-one-5sT8pQ2w", "c2": "key-two-9mR3vK7z"}
    vendor = Vendor()
    transport = ClosingTransport(vendor)
    integration = Probe(transport=transport)
    campaigns = [
        CampaignSettings(campaign_id=c, integrations=[settings_for(key)]) for c, key in keys.items()
    ]

    async def run() -> list[ScreeningRecord]:
        async with screener_for(integration, *campaigns) as screener:
            leads = [lead_for(n, campaign) for n in range(4) for campaign in keys]
            return await asyncio.gather(*(screener.screen(lead) for lead in leads))

    records = asyncio.run(run())
    assert all(r.integration("probe").status is IntegrationStatus.COMPLETED for r in records)
    sent = sorted(request.headers["X-Api-Key"] for request in vendor.requests)
    assert sent == sorted([keys["c1"]] * 4 + [keys["c2"]] * 4)
    assert transport.closed == 1  # one client over the transport, closed once


# -- whatever the vendor answers, a record ----------------------------------------------------

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=8,
)
BODIES = st.one_of(
    st.binary(max_size=300),
    st.text(max_size=100).map(str.encode),
    st.text(max_size=50).map(lambda text: text.encode("utf-16")),
    JSON_VALUES.map(lambda value: json.dumps({"hit": value, "note": value}).encode()),
    JSON_VALUES.map(lambda value: json.dumps(value).encode()),
)
HEADERS = st.fixed_dictionaries(
    {},
    optional={
        "Content-Type": st.sampled_from(
            ["application/json", "text/plain; charset=utf-16", "text/html; charset=bogus"]
        ),
        "Content-Encoding": st.sampled_from(["gzip", "deflate", "br", "identity", "x-bogus"]),
        "Retry-After": st.sampled_from(["", "0", "1.5", "-1", "nan", "1e308", "soon"]),
    },
)


@given(status=st.integers(min_value=0, max_value=999), body=BODIES, headers=HEADERS)
def test_any_answer_ends_in_a_record(status: int, body: bytes, headers: dict[str, str]) -> None:
    """Any status, any body: ``screen`` raises library errors only, the screener records it."""

    def answer(_: httpx.Request) -> httpx.Response:
        return httpx.Response(status, content=body, headers=headers)

    async def call() -> None:
        integration = Probe(transport=httpx.MockTransport(answer), sleep=no_wait)
        try:
            await integration.screen(lead_for(1), settings_for(), deadline=5)
        except PureCallerIDError:
            pass
        finally:
            await integration.aclose()

    asyncio.run(call())
    record, _ = record_of(answer)
    if record.status is IntegrationStatus.COMPLETED:
        assert record.answer is not None
        assert isinstance(record.answer["hit"], bool)
    else:
        assert record.status is IntegrationStatus.ERROR
        assert record.error_class in set(ErrorClass)
