"""The text form's operator words come from the operator table, and only from it."""

from __future__ import annotations

import itertools
import re
from pathlib import Path
from typing import Any

import attrs
import pytest

from purecallerid import (
    Action,
    AllOf,
    Comparison,
    Condition,
    Operator,
    Rule,
    RuleValidationError,
    format_rules,
    operator_table,
    parse_rules,
)
from purecallerid._rules import text
from purecallerid._rules.fields import RESERVED_WORDS, OperatorSpec, operator_spec

DOCS = Path(__file__).parent.parent / "docs" / "rules.md"
FIELD = "extra.x"  # of type any: every operator applies to it

# A value of each value kind, as text and as the condition holds it.
_VALUES: dict[str, tuple[str, Any]] = {
    "none": ("", None),
    "scalar": ('"x"', "x"),
    "list": ('("x", 2)', ("x", 2)),
    "range": ("1 and 2.5", (1, 2.5)),
    "number": ("-3", -3),
    "text": ('"x"', "x"),
    "pattern": ('"^x"', "^x"),
}


def _spellings() -> list[tuple[Operator, str]]:
    return [
        (Operator(row["name"]), spelling)
        for row in operator_table()
        for spelling in (row["text"], *row["aliases"])
    ]


def _condition(op: Operator, spelling: str) -> tuple[str, Comparison]:
    value_text, value = _VALUES[operator_spec(op).value.value]
    return f"flag when {FIELD} {spelling} {value_text}".rstrip(), Comparison(FIELD, op, value)


@pytest.mark.parametrize(("op", "spelling"), _spellings())
def test_every_spelling_in_the_table_parses_to_its_operator(op: Operator, spelling: str) -> None:
    """The canonical text and each alias of every operator parse, in any case."""
    line, expected = _condition(op, spelling)
    assert parse_rules(line)[0].when == expected
    line, expected = _condition(op, spelling.upper())
    assert parse_rules(line)[0].when == expected


def _rules_with(op: Operator) -> list[Rule]:
    _, value = _VALUES[operator_spec(op).value.value]
    plain = Comparison(FIELD, op, value)
    conditions: list[Condition] = [plain, AllOf((plain, Comparison("lead.y", op, value)))]
    if operator_spec(op).text_compare:
        conditions.append(Comparison(FIELD, op, value, case_sensitive=True))
    return [Rule(id=f"r{i}", action=Action.FLAG, when=c) for i, c in enumerate(conditions)]


@pytest.mark.parametrize("op", list(Operator))
def test_every_operator_round_trips_through_text(op: Operator) -> None:
    """Printing writes the table's canonical text; parsing that gives the same rules."""
    rules = _rules_with(op)
    printed = format_rules(rules)
    assert f" {operator_spec(op).text} " in f"{printed} "
    assert list(parse_rules(printed)) == rules


def _parsed_operator(words: str) -> Operator | None:
    """The operator the parser reads from *words* when they are the whole operator, else None."""
    parser = text._LineParser(text._tokenize(words))
    try:
        op = parser.operator()
    except text._SyntaxError:
        return None
    return op if parser.tok.kind == "end" else None


# Words an operator might plausibly be spelled with, beyond those the text form already has.
_OTHER = frozenset({"above", "below", "empty", "eq", "has", "like", "ne", "null", "of", "to"})


def test_parser_accepts_no_operator_word_the_table_lacks() -> None:
    """Every run of up to three words (operator and grammar words) is an operator iff tabled."""
    tabled = {" ".join(s.lower().split()): op for op, s in _spellings()}
    words = sorted({w for spelling in tabled for w in spelling.split()} | RESERVED_WORDS | _OTHER)
    longest = max(len(spelling.split()) for spelling in tabled)
    assert longest <= 3  # raise the range below with it
    for size in range(1, longest + 1):
        for run in itertools.product(words, repeat=size):
            phrase = " ".join(run)
            assert _parsed_operator(phrase) == tabled.get(phrase), phrase


def test_parser_accepts_no_operator_symbol_the_table_lacks() -> None:
    """Every run of up to three symbol characters is an operator iff tabled."""
    tabled = {s: op for op, s in _spellings() if not s[0].isalpha()}
    alphabet = sorted(set("".join(tabled)) | set("~&|"))
    for size in range(1, 4):
        for run in itertools.product(alphabet, repeat=size):
            phrase = "".join(run)
            try:
                found = _parsed_operator(phrase)
            except text._SyntaxError:  # a character the tokenizer refuses
                found = None
            assert found == tabled.get(phrase), phrase


def test_derived_vocabulary_is_the_table() -> None:
    """The parser's words and symbols are exactly the table's spellings, nothing else."""
    derived = {" ".join(words): op for words, op in text._VOCABULARY.words.items()}
    derived.update(text._VOCABULARY.symbols)
    assert derived == {s.lower(): op for op, s in _spellings()}


def test_every_operator_word_is_reserved() -> None:
    """A field may not be named after a word of an operator spelling."""
    words = {w for _, s in _spellings() for w in s.lower().split() if w[0].isalpha()}
    assert words <= RESERVED_WORDS


@pytest.mark.parametrize(
    ("phrase", "message"),
    [
        ("is not maybe", "expected 'blank', found 'maybe'"),
        ("does not maybe", "expected 'contain' or 'match', found 'maybe'"),
        ("does not", "expected 'contain' or 'match', found the end of the line"),
        ("is maybe", "expected an operator (=, !=, <, <=, >, >=, in, between, contains, ...)"),
        ("starts maybe", "expected an operator (=, !=, <, <=, >, >=, in, between, contains, ...)"),
    ],
)
def test_a_partial_spelling_names_what_may_follow(phrase: str, message: str) -> None:
    """After two words of a longer spelling the error names its next words."""
    with pytest.raises(RuleValidationError) as info:
        parse_rules(f"flag when status {phrase}\n")
    assert info.value.problems[0].message.startswith(message)


def _with_alias(op: Operator, alias: str) -> Any:
    def spec(of: Operator) -> OperatorSpec:
        row = operator_spec(of)
        return attrs.evolve(row, aliases=(*row.aliases, alias)) if of is op else row

    return spec


def test_a_new_alias_needs_only_the_table(monkeypatch: pytest.MonkeyPatch) -> None:
    """An alias added to the table is parsed, however many words it has."""
    monkeypatch.setattr(text, "operator_spec", _with_alias(Operator.AT_MOST, "no more than"))
    monkeypatch.setattr(text, "_VOCABULARY", text._vocabulary())
    assert parse_rules("flag when extra.x no more than 3")[0].when == Comparison(
        "extra.x", Operator.AT_MOST, 3
    )
    with pytest.raises(RuleValidationError) as info:
        parse_rules("flag when extra.x no more 3")
    assert info.value.problems[0].message == "expected 'than', found '3'"


def test_a_new_continuation_is_named_in_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    """A third spelling after "does not" joins the words the error names."""
    monkeypatch.setattr(text, "operator_spec", _with_alias(Operator.NOT_EQUALS, "does not equal"))
    monkeypatch.setattr(text, "_VOCABULARY", text._vocabulary())
    with pytest.raises(RuleValidationError) as info:
        parse_rules("flag when extra.x does not 3")
    assert info.value.problems[0].message == ("expected 'equal', 'contain' or 'match', found '3'")


def test_a_new_symbol_needs_only_the_table(monkeypatch: pytest.MonkeyPatch) -> None:
    """A symbol alias is tokenized longest first and parsed."""
    monkeypatch.setattr(text, "operator_spec", _with_alias(Operator.AT_MOST, "=<"))
    monkeypatch.setattr(text, "_VOCABULARY", text._vocabulary())
    assert parse_rules("flag when extra.x =< 3")[0].when == Comparison(
        "extra.x", Operator.AT_MOST, 3
    )
    assert parse_rules("flag when extra.x = 3")[0].when == Comparison("extra.x", Operator.EQUALS, 3)


@pytest.mark.parametrize(
    ("op", "alias", "message"),
    [
        (Operator.AT_MOST, "less than", "'less than' spells both less_than and at_most"),
        (Operator.AT_MOST, "=<=(", "operator spelling '=<=(' is neither one symbol nor words"),
        (Operator.AT_MOST, "at.most", "operator spelling 'at.most' is neither"),
        (Operator.AT_MOST, "", "operator spelling '' is neither"),
    ],
)
def test_an_ambiguous_or_malformed_spelling_is_refused(
    monkeypatch: pytest.MonkeyPatch, op: Operator, alias: str, message: str
) -> None:
    """Two operators with one spelling, or a spelling the tokenizer cannot read, fail at import."""
    monkeypatch.setattr(text, "operator_spec", _with_alias(op, alias))
    with pytest.raises(ValueError, match="^" + re.escape(message)):
        text._vocabulary()


def test_docs_list_every_spelling() -> None:
    """docs/rules.md shows every spelling of an operator in that operator's row."""
    rows = {
        line.split("`")[1]: line
        for line in DOCS.read_text(encoding="utf-8").splitlines()
        if line.startswith("| `")
    }
    for op, spelling in _spellings():
        assert f"`{spelling}" in rows[op.value], spelling
