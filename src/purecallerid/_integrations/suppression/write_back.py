"""Write-back: a number goes onto the house list when a named rule fired on its screening.

The integrations of one screening do not see each other's answers, so the suppression
integration cannot do this itself while screening. The record can: it keeps, for each
integration that answered, which of its rules fired. The host hands each record to
:func:`record_to_suppression` once ``screen()`` returns (or from an observer's
``on_decision``), naming the rules that say "never call this number again".
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import sqlite3
from typing import TYPE_CHECKING, Any, Final

from ..._errors import ConfigurationError, SuppressionListError
from ..._records import IntegrationStatus
from ..._secrets import mask_phone
from .lists import SuppressionEntry

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from ..._records import ScreeningRecord
    from .lists import WritableSuppressionList

__all__ = ["record_to_suppression"]

logger: Final = logging.getLogger("purecallerid.suppression")
_CAMPAIGN: Final = "campaign"
"""How a campaign's own rules are named, as in ``decided_by``: ``campaign:<rule id>``."""


def _named(rules: str | Iterable[str]) -> frozenset[str]:
    named = frozenset([rules] if isinstance(rules, str) else rules)
    for rule in named:
        integration, _, rule_id = rule.partition(":")
        if not integration or not rule_id:
            raise ConfigurationError(
                f"rules: {rule!r} is not '<integration id>:<rule id>' nor '<integration id>:*'"
            )
    if not named:
        raise ConfigurationError("rules: name at least one rule")
    return named


def _fired(record: ScreeningRecord, named: frozenset[str]) -> tuple[str, str | None] | None:
    """The first named rule that fired on an answer, and its reason text."""
    parts: list[tuple[str, Iterable[Mapping[str, Any]]]] = [
        (integration.integration_id, integration.rule_trace)
        for integration in record.integrations
        # An error's rules ran on unknown values: a failure never suppresses a number. A
        # shadow integration is a trial: what it says must not change a later decision.
        if integration.status is IntegrationStatus.COMPLETED and not integration.shadow
    ]
    if record.campaign_rules is not None:
        parts.append((_CAMPAIGN, record.campaign_rules.rule_trace))
    for part, trace in parts:
        for rule_id, reason in _fired_rules(trace):
            name = f"{part}:{rule_id}"
            if name in named or f"{part}:*" in named:
                return name, reason
    return None


def _fired_rules(rule_trace: Iterable[Mapping[str, Any]]) -> Iterable[tuple[str, str | None]]:
    for trace in rule_trace:
        # Matched on the answer's values: a rule that fired on an unknown value (its
        # unknown policy) says nothing about the number.
        if trace.get("fired") and trace.get("outcome") == "matched":
            reason = trace.get("reason")
            yield str(trace.get("rule_id")), None if reason is None else str(reason)


async def record_to_suppression(
    record: ScreeningRecord,
    target: WritableSuppressionList,
    *,
    rules: str | Iterable[str],
    reason: str | None = None,
) -> SuppressionEntry | None:
    """Add the record's phone to *target* when one of *rules* fired on an integration's answer.

    A rule is named ``"<integration id>:<rule id>"`` (``"litigator-check:known-litigator"``),
    or ``"<integration id>:*"`` for any rule of that integration that fired; a campaign rule
    is ``"campaign:<rule id>"``. Only a rule that matched an answer's values counts: an
    integration that failed or was skipped never adds a number, nor does a failure policy,
    nor a rule that fired on an unknown value, nor a shadow integration or a shadow rule
    (a trial never changes a later decision). The rule's
    action does not matter: a ``flag`` rule can mark a number for the house list without
    rejecting the lead.

    Args:
        record: A screening record (``screen()``'s result).
        target: A list with ``add(phone, reason)``, plain or ``async def`` (a plain one runs
            in a worker thread).
        rules: The rules that say the number goes onto the list.
        reason: The entry's reason; by default the fired rule's reason text, else its name.

    Returns:
        The entry added, or ``None`` when no named rule fired or the record has no phone.

    Raises:
        ConfigurationError: A rule name that is not ``integration:rule``.
        SuppressionListError: The list failed.

    Bound it with ``asyncio.timeout`` where the host needs to; a plain ``add`` running in its
    thread then finishes on its own.
    """
    fired = _fired(record, _named(rules))
    if fired is None or record.phone is None:
        return None
    name, rule_reason = fired
    entry = SuppressionEntry(phone=record.phone, reason=reason or rule_reason or name)
    try:
        if inspect.iscoroutinefunction(target.add):
            await target.add(entry.phone, entry.reason)
        else:
            added = await asyncio.to_thread(target.add, entry.phone, entry.reason)
            if inspect.isawaitable(added):
                await added
    except (OSError, sqlite3.Error) as exc:
        raise SuppressionListError(f"the suppression list could not be written: {exc}") from exc
    logger.info(
        "lead %s: %s added to the suppression list (%s fired)",
        record.lead_id,
        mask_phone(entry.phone),
        name,
        extra={"lead_id": record.lead_id, "campaign_id": record.campaign_id},
    )
    return entry
