"""The campaign flow's settings: when, shadow, sample, rules and shadow_rules, checked at load."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from purecallerid import (
    SUPPRESSION_FIELDS,
    Action,
    AsyncScreener,
    CampaignSettings,
    Comparison,
    FileSettings,
    InMemoryResultStore,
    InMemorySettings,
    InMemorySuppressionList,
    IntegrationSettings,
    Lead,
    Operator,
    PureCallerIDIntegration,
    RuleSet,
    RunCondition,
    SettingsError,
    SuppressionIntegration,
    UncheckedRules,
    check_campaign,
    http_integrations,
    load_settings,
    purecallerid_preset,
)
from purecallerid.typing import Integration

PCID = {
    "id": "purecallerid",
    "kind": "purecallerid",
    "sort": 1,
    "base_url": "https://purecallerid.test",
    "credentials": {"api_token": "test-token-1", "campaign_id": "C-1", "list_name": "Main"},
}
LITIGATOR = {
    "id": "litigator",
    "kind": "http",
    "sort": 2,
    "base_url": "https://litigator.example",
    "credentials": {"api_key": "lit-key-0123456789"},
    "http": {"answer": {"fields": {"litigator": {"type": "boolean"}}}},
}
DNC = {"id": "dnc", "kind": "suppression", "sort": 3, "options": {"list": "house"}}


@pytest.fixture
def kinds() -> Iterator[list[Integration]]:
    """PureCallerID, the http kinds and a suppression list, closed after the test."""
    found: list[Integration] = [
        PureCallerIDIntegration(),
        *http_integrations(),
        SuppressionIntegration({"house": InMemorySuppressionList([])}),
    ]
    yield found

    async def close() -> None:
        for kind in found:
            await kind.aclose()

    asyncio.run(close())


def load(kinds: list[Integration], campaign: dict[str, Any]) -> CampaignSettings:
    """The campaign ``c`` of a document holding only it."""
    return load_settings({"campaigns": {"c": campaign}}, kinds=kinds, environ={})["c"]


def refused(kinds: list[Integration], campaign: dict[str, Any]) -> list[str]:
    """The problems of a document holding only the campaign ``c``."""
    with pytest.raises(SettingsError) as caught:
        load(kinds, campaign)
    return [str(p) for p in caught.value.problems]


def test_the_flow_keys_load_and_check(kinds: list[Integration]) -> None:
    campaign = load(
        kinds,
        {
            "integrations": [
                PCID,
                {
                    **LITIGATOR,
                    "when": 'purecallerid.status = "Accepted" and purecallerid.line_type != '
                    '"landline"',
                    "sample": "25%",
                },
                {**DNC, "shadow": True, "when": {"field": "litigator.litigator", "op": "is_false"}},
            ],
            "rules": [
                (
                    'reject-voip-litigator: reject when purecallerid.line_type = "voip" and '
                    "litigator.litigator is true"
                )
            ],
            "shadow_rules": "reject when dnc.suppressed is true",
        },
    )
    pcid, litigator, dnc = campaign.integrations
    assert (pcid.when, pcid.shadow, pcid.sample) == (None, False, None)
    assert litigator.when is not None
    assert litigator.when.fields is not None  # checked at load
    assert litigator.when.reads == ("purecallerid",)
    assert litigator.sample == 25.0
    assert (dnc.shadow, dnc.when is not None) == (True, True)
    assert isinstance(campaign.rules, RuleSet)
    assert [r.id for r in campaign.rules] == ["reject-voip-litigator"]
    assert isinstance(campaign.shadow_rules, RuleSet)
    assert campaign.has_flow
    assert campaign.has_shadow


def test_every_name_is_checked_at_load_with_its_path(kinds: list[Integration]) -> None:
    assert refused(
        kinds,
        {
            "integrations": [
                PCID,
                {**LITIGATOR, "when": 'purecallerid.staus = "Accepted"'},
                {**DNC, "when": "litigatr.litigator is true"},
            ],
            "rules": 'reject when purecallerid.line_type = "voip" and litigator.litigtor is true',
            "shadow_rules": ["flag when lead.state is blank", "reject when nobody.x is true"],
        },
    ) == [
        (
            "campaigns.c.integrations[1].when line 1, column 1: purecallerid has no field "
            '"staus"; did you mean "purecallerid.status"?'
        ),
        (
            "campaigns.c.integrations[2].when line 1, column 1: unknown integration "
            '"litigatr" in "litigatr.litigator"; did you mean "litigator.litigator"?'
        ),
        (
            'campaigns.c.rules line 1, column 49: litigator has no field "litigtor"; '
            'did you mean "litigator.litigator"?'
        ),
        (
            'campaigns.c.shadow_rules line 2, column 13: unknown field "nobody.x": fields here '
            "are <integration id>.<field> or lead.<name> (integrations: purecallerid, litigator, "
            "dnc)"
        ),
    ]


def test_a_when_reads_earlier_stages_only(kinds: list[Integration]) -> None:
    assert refused(
        kinds,
        {
            "integrations": [
                {**PCID, "when": "litigator.litigator is true"},
                {**LITIGATOR, "when": "litigator.litigator is true"},
                {**DNC, "sort": 2, "when": "litigator.litigator is false"},
            ]
        },
    ) == [
        (
            'campaigns.c.integrations[0].when line 1, column 1: "litigator.litigator" cannot be '
            "read here: litigator runs in a later stage (sort 2): its answer is not there yet"
        ),
        (
            'campaigns.c.integrations[1].when line 1, column 1: "litigator.litigator" cannot be '
            "read here: litigator is this integration: a when reads the answers of earlier stages"
        ),
        (
            'campaigns.c.integrations[2].when line 1, column 1: "litigator.litigator" cannot be '
            "read here: litigator runs in the same stage (sort 2): its answer is not there yet"
        ),
    ]


def test_live_parts_never_read_a_shadow_answer(kinds: list[Integration]) -> None:
    shadow = {**LITIGATOR, "shadow": True}
    assert refused(
        kinds,
        {
            "integrations": [PCID, shadow, {**DNC, "when": "litigator.litigator is false"}],
            "rules": "reject when litigator.litigator is true",
        },
    ) == [
        (
            'campaigns.c.integrations[2].when line 1, column 1: "litigator.litigator" cannot be '
            "read here: litigator is a shadow integration: only shadow_rules and the when of "
            "another shadow integration read its answer, so that it never changes a decision"
        ),
        (
            'campaigns.c.rules line 1, column 13: "litigator.litigator" cannot be read here: '
            "litigator is a shadow integration: only shadow_rules and the when of another shadow "
            "integration read its answer, so that it never changes a decision"
        ),
    ]
    # Shadow parts read it.
    campaign = load(
        kinds,
        {
            "integrations": [
                PCID,
                shadow,
                {**DNC, "shadow": True, "when": "litigator.litigator is false"},
            ],
            "shadow_rules": "reject when litigator.litigator is true",
        },
    )
    assert campaign.has_shadow


def test_ids_that_names_would_take_are_refused(kinds: list[Integration]) -> None:
    assert refused(
        kinds,
        {
            "integrations": [{**PCID, "id": "campaign"}, {**DNC, "id": "lead"}],
            "rules": "reject when lead.x is true",
        },
    ) == [
        (
            "campaigns.c.integrations[0].id: 'campaign' names the campaign's rules in decided_by "
            "(campaign:<rule id>); choose another id"
        ),
        (
            "campaigns.c.integrations[1].id: 'lead' names the lead in conditions and campaign "
            "rules (lead.<name>); choose another id"
        ),
    ]
    # Without qualified names, any id goes, as before.
    assert load(kinds, {"integrations": [{**PCID, "id": "campaign"}]}).integrations


@pytest.mark.parametrize(
    ("key", "value", "problem"),
    [
        ("sample", 101, "must be a percentage of leads from 0 to 100, not 101"),
        ("sample", -1, "must be a percentage of leads from 0 to 100, not -1"),
        ("sample", True, "must be a percentage of leads from 0 to 100, not True"),
        ("sample", "half", "must be a percentage of leads from 0 to 100, not 'half'"),
        ("shadow", "maybe", "must be true or false (or 1 or 0), not 'maybe'"),
        ("when", 5, "must be a condition (text or a condition table), not 5"),
        (
            "when",
            'purecallerid.status = "Accepted" and',
            "line 1, column 37: expected a field name, 'not' or '(', found the end of the line",
        ),
    ],
)
def test_values_are_read_with_the_classes_readers(
    kinds: list[Integration], key: str, value: object, problem: str
) -> None:
    where = f"campaigns.c.integrations[1].{key}"
    if key == "when" and isinstance(value, str):
        where += " "
    else:
        where += ": "
    assert refused(kinds, {"integrations": [PCID, {**LITIGATOR, key: value}]}) == [
        f"{where}{problem}"
    ]
    with pytest.raises(SettingsError) as caught:
        IntegrationSettings.from_table({"kind": "http", key: value})  # the same in code
    assert [str(p) for p in caught.value.problems] == [
        f"{where[len('campaigns.c.integrations[1].') :]}{problem}"
    ]


def test_values_in_every_shape_a_host_holds() -> None:
    built = IntegrationSettings(
        kind="http",
        when=Comparison("lead.state", Operator.EQUALS, "TX"),
        shadow="TRUE",
        sample="12.5",
    )
    assert (built.shadow, built.sample) == (True, 12.5)
    assert built.when == RunCondition('lead.state = "TX"')
    assert IntegrationSettings(kind="http", when='lead.state = "TX"') == built.__class__(
        kind="http", when={"field": "lead.state", "op": "equals", "value": "TX"}
    )
    assert IntegrationSettings(kind="http", when="  ", shadow=0, sample=None).when is None
    assert IntegrationSettings(kind="http", sample=0).sample == 0.0
    assert IntegrationSettings(kind="http", sample="100").sample == 100.0
    assert math.isclose(IntegrationSettings(kind="http", sample=1 / 3).sample or 0, 1 / 3)
    campaign = CampaignSettings(
        campaign_id="c", rules=['reject when lead.x = "y"'], shadow_rules=None
    )
    assert isinstance(campaign.rules, UncheckedRules)
    assert len(campaign.shadow_rules) == 0
    with pytest.raises(SettingsError) as caught:
        CampaignSettings(campaign_id="c", rules=5)  # type: ignore[arg-type]
    assert [str(p) for p in caught.value.problems] == [
        "rules: must be text, a list of rules or a rule document, not 5"
    ]
    with pytest.raises(SettingsError) as caught:
        CampaignSettings(campaign_id="c", shadow_rules="reject when")
    assert [str(p) for p in caught.value.problems] == [
        (
            "shadow_rules line 1, column 12: expected a field name, 'not' or '(', found the end "
            "of the line"
        )
    ]


def test_existing_hashes_stand() -> None:
    """A campaign using none of the flow hashes as it did before the flow existed."""
    campaign = CampaignSettings(
        campaign_id="solar",
        deadline=10,
        max_age="31d",
        integrations=[
            IntegrationSettings(
                kind="purecallerid",
                base_url="https://purecallerid.test",
                credentials={
                    "api_token": "test-token-1",
                    "campaign_id": "C-1",
                    "list_name": "Main",
                },
                rules=purecallerid_preset(),
            ),
            IntegrationSettings(
                kind="suppression",
                id="dnc",
                sort=2,
                options={"list": "house"},
                rules="reject when suppressed is true",
                quota={"daily": 5},
            ),
        ],
    )
    # Computed by the release before the campaign flow, for these very settings.
    assert campaign.settings_hash == (
        "24f6d8e220be9fe9501087a9d6d7fddd9d9dd25865751315a76c3fed5705049b"
    )
    assert not campaign.has_flow
    hashes = {campaign.settings_hash}
    dnc = campaign.integrations[1]
    for changes in (
        {"when": 'lead.state = "TX"'},
        {"shadow": True},
        {"sample": 50},
        {"sample": 100},
    ):
        changed = CampaignSettings(
            campaign_id="solar",
            deadline=10,
            max_age="31d",
            integrations=[
                campaign.integrations[0],
                IntegrationSettings(**{**_fields(dnc), **changes}),
            ],
        )
        hashes.add(changed.settings_hash)
    for key in ("rules", "shadow_rules"):
        changed = CampaignSettings(
            campaign_id="solar",
            deadline=10,
            max_age="31d",
            integrations=campaign.integrations,
            **{key: "reject when lead.x is true"},
        )
        hashes.add(changed.settings_hash)
    assert len(hashes) == 7  # each key changes the hash; none is lost
    unset = CampaignSettings(
        campaign_id="solar",
        deadline=10,
        max_age="31d",
        integrations=campaign.integrations,
        rules="",
        shadow_rules=[],
    )
    assert unset.settings_hash == campaign.settings_hash


def _fields(settings: IntegrationSettings) -> dict[str, Any]:
    return {
        name: getattr(settings, name)
        for name in ("kind", "id", "sort", "options", "rules", "quota")
    }


def test_check_campaign_checks_the_flow_built_in_code(kinds: list[Integration]) -> None:
    campaign = CampaignSettings(
        campaign_id="c",
        integrations=[
            {**PCID, "rules": purecallerid_preset()},
            {**DNC, "sort": 2, "when": 'purecallerid.statuss = "Accepted"'},
        ],
        rules="reject when dnc.suppresed is true",
    )
    with pytest.raises(SettingsError) as caught:
        check_campaign(campaign, kinds=kinds)
    assert [str(p) for p in caught.value.problems] == [
        (
            'integrations[1].when line 1, column 1: purecallerid has no field "statuss"; '
            'did you mean "purecallerid.status"?'
        ),
        'rules line 1, column 13: dnc has no field "suppresed"; did you mean "dnc.suppressed"?',
    ]
    fixed = CampaignSettings(
        campaign_id="c",
        integrations=[
            {**PCID, "rules": purecallerid_preset()},
            {**DNC, "sort": 2, "when": 'purecallerid.status = "Accepted"'},
        ],
        rules="reject when dnc.suppressed is true",
    )
    checked = check_campaign(fixed, kinds=kinds)
    assert isinstance(checked.rules, RuleSet)
    assert checked.settings_hash == fixed.settings_hash
    when = checked.integrations[1].when
    assert when is not None
    assert when.fields is not None


def test_a_rule_set_built_in_code_is_checked_against_the_campaign(
    kinds: list[Integration],
) -> None:
    """A RuleSet is read again against the campaign's fields: a bare name cannot slip in."""
    bare = RuleSet.from_text("reject when suppressed is true", SUPPRESSION_FIELDS)
    campaign = CampaignSettings(campaign_id="c", integrations=[DNC], rules=bare)
    with pytest.raises(SettingsError) as caught:
        check_campaign(campaign, kinds=kinds)
    assert [str(p) for p in caught.value.problems] == [
        (
            'rules /rules/0/when/field: "suppressed" names no integration: write '
            '<integration id>.<field>; did you mean "dnc.suppressed"?'
        )
    ]


def test_the_screener_holds_leads_of_broken_flow_settings_for_qa(
    kinds: list[Integration],
) -> None:
    campaign = CampaignSettings(
        campaign_id="c", integrations=[DNC], rules="reject when dnc.suppresed is true"
    )

    async def screen() -> tuple[Action, str | None]:
        screener = AsyncScreener(
            settings=InMemorySettings([campaign]), store=InMemoryResultStore(), integrations=kinds
        )
        record = await screener.screen(Lead(lead_id="1", campaign_id="c", fields={}))
        return record.decision, record.note

    decision, note = asyncio.run(screen())
    assert decision is Action.QA
    assert note == (
        'settings error: rules line 1, column 13: dnc has no field "suppresed"; '
        'did you mean "dnc.suppressed"?'
    )


def test_a_settings_file_refuses_rule_objects_in_a_document(kinds: list[Integration]) -> None:
    rules = RuleSet.from_text("reject when lead.x is true", SUPPRESSION_FIELDS)
    assert refused(kinds, {"integrations": [DNC], "rules": rules}) == [
        "campaigns.c.rules: a RuleSet object; pass its text or dict form"
    ]


def test_a_settings_file_with_the_flow(tmp_path: Path, kinds: list[Integration]) -> None:
    path = tmp_path / "settings.toml"
    path.write_text(
        """
[campaigns.c]
rules = 'reject when dnc.suppressed is true and lead.state = "TX"'

[[campaigns.c.integrations]]
id = "dnc"
kind = "suppression"
options = { list = "house" }
shadow = true
sample = 50
when = 'lead.state in ("TX", "CA")'
"""
    )
    with pytest.raises(SettingsError) as caught:
        FileSettings(path, kinds=kinds)
    assert [str(p) for p in caught.value.problems] == [
        (
            'campaigns.c.rules line 1, column 13: "dnc.suppressed" cannot be read here: dnc is a '
            "shadow integration: only shadow_rules and the when of another shadow integration "
            "read its answer, so that it never changes a decision"
        )
    ]
    path.write_text(path.read_text().replace("\nrules =", "\nshadow_rules ="))
    settings = FileSettings(path, kinds=kinds)
    campaign = asyncio.run(settings.get_campaign("c"))
    assert campaign is not None
    assert len(campaign.shadow_rules) == 1
