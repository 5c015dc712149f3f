"""Verdicts: an integration's answer or failure judged into its record, records into a decision.

An answer is judged by the integration's rules. A failure is judged by its failure policy (or
by a rule acting more severely), and recorded with the error class and ``outcome_unknown``
that the failure itself carries (the failure table of ``_errors``). A screening's decision is
the most severe action of its integrations, with the flags of all of them.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Final

import attrs
from attrs import frozen

from ._bounds import RecordBounds, UnrecordableAnswerError, bound_answer, bound_text
from ._errors import (
    APIError,
    ErrorClass,
    ResponseValidationError,
    SettingsError,
    SettingsProblem,
    error_class,
    outcome_unknown_of,
)
from ._models import Exchange
from ._records import IntegrationRecord, IntegrationStatus, RulesRecord, ShadowRecord
from ._rules.model import Action
from ._rules.ruleset import RuleSet

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from ._models import Lead
    from ._rules.ruleset import Evaluation, UncheckedRules
    from ._settings import CampaignSettings, IntegrationSettings
    from .typing import IntegrationAnswer

__all__ = [
    "CAMPAIGN_PART",
    "SHADOW_PART",
    "Decision",
    "decide",
    "flow_verdicts",
    "integration_record",
    "rules_record",
    "shadow_decision",
]

logger: Final = logging.getLogger("purecallerid.integration")


def integration_record(  # noqa: PLR0917 - private, one call site
    lead: Lead,
    settings: IntegrationSettings,
    answer: IntegrationAnswer | None,
    failure: BaseException | None,
    budget: float,
    bounds: RecordBounds,
    *,
    stamp: Mapping[str, Any] | None = None,
) -> IntegrationRecord:
    """Judge an integration's answer (or failure) with its rules and failure policy.

    The answer is first cut to the record *bounds* (the rules read what the record keeps); an
    answer no record can hold is an ``invalid_response`` failure.

    Args:
        lead: The lead screened.
        settings: The integration's settings.
        answer: Its answer, or ``None`` when it failed.
        failure: What it failed with, when *answer* is ``None``.
        budget: The seconds it was given (``<= 0``: the campaign's deadline was spent).
        bounds: The caps of what a record keeps.
        stamp: More fields of the record (when it started, how long it took), set at once
            rather than by copying the record afterwards.
    """
    truncated: str | None = None
    if answer is not None:
        answer, truncated, failure = _bounded(answer, bounds)
    rules = settings.rules
    if not isinstance(rules, RuleSet):
        # The screener checks rules given as data before any lead (check_campaign).
        raise SettingsError(
            [SettingsProblem(path="rules", message="not checked against the kind's fields")],
            source=settings.id,
        )
    verdict = rules.evaluate(None if answer is None else answer.answer, lead.fields)
    identity = _identity(settings, verdict)
    if stamp:
        identity.update(stamp)
    if answer is not None:
        return _answered(identity, verdict, answer, truncated)
    assert failure is not None  # noqa: S101 - one of the two is always set
    return _failed(lead, settings, identity, verdict, failure, budget, bounds)


def _bounded(
    answer: IntegrationAnswer, bounds: RecordBounds
) -> tuple[IntegrationAnswer | None, str | None, BaseException | None]:
    """The answer cut to *bounds* and what was cut; or, when it cannot be recorded, a failure."""
    try:
        facts, truncated = bound_answer(answer.answer, bounds)
    except UnrecordableAnswerError as exc:
        exchange = None
        if answer.request is not None:
            exchange = Exchange(dialect="", request=answer.request, attempts=answer.attempts)
        return None, None, ResponseValidationError(str(exc), body="", exchange=exchange)
    raw, raw_cut = bound_text(answer.raw, bounds)
    if raw_cut:
        truncated = "; ".join(filter(None, [truncated, "raw body cut to the record bounds"]))
    if facts is answer.answer and not raw_cut:
        return answer, None, None  # within every bound: nothing to copy
    return attrs.evolve(answer, answer=facts, raw=raw), truncated, None


def _identity(settings: IntegrationSettings, verdict: Evaluation) -> dict[str, Any]:
    identity: dict[str, Any] = {
        "integration_id": settings.id,
        "kind": settings.kind,
        "sort": settings.sort,
        "rule_trace": tuple(verdict.trace_dicts()),
    }
    if settings.shadow:
        identity["shadow"] = True
    return identity


def _answered(
    identity: Mapping[str, Any],
    verdict: Evaluation,
    answer: IntegrationAnswer,
    truncated: str | None,
) -> IntegrationRecord:
    return IntegrationRecord(
        **identity,
        status=IntegrationStatus.COMPLETED,
        action=verdict.action,
        reasons=verdict.reasons,
        flags=verdict.flags,
        decided_by=verdict.decided_by,
        answer=answer.answer,
        request=answer.request,
        raw=answer.raw,
        attempts=answer.attempts,
        truncated=truncated,
    )


def _failed(  # noqa: PLR0917 - private, one call site
    lead: Lead,
    settings: IntegrationSettings,
    identity: Mapping[str, Any],
    verdict: Evaluation,
    failure: BaseException,
    budget: float,
    bounds: RecordBounds,
) -> IntegrationRecord:
    """The record of a failed integration: its failure policy acts, or a more severe rule."""
    name, message, outcome_unknown = _failure(failure, budget)
    exchange = failure.exchange if isinstance(failure, APIError) else None
    # Rules may act on an errored integration too (a rule whose unknown means "match").
    action = Action.most_severe([settings.failure_policy, verdict.action])
    by_rule = (
        verdict.action is action
        and verdict.decided_by is not None
        and action is not settings.failure_policy
    )
    reason = f"{settings.id} {name}: {message}"
    logger.info(
        "lead %s: %s failed (%s)",
        lead.lead_id,
        settings.id,
        name,
        extra={
            "lead_id": lead.lead_id,
            "campaign_id": lead.campaign_id,
            "integration_id": settings.id,
            "kind": settings.kind,
            "error_class": str(name),
            "outcome_unknown": outcome_unknown,
        },
    )
    return IntegrationRecord(
        **identity,
        status=IntegrationStatus.ERROR,
        action=action,
        reasons=verdict.reasons if by_rule else (reason,),
        flags=verdict.flags,
        decided_by=verdict.decided_by if by_rule else "failure_policy",
        error_class=str(name),  # plain text, as it reads back from any store
        error_message=message,
        outcome_unknown=outcome_unknown,
        request=None if exchange is None else exchange.request,
        raw=bound_text(getattr(failure, "body", None), bounds)[0],
        attempts=() if exchange is None else exchange.attempts,
    )


def _failure(failure: BaseException, budget: float) -> tuple[ErrorClass, str, bool | None]:
    """A failure's error class, one-line message and ``outcome_unknown``.

    Both read from the failure table (``error_class`` and ``outcome_unknown_of``): a library
    error carries them itself; a bare :class:`TimeoutError` is the screener's own timeout.
    """
    # One line: multi-line messages (a MappingError lists its problems) are folded.
    message = " ".join(str(failure).split()) or f"no answer within {budget:.3g} s"
    return error_class(failure), message, outcome_unknown_of(failure)


@frozen(kw_only=True)
class Decision:
    """A screening's decision, combined from its integrations' records.

    Attributes:
        action: The most severe action of the records, or the one forced on the screening.
        reasons: The reasons of the records acting so, then the note, each once; none for an
            accept.
        flags: The flags of every record, each once, in order.
        decided_by: ``<integration id>:<rule>`` of the first record acting so (``campaign:``
            or ``shadow:`` and the rule's id for a campaign's rules), or ``None`` (no such
            record, or an accept no rule made).
    """

    action: Action
    reasons: tuple[str, ...]
    flags: tuple[str, ...]
    decided_by: str | None


CAMPAIGN_PART: Final = "campaign"
"""The name of a campaign's rules in ``decided_by`` (``campaign:<rule id>``)."""
SHADOW_PART: Final = "shadow"
"""The name of a campaign's shadow rules in the shadow decision's ``decided_by``."""


def decide(
    records: Sequence[IntegrationRecord],
    *,
    forced: Action | None,
    note: str | None,
    rules: RulesRecord | None = None,
) -> Decision:
    """Combine *records* into the screening's decision.

    Shadow integrations' records never count.

    Args:
        records: The integrations' records, in plan order.
        forced: An action taken whatever the records say (no settings: ``qa``), or ``None``.
        note: A note on the screening, added to the reasons of any decision but an accept.
        rules: What the campaign's rules decided, counted after every integration.
    """
    parts: list[tuple[str, IntegrationRecord | RulesRecord]] = [
        (r.integration_id, r) for r in records if not r.shadow
    ]
    if rules is not None:
        parts.append((CAMPAIGN_PART, rules))
    return _combined(parts, forced=forced, note=note)


def shadow_decision(
    records: Sequence[IntegrationRecord],
    *,
    note: str | None,
    rules: RulesRecord | None,
    shadow_rules: RulesRecord | None,
) -> ShadowRecord:
    """What the screening would have decided with every shadow part live.

    A shadow integration whose reject would have skipped later stages changes nothing: the
    decision is a reject whatever those stages would have said.
    """
    parts: list[tuple[str, IntegrationRecord | RulesRecord]] = [
        (r.integration_id, r) for r in records
    ]
    if rules is not None:
        parts.append((CAMPAIGN_PART, rules))
    if shadow_rules is not None:
        parts.append((SHADOW_PART, shadow_rules))
    decision = _combined(parts, forced=None, note=note)
    return ShadowRecord(
        decision=decision.action,
        reasons=decision.reasons,
        flags=decision.flags,
        decided_by=decision.decided_by,
        integrations=tuple(r.integration_id for r in records if r.shadow),
        rules=shadow_rules,
    )


def _combined(
    parts: Sequence[tuple[str, IntegrationRecord | RulesRecord]],
    *,
    forced: Action | None,
    note: str | None,
) -> Decision:
    """The most severe action of *parts* (or *forced*), with its reasons, flags and decider."""
    if forced is None:
        action = Action.most_severe(p.action for _, p in parts if p.action is not None)
    else:
        action = forced
    decider = next(((name, p) for name, p in parts if p.action is action), None)
    reasons: list[str] = []
    if action is not Action.ACCEPT:
        reasons.extend(reason for _, p in parts if p.action is action for reason in p.reasons)
        if note is not None:
            reasons.append(note)
    flags = [flag for _, p in parts for flag in p.flags]
    decided_by = (
        None
        if decider is None or (action is Action.ACCEPT and decider[1].decided_by is None)
        else f"{decider[0]}:{decider[1].decided_by}"
    )
    return Decision(
        action=action,
        reasons=tuple(dict.fromkeys(reasons)),
        flags=tuple(dict.fromkeys(flags)),
        decided_by=decided_by,
    )


def rules_record(
    rules: RuleSet | UncheckedRules, records: Sequence[IntegrationRecord], lead: Lead
) -> RulesRecord:
    """Evaluate a campaign's rules over the integrations' answers (by id) and the lead.

    An integration that did not answer (skipped, failed, cancelled) has no answer: a rule
    reading it finds its fields unknown.
    """
    if not isinstance(rules, RuleSet):
        # The screener checks rules given as data before any lead (check_campaign).
        raise SettingsError(
            [SettingsProblem(path="rules", message="not checked against the campaign's fields")],
            source=lead.campaign_id,
        )
    answers = {r.integration_id: r.answer for r in records}
    verdict = rules.evaluate(answers, lead.fields)
    return RulesRecord(
        action=verdict.action,
        reasons=verdict.reasons,
        flags=verdict.flags,
        decided_by=verdict.decided_by,
        rule_trace=tuple(verdict.trace_dicts()),
    )


def flow_verdicts(
    campaign: CampaignSettings,
    records: Sequence[IntegrationRecord],
    lead: Lead,
    note: str | None,
) -> tuple[RulesRecord | None, ShadowRecord | None]:
    """The campaign rules' verdict and the shadow decision, each when the campaign has them."""
    rules = rules_record(campaign.rules, records, lead) if len(campaign.rules) else None
    if not campaign.has_shadow:
        return rules, None
    shadow_rules = None
    if len(campaign.shadow_rules):
        shadow_rules = rules_record(campaign.shadow_rules, records, lead)
    return rules, shadow_decision(records, note=note, rules=rules, shadow_rules=shadow_rules)
