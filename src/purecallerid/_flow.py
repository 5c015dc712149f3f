"""The campaign flow seen from outside: samples, the plan as text, what ran, shadow agreement.

The plan runs in ``_plan`` and is judged in ``_verdict``; this module holds what a host, an
admin page or the command line asks of it without running anything: whether a lead is in an
integration's sample, a campaign's plan as text, a record's screening as text, and how often
the shadow parts of a campaign agreed with its live decisions.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

from attrs import field, frozen

from ._records import IntegrationStatus
from ._rules.model import Action
from ._rules.text import format_rules

if TYPE_CHECKING:
    from collections.abc import Iterable

    from ._records import IntegrationRecord, ScreeningRecord
    from ._settings import CampaignSettings, IntegrationSettings

__all__ = [
    "SHADOW_RULES",
    "Agreement",
    "agreement",
    "describe_plan",
    "describe_screening",
    "in_sample",
]

SHADOW_RULES: Final = "shadow_rules"
"""The name :func:`agreement` takes for a campaign's shadow rules."""

_SCALE: Final = 2**64
_PERCENT: Final = 100
_ORDER: Final = tuple(sorted(Action, key=lambda a: a.severity))


def in_sample(campaign_id: str, integration_id: str, lead_id: str, percent: float) -> bool:
    """Whether an integration with ``sample = percent`` runs for a lead.

    The lead's place in ``[0, 100)`` is read from SHA-256 of the campaign id, the integration
    id and the lead id: the same lead gets the same answer in every process, on every machine
    and in every release (Python's ``hash()`` changes with each process), and each integration
    of a campaign draws its own sample. A lead is in when its place is below *percent*.
    """
    key = json.dumps([campaign_id, integration_id, lead_id])  # unambiguous, ASCII
    place = int.from_bytes(hashlib.sha256(key.encode("ascii")).digest()[:8], "big")
    return place * _PERCENT < percent * _SCALE


def _integration_line(settings: IntegrationSettings) -> str:
    parts = []
    if settings.when is not None:
        parts.append(f"when {settings.when.to_text()}")
    if settings.sample is not None:
        parts.append(f"sample {settings.sample:g}% of leads")
    if settings.shadow:
        parts.append("shadow: recorded, never counts")
    if not settings.skip_remaining_on_reject:
        parts.append("its reject does not skip later stages")
    if settings.cancel_siblings_on_reject:
        parts.append("its reject cancels its stage")
    detail = f": {'; '.join(parts)}" if parts else ""
    return f"  {settings.id} ({settings.kind}){detail}"


def describe_plan(campaign: CampaignSettings) -> str:
    """A campaign's plan as text: stages, conditions, samples, shadows, campaign rules.

    One line per integration under its stage, in the order the screener runs them; disabled
    integrations at the end; then the campaign rules and the shadow rules, one rule a line.
    Ends with a newline.
    """
    lines = [f"campaign {campaign.campaign_id}: deadline {campaign.deadline:g} s"]
    for number, (sort, stage) in enumerate(campaign.stages(), 1):
        together = ", run together" if len(stage) > 1 else ""
        lines.append(f"stage {number} (sort {sort}{together})")
        lines.extend(_integration_line(settings) for settings in stage)
    disabled = [i for i in campaign.integrations if not i.enabled]
    if disabled:
        lines.append("disabled (never called)")
        lines.extend(f"  {i.id} ({i.kind})" for i in disabled)
    if not campaign.integrations:
        lines.append("no integrations: every lead is accepted")
    for title, rules in (
        ("campaign rules (after the plan; they count)", campaign.rules),
        ("shadow rules (after the plan; recorded, never count)", campaign.shadow_rules),
    ):
        if len(rules):
            lines.append(title)
            lines.extend(f"  {line}" for line in format_rules(rules.rules).splitlines())
    return "\n".join(lines) + "\n"


def _record_line(record: IntegrationRecord) -> str:
    shadow = ", shadow" if record.shadow else ""
    head = f"  {record.integration_id} ({record.kind}, sort {record.sort}{shadow}): "
    if record.status in {IntegrationStatus.SKIPPED, IntegrationStatus.CANCELLED}:
        return head + (record.skip_reason or record.status.value)
    action = "-" if record.action is None else record.action.value
    verb = "would " if record.shadow else ""
    text = f"{record.status.value}, {verb}{action}"
    if record.decided_by is not None:
        text += f" by {record.decided_by}"
    if record.error_class is not None:
        text += f" ({record.error_class})"
    if record.when_trace is not None:
        text += f"; ran because its condition held: {record.when_trace.get('condition')}"
    return head + text


def describe_screening(record: ScreeningRecord) -> str:
    """A screening record as text: the decision, then which integration ran and why.

    A skipped integration shows why it was not called (an earlier reject, its ``when``, its
    sample); one that ran after a ``when``, the condition that held; a shadow integration what
    it would have done. Then the campaign rules' verdict and the shadow decision, when the
    campaign has them. Holds what the record holds (reasons may hold lead values, as the
    record does); ends with a newline.
    """
    decided = record.decided_by or "no rule"
    head = f"lead {record.lead_id}, campaign {record.campaign_id}: {record.decision.value}"
    lines = [f"{head} (decided by {decided})"]
    lines.extend(_record_line(r) for r in record.integrations)
    if record.campaign_rules is not None:
        rules = record.campaign_rules
        by = f" by {rules.decided_by}" if rules.decided_by else " (no rule fired)"
        lines.append(f"  campaign rules: {rules.action.value}{by}")
    if record.shadow is not None:
        shadow = record.shadow
        if shadow.rules is not None:
            by = f" by {shadow.rules.decided_by}" if shadow.rules.decided_by else " (no rule fired)"
            lines.append(f"  shadow rules: would {shadow.rules.action.value}{by}")
        agrees = "same" if shadow.decision is record.decision else "differs"
        lines.append(
            f"shadow: would have decided {shadow.decision.value} "
            f"(decided by {shadow.decided_by or 'no rule'}; {agrees})"
        )
    return "\n".join(lines) + "\n"


def _counts(value: Mapping[tuple[Action, Action], int]) -> dict[tuple[Action, Action], int]:
    return {(Action(live), Action(shadow)): count for (live, shadow), count in value.items()}


@frozen(kw_only=True)
class Agreement:
    """Live decisions against what a campaign's shadow parts would have decided.

    Build it with :func:`agreement`. Every record counted adds one lead to the cell of its
    live decision and its shadow decision; the diagonal is agreement.

    Attributes:
        part: What was compared: ``None`` for the whole shadow decision, a shadow
            integration's id, or ``"shadow_rules"``.
        counts: Leads by (live decision, shadow decision); only the cells with leads.
        left_out: Records not counted: screened without that shadow part (before it was
            configured, or in another campaign).
    """

    part: str | None
    counts: Mapping[tuple[Action, Action], int] = field(converter=_counts)
    left_out: int = 0

    @property
    def total(self) -> int:
        """The leads counted."""
        return sum(self.counts.values())

    @property
    def agreed(self) -> int:
        """The leads whose shadow decision is their live one."""
        return sum(n for (live, shadow), n in self.counts.items() if live is shadow)

    @property
    def rate(self) -> float | None:
        """The share of leads that agreed, from 0 to 1; ``None`` when none was counted."""
        return self.agreed / self.total if self.total else None

    def count(self, live: Action | str, shadow: Action | str) -> int:
        """The leads decided *live* whose shadow decision was *shadow*."""
        return self.counts.get((Action(live), Action(shadow)), 0)

    def matrix(self) -> list[list[int]]:
        """The table as rows: one per live decision, one column per shadow decision.

        Both in severity order: accept, flag, qa, reject.
        """
        return [[self.count(live, shadow) for shadow in _ORDER] for live in _ORDER]

    def to_dict(self) -> dict[str, Any]:
        """The table as JSON data.

        Keys: ``part``, ``actions`` (the order of the rows and columns), ``matrix``,
        ``total``, ``agreed``, ``rate`` and ``left_out``.
        """
        return {
            "part": self.part,
            "actions": [a.value for a in _ORDER],
            "matrix": self.matrix(),
            "total": self.total,
            "agreed": self.agreed,
            "rate": self.rate,
            "left_out": self.left_out,
        }

    def to_text(self) -> str:
        """The table as text: live decisions down, shadow decisions across, then the rate."""
        width = max(7, *(len(f"{n:,}") for n in self.counts.values())) if self.counts else 7
        head = "live \\ shadow".ljust(14) + "".join(a.value.rjust(width + 1) for a in _ORDER)
        rows = [
            live.value.ljust(14) + "".join(f"{n:,}".rjust(width + 1) for n in row)
            for live, row in zip(_ORDER, self.matrix(), strict=True)
        ]
        what = "shadow decision" if self.part is None else self.part
        if self.rate is None:
            summary = f"{what}: no lead screened with it"
        else:
            summary = f"{what}: agreed on {self.agreed:,} of {self.total:,} leads ({self.rate:.1%})"
        if self.left_out:
            summary += f"; {self.left_out:,} left out (screened without it)"
        return "\n".join([head, *rows, summary]) + "\n"


def _shadow_of(record: ScreeningRecord, part: str | None) -> Action | None:
    """What *record*'s screening would have decided with *part* live; ``None``: no such part."""
    if record.shadow is None:
        return None
    if part is None:
        return record.shadow.decision
    if part == SHADOW_RULES:
        rules = record.shadow.rules
        return None if rules is None else Action.most_severe([record.decision, rules.action])
    for integration in record.integrations:
        if integration.integration_id == part and integration.shadow:
            # Not run (skipped, cancelled), it would have added nothing.
            added = integration.action or Action.ACCEPT
            return Action.most_severe([record.decision, added])
    return None


def agreement(records: Iterable[ScreeningRecord], *, part: str | None = None) -> Agreement:
    """Count live decisions against shadow decisions, over *records*.

    Args:
        records: Screening records (of one campaign, usually: a store's ``find``).
        part: ``None`` compares the whole shadow decision (``record.shadow.decision``: every
            shadow part live at once); a shadow integration's id, what that integration alone
            would have decided with it live; ``"shadow_rules"``, the shadow rules alone.

    Returns:
        The :class:`Agreement` table; records without the part are counted in ``left_out``.
    """
    counts: Counter[tuple[Action, Action]] = Counter()
    left_out = 0
    for record in records:
        shadow = _shadow_of(record, part)
        if shadow is None:
            left_out += 1
        else:
            counts[record.decision, shadow] += 1
    return Agreement(part=part, counts=counts, left_out=left_out)
