"""Invariants of the orchestrator over random campaigns."""

from __future__ import annotations

import asyncio
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
    IntegrationStatus,
    Lead,
)

integration_specs = st.fixed_dictionaries(
    {
        "verdict": st.sampled_from(["ok", "bad", "meh"]),
        "sort": st.integers(1, 3),
        "enabled": st.booleans(),
        "fail": st.sampled_from([None, None, "error"]),
        "latency": st.sampled_from([0.0, 0.0, 0.001, 0.003]),
        "failure_policy": st.sampled_from([a.value for a in Action]),
        "skip_remaining_on_reject": st.booleans(),
        "cancel_siblings_on_reject": st.booleans(),
    }
)


@given(specs=st.lists(integration_specs, min_size=1, max_size=5), leads=st.integers(1, 3))
def test_orchestrator_invariants(specs: list[dict[str, Any]], leads: int) -> None:
    """Exactly one record per lead; nothing after a rejecting stage runs; decision = max."""
    integrations = [scripted(f"i{n}", **spec) for n, spec in enumerate(specs)]
    campaign = CampaignSettings(campaign_id="c", integrations=integrations)
    fake = Scripted()
    store = InMemoryResultStore(check_json=True)

    async def go() -> None:
        screener = AsyncScreener(
            settings=InMemorySettings([campaign]), store=store, integrations=[fake]
        )
        await asyncio.gather(
            *(
                screener.screen(Lead(lead_id=f"L{n}", campaign_id="c", fields={}))
                for n in range(leads)
            )
        )

    asyncio.run(go())
    assert sorted(store.lead_ids()) == [f"L{n}" for n in range(leads)]

    by_id = {s.id: s for s in integrations}
    for lead_id in store.lead_ids():
        record = asyncio.run(store.load("c", lead_id))
        assert record is not None
        assert [r.integration_id for r in record.integrations] == [
            s.id for s in sorted(integrations, key=lambda s: s.sort)
        ]
        actions = [r.action for r in record.integrations if r.action is not None]
        assert record.decision is Action.most_severe(actions)
        # The first stage holding a reject by an integration that skips the rest: nothing
        # with a larger sort number was called.
        stopping = [
            r.sort
            for r in record.integrations
            if r.action is Action.REJECT and by_id[r.integration_id].skip_remaining_on_reject
        ]
        for r in record.integrations:
            settings_ = by_id[r.integration_id]
            if not settings_.enabled or (stopping and r.sort > min(stopping)):
                assert r.status is IntegrationStatus.SKIPPED
            else:
                assert r.status is not IntegrationStatus.SKIPPED
    # Calls: each lead calls only integrations that ran (completed, error or cancelled).
    ran = len(
        [
            r
            for lead_id in store.lead_ids()
            for r in asyncio.run(store.load("c", lead_id)).integrations  # type: ignore[union-attr]
            if r.status is not IntegrationStatus.SKIPPED
        ]
    )
    assert len(fake.calls) == ran
