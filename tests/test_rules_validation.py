"""Validation at load: every problem at once, with pointer, code, message and suggestion."""

from __future__ import annotations

from typing import Any

import pytest

from purecallerid import (
    PURECALLERID_FIELDS,
    PureCallerIDError,
    RuleProblem,
    RuleSet,
    RuleValidationError,
    Severity,
)


def problems(document: Any) -> list[RuleProblem]:
    with pytest.raises(RuleValidationError) as info:
        RuleSet.load(document, PURECALLERID_FIELDS)
    return list(info.value.problems)


def one_rule(when: Any, **rule: Any) -> dict[str, Any]:
    return {"rules": [{"action": "reject", "when": when, **rule}]}


def codes(document: Any) -> list[tuple[str, str]]:
    return [(p.path, p.code) for p in problems(document)]


def test_error_class_hierarchy() -> None:
    """RuleValidationError is a PureCallerIDError and a ValueError."""
    assert issubclass(RuleValidationError, PureCallerIDError)
    assert issubclass(RuleValidationError, ValueError)


def test_issue_example_typo_in_reason() -> None:
    """A near-miss of a known reason is an error with a pointer and a suggestion."""
    document = {
        "rules": [
            {"action": "flag", "when": {"field": "status", "op": "is_blank"}},
            {"action": "flag", "when": {"field": "status", "op": "is_blank"}},
            {
                "action": "reject",
                "when": {
                    "any": [
                        {"field": "reason", "op": "equals", "value": "DNCC"},
                        {"field": "status", "op": "is_blank"},
                    ]
                },
            },
        ]
    }
    [problem] = problems(document)
    assert problem.path == "/rules/2/when/any/0/value"
    assert problem.message == '"DNCC" is not a known reason; did you mean "DNC"?'
    assert (problem.code, problem.suggestion, problem.severity) == (
        "unknown_value",
        "DNC",
        Severity.ERROR,
    )


def test_unknown_value_on_open_field_is_a_warning() -> None:
    """A reason that resembles no known one loads, with a warning (reasons are open)."""
    rules = RuleSet.load(
        one_rule({"field": "reason", "op": "equals", "value": "WRONG_NUMBER"}), PURECALLERID_FIELDS
    )
    [warning] = rules.warnings
    assert (warning.code, warning.severity, warning.path) == (
        "unknown_value",
        Severity.WARNING,
        "/rules/0/when/value",
    )


def test_known_value_in_other_case_is_fine() -> None:
    """A known value in another case matches case-insensitively, so it is no problem."""
    rules = RuleSet.load(
        one_rule({"field": "reason", "op": "in", "value": ["dnc", "Inactive"]}), PURECALLERID_FIELDS
    )
    assert rules.warnings == ()


def test_known_value_in_other_case_with_exact_case_is_an_error() -> None:
    """With exact case, "dnc" never matches "DNC": the rule is refused with a suggestion."""
    [problem] = problems(
        one_rule({"field": "reason", "op": "equals", "value": "dnc", "case_sensitive": True})
    )
    assert (problem.code, problem.suggestion) == ("unknown_value", "DNC")


def test_unknown_value_on_closed_field_is_an_error() -> None:
    """On a field whose values are closed, any unknown value is an error."""
    from purecallerid import FieldRegistry, FieldSpec, FieldType  # noqa: PLC0415

    fields = FieldRegistry(
        integration="x",
        fields=(
            FieldSpec(name="state", type=FieldType.STRING, values=("on", "off"), open_values=False),
        ),
    )
    with pytest.raises(RuleValidationError) as info:
        RuleSet.load('flag when state = "maybe"\n', fields)
    assert info.value.problems[0].severity is Severity.ERROR


def test_every_problem_is_reported_at_once() -> None:
    """Problems in several rules and conditions come together, in document order."""
    document = {
        "rules": [
            {"action": "rejct", "when": {"field": "statuss", "op": "equals", "value": "x"}},
            {"action": "flag", "when": {"field": "activity_score", "op": "contains", "value": 1}},
            {"action": "qa", "when": {"field": "reason", "op": "matches", "value": "(a"}},
        ]
    }
    assert codes(document) == [
        ("/rules/0/action", "unknown_action"),
        ("/rules/0/when/field", "unknown_field"),
        ("/rules/1/when/op", "operator_not_applicable"),
        ("/rules/2/when/value", "bad_pattern"),
    ]


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ([], [("", "wrong_type")]),
        ({}, [("", "missing_key")]),
        ({"rules": {}}, [("/rules", "wrong_type")]),
        ({"rules": [], "version": 2}, [("/version", "unsupported_version")]),
        ({"rules": [], "extra": 1}, [("/extra", "unknown_key")]),
        ({"rules": [1]}, [("/rules/0", "wrong_type")]),
        (
            {"rules": [{"when": {"field": "status", "op": "is_blank"}}]},
            [("/rules/0", "missing_key")],
        ),
        ({"rules": [{"action": "flag"}]}, [("/rules/0", "missing_key")]),
        (
            one_rule({"field": "status", "op": "is_blank"}, enabeld=False),
            [("/rules/0/enabeld", "unknown_key")],
        ),
        (
            one_rule({"field": "status", "op": "is_blank"}, enabled="no"),
            [("/rules/0/enabled", "wrong_type")],
        ),
        (
            one_rule({"field": "status", "op": "is_blank"}, unknown="yes"),
            [("/rules/0/unknown", "invalid_value")],
        ),
        (
            one_rule({"field": "status", "op": "is_blank"}, id="has space"),
            [("/rules/0/id", "invalid_id")],
        ),
        (
            one_rule({"field": "status", "op": "is_blank"}, reason=5),
            [("/rules/0/reason", "wrong_type")],
        ),
        (
            one_rule({"field": "status", "op": "is_blank"}, reason="{nope}"),
            [("/rules/0/reason", "unknown_field")],
        ),
        (
            one_rule({"field": "status", "op": "is_blank"}, reason="{status"),
            [("/rules/0/reason", "bad_reason")],
        ),
        (one_rule({}), [("/rules/0/when", "invalid_condition")]),
        (one_rule({"all": [], "any": []}), [("/rules/0/when", "invalid_condition")]),
        (one_rule({"all": []}), [("/rules/0/when/all", "empty_group")]),
        (one_rule({"all": {}}), [("/rules/0/when/all", "wrong_type")]),
        (
            one_rule({"not": {"field": "x", "op": "is_blank"}}),
            [("/rules/0/when/not/field", "unknown_field")],
        ),
        (
            one_rule({"field": "status", "op": "is_blank", "x": 1}),
            [("/rules/0/when/x", "unknown_key")],
        ),
        (one_rule({"field": "status"}), [("/rules/0/when", "missing_key")]),
        (
            one_rule({"field": "status", "op": "similar"}),
            [("/rules/0/when/op", "unknown_operator")],
        ),
        (one_rule({"field": "lead", "op": "is_blank"}), [("/rules/0/when/field", "invalid_field")]),
        (
            one_rule({"field": "lead..a", "op": "is_blank"}),
            [("/rules/0/when/field", "invalid_field")],
        ),
        (one_rule({"field": 3, "op": "is_blank"}), [("/rules/0/when/field", "wrong_type")]),
        (
            one_rule({"field": "status", "op": "is_blank", "value": 1}),
            [("/rules/0/when/value", "unexpected_value")],
        ),
        (one_rule({"field": "status", "op": "equals"}), [("/rules/0/when", "missing_value")]),
        (
            one_rule({"field": "status", "op": "equals", "value": 1}),
            [("/rules/0/when/value", "wrong_value_type")],
        ),
        (
            one_rule({"field": "activity_score", "op": "less_than", "value": "40"}),
            [("/rules/0/when/value", "wrong_value_type")],
        ),
        (
            one_rule({"field": "activity_score", "op": "less_than", "value": True}),
            [("/rules/0/when/value", "wrong_value_type")],
        ),
        (
            one_rule({"field": "activity_score", "op": "less_than", "value": 2**60}),
            [("/rules/0/when/value", "value_out_of_range")],
        ),
        (
            one_rule({"field": "activity_score", "op": "less_than", "value": float("inf")}),
            [("/rules/0/when/value", "value_out_of_range")],
        ),
        (
            one_rule({"field": "activity_score", "op": "between", "value": [5]}),
            [("/rules/0/when/value", "wrong_value_type")],
        ),
        (
            one_rule({"field": "activity_score", "op": "between", "value": [5, 1]}),
            [("/rules/0/when/value", "invalid_range")],
        ),
        (
            one_rule({"field": "activity_score", "op": "between", "value": [5, "x"]}),
            [("/rules/0/when/value/1", "wrong_value_type")],
        ),
        (
            one_rule({"field": "reason", "op": "in", "value": []}),
            [("/rules/0/when/value", "empty_list")],
        ),
        (
            one_rule({"field": "reason", "op": "in", "value": "DNC"}),
            [("/rules/0/when/value", "wrong_value_type")],
        ),
        (
            one_rule({"field": "reason", "op": "in", "value": ["DNC", 3]}),
            [("/rules/0/when/value/1", "wrong_value_type")],
        ),
        (
            one_rule({"field": "message", "op": "contains", "value": ""}),
            [("/rules/0/when/value", "empty_value")],
        ),
        (
            one_rule({"field": "message", "op": "starts_with", "value": ""}),
            [("/rules/0/when/value", "empty_value")],
        ),
        (
            one_rule({"field": "message", "op": "equals", "value": "x" * 1001}),
            [("/rules/0/when/value", "value_too_long")],
        ),
        (
            one_rule({"field": "message", "op": "matches", "value": r"(a)\1"}),
            [("/rules/0/when/value", "bad_pattern")],
        ),
        (
            one_rule({"field": "message", "op": "matches", "value": "a" * 300}),
            [("/rules/0/when/value", "bad_pattern")],
        ),
        (
            one_rule({"field": "known_litigator", "op": "equals", "value": "yes"}),
            [("/rules/0/when/value", "wrong_value_type")],
        ),
        (
            one_rule(
                {"field": "activity_score", "op": "equals", "value": 1, "case_sensitive": True}
            ),
            [("/rules/0/when/case_sensitive", "case_sensitive_not_applicable")],
        ),
        (
            one_rule({"field": "status", "op": "is_blank", "case_sensitive": 1}),
            [("/rules/0/when/case_sensitive", "wrong_type")],
        ),
    ],
)
def test_problem_codes(document: Any, expected: list[tuple[str, str]]) -> None:
    """Each kind of mistake gets its code at the right pointer."""
    assert codes(document) == expected


def test_duplicate_ids() -> None:
    """Two rules with the same id: the second is reported, naming the first."""
    rule = {"id": "same", "action": "flag", "when": {"field": "status", "op": "is_blank"}}
    [problem] = problems({"rules": [rule, rule]})
    assert (problem.path, problem.code) == ("/rules/1/id", "duplicate_id")
    assert "/rules/0" in problem.message


def test_default_id_clash_is_a_duplicate() -> None:
    """An explicit id equal to another rule's default id is reported."""
    text = "rule-2: flag when status is blank\nflag when status is blank\n"
    [problem] = problems(text)
    assert problem.code == "duplicate_id"


def test_too_deep() -> None:
    """Conditions nested beyond the limit are refused without recursing further."""
    when: dict[str, Any] = {"field": "status", "op": "is_blank"}
    for _ in range(40):
        when = {"not": when}
    assert [c for _, c in codes(one_rule(when))] == ["too_deep"]


def test_too_many_rules() -> None:
    """A document over the rule limit is refused."""
    rule = {"action": "flag", "when": {"field": "status", "op": "is_blank"}}
    assert codes({"rules": [rule] * 1001}) == [("/rules", "too_many_rules")]


def test_suggestions() -> None:
    """Unknown fields, operators, actions and keys come with the likely intended name."""
    document = {
        "rules": [
            {"action": "qc", "when": {"field": "reasn", "op": "<=", "value": 1}},
            {
                "action": "flag",
                "when": {"field": "status", "op": "is one of", "value": ["Accepted"]},
                "reasn": "x",
            },
        ]
    }
    assert [p.suggestion for p in problems(document)] == ["qa", "reason", "at_most", "reason", "in"]


def test_pointer_escaping() -> None:
    """Keys with / and ~ are escaped in pointers (RFC 6901)."""
    [problem] = problems({"rules": [], "a/b~c": 1})
    assert problem.path == "/a~1b~0c"


def test_unknown_field_message_lists_known_fields() -> None:
    """With no close match, the message lists the fields and the extra./lead. prefixes."""
    [problem] = problems(one_rule({"field": "zzzzzz", "op": "is_blank"}))
    assert "status, reason" in problem.message
    assert "extra.<key>" in problem.message


def test_error_message_lists_every_problem() -> None:
    """str() of the error names the count and each problem on its own line."""
    with pytest.raises(RuleValidationError) as info:
        RuleSet.load({"rules": [{"action": "x", "when": {}}]}, PURECALLERID_FIELDS)
    text = str(info.value)
    assert text.startswith("2 problems in the rule document:")
    assert "/rules/0/action" in text
    assert "/rules/0/when" in text


def test_group_of_one_is_collapsed() -> None:
    """A group of one condition loads as that condition (the canonical form)."""
    rules = RuleSet.load(
        one_rule({"all": [{"field": "status", "op": "is_blank"}]}), PURECALLERID_FIELDS
    )
    assert rules.to_dict()["rules"][0]["when"] == {"field": "status", "op": "is_blank"}
