"""Rules as data: actions, operators, conditions and rules, and their canonical dict form.

These classes are plain frozen values: they know nothing about field registries, parsing or
evaluation. :class:`purecallerid.RuleSet` validates them against an integration's fields and
compiles them; ``text.py`` reads and writes their one-line text form.
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING, Any, Final, TypeAlias

import attrs
from attrs import frozen

if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = [
    "Action",
    "AllOf",
    "AnyOf",
    "Comparison",
    "Condition",
    "Not",
    "Operator",
    "Rule",
    "Scalar",
    "UnknownPolicy",
    "Value",
    "condition_to_dict",
    "default_rule_id",
    "rule_to_dict",
]


class Action(enum.StrEnum):
    """What a matching rule does with the lead, from the mildest to the most severe.

    Severity orders the actions: ``reject > qa > flag > accept``. When several rules match,
    the most severe action wins; :meth:`Action.most_severe` applies that order.
    """

    ACCEPT = "accept"
    FLAG = "flag"
    QA = "qa"
    REJECT = "reject"

    @property
    def severity(self) -> int:
        """The action's rank: 0 for accept up to 3 for reject."""
        return _SEVERITY[self]

    @classmethod
    def most_severe(cls, actions: Iterable[Action]) -> Action:
        """Return the most severe of *actions* (an iterable), or accept when it is empty.

        Ties go to the first one met, which only matters to callers that track where each
        action came from.
        """
        best = cls.ACCEPT
        for action in actions:
            if _SEVERITY[action] > _SEVERITY[best]:
                best = action
        return best


_SEVERITY: Final[dict[Action, int]] = {
    Action.ACCEPT: 0,
    Action.FLAG: 1,
    Action.QA: 2,
    Action.REJECT: 3,
}


class Operator(enum.StrEnum):
    """The closed set of comparison operators, by machine name.

    The English label an admin sees, the text-form spelling and the field types each one
    applies to are in :func:`purecallerid.operator_table`.
    """

    EQUALS = "equals"
    NOT_EQUALS = "not_equals"
    IN = "in"
    NOT_IN = "not_in"
    LESS_THAN = "less_than"
    AT_MOST = "at_most"
    GREATER_THAN = "greater_than"
    AT_LEAST = "at_least"
    BETWEEN = "between"
    NOT_BETWEEN = "not_between"
    CONTAINS = "contains"
    NOT_CONTAINS = "not_contains"
    STARTS_WITH = "starts_with"
    MATCHES = "matches"
    NOT_MATCHES = "not_matches"
    IS_BLANK = "is_blank"
    IS_NOT_BLANK = "is_not_blank"
    IS_TRUE = "is_true"
    IS_FALSE = "is_false"


class UnknownPolicy(enum.StrEnum):
    """What a rule does when its condition is unknown (a field was absent, or unreadable).

    ``no_match`` (the default) lets the lead through that rule; ``match`` fires the rule, the
    choice of a compliance screen that holds a lead when it cannot tell.
    """

    NO_MATCH = "no_match"
    MATCH = "match"


Scalar: TypeAlias = str | int | float | bool
"""A single value in a rule: a string, a number or a boolean (never ``None``)."""

Value: TypeAlias = Scalar | tuple[Scalar, ...] | None
"""A comparison's value: a scalar, a tuple (``in``, ``between``), or ``None`` (unary ops)."""


def _to_value(value: Any) -> Value:
    # Lists become tuples so that a rule is immutable and hashable.
    if isinstance(value, list | tuple):
        return tuple(value)
    return value  # type: ignore[no-any-return]


@frozen
class Comparison:
    """Compare one field with a value: ``reason in ("DNC", "INACTIVE")``.

    Attributes:
        field: What to read: an answer field (``reason``), ``extra.<key>`` for a vendor key the
            library does not type, or ``lead.<name>`` (dotted paths allowed) for a lead field.
        op: The operator.
        value: The value compared with: a scalar, a tuple for ``in`` / ``not_in`` and the two
            bounds of ``between``, ``None`` for the operators that take none (``is_blank``...).
        case_sensitive: Compare strings with exact case (by default case is ignored).
    """

    field: str
    op: Operator = attrs.field(converter=Operator)
    value: Value = attrs.field(default=None, converter=_to_value)
    case_sensitive: bool = False


def _is_condition(instance: Any, attribute: Any, value: Any) -> None:
    # Checked when built: a dict or None here would only fail later, far from the mistake,
    # as an AttributeError while printing or exporting the rule.
    if not isinstance(value, Comparison | AllOf | AnyOf | Not):
        raise TypeError(
            f"{type(instance).__name__}.{attribute.name} takes conditions (Comparison, AllOf,"
            f" AnyOf or Not), not {type(value).__name__}; to load a dict, use RuleSet.load"
        )


def _conditions(value: Iterable[Condition]) -> tuple[Condition, ...]:
    return tuple(value)


def _all_conditions(instance: Any, attribute: Any, value: tuple[Any, ...]) -> None:
    for item in value:
        _is_condition(instance, attribute, item)


def _at_least_two(_: Any, attribute: Any, value: tuple[Any, ...]) -> None:
    # A group of one is that condition itself; keeping a single form keeps both the dict
    # and the text forms canonical (the loader collapses such groups).
    if len(value) < 2:  # noqa: PLR2004 - "a group" means two or more
        raise ValueError(f"{attribute.name} needs at least two conditions, got {len(value)}")


@frozen
class AllOf:
    """True when every condition is true (``and``).

    Attributes:
        conditions: Two or more conditions.
    """

    conditions: tuple[Condition, ...] = attrs.field(
        converter=_conditions, validator=[_at_least_two, _all_conditions]
    )


@frozen
class AnyOf:
    """True when at least one condition is true (``or``).

    Attributes:
        conditions: Two or more conditions.
    """

    conditions: tuple[Condition, ...] = attrs.field(
        converter=_conditions, validator=[_at_least_two, _all_conditions]
    )


@frozen
class Not:
    """The negation of a condition (unknown stays unknown).

    Attributes:
        condition: The negated condition.
    """

    condition: Condition = attrs.field(validator=_is_condition)


Condition: TypeAlias = Comparison | AllOf | AnyOf | Not
"""Any condition: a comparison or a group of conditions."""


@frozen(kw_only=True)
class Rule:
    """One criteria rule: when the condition holds, apply the action.

    Attributes:
        id: A stable name, shown in traces and records (letters, digits, ``_ . -``).
        action: What to do with the lead when the rule fires.
        when: The condition.
        reason: Optional text for the host and the audit record; ``{field}`` inserts a value
            read at evaluation (``"Rejected by PureCallerID: {reason}"``), ``{{`` and ``}}``
            are literal braces.
        enabled: A disabled rule is kept, validated and traced, but never evaluated.
        unknown: What an unknown condition means for this rule.
    """

    id: str
    action: Action = attrs.field(converter=Action)
    when: Condition = attrs.field(validator=_is_condition)
    reason: str | None = None
    enabled: bool = True
    unknown: UnknownPolicy = attrs.field(default=UnknownPolicy.NO_MATCH, converter=UnknownPolicy)


def default_rule_id(position: int) -> str:
    """The id given to a rule written without one: ``rule-<n>``, *n* counted from 1."""
    return f"rule-{position + 1}"


def condition_to_dict(condition: Condition) -> dict[str, Any]:
    """Return the canonical dict form of *condition* (defaults omitted, tuples as lists)."""
    if isinstance(condition, Comparison):
        out: dict[str, Any] = {"field": condition.field, "op": condition.op.value}
        if condition.value is not None:
            value = condition.value
            out["value"] = list(value) if isinstance(value, tuple) else value
        if condition.case_sensitive:
            out["case_sensitive"] = True
        return out
    if isinstance(condition, AllOf):
        return {"all": [condition_to_dict(c) for c in condition.conditions]}
    if isinstance(condition, AnyOf):
        return {"any": [condition_to_dict(c) for c in condition.conditions]}
    return {"not": condition_to_dict(condition.condition)}


def rule_to_dict(rule: Rule) -> dict[str, Any]:
    """Return the canonical dict form of *rule* (defaults omitted, except the id)."""
    out: dict[str, Any] = {
        "id": rule.id,
        "action": rule.action.value,
        "when": condition_to_dict(rule.when),
    }
    if rule.unknown is not UnknownPolicy.NO_MATCH:
        out["unknown"] = rule.unknown.value
    if rule.reason is not None:
        out["reason"] = rule.reason
    if not rule.enabled:
        out["enabled"] = False
    return out
