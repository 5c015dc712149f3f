"""The execution plan: a campaign's integrations run stage by stage for one lead.

Integrations with the same sort number form a stage and run concurrently; stages run in
ascending order. A reject skips the later stages (unless the rejecting integration says
otherwise) and, when the rejecting integration asks for it, cancels its siblings still
running. Each integration gets the smaller of its timeout and the time left of the campaign's
deadline. Every integration ends with a record, called or not; only host bugs propagate.

Before a stage runs, each of its integrations with a ``when`` is run only if the condition
holds over the lead and the answers so far, and one with a ``sample`` only for the leads in
its sample. A shadow integration runs like any other, but its reject neither skips the later
stages nor cancels its siblings. A campaign that uses none of this pays nothing for it.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

import attrs

from ._errors import DeadlineExceededError, ForkedError, PureCallerIDError
from ._flow import in_sample
from ._guards.guards import GRACE, Guarded
from ._records import IntegrationRecord, IntegrationStatus
from ._rules.model import Action
from ._verdict import integration_record
from .typing import IntegrationAnswer

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from ._bounds import RecordBounds
    from ._guards.guards import Guards
    from ._models import Lead
    from ._rules.condition import RunCondition
    from ._settings import CampaignSettings, IntegrationSettings
    from .typing import Integration

__all__ = ["PlanRunner"]


class PlanRunner:
    """Runs campaigns' execution plans for a screener.

    Args:
        kinds: The integrations on offer, by kind.
        guards: Returns the guards of guarded integrations (created when first needed).
        clock: A monotonic clock in seconds.
        emit: Called with each integration record as it is made; returns the record.
        bounds: The caps of what a record keeps of an answer.
        started: Called as each integration is about to be called (in the task that calls
            it), with the lead, its settings and its budget in seconds.
    """

    def __init__(
        self,
        *,
        kinds: Mapping[str, Integration],
        guards: Callable[[], Guards],
        clock: Callable[[], float],
        emit: Callable[[Lead, IntegrationRecord], IntegrationRecord],
        bounds: RecordBounds,
        started: Callable[[Lead, IntegrationSettings, float], None] = lambda *_: None,
    ) -> None:
        """Create the runner; see the class docstring for the arguments."""
        self._started = started
        self._bounds = bounds
        self._kinds = kinds
        self._guards = guards
        self._clock = clock
        self._emit = emit

    async def run(
        self, lead: Lead, campaign: CampaignSettings, started: float
    ) -> list[IntegrationRecord]:
        """Screen *lead* with *campaign*'s integrations; one record each, in sort order.

        Args:
            lead: The lead.
            campaign: Its campaign's settings.
            started: When the screening started, on the clock: the deadline counts from it.
        """
        end = started + campaign.deadline
        done: dict[str, IntegrationRecord] = {}
        stopped_by: str | None = None
        for _sort, stage in campaign.stages():
            if stopped_by is not None:
                reason = f"not called: {stopped_by} rejected the lead"
                for settings in stage:
                    done[settings.id] = self._skipped(lead, settings, reason)
                continue
            runnable, traces = stage, _NO_TRACES
            if campaign.has_flow:
                runnable, traces = self._gate(lead, campaign, stage, done)
            for record in await self._run_stage(lead, runnable, end, traces):
                done[record.integration_id] = record
            stopped_by = _stopped_by(stage, done)
        return [
            done[settings.id]
            if settings.enabled
            else self._skipped(lead, settings, "disabled for this campaign")
            for settings in sorted(campaign.integrations, key=lambda s: s.sort)
        ]

    def _skipped(
        self,
        lead: Lead,
        settings: IntegrationSettings,
        reason: str,
        when_trace: Mapping[str, Any] | None = None,
    ) -> IntegrationRecord:
        return self._emit(
            lead,
            IntegrationRecord(
                integration_id=settings.id,
                kind=settings.kind,
                sort=settings.sort,
                status=IntegrationStatus.SKIPPED,
                skip_reason=reason,
                shadow=settings.shadow,
                when_trace=when_trace,
            ),
        )

    def _gate(
        self,
        lead: Lead,
        campaign: CampaignSettings,
        stage: tuple[IntegrationSettings, ...],
        done: dict[str, IntegrationRecord],
    ) -> tuple[tuple[IntegrationSettings, ...], Mapping[str, Mapping[str, Any]]]:
        """The integrations of *stage* to call, and their ``when`` traces.

        Those whose ``when`` does not hold, or whose sample leaves the lead out, are recorded
        as skipped (in *done*), with the reason.
        """
        runnable: list[IntegrationSettings] = []
        traces: dict[str, Mapping[str, Any]] = {}
        for settings in stage:
            reason: str | None = None
            if settings.when is not None:
                answers = {ident: record.answer for ident, record in done.items()}
                holds, values = settings.when.evaluate(answers, lead.fields)
                traces[settings.id] = {
                    "condition": settings.when.to_text(),
                    "outcome": _OUTCOMES[holds],
                    "values": values,
                }
                if holds is not True:
                    reason = _not_met(settings.when, holds, done)
            sample = settings.sample
            if (
                reason is None
                and sample is not None
                and not in_sample(campaign.campaign_id, settings.id, lead.lead_id, sample)
            ):
                reason = f"not called: sampled out (it runs for {sample:g}% of leads)"
            if reason is None:
                runnable.append(settings)
            else:
                done[settings.id] = self._skipped(lead, settings, reason, traces.get(settings.id))
        return tuple(runnable), traces

    async def _run_stage(
        self,
        lead: Lead,
        stage: tuple[IntegrationSettings, ...],
        end: float,
        traces: Mapping[str, Mapping[str, Any]],
    ) -> list[IntegrationRecord]:
        if len(stage) <= 1:
            return [
                await self._run_one(lead, s, end, traces.get(s.id) if traces else None)
                for s in stage
            ]
        tasks = {
            asyncio.ensure_future(
                self._run_one(lead, settings, end, traces.get(settings.id) if traces else None)
            ): settings
            for settings in stage
        }
        results, cancelled_by = await _wait_for_stage(tasks)
        for settings in stage:
            if settings.id not in results:
                results[settings.id] = self._emit(
                    lead,
                    IntegrationRecord(
                        integration_id=settings.id,
                        kind=settings.kind,
                        sort=settings.sort,
                        status=IntegrationStatus.CANCELLED,
                        skip_reason=f"cancelled: {cancelled_by} rejected the lead",
                        # The call may have reached the vendor before it was cancelled.
                        outcome_unknown=True,
                        shadow=settings.shadow,
                        when_trace=traces.get(settings.id) if traces else None,
                    ),
                )
        return [results[s.id] for s in stage]

    async def _run_one(
        self,
        lead: Lead,
        settings: IntegrationSettings,
        end: float,
        when_trace: Mapping[str, Any] | None = None,
    ) -> IntegrationRecord:
        integration = self._kinds[settings.kind]
        started_at = datetime.now(UTC)
        started = self._clock()
        budget = min(settings.timeout, end - started)
        self._started(lead, settings, budget)
        outcome = await self._call(integration, lead, settings, budget)
        duration = self._clock() - started
        if isinstance(outcome.failure, ForkedError):
            # A client built before a fork is the host's set-up, not a vendor failure to be
            # decided by a policy: it propagates, as a host bug does.
            raise outcome.failure
        if outcome.failure is None and not isinstance(outcome.answer, IntegrationAnswer):
            # A host bug: say what was returned rather than fail later on an attribute.
            raise TypeError(
                f"integration {settings.kind!r} returned {type(outcome.answer).__name__}, "
                "not an IntegrationAnswer"
            )
        record = integration_record(
            lead,
            settings,
            outcome.answer,
            outcome.failure,
            budget,
            self._bounds,
            stamp={"started_at": started_at, "duration": duration, "when_trace": when_trace},
        )
        if outcome.cached:
            # Reused: the vendor's answer is the evidence; the request and the attempts were
            # another lead's (its name, its address), and none was made for this one.
            record = attrs.evolve(
                record, cached=True, fetched_at=outcome.fetched_at, request=None, attempts=()
            )
        return self._emit(lead, record)

    async def _call(
        self, integration: Integration, lead: Lead, settings: IntegrationSettings, budget: float
    ) -> Guarded:
        """Call *integration* within *budget* seconds, under its guards if it has any.

        Library errors and timeouts come back as the outcome's failure; a budget already
        spent is a timeout without a call. Anything else (a host bug) propagates.
        """
        outcome = Guarded()
        if budget <= 0:
            outcome.failure = DeadlineExceededError(
                "the campaign's deadline ran out before this integration"
            )
        elif settings.guarded:
            outcome = await self._guards().call(integration, lead, settings, budget)
        else:
            try:
                # The guard fires a little after the integration's own deadline, so that an
                # integration honouring it (the PureCallerID client) reports its own timeout,
                # with the attempts made as evidence; the guard is for those that do not.
                async with asyncio.timeout(budget + GRACE):
                    outcome.answer = await integration.screen(lead, settings, deadline=budget)
            except (TimeoutError, PureCallerIDError) as exc:
                outcome.failure = exc
        return outcome


_NO_TRACES: Final[Mapping[str, Mapping[str, Any]]] = {}
_OUTCOMES: Final = {True: "matched", False: "not_matched", None: "unknown"}


def _not_met(when: RunCondition, holds: bool | None, done: Mapping[str, IntegrationRecord]) -> str:
    """Why an integration whose ``when`` did not hold was not called."""
    text = when.to_text()
    if holds is False:
        return f"not called: its condition did not hold: {text}"
    # Unknown: name the answers that were missing, the usual cause (an earlier failure).
    missing = []
    for ident in when.reads:
        record = done.get(ident)
        if record is None:
            missing.append(f"{ident} (not called: disabled)")
        elif record.answer is None:
            missing.append(f"{ident} ({record.status.value})")
    cause = f"no answer from {', '.join(missing)}" if missing else "a field it reads has no value"
    return f"not called: its condition could not be told ({cause}): {text}"


def _stopped_by(
    stage: tuple[IntegrationSettings, ...], done: Mapping[str, IntegrationRecord]
) -> str | None:
    """The first integration of *stage* whose reject skips the later stages, if any.

    A shadow integration never does: its action counts for nothing.
    """
    for settings in stage:
        if (
            done[settings.id].action is Action.REJECT
            and settings.skip_remaining_on_reject
            and not settings.shadow
        ):
            return settings.id
    return None


async def _wait_for_stage(
    tasks: Mapping[asyncio.Task[IntegrationRecord], IntegrationSettings],
) -> tuple[dict[str, IntegrationRecord], str | None]:
    """Wait for a stage's integrations, cancelling those left when a reject asks for it.

    Returns the records of the integrations that ended, by id, and the id of the integration
    whose reject cancelled the others (or ``None``). A host bug raised by one of them
    re-raises here, once the others are cancelled.
    """
    results: dict[str, IntegrationRecord] = {}
    pending = set(tasks)
    cancelled_by: str | None = None
    try:
        while pending:
            finished, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            for task in finished:
                settings = tasks[task]
                if task.cancelled():
                    continue
                record = task.result()  # a host bug re-raises here
                results[settings.id] = record
                if (
                    record.action is Action.REJECT
                    and settings.cancel_siblings_on_reject
                    and not settings.shadow
                    and cancelled_by is None
                    and pending
                ):
                    cancelled_by = settings.id
                    for other in pending:
                        other.cancel()
    finally:
        for task in pending:
            task.cancel()
    return results, cancelled_by
