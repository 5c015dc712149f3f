"""The rule language over a campaign: qualified names, campaign fields, a condition alone."""

from __future__ import annotations

import pytest

from purecallerid import (
    PURECALLERID_FIELDS,
    SUPPRESSION_FIELDS,
    Action,
    CampaignFields,
    Comparison,
    FieldRegistry,
    FieldSpec,
    FieldType,
    Operator,
    RuleSet,
    RuleValidationError,
    RunCondition,
    rules_json_schema,
)

LITIGATOR = FieldRegistry(
    integration="litigator",
    fields=(FieldSpec(name="litigator", type=FieldType.BOOLEAN),),
    extra=False,
)
FIELDS = CampaignFields(
    registries={"purecallerid": PURECALLERID_FIELDS, "litigator": LITIGATOR},
    unavailable={"dnc": "runs in a later stage (sort 3): its answer is not there yet"},
)


def problems(source: str, fields: FieldRegistry = FIELDS) -> list[tuple[str, str | None]]:
    """The problems of rule text, as (message with its place, suggestion)."""
    with pytest.raises(RuleValidationError) as caught:
        RuleSet.load(source, fields)
    return [(str(p), p.suggestion) for p in caught.value.problems]


def test_campaign_rules_read_every_answer_by_qualified_name() -> None:
    rules = RuleSet.load(
        'reject-voip-litigator: reject when purecallerid.line_type = "voip" and '
        'litigator.litigator is true because "VoIP litigator ({purecallerid.carrier})"\n'
        'flag when lead.state = "TX" and purecallerid.extra.reassigned is true',
        FIELDS,
    )
    answers = {
        "purecallerid": {"line_type": "voip", "carrier": "Acme", "extra": {"reassigned": True}},
        "litigator": {"litigator": True},
    }
    verdict = rules.evaluate(answers, {"state": "TX"})
    assert verdict.action is Action.REJECT
    assert verdict.decided_by == "reject-voip-litigator"
    assert verdict.reasons == ("VoIP litigator (Acme)",)
    assert verdict.flags == ("rule-2",)
    assert dict(verdict.trace[0].values) == {
        "purecallerid.line_type": "voip",
        "litigator.litigator": True,
    }
    assert dict(verdict.trace[1].values) == {
        "lead.state": "TX",
        "purecallerid.extra.reassigned": True,
    }


def test_an_integration_without_answer_is_unknown() -> None:
    rules = RuleSet.load("reject when litigator.litigator is true", FIELDS)
    for answers in ({}, {"litigator": None}, {"litigator": "not a mapping"}):
        verdict = rules.evaluate(answers, {})
        assert verdict.action is Action.ACCEPT
        assert verdict.trace[0].outcome.value == "unknown"


def test_single_integration_rules_are_unchanged() -> None:
    """Registries of one integration read bare names, as they always did."""
    rules = RuleSet.load('reject when status = "Rejected"', PURECALLERID_FIELDS)
    assert rules.evaluate({"status": "Rejected"}).action is Action.REJECT
    assert problems('reject when purecallerid.status = "Rejected"', PURECALLERID_FIELDS) == [
        (
            (
                'line 1, column 13 (/rules/0/when/field): unknown field "purecallerid.status" '
                "(known: status, reason, message, activity_score, known_litigator, carrier, "
                "line_type; extra.<key> reads a key the vendor sent, lead.<name> a lead field)"
            ),
            None,
        )
    ]


@pytest.mark.parametrize(
    ("text", "message", "suggestion"),
    [
        (
            'reject when purecalerid.status = "Rejected"',
            (
                'unknown integration "purecalerid" in "purecalerid.status"; '
                'did you mean "purecallerid.status"?'
            ),
            "purecallerid.status",
        ),
        (
            'reject when purecallerid.staus = "Rejected"',
            'purecallerid has no field "staus"; did you mean "purecallerid.status"?',
            "purecallerid.status",
        ),
        (
            "reject when litigator is true",
            (
                '"litigator" names no integration: write <integration id>.<field>; '
                'did you mean "litigator.litigator"?'
            ),
            "litigator.litigator",
        ),
        (
            "reject when dnc.suppressed is true",
            (
                '"dnc.suppressed" cannot be read here: dnc runs in a later stage (sort 3): '
                "its answer is not there yet"
            ),
            None,
        ),
        (
            'reject when purecallerid.lead.state = "TX"',
            "the lead is read as lead.<name>, not through purecallerid",
            "lead.state",
        ),
        (
            "reject when litigator.extra.x is true",
            "litigator has no extra.* keys to read",
            None,
        ),
        (
            "reject when extra.x is true",
            (
                'unknown field "extra.x": fields here are <integration id>.<field> or lead.<name> '
                "(integrations: purecallerid, litigator, dnc)"
            ),
            None,
        ),
        (
            "reject when lead is blank",
            "name the lead field: lead.<name>",
            None,
        ),
    ],
)
def test_unknown_names_are_refused_with_a_suggestion(
    text: str, message: str, suggestion: str | None
) -> None:
    assert problems(text) == [(f"line 1, column 13 (/rules/0/when/field): {message}", suggestion)]


def test_field_types_and_known_values_come_from_the_integration() -> None:
    found = problems('reject when purecallerid.activity_score = "high" and litigator.litigator > 1')
    assert [message for message, _ in found] == [
        "line 1, column 43 (/rules/0/when/all/0/value): the value must be a number, not a string",
        (
            'line 1, column 74 (/rules/0/when/all/1/op): "greater_than" does not apply to '
            "litigator.litigator (a boolean field); use one of: equals, not_equals, is_blank, "
            "is_not_blank, is_true, is_false"
        ),
    ]


def test_an_id_with_dots_reads_by_its_longest_match() -> None:
    fields = CampaignFields(registries={"pcid": PURECALLERID_FIELDS, "pcid.v2": LITIGATOR})
    assert fields.split("pcid.v2.litigator") == ("pcid.v2", "litigator")
    assert fields.split("pcid.status") == ("pcid", "status")
    assert fields.split("pcid") is None
    rules = RuleSet.load("reject when pcid.v2.litigator is true", fields)
    assert rules.evaluate({"pcid.v2": {"litigator": True}}).action is Action.REJECT


def test_lead_always_names_the_lead() -> None:
    fields = CampaignFields(registries={"lead": SUPPRESSION_FIELDS})
    assert fields.split("lead.suppressed") is None
    rules = RuleSet.load("reject when lead.suppressed is true", fields)
    assert rules.evaluate({"lead": {"suppressed": True}}, {"suppressed": False}).action is (
        Action.ACCEPT
    )


def test_campaign_fields_export_qualified_names() -> None:
    exported = FIELDS.to_json()
    names = [field["name"] for field in exported["fields"]]
    assert names[0] == "purecallerid.status"
    assert "litigator.litigator" in names
    assert exported["integrations"] == [
        {"id": "purecallerid", "extra": True},
        {"id": "litigator", "extra": False},
    ]
    assert FIELDS.names == tuple(names)
    assert FIELDS.get("purecallerid.line_type") == PURECALLERID_FIELDS.get("line_type")
    extended = FIELDS.with_values("purecallerid.reason", "LITIGATOR")
    spec = extended.get("purecallerid.reason")
    assert spec is not None
    assert "LITIGATOR" in spec.values
    with pytest.raises(KeyError):
        FIELDS.with_values("nobody.reason", "X")
    with pytest.raises(ValueError, match="campaign fields"):
        CampaignFields(fields=[FieldSpec(name="x", type=FieldType.STRING)])
    field_schema = rules_json_schema(FIELDS)["$defs"]["comparison"]["properties"]["field"]
    patterns = [choice.get("pattern") for choice in field_schema["anyOf"]]
    assert r"^purecallerid\.extra\.[^\s.]+(\.[^\s.]+)*$" in patterns
    assert r"^litigator\.extra\.[^\s.]+(\.[^\s.]+)*$" not in patterns


def test_a_run_condition_reads_like_a_rule_condition() -> None:
    when = RunCondition('purecallerid.status = "Accepted" and purecallerid.line_type != "landline"')
    assert when.fields is None
    assert when.reads == ()
    with pytest.raises(RuntimeError, match="check"):
        when.evaluate({}, {})
    checked = when.check(FIELDS)
    assert checked == when
    assert hash(checked) == hash(when)
    assert checked.reads == ("purecallerid",)
    holds, values = checked.evaluate(
        {"purecallerid": {"status": "Accepted", "line_type": "mobile"}}, {}
    )
    assert (holds, values) == (
        True,
        {"purecallerid.status": "Accepted", "purecallerid.line_type": "mobile"},
    )
    assert checked.evaluate({"purecallerid": {"status": "Rejected"}}, {})[0] is False
    assert checked.evaluate({"purecallerid": None}, {})[0] is None
    assert checked.to_text() == (
        'purecallerid.status = "Accepted" and purecallerid.line_type != "landline"'
    )
    assert RunCondition(checked.to_dict()) == when
    assert RunCondition(Comparison("lead.state", Operator.EQUALS, "TX")).to_text() == (
        'lead.state = "TX"'
    )
    assert repr(when) == (
        '<RunCondition \'purecallerid.status = "Accepted" and '
        'purecallerid.line_type != "landline"\'>'
    )


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", 'line 1, column 1 (/): a condition is needed (for instance: lead.state = "TX")'),
        (
            'lead.a = 1\nlead.b = "x"',
            "line 1, column 11 (/): a condition is written on one line",
        ),
        (
            'purecallerid.status = "Accepted" or unknown',
            (
                "line 1, column 34 (/): a condition has no 'or unknown'; to hold when an answer "
                "is missing, add 'or <id>.<field> is blank'"
            ),
        ),
        (
            'lead.a = 1 because "x"',
            (
                "line 1, column 12 (/): expected 'and', 'or' or the end of the condition, "
                "found 'because'"
            ),
        ),
        (
            "lead.a = ",
            (
                "line 1, column 10 (/): expected a value (a string, a number, true or "
                "false), found the end of the line"
            ),
        ),
    ],
)
def test_a_run_condition_refuses_what_is_no_condition(text: str, problem: str) -> None:
    with pytest.raises(RuleValidationError) as caught:
        RunCondition(text)
    assert [str(p) for p in caught.value.problems] == [problem]


def test_a_run_condition_is_checked_with_its_columns() -> None:
    with pytest.raises(RuleValidationError) as caught:
        RunCondition.load('lead.state = "TX" and purecallerid.staus = "Accepted"', FIELDS)
    assert [str(p) for p in caught.value.problems] == [
        (
            'line 1, column 23 (/all/1/field): purecallerid has no field "staus"; '
            'did you mean "purecallerid.status"?'
        )
    ]
    with pytest.raises(RuleValidationError) as caught:
        RunCondition({"field": "purecallerid.reasn", "op": "is_blank"}).check(FIELDS)
    assert [p.path for p in caught.value.problems] == ["/field"]
