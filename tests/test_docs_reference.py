"""The reference pages of the docs site keep up with the code.

The configuration reference must list exactly the keys the settings loader accepts, and the
API reference must render every public name: both drift silently otherwise, since a missing
entry breaks no build.
"""

from __future__ import annotations

import asyncio
import re
import tomllib
from pathlib import Path

import pytest

import purecallerid
import purecallerid.testing
import purecallerid.typing
from purecallerid import (
    InMemorySuppressionList,
    IntegrationSettings,
    PureCallerIDIntegration,
    SuppressionIntegration,
    load_settings,
)
from purecallerid._integrations.calling_window import _OPTION_KEYS as _WINDOW_OPTION_KEYS
from purecallerid._integrations.configured.definition import (
    _ANSWER_KEYS,
    _ERROR_KEYS,
    _FIELD_KEYS,
    HTTP_KEYS,
)
from purecallerid._integrations.suppression.options import LIST_OPTIONS as _SUPPRESSION_LISTS
from purecallerid._integrations.suppression.options import OPTION_KEYS as _SUPPRESSION_OPTION_KEYS
from purecallerid._mapping import _MAPPING_KEYS, _SOURCE_KEYS
from purecallerid._settings_loader import _CAMPAIGN_KEYS, _CREDENTIAL_KEYS, _INTEGRATION_KEYS

DOCS = Path(__file__).parent.parent / "docs"
CONFIGURATION = DOCS / "configuration.md"
HEADING = re.compile(r"^#{1,6} (.+)$", re.MULTILINE)
# The first cell of a table row, when it is a key in backticks: "| `deadline` | ...".
KEY_ROW = re.compile(r"^\|\s*`([^`]+)`\s*\|", re.MULTILINE)
DIRECTIVE = re.compile(r"^::: ([\w.]+)\s*$", re.MULTILINE)


def suppression_option_keys() -> frozenset[str]:
    """The option names `SuppressionIntegration.check_settings` accepts, from the code it reads."""
    return frozenset(_SUPPRESSION_OPTION_KEYS)


# Section heading of configuration.md -> the keys its table must list, from the loader's code.
SECTIONS: dict[str, frozenset[str]] = {
    "The document": frozenset({"campaigns"}),  # load_settings' only top-level key
    "Campaign keys": _CAMPAIGN_KEYS,
    "Integration keys": _INTEGRATION_KEYS,
    "Credentials": _CREDENTIAL_KEYS,
    "Mapping": frozenset(_MAPPING_KEYS),
    "Target sources": frozenset(_SOURCE_KEYS),
    "Suppression options": suppression_option_keys(),
    "HTTP vendor": HTTP_KEYS,
    "HTTP answer": _ANSWER_KEYS,
    "HTTP answer fields": _FIELD_KEYS,
    "HTTP body errors": _ERROR_KEYS,
    "Calling window options": frozenset(_WINDOW_OPTION_KEYS),
}


def sections(text: str) -> dict[str, str]:
    """The page's text by heading, each up to the next heading of any level.

    Lines inside fenced code blocks are never headings (a TOML comment starts with ``#``).
    """
    found: dict[str, list[str]] = {}
    current: list[str] = []
    fenced = False
    for line in text.splitlines():
        if line.startswith("```"):
            fenced = not fenced
        heading = None if fenced else HEADING.match(line)
        if heading:
            current = found.setdefault(heading.group(1).strip(), [])
        else:
            current.append(line)
    return {title: "\n".join(lines) + "\n" for title, lines in found.items()}


@pytest.mark.parametrize("heading", sorted(SECTIONS))
def test_configuration_reference_lists_every_key(heading: str) -> None:
    """Each reference table lists exactly the keys the code accepts: none missing, none stale."""
    section = sections(CONFIGURATION.read_text())[heading]
    assert set(KEY_ROW.findall(section)) == SECTIONS[heading]


def test_configuration_example_loads(tmp_path: Path) -> None:
    """The complete file at the top of the configuration reference is valid settings."""
    section = sections(CONFIGURATION.read_text())["A complete file"]
    match = re.search(r"^```toml\n(.*?)^```", section, re.DOTALL | re.MULTILINE)
    assert match is not None
    tmp_path.joinpath("suppression.csv").write_text("phone,reason\n212-555-0150,complaint\n")
    pcid = PureCallerIDIntegration()
    try:
        campaigns = load_settings(
            tomllib.loads(match.group(1)),
            kinds=[pcid, SuppressionIntegration(base_dir=tmp_path)],
            environ={"PURECALLERID_API_TOKEN": "test-token"},
        )
    finally:
        asyncio.run(pcid.aclose())
    solar = campaigns["solar"]
    assert [i.id for i in solar.integrations] == ["house-dnc", "purecallerid"]
    assert solar.integrations[1].base_url == "https://purecallerid.test"


@pytest.mark.parametrize("option", sorted(_SUPPRESSION_LISTS))
def test_each_suppression_option_opens_a_list(option: str, tmp_path: Path) -> None:
    """Every option naming a list, read from the code, really selects a list on its own.

    No server is contacted: the PostgreSQL and Redis lists connect at their first lookup.
    """
    tmp_path.joinpath("list.csv").write_text("phone\n212-555-0150\n")
    values = {
        "csv": "list.csv",
        "sqlite": "list.db",
        "list": "house",
        "postgres": "postgresql://dnc@127.0.0.1:1/crm",
        "redis": "redis://127.0.0.1:1/0",
    }
    integration = SuppressionIntegration({"house": InMemorySuppressionList()}, base_dir=tmp_path)
    settings = IntegrationSettings(id="dnc", kind="suppression", options={option: values[option]})
    try:
        assert integration.check_settings(settings) == []
    finally:
        asyncio.run(integration.aclose())
    if option == "sqlite":
        assert tmp_path.joinpath("list.db").is_file()  # created with its table when missing


def rendered() -> set[str]:
    """Every identifier the API reference pages render with a ``:::`` directive."""
    return {
        identifier
        for page in DOCS.joinpath("api").glob("*.md")
        for identifier in DIRECTIVE.findall(page.read_text())
    }


PUBLIC = sorted(
    f"{module.__name__}.{name}"
    for module in (purecallerid, purecallerid.testing, purecallerid.typing)
    for name in module.__all__
)


@pytest.mark.parametrize("name", PUBLIC)
def test_api_reference_renders_every_public_name(name: str) -> None:
    """Each name of a public ``__all__`` has its entry in the API reference."""
    assert name in rendered()
