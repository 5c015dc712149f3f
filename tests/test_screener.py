"""The orchestrator: plans, skip-on-reject, failures as outcomes, records, re-screening."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
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
    IntegrationSettings,
    IntegrationStatus,
    InvalidLeadError,
    Lead,
    Screener,
    ScreeningRecord,
    StorageError,
    converter,
)


def lead(lead_id: str = "L1", campaign_id: str = "c", **fields: Any) -> Lead:
    return Lead(lead_id=lead_id, campaign_id=campaign_id, fields={"phone": "2125550000", **fields})


def run(
    *integrations: Any, deadline: float = 5.0, store: Any = None, observer: Any = None
) -> tuple[ScreeningRecord, Scripted, Any]:
    """Screen one lead with a campaign of scripted integrations."""
    fake = Scripted()
    store = InMemoryResultStore(check_json=True) if store is None else store
    campaign = CampaignSettings(campaign_id="c", integrations=integrations, deadline=deadline)

    async def go() -> ScreeningRecord:
        async with AsyncScreener(
            settings=InMemorySettings([campaign]),
            store=store,
            integrations=[fake],
            observer=observer,
        ) as screener:
            return await screener.screen(lead())

    return asyncio.run(go()), fake, store


def statuses(record: ScreeningRecord) -> dict[str, str]:
    return {r.integration_id: r.status.value for r in record.integrations}


def test_all_accept() -> None:
    """Integrations that all accept give accept, with no reasons."""
    record, fake, _ = run(scripted("a"), scripted("b", sort=2))
    assert record.decision is Action.ACCEPT
    assert record.reasons == ()
    assert record.decided_by is None
    assert fake.calls == ["a", "b"]


def test_toggle_off_is_skipped() -> None:
    """A disabled integration is recorded as skipped and never called."""
    record, fake, _ = run(scripted("a", "bad", enabled=False), scripted("b"))
    assert fake.calls == ["b"]
    assert statuses(record) == {"a": "skipped", "b": "completed"}
    assert record.integration("a").skip_reason == "disabled for this campaign"
    assert record.decision is Action.ACCEPT


def test_sequential_reject_skips_later_stages() -> None:
    """A reject in stage 1 means the later stages are never called."""
    record, fake, _ = run(scripted("a", "bad"), scripted("b", sort=2), scripted("c", sort=3))
    assert fake.calls == ["a"]
    assert record.decision is Action.REJECT
    assert record.decided_by == "a:rule-1"
    assert record.reasons == ("bad verdict",)
    assert statuses(record) == {"a": "completed", "b": "skipped", "c": "skipped"}
    assert record.integration("b").skip_reason == "not called: a rejected the lead"


def test_skip_remaining_can_be_turned_off() -> None:
    """With skip_remaining_on_reject off, later stages still run; the decision stays reject."""
    record, fake, _ = run(
        scripted("a", "bad", skip_remaining_on_reject=False), scripted("b", sort=2)
    )
    assert fake.calls == ["a", "b"]
    assert record.decision is Action.REJECT


def test_parallel_stage_runs_concurrently() -> None:
    """Integrations with the same sort number all start before any finishes."""
    record, fake, _ = run(
        scripted("a", latency=0.05), scripted("b", latency=0.05), scripted("c", latency=0.05)
    )
    assert sorted(fake.calls) == ["a", "b", "c"]
    assert record.duration < 0.14  # about one latency, not three
    assert all(r.status is IntegrationStatus.COMPLETED for r in record.integrations)


def test_mixed_stages() -> None:
    """Stage 1 in parallel, then stage 2; a reject in stage 1 lets its sibling finish."""
    record, fake, _ = run(
        scripted("a", "bad"),
        scripted("b", "meh", latency=0.02),
        scripted("c", sort=2),
    )
    assert sorted(fake.calls) == ["a", "b"]
    assert statuses(record) == {"a": "completed", "b": "completed", "c": "skipped"}
    assert record.decision is Action.REJECT
    assert record.flags == ("meh",)


def test_cancel_siblings_on_reject() -> None:
    """A reject can cancel its still-running siblings, recorded as cancelled."""
    record, fake, _ = run(
        scripted("a", "bad", cancel_siblings_on_reject=True),
        scripted("b", latency=1.0),
    )
    assert fake.finished == ["a"]
    b = record.integration("b")
    assert b.status is IntegrationStatus.CANCELLED
    assert b.action is None
    assert b.outcome_unknown is True
    assert b.skip_reason == "cancelled: a rejected the lead"
    assert record.duration < 0.5


def test_siblings_not_cancelled_by_default() -> None:
    """By default a reject lets the siblings of its stage finish (their answers are evidence)."""
    record, fake, _ = run(scripted("a", "bad"), scripted("b", latency=0.05))
    assert sorted(fake.finished) == ["a", "b"]
    assert record.integration("b").status is IntegrationStatus.COMPLETED


@pytest.mark.parametrize("policy", list(Action))
def test_failure_policy_decides_errors(policy: Action) -> None:
    """An integration failure is an error outcome whose action is the failure policy."""
    record, _, _ = run(scripted("a", fail="error", failure_policy=policy))
    a = record.integration("a")
    assert a.status is IntegrationStatus.ERROR
    assert a.error_class == "connection"
    assert a.action is policy
    assert a.decided_by == "failure_policy"
    assert record.decision is policy


def test_error_policy_reject_skips_later_stages() -> None:
    """A failure whose policy is reject stops the later stages like any reject."""
    record, fake, _ = run(
        scripted("a", fail="error", failure_policy="reject"), scripted("b", sort=2)
    )
    assert fake.calls == ["a"]
    assert record.decision is Action.REJECT


def test_integration_timeout() -> None:
    """An integration slower than its timeout is an error of class timeout."""
    record, _, _ = run(scripted("a", latency=1.0, timeout=0.05))
    a = record.integration("a")
    assert a.status is IntegrationStatus.ERROR
    assert a.error_class == "timeout"
    assert a.outcome_unknown is True
    assert record.decision is Action.QA


def test_deadline_exhaustion() -> None:
    """When the campaign deadline is spent, later integrations are not called."""
    record, fake, _ = run(scripted("a", latency=1.0), scripted("b", sort=2), deadline=0.05)
    assert fake.calls == ["a"]
    assert record.integration("a").error_class == "timeout"
    b = record.integration("b")
    assert b.status is IntegrationStatus.ERROR
    assert b.error_class == "deadline_exceeded"
    assert b.outcome_unknown is False
    assert record.duration < 0.5


def test_host_bug_surfaces() -> None:
    """An exception that is not a library error propagates: it is a bug, not an outcome."""
    with pytest.raises(RuntimeError, match="a bug in host code"):
        run(scripted("a", fail="bug"))


def test_unknown_campaign_goes_to_qa() -> None:
    """A lead of a campaign without settings is held for review, with a note."""
    store = InMemoryResultStore()

    async def go() -> ScreeningRecord:
        screener = AsyncScreener(settings=InMemorySettings(), store=store, integrations=[])
        return await screener.screen(lead(campaign_id="nope"))

    record = asyncio.run(go())
    assert record.decision is Action.QA
    assert record.note == "no screening settings for campaign 'nope'"
    assert len(store) == 1


def test_settings_problem_goes_to_qa() -> None:
    """Settings an integration refuses (missing credentials) hold the lead, naming why."""
    record, fake, _ = run(scripted("a", fail=None, options={}))
    assert fake.calls == []
    assert record.decision is Action.QA
    assert record.note == "settings error: a: no verdict"


def test_unknown_kind_goes_to_qa() -> None:
    """An integration kind the screener was not given holds the lead."""
    record, _, _ = run(IntegrationSettings(id="x", kind="mystery"))
    assert record.decision is Action.QA
    assert record.note is not None
    assert "no integration of kind 'mystery'" in record.note


@pytest.mark.parametrize(
    "bad", [Lead(lead_id="", campaign_id="c"), Lead(lead_id="  ", campaign_id="c"), "L1"]
)
def test_invalid_lead(bad: Any) -> None:
    """A lead without a usable id is refused with InvalidLeadError."""

    async def go() -> None:
        screener = AsyncScreener(
            settings=InMemorySettings(), store=InMemoryResultStore(), integrations=[]
        )
        await screener.screen(bad)

    with pytest.raises(InvalidLeadError):
        asyncio.run(go())


def test_rescreen_returns_stored_record() -> None:
    """A lead id with a record gets it back without a call; force re-screens."""
    fake = Scripted()
    store = InMemoryResultStore()
    campaign = CampaignSettings(campaign_id="c", integrations=[scripted("a", "meh")])

    async def go() -> tuple[ScreeningRecord, ScreeningRecord, ScreeningRecord]:
        screener = AsyncScreener(
            settings=InMemorySettings([campaign]), store=store, integrations=[fake]
        )
        first = await screener.screen(lead())
        again = await screener.screen(lead())
        forced = await screener.screen(lead(), force=True)
        return first, again, forced

    first, again, forced = asyncio.run(go())
    assert again == first
    assert fake.calls == ["a", "a"]
    assert forced.started_at > first.started_at
    assert len(store) == 1


def test_concurrent_screenings_of_one_lead_share_the_work() -> None:
    """Two concurrent calls for the same lead id make one screening."""
    fake = Scripted()
    campaign = CampaignSettings(campaign_id="c", integrations=[scripted("a", latency=0.02)])

    async def go() -> list[ScreeningRecord]:
        screener = AsyncScreener(
            settings=InMemorySettings([campaign]), store=InMemoryResultStore(), integrations=[fake]
        )
        return await asyncio.gather(*(screener.screen(lead()) for _ in range(5)))

    records = asyncio.run(go())
    assert fake.calls == ["a"]
    assert all(r == records[0] for r in records)


class BrokenStore(InMemoryResultStore):
    def __init__(self, *, fail_save: bool = True, fail_load: bool = False) -> None:
        super().__init__()
        self.fail_save = fail_save
        self.fail_load = fail_load

    async def save(self, record: ScreeningRecord, *, owner: str | None = None) -> ScreeningRecord:
        if self.fail_save:
            raise OSError("disk full")
        return await super().save(record, owner=owner)

    async def load(self, campaign_id: str, lead_id: str) -> ScreeningRecord | None:
        if self.fail_load:
            raise OSError("database gone")
        return await super().load(campaign_id, lead_id)


def test_storage_failure_returns_no_decision() -> None:
    """If the record cannot be saved, the host gets StorageError, not a decision."""
    with pytest.raises(StorageError, match="no decision is returned") as info:
        run(scripted("a"), store=BrokenStore())
    assert isinstance(info.value.__cause__, OSError)


def test_storage_load_failure() -> None:
    """If existing records cannot be read, the host gets StorageError before any call."""
    with pytest.raises(StorageError, match="could not load"):
        run(scripted("a"), store=BrokenStore(fail_save=False, fail_load=True))


def test_observer_sees_each_result_and_the_decision() -> None:
    """The observer hears every integration result, then the decision."""

    class Recorder:
        def __init__(self) -> None:
            self.events: list[str] = []

        def on_integration_result(self, lead: Lead, record: IntegrationRecord) -> None:
            self.events.append(f"{record.integration_id}:{record.status.value}")

        def on_decision(self, record: ScreeningRecord) -> None:
            self.events.append(f"decision:{record.decision.value}")

    observer = Recorder()
    run(
        scripted("a", "bad"), scripted("b", sort=2), scripted("c", enabled=False), observer=observer
    )
    assert observer.events == ["a:completed", "b:skipped", "c:skipped", "decision:reject"]


def test_record_round_trips_through_json() -> None:
    """A record survives JSON through the library converter."""
    record, _, _ = run(scripted("a", "meh"), scripted("b", fail="error", sort=2))
    data = json.loads(json.dumps(converter.unstructure(record)))
    assert converter.structure(data, ScreeningRecord) == record
    assert record.settings_hash
    assert record.library_version
    assert record.integration("a").rule_trace


def test_sync_screener_from_threads() -> None:
    """The sync screener works from plain threads, sharing one loop and pools."""
    fake = Scripted()
    campaign = CampaignSettings(campaign_id="c", integrations=[scripted("a", latency=0.01)])
    with (
        Screener(
            settings=InMemorySettings([campaign]), store=InMemoryResultStore(), integrations=[fake]
        ) as screener,
        ThreadPoolExecutor(4) as pool,
    ):
        records = list(pool.map(lambda i: screener.screen(lead(f"L{i}")), range(20)))
    assert {r.lead_id for r in records} == {f"L{i}" for i in range(20)}
    assert fake.closed


def test_sync_screener_inside_a_running_loop() -> None:
    """The sync screener works when called from a thread whose event loop is running."""
    fake = Scripted()
    campaign = CampaignSettings(campaign_id="c", integrations=[scripted("a")])
    screener = Screener(
        settings=InMemorySettings([campaign]), store=InMemoryResultStore(), integrations=[fake]
    )

    async def view() -> ScreeningRecord:
        asyncio.get_running_loop()  # we are inside a running loop, like an async web view
        return screener.screen(lead())

    try:
        record = asyncio.run(view())
    finally:
        screener.close()
    assert record.decision is Action.ACCEPT
    screener.close()  # idempotent
    with pytest.raises(RuntimeError, match="closed"):
        screener.screen(lead())


def test_sync_screener_thread_is_stopped() -> None:
    """Closing the sync screener ends its event loop thread."""
    before = {t.name for t in threading.enumerate()}
    screener = Screener(settings=InMemorySettings(), store=InMemoryResultStore(), integrations=[])
    screener.close()
    after = {t.name for t in threading.enumerate()}
    assert after <= before | set()


class SlowLoadStore(InMemoryResultStore):
    """A store whose reads take a while, as a database's do."""

    def __init__(self) -> None:
        super().__init__(check_json=True)
        self.saves = 0

    async def load(self, campaign_id: str, lead_id: str) -> ScreeningRecord | None:
        await asyncio.sleep(0.02)
        return await super().load(campaign_id, lead_id)

    async def save(self, record: ScreeningRecord, *, owner: str | None = None) -> ScreeningRecord:
        self.saves += 1
        return await super().save(record, owner=owner)


def _screener_for(
    fake: Scripted, store: Any, *integrations: IntegrationSettings, **kw: Any
) -> AsyncScreener:
    campaign = CampaignSettings(campaign_id="c", integrations=integrations)
    return AsyncScreener(
        settings=InMemorySettings([campaign]), store=store, integrations=[fake], **kw
    )


def test_concurrent_calls_with_a_slow_store_make_one_call() -> None:
    """Two calls for one lead, racing a slow store read, still make one vendor call and one save."""
    fake, store = Scripted(), SlowLoadStore()

    async def go() -> None:
        screener = _screener_for(fake, store, scripted("a"))
        await asyncio.gather(screener.screen(lead()), screener.screen(lead()))

    asyncio.run(go())
    assert fake.calls == ["a"]
    assert store.saves == 1


def test_a_cancelled_caller_does_not_cancel_the_screening() -> None:
    """Cancelling one caller leaves the others' result and the saved record intact."""
    fake, store = Scripted(), InMemoryResultStore()

    async def go() -> tuple[BaseException | ScreeningRecord, ScreeningRecord]:
        screener = _screener_for(fake, store, scripted("a", latency=0.1))
        first = asyncio.ensure_future(screener.screen(lead()))
        await asyncio.sleep(0.02)
        second = asyncio.ensure_future(screener.screen(lead()))
        await asyncio.sleep(0.02)
        first.cancel()
        outcome: BaseException | ScreeningRecord
        try:
            outcome = await first
        except asyncio.CancelledError as exc:
            outcome = exc
        return outcome, await second

    first, second = asyncio.run(go())
    assert isinstance(first, asyncio.CancelledError)
    assert second.decision is Action.ACCEPT
    assert fake.calls == ["a"]
    assert len(store) == 1


def test_force_during_a_plain_screening_screens_again() -> None:
    """A forced call arriving while a plain screening runs does not settle for its result."""
    fake = Scripted()

    async def go() -> None:
        screener = _screener_for(fake, InMemoryResultStore(), scripted("a", latency=0.02))
        await asyncio.gather(screener.screen(lead()), screener.screen(lead(), force=True))

    asyncio.run(go())
    assert fake.calls == ["a", "a"]


def test_a_failing_integration_hook_does_not_lose_the_record() -> None:
    """An observer hook that raises still lets the record be saved; the bug then surfaces."""

    class Broken:
        def on_integration_result(self, lead: Lead, record: IntegrationRecord) -> None:
            raise RuntimeError("metrics bug")

        def on_decision(self, record: ScreeningRecord) -> None:
            raise AssertionError("not reached: the first failure is raised")

    store = InMemoryResultStore()
    with pytest.raises(RuntimeError, match="metrics bug"):
        run(scripted("a"), store=store, observer=Broken())
    assert store.lead_ids() == ["L1"]


def test_sync_close_waits_for_screenings_under_way() -> None:
    """close() lets a screening in another thread finish and be recorded, then refuses more."""
    fake, store = Scripted(), InMemoryResultStore()
    campaign = CampaignSettings(campaign_id="c", integrations=[scripted("a", latency=0.2)])
    screener = Screener(settings=InMemorySettings([campaign]), store=store, integrations=[fake])
    results: list[ScreeningRecord] = []
    worker = threading.Thread(target=lambda: results.append(screener.screen(lead())))
    worker.start()
    time.sleep(0.05)
    closers = [threading.Thread(target=screener.close) for _ in range(4)]
    for closer in closers:
        closer.start()
    for thread in [worker, *closers]:
        thread.join(5)
        assert not thread.is_alive()
    assert [r.decision for r in results] == [Action.ACCEPT]
    assert len(store) == 1
    with pytest.raises(RuntimeError, match="closed"):
        screener.screen(lead("L2"))


def test_an_integration_returning_nonsense_is_a_clear_bug() -> None:
    """An integration returning something else than an IntegrationAnswer fails by name."""

    class Sloppy(Scripted):
        async def screen(  # type: ignore[override]
            self, lead: Lead, settings: IntegrationSettings, *, deadline: float
        ) -> None:
            return None

    async def go() -> None:
        await _screener_for(Sloppy(), InMemoryResultStore(), scripted("a")).screen(lead())

    with pytest.raises(TypeError, match="returned NoneType, not an IntegrationAnswer"):
        asyncio.run(go())
