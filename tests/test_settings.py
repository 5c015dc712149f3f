"""Loading campaign settings: every problem at once, with paths; env references; hashes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from _scripted import Scripted
from purecallerid import (
    Action,
    CampaignSettings,
    ConfigurationError,
    FileSettings,
    IntegrationSettings,
    PureCallerIDIntegration,
    SettingsError,
    SuppressionIntegration,
    load_settings,
)
from purecallerid.typing import Integration

KINDS: list[Integration] = [PureCallerIDIntegration(), SuppressionIntegration(), Scripted()]


def pcid(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "kind": "purecallerid",
        "base_url": "https://purecallerid.test",
        "credentials": {"api_token": "token-0k-123", "campaign_id": "C1", "list_name": "Main"},
        "rules": ['reject when status = "Rejected" and reason in ("DNC", "TCPA_FLAG")'],
    }
    data.update(overrides)
    return data


def load(
    *integrations: dict[str, Any], environ: dict[str, str] | None = None, **campaign: Any
) -> Any:
    doc = {"campaigns": {"demo": {"integrations": list(integrations), **campaign}}}
    return load_settings(doc, kinds=KINDS, environ=environ or {})


def problems(exc: pytest.ExceptionInfo[SettingsError]) -> list[str]:
    return [str(p) for p in exc.value.problems]


def test_defaults() -> None:
    """An integration gets its documented defaults."""
    settings = load(pcid())["demo"]
    (integration,) = settings.integrations
    assert integration.id == "purecallerid"
    assert integration.enabled is True
    assert integration.sort == 1
    assert integration.failure_policy is Action.QA
    assert integration.skip_remaining_on_reject is True
    assert integration.cancel_siblings_on_reject is False
    assert integration.timeout == 5.0
    assert settings.deadline == 15.0
    assert "token-0k-123" not in repr(settings)


def test_missing_credentials_is_a_settings_error() -> None:
    """Enabling PureCallerID without its credentials fails at load, naming each one."""
    with pytest.raises(SettingsError) as info:
        load(pcid(credentials={"api_token": "", "campaign_id": "C1"}))
    assert problems(info) == [
        "campaigns.demo.integrations[0]: credentials.api_token is missing",
        "campaigns.demo.integrations[0]: credentials.list_name is missing",
    ]


def test_disabled_integration_needs_no_credentials() -> None:
    """A disabled integration may lack credentials: it will not be called."""
    settings = load(pcid(enabled=False, credentials={}))["demo"]
    assert settings.integrations[0].enabled is False


def test_every_problem_reported_at_once() -> None:
    """Unknown keys, wrong types, bad rules and unknown kinds are all listed together."""
    with pytest.raises(SettingsError) as info:
        load(
            pcid(sortt=2, timeout="fast", failure_policy="maybe"),
            pcid(id="x", rules=['reject when reason = "DNCC"']),
            {"kind": "telepathy"},
            deadline=-1,
        )
    found = problems(info)
    assert "campaigns.demo.deadline: must be a positive number of seconds, not -1" in found
    assert "campaigns.demo.integrations[0].sortt: unknown key; did you mean 'sort'?" in found
    assert (
        "campaigns.demo.integrations[0].timeout: must be a positive number of seconds, not 'fast'"
        in found
    )
    assert (
        "campaigns.demo.integrations[0].failure_policy: unknown action 'maybe'; "
        "use accept, flag, qa or reject" in found
    )
    assert any(
        p.startswith("campaigns.demo.integrations[1].rules") and 'did you mean "DNC"' in p
        for p in found
    )
    assert any(
        p.startswith("campaigns.demo.integrations[2].kind: unknown kind 'telepathy'") for p in found
    )


def test_duplicate_ids_refused() -> None:
    """Two integrations with the same id are refused."""
    with pytest.raises(SettingsError, match="repeated"):
        load(pcid(), pcid())


def test_env_references() -> None:
    """${VAR} and ${VAR:-default} are replaced; a missing VAR without default is a problem."""
    data = pcid(
        base_url="${BASE:-https://default.test}",
        credentials={"api_token": "${TOKEN}", "campaign_id": "C1", "list_name": "Main"},
    )
    settings = load(data, environ={"TOKEN": "from-env"})["demo"].integrations[0]
    assert settings.base_url == "https://default.test"
    assert settings.credentials.api_token is not None
    assert settings.credentials.api_token.reveal() == "from-env"
    with pytest.raises(SettingsError) as info:
        load(data)
    assert problems(info)[0] == (
        "campaigns.demo.integrations[0].credentials.api_token: "
        "environment variable TOKEN is not set (and has no default)"
    )


@pytest.mark.parametrize(
    "token", ["${PCID_TOKEN", "${PCID_TOKEN-fallback-token}", "${PCID_TOKEN:=fallback-token}"]
)
def test_a_mistyped_env_reference_is_a_problem_not_a_token(token: str) -> None:
    """Taken as text, `${PCID_TOKEN` would be sent as the token in every call."""
    data = pcid(credentials={"api_token": token, "campaign_id": "C1", "list_name": "Main"})
    with pytest.raises(SettingsError) as info:
        load(data, environ={"PCID_TOKEN": "from-env-token"})
    (problem,) = [p for p in problems(info) if "variable reference" in p]
    assert problem == (
        "campaigns.demo.integrations[0].credentials.api_token: a '${' starts no variable"
        " reference here: write ${NAME} or ${NAME:-default} (a default cannot contain '}')"
    )
    assert "PCID_TOKEN" not in problem  # what follows '${' may be a secret's own text
    # A '${' that starts no name, or a dotted one ('$' before a placeholder), stays text.
    for text in ("tok${}abc1234", "tok${lead.price}"):
        kept = pcid(credentials={"api_token": text, "campaign_id": "C1", "list_name": "M"})
        api_token = load(kept)["demo"].integrations[0].credentials.api_token
        assert api_token is not None
        assert api_token.reveal() == text


def test_hash_ignores_tokens_but_not_rules() -> None:
    """The settings hash changes with rules, not with the token."""
    base = load(pcid())["demo"].settings_hash
    credentials = {"api_token": "other-token-456", "campaign_id": "C1", "list_name": "Main"}
    other_token = pcid(credentials=credentials)
    assert load(other_token)["demo"].settings_hash == base
    assert load(pcid(rules=['reject when reason = "DNC"']))["demo"].settings_hash != base
    assert len(base) == 64


def test_stages_group_by_sort() -> None:
    """Enabled integrations are grouped by sort number, ascending."""
    settings = load(
        pcid(id="a", sort=2),
        pcid(id="b", sort=1),
        pcid(id="c", sort=2),
        pcid(id="d", enabled=False),
    )["demo"]
    assert [(sort, [i.id for i in stage]) for sort, stage in settings.stages()] == [
        (1, ["b"]),
        (2, ["a", "c"]),
    ]


def test_toml_file(tmp_path: Path) -> None:
    """A TOML file loads, with rules as text lines and a mapping table."""
    path = tmp_path / "settings.toml"
    path.write_text(
        """
[campaigns.demo]
deadline = 8

[[campaigns.demo.integrations]]
id = "pcid"
kind = "purecallerid"
base_url = "https://purecallerid.test"
rules = ['qa when status = "Accepted" and reason = "SUPPRESSED"']

[campaigns.demo.integrations.credentials]
api_token = "abc-token-789"
campaign_id = "C1"
list_name = "Main"

[campaigns.demo.integrations.mapping.targets]
phone = { source = "mobile" }
"""
    )
    provider = FileSettings(path, kinds=KINDS)
    assert provider.campaign_ids() == ["demo"]
    (integration,) = load_settings(path, kinds=KINDS)["demo"].integrations
    assert integration.mapping is not None
    assert integration.mapping.map_payload({"mobile": "212-555-0102"})["phone"] == "2125550102"


def test_json_file(tmp_path: Path) -> None:
    """A JSON file loads the same way."""
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"campaigns": {"demo": {"integrations": [pcid()]}}}))
    assert "demo" in load_settings(path, kinds=KINDS)


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("broken.toml", "[campaigns.demo\n", "not valid TOML"),
        ("broken.json", "{", "not valid JSON"),
        ("missing.toml", None, "cannot read"),
        ("empty.toml", "", "campaigns: is required"),
    ],
)
def test_broken_files(tmp_path: Path, name: str, content: str | None, message: str) -> None:
    """An unreadable or malformed file is one clear SettingsError."""
    path = tmp_path / name
    if content is not None:
        path.write_text(content)
    with pytest.raises(SettingsError, match=message):
        FileSettings(path, kinds=KINDS)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("sort", "one"),
        ("sort", 1.5),
        ("enabled", "no"),
        ("timeout", float("nan")),
        ("timeout", 0),
        ("timeout", "fast"),
        ("failure_policy", "maybe"),
        ("id", ""),
        ("skip_remaining_on_reject", 2),
    ],
)
def test_settings_built_in_code_are_checked(field: str, value: object) -> None:
    """Settings made in code get the checks a file gets: a SettingsError, not a later bug."""
    arguments: dict[str, object] = {"id": "a", "kind": "scripted", field: value}
    with pytest.raises(SettingsError) as caught:
        IntegrationSettings(**arguments)  # type: ignore[arg-type]
    assert [p.path for p in caught.value.problems] == [field]
    assert isinstance(caught.value, ConfigurationError)  # what code catching that still gets


@pytest.mark.parametrize("deadline", [float("nan"), -1, 0, "ten", "-1"])
def test_campaign_deadline_is_checked(deadline: float | str) -> None:
    """A campaign deadline that is not a positive number (or its digits) is refused."""
    with pytest.raises(SettingsError, match="deadline"):
        CampaignSettings(campaign_id="c", deadline=deadline)


def test_hash_is_canonical() -> None:
    """5 and 5.0 hash alike, and set-valued options hash the same in every process."""

    def campaign(timeout: float, options: dict[str, object]) -> str:
        integration = IntegrationSettings(id="a", kind="k", timeout=timeout, options=options)
        return CampaignSettings(campaign_id="c", integrations=[integration]).settings_hash

    assert campaign(5, {}) == campaign(5.0, {})
    assert campaign(5, {"s": {"b", "a", "c"}}) == campaign(5, {"s": {"c", "a", "b"}})
