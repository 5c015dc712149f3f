"""Hypothesis properties: exact round trips, load-or-refuse, evaluation never raises."""

from __future__ import annotations

import json
import unicodedata
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from purecallerid import (
    PURECALLERID_FIELDS,
    Action,
    AllOf,
    AnyOf,
    Comparison,
    Condition,
    FieldType,
    Not,
    Operator,
    Rule,
    RuleSet,
    RuleValidationError,
    UnknownPolicy,
    format_rules,
    parse_rules,
)
from purecallerid._rules.fields import operator_spec

FIELDS = PURECALLERID_FIELDS
_NAME = st.from_regex(r"[a-z_][a-z0-9_]{0,6}", fullmatch=True)
_TEXT = st.text(max_size=12)
_INT = st.integers(min_value=-(2**53), max_value=2**53)
_FLOAT = st.floats(min_value=-1e15, max_value=1e15, allow_nan=False)
_NUMBER = st.one_of(_INT, _FLOAT)
_SCALAR = st.one_of(_TEXT, _NUMBER, st.booleans())
_PATTERN = st.sampled_from(["^a", r"\d{3}$", "(mobile|voip)", "x.*y", "[^0-9]+"])


def _text_for(field: str) -> st.SearchStrategy[str]:
    spec = FIELDS.get(field)
    # Known-value fields get known values, so that no near-miss typo makes the rule invalid.
    if spec is not None and spec.values:
        return st.sampled_from(spec.values)
    return _TEXT


@st.composite
def comparisons(draw: st.DrawFn) -> Comparison:
    field = draw(
        st.one_of(
            st.sampled_from(FIELDS.names),
            _NAME.map(lambda n: f"lead.{n}"),
            st.tuples(_NAME, _NAME).map(lambda t: f"extra.{t[0]}.{t[1]}"),
        )
    )
    spec = FIELDS.get(field)
    field_type = FieldType.ANY if spec is None else spec.type
    op = draw(st.sampled_from([o for o in Operator if field_type in operator_spec(o).types]))
    kind = operator_spec(op).value.value
    scalar = {
        FieldType.STRING: _text_for(field),
        FieldType.NUMBER: _NUMBER,
        FieldType.BOOLEAN: st.booleans(),
        FieldType.LIST: _TEXT.filter(bool),
        FieldType.ANY: _SCALAR,
    }[field_type]
    value: Any = None
    if kind == "scalar":
        value = draw(scalar)
        if op in {Operator.CONTAINS, Operator.NOT_CONTAINS} and value in {"", None}:
            value = "x"
    elif kind == "list":
        value = tuple(draw(st.lists(scalar, min_size=1, max_size=3)))
    elif kind == "range":
        low, high = sorted(draw(st.lists(_NUMBER, min_size=2, max_size=2)))
        value = (low, high)
    elif kind == "number":
        value = draw(_NUMBER)
    elif kind == "text":
        value = draw(_TEXT.filter(bool))
    elif kind == "pattern":
        value = draw(_PATTERN)
    values = value if isinstance(value, tuple) else (value,)
    exact = operator_spec(op).text_compare and any(isinstance(v, str) for v in values)
    case_sensitive = draw(st.booleans()) if exact and field_type is not FieldType.STRING else False
    return Comparison(field, op, value, case_sensitive)


def _groups(children: st.SearchStrategy[Condition]) -> st.SearchStrategy[Condition]:
    two_or_three = st.lists(children, min_size=2, max_size=3).map(tuple)
    return st.one_of(two_or_three.map(AllOf), two_or_three.map(AnyOf), children.map(Not))


CONDITIONS = st.recursive(comparisons(), _groups, max_leaves=6)
_REASONS = st.one_of(
    st.none(),
    st.text(alphabet=st.characters(blacklist_characters="{}"), max_size=10),
    st.just("{reason} for {lead.name} {{x}}"),
)


@st.composite
def rule_lists(draw: st.DrawFn) -> list[Rule]:
    count = draw(st.integers(min_value=0, max_value=4))
    ids = draw(
        st.lists(
            st.from_regex(
                r"[A-Za-z_][A-Za-z0-9_-]{0,6}(\.[A-Za-z0-9_-]{1,3})?", fullmatch=True
            ).filter(lambda i: not i.startswith("rule-")),
            min_size=count,
            max_size=count,
            unique=True,
        )
    )
    rules = []
    for index, rule_id in enumerate(ids):
        rules.append(
            Rule(
                id=draw(st.sampled_from([rule_id, f"rule-{index + 1}"])),
                action=draw(st.sampled_from(Action)),
                when=draw(CONDITIONS),
                reason=draw(_REASONS),
                enabled=draw(st.booleans()),
                unknown=draw(st.sampled_from(UnknownPolicy)),
            )
        )
    return rules


def exact(data: Any) -> str:
    # JSON text tells 1 from 1.0 from true, which == does not.
    return json.dumps(data, sort_keys=True)


@given(rules=rule_lists())
def test_text_round_trips_exactly(rules: list[Rule]) -> None:
    """Canonical text -> rules -> text gives the same text, and the same rules."""
    text = format_rules(rules)
    parsed = parse_rules(text, FIELDS)
    assert format_rules(parsed) == text
    assert exact([RuleSet(parsed, FIELDS).to_dict()]) == exact([RuleSet(rules, FIELDS).to_dict()])


@given(rules=rule_lists())
def test_dict_round_trips_exactly(rules: list[Rule]) -> None:
    """Canonical dict -> rules -> dict gives the same dict, also through JSON text."""
    document = RuleSet(rules, FIELDS).to_dict()
    assert exact(RuleSet.load(document, FIELDS).to_dict()) == exact(document)
    through_json = json.loads(json.dumps(document))
    assert exact(RuleSet.load(through_json, FIELDS).to_dict()) == exact(document)


@given(rules=rule_lists())
def test_text_and_dict_forms_agree(rules: list[Rule]) -> None:
    """The text and dict forms of the same rules load to equal rule sets."""
    rule_set = RuleSet(rules, FIELDS)
    assert RuleSet.load(rule_set.to_text(), FIELDS) == RuleSet.load(rule_set.to_dict(), FIELDS)


_JSON = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=8)),
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
_KEYS = st.sampled_from(
    [
        "rules",
        "version",
        "action",
        "when",
        "id",
        "field",
        "op",
        "value",
        "all",
        "any",
        "not",
        "reason",
        "enabled",
        "unknown",
        "case_sensitive",
    ]
)
_WORDS = st.sampled_from(
    [
        "status",
        "reason",
        "activity_score",
        "lead.x",
        "extra.y",
        "equals",
        "in",
        "between",
        "matches",
        "is_blank",
        "reject",
        "flag",
        "qa",
        "match",
        "DNC",
        "DNCC",
        "(a+)+$",
    ]
)
_DOCUMENT_LIKE = st.recursive(
    st.one_of(_WORDS, st.integers(-3, 3), st.booleans(), st.none()),
    lambda children: st.one_of(
        st.lists(children, max_size=3), st.dictionaries(_KEYS, children, max_size=4)
    ),
    max_leaves=16,
)


def _load_or_refuse(document: Any) -> None:
    try:
        RuleSet.load(document, FIELDS)
    except RuleValidationError as exc:
        error = exc
    else:
        return
    assert error.errors
    for problem in error.problems:
        assert problem.path == "" or problem.path.startswith("/")
        assert problem.code
        assert problem.message


@given(document=st.one_of(_JSON, _DOCUMENT_LIKE, _DOCUMENT_LIKE.map(lambda r: {"rules": [r]})))
def test_random_documents_load_or_raise_validation_error(document: Any) -> None:
    """Any JSON value either loads or raises RuleValidationError with pointed problems."""
    _load_or_refuse(document)


_LINE_WORDS = st.sampled_from(
    [
        "reject",
        "flag",
        "when",
        "status",
        "=",
        '"Rejected"',
        "and",
        "or",
        "not",
        "(",
        ")",
        "in",
        '("DNC")',
        "is",
        "blank",
        "between",
        "1",
        "-2.5",
        "unknown",
        "because",
        '"x"',
        ":",
        "id",
        "disabled",
        "case",
        "sensitive",
        "lead.a",
        "#",
        '"',
        "\\",
        ",",
        "matches",
        '"(a"',
    ]
)


def _nested(opener: str, count: int, body: str, closed: bool) -> str:
    closing = ")" * (count * opener.count("(")) if closed else ""
    return f"reject when {opener * count}{body}{closing}"


# Deep nesting: thousands of "not"s or parentheses, closed or not, around one or two
# comparisons (a recursive-descent parser must refuse these, not overflow the stack).
_DEEP_TEXT = st.builds(
    _nested,
    st.sampled_from(["(", "not ", "not (", "( not ", "not not ("]),
    st.integers(min_value=0, max_value=5_000),
    st.sampled_from(['status = "Rejected"', "status is blank and reason is blank", ""]),
    st.booleans(),
)


@example(text=_nested("(", 400, 'status = "Rejected"', closed=True))
@example(text=_nested("not ", 3_000, 'status = "Rejected"', closed=True))
@example(text="\ufeff" + _nested("not (", 17, "status is blank", closed=True))
@given(
    text=st.one_of(
        st.text(max_size=60), st.lists(_LINE_WORDS, max_size=14).map(" ".join), _DEEP_TEXT
    )
)
def test_random_text_loads_or_raises_validation_error(text: str) -> None:
    """Any text either loads or raises RuleValidationError; syntax errors carry a column."""
    try:
        RuleSet.load(text, FIELDS)
    except RuleValidationError as exc:
        error = exc
    else:
        return
    for problem in error.problems:
        assert problem.line is not None
        assert problem.column is not None
        assert problem.column >= 1


# Any JSON value used to be accepted as an answer or a lead, a non-object read as "none"
# (issue 13): JSON objects and null are what evaluation takes; anything else is a TypeError.
_JSON_OBJECT = st.one_of(st.none(), st.dictionaries(st.text(max_size=8), _JSON, max_size=4))


@given(rules=rule_lists(), answer=_JSON_OBJECT, lead=_JSON_OBJECT)
def test_evaluation_never_raises(rules: list[Rule], answer: Any, lead: Any) -> None:
    """Evaluation of a loaded rule set returns a decision for any JSON object or null."""
    rule_set = RuleSet(rules, FIELDS)
    result = rule_set.evaluate(answer, lead)
    assert len(result.trace) == len(rules)
    fired = [t.action for t in result.trace if t.fired]
    assert result.action is Action.most_severe(fired)
    json.dumps(result.trace_dicts(), default=str)


@given(
    rules=rule_lists(),
    answer=st.dictionaries(st.sampled_from([*FIELDS.names, "extra"]), _JSON, max_size=5),
    lead=st.dictionaries(_NAME, _JSON, max_size=5),
)
def test_evaluation_never_raises_on_answer_shaped_data(
    rules: list[Rule], answer: dict[str, Any], lead: dict[str, Any]
) -> None:
    """Answers with the registry's keys but arbitrary values never make evaluation fail."""
    result = RuleSet(rules, FIELDS).evaluate(answer, lead)
    assert (result.decided_by is None) == (
        result.action is Action.ACCEPT and not any(t.fired for t in result.trace)
    )


@given(
    value=_JSON.filter(lambda v: v is not None and not isinstance(v, dict)),
    as_lead=st.booleans(),
)
def test_a_json_value_that_is_no_object_is_a_type_error(value: Any, *, as_lead: bool) -> None:
    """A JSON array, text, number or boolean as the answer or the lead is a TypeError."""
    rule_set = RuleSet.load("flag when status is blank and lead.x is blank\n", FIELDS)
    answer, lead = ({}, value) if as_lead else (value, None)
    with pytest.raises(TypeError, match="must be a mapping"):
        rule_set.evaluate(answer, lead)


_UNICODE_TEXT = st.text(
    alphabet=st.characters(codec="utf-8", categories=["L", "M", "N", "P", "Zs"]),
    min_size=1,
    max_size=12,
).filter(str.strip)


@given(text=_UNICODE_TEXT, composed_rule=st.booleans(), exact=st.booleans())
def test_normal_forms_of_a_text_are_one_value(
    text: str, *, composed_rule: bool, exact: bool
) -> None:
    """A rule value in one normal form equals, is in, contains and starts the answer's text in
    the other."""
    composed, decomposed = unicodedata.normalize("NFC", text), unicodedata.normalize("NFD", text)
    value, actual = (composed, decomposed) if composed_rule else (decomposed, composed)
    condition: dict[str, Any] = {"field": "lead.x", "case_sensitive": exact}
    for op, rule_value in [
        ("equals", value),
        ("in", [value]),
        ("contains", value),
        ("starts_with", value.strip()),
    ]:
        when = {**condition, "op": op, "value": rule_value}
        rules = RuleSet.load({"rules": [{"action": "flag", "when": when}]}, FIELDS)
        assert rules.evaluate({}, {"x": actual}).action is Action.FLAG, op
