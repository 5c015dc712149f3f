"""The campaign flow through the screener: when, campaign rules, shadow parts, samples.

The acceptance campaign: PureCallerID at sort 1; a litigator check (``kind = "http"``, on
RealValidation's routes of the fake vendor and of the simulator) at sort 2 when PureCallerID
accepted; a campaign rule rejecting a VoIP line whose number is a known litigator.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest

from _scripted import Scripted, scripted
from purecallerid import (
    Action,
    AsyncScreener,
    CampaignSettings,
    InMemoryResultStore,
    InMemorySettings,
    IntegrationRecord,
    IntegrationStatus,
    Lead,
    PureCallerIDIntegration,
    ScreeningRecord,
    SQLiteResultStore,
    agreement,
    converter,
    describe_plan,
    describe_screening,
    http_integrations,
    in_sample,
    load_settings,
    purecallerid_preset,
)
from purecallerid.testing import (
    CannedAnswer,
    FakePureCallerID,
    FakeVendor,
    Simulator,
    canned_answer_for,
)
from purecallerid.typing import Integration, ResultStore

TOKEN = "pcid-token-0123456789"
WHEN = 'purecallerid.status = "Accepted"'
CAMPAIGN_RULE = (
    'reject-voip-litigator: reject when purecallerid.line_type = "voip" and '
    'litigator.litigator is true because "VoIP line of a known litigator"'
)


def acceptance_document(pcid_url: str, litigator_url: str) -> dict[str, Any]:
    """The acceptance campaign ``c`` as a settings document."""
    return {
        "campaigns": {
            "c": {
                "rules": CAMPAIGN_RULE,
                "integrations": [
                    {
                        "id": "purecallerid",
                        "kind": "purecallerid",
                        "sort": 1,
                        "base_url": pcid_url,
                        "credentials": {
                            "api_token": TOKEN,
                            "campaign_id": "C-1",
                            "list_name": "Main",
                        },
                        "rules": purecallerid_preset().to_text(),
                    },
                    {
                        "id": "litigator",
                        "kind": "http",
                        "sort": 2,
                        "when": WHEN,
                        "base_url": litigator_url,
                        "credentials": {"token": "rv-token-0123456789"},
                        "mapping": {
                            "phone_format": "national",
                            "targets": {"phone": {"source": "phone", "transform": "phone"}},
                        },
                        "http": {
                            "method": "GET",
                            "path": "/rpvWebService/DNCLookup.php",
                            "send": "query",
                            "idempotent": True,
                            "query": {"token": "{credentials.token}", "output": "json"},
                            "answer": {
                                "fields": {
                                    "litigator": {
                                        "type": "boolean",
                                        "map": {"Y": True, "N": False, "?": True},
                                    }
                                }
                            },
                        },
                    },
                ],
            }
        }
    }


def lead(line: str, number: int = 0) -> Lead:
    """A lead whose phone is the test number of *line*."""
    return Lead(
        lead_id=f"{line}-{number}",
        campaign_id="c",
        fields={"phone": f"212-555-{line}", "zip": "10001", "state": "NY"},
    )


async def screen_all(
    campaigns: Iterable[CampaignSettings],
    kinds: list[Integration],
    leads: Iterable[Lead],
    store: ResultStore | None = None,
) -> list[ScreeningRecord]:
    """Screen *leads* one after the other with a fresh screener; its records."""
    async with AsyncScreener(
        settings=InMemorySettings(campaigns),
        store=store or InMemoryResultStore(check_json=True),
        integrations=kinds,
    ) as screener:
        return [await screener.screen(item) for item in leads]


@pytest.fixture
def vendor() -> FakeVendor:
    """RealValidation's fake, answering a VoIP litigator for line 0106."""
    fake = FakeVendor("realvalidation")
    fake.program("2125550106", CannedAnswer.json({"RESPONSECODE": "OK", "litigator": "Y"}))
    return fake


Setup = Callable[[], tuple[CampaignSettings, list[Integration]]]


@pytest.fixture
def in_process(vendor: FakeVendor) -> Setup:
    """Builds the acceptance campaign and its kinds, on the in-process fakes.

    Each call builds new kinds (a screener closes those it used), on the same fakes.
    """
    fake = FakePureCallerID(api_token=TOKEN)

    def build() -> tuple[CampaignSettings, list[Integration]]:
        kinds: list[Integration] = [
            PureCallerIDIntegration(transport=fake.async_transport()),
            *http_integrations(transport=vendor.async_transport()),
        ]
        document = acceptance_document("https://purecallerid.test", vendor.base_url)
        return load_settings(document, kinds=kinds)["c"], kinds

    return build


def test_the_litigator_is_never_called_for_leads_purecallerid_rejected(
    in_process: Setup, vendor: FakeVendor
) -> None:
    campaign, kinds = in_process()
    lines = ["0101", "0102", "0103", "0104", "0105", "0106", "0107", "0190"]
    records = asyncio.run(screen_all([campaign], kinds, [lead(line) for line in lines]))
    by_line = {r.lead_id.partition("-")[0]: r for r in records}
    # Called for the leads PureCallerID accepted, and for no other.
    assert sorted(line or "" for line in vendor.lines) == ["0105", "0106", "0107"]
    for line in ("0101", "0102", "0103"):  # rejected by PureCallerID: skipped, as before
        skipped = by_line[line].integration("litigator")
        assert skipped.status is IntegrationStatus.SKIPPED
        assert skipped.skip_reason == "not called: purecallerid rejected the lead"
    # Status Rejected (INVALID) without a reject rule: its when skips the paid call.
    invalid = by_line["0104"].integration("litigator")
    assert invalid.status is IntegrationStatus.SKIPPED
    assert invalid.skip_reason == f"not called: its condition did not hold: {WHEN}"
    assert invalid.when_trace == {
        "condition": WHEN,
        "outcome": "not_matched",
        "values": {"purecallerid.status": "Rejected"},
    }
    # PureCallerID failed: the condition cannot be told, and says why.
    failed = by_line["0190"].integration("litigator")
    assert failed.status is IntegrationStatus.SKIPPED
    assert failed.skip_reason == (
        f"not called: its condition could not be told (no answer from purecallerid (error)): {WHEN}"
    )
    assert failed.when_trace is not None
    assert failed.when_trace["outcome"] == "unknown"
    ran = by_line["0107"].integration("litigator")
    assert ran.status is IntegrationStatus.COMPLETED
    assert ran.when_trace == {
        "condition": WHEN,
        "outcome": "matched",
        "values": {"purecallerid.status": "Accepted"},
    }


def test_the_campaign_rule_decides_and_is_named(
    in_process: Setup,
) -> None:
    campaign, kinds = in_process()
    voip, plain = asyncio.run(screen_all([campaign], kinds, [lead("0106"), lead("0107")]))
    assert voip.decision is Action.REJECT
    assert voip.decided_by == "campaign:reject-voip-litigator"
    assert voip.reasons == ("VoIP line of a known litigator",)
    assert voip.campaign_rules is not None
    assert voip.campaign_rules.decided_by == "reject-voip-litigator"
    [step] = voip.campaign_rules.rule_trace
    assert step["rule_id"] == "reject-voip-litigator"
    assert step["outcome"] == "matched"
    assert step["values"] == {"purecallerid.line_type": "voip", "litigator.litigator": True}
    # Each integration alone accepted: only the campaign rule saw both answers.
    assert [r.action for r in voip.integrations] == [Action.ACCEPT, Action.ACCEPT]
    assert plain.decision is Action.ACCEPT
    assert plain.decided_by is None
    assert plain.campaign_rules is not None
    assert plain.campaign_rules.action is Action.ACCEPT
    assert voip.shadow is None  # no shadow part: nothing said about one


def test_an_integration_that_decides_first_keeps_decided_by(
    in_process: Setup,
) -> None:
    """The campaign rules count after every integration: on a tie, the integration names it."""
    campaign, kinds = in_process()
    pcid = campaign.integrations[0]
    both = CampaignSettings(
        campaign_id="c",
        integrations=[pcid],
        rules='reject-dnc: reject when purecallerid.reason = "DNC" because "DNC again"',
    )
    [record] = asyncio.run(screen_all([both], kinds, [lead("0102")]))
    assert record.decided_by == "purecallerid:reject-bad-phone"
    assert record.reasons == ("Rejected by PureCallerID: DNC", "DNC again")
    assert record.campaign_rules is not None
    assert record.campaign_rules.decided_by == "reject-dnc"


def test_acceptance_on_the_simulator(tmp_path: Path) -> None:
    """The same campaign over real HTTP, the calls counted by the simulator."""
    with Simulator(api_token=TOKEN) as sim:
        # PureCallerID says VoIP for 0101, the number RealValidation knows as a litigator.
        sim.program("2125550101", canned_answer_for("2125550106"))
        kinds: list[Integration] = [PureCallerIDIntegration(), *http_integrations()]
        document = acceptance_document(sim.url, sim.preset_url("realvalidation"))
        campaign = load_settings(document, kinds=kinds)["c"]
        lines = ["0101", "0102", "0103", "0104", "0105", "0107"]
        store = SQLiteResultStore(tmp_path / "records.db")
        try:
            records = asyncio.run(
                screen_all([campaign], kinds, [lead(line) for line in lines], store)
            )
        finally:
            store.close()
        stats = sim.stats()
    decided = {r.lead_id.partition("-")[0]: (r.decision.value, r.decided_by) for r in records}
    assert decided == {
        "0101": ("reject", "campaign:reject-voip-litigator"),
        "0102": ("reject", "purecallerid:reject-bad-phone"),
        "0103": ("reject", "purecallerid:reject-bad-phone"),
        "0104": ("accept", None),
        "0105": ("qa", "purecallerid:qa-suppressed"),
        "0107": ("accept", None),
    }
    # The litigator list was asked for the three leads PureCallerID accepted, no other.
    assert stats["by_preset"] == {"realvalidation": 3}
    # By line, PureCallerID's calls and the litigator's together: one call for the leads
    # PureCallerID rejected (0104: status Rejected), two for the others.
    assert {line: stats["by_line"].get(line, 0) for line in lines} == {
        "0101": 2,
        "0102": 1,
        "0103": 1,
        "0104": 1,
        "0105": 2,
        "0107": 2,
    }


def scripted_leads(count: int) -> list[Lead]:
    return [Lead(lead_id=f"L{n:04d}", campaign_id="c", fields={}) for n in range(count)]


def test_a_shadow_rule_set_over_a_thousand_leads(
    in_process: Setup,
) -> None:
    """The same decisions with and without it; the agreement counts what it would have done."""
    campaign, kinds = in_process()
    lines = ["0101", "0102", "0103", "0104", "0105", "0106", "0107", "0108"]
    leads = [lead(lines[n % len(lines)], n) for n in range(1000)]
    shadow_rules = (
        'reject-low-activity: reject when purecallerid.activity_score < 40 because "Low"\n'
        'flag when purecallerid.line_type = "voip"'
    )
    trial = CampaignSettings(
        campaign_id="c",
        integrations=campaign.integrations,
        rules=campaign.rules,
        shadow_rules=shadow_rules,
    )
    live = asyncio.run(screen_all([campaign], kinds, leads))
    _, kinds = in_process()
    with_shadow = asyncio.run(screen_all([trial], kinds, leads))

    def decided(record: ScreeningRecord) -> tuple[Any, ...]:
        return (record.lead_id, record.decision, record.reasons, record.flags, record.decided_by)

    assert [decided(r) for r in with_shadow] == [decided(r) for r in live]
    assert all(r.shadow is None for r in live)
    table = agreement(with_shadow)
    # Line 0106 (activity 12) is the only one the shadow rules would reject; live, the
    # campaign rule already rejects it, so every lead agrees.
    expected = Counter((r.decision, r.decision) for r in live)
    assert dict(table.counts) == dict(expected)
    assert (table.total, table.agreed, table.rate, table.left_out) == (1000, 1000, 1.0, 0)
    shadow_only = agreement(with_shadow, part="shadow_rules")
    assert shadow_only.total == 1000
    first = with_shadow[5]  # line 0106
    assert first.shadow is not None
    assert first.shadow.rules is not None
    assert first.shadow.rules.decided_by == "reject-low-activity"
    assert first.shadow.rules.flags == ("rule-2",)
    assert first.shadow.decided_by == "campaign:reject-voip-litigator"
    assert agreement(live).left_out == 1000


def test_a_shadow_rule_set_that_disagrees() -> None:
    """Agreement data counts each (live, shadow) pair."""
    integrations = [scripted("a", "ok"), scripted("b", "meh", sort=2)]
    campaign = CampaignSettings(
        campaign_id="c",
        integrations=integrations,
        shadow_rules='qa-meh: qa when b.verdict = "meh" and lead.n < 300',
    )
    leads = [Lead(lead_id=f"L{n}", campaign_id="c", fields={"n": n}) for n in range(1000)]
    records = asyncio.run(screen_all([campaign], [Scripted()], leads))
    assert {r.decision for r in records} == {Action.FLAG}
    table = agreement(records)
    assert table.count("flag", "qa") == 300
    assert table.count(Action.FLAG, Action.FLAG) == 700
    assert (table.agreed, table.total, table.rate) == (700, 1000, 0.7)
    assert table.matrix() == [[0, 0, 0, 0], [0, 700, 300, 0], [0, 0, 0, 0], [0, 0, 0, 0]]
    assert table.to_dict() == {
        "part": None,
        "actions": ["accept", "flag", "qa", "reject"],
        "matrix": table.matrix(),
        "total": 1000,
        "agreed": 700,
        "rate": 0.7,
        "left_out": 0,
    }
    assert table.to_text() == (
        "live \\ shadow   accept    flag      qa  reject\n"
        "accept               0       0       0       0\n"
        "flag                 0     700     300       0\n"
        "qa                   0       0       0       0\n"
        "reject               0       0       0       0\n"
        "shadow decision: agreed on 700 of 1,000 leads (70.0%)\n"
    )
    assert agreement([]).to_text().endswith("shadow decision: no lead screened with it\n")


def test_a_shadow_integration_runs_in_full_and_never_counts() -> None:
    fake = Scripted()
    integrations = [
        scripted("live", "ok", latency=0.01),
        scripted("trial", "bad", shadow=True, cancel_siblings_on_reject=True),
        scripted("later", "meh", sort=2),
    ]
    campaign = CampaignSettings(campaign_id="c", integrations=integrations)
    [record] = asyncio.run(screen_all([campaign], [fake], scripted_leads(1)))
    trial = record.integration("trial")
    # Recorded in full, as what it would have done.
    assert trial.shadow is True
    assert (trial.status, trial.action, trial.reasons) == (
        IntegrationStatus.COMPLETED,
        Action.REJECT,
        ("bad verdict",),
    )
    assert trial.answer == {"verdict": "bad"}
    # Its reject cancelled no sibling and skipped no later stage; it does not count.
    assert sorted(fake.finished) == ["later", "live", "trial"]
    assert (record.decision, record.decided_by, record.flags) == (
        Action.FLAG,
        "later:rule-2",
        ("meh",),
    )
    assert record.shadow is not None
    assert (record.shadow.decision, record.shadow.decided_by) == (Action.REJECT, "trial:rule-1")
    assert record.shadow.integrations == ("trial",)
    assert record.shadow.rules is None
    assert agreement([record], part="trial").count("flag", "reject") == 1
    assert agreement([record], part="shadow_rules").left_out == 1
    assert agreement([record], part="live").left_out == 1  # not a shadow integration


def test_a_shadow_integration_skipped_by_a_live_reject_agrees() -> None:
    integrations = [
        scripted("live", "bad"),
        scripted("trial", "meh", sort=2, shadow=True),
    ]
    campaign = CampaignSettings(campaign_id="c", integrations=integrations)
    [record] = asyncio.run(screen_all([campaign], [Scripted()], scripted_leads(1)))
    trial = record.integration("trial")
    assert (trial.status, trial.shadow) == (IntegrationStatus.SKIPPED, True)
    assert agreement([record], part="trial").count("reject", "reject") == 1


def test_a_sample_runs_for_its_share_of_leads_the_same_each_time() -> None:
    integrations = [scripted("always", "ok"), scripted("trial", "meh", sample=30)]
    campaign = CampaignSettings(campaign_id="c", integrations=integrations)
    leads = scripted_leads(2000)
    runs = []
    for _ in range(2):
        fake = Scripted()
        records = asyncio.run(screen_all([campaign], [fake], leads))
        runs.append([r.integration("trial").status for r in records])
        expected = [in_sample("c", "trial", item.lead_id, 30) for item in leads]
        assert fake.calls.count("trial") == sum(expected)
        assert [s is IntegrationStatus.COMPLETED for s in runs[-1]] == expected
    assert runs[0] == runs[1]
    assert 540 <= runs[0].count(IntegrationStatus.COMPLETED) <= 660  # 30 % of 2,000, give or take
    skipped = records[expected.index(False)].integration("trial")
    assert skipped.skip_reason == "not called: sampled out (it runs for 30% of leads)"


def test_a_when_over_a_disabled_integration_says_so() -> None:
    integrations = [
        scripted("off", "ok", enabled=False),
        scripted("gated", "meh", sort=2, when='off.verdict = "ok"'),
        scripted("blank", "meh", sort=2, when='off.verdict = "ok" or off.verdict is blank'),
        scripted("bylead", "meh", sort=2, when="lead.n > 3"),
    ]
    campaign = CampaignSettings(campaign_id="c", integrations=integrations)
    [record] = asyncio.run(
        screen_all(
            [campaign],
            [Scripted()],
            [Lead(lead_id="1", campaign_id="c", fields={"n": "many"})],
        )
    )
    assert record.integration("gated").skip_reason == (
        "not called: its condition could not be told (no answer from off (not called: "
        'disabled)): off.verdict = "ok"'
    )
    assert record.integration("blank").status is IntegrationStatus.COMPLETED
    assert record.integration("bylead").skip_reason == (
        "not called: its condition could not be told (a field it reads has no value): lead.n > 3"
    )


def test_records_of_the_flow_round_trip_through_the_stores(tmp_path: Path) -> None:
    integrations = [
        scripted("a", "meh"),
        scripted("b", "bad", sort=2, shadow=True, when='a.verdict = "meh"'),
    ]
    campaign = CampaignSettings(
        campaign_id="c",
        integrations=integrations,
        rules='flag-meh: flag when a.verdict = "meh" because "meh again"',
        shadow_rules="qa when lead.x = 1",
    )
    store = SQLiteResultStore(tmp_path / "records.db")
    try:
        [record] = asyncio.run(
            screen_all(
                [campaign],
                [Scripted()],
                [Lead(lead_id="1", campaign_id="c", fields={"x": 1})],
                store,
            )
        )
        loaded = asyncio.run(store.load("c", "1"))
    finally:
        store.close()
    assert loaded == record
    assert record.campaign_rules is not None
    assert record.flags == ("meh", "meh again")
    assert record.shadow is not None
    assert record.shadow.decision is Action.REJECT
    public = record.to_public_dict()
    assert public["shadow"]["decision"] == "reject"
    assert public["shadow"]["rules"]["action"] == "qa"
    assert public["campaign_rules"]["decided_by"] == "flag-meh"
    assert public["integrations"][1]["shadow"] is True
    assert public["integrations"][1]["when_trace"]["outcome"] == "matched"
    data = json.loads(json.dumps(converter.unstructure(record)))
    assert converter.structure(data, ScreeningRecord) == record


def test_records_without_the_flow_keep_their_shape() -> None:
    """A campaign using none of it writes records with exactly the keys it wrote before."""
    campaign = CampaignSettings(campaign_id="c", integrations=[scripted("a", "ok")])
    [record] = asyncio.run(screen_all([campaign], [Scripted()], scripted_leads(1)))
    data = converter.unstructure(record)
    assert not {"campaign_rules", "shadow"} & set(data)
    assert not {"shadow", "when_trace"} & set(data["integrations"][0])
    older = dict(data.items())
    assert converter.structure(older, ScreeningRecord) == record
    skipped = IntegrationStatus.SKIPPED
    assert IntegrationRecord(integration_id="x", kind="k", sort=1, status=skipped).shadow is False


def test_describe_plan() -> None:
    integrations = [
        scripted("purecallerid", "ok"),
        scripted("dnc", "ok"),
        scripted("litigator", "ok", sort=2, when='purecallerid.verdict = "ok"', sample=25),
        scripted("trial", "ok", sort=2, shadow=True, skip_remaining_on_reject=False),
        scripted("old", "ok", sort=3, enabled=False, cancel_siblings_on_reject=True),
    ]
    campaign = CampaignSettings(
        campaign_id="solar",
        integrations=integrations,
        deadline=10,
        rules='reject-both: reject when purecallerid.verdict = "bad" and dnc.verdict = "bad"',
        shadow_rules='qa when trial.verdict = "meh"',
    )
    assert describe_plan(campaign) == (
        "campaign solar: deadline 10 s\n"
        "stage 1 (sort 1, run together)\n"
        "  purecallerid (scripted)\n"
        "  dnc (scripted)\n"
        "stage 2 (sort 2, run together)\n"
        '  litigator (scripted): when purecallerid.verdict = "ok"; sample 25% of leads\n'
        "  trial (scripted): shadow: recorded, never counts; its reject does not skip later "
        "stages\n"
        "disabled (never called)\n"
        "  old (scripted)\n"
        "campaign rules (after the plan; they count)\n"
        '  reject-both: reject when purecallerid.verdict = "bad" and dnc.verdict = "bad"\n'
        "shadow rules (after the plan; recorded, never count)\n"
        '  qa when trial.verdict = "meh"\n'
    )
    assert describe_plan(CampaignSettings(campaign_id="empty")) == (
        "campaign empty: deadline 15 s\nno integrations: every lead is accepted\n"
    )


def test_describe_screening(
    in_process: Setup,
) -> None:
    campaign, kinds = in_process()
    trial = CampaignSettings(
        campaign_id="c",
        integrations=campaign.integrations,
        rules=campaign.rules,
        shadow_rules="qa-low: qa when purecallerid.activity_score < 40",
    )
    voip, rejected = asyncio.run(screen_all([trial], kinds, [lead("0106"), lead("0102")]))
    assert describe_screening(voip) == (
        "lead 0106-0, campaign c: reject (decided by campaign:reject-voip-litigator)\n"
        "  purecallerid (purecallerid, sort 1): completed, accept\n"
        "  litigator (http, sort 2): completed, accept; ran because its condition held: "
        f"{WHEN}\n"
        "  campaign rules: reject by reject-voip-litigator\n"
        "  shadow rules: would qa by qa-low\n"
        "shadow: would have decided reject (decided by campaign:reject-voip-litigator; same)\n"
    )
    assert describe_screening(rejected).splitlines()[2] == (
        "  litigator (http, sort 2): not called: purecallerid rejected the lead"
    )
