"""The criteria rule engine: load and validate rules once, evaluate them on every answer.

A :class:`RuleSet` is built from a rule document (the JSON-shaped dict, or the one-line text
form) and an integration's :class:`FieldRegistry`. Loading reports every problem at once
(:class:`RuleValidationError`) and compiles the rules; :meth:`RuleSet.evaluate` then reads
plain facts (the integration's answer as a mapping, and the lead) and returns an
:class:`Evaluation`: the action, the rule that decided, the flags, and a trace of every rule.

The engine knows no vendor: an integration brings its field registry and hands over its
answer as a plain mapping.
"""

from __future__ import annotations

import enum
import hashlib
import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, Final, Protocol, final, runtime_checkable

from attrs import frozen

from .._converter import converter
from .._errors import RuleValidationError
from .._models import Lead
from .check import Checker, RuleProblem
from .evaluate import CompiledCondition, compile_condition, compile_template, reader_for
from .fields import FieldRegistry
from .model import (
    Action,
    AllOf,
    AnyOf,
    Comparison,
    Condition,
    Not,
    Rule,
    UnknownPolicy,
    condition_to_dict,
    rule_to_dict,
)
from .text import check_text, format_rules

__all__ = [
    "Action",
    "Evaluation",
    "RuleOutcome",
    "RuleSet",
    "RuleTrace",
    "SupportsAnswer",
    "UncheckedRules",
]


class RuleOutcome(enum.StrEnum):
    """What a rule's condition came to on one evaluation.

    ``unknown`` means a field it needed was absent (or the integration errored, or a value
    could not be compared); whether the rule then fires depends on its unknown policy.
    ``disabled`` rules are listed but not evaluated.
    """

    MATCHED = "matched"
    NOT_MATCHED = "not_matched"
    UNKNOWN = "unknown"
    DISABLED = "disabled"


@frozen
class RuleTrace:
    """What one rule did on one evaluation.

    Attributes:
        rule_id: The rule's id.
        action: The rule's action.
        outcome: Matched, not matched, unknown or disabled.
        fired: Whether the rule counted toward the decision (matched, or unknown under the
            ``match`` policy).
        values: Each field the rule read and the value found (``None`` when absent), in the
            order read. Evaluation stops early where the result is settled, so a field after
            a false ``and`` is not read.
        reason: The rule's reason with the values filled in, when it fired.
    """

    rule_id: str
    action: Action
    outcome: RuleOutcome
    fired: bool
    values: Mapping[str, Any]
    reason: str | None = None


@frozen
class Evaluation:
    """The result of evaluating a rule set on one answer.

    Attributes:
        action: The most severe action among the rules that fired (the first such rule wins
            a tie); accept when none fired.
        decided_by: The id of the rule that gave the action, or ``None`` when no rule fired.
        reasons: The reasons of every fired rule whose action is the final one, deciding
            rule first (a rule without a reason text contributes its id).
        flags: The reasons of every fired flag rule, in rule order, whatever the final
            action: flags accumulate.
        trace: One entry per rule, in rule order.
    """

    action: Action
    decided_by: str | None
    reasons: tuple[str, ...]
    flags: tuple[str, ...]
    trace: tuple[RuleTrace, ...]

    @property
    def reason(self) -> str | None:
        """The deciding rule's reason (or id), or ``None`` when no rule fired."""
        return self.reasons[0] if self.reasons else None

    def trace_dicts(self) -> tuple[dict[str, Any], ...]:
        """The trace as JSON-shaped dicts, through the library converter (for records)."""
        return tuple(converter.unstructure(entry) for entry in self.trace)


@runtime_checkable
class SupportsAnswer(Protocol):
    """An integration's answer object that can present itself as the mapping rules read.

    **Protocol:** implemented by :class:`purecallerid.ScreeningResponse`; a host's own answer
    model may implement it too, so that :meth:`RuleSet.evaluate` takes it as it is.
    """

    def as_answer(self) -> Mapping[str, Any]:
        """The answer's facts, field name to value, as the integration's registry declares."""
        ...


def _facts(answer: object) -> Mapping[str, Any] | None:
    """The answer as a mapping (``None``: every answer field unknown).

    Raises:
        TypeError: *answer* is neither a mapping, ``None``, nor a :class:`SupportsAnswer`.
    """
    # Cheapest checks first: a dict or None is what the screener passes on every lead, and an
    # isinstance against an ABC or a runtime protocol costs far more than a type check.
    if answer is None or type(answer) is dict:
        return answer
    if isinstance(answer, Mapping):
        return answer
    if isinstance(answer, SupportsAnswer):
        facts = answer.as_answer()
        if not isinstance(facts, Mapping):
            raise TypeError(
                f"{type(answer).__name__}.as_answer() must return a mapping, "
                f"not {_described(facts)}"
            )
        return facts
    # Reading anything else as "no answer" would turn a caller's mistake (a JSON body not yet
    # parsed, a list) into rules that silently never see the vendor's answer.
    raise TypeError(
        "the answer must be a mapping, None, or an object with as_answer() "
        f"(SupportsAnswer), not {_described(answer)}{_hint(answer)}"
    )


def _lead_facts(lead: object) -> Mapping[str, Any] | None:
    """The lead's fields as a mapping, or ``None`` when there is no lead.

    Raises:
        TypeError: *lead* is neither a mapping, ``None``, nor a :class:`Lead`.
    """
    if lead is None or type(lead) is dict:
        return lead
    if isinstance(lead, Lead):
        return lead.fields
    if isinstance(lead, Mapping):
        return lead
    raise TypeError(
        f"the lead must be a mapping, a Lead or None, not {_described(lead)}{_hint(lead)}"
    )


def _described(value: object) -> str:
    # The type only (and a text's length): an answer or a lead may hold personal data, and
    # this message may end up in a log.
    if isinstance(value, str):
        return f"str ({len(value)} characters)"
    if isinstance(value, bytes | bytearray):
        return f"{type(value).__name__} ({len(value)} bytes)"
    return type(value).__name__


def _hint(value: object) -> str:
    if isinstance(value, str | bytes | bytearray):
        return "; a JSON text? parse it first, with json.loads"
    return ""


_Render = Callable[[Mapping[str, Any] | None, Mapping[str, Any] | None], str]


@frozen
class _Compiled:
    rule: Rule
    test: CompiledCondition
    render: _Render | None
    fires_on_unknown: bool


@final
class RuleSet:
    """Validated, compiled rules for one integration: load once, evaluate many times.

    Build it with :meth:`load` (from the dict or the text form) or from :class:`Rule` objects.
    It is immutable and safe to share between threads.
    """

    __slots__ = ("_compiled", "_fields", "_rules", "_warnings")

    def __init__(self, rules: Iterable[Rule], fields: FieldRegistry) -> None:
        """Validate *rules* against *fields* and compile them.

        Raises:
            RuleValidationError: Every problem found (the rules are checked as a document).
        """
        document = {"version": 1, "rules": [rule_to_dict(r) for r in rules]}
        checker = Checker(fields)
        checked = checker.document(document)
        checker.raise_if_failed()
        self._setup(checked, fields, checker)

    @classmethod
    def load(cls, source: str | Mapping[str, Any], fields: FieldRegistry) -> RuleSet:
        """Load a rule document: the dict form, or the text form (one rule a line).

        Raises:
            RuleValidationError: Every problem in the document, each with its JSON pointer (and
                line and column for text).
        """
        self = cls.__new__(cls)
        if isinstance(source, str):
            rules, _, checker = check_text(source, fields)
        else:
            checker = Checker(fields)
            rules = checker.document(source)
            checker.raise_if_failed()
        self._setup(rules, fields, checker)
        return self

    @classmethod
    def from_text(cls, text: str, fields: FieldRegistry) -> RuleSet:
        """Load rules written in the text form (see :meth:`load`)."""
        return cls.load(text, fields)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], fields: FieldRegistry) -> RuleSet:
        """Load a rule document in the dict form (see :meth:`load`)."""
        return cls.load(data, fields)

    @classmethod
    def empty(cls, fields: FieldRegistry | None = None) -> RuleSet:
        """A rule set without rules: every evaluation accepts."""
        return cls((), _NO_FIELDS if fields is None else fields)

    def _setup(self, rules: tuple[Rule, ...], fields: FieldRegistry, checker: Checker) -> None:
        self._rules = rules
        self._fields = fields
        self._warnings = checker.warnings
        readers = reader_for(fields)
        self._compiled = tuple(
            _Compiled(
                rule=rule,
                test=compile_condition(rule.when, checker.patterns, readers),
                render=None if rule.reason is None else compile_template(rule.reason, readers),
                fires_on_unknown=rule.unknown is UnknownPolicy.MATCH,
            )
            for rule in rules
        )

    @property
    def rules(self) -> tuple[Rule, ...]:
        """The rules, in order."""
        return self._rules

    @property
    def fields(self) -> FieldRegistry:
        """The registry the rules were validated against."""
        return self._fields

    @property
    def warnings(self) -> tuple[RuleProblem, ...]:
        """Problems that did not stop the load (values a field does not know, for instance)."""
        return self._warnings

    @property
    def digest(self) -> str:
        """SHA-256 of the canonical dict form: which rules were applied, for the audit record."""
        canonical = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()

    def to_dict(self) -> dict[str, Any]:
        """Return the canonical dict form (``load(to_dict())`` gives equal rules)."""
        return {"version": 1, "rules": [rule_to_dict(r) for r in self._rules]}

    def to_text(self) -> str:
        """Return the canonical text form, one rule a line."""
        return format_rules(self._rules)

    def evaluate(
        self,
        answer: Mapping[str, Any] | SupportsAnswer | None,
        lead: Mapping[str, Any] | Lead | None = None,
    ) -> Evaluation:
        """Evaluate every enabled rule and decide.

        Args:
            answer: The integration's answer as a mapping, an object that gives one
                (:class:`SupportsAnswer`, such as a :class:`purecallerid.ScreeningResponse`), or
                ``None`` when the integration errored (every condition on the answer is then
                unknown).
            lead: The lead's fields (a mapping, or a :class:`Lead`), read by ``lead.<path>``.

        Never raises for any mapping (whatever its values) or ``None``.

        Raises:
            TypeError: *answer* or *lead* is of another type, such as a JSON text not yet
                parsed or a list; the message names what was passed.
        """
        facts = _facts(answer)
        lead_facts = _lead_facts(lead)
        traces: list[RuleTrace] = []
        fired_rules: list[tuple[Rule, str]] = []
        decided: Rule | None = None
        for compiled in self._compiled:
            rule = compiled.rule
            if not rule.enabled:
                traces.append(RuleTrace(rule.id, rule.action, RuleOutcome.DISABLED, False, {}))  # noqa: FBT003
                continue
            seen: dict[str, Any] = {}
            result = compiled.test(facts, lead_facts, seen)
            fired = result is True or (result is None and compiled.fires_on_unknown)
            reason = None
            if fired and compiled.render is not None:
                reason = compiled.render(facts, lead_facts)
            traces.append(RuleTrace(rule.id, rule.action, _OUTCOMES[result], fired, seen, reason))
            if not fired:
                continue
            fired_rules.append((rule, rule.id if reason is None else reason))
            if decided is None or rule.action.severity > decided.action.severity:
                decided = rule
        action = Action.ACCEPT if decided is None else decided.action
        return Evaluation(
            action=action,
            decided_by=None if decided is None else decided.id,
            reasons=tuple(text for rule, text in fired_rules if rule.action is action),
            flags=tuple(text for rule, text in fired_rules if rule.action is Action.FLAG),
            trace=tuple(traces),
        )

    def __len__(self) -> int:
        """The number of rules."""
        return len(self._rules)

    def __iter__(self) -> Iterator[Rule]:
        """Iterate over the rules in order."""
        return iter(self._rules)

    def __eq__(self, other: object) -> bool:
        """Rule sets are equal when their rules and registries are."""
        if not isinstance(other, RuleSet):
            return NotImplemented
        return self._rules == other._rules and self._fields == other._fields

    def __hash__(self) -> int:
        """Hash of the rules and the registry."""
        return hash((self._rules, self._fields))

    def __repr__(self) -> str:
        """Show the integration and the number of rules."""
        return f"<RuleSet {self._fields.integration!r}: {len(self._rules)} rules>"


@final
class UncheckedRules:
    """Rules given as data, read but not yet checked against an integration's fields.

    What :class:`~purecallerid.IntegrationSettings` keeps for rules given as text, a list of
    lines, a list of rule tables or a rule document, since the fields they may read belong to
    the integration's kind, which settings built in code do not know. Their syntax (and every
    check that needs no fields) is done when they are read: a broken line is refused at once.
    The screener checks them against the kind's fields when it first sees the settings
    version, and :func:`~purecallerid.check_campaign` does it on demand (when an admin saves).

    Equal, and written (:meth:`to_dict`, hence the settings hash), as the :class:`RuleSet`
    they check into.
    """

    __slots__ = ("_rules", "_source")

    def __init__(self, source: str | Mapping[str, Any]) -> None:
        """Read *source*: rule text (one rule a line) or a rule document (the dict form).

        Raises:
            RuleValidationError: Every problem found without the fields (syntax, shapes,
                actions, duplicate ids), with its line and column in text.
        """
        if isinstance(source, str):
            rules, _, _ = check_text(source, None)
        else:
            checker = Checker(None)
            rules = checker.document(source)
            checker.raise_if_failed()
        self._source = source
        self._rules = rules

    @property
    def source(self) -> str | Mapping[str, Any]:
        """The text or document the rules were read from."""
        return self._source

    @property
    def rules(self) -> tuple[Rule, ...]:
        """The rules, in order."""
        return self._rules

    def check(self, fields: FieldRegistry) -> RuleSet:
        """The rules checked against *fields* and compiled.

        Raises:
            RuleValidationError: Every problem, each with its line and column in text (a field
                the integration does not have, a value of the wrong type).
        """
        return RuleSet.load(self._source, fields)

    def to_dict(self) -> dict[str, Any]:
        """Return the canonical dict form, the same as the checked :class:`RuleSet`'s."""
        return {"version": 1, "rules": [rule_to_dict(r) for r in self._rules]}

    def __len__(self) -> int:
        """The number of rules."""
        return len(self._rules)

    def __eq__(self, other: object) -> bool:
        """Equal when the rules are: text and tables that say the same thing are equal."""
        if not isinstance(other, UncheckedRules):
            return NotImplemented
        return self._rules == other._rules

    def __hash__(self) -> int:
        """Hash of the rules."""
        return hash(self._rules)

    def __repr__(self) -> str:
        """Show the number of rules."""
        return f"<UncheckedRules: {len(self._rules)} rules>"


_NO_FIELDS: Final = FieldRegistry(integration="none", fields=())

_OUTCOMES: Final = {
    True: RuleOutcome.MATCHED,
    False: RuleOutcome.NOT_MATCHED,
    None: RuleOutcome.UNKNOWN,
}

# -- the library converter ------------------------------------------------------------------
# Rules travel as their canonical dicts. Structuring a single rule or condition checks its
# shape only (no registry is known there); a whole rule set needs its integration's fields,
# so it is built with RuleSet.load, never structured.


def _structure_rule(data: Any, _: type) -> Rule:
    checker = Checker(None)
    rule = checker.rule(data, "", 0)
    checker.raise_if_failed()
    assert rule is not None  # noqa: S101 - no error means a rule was built
    return rule


def _structure_condition(data: Any, cls: type) -> Any:
    checker = Checker(None)
    condition = checker.condition(data, "", depth=1)
    checker.raise_if_failed()
    if not isinstance(condition, cls):
        raise RuleValidationError(
            [
                RuleProblem(
                    path="", code="wrong_type", message=f"this condition is not a {cls.__name__}"
                )
            ]
        )
    return condition


def _structure_condition_union(data: Any, _: Any) -> Condition:
    checker = Checker(None)
    condition = checker.condition(data, "", depth=1)
    checker.raise_if_failed()
    assert condition is not None  # noqa: S101 - no error means a condition was built
    return condition


def _refuse_ruleset(_: Any, __: type) -> RuleSet:
    raise TypeError("a RuleSet needs its integration's fields: use RuleSet.load(data, fields)")


converter.register_unstructure_hook(Rule, rule_to_dict)
converter.register_structure_hook(Rule, _structure_rule)
for _cls in (Comparison, AllOf, AnyOf, Not):
    converter.register_unstructure_hook(_cls, condition_to_dict)
    converter.register_structure_hook(_cls, _structure_condition)
converter.register_unstructure_hook(RuleSet, lambda rules: rules.to_dict())
converter.register_structure_hook(RuleSet, _refuse_ruleset)
converter.register_structure_hook_func(lambda t: t == Condition, _structure_condition_union)
