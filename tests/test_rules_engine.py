"""Evaluation: precedence, unknown semantics, traces, reasons, presets, the converter."""

from __future__ import annotations

import json
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import pytest

from purecallerid import (
    PURECALLERID_FIELDS,
    Action,
    AllOf,
    AnyOf,
    Comparison,
    FieldRegistry,
    FieldSpec,
    FieldType,
    Lead,
    Not,
    Operator,
    Rule,
    RuleOutcome,
    RuleSet,
    RuleValidationError,
    ScreeningResponse,
    UnknownPolicy,
    answer_from_response,
    converter,
    purecallerid_preset,
)


def load(text: str) -> RuleSet:
    return RuleSet.load(text, PURECALLERID_FIELDS)


REJECTED_DNC = {"status": "Rejected", "reason": "DNC", "message": "Do not call"}


def test_no_rule_fired_means_accept() -> None:
    """Without a firing rule the action is accept and nothing decided it."""
    result = load('reject when status = "Rejected"\n').evaluate({"status": "Accepted"})
    assert (result.action, result.decided_by, result.reasons) == (Action.ACCEPT, None, ())


def test_most_severe_action_wins() -> None:
    """reject beats qa beats flag, whatever the rule order."""
    rules = load(
        'flag when status = "Rejected"\n'
        'qa when status = "Rejected"\n'
        'reject when status = "Rejected"\n'
    )
    result = rules.evaluate(REJECTED_DNC)
    assert (result.action, result.decided_by) == (Action.REJECT, "rule-3")


def test_tie_goes_to_first_rule() -> None:
    """Two rules of the same action: the first in order decides, both give reasons."""
    rules = load(
        'a: reject when reason = "DNC" because "one"\n'
        'b: reject when status = "Rejected" because "two"\n'
    )
    result = rules.evaluate(REJECTED_DNC)
    assert (result.decided_by, result.reasons) == ("a", ("one", "two"))


def test_flags_accumulate_under_a_reject() -> None:
    """Every fired flag rule is listed, even when a reject decides."""
    rules = load(
        'flag when reason = "DNC" because "dnc"\n'
        'reject when status = "Rejected"\n'
        'flag when message contains "call"\n'
    )
    result = rules.evaluate(REJECTED_DNC)
    assert result.action is Action.REJECT
    assert result.flags == ("dnc", "rule-3")


def test_unknown_does_not_match_by_default() -> None:
    """A condition on an absent field is unknown, and the rule does not fire."""
    result = load("flag when activity_score < 40\n").evaluate({"status": "Accepted"})
    assert result.trace[0].outcome is RuleOutcome.UNKNOWN
    assert result.action is Action.ACCEPT


def test_unknown_can_match() -> None:
    """A rule with 'or unknown' fires when its condition is unknown."""
    result = load("flag when activity_score < 40 or unknown\n").evaluate({"status": "Accepted"})
    assert result.trace[0].fired
    assert result.action is Action.FLAG


def test_errored_integration_makes_answer_conditions_unknown() -> None:
    """A None answer (the integration errored) leaves every answer condition unknown."""
    result = purecallerid_preset().evaluate(None)
    assert {t.outcome for t in result.trace} == {RuleOutcome.UNKNOWN}


def test_errored_integration_still_reads_the_lead() -> None:
    """Lead conditions are evaluated even when the answer is missing."""
    result = load('qa when lead.source = "test"\n').evaluate(None, {"source": "TEST"})
    assert result.action is Action.QA


def test_not_is_unknown_on_unknown() -> None:
    """not(unknown) stays unknown: absence never turns into a match through negation."""
    result = load('reject when not (reason = "DNC")\n').evaluate({"status": "Accepted"})
    assert result.trace[0].outcome is RuleOutcome.UNKNOWN


def test_and_with_a_false_side_is_false_even_if_other_is_unknown() -> None:
    """Kleene and: false and unknown is false."""
    result = load('reject when status = "Accepted" and reason = "DNC"\n').evaluate(
        {"status": "Rejected"}
    )
    assert result.trace[0].outcome is RuleOutcome.NOT_MATCHED


def test_or_with_a_true_side_is_true_even_if_other_is_unknown() -> None:
    """Kleene or: true or unknown is true."""
    result = load('reject when reason = "DNC" or status = "Rejected"\n').evaluate(
        {"status": "Rejected"}
    )
    assert result.trace[0].outcome is RuleOutcome.MATCHED


def test_and_binds_tighter_than_or() -> None:
    """a or b and c reads as a or (b and c)."""
    rules = load('reject when status = "X" or status = "Rejected" and reason = "DNC"\n')
    assert rules.evaluate(REJECTED_DNC).action is Action.REJECT
    assert rules.evaluate({"status": "Rejected", "reason": "INVALID"}).action is Action.ACCEPT


def test_disabled_rule_is_traced_not_evaluated() -> None:
    """A disabled rule appears in the trace as disabled and never fires."""
    result = load('disabled reject when status = "Rejected"\n').evaluate(REJECTED_DNC)
    assert result.trace[0].outcome is RuleOutcome.DISABLED
    assert result.action is Action.ACCEPT


def test_trace_records_values_read() -> None:
    """Each trace entry lists the fields read and their values (None when absent)."""
    result = load('reject when status = "Rejected" and carrier = "X"\n').evaluate(REJECTED_DNC)
    assert result.trace[0].values == {"status": "Rejected", "carrier": None}


def test_trace_stops_where_the_result_is_settled() -> None:
    """After a false 'and' operand the remaining fields are not read."""
    result = load('reject when status = "Accepted" and reason = "DNC"\n').evaluate(REJECTED_DNC)
    assert result.trace[0].values == {"status": "Rejected"}


def test_reason_template_inserts_values() -> None:
    """{field} in a reason is replaced by the value read; absent fields render empty."""
    rules = load('reject when status = "Rejected" because "{reason} / {carrier} / {{x}}"\n')
    assert rules.evaluate(REJECTED_DNC).reason == "DNC /  / {x}"


def test_rule_without_reason_gives_its_id() -> None:
    """A fired rule without a reason text contributes its id to the reasons."""
    result = load('dnc: reject when reason = "DNC"\n').evaluate(REJECTED_DNC)
    assert result.reasons == ("dnc",)
    assert result.trace[0].reason is None


def test_extra_fields_are_read() -> None:
    """extra.<key> reads a vendor key the library does not type, nested paths too."""
    rules = load('flag when extra.is_prepaid is true and extra.dnc.state = "CA"\n')
    answer = {"status": "Accepted", "extra": {"is_prepaid": True, "dnc": {"state": "ca"}}}
    assert rules.evaluate(answer).action is Action.FLAG


def test_lead_list_index() -> None:
    """A numeric path segment indexes a list in the lead."""
    rules = load('flag when lead.phones.1 = "5125550101"\n')
    assert rules.evaluate({}, {"phones": ["5125550100", "5125550101"]}).action is Action.FLAG
    assert rules.evaluate({}, {"phones": ["5125550100"]}).trace[0].outcome is RuleOutcome.UNKNOWN


def test_lead_object_is_accepted() -> None:
    """A purecallerid.Lead is read through its fields."""
    lead = Lead(lead_id="1", campaign_id="c", fields={"state": "TX"})
    assert load('qa when lead.state = "tx"\n').evaluate({}, lead).action is Action.QA


def test_screening_response_is_accepted_as_answer() -> None:
    """A ScreeningResponse can be evaluated directly, its extra keys under extra."""
    response = ScreeningResponse(status="Accepted", reason="SUPPRESSED", extra={"x": 1})
    result = purecallerid_preset().evaluate(response)
    assert (result.action, result.decided_by) == (Action.QA, "qa-suppressed")


def test_answer_from_response() -> None:
    """The answer mapping holds the typed fields and extra."""
    response = ScreeningResponse(status="Rejected", reason="DNC", activity_score=7, extra={"k": 1})
    answer = answer_from_response(response)
    assert answer["status"] == "Rejected"
    assert answer["activity_score"] == 7
    assert answer["line_type"] is None
    assert answer["extra"] == {"k": 1}


# This used to read any other answer as "no answer" (every condition unknown, the lead let
# through): a caller passing the vendor's JSON body unparsed never noticed that its rules saw
# nothing (issue 13). A wrong type is now the caller's error, named.
@pytest.mark.parametrize(
    ("answer", "named"),
    [
        ('{"status": "Rejected", "reason": "DNC"}', "not str (39 characters); a JSON text?"),
        (b'{"status": "Rejected"}', "not bytes (22 bytes); a JSON text?"),
        (["not", "a", "mapping"], "not list"),
        (("status", "Rejected"), "not tuple"),
        (42, "not int"),
        (object(), "not object"),
    ],
)
def test_an_answer_of_another_type_is_a_type_error(answer: object, named: str) -> None:
    """An answer that is neither a mapping, None nor SupportsAnswer is a TypeError naming it."""
    with pytest.raises(TypeError, match="the answer must be a mapping") as info:
        purecallerid_preset().evaluate(answer)  # type: ignore[arg-type]
    assert named in str(info.value)


@pytest.mark.parametrize(
    ("lead", "named"),
    [('{"state": "TX"}', "not str (15 characters)"), ([("state", "TX")], "not list")],
)
def test_a_lead_of_another_type_is_a_type_error(lead: object, named: str) -> None:
    """A lead that is neither a mapping, a Lead nor None is a TypeError naming it."""
    with pytest.raises(TypeError, match="the lead must be a mapping, a Lead or None") as info:
        purecallerid_preset().evaluate({}, lead)  # type: ignore[arg-type]
    assert named in str(info.value)


def test_type_errors_do_not_show_the_value() -> None:
    """The message names the type, never the content (a lead holds personal data)."""
    with pytest.raises(TypeError) as info:
        purecallerid_preset().evaluate({}, "5125550100 ann@example.com")  # type: ignore[arg-type]
    assert "5125550100" not in str(info.value)


class _BadAnswer:
    def as_answer(self) -> Any:
        return '{"status": "Rejected"}'


def test_an_as_answer_that_gives_no_mapping_is_a_type_error() -> None:
    """A SupportsAnswer whose as_answer() returns something else is named too."""
    with pytest.raises(TypeError, match=r"_BadAnswer.as_answer\(\) must return a mapping"):
        purecallerid_preset().evaluate(_BadAnswer())


@pytest.mark.parametrize("answer", [None, {}, MappingProxyType({"status": "Rejected"})])
def test_mappings_and_none_are_answers(answer: Mapping[str, Any] | None) -> None:
    """Any mapping (not only a dict) and None are still accepted as the answer and the lead."""
    result = purecallerid_preset().evaluate(answer, MappingProxyType({"x": 1}))
    assert result.action is Action.ACCEPT


@pytest.mark.parametrize(
    ("answer", "action", "decided_by"),
    [
        ({"status": "Rejected", "reason": "INACTIVE"}, Action.REJECT, "reject-bad-phone"),
        ({"status": "Rejected", "reason": "TCPA_FLAG"}, Action.REJECT, "reject-bad-phone"),
        ({"status": "rejected", "reason": "dnc"}, Action.REJECT, "reject-bad-phone"),
        ({"status": "Accepted", "reason": "SUPPRESSED"}, Action.QA, "qa-suppressed"),
        ({"status": "Rejected", "reason": "INVALID"}, Action.ACCEPT, None),
        ({"status": "Accepted"}, Action.ACCEPT, None),
    ],
)
def test_purecallerid_preset(
    answer: dict[str, str], action: Action, decided_by: str | None
) -> None:
    """The preset rejects INACTIVE/DNC/TCPA_FLAG, sends SUPPRESSED to QA, accepts the rest."""
    result = purecallerid_preset().evaluate(answer)
    assert (result.action, result.decided_by) == (action, decided_by)


def test_preset_reject_invalid_option() -> None:
    """The optional preset rule rejects INVALID."""
    result = purecallerid_preset(reject_invalid=True).evaluate(
        {"status": "Rejected", "reason": "INVALID"}
    )
    assert (result.action, result.decided_by) == (Action.REJECT, "reject-invalid")


def test_action_severity_order() -> None:
    """Action.most_severe orders reject > qa > flag > accept, accept for none."""
    assert Action.most_severe([Action.FLAG, Action.REJECT, Action.QA]) is Action.REJECT
    assert Action.most_severe([Action.FLAG, Action.QA]) is Action.QA
    assert Action.most_severe([]) is Action.ACCEPT


def test_ruleset_from_rule_objects() -> None:
    """A RuleSet built from Rule objects validates them like a document."""
    rule = Rule(
        id="low",
        action=Action.FLAG,
        when=AllOf(
            (
                Comparison("activity_score", Operator.LESS_THAN, 40),
                Not(Comparison("line_type", Operator.EQUALS, "landline")),
            )
        ),
    )
    rules = RuleSet([rule], PURECALLERID_FIELDS)
    assert rules.evaluate({"activity_score": 3, "line_type": "mobile"}).action is Action.FLAG


def test_ruleset_from_rule_objects_is_validated() -> None:
    """Rule objects with an unknown field are refused with a pointer."""
    rule = Rule(id="x", action="reject", when=Comparison("statu", "equals", "Rejected"))
    with pytest.raises(RuleValidationError) as info:
        RuleSet([rule], PURECALLERID_FIELDS)
    assert info.value.problems[0].path == "/rules/0/when/field"


def test_group_of_one_is_refused_by_the_model() -> None:
    """AllOf needs two conditions: a group of one is the condition itself."""
    with pytest.raises(ValueError, match="at least two"):
        AllOf((Comparison("status", Operator.IS_BLANK),))


def test_empty_ruleset_accepts() -> None:
    """RuleSet.empty() has no rules and accepts everything."""
    result = RuleSet.empty().evaluate({"status": "Rejected"})
    assert (len(RuleSet.empty()), result.action, result.trace) == (0, Action.ACCEPT, ())


def test_from_text_and_from_dict_agree() -> None:
    """The text and dict constructors give equal rule sets."""
    text = purecallerid_preset().to_text()
    document = purecallerid_preset().to_dict()
    assert RuleSet.from_text(text, PURECALLERID_FIELDS) == RuleSet.from_dict(
        document, PURECALLERID_FIELDS
    )


def test_digest_changes_with_the_rules() -> None:
    """The digest identifies the rules applied."""
    assert purecallerid_preset().digest == purecallerid_preset().digest
    assert purecallerid_preset().digest != purecallerid_preset(reject_invalid=True).digest


def test_converter_unstructures_ruleset_and_rules() -> None:
    """The library converter writes a rule set and its rules as canonical dicts."""
    rules = purecallerid_preset()
    assert converter.unstructure(rules) == rules.to_dict()
    assert converter.unstructure(rules.rules[0]) == rules.to_dict()["rules"][0]


def test_converter_structures_rules_and_conditions() -> None:
    """Structuring a Rule checks its shape and returns an equal rule."""
    rules = purecallerid_preset()
    data = converter.unstructure(rules.rules[1])
    assert converter.structure(data, Rule) == rules.rules[1]
    assert converter.structure({"field": "x", "op": "is_blank"}, Comparison) == Comparison(
        "x", Operator.IS_BLANK
    )


def test_converter_structure_reports_problems() -> None:
    """A malformed rule structured through the converter raises RuleValidationError."""
    with pytest.raises(RuleValidationError):
        converter.structure({"action": "nope", "when": {}}, Rule)


def test_converter_refuses_to_structure_a_ruleset() -> None:
    """A RuleSet needs its fields, so structuring one says what to call instead."""
    with pytest.raises(TypeError, match=r"RuleSet\.load"):
        converter.structure({"rules": []}, RuleSet)


def test_trace_is_json_serialisable() -> None:
    """trace_dicts() gives JSON-ready data for the audit record."""
    result = purecallerid_preset().evaluate(REJECTED_DNC, {"x": 1})
    data = json.loads(json.dumps(result.trace_dicts()))
    assert data[0]["outcome"] == "matched"
    assert data[0]["values"] == {"status": "Rejected", "reason": "DNC"}


def test_unknown_policy_in_dict_form() -> None:
    """The dict form spells the unknown policy as "unknown": "match"."""
    rules = RuleSet.load(
        {
            "rules": [
                {
                    "action": "flag",
                    "unknown": "match",
                    "when": {"field": "carrier", "op": "is_not_blank"},
                }
            ]
        },
        PURECALLERID_FIELDS,
    )
    assert rules.rules[0].unknown is UnknownPolicy.MATCH


def test_registry_with_values_extends_known_values() -> None:
    """with_values adds a campaign's own reasons, so a rule on them loads without warning."""
    fields = PURECALLERID_FIELDS.with_values("reason", "DNCX")
    rules = RuleSet.load('reject when reason = "DNCX"\n', fields)
    assert rules.warnings == ()


def test_registry_refuses_reserved_and_duplicate_names() -> None:
    """A field may not be named after a text-form word, nor declared twice."""
    with pytest.raises(ValueError, match="word of the rule text form"):
        FieldSpec(name="not", type=FieldType.STRING)
    spec = FieldSpec(name="a", type=FieldType.STRING)
    with pytest.raises(ValueError, match="declared twice"):
        FieldRegistry(integration="x", fields=(spec, spec))


def test_registry_without_lead_refuses_lead_fields() -> None:
    """An integration can keep rules from reading the lead."""
    fields = FieldRegistry(integration="x", fields=(), lead=False)
    with pytest.raises(RuleValidationError, match=r"cannot read lead"):
        RuleSet.load('flag when lead.a = "b"\n', fields)


_BLANK = Comparison("status", Operator.IS_BLANK)


@pytest.mark.parametrize(
    ("cls", "kwargs", "where"),
    [
        (Rule, {"id": "r", "action": "flag", "when": {"field": "status"}}, "Rule.when"),
        (Rule, {"id": "r", "action": "flag", "when": None}, "Rule.when"),
        (Not, {"condition": "status is blank"}, "Not.condition"),
        (AllOf, {"conditions": (_BLANK, 5)}, "AllOf.conditions"),
        (AnyOf, {"conditions": [{"field": "a"}, {"field": "b"}]}, "AnyOf.conditions"),
    ],
    ids=["when-dict", "when-none", "not-str", "all-int", "any-dicts"],
)
def test_a_rule_takes_only_conditions(cls: Any, kwargs: dict[str, Any], where: str) -> None:
    """A dict or None where a condition belongs fails when built, naming the field."""
    with pytest.raises(TypeError, match=rf"^{where} takes conditions"):
        cls(**kwargs)


def test_trace_keeps_copies_of_the_values_read() -> None:
    """Editing the answer or the lead after evaluation leaves the trace (evidence) as it was."""
    answer: dict[str, Any] = {"status": "Rejected", "extra": {"tags": ["dnc", {"k": 1}]}}
    lead: dict[str, Any] = {"phones": ["2125550101"], "name": "Ann"}
    rules = load(
        'flag when extra.tags contains "dnc"\nflag when lead.phones is not blank\n'
        'flag when lead.name = "Ann"\n'
    )
    result = rules.evaluate(answer, lead)
    answer["extra"]["tags"].append("new")
    answer["extra"]["tags"][1]["k"] = 2
    lead["phones"].clear()
    lead["name"] = "Bob"
    assert [entry.values for entry in result.trace] == [
        {"extra.tags": ["dnc", {"k": 1}]},
        {"lead.phones": ["2125550101"]},
        {"lead.name": "Ann"},
    ]


def test_trace_copies_cyclic_and_deep_values_without_failing() -> None:
    """A value that contains itself, or nests very deep, is copied without a RecursionError."""
    cyclic: list[Any] = ["x"]
    cyclic.append(cyclic)
    deep: list[Any] = []
    for _ in range(5_000):
        deep = [deep]
    result = load("flag when lead.a is not blank and lead.b is not blank\n").evaluate(
        {}, {"a": cyclic, "b": deep}
    )
    copied = result.trace[0].values["lead.a"]
    assert copied is not cyclic
    assert copied[1] is copied  # the cycle is kept in the copy
    assert result.trace[0].outcome is RuleOutcome.MATCHED
