"""The text form: grammar, canonical printing, syntax errors with line and column."""

from __future__ import annotations

from typing import Any

import pytest

from purecallerid import (
    PURECALLERID_FIELDS,
    Action,
    AllOf,
    AnyOf,
    Comparison,
    Condition,
    Not,
    Operator,
    Rule,
    RuleSet,
    RuleValidationError,
    UnknownPolicy,
    format_condition,
    format_rules,
    operator_table,
    parse_rules,
)


def only_condition(text: str) -> object:
    return parse_rules(text, PURECALLERID_FIELDS)[0].when


def syntax_error(text: str) -> tuple[int | None, int | None, str]:
    with pytest.raises(RuleValidationError) as info:
        parse_rules(text, PURECALLERID_FIELDS)
    problem = info.value.problems[0]
    return problem.line, problem.column, problem.message


def test_brief_examples_parse() -> None:
    """The brief's two rules parse to the expected structure."""
    rules = parse_rules(
        'reject when status = "Rejected" and reason in ("INACTIVE", "DNC", "TCPA_FLAG")\n'
        'qa when status = "Accepted" and reason = "SUPPRESSED"\n',
        PURECALLERID_FIELDS,
    )
    assert rules[0].action is Action.REJECT
    assert rules[0].when == AllOf(
        (
            Comparison("status", Operator.EQUALS, "Rejected"),
            Comparison("reason", Operator.IN, ("INACTIVE", "DNC", "TCPA_FLAG")),
        )
    )
    assert (rules[1].id, rules[1].action) == ("rule-2", Action.QA)


@pytest.mark.parametrize(
    ("phrase", "op", "value"),
    [
        ('= "x"', Operator.EQUALS, "x"),
        ('== "x"', Operator.EQUALS, "x"),
        ('equals "x"', Operator.EQUALS, "x"),
        ('!= "x"', Operator.NOT_EQUALS, "x"),
        ('<> "x"', Operator.NOT_EQUALS, "x"),
        ('not equals "x"', Operator.NOT_EQUALS, "x"),
        ('in ("x", "y")', Operator.IN, ("x", "y")),
        ('not in ("x")', Operator.NOT_IN, ("x",)),
        ('contains "x"', Operator.CONTAINS, "x"),
        ('does not contain "x"', Operator.NOT_CONTAINS, "x"),
        ('not contains "x"', Operator.NOT_CONTAINS, "x"),
        ('starts with "x"', Operator.STARTS_WITH, "x"),
        ('matches "^x"', Operator.MATCHES, "^x"),
        ('does not match "^x"', Operator.NOT_MATCHES, "^x"),
        ('not matches "^x"', Operator.NOT_MATCHES, "^x"),
        ("is blank", Operator.IS_BLANK, None),
        ("is not blank", Operator.IS_NOT_BLANK, None),
        ("IS NOT BLANK", Operator.IS_NOT_BLANK, None),
    ],
)
def test_string_operator_spellings(phrase: str, op: Operator, value: object) -> None:
    """Every spelling of a string operator parses to its machine name."""
    assert only_condition(f"flag when message {phrase}\n") == Comparison("message", op, value)


@pytest.mark.parametrize(
    ("phrase", "op", "value"),
    [
        ("< 40", Operator.LESS_THAN, 40),
        ("less than 40", Operator.LESS_THAN, 40),
        ("<= 40", Operator.AT_MOST, 40),
        ("at most 40", Operator.AT_MOST, 40),
        ("> -1.5", Operator.GREATER_THAN, -1.5),
        ("greater than 4e1", Operator.GREATER_THAN, 40.0),
        (">= 40", Operator.AT_LEAST, 40),
        ("at least 40", Operator.AT_LEAST, 40),
        ("between 10 and 20", Operator.BETWEEN, (10, 20)),
        ("not between 10 and 20", Operator.NOT_BETWEEN, (10, 20)),
    ],
)
def test_number_operator_spellings(phrase: str, op: Operator, value: object) -> None:
    """Every spelling of a number operator parses to its machine name."""
    assert only_condition(f"flag when activity_score {phrase}\n") == Comparison(
        "activity_score", op, value
    )


def test_boolean_operators() -> None:
    """is true / is false / = true parse on a boolean field."""
    assert only_condition("flag when known_litigator is true\n") == Comparison(
        "known_litigator", Operator.IS_TRUE
    )
    assert only_condition("flag when known_litigator is false\n") == Comparison(
        "known_litigator", Operator.IS_FALSE
    )
    assert only_condition("flag when known_litigator = TRUE\n") == Comparison(
        "known_litigator", Operator.EQUALS, value=True
    )


def test_case_sensitive_marker() -> None:
    """'case sensitive' after a comparison sets exact case."""
    assert only_condition('flag when reason in ("DNC") case sensitive\n') == Comparison(
        "reason", Operator.IN, ("DNC",), case_sensitive=True
    )


def test_rule_header_and_options() -> None:
    """disabled, an id, 'or unknown' and 'because' all parse."""
    [rule] = parse_rules(
        'disabled low: flag when activity_score < 40 or unknown because "Low {activity_score}"\n'
    )
    assert (rule.enabled, rule.id, rule.unknown, rule.reason) == (
        False,
        "low",
        UnknownPolicy.MATCH,
        "Low {activity_score}",
    )


def test_keywords_may_be_rule_ids() -> None:
    """A word followed by ':' is an id even when it is a keyword."""
    rules = parse_rules(
        "disabled: flag when status is blank\ndisabled reject: reject when status is blank\n"
    )
    assert [(r.id, r.enabled) for r in rules] == [("disabled", True), ("reject", False)]


def test_comments_and_blank_lines_are_skipped() -> None:
    """# comments and blank lines are not rules; a trailing comment is allowed."""
    rules = parse_rules("# header\n\nflag when status is blank  # why\r\n   \n")
    assert len(rules) == 1


def test_not_and_parentheses() -> None:
    """not binds tightest; parentheses group; nested groups are kept as written."""
    when = only_condition('flag when not status = "A" and (reason = "DNC" or message is blank)\n')
    assert when == AllOf(
        (
            Not(Comparison("status", Operator.EQUALS, "A")),
            AnyOf(
                (
                    Comparison("reason", Operator.EQUALS, "DNC"),
                    Comparison("message", Operator.IS_BLANK),
                )
            ),
        )
    )


def test_printer_parenthesises_nested_groups_of_same_kind() -> None:
    """(a and b) and c keeps its shape through printing."""
    a, b, c = (Comparison(f, Operator.IS_BLANK) for f in ("status", "reason", "message"))
    nested = AllOf((AllOf((a, b)), c))
    assert format_condition(nested) == "(status is blank and reason is blank) and message is blank"
    assert (
        format_condition(AnyOf((AllOf((a, b)), c)))
        == "status is blank and reason is blank or message is blank"
    )
    assert (
        format_condition(AllOf((AnyOf((a, b)), c)))
        == "(status is blank or reason is blank) and message is blank"
    )


def test_canonical_printing() -> None:
    """The printer writes symbols, lowercase keywords, JSON strings, and default ids left out."""
    text = (
        'Reject WHEN status == "Rej\\u00e9cted" AND reason IN ("DNC") because "a\\"b"\n'
        "x: flag when activity_score greater than 40.0\n"
    )
    assert format_rules(parse_rules(text)) == (
        'reject when status = "Rejécted" and reason in ("DNC") because "a\\"b"\n'
        "x: flag when activity_score > 40.0\n"
    )


def test_canonical_text_round_trips() -> None:
    """Canonical text parses and prints back to itself."""
    text = (
        'disabled a-1.x: reject when not (reason in ("DNC", "INACTIVE") case sensitive) '
        'or lead.phones.0 matches "^\\\\d{10}$" or unknown because "{reason} {{x}}"\n'
        "qa when activity_score not between -5 and 7.5 and extra.is_prepaid = false\n"
    )
    assert format_rules(parse_rules(text, PURECALLERID_FIELDS)) == text


@pytest.mark.parametrize(
    ("text", "line", "column", "message"),
    [
        (
            'reject when status = "Rejected" and\n',
            1,
            36,
            "expected a field name, 'not' or '(', found the end of the line",
        ),
        # "rejct when ..." was this syntax error; a word before "when" is now read as an
        # action and named by the checker with a suggestion (test_misspelled_actions...).
        (
            "rejct status is blank\n",
            1,
            1,
            (
                "expected an action (accept, flag, qa or reject), found 'rejct'; "
                "did you mean 'reject'?"
            ),
        ),
        (
            "= when status is blank\n",
            1,
            1,
            "expected an action (accept, flag, qa or reject), found '='",
        ),
        ("reject status is blank\n", 1, 8, "expected 'when', found 'status'"),
        ('reject when status = "Rejected\n', 1, 22, "the string is not closed"),
        ("reject when status ~ 1\n", 1, 20, "unexpected character '~'"),
        (
            "reject when status is maybe\n",
            1,
            20,
            "expected an operator (=, !=, <, <=, >, >=, in, between, contains, ...), found 'is'",
        ),
        ("reject when status is not maybe\n", 1, 27, "expected 'blank', found 'maybe'"),
        (
            'reject when reason in "DNC"\n',
            1,
            23,
            "expected '(' to open the list of values, found a string",
        ),
        ('reject when reason in ("DNC" "X")\n', 1, 30, "expected ',' or ')', found a string"),
        ("reject when (status is blank\n", 1, 29, "expected ')', found the end of the line"),
        (
            "reject when activity_score between 1\n",
            1,
            37,
            "expected 'and', found the end of the line",
        ),
        ("reject when activity_score < 12abc\n", 1, 30, "bad number '12a'"),
        (
            "reject when status is blank because\n",
            1,
            36,
            'expected the reason as a string ("..."), found the end of the line',
        ),
        (
            "reject when status is blank extra\n",
            1,
            29,
            "expected 'and', 'or', 'because' or the end of the line, found 'extra'",
        ),
        (
            "reject when (status is blank or unknown)\n",
            1,
            30,
            "'or unknown' may only end the whole condition",
        ),
        ('\n\nflag when message = "\\x"\n', 3, 22, "bad string: Invalid \\escape"),
    ],
)
def test_syntax_errors_give_line_and_column(
    text: str, line: int, column: int, message: str
) -> None:
    """Each syntax error names what was expected and where, 1-based."""
    assert syntax_error(text) == (line, column, message)


@pytest.mark.parametrize(
    ("text", "column", "code", "message", "suggestion"),
    [
        (
            'qc when status = "Accepted"\n',
            1,
            "unknown_action",
            'unknown action "qc"; did you mean "qa"?',
            "qa",
        ),
        (
            'dnc: QC when status = "Accepted"\n',
            6,
            "unknown_action",
            'unknown action "QC"; did you mean "qa"?',
            "qa",
        ),
        (
            "rejct when status is blank\n",
            1,
            "unknown_action",
            'unknown action "rejct"; did you mean "reject"?',
            "reject",
        ),
        (
            "disabled review when status is blank\n",
            10,
            "unknown_action",
            'unknown action "review"; did you mean "qa"?',
            "qa",
        ),
        (
            "qc status is blank\n",
            1,
            "syntax_error",
            "expected an action (accept, flag, qa or reject), found 'qc'; did you mean 'qa'?",
            "qa",
        ),
        (
            "zzz when status is blank\n",
            1,
            "unknown_action",
            'unknown action "zzz" (accept, flag, qa or reject)',
            None,
        ),
    ],
)
def test_misspelled_actions_get_a_suggestion(
    text: str, column: int, code: str, message: str, suggestion: str | None
) -> None:
    """A wrong action in the text form is named with the likely one (qc: did you mean qa)."""
    with pytest.raises(RuleValidationError) as info:
        parse_rules(text, PURECALLERID_FIELDS)
    [problem] = info.value.problems
    assert (problem.line, problem.column, problem.code) == (1, column, code)
    assert (problem.message, problem.suggestion) == (message, suggestion)


@pytest.mark.parametrize(
    ("phrase", "label", "spelling"),
    [
        ('status is equal to "Rejected"', "is equal to", "="),
        ('status IS NOT EQUAL TO "Rejected"', "is not equal to", "!="),
        ('reason is one of ("DNC")', "is one of", "in"),
        ('reason is not one of ("DNC")', "is not one of", "not in"),
        ("activity_score is less than 40", "is less than", "<"),
        ("activity_score is at most 40", "is at most", "<="),
        ("activity_score is greater than 40", "is greater than", ">"),
        ("activity_score is at least 40", "is at least", ">="),
        ("activity_score is between 1 and 40", "is between", "between"),
        ("activity_score is not between 1 and 40", "is not between", "not between"),
        ('message matches pattern "^a"', "matches pattern", "matches"),
        ('message does not match pattern "^a"', "does not match pattern", "does not match"),
    ],
)
def test_operator_labels_get_their_spelling(phrase: str, label: str, spelling: str) -> None:
    """An operator's UI label typed in the text form names the spelling to write."""
    text = f"flag when {phrase}\n"
    with pytest.raises(RuleValidationError) as info:
        parse_rules(text, PURECALLERID_FIELDS)
    [problem] = info.value.problems
    assert (problem.code, problem.suggestion) == ("unknown_operator", spelling)
    assert problem.column == text.index(phrase.split()[1]) + 1
    assert problem.message == (
        f"{label!r} is how the operator is labelled, not how it is written; "
        f"did you mean {spelling!r}?"
    )
    # The suggestion, put in place of the label, loads.
    fixed = text[: problem.column - 1] + spelling + text[problem.column - 1 + len(label) :]
    assert len(parse_rules(fixed, PURECALLERID_FIELDS)) == 1


_SAMPLE_VALUE = {
    "none": "",
    "list": ' ("a")',
    "range": " 1 and 2",
    "number": " 1",
    "text": ' "a"',
    "pattern": ' "a"',
    "scalar": ' "a"',
}


@pytest.mark.parametrize("row", operator_table(), ids=lambda row: row["name"])
def test_every_label_is_read_or_suggested(row: dict[str, Any]) -> None:
    """Each operator's label, in the text form, is a spelling or names the spelling to use."""
    text = f"flag when lead.x {row['label']}{_SAMPLE_VALUE[row['value']]}\n"
    if row["label"] in [row["text"], *row["aliases"]]:
        assert only_condition(text).op is Operator(row["name"])  # type: ignore[attr-defined]
        return
    with pytest.raises(RuleValidationError) as info:
        parse_rules(text)
    [problem] = info.value.problems
    assert (problem.code, problem.suggestion) == ("unknown_operator", row["text"])


def test_semantic_problems_in_text_carry_columns() -> None:
    """A validation problem in text points at the token's line and column."""
    with pytest.raises(RuleValidationError) as info:
        RuleSet.load(
            'flag when status is blank\nreject when reason in ("INACTIVE", "DNCC")\n',
            PURECALLERID_FIELDS,
        )
    [problem] = info.value.problems
    assert (problem.path, problem.line, problem.column) == ("/rules/1/when/value/1", 2, 36)
    assert str(problem).startswith("line 2, column 36 (/rules/1/when/value/1): ")


def test_all_lines_are_reported_together() -> None:
    """Syntax errors on several lines and semantic errors on good lines come in one error."""
    with pytest.raises(RuleValidationError) as info:
        RuleSet.load("reject when\nflag when statuss is blank\nqa when (\n", PURECALLERID_FIELDS)
    assert [(p.line, p.code) for p in info.value.problems] == [
        (1, "syntax_error"),
        (2, "unknown_field"),
        (3, "syntax_error"),
    ]


def test_parse_without_fields_checks_shape_only() -> None:
    """parse_rules without a registry accepts any field name but still checks values."""
    assert parse_rules("flag when anything is blank\n")[0].when == Comparison(
        "anything", Operator.IS_BLANK
    )
    with pytest.raises(RuleValidationError):
        parse_rules('flag when anything < "x"\n')


def test_number_literal_too_long() -> None:
    """A number literal longer than the cap is a syntax error, not a crash."""
    line, _, message = syntax_error("flag when activity_score < " + "9" * 5000 + "\n")
    assert (line, message) == (1, "numbers have at most 40 characters")


def _problems(text: str) -> list[tuple[str, int | None, int | None]]:
    with pytest.raises(RuleValidationError) as info:
        RuleSet.load(text, PURECALLERID_FIELDS)
    return [(p.code, p.line, p.column) for p in info.value.problems]


@pytest.mark.parametrize(
    ("prefix", "suffix"),
    [
        ("(" * 400, ")" * 400),
        ("not " * 3_000, ""),
        ("not (" * 400, ")" * 400),
        ("(" * 100_000, ")" * 100_000),
    ],
    ids=["400 parentheses", "3000 nots", "400 not-parentheses", "100000 parentheses"],
)
def test_deep_nesting_is_too_deep_not_a_crash(prefix: str, suffix: str) -> None:
    """Nesting past the limit is a too_deep problem with its column, never a RecursionError."""
    problems = _problems(f'reject when {prefix}status = "Rejected"{suffix}\n')
    assert [code for code, _, _ in problems] == ["too_deep"]
    _, line, column = problems[0]
    assert line == 1
    assert column is not None
    # The column points at the "not" or "(" that opens the 17th level.
    assert column <= len("reject when ") + 17 * len("not (")


def test_nesting_limit_is_the_dict_forms() -> None:
    """16 nots parse (the checker then counts the dict depth); the 17th opening is refused."""
    at_limit = "flag when " + "not " * 16 + "status is blank\n"
    with pytest.raises(RuleValidationError) as info:
        parse_rules(at_limit, PURECALLERID_FIELDS)
    assert [p.code for p in info.value.problems] == ["too_deep"]  # from the checker: depth 17
    assert _problems("flag when " + "not " * 17 + "status is blank\n") == [
        ("too_deep", 1, len("flag when ") + 16 * len("not ") + 1)
    ]
    assert len(parse_rules("flag when " + "not " * 15 + "status is blank\n")) == 1
    redundant = "flag when " + "(" * 16 + "status is blank" + ")" * 16 + "\n"
    assert only_condition(redundant) == Comparison("status", Operator.IS_BLANK)


def test_deepest_valid_dict_round_trips_through_text() -> None:
    """A rule at the dict form's depth limit prints to text that parses back to it."""
    leaf: Condition = Comparison("status", Operator.IS_BLANK)
    other = Comparison("reason", Operator.IS_BLANK)
    deep = leaf
    for level in range(15):
        # Alternate not, and, or: every level of the dict is a level of the text.
        deep = (Not(deep), AllOf((deep, other)), AnyOf((other, deep)))[level % 3]
    rule_set = RuleSet([Rule(id="deep", action=Action.FLAG, when=deep)], PURECALLERID_FIELDS)
    assert RuleSet.load(rule_set.to_text(), PURECALLERID_FIELDS) == rule_set
    with pytest.raises(RuleValidationError) as info:
        RuleSet([Rule(id="deeper", action=Action.FLAG, when=Not(deep))], PURECALLERID_FIELDS)
    assert [p.code for p in info.value.problems] == ["too_deep"]


def test_a_byte_order_mark_is_ignored() -> None:
    """Text saved as UTF-8 with a BOM loads; columns are counted without it."""
    rules = parse_rules('\ufeffreject when status = "Rejected"\n', PURECALLERID_FIELDS)
    assert rules[0].action is Action.REJECT
    assert syntax_error("\ufeffreject when status ~ 1\n") == (1, 20, "unexpected character '~'")
