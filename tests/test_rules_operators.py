"""Every operator on strings, numbers, booleans, lists, objects and missing values.

Each row reads one lead field (``lead.x``, of type any, so that every operator applies) and
gives the expected outcome: True (matched), False (not matched) or None (unknown).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from purecallerid import (
    PURECALLERID_FIELDS,
    Action,
    FieldRegistry,
    FieldSpec,
    Operator,
    RuleOutcome,
    RuleSet,
    purecallerid_preset,
)

_MISSING = object()
_OUTCOME = {True: RuleOutcome.MATCHED, False: RuleOutcome.NOT_MATCHED, None: RuleOutcome.UNKNOWN}


def outcome(op: str, value: Any, actual: Any, *, case_sensitive: bool = False) -> RuleOutcome:
    condition: dict[str, Any] = {"field": "lead.x", "op": op}
    if value is not _MISSING:
        condition["value"] = value
    if case_sensitive:
        condition["case_sensitive"] = True
    rules = RuleSet.load({"rules": [{"action": "flag", "when": condition}]}, PURECALLERID_FIELDS)
    lead = {} if actual is _MISSING else {"x": actual}
    return rules.evaluate({}, lead).trace[0].outcome


N = _MISSING  # "no value" for the operators that take none

STRINGS = [
    ("equals", "DNC", "dnc", True),
    ("equals", "DNC", "DNX", False),
    ("equals", "", "", True),
    ("not_equals", "DNC", "dnc", False),
    ("not_equals", "DNC", "INVALID", True),
    ("in", ["a", "b"], "B", True),
    ("in", ["a", "b"], "c", False),
    ("not_in", ["a", "b"], "c", True),
    ("not_in", ["a", "b"], "A", False),
    ("less_than", 40, "39", True),
    ("less_than", 40, "forty", None),
    ("at_most", 40, " 40 ", True),
    ("greater_than", 40, "1e2", True),
    ("at_least", 40, "39.99", False),
    ("between", [10, 20], "15", True),
    ("between", [10, 20], "abc", None),
    ("not_between", [10, 20], "25", True),
    ("contains", "inact", "Inactive phone", True),
    ("contains", "xyz", "Inactive phone", False),
    ("not_contains", "inact", "Inactive phone", False),
    ("not_contains", "xyz", "Inactive phone", True),
    ("starts_with", "Inact", "inactive", True),
    ("starts_with", "Inact", "active", False),
    ("matches", "^in", "Inactive", True),
    ("matches", "^in", "active", False),
    ("not_matches", "^in", "active", True),
    ("not_matches", "^in", "Inactive", False),
    ("is_blank", N, "", True),
    ("is_blank", N, "  \t", True),
    ("is_blank", N, "x", False),
    ("is_not_blank", N, "x", True),
    ("is_not_blank", N, "", False),
    ("is_true", N, "TRUE", True),
    ("is_true", N, "false", False),
    ("is_true", N, "yes", None),
    ("is_false", N, " false ", True),
    ("is_false", N, "true", False),
]

NUMBERS = [
    ("equals", 40, 40, True),
    ("equals", 40, 40.0, True),
    ("equals", 40, Decimal(40), True),
    ("equals", 40, 41, False),
    ("equals", "40", 40, True),
    ("not_equals", 40, 41, True),
    ("not_equals", 40, 40, False),
    ("in", [10, 20], 20, True),
    ("in", [10, 20], 30, False),
    ("not_in", [10, 20], 30, True),
    ("less_than", 40, 39.5, True),
    ("less_than", 40, 40, False),
    ("less_than", 40, float("nan"), None),
    # Non-finite numbers are unknown, not compared (issue 13): -inf < 40 was true, and inf or
    # an overflowing "1e400" from a hostile answer fired "> 40".
    ("less_than", 40, float("-inf"), None),
    ("greater_than", 40, float("inf"), None),
    ("greater_than", 40, "1e400", None),
    ("less_than", 40, "-1e400", None),
    ("at_least", 40, Decimal("Infinity"), None),
    ("equals", 40, float("inf"), None),
    ("not_equals", 40, float("inf"), None),
    ("in", [10, 20], float("inf"), None),
    ("not_in", [10, 20], "1e400", None),
    ("between", [0, 100], float("nan"), None),
    ("not_between", [0, 100], float("-inf"), None),
    ("less_than", 40, "1e-400", True),
    ("at_most", 40, 40, True),
    ("at_most", 40, 41, False),
    ("greater_than", 40, 41, True),
    ("greater_than", 40, 40, False),
    ("greater_than", 40, 10**400, True),
    ("at_least", 40, 40, True),
    ("at_least", 40, 39, False),
    ("between", [10, 20], 10, True),
    ("between", [10, 20], 20, True),
    ("between", [10, 20], 21, False),
    ("not_between", [10, 20], 21, True),
    ("not_between", [10, 20], 15, False),
    ("contains", "4", 1234, True),
    ("contains", "9", 1234, False),
    ("not_contains", "9", 1234, True),
    ("starts_with", "12", 1234, True),
    ("matches", r"^\d+$", 123, True),
    ("not_matches", r"^\d+$", 12.5, True),
    ("is_blank", N, 0, False),
    ("is_not_blank", N, 0, True),
    ("is_true", N, 1, None),
    ("is_false", N, 0, None),
]

BOOLEANS = [
    ("equals", True, True, True),
    ("equals", True, False, False),
    ("equals", True, "true", True),
    ("equals", True, 1, None),
    ("equals", "true", True, True),
    ("not_equals", True, False, True),
    ("not_equals", False, False, False),
    ("in", [True], True, True),
    ("in", [True], False, False),
    ("not_in", [True], False, True),
    ("less_than", 1, True, None),
    ("between", [0, 1], False, None),
    ("contains", "ru", True, True),
    ("starts_with", "fa", False, True),
    ("matches", "^true$", True, True),
    ("is_blank", N, False, False),
    ("is_not_blank", N, False, True),
    ("is_true", N, True, True),
    ("is_true", N, False, False),
    ("is_false", N, False, True),
    ("is_false", N, True, False),
]

LISTS = [
    ("contains", "DNC", ["dnc", "x"], True),
    ("contains", "DNC", ["x", "y"], False),
    ("contains", "DNC", [], False),
    ("contains", 5, [1, "5"], True),
    ("not_contains", "DNC", ["x"], True),
    ("not_contains", "DNC", ["DNC"], False),
    ("equals", "a", ["a"], None),
    ("not_equals", "a", ["a"], None),
    ("in", ["a"], ["a"], None),
    ("not_in", ["a"], ["a"], None),
    ("less_than", 1, [0], None),
    ("at_most", 1, [0], None),
    ("greater_than", 1, [2], None),
    ("at_least", 1, [2], None),
    ("between", [0, 5], [1], None),
    ("not_between", [0, 5], [9], None),
    ("starts_with", "a", ["abc"], None),
    ("matches", "a", ["a"], None),
    ("not_matches", "a", ["b"], None),
    ("is_blank", N, [], True),
    ("is_blank", N, ["a"], False),
    ("is_not_blank", N, [], False),
    ("is_not_blank", N, [""], True),
    ("is_true", N, [True], None),
    ("is_false", N, [False], None),
]

OBJECTS = [
    ("equals", "a", {"a": 1}, None),
    ("contains", "a", {"a": 1}, None),
    ("is_blank", N, {}, True),
    ("is_not_blank", N, {"a": 1}, True),
]

SAMPLE_VALUES: dict[Operator, Any] = {
    Operator.EQUALS: "a",
    Operator.NOT_EQUALS: "a",
    Operator.IN: ["a"],
    Operator.NOT_IN: ["a"],
    Operator.LESS_THAN: 1,
    Operator.AT_MOST: 1,
    Operator.GREATER_THAN: 1,
    Operator.AT_LEAST: 1,
    Operator.BETWEEN: [1, 2],
    Operator.NOT_BETWEEN: [1, 2],
    Operator.CONTAINS: "a",
    Operator.NOT_CONTAINS: "a",
    Operator.STARTS_WITH: "a",
    Operator.MATCHES: "a",
    Operator.NOT_MATCHES: "a",
    Operator.IS_BLANK: N,
    Operator.IS_NOT_BLANK: N,
    Operator.IS_TRUE: N,
    Operator.IS_FALSE: N,
}


@pytest.mark.parametrize(("op", "value", "actual", "expected"), STRINGS)
def test_operators_on_strings(op: str, value: Any, actual: Any, expected: bool | None) -> None:
    """Each operator reads a string value as documented."""
    assert outcome(op, value, actual) is _OUTCOME[expected]


@pytest.mark.parametrize(("op", "value", "actual", "expected"), NUMBERS)
def test_operators_on_numbers(op: str, value: Any, actual: Any, expected: bool | None) -> None:
    """Each operator reads a number as documented."""
    assert outcome(op, value, actual) is _OUTCOME[expected]


@pytest.mark.parametrize(("op", "value", "actual", "expected"), BOOLEANS)
def test_operators_on_booleans(op: str, value: Any, actual: Any, expected: bool | None) -> None:
    """Each operator reads a boolean as documented."""
    assert outcome(op, value, actual) is _OUTCOME[expected]


@pytest.mark.parametrize(("op", "value", "actual", "expected"), LISTS)
def test_operators_on_lists(op: str, value: Any, actual: Any, expected: bool | None) -> None:
    """Only contains and the blank tests read a list; every other operator finds it unknown."""
    assert outcome(op, value, actual) is _OUTCOME[expected]


@pytest.mark.parametrize(("op", "value", "actual", "expected"), OBJECTS)
def test_operators_on_objects(op: str, value: Any, actual: Any, expected: bool | None) -> None:
    """An object is unknown to comparisons and blank only when empty."""
    assert outcome(op, value, actual) is _OUTCOME[expected]


@pytest.mark.parametrize("op", list(Operator))
@pytest.mark.parametrize("actual", [_MISSING, None], ids=["absent", "null"])
def test_operators_on_missing_values(op: Operator, actual: Any) -> None:
    """An absent or null field is unknown to every operator except is blank / is not blank."""
    expected = {Operator.IS_BLANK: True, Operator.IS_NOT_BLANK: False}.get(op)
    assert outcome(op.value, SAMPLE_VALUES[op], actual) is _OUTCOME[expected]


def test_every_operator_has_a_sample() -> None:
    """The missing-value table covers the whole closed set of operators."""
    assert set(SAMPLE_VALUES) == set(Operator)


@pytest.mark.parametrize(
    ("op", "value", "actual", "expected"),
    [
        ("equals", "DNC", "dnc", False),
        ("equals", "DNC", "DNC", True),
        ("in", ["DNC"], "Dnc", False),
        ("contains", "Inact", "inactive", False),
        ("starts_with", "in", "Inactive", False),
        ("matches", "^in", "Inactive", False),
        ("matches", "^In", "Inactive", True),
    ],
)
def test_exact_case(op: str, value: Any, actual: Any, expected: bool) -> None:
    """With case_sensitive, string comparisons respect case."""
    assert outcome(op, value, actual, case_sensitive=True) is _OUTCOME[expected]


def test_pattern_on_too_long_value_is_unknown() -> None:
    """A value longer than the matcher's input cap makes a pattern condition unknown."""
    assert outcome("matches", "a", "a" * 10_001) is RuleOutcome.UNKNOWN


PADDED = [
    ("equals", "Accepted", "Accepted ", True),
    ("equals", "Accepted", " accepted\t", True),
    ("equals", "Accepted", "Accepted x", False),
    ("equals", "DNC", "D N C", False),
    ("equals", " DNC ", "DNC", True),
    ("equals", "", "   ", True),
    ("not_equals", "DNC", "DNC ", False),
    ("not_equals", "DNC", " INVALID ", True),
    ("in", ["DNC", "INACTIVE"], "DNC ", True),
    ("in", ["DNC ", "INACTIVE"], " dnc", True),
    ("in", ["DNC"], "DNCX ", False),
    ("not_in", ["DNC"], " DNC ", False),
    ("starts_with", "Inact", "  Inactive", True),
    ("starts_with", "Inactive", "Inactive  ", True),
    ("starts_with", "DNC ", "DNC X", True),
    ("starts_with", "DNC ", "DNC ", False),
    # contains and patterns see the value as sent.
    ("contains", "d ", "Accepted ", True),
    ("matches", " $", "Accepted ", True),
    ("matches", "^Accepted$", "Accepted ", False),
    # Numbers and booleans read from text ignored the padding already.
    ("equals", 40, " 40 ", True),
    ("equals", True, " true ", True),
]


@pytest.mark.parametrize(("op", "value", "actual", "expected"), PADDED)
def test_padded_answers_compare_trimmed(
    op: str, value: Any, actual: Any, expected: bool | None
) -> None:
    """equals, in and starts with ignore whitespace around the answer (a vendor's "Accepted ")."""
    assert outcome(op, value, actual) is _OUTCOME[expected]


@pytest.mark.parametrize(
    ("op", "value", "actual", "expected"),
    [
        ("equals", "Accepted", "Accepted ", True),
        ("equals", "Accepted", "accepted ", False),
        ("in", ["DNC"], "\tDNC", True),
        ("starts_with", "Inact", " Inactive", True),
    ],
)
def test_trimming_applies_with_exact_case(op: str, value: Any, actual: Any, expected: bool) -> None:
    """Exact case is about case only: surrounding whitespace is still ignored."""
    assert outcome(op, value, actual, case_sensitive=True) is _OUTCOME[expected]


def test_the_preset_reads_padded_vendor_values() -> None:
    """A padded status and reason from the vendor still meet the preset's rules."""
    preset = purecallerid_preset()
    assert preset.evaluate({"status": "Rejected ", "reason": " DNC"}).action is Action.REJECT
    assert preset.evaluate({"status": "Accepted ", "reason": "SUPPRESSED "}).action is Action.QA


_NFC = "Caf\u00e9 M\u00fcller"  # é and ü as one character each
_NFD = "Cafe\u0301 Mu\u0308ller"  # the same text with combining accents

UNICODE_FORMS = [
    ("equals", _NFC, _NFD, True),
    ("equals", _NFD, _NFC, True),
    ("equals", _NFC.upper(), _NFD, True),
    ("not_equals", _NFC, _NFD, False),
    ("in", ["x", _NFD], _NFC, True),
    ("not_in", [_NFC], _NFD, False),
    ("contains", "\u00e9 M", _NFD, True),
    ("contains", "e\u0301 m", _NFC, True),
    ("not_contains", "\u00fcll", _NFD, False),
    ("starts_with", "cafe\u0301", _NFC, True),
    ("matches", "^caf\u00e9 ", _NFD, True),
    ("matches", "^cafe\u0301 ", _NFC, True),
    ("matches", r"\u00e9", _NFD, True),
    ("not_matches", "M\u00fc", _NFD, False),
    # A canonical singleton: the Angstrom sign is the letter A with a ring.
    ("equals", "\u212b", "\u00c5", True),
]

EXACT_UNICODE_FORMS = [
    ("equals", _NFC, _NFD, True),
    ("equals", _NFD, _NFC, True),
    ("equals", _NFC.upper(), _NFD, False),
    ("in", [_NFD], _NFC, True),
    ("contains", "\u00e9 M", _NFD, True),
    ("starts_with", "Cafe\u0301", _NFC, True),
    ("matches", "^Caf\u00e9 ", _NFD, True),
    ("equals", "\u212b", "\u00c5", True),
    # Only canonical equivalence is applied: a compatibility ligature stays itself.
    ("equals", "\ufb01", "fi", False),
]


@pytest.mark.parametrize(("op", "value", "actual", "expected"), UNICODE_FORMS)
def test_text_is_compared_in_nfc(op: str, value: Any, actual: Any, expected: bool) -> None:
    """Composed and decomposed forms of one text are one value, on either side of a rule."""
    assert outcome(op, value, actual) is _OUTCOME[expected]


@pytest.mark.parametrize(("op", "value", "actual", "expected"), EXACT_UNICODE_FORMS)
def test_exact_case_text_is_compared_in_nfc(
    op: str, value: Any, actual: Any, expected: bool
) -> None:
    """With exact case too, the NFC forms are compared."""
    assert outcome(op, value, actual, case_sensitive=True) is _OUTCOME[expected]


def test_known_values_are_compared_in_nfc() -> None:
    """A rule value in another normal form of a known value is that known value."""
    fields = FieldRegistry(
        integration="t",
        fields=[FieldSpec(name="city", type="string", values=[_NFC], open_values=False)],
    )
    for exact in (False, True):
        condition = {"field": "city", "op": "equals", "value": _NFD, "case_sensitive": exact}
        rules = RuleSet.load({"rules": [{"action": "flag", "when": condition}]}, fields)
        assert rules.warnings == ()
        assert rules.evaluate({"city": _NFC}).action is Action.FLAG
