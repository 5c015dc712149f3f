"""The vendor presets: each loads, its rules fit its fields, its docs page says what it does.

Every test number of a preset's page is screened through the real simulator (its
``/presets/<name>`` route) and must get the decision the page states. A broken override is
reported with its path, by ``load_settings`` and by ``purecallerid validate``. No credential,
wherever the preset puts it, shows in records, logs or error chains, even when the vendor
echoes it back.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
import tomllib
import traceback
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import httpx
import pytest

from purecallerid import (
    PRESET_NAMES,
    AsyncScreener,
    ConfiguredHttpIntegration,
    InMemoryResultStore,
    InMemorySettings,
    Lead,
    PureCallerIDError,
    RuleSet,
    ScreeningRecord,
    SettingsError,
    http_integrations,
    load_settings,
    preset_named,
)
from purecallerid._integrations.configured.definition import load_definition
from purecallerid.cli import main
from purecallerid.testing import CannedAnswer, FakeVendor, Simulator
from purecallerid.testing._presets import find_test_number

ROOT = Path(__file__).parent.parent
PAGES = ROOT / "docs" / "presets"
FAKE_LINES = ("0101", "0102", "0103", "0104", "0190", "0191", "0192", "0195")
HEADING = re.compile(r"^(#{1,6}) (.+)$")
BLOCK = re.compile(r"^```(\w+)\n(.*?)^```", re.DOTALL | re.MULTILINE)


async def instant(_seconds: float) -> None:
    """A retry sleep that does not wait: 0191 (throttled) is asked again at once."""


def credentials_of(name: str) -> dict[str, str]:
    """A value for every credential the preset uses, with characters a URL must encode."""
    definition = load_definition(preset_named(name).http)
    names = sorted(
        n.removeprefix("credentials.")
        for n in definition.placeholders()
        if n.startswith("credentials.")
    )
    return {n: f"{name}-{n}-SeCrEt+/=0123" for n in names}


def campaigns_for(name: str, base_url: str | None = None, **extra: Any) -> dict[str, Any]:
    integration: dict[str, Any] = {
        "kind": name,
        "credentials": credentials_of(name),
        "rules": preset_named(name).rules,
        **extra,
    }
    if base_url is not None:
        integration["base_url"] = base_url
    return {"campaigns": {"c": {"integrations": [integration]}}}


# -- the docs page, read ---------------------------------------------------------------------


def page(name: str) -> str:
    return (PAGES / f"{name}.md").read_text()


def sections(text: str) -> dict[str, str]:
    """The page's text by ``##`` heading (fenced blocks never hold headings)."""
    found: dict[str, list[str]] = {}
    current: list[str] = []
    fenced = False
    for line in text.splitlines():
        if line.startswith("```"):
            fenced = not fenced
        heading = None if fenced else HEADING.match(line)
        if heading and len(heading.group(1)) == 2:  # a "##" heading
            current = found.setdefault(heading.group(2).strip(), [])
            continue
        current.append(line)
    return {k: "\n".join(v) for k, v in found.items()}


def table(text: str) -> list[list[str]]:
    """The rows of the first table in *text*, cells stripped, header and rule left out."""
    rows: list[str] = []
    for line in text.splitlines():
        if line.startswith("|"):
            rows.append(line)
        elif rows:
            break
    return [[c.strip() for c in row.strip().strip("|").split("|")] for row in rows[2:]]


def blocks(text: str, language: str) -> list[str]:
    return [m.group(2) for m in BLOCK.finditer(text) if m.group(1) == language]


def unfold(text: str) -> str:
    """Lines continued with a trailing backslash joined, as TOML reads a multi-line string."""
    return re.sub(r"\\\n\s*", "", text)


def plain(cell: str) -> str:
    return cell.strip().strip("`")


# -- each preset loads -----------------------------------------------------------------------


@pytest.mark.parametrize("name", PRESET_NAMES)
def test_preset_loads(name: str) -> None:
    """The file loads whole: its table, mapping, rules and the fakes every page relies on."""
    preset = preset_named(name)
    assert preset.name == name
    assert preset.vendor
    assert preset.summary
    assert preset.source.startswith("https://")
    assert preset.base_url.startswith("https://")
    load_definition(preset.http)
    assert set(FAKE_LINES) | {"default"} <= set(preset.fakes)
    for line, fake in preset.fakes.items():
        assert line == "default" or re.fullmatch(r"01[0-9]{2}", line)
        assert set(fake) <= {"status", "headers", "json", "body"}, line
        assert ("json" in fake) != ("body" in fake), line
    assert "phone" in preset.mapping.targets


@pytest.mark.parametrize("name", PRESET_NAMES)
def test_rules_validate_against_fields(name: str) -> None:
    """The recommended rules compile against the preset's own fields, without warnings."""
    kind = next(k for k in http_integrations() if k.kind == name)
    rules = RuleSet.from_text(preset_named(name).rules, kind.fields)
    assert rules.rules
    campaigns = load_settings(campaigns_for(name), kinds=[kind])
    assert campaigns["c"].integrations[0].rules is not None


def test_every_preset_has_a_page_in_the_index_and_the_nav() -> None:
    """docs/presets holds one page per preset, the index links each, mkdocs.yml lists each."""
    assert {p.stem for p in PAGES.glob("*.md")} == {*PRESET_NAMES, "index"}
    index = (PAGES / "index.md").read_text()
    nav = (ROOT / "mkdocs.yml").read_text()
    for name in PRESET_NAMES:
        assert f"({name}.md)" in index
        assert f"presets/{name}.md" in nav
    for text in blocks(index, "toml"):
        document = {"campaigns": tomllib.loads(text)["campaigns"]}
        assert load_settings(document, kinds=http_integrations(), environ=AnyVariable())


# -- the page says what the preset does ------------------------------------------------------


@pytest.mark.parametrize("name", PRESET_NAMES)
def test_page_fields_table_is_the_presets(name: str) -> None:
    """The Fields table lists every field with its type, path and known values."""
    fields = preset_named(name).http["answer"]["fields"]
    expected = [
        [name_, spec.get("type", "string"), spec.get("path", name_), list(spec.get("values", []))]
        for name_, spec in fields.items()
    ]
    expected.append(["http_status", "number", "", []])
    rows = table(sections(page(name))["Fields"])
    shown = [
        [plain(r[0]), r[1], plain(r[2]), [plain(v) for v in r[3].split(", ") if v]] for r in rows
    ]
    assert shown == expected


@pytest.mark.parametrize("name", PRESET_NAMES)
def test_page_rules_are_the_presets(name: str) -> None:
    """The Recommended rules block is the preset's rules text, as shipped.

    A long rule is shown over several lines, each but the last ending in a backslash, as a
    TOML multi-line string continues a line: the break and the indentation after it are
    not part of the rule.
    """
    (shown,) = blocks(sections(page(name))["Recommended rules"], "text")
    assert unfold(shown).strip() == preset_named(name).rules.strip()


@pytest.mark.parametrize("name", PRESET_NAMES)
def test_page_credentials_are_the_presets(name: str) -> None:
    """The Credentials table names exactly the credentials the request uses."""
    rows = table(sections(page(name))["Credentials"])
    assert sorted(plain(r[0]) for r in rows) == sorted(credentials_of(name))


@pytest.mark.parametrize("name", PRESET_NAMES)
def test_page_source_link(name: str) -> None:
    """The page links the vendor documentation the preset follows."""
    assert preset_named(name).source in page(name)


class AnyVariable(Mapping[str, str]):
    """An environment where every ``${VAR}`` is set (to a credential-shaped value)."""

    def __getitem__(self, key: str) -> str:
        return f"{key.lower()}-0123456789"

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0


@pytest.mark.parametrize("name", PRESET_NAMES)
def test_page_copy_and_change_examples_load(name: str) -> None:
    """Every TOML example of the page is a settings document that loads."""
    examples = blocks(page(name), "toml")
    assert examples
    for text in examples:
        campaigns = load_settings(
            tomllib.loads(text), kinds=http_integrations(), environ=AnyVariable()
        )
        assert campaigns


# -- the test numbers, through the real simulator --------------------------------------------


@pytest.fixture(scope="module")
def simulator() -> Iterator[Simulator]:
    with Simulator() as sim:
        yield sim


def why(record: ScreeningRecord, name: str) -> str:
    """The page's "why" cell for *record*: the deciding rule and reasons, or the failure."""
    decided_by = record.decided_by or ""
    if decided_by.endswith(":failure_policy"):
        return f"failure policy: `{record.integration(name).error_class}`"
    if decided_by:
        return f"`{decided_by.split(':', 1)[1]}`: " + "; ".join(record.reasons)
    return "no rule fired"


def screen_all(
    name: str, base_url: str, phones: list[str], **options: Any
) -> list[ScreeningRecord]:
    kinds = http_integrations(sleep=instant, **options)
    campaigns = load_settings(campaigns_for(name, base_url), kinds=kinds)

    async def go() -> list[ScreeningRecord]:
        async with AsyncScreener(
            settings=InMemorySettings(campaigns.values()),
            store=InMemoryResultStore(),
            integrations=kinds,
        ) as screener:
            return [
                await screener.screen(Lead(lead_id=str(i), campaign_id="c", fields={"phone": p}))
                for i, p in enumerate(phones)
            ]

    return asyncio.run(go())


@pytest.mark.parametrize("name", PRESET_NAMES)
def test_test_numbers_get_the_documented_decisions(name: str, simulator: Simulator) -> None:
    """Each row of the page's test numbers screens, over real HTTP, as the page says."""
    rows = table(sections(page(name))["Test numbers"])
    lines = [r[0] for r in rows]
    assert lines[-1] == "any other"
    assert sorted(lines[:-1]) == sorted(k for k in preset_named(name).fakes if k != "default")
    phones = ["".join(ch for ch in r[1] if ch.isdigit()) for r in rows]
    records = screen_all(name, simulator.preset_url(name), phones)
    shown = [(r[0], r[3], r[4]) for r in rows]
    got = [(line, rec.decision, why(rec, name)) for line, rec in zip(lines, records, strict=True)]
    assert got == shown
    assert simulator.stats()["by_preset"][name] >= len(rows)


@pytest.mark.parametrize("name", PRESET_NAMES)
def test_fake_vendor_answers_as_the_simulator(name: str, simulator: Simulator) -> None:
    """In process, FakeVendor gives every test number the simulator's decision."""
    phones = [f"212555{line}" for line in (*preset_named(name).fakes, "0150") if line != "default"]
    over_http = screen_all(name, simulator.preset_url(name), phones)
    vendor = FakeVendor(name)
    in_process = screen_all(
        name, preset_named(name).base_url, phones, transport=vendor.async_transport()
    )
    assert [(r.decision, r.reasons) for r in in_process] == [
        (r.decision, r.reasons) for r in over_http
    ]
    assert vendor.calls >= len(phones)


# -- broken overrides are reported with their path -------------------------------------------


def broken_override(name: str) -> tuple[dict[str, Any], list[str]]:
    """An ``http`` override with a bad type and a bad path, and the paths to report."""
    first, second = list(preset_named(name).http["answer"]["fields"])[:2]
    http = {"answer": {"fields": {first: {"type": "bool"}, second: {"path": "a..b"}}}}
    where = "campaigns.c.integrations[0].http.answer.fields"
    return http, [f"{where}.{first}.type", f"{where}.{second}.path"]


@pytest.mark.parametrize("name", PRESET_NAMES)
def test_broken_override_names_its_paths(name: str) -> None:
    """load_settings reports each problem of a preset override at its own path."""
    http, paths = broken_override(name)
    with pytest.raises(SettingsError) as info:
        load_settings(campaigns_for(name, http=http), kinds=http_integrations())
    reported = {p.path for p in info.value.problems}
    assert set(paths) <= reported
    assert "did you mean 'boolean'?" in str(info.value)


@pytest.mark.parametrize("name", PRESET_NAMES)
def test_validate_prints_the_override_paths(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`purecallerid validate` exits 1 and prints each problem's path."""
    monkeypatch.setenv("COLUMNS", "300")
    http, paths = broken_override(name)
    document = campaigns_for(name, http=http)
    path = tmp_path / "settings.json"
    path.write_text(json.dumps(document))
    assert main(["validate", str(path)]) == 1
    err = capsys.readouterr().err
    for where in paths:
        assert where in err
    for secret in credentials_of(name).values():
        assert secret not in err


# -- credentials never show ------------------------------------------------------------------


def shown_texts(records: list[ScreeningRecord], caplog: pytest.LogCaptureFixture) -> str:
    parts = [json.dumps(r.to_public_dict()) for r in records]
    parts += [repr(r) for r in records]
    parts += [r.getMessage() for r in caplog.records]
    return "\n".join(parts)


@pytest.mark.parametrize("name", PRESET_NAMES)
def test_credentials_never_shown_over_http(
    name: str, simulator: Simulator, caplog: pytest.LogCaptureFixture
) -> None:
    """Over the simulator (whose fakes echo credentials back), no credential shows anywhere."""
    caplog.set_level(logging.DEBUG)
    lines = [line for line in preset_named(name).fakes if line != "default"]
    records = screen_all(name, simulator.preset_url(name), [f"212555{x}" for x in lines])
    text = shown_texts(records, caplog)
    for secret in credentials_of(name).values():
        assert secret not in text
    assert "***" in text


def echoed(value: Any, secret: str) -> Any:
    """*value* with every text carrying *secret* too."""
    if isinstance(value, str):
        return f"{value} {secret}"
    if isinstance(value, dict):
        return {k: echoed(v, secret) for k, v in value.items()}
    if isinstance(value, list):
        return [echoed(v, secret) for v in value]
    return value


def with_echo_key(data: Any, secret: str) -> Any:
    """The clean answer *data* with one more key holding *secret* (read as a clean answer)."""
    if isinstance(data, list):
        return [{**data[0], "echo": secret}, *data[1:]]
    return {**data, "echo": secret}


def echoing_answers(name: str, secret: str) -> list[CannedAnswer]:
    """Answers that give *secret* back: in a clean 200, in every text of a 200, in a broken
    body, a 401 and a 500."""
    default = preset_named(name).fakes["default"]
    return [
        CannedAnswer.json(with_echo_key(default["json"], secret)),
        CannedAnswer.json(echoed(default["json"], secret)),
        CannedAnswer.raw(f"not an answer {secret}"),
        CannedAnswer.status(401, body={"error": f"bad key {secret}"}),
        CannedAnswer.status(500, body=f"server error for {secret}"),
    ]


def error_chain_text(error: BaseException) -> str:
    parts = ["".join(traceback.format_exception(error))]
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        parts += [str(current), repr(current), repr(vars(current))]
        current = current.__cause__ or current.__context__
    return "\n".join(parts)


@pytest.mark.parametrize("name", PRESET_NAMES)
def test_credentials_never_shown_when_echoed(name: str, caplog: pytest.LogCaptureFixture) -> None:
    """Answers echoing each credential leave none in records, logs or error chains."""
    caplog.set_level(logging.DEBUG)
    secrets = credentials_of(name)
    vendor = FakeVendor(name)
    kinds = http_integrations(sleep=instant, transport=vendor.async_transport())
    campaigns = load_settings(campaigns_for(name), kinds=kinds)
    settings = campaigns["c"].integrations[0]
    kind = next(k for k in kinds if k.kind == name)
    assert isinstance(kind, ConfiguredHttpIntegration)
    texts: list[str] = []

    async def go() -> list[ScreeningRecord]:
        records = []
        async with AsyncScreener(
            settings=InMemorySettings(campaigns.values()),
            store=InMemoryResultStore(),
            integrations=kinds,
        ) as screener:
            for i, secret in enumerate(secrets.values()):
                for j, answer in enumerate(echoing_answers(name, secret)):
                    phone = f"2125551{i}{j:02d}"
                    vendor.program(phone, answer)
                    lead = Lead(lead_id=f"{i}-{j}", campaign_id="c", fields={"phone": phone})
                    records.append(await screener.screen(lead))
                    try:
                        await kind.screen(lead, settings, deadline=time.monotonic() + 30)
                    except PureCallerIDError as error:
                        texts.append(error_chain_text(error))
            await kind.aclose()
        return records

    records = asyncio.run(go())
    text = shown_texts(records, caplog) + "\n".join(texts)
    assert len(texts) >= 3 * len(secrets)  # the broken body, the 401, the 500 at least
    assert records[0].decision == "accept"  # the clean answer echoing the first credential
    assert "***" in json.dumps(records[0].to_public_dict()["integrations"][0]["raw"])
    for secret in secrets.values():
        assert secret not in text


# -- the stand-ins refuse what the vendor would ------------------------------------------


def get(vendor: FakeVendor, url: str, **options: Any) -> tuple[int, str]:
    with httpx.Client(transport=vendor.transport()) as http:
        response = http.get(url, **options)
    return response.status_code, response.text


@pytest.mark.parametrize(
    ("name", "url", "options"),
    [
        ("trestle", "https://api.trestleiq.com/3.0/phone_intel?phone=2125550101", {}),
        ("twilio", "https://lookups.twilio.com/v2/PhoneNumbers/%2B12125550101", {}),
        (
            "twilio",
            "https://lookups.twilio.com/v2/PhoneNumbers/%2B12125550101",
            {"auth": ("sid-0123", "")},
        ),
        (
            "blacklist_alliance",
            "https://api.blacklistalliance.net/lookup?phone=2125550101&key=",
            {},
        ),
        ("dncscrub", "https://www.dncscrub.com/app/main/rpc/scrub?phoneList=2125550101", {}),
        (
            "realvalidation",
            "https://api.realvalidation.com/rpvWebService/DNCLookup.php?phone=2125550101",
            {},
        ),
        ("ipqs", "https://www.ipqualityscore.com/api/json/phone//12125550101", {}),
    ],
)
def test_missing_credentials_are_refused(name: str, url: str, options: dict[str, Any]) -> None:
    """A credential missing or empty where the preset puts it is 401, before any fake."""
    status, text = get(FakeVendor(name), url, **options)
    assert status == 401, text
    assert "missing credentials" in text


def test_wrong_path_and_method_are_refused() -> None:
    """A path the preset does not call is 404; another method is 405."""
    vendor = FakeVendor("trestle")
    headers = {"x-api-key": "key-0123456789"}
    status, _ = get(vendor, "https://api.trestleiq.com/3.0/nope?phone=2125550101", headers=headers)
    assert status == 404
    with httpx.Client(transport=vendor.transport()) as http:
        response = http.post("https://api.trestleiq.com/3.0/phone_intel", headers=headers)
    assert response.status_code == 405
    assert vendor.calls == 2


def test_test_number_found_in_any_format() -> None:
    """The line is found as 10 digits, 11, E.164 (encoded or not), and in a JSON body."""
    vendor = FakeVendor("twilio")
    auth = ("sid-0123456789", "token-0123456789")
    base = "https://lookups.twilio.com/v2/PhoneNumbers/"
    for phone in ("2125550102", "12125550102", "%2B12125550102", "+12125550102"):
        status, text = get(vendor, base + phone, auth=auth)
        assert status == 200
        assert json.loads(text)["reassigned_number"]["is_number_reassigned"] == "yes"
    assert vendor.lines == ["0102"] * 4
    assert find_test_number("", "", '{"phone": "+1 (212) 555-0196"}') is None  # digits only
    assert find_test_number("", "", '{"phone": "+12125550196"}') == ("2125550196", "0196")


def test_simulator_routes_and_counts(simulator: Simulator) -> None:
    """An unknown preset is 404; preset requests are counted by preset, status and line."""
    before = simulator.stats()
    with httpx.Client() as http:
        unknown = http.get(simulator.url + "/presets/nope/x")
        served = http.get(
            simulator.preset_url("realvalidation") + "/rpvWebService/DNCLookup.php",
            params={"phone": "2125550101", "token": "tok-0123456789", "output": "json"},
        )
    assert unknown.status_code == 404
    assert "trestle" in unknown.json()["error"]
    assert served.json()["litigator"] == "Y"
    after = simulator.stats()
    assert after["by_preset"]["realvalidation"] == before["by_preset"].get("realvalidation", 0) + 1
    assert after["total_requests"] == before["total_requests"] + 2
    assert after["by_line"]["0101"] == before["by_line"].get("0101", 0) + 1
