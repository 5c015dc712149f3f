"""The one-line text form of rules: a hand-written tokenizer, a recursive-descent parser, a printer.

Text is parsed into the same JSON-shaped document as the dict form and then validated by the
same checker, so both forms share every check and message; text problems also carry their
line and column. The grammar (EBNF) is in ``docs/rules.md``. The printer writes the canonical
text: parsing it gives the same rules, and printing those gives the same text.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any, Final, TypeAlias

from attrs import frozen

from .._errors import RuleValidationError
from .check import LIMITS, Checker, RuleProblem, pointer, suggest_action
from .fields import FieldRegistry, is_word, is_word_char, is_word_start, operator_spec
from .model import (
    Action,
    AllOf,
    AnyOf,
    Comparison,
    Condition,
    Not,
    Operator,
    Rule,
    UnknownPolicy,
    default_rule_id,
)

if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = [
    "check_condition_text",
    "check_text",
    "format_condition",
    "format_rules",
    "parse_document",
    "parse_rules",
]

_NUMBER: Final = re.compile(r"-?[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_MAX_NUMBER_TEXT: Final = 40
_PUNCTUATION: Final = ("(", ")", ",", ":")
# Characters the tokenizer gives another meaning; an operator symbol may not use them.
_NOT_SYMBOL: Final = frozenset('"#(),:.')


def _other_token_char(ch: str) -> bool:
    return is_word_char(ch) or ch.isspace() or ch in _NOT_SYMBOL


@frozen
class _Vocabulary:
    symbols: dict[str, Operator]  # "<=" -> at_most
    words: dict[tuple[str, ...], Operator]  # ("at", "most") -> at_most
    # For each proper prefix of a word spelling, the words that may follow it, in table order:
    # what a syntax error names after "is not" or "does not".
    next_words: dict[tuple[str, ...], tuple[str, ...]]
    longest: int  # the most words a spelling or a label has
    tokens: tuple[str, ...]  # every symbol the tokenizer reads, longest first ("<=" before "<")
    # The labels an admin sees in a UI that are not spellings ("is equal to"), each with the
    # spelling to write instead: people type what they read, so these get a suggestion.
    labels: dict[tuple[str, ...], str]


def _vocabulary() -> _Vocabulary:
    # The operator table is the one list of spellings: the parser accepts exactly its texts and
    # aliases, so that a new alias needs no change here. A spelling is either one symbol or
    # words; it is refused at import if it is neither, or if two operators share it.
    symbols: dict[str, Operator] = {}
    words: dict[tuple[str, ...], Operator] = {}
    for op in Operator:
        spec = operator_spec(op)
        for spelling in (spec.text, *spec.aliases):
            parts = tuple(spelling.lower().split())
            if parts and all(is_word(part) for part in parts):
                known = words.setdefault(parts, op)
            elif spelling and not any(_other_token_char(ch) for ch in spelling):
                known = symbols.setdefault(spelling, op)
            else:
                raise ValueError(f"operator spelling {spelling!r} is neither one symbol nor words")
            if known is not op:
                raise ValueError(f"{spelling!r} spells both {known.value} and {op.value}")
    next_words: dict[tuple[str, ...], tuple[str, ...]] = {}
    for parts in words:
        for size in range(1, len(parts)):
            following = next_words.setdefault(parts[:size], ())
            if parts[size] not in following:
                next_words[parts[:size]] = (*following, parts[size])
    tokens = (*sorted(symbols, key=len, reverse=True), *_PUNCTUATION)
    labels = {
        parts: operator_spec(op).text
        for op in Operator
        if (parts := tuple(operator_spec(op).label.lower().split())) not in words
    }
    longest = max(map(len, [*words, *labels]))
    return _Vocabulary(symbols, words, next_words, longest, tokens, labels)


_VOCABULARY: Final = _vocabulary()
_ACTIONS: Final = {a.value for a in Action}
# How many "not"s and "(" may be open at once. Each one opens a level of the dict form (a
# "(" right after "not" belongs to that "not"), so the dict form's depth limit applies; it
# also keeps the recursive descent far from Python's recursion limit. The checker still
# counts the exact depth of the dict that the text gives.
_MAX_NESTING: Final = LIMITS["depth"]


class _SyntaxError(Exception):
    def __init__(
        self,
        message: str,
        column: int,
        code: str = "syntax_error",
        suggestion: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.column = column
        self.code = code
        self.suggestion = suggestion


@frozen
class _Token:
    kind: str  # "word", "string", "number", "symbol" or "end"
    text: str
    column: int
    value: Any = None

    def is_word(self, *words: str) -> bool:
        return self.kind == "word" and self.text.lower() in words


def _alternatives(words: tuple[str, ...]) -> str:
    quoted = [repr(word) for word in words]
    if len(quoted) == 1:
        return quoted[0]
    return f"{', '.join(quoted[:-1])} or {quoted[-1]}"


def _describe(token: _Token) -> str:
    if token.kind == "end":
        return "the end of the line"
    return f"{token.text!r}" if token.kind != "string" else "a string"


def _tokenize(line: str) -> list[_Token]:
    tokens: list[_Token] = []
    i = 0
    n = len(line)
    while i < n:
        ch = line[i]
        if ch.isspace():
            i += 1
            continue
        if ch == "#":
            break
        if ch == '"':
            end = _string_end(line, i)
            tokens.append(_Token("string", line[i:end], i + 1, _decode_string(line, i, end)))
            i = end
            continue
        if ch.isdigit() or (ch == "-" and i + 1 < n and line[i + 1].isdigit()):
            i = _number(line, i, tokens)
            continue
        if is_word_start(ch):
            start = i
            while i < n and (is_word_char(line[i]) or line[i] == "."):
                i += 1
            tokens.append(_Token("word", line[start:i], start + 1))
            continue
        symbol = next((s for s in _VOCABULARY.tokens if line.startswith(s, i)), None)
        if symbol is None:
            raise _SyntaxError(f"unexpected character {ch!r}", i + 1)
        tokens.append(_Token("symbol", symbol, i + 1))
        i += len(symbol)
    tokens.append(_Token("end", "", n + 1))
    return tokens


def _string_end(line: str, start: int) -> int:
    i = start + 1
    while i < len(line):
        if line[i] == "\\":
            i += 2
            continue
        if line[i] == '"':
            return i + 1
        i += 1
    raise _SyntaxError("the string is not closed", start + 1)


def _decode_string(line: str, start: int, end: int) -> str:
    try:
        value = json.loads(line[start:end])
    except json.JSONDecodeError as exc:
        raise _SyntaxError(f"bad string: {exc.msg}", start + 1 + exc.pos) from None
    return str(value)


def _number(line: str, start: int, tokens: list[_Token]) -> int:
    found = _NUMBER.match(line, start)
    if found is None:  # the caller saw a digit, so this cannot happen; keep mypy honest
        raise _SyntaxError("bad number", start + 1)
    text = found.group()
    end = found.end()
    if end < len(line) and (is_word_char(line[end]) or line[end] == "."):
        raise _SyntaxError(f"bad number {line[start : end + 1]!r}", start + 1)
    if len(text) > _MAX_NUMBER_TEXT:
        raise _SyntaxError(f"numbers have at most {_MAX_NUMBER_TEXT} characters", start + 1)
    value: int | float = float(text) if any(c in text for c in ".eE") else int(text)
    tokens.append(_Token("number", text, start + 1, value))
    return end


# Parse tree with columns, turned into the dict form (and a pointer -> position map) at the end.


@frozen
class _Cmp:
    field: str
    field_col: int
    op: Operator
    op_col: int
    value: Any  # _NO_VALUE, a scalar, or a list
    value_cols: tuple[int, ...]
    case_col: int | None


@frozen
class _Group:
    kind: str  # "all" or "any"
    items: tuple[_Node, ...]
    column: int


@frozen
class _Not:
    inner: _Node
    column: int


_Node: TypeAlias = _Cmp | _Group | _Not
_NO_VALUE: Final = object()


class _LineParser:
    def __init__(self, tokens: list[_Token]) -> None:
        self.tokens = tokens
        self.i = 0
        self.nesting = 0

    @property
    def tok(self) -> _Token:
        return self.tokens[self.i]

    def peek(self, ahead: int = 1) -> _Token:
        return self.tokens[min(self.i + ahead, len(self.tokens) - 1)]

    def take(self) -> _Token:
        token = self.tokens[self.i]
        if token.kind != "end":
            self.i += 1
        return token

    def fail(self, expected: str, token: _Token | None = None) -> _SyntaxError:
        token = token or self.tok
        return _SyntaxError(f"expected {expected}, found {_describe(token)}", token.column)

    def expect_word(self, word: str) -> _Token:
        if not self.tok.is_word(word):
            raise self.fail(repr(word))
        return self.take()

    def rule(self) -> tuple[dict[str, Any], dict[str, int], _Node]:
        raw: dict[str, Any] = {}
        cols: dict[str, int] = {}
        if self.tok.is_word("disabled") and self.peek().text != ":":
            cols["enabled"] = self.take().column
            raw["enabled"] = False
        if self.tok.kind == "word" and self.peek().text == ":" and self.peek().kind == "symbol":
            cols["id"] = self.tok.column
            raw["id"] = self.take().text
            self.take()
        action = self.tok
        known = action.kind == "word" and action.text.lower() in _ACTIONS
        if not known and not (action.kind == "word" and self.peek().is_word("when")):
            raise self.action_error(action)
        self.take()
        # A word in the action's place, before "when", is taken as written: the checker names
        # it as an unknown action with a suggestion ("qc" is "qa"), like in the dict form.
        raw["action"] = action.text.lower() if known else action.text
        cols["action"] = action.column
        self.expect_word("when")
        node = self.disjunction(top=True)
        if self.tok.is_word("or") and self.peek().is_word("unknown"):
            cols["unknown"] = self.take().column
            self.take()
            raw["unknown"] = UnknownPolicy.MATCH.value
        if self.tok.is_word("because"):
            self.take()
            if self.tok.kind != "string":
                raise self.fail('the reason as a string ("...")')
            cols["reason"] = self.tok.column
            raw["reason"] = self.take().value
        if self.tok.kind != "end":
            raise self.fail("'and', 'or', 'because' or the end of the line")
        return raw, cols, node

    def action_error(self, token: _Token) -> _SyntaxError:
        error = self.fail("an action (accept, flag, qa or reject)")
        best = suggest_action(token.text) if token.kind == "word" else None
        if best is not None:
            error.message += f"; did you mean {best!r}?"
            error.suggestion = best
        return error

    def disjunction(self, *, top: bool) -> _Node:
        column = self.tok.column
        items = [self.conjunction()]
        while self.tok.is_word("or"):
            if self.peek().is_word("unknown"):
                if not top:
                    raise _SyntaxError(
                        "'or unknown' may only end the whole condition", self.tok.column
                    )
                break
            self.take()
            items.append(self.conjunction())
        return items[0] if len(items) == 1 else _Group("any", tuple(items), column)

    def conjunction(self) -> _Node:
        column = self.tok.column
        items = [self.unary()]
        while self.tok.is_word("and"):
            self.take()
            items.append(self.unary())
        return items[0] if len(items) == 1 else _Group("all", tuple(items), column)

    def unary(self) -> _Node:
        if self.tok.is_word("not"):
            column = self.take().column
            self.deeper(column)
            # Canonical text writes "not (...)": those parentheses are the "not"'s own level.
            inner = self.parenthesised() if self.at_open() else self.unary()
            self.nesting -= 1
            return _Not(inner, column)
        if self.at_open():
            self.deeper(self.tok.column)
            node = self.parenthesised()
            self.nesting -= 1
            return node
        return self.comparison()

    def at_open(self) -> bool:
        return self.tok.kind == "symbol" and self.tok.text == "("

    def deeper(self, column: int) -> None:
        self.nesting += 1
        if self.nesting > _MAX_NESTING:
            raise _SyntaxError(
                f"conditions nest at most {_MAX_NESTING} levels deep"
                " (each 'not' and each '(' opens one)",
                column,
                "too_deep",
            )

    def parenthesised(self) -> _Node:
        self.take()
        node = self.disjunction(top=False)
        if not (self.tok.kind == "symbol" and self.tok.text == ")"):
            raise self.fail("')'")
        self.take()
        return node

    def comparison(self) -> _Cmp:
        field = self.tok
        if field.kind != "word":
            raise self.fail("a field name, 'not' or '('")
        self.take()
        op_token = self.tok
        op = self.operator()
        kind = operator_spec(op).value.value
        value: Any = _NO_VALUE
        cols: tuple[int, ...] = ()
        if kind == "list":
            value, cols = self.value_list()
        elif kind == "range":
            low, high = self.scalar(), None
            self.expect_word("and")
            high = self.scalar()
            value, cols = [low.value, high.value], (low.column, high.column)
        elif kind != "none":
            token = self.scalar()
            value, cols = token.value, (token.column,)
        case_col = None
        if self.tok.is_word("case"):
            case_col = self.take().column
            self.expect_word("sensitive")
        return _Cmp(field.text, field.column, op, op_token.column, value, cols, case_col)

    def operator(self) -> Operator:
        token = self.tok
        if token.kind == "symbol" and token.text in _VOCABULARY.symbols:
            self.take()
            return _VOCABULARY.symbols[token.text]
        words = self.words_ahead(_VOCABULARY.longest)
        spelled = next(
            (size for size in range(len(words), 0, -1) if words[:size] in _VOCABULARY.words), 0
        )
        self.refuse_label(words, spelled)
        if spelled:
            for _ in range(spelled):
                self.take()
            return _VOCABULARY.words[words[:spelled]]
        # Two words of a longer spelling ("is not", "does not") commit to it: name the words
        # that may follow rather than every operator.
        for size in range(len(words), 1, -1):
            expected = _VOCABULARY.next_words.get(words[:size])
            if expected is not None:
                raise self.fail(_alternatives(expected), self.peek(size))
        raise self.fail("an operator (=, !=, <, <=, >, >=, in, between, contains, ...)")

    def refuse_label(self, words: tuple[str, ...], spelled: int) -> None:
        # An operator's label ("is equal to", "matches pattern") longer than any spelling the
        # words begin with: the admin copied what a UI shows. Name the spelling to write.
        for size in range(len(words), spelled, -1):
            text = _VOCABULARY.labels.get(words[:size])
            if text is not None:
                label = " ".join(words[:size])
                raise _SyntaxError(
                    f"{label!r} is how the operator is labelled, not how it is written; "
                    f"did you mean {text!r}?",
                    self.tok.column,
                    "unknown_operator",
                    text,
                )

    def words_ahead(self, limit: int) -> tuple[str, ...]:
        words: list[str] = []
        while len(words) < limit and self.peek(len(words)).kind == "word":
            words.append(self.peek(len(words)).text.lower())
        return tuple(words)

    def scalar(self) -> _Token:
        token = self.tok
        if token.kind in {"string", "number"}:
            return self.take()
        if token.is_word("true", "false"):
            self.take()
            return _Token("word", token.text, token.column, token.text.lower() == "true")
        raise self.fail("a value (a string, a number, true or false)")

    def value_list(self) -> tuple[list[Any], tuple[int, ...]]:
        if not (self.tok.kind == "symbol" and self.tok.text == "("):
            raise self.fail("'(' to open the list of values")
        self.take()
        tokens = [self.scalar()]
        while self.tok.kind == "symbol" and self.tok.text == ",":
            self.take()
            tokens.append(self.scalar())
        if not (self.tok.kind == "symbol" and self.tok.text == ")"):
            raise self.fail("',' or ')'")
        self.take()
        return [t.value for t in tokens], tuple(t.column for t in tokens)


def _emit(
    node: _Node, path: str, line: int, positions: dict[str, tuple[int, int]]
) -> dict[str, Any]:
    if isinstance(node, _Cmp):
        positions[path] = (line, node.field_col)
        positions[path + "/field"] = (line, node.field_col)
        positions[path + "/op"] = (line, node.op_col)
        out: dict[str, Any] = {"field": node.field, "op": node.op.value}
        if node.value is not _NO_VALUE:
            out["value"] = node.value
            positions[path + "/value"] = (line, node.value_cols[0])
            if isinstance(node.value, list):
                for index, column in enumerate(node.value_cols):
                    positions[f"{path}/value/{index}"] = (line, column)
        if node.case_col is not None:
            out["case_sensitive"] = True
            positions[path + "/case_sensitive"] = (line, node.case_col)
        return out
    positions[path] = (line, node.column)
    if isinstance(node, _Not):
        return {"not": _emit(node.inner, path + "/not", line, positions)}
    key = node.kind
    return {
        key: [
            _emit(item, f"{path}/{key}/{i}", line, positions) for i, item in enumerate(node.items)
        ]
    }


def parse_document(
    text: str,
) -> tuple[dict[str, Any], dict[str, tuple[int, int]], list[RuleProblem]]:
    """Parse rule text into the dict form, a pointer -> (line, column) map, and syntax errors.

    Lines whose syntax is wrong are left out of the document (their index is kept, so that
    the pointers of the other rules match their position).
    """
    rules: list[dict[str, Any] | None] = []
    positions: dict[str, tuple[int, int]] = {}
    problems: list[RuleProblem] = []
    # Editors on Windows save UTF-8 with a byte order mark; it is not part of the first rule,
    # and columns are counted as the admin sees them, without it.
    text = text.removeprefix("\ufeff")
    # Only "\n" ends a line: str.splitlines would also split on characters a string may hold.
    for number, line in enumerate(text.split("\n"), start=1):
        body = line.removesuffix("\r")
        stripped = body.strip()
        if not stripped or stripped.startswith("#"):
            continue
        path = pointer("rules", len(rules))
        try:
            parser = _LineParser(_tokenize(body))
            raw, cols, node = parser.rule()
        except _SyntaxError as exc:
            problems.append(
                RuleProblem(
                    path=path,
                    code=exc.code,
                    message=exc.message,
                    suggestion=exc.suggestion,
                    line=number,
                    column=exc.column,
                )
            )
            rules.append(None)
            continue
        first = len(body) - len(body.lstrip()) + 1
        positions[path] = (number, first)
        for key, column in cols.items():
            positions[f"{path}/{key}"] = (number, column)
        raw["when"] = _emit(node, path + "/when", number, positions)
        rules.append(raw)
    return {"version": 1, "rules": rules}, positions, problems


def parse_rules(text: str, fields: FieldRegistry | None = None) -> tuple[Rule, ...]:
    """Parse rule text (one rule a line; ``#`` comments and blank lines are skipped).

    With *fields*, the rules are also checked against that registry; without, only their
    syntax and shape are. Warnings are dropped here: :meth:`purecallerid.RuleSet.load` keeps
    them.

    Raises:
        RuleValidationError: Every syntax error and every other problem, with its line and column.
    """
    rules, _, _ = check_text(text, fields)
    return rules


def check_text(
    text: str, fields: FieldRegistry | None
) -> tuple[tuple[Rule, ...], tuple[RuleProblem, ...], Checker]:
    """Parse and check *text*; return the rules, the warnings and the checker used.

    Raises:
        RuleValidationError: A syntax error or any other error was found.
    """
    document, positions, syntax = parse_document(text)
    checker = Checker(fields, positions)
    if syntax:
        # Check the lines that parsed too, so that one pass reports every problem.
        for index, raw in enumerate(document["rules"]):
            if raw is not None:
                checker.rule(raw, pointer("rules", index), index)
        problems = sorted([*syntax, *checker.problems], key=lambda p: (p.line or 0, p.column or 0))
        raise RuleValidationError(problems)
    rules = checker.document(document)
    checker.raise_if_failed()
    return rules, checker.warnings, checker


def _condition_document(text: str) -> tuple[Any, dict[str, tuple[int, int]], RuleProblem | None]:
    """One condition's text as its dict form, its pointer -> position map, or its syntax error."""
    body = text.removeprefix("\ufeff").rstrip("\r\n")
    try:
        node = _condition_node(body)
    except _SyntaxError as error:
        problem = RuleProblem(
            path="",
            code=error.code,
            message=error.message,
            suggestion=error.suggestion,
            line=1,
            column=error.column,
        )
        return None, {}, problem
    positions: dict[str, tuple[int, int]] = {}
    return _emit(node, "", 1, positions), positions, None


def _condition_node(body: str) -> _Node:
    newline = next((i for i, ch in enumerate(body) if ch in "\r\n"), None)
    if newline is not None:
        # One line, as a rule is: a line break would put the rest out of every column count.
        raise _SyntaxError("a condition is written on one line", newline + 1)
    if not body.strip() or body.strip().startswith("#"):
        raise _SyntaxError('a condition is needed (for instance: lead.state = "TX")', 1)
    parser = _LineParser(_tokenize(body))
    node = parser.disjunction(top=True)
    if parser.tok.is_word("or") and parser.peek().is_word("unknown"):
        raise _SyntaxError(
            "a condition has no 'or unknown'; to hold when an answer is missing, "
            "add 'or <id>.<field> is blank'",
            parser.tok.column,
        )
    if parser.tok.kind != "end":
        raise parser.fail("'and', 'or' or the end of the condition")
    return node


def check_condition_text(text: str, fields: FieldRegistry | None) -> tuple[Condition, Checker]:
    """Parse and check one condition written in the text form (what follows ``when``).

    With *fields* ``None`` only its syntax and shape are checked.

    Raises:
        RuleValidationError: Its syntax error, or every other problem, with its column.
    """
    document, positions, syntax = _condition_document(text)
    if syntax is not None:
        raise RuleValidationError([syntax])
    checker = Checker(fields, positions)
    condition = checker.condition(document, "", depth=1)
    checker.raise_if_failed()
    assert condition is not None  # noqa: S101 - no error means a condition was built
    return condition, checker


# -- printing --------------------------------------------------------------------------------


def _scalar_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    return repr(value)


def _comparison_text(c: Comparison) -> str:
    spec = operator_spec(c.op)
    kind = spec.value.value
    if kind == "none":
        text = f"{c.field} {spec.text}"
    elif kind == "list":
        values = c.value if isinstance(c.value, tuple) else (c.value,)
        text = f"{c.field} {spec.text} ({', '.join(_scalar_text(v) for v in values)})"
    elif kind == "range" and isinstance(c.value, tuple):
        low, high = c.value
        text = f"{c.field} {spec.text} {_scalar_text(low)} and {_scalar_text(high)}"
    else:
        text = f"{c.field} {spec.text} {_scalar_text(c.value)}"
    return text + (" case sensitive" if c.case_sensitive else "")


def format_condition(condition: Condition) -> str:
    """Print *condition* in canonical text (``and`` binds tighter than ``or``)."""
    if isinstance(condition, Comparison):
        return _comparison_text(condition)
    if isinstance(condition, Not):
        return f"not ({format_condition(condition.condition)})"
    if isinstance(condition, AllOf):
        # Parentheses keep nested groups as written, so that text and dict forms match.
        return " and ".join(
            f"({format_condition(c)})" if isinstance(c, AllOf | AnyOf) else format_condition(c)
            for c in condition.conditions
        )
    return " or ".join(
        f"({format_condition(c)})" if isinstance(c, AnyOf) else format_condition(c)
        for c in condition.conditions
    )


def _rule_text(rule: Rule, index: int) -> str:
    parts = []
    if not rule.enabled:
        parts.append("disabled")
    if rule.id != default_rule_id(index):
        parts.append(f"{rule.id}:")
    parts.extend((rule.action.value, "when", format_condition(rule.when)))
    if rule.unknown is UnknownPolicy.MATCH:
        parts.append("or unknown")
    if rule.reason is not None:
        parts.extend(("because", json.dumps(rule.reason, ensure_ascii=False)))
    return " ".join(parts)


def format_rules(rules: Iterable[Rule]) -> str:
    """Print *rules* as canonical text: one line each, ids left out where they are the default."""
    return "".join(_rule_text(rule, index) + "\n" for index, rule in enumerate(rules))
