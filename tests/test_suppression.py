"""Suppression lists and the suppression integration."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from purecallerid import (
    SUPPRESSION_FIELDS,
    ConfigurationError,
    CSVSuppressionList,
    FieldMapping,
    FieldSource,
    InMemorySuppressionList,
    IntegrationSettings,
    Lead,
    RuleSet,
    SQLiteSuppressionList,
    SuppressionIntegration,
    SuppressionListError,
)


def test_in_memory_list_normalizes() -> None:
    """Numbers are kept in E.164 whatever the format they were given in."""
    dnc = InMemorySuppressionList(["(212) 555-0150", ("+1 212 555 0151", "asked")])
    assert len(dnc) == 2
    entry = dnc.lookup("+12125550151")
    assert entry is not None
    assert entry.reason == "asked"
    assert dnc.lookup("+12125550150") is not None
    assert dnc.lookup("+12125550152") is None


def test_csv_list(tmp_path: Path) -> None:
    """A CSV list with phone and reason columns."""
    path = tmp_path / "dnc.csv"
    path.write_text("phone,reason\n212-555-0150,customer request\n2125550151,\n")
    dnc = CSVSuppressionList(path)
    assert len(dnc) == 2
    entry = dnc.lookup("+12125550150")
    assert entry is not None
    assert entry.reason == "customer request"


def test_csv_bad_rows_refused(tmp_path: Path) -> None:
    """A CSV list with invalid rows is refused, naming the lines, not silently shortened."""
    path = tmp_path / "dnc.csv"
    path.write_text("phone\n2125550150\nnot a phone\n12\n")
    with pytest.raises(ConfigurationError, match=r"line 3.*line 4"):
        CSVSuppressionList(path)


def test_csv_without_phone_column(tmp_path: Path) -> None:
    """A CSV without a phone column is refused."""
    path = tmp_path / "dnc.csv"
    path.write_text("number\n2125550150\n")
    with pytest.raises(ConfigurationError, match="no 'phone' column"):
        CSVSuppressionList(path)


def test_sqlite_list(tmp_path: Path) -> None:
    """A SQLite list survives reopening."""
    path = tmp_path / "dnc.db"
    dnc = SQLiteSuppressionList(path)
    dnc.add("212 555 0150", "litigator")
    dnc.close()
    again = SQLiteSuppressionList(path)
    entry = again.lookup("+12125550150")
    assert entry is not None
    assert entry.reason == "litigator"
    assert again.lookup("+12125550151") is None
    again.close()


def _screen(
    integration: SuppressionIntegration, options: dict[str, str], phone: str
) -> dict[str, object]:
    settings = IntegrationSettings(
        id="dnc",
        kind="suppression",
        options=options,
        rules=RuleSet.from_text("reject when suppressed is true", SUPPRESSION_FIELDS),
    )
    assert integration.check_settings(settings) == []
    lead = Lead(lead_id="L", campaign_id="c", fields={"phone": phone})
    answer = asyncio.run(integration.screen(lead, settings, deadline=1.0))
    return dict(answer.answer)


def test_integration_with_named_list() -> None:
    """The integration answers Suppressed or Clear from a named list."""
    integration = SuppressionIntegration({"dnc": InMemorySuppressionList([("2125550150", "DNC")])})
    assert _screen(integration, {"list": "dnc"}, "212.555.0150") == {
        "status": "Suppressed",
        "suppressed": True,
        "reason": "DNC",
        "list": "dnc",
    }
    assert _screen(integration, {"list": "dnc"}, "2125550151")["status"] == "Clear"


def test_integration_opens_files(tmp_path: Path) -> None:
    """The integration opens a CSV or SQLite list named in its options, relative to base_dir."""
    (tmp_path / "dnc.csv").write_text("phone\n2125550150\n")
    integration = SuppressionIntegration(base_dir=tmp_path)
    assert _screen(integration, {"csv": "dnc.csv"}, "2125550150")["suppressed"] is True
    SQLiteSuppressionList(tmp_path / "dnc.db").add("2125550151")
    assert _screen(integration, {"sqlite": "dnc.db"}, "2125550151")["suppressed"] is True
    asyncio.run(integration.aclose())


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({}, "exactly one of"),
        ({"list": "a", "csv": "b"}, "exactly one of"),
        ({"list": "nope"}, "no suppression list named 'nope'"),
        ({"csv": "missing.csv"}, "cannot read"),
    ],
)
def test_integration_settings_checked(options: dict[str, str], message: str) -> None:
    """Settings that name no usable list are reported at load."""
    settings = IntegrationSettings(id="dnc", kind="suppression", options=options)
    (problem,) = SuppressionIntegration().check_settings(settings)
    assert message in problem


def test_mapping_without_phone_is_a_settings_problem() -> None:
    """A suppression integration whose mapping has no phone target is refused at load."""
    settings = IntegrationSettings(
        id="dnc",
        kind="suppression",
        options={"list": "dnc"},
        mapping=FieldMapping(targets={"email": FieldSource(source="email", required=False)}),
    )
    integration = SuppressionIntegration({"dnc": InMemorySuppressionList()})
    assert integration.check_settings(settings) == [
        "mapping: a suppression list needs a 'phone' target"
    ]


def test_unreadable_list_is_a_library_error(tmp_path: Path) -> None:
    """A broken list database is a SuppressionListError: the failure policy decides."""
    path = tmp_path / "dnc.db"
    SQLiteSuppressionList(path).add("2125550150")
    integration = SuppressionIntegration(base_dir=tmp_path)
    settings = IntegrationSettings(id="dnc", kind="suppression", options={"sqlite": "dnc.db"})
    assert integration.check_settings(settings) == []
    (opened,) = integration._opened.values()
    assert isinstance(opened, SQLiteSuppressionList)
    opened._db.execute("DROP TABLE suppression")
    lead = Lead(lead_id="L", campaign_id="c", fields={"phone": "2125550150"})
    with pytest.raises(SuppressionListError, match="could not be read"):
        asyncio.run(integration.screen(lead, settings, deadline=1.0))
