"""The screening record: the decision on one lead and the evidence behind it.

A record is written before the decision is returned (see :class:`purecallerid.AsyncScreener`)
and is the compliance evidence for the lead: which vendor was asked what, when, what it
answered (raw), which rules were applied (by hash of the settings) and which one decided, and
why a check was skipped or failed. It holds no secret. It does hold the lead's phone number,
as sent: store it as you store the lead.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from attrs import field, frozen
from cattrs.gen import make_dict_unstructure_fn, override

from ._converter import converter
from ._models import Attempt, RequestRecord
from ._rules.model import Action
from ._secrets import mask_phones

__all__ = [
    "IntegrationRecord",
    "IntegrationStatus",
    "RulesRecord",
    "ScreeningRecord",
    "ShadowRecord",
]


class IntegrationStatus(enum.StrEnum):
    """How one integration's part of a screening ended."""

    COMPLETED = "completed"
    """The integration answered; its rules decided the action."""
    ERROR = "error"
    """It failed (timeout, vendor error, unmappable lead...); its failure policy decided."""
    SKIPPED = "skipped"
    """It was not called: disabled, an earlier stage rejected the lead, its ``when`` did not
    hold, or the lead was not in its sample."""
    CANCELLED = "cancelled"
    """It was stopped mid-call because a sibling in its stage rejected the lead."""


def _mapping_or_none(value: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    return None if value is None else dict(value)


@frozen(kw_only=True)
class IntegrationRecord:
    """What one integration did for one lead.

    Attributes:
        integration_id: The integration's id within the campaign settings.
        kind: Its kind (``"purecallerid"``, ``"suppression"``...).
        sort: Its sort number (integrations with the same number run in parallel).
        status: How it ended (:class:`IntegrationStatus`).
        action: The action it contributes to the decision (``None`` when skipped or
            cancelled).
        reasons: The reason texts behind that action (the matching rules', or the error's).
        flags: Reason texts of every matching ``flag`` rule (flags accumulate).
        decided_by: The id of the rule that decided, ``"failure_policy"`` for an error, or
            ``None`` when no rule matched (accept) or nothing ran.
        error_class: For an error: its stable class, a :class:`purecallerid.ErrorClass` value
            (the failure table in ``docs/errors.md`` lists them).
        error_message: For an error: a one-line message (no secrets).
        outcome_unknown: For an error: whether the vendor may have processed (and billed)
            the call, as the failure table says.
        skip_reason: Why it was skipped or cancelled.
        answer: The vendor's answer as the rules read it (status, reason, message, typed
            fields, ``extra``), or ``None``.
        request: The request sent, token masked.
        raw: The raw answer body (token redacted).
        attempts: Each HTTP attempt, with timings.
        truncated: Set when the answer or the raw body was over a record bound and was cut
            (what was cut, in words); ``None`` when recorded whole.
        rule_trace: The rule evaluation trace (one entry per rule).
        started_at: When the integration started (UTC).
        duration: Seconds it took.
        cached: No vendor call was made for this lead: the result was reused, from the
            result cache or from an identical lookup in flight (single flight). ``answer``
            and ``raw`` are those of the call that fetched it; ``request`` and ``attempts``
            are empty, since nothing was sent for this lead (and the request was another
            lead's).
        fetched_at: For a reused result: when it was fetched (UTC).
        shadow: It is a shadow integration (a trial): ``action``, ``reasons``, ``flags`` and
            ``decided_by`` are what it would have contributed; none of them counts in the
            screening's decision (``ScreeningRecord.shadow`` says what would have).
        when_trace: For an integration with a ``when``: ``condition`` (its text),
            ``outcome`` (``matched``, ``not_matched`` or ``unknown``) and ``values`` (each
            field read and the value found); ``None`` otherwise.
    """

    integration_id: str
    kind: str
    sort: int
    status: IntegrationStatus
    action: Action | None = None
    reasons: tuple[str, ...] = ()
    flags: tuple[str, ...] = ()
    decided_by: str | None = None
    error_class: str | None = None
    error_message: str | None = None
    outcome_unknown: bool | None = None
    skip_reason: str | None = None
    answer: Mapping[str, Any] | None = field(default=None, converter=_mapping_or_none)
    request: RequestRecord | None = None
    raw: str | None = None
    attempts: tuple[Attempt, ...] = ()
    rule_trace: tuple[Mapping[str, Any], ...] = ()
    started_at: datetime | None = None
    duration: float | None = None
    cached: bool = False
    fetched_at: datetime | None = None
    truncated: str | None = None
    shadow: bool = False
    # No converter: the plan builds it, and a converter would run for every record made.
    when_trace: Mapping[str, Any] | None = None


@frozen(kw_only=True)
class RulesRecord:
    """What a campaign's rule set decided for one lead: its ``rules``, or its ``shadow_rules``.

    Attributes:
        action: The most severe action of its rules that fired (accept when none did).
        reasons: The reasons of the rules acting so (empty for an accept).
        flags: The reasons of every flag rule that fired.
        decided_by: The id of the rule that decided, or ``None`` when no rule fired.
        rule_trace: The evaluation trace, one entry per rule, each value read under its
            qualified name (``purecallerid.status``).
    """

    action: Action
    reasons: tuple[str, ...] = ()
    flags: tuple[str, ...] = ()
    decided_by: str | None = None
    rule_trace: tuple[Mapping[str, Any], ...] = ()


@frozen(kw_only=True)
class ShadowRecord:
    """What a screening would have decided with its shadow parts live.

    Every shadow integration's action and the shadow rules' verdict counted, by the same most
    severe rule as the live decision. A shadow integration whose reject would have skipped
    later stages changes nothing here: the decision is a reject either way.

    Attributes:
        decision: The decision the screening would have reached.
        reasons: Its reasons (empty for a plain accept).
        flags: Every flag, shadow parts' included.
        decided_by: ``"<integration id>:<rule>"``, ``"campaign:<rule id>"`` or
            ``"shadow:<rule id>"`` (a shadow rule) of the first part acting so, or ``None``.
        integrations: The ids of the shadow integrations; their own records, marked
            ``shadow``, are among the screening's.
        rules: The shadow rules' own verdict and trace, or ``None`` when the campaign has
            none.
    """

    decision: Action
    reasons: tuple[str, ...] = ()
    flags: tuple[str, ...] = ()
    decided_by: str | None = None
    integrations: tuple[str, ...] = ()
    rules: RulesRecord | None = None


@frozen(kw_only=True)
class ScreeningRecord:
    """The decision on one lead, with everything that led to it.

    Attributes:
        lead_id: The host's lead id (the record's key).
        campaign_id: The host's campaign.
        decision: The overall action: the most severe across integrations.
        reasons: Reason texts behind the decision (empty for a plain accept).
        flags: Every flag raised, across integrations.
        decided_by: ``"<integration id>:<rule id or failure_policy>"`` of the first
            integration that produced the decision, ``"campaign:<rule id>"`` when a campaign
            rule did (and no integration before it), or ``None`` for a plain accept.
        integrations: One record per configured integration, in plan order.
        note: A remark on the screening as a whole (for instance "no settings for campaign").
        started_at: Start of the screening (UTC).
        finished_at: End of the screening (UTC).
        duration: Seconds from start to end.
        library_version: The ``purecallerid`` version that screened.
        settings_hash: SHA-256 of the campaign settings applied (mapping, rules, order,
            policies; never credentials), so that a decision can be tied to its rules.
        phone: The lead's phone in E.164, when the campaign's mapping could read one (the
            key of a search by phone).
        outcome_unknown: Whether an earlier attempt at this screening, by a worker that died
            holding the lead, may have reached the vendors (and been billed).
        version: The record's version for its lead: 1 for the first screening, one more for
            each re-screening; 0 for a record not stored yet.
        campaign_rules: What the campaign's ``rules`` decided (:class:`RulesRecord`), or
            ``None`` when the campaign has none.
        shadow: What the screening would have decided with its shadow parts live
            (:class:`ShadowRecord`), or ``None`` when the campaign has no shadow part.
    """

    lead_id: str
    campaign_id: str
    decision: Action
    reasons: tuple[str, ...] = ()
    flags: tuple[str, ...] = ()
    decided_by: str | None = None
    integrations: tuple[IntegrationRecord, ...] = ()
    note: str | None = None
    started_at: datetime
    finished_at: datetime
    duration: float
    library_version: str
    settings_hash: str
    phone: str | None = None
    outcome_unknown: bool = False
    version: int = 0
    campaign_rules: RulesRecord | None = None
    shadow: ShadowRecord | None = None

    def to_public_dict(self) -> dict[str, Any]:
        """The record as JSON data to show a person: every phone masked, no secret.

        The record itself keeps phones whole, as evidence; this is the form for a page, an
        export or a support ticket (the command line's ``records`` commands use it).
        """
        shown: dict[str, Any] = mask_phones(converter.unstructure(self))
        return shown

    def integration(self, integration_id: str) -> IntegrationRecord:
        """The record of the integration *integration_id*.

        Raises:
            KeyError: No integration with that id took part.
        """
        for record in self.integrations:
            if record.integration_id == integration_id:
                return record
        raise KeyError(integration_id)


# The campaign flow's fields are left out of a record's JSON while they hold their defaults:
# the records of campaigns that use none of it read and hash exactly as they did before.
converter.register_unstructure_hook(
    IntegrationRecord,
    make_dict_unstructure_fn(
        IntegrationRecord,
        converter,
        shadow=override(omit_if_default=True),
        when_trace=override(omit_if_default=True),
    ),
)
converter.register_unstructure_hook(
    ScreeningRecord,
    make_dict_unstructure_fn(
        ScreeningRecord,
        converter,
        campaign_rules=override(omit_if_default=True),
        shadow=override(omit_if_default=True),
    ),
)
