"""Hypothesis properties of the campaign flow: shadow parts never decide; samples are fair."""

from __future__ import annotations

import asyncio
import math
import os
import subprocess
import sys
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from _scripted import Scripted, scripted
from purecallerid import (
    Action,
    AsyncScreener,
    CampaignSettings,
    InMemoryResultStore,
    InMemorySettings,
    IntegrationSettings,
    Lead,
    ScreeningRecord,
    in_sample,
)

_VERDICTS = st.sampled_from(["ok", "bad", "meh"])
_PART = st.fixed_dictionaries(
    {
        "verdict": _VERDICTS,
        "sort": st.integers(1, 3),
        "fail": st.sampled_from([None, None, "error"]),
        # Event-loop turns, not seconds: the two runs compared must order a stage alike.
        "turns": st.sampled_from([0, 0, 1, 4]),
        "failure_policy": st.sampled_from([a.value for a in Action]),
        "skip_remaining_on_reject": st.booleans(),
        "cancel_siblings_on_reject": st.booleans(),
    }
)
_RULES = st.sampled_from(
    [
        "",
        'reject when i0.verdict = "meh"',
        'qa when i0.verdict = "ok" and lead.n > 1',
        'flag when i0.verdict is blank because "no answer"',
    ]
)
_SHADOW_RULES = st.sampled_from(
    [
        "",
        'reject when i0.verdict = "ok"',
        'qa when s0.verdict = "bad" or unknown',
        'flag when lead.n >= 0\nreject when i0.verdict != "bad"',
    ]
)


def _screen(campaign: CampaignSettings, leads: int) -> list[ScreeningRecord]:
    async def go() -> list[ScreeningRecord]:
        async with AsyncScreener(
            settings=InMemorySettings([campaign]),
            store=InMemoryResultStore(check_json=True),
            integrations=[Scripted()],
        ) as screener:
            return [
                await screener.screen(Lead(lead_id=f"L{n}", campaign_id="c", fields={"n": n}))
                for n in range(leads)
            ]

    return asyncio.run(go())


def _live_view(record: ScreeningRecord) -> tuple[Any, ...]:
    """What the decision is made of, and what each live integration did."""
    live = [
        (r.integration_id, r.status, r.action, r.reasons, r.flags)
        for r in record.integrations
        if not r.shadow
    ]
    return (record.decision, record.reasons, record.flags, record.decided_by, live)


@given(
    live=st.lists(_PART, min_size=1, max_size=4),
    shadows=st.lists(_PART, min_size=0, max_size=3),
    rules=_RULES,
    shadow_rules=_SHADOW_RULES,
    leads=st.integers(1, 3),
)
def test_a_shadow_part_never_changes_the_decision(
    live: list[dict[str, Any]],
    shadows: list[dict[str, Any]],
    rules: str,
    shadow_rules: str,
    leads: int,
) -> None:
    """Whatever every integration answers, adding shadow parts leaves the decision alone."""
    integrations = [scripted(f"i{n}", **spec) for n, spec in enumerate(live)]
    trials: list[IntegrationSettings] = [
        scripted(f"s{n}", shadow=True, **spec) for n, spec in enumerate(shadows)
    ]
    if not trials and "s0." in shadow_rules:
        shadow_rules = ""  # no shadow integration for it to read
    base = CampaignSettings(campaign_id="c", integrations=integrations, rules=rules)
    trial = CampaignSettings(
        campaign_id="c",
        integrations=[*integrations, *trials],
        rules=rules,
        shadow_rules=shadow_rules,
    )
    without = _screen(base, leads)
    with_shadow = _screen(trial, leads)
    assert [_live_view(r) for r in with_shadow] == [_live_view(r) for r in without]
    for record in with_shadow:
        shadow = record.shadow
        assert (shadow is not None) == bool(trials or shadow_rules)
        if shadow is not None:
            # What the shadow parts would have decided is never milder than the live decision.
            assert shadow.decision.severity >= record.decision.severity
            counted = [r.action for r in record.integrations if r.action is not None]
            if record.campaign_rules is not None:
                counted.append(record.campaign_rules.action)
            if shadow.rules is not None:
                counted.append(shadow.rules.action)
            assert shadow.decision is Action.most_severe(counted)


_IDS = st.text(min_size=1, max_size=12)


@given(campaign_id=_IDS, integration_id=_IDS, percent=st.floats(0, 100))
def test_sampling_is_deterministic_and_close_to_its_percentage(
    campaign_id: str, integration_id: str, percent: float
) -> None:
    leads = [f"lead-{n}" for n in range(4000)]
    chosen = [in_sample(campaign_id, integration_id, lead, percent) for lead in leads]
    assert chosen == [in_sample(campaign_id, integration_id, lead, percent) for lead in leads]
    share = sum(chosen) / len(leads)
    p = percent / 100
    # Five standard deviations of a binomial share: a fair sample stays inside.
    assert abs(share - p) <= 5 * math.sqrt(p * (1 - p) / len(leads)) + 1e-9
    # A larger sample holds every lead of a smaller one: raising a trial only adds leads.
    larger = min(100.0, percent + 10)
    kept = [lead for lead, was in zip(leads, chosen, strict=True) if was]
    assert all(in_sample(campaign_id, integration_id, lead, larger) for lead in kept)


@given(lead_id=_IDS)
def test_nothing_is_sampled_at_zero_and_everything_at_a_hundred(lead_id: str) -> None:
    assert not in_sample("c", "i", lead_id, 0)
    assert in_sample("c", "i", lead_id, 100)


def test_sampling_is_the_same_in_another_process() -> None:
    """Not Python's ``hash()``: another process, with another hash seed, draws the same."""
    ids = [f"lead-{n}" for n in range(200)]
    here = "".join("1" if in_sample("solar", "litigator", i, 25) else "0" for i in ids)
    code = (
        "from purecallerid import in_sample\n"
        f"ids = {ids!r}\n"
        "print(''.join('1' if in_sample('solar', 'litigator', i, 25) else '0' for i in ids))\n"
    )
    there = subprocess.run(  # noqa: S603 - our own interpreter and code
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONHASHSEED": "12345"},
    ).stdout.strip()
    assert there == here
    assert 30 <= here.count("1") <= 70  # about a quarter of 200
