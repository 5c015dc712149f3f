r"""Patterns for ``matches`` / ``does not match``: a safe regex subset, run in linear time.

Python's ``re`` backtracks: ``(a+)+$`` on a long line of ``a`` followed by ``b`` never returns,
and even ``\\d*\\d*x`` takes half a second on 1,000 digits. A rule is written by an admin
and run on every lead, so patterns are not run by ``re``. They are parsed here into a small
syntax tree (refusing what cannot be run without backtracking), turned into a Thompson NFA
once at load, and matched by following every NFA path at the same time. The sets of NFA
states met are cached as DFA states with their transitions, so the usual cost is one dict
lookup per character; building a new transition costs up to the NFA size. No input can make
a match take more than linear time, and a step budget (:data:`MAX_MATCH_STEPS`) bounds the
linear term too: a match that would need more work is unknown.

Case: when case is ignored, whether one character of the value fits one atom of the pattern
(a literal or a class) is asked of ``re`` with ``re.IGNORECASE``, on a pattern of that one
atom; so case pairs are exactly ``re``'s (``k`` and the Kelvin sign U+212A, ``s`` and the
long s U+017F, sigma U+03C3 and final sigma U+03C2, the micro sign U+00B5 and mu U+03BC...),
which ``str.lower`` and ``str.upper`` do not give. ``re`` never sees more than one atom and
one character, so it has nothing to backtrack over.

Supported: literals, ``.``, ``[...]`` classes with ranges and negation, ``\\d \\w \\s`` and their
negations, ``\\t \\n \\r \\f \\v \\xhh \\uhhhh``, escaped punctuation, groups ``( )`` and ``(?: )``,
alternation ``|``, quantifiers ``* + ? {m} {m,} {m,n}`` with counts up to :data:`MAX_REPEAT`
(a trailing ``?`` is accepted and means nothing, since only "is there a match" is asked),
``^`` as the first character and ``$`` as the last. Refused: backreferences, lookaround, word
boundaries, inline flags, named groups, possessive quantifiers. Matching is a search
(anywhere in the value), like ``re.search``.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import Final, TypeAlias

from attrs import frozen

__all__ = [
    "MAX_INPUT_LENGTH",
    "MAX_MATCH_STEPS",
    "MAX_PATTERN_LENGTH",
    "MAX_REPEAT",
    "CompiledPattern",
    "PatternError",
    "compile_pattern",
]

MAX_PATTERN_LENGTH: Final = 256
"""Longest pattern accepted, in characters."""

MAX_REPEAT: Final = 100
"""Largest count a quantifier may give (``{100}``, ``{0,100}``); a larger one is refused."""

MAX_INPUT_LENGTH: Final = 10_000
"""Longest value a pattern is matched against; a longer value makes the condition unknown."""

MAX_MATCH_STEPS: Final = 25_000
"""Most work one match may take, in steps; a match that needs more is unknown.

A step is one test of a character (a character new to a DFA state is tested once against
each distinct atom that state can use) or one NFA state visited while building a DFA
transition (plus a fixed four per transition). Each distinct (state, character) pair and each
distinct transition a search takes is counted once, as if nothing were cached, so the outcome
never depends on earlier searches.

The budget is sized so that a counted repeat of one character atom (``.{100}``, ``\\w{90}``,
``[a-z]{0,100}``, with or without ``^`` and ``$``) always decides on a value of up to
:data:`MAX_INPUT_LENGTH` characters: such a pattern tests at most one atom per character
(10,000 steps) and its whole DFA, every transition built, costs at most 11,198 steps (a test
builds it). Ordinary patterns need a few hundred to a few thousand steps on 10,000 characters
of prose; what reaches the limit is a DFA that keeps growing with the input, such as
``(a|b)*a(a|b){99}x`` (a repeat that may start at many places at once). A step costs about
0.3 µs and a cached character about 0.1 µs, so one match takes at most about 10 ms.
"""

# The fixed cost of building one DFA transition, in steps (one step is one NFA state tested or
# visited): measured, the bookkeeping of a transition costs about as much as four states.
_TRANSITION_STEPS: Final = 4
_MAX_NFA_STATES: Final = 1_000
_MAX_CACHED: Final = 10_000

# A test of one character: anything true means the character is accepted (re's fullmatch
# gives a match or None).
_Test: TypeAlias = Callable[[str], object]


class PatternError(ValueError):
    """A pattern outside the supported subset.

    Attributes:
        position: 1-based index of the offending character in the pattern.
    """

    def __init__(self, message: str, position: int) -> None:
        """Create the error for the character at 1-based *position*."""
        super().__init__(f"{message} (at character {position})")
        self.reason = message
        self.position = position


@frozen
class _Set:
    # One character: a literal, ".", an escape or a class, as a test of one character (case
    # and negation already applied).
    test: _Test


@frozen
class _Cat:
    items: tuple[_Node, ...]


@frozen
class _Alt:
    branches: tuple[_Node, ...]


@frozen
class _Rep:
    body: _Node
    low: int
    high: int | None


_Node: TypeAlias = _Set | _Cat | _Alt | _Rep
_EMPTY: Final = _Cat(())
_MAX_GROUP_DEPTH: Final = 20

_CLASS_TESTS: Final[dict[str, _Test]] = {
    "d": str.isdecimal,
    "D": lambda ch: not ch.isdecimal(),
    "w": lambda ch: ch.isalnum() or ch == "_",
    "W": lambda ch: not (ch.isalnum() or ch == "_"),
    "s": str.isspace,
    "S": lambda ch: not ch.isspace(),
}
_CONTROL_ESCAPES: Final = {"t": "\t", "n": "\n", "r": "\r", "f": "\f", "v": "\v", "a": "\a"}
_HEX_ESCAPES: Final = {"x": 2, "u": 4, "U": 8}
_REFUSED_ESCAPES: Final = {
    "b": "word boundaries (\\b) are not supported",
    "B": "word boundaries (\\B) are not supported",
    "A": "use ^ at the start of the pattern instead of \\A",
    "Z": "use $ at the end of the pattern instead of \\Z",
    "z": "use $ at the end of the pattern instead of \\z",
}


class _Parser:
    def __init__(self, pattern: str, *, ignore_case: bool) -> None:
        self.src = pattern
        self.pos = 0
        self.anchored_start = False
        self.anchored_end = False
        self.top_alternatives = False
        self.ignore_case = ignore_case
        # One test per distinct literal: a character is classified once per distinct test.
        self.literals: dict[str, _Test] = {}

    def literal(self, ch: str) -> _Test:
        test = self.literals.get(ch)
        if test is None:
            test = self.literals[ch] = _caseless(_re_char(ch)) if self.ignore_case else ch.__eq__
        return test

    def error(self, message: str, at: int | None = None) -> PatternError:
        return PatternError(message, (self.pos if at is None else at) + 1)

    def peek(self) -> str:
        return self.src[self.pos] if self.pos < len(self.src) else ""

    def parse(self) -> _Node:
        src = self.src
        end = len(src)
        if src.startswith("^"):
            self.anchored_start = True
            self.pos = 1
        if src.endswith("$") and end > self.pos and not _escaped(src, end - 1):
            self.anchored_end = True
            end -= 1
        node = self.alternation(end, depth=0)
        if self.pos < end:
            raise self.error("unbalanced ')'")
        if self.top_alternatives and (self.anchored_start or self.anchored_end):
            raise self.error("put the alternatives in a group when anchoring: ^(a|b)$", 0)
        return node

    def alternation(self, end: int, depth: int) -> _Node:
        branches = [self.sequence(end, depth)]
        while self.pos < end and self.src[self.pos] == "|":
            self.pos += 1
            branches.append(self.sequence(end, depth))
        if len(branches) == 1:
            return branches[0]
        self.top_alternatives = self.top_alternatives or depth == 0
        return _Alt(tuple(branches))

    def sequence(self, end: int, depth: int) -> _Node:
        items: list[_Node] = []
        while self.pos < end and self.src[self.pos] not in "|)":
            start = self.pos
            atom = self.atom(end, depth)
            items.append(self.quantified(atom, start, end))
        return items[0] if len(items) == 1 else _Cat(tuple(items))

    def atom(self, end: int, depth: int) -> _Node:
        ch = self.src[self.pos]
        if ch == "(":
            return self.group(end, depth)
        if ch == "[":
            return self.char_class(end)
        if ch == ".":
            self.pos += 1
            return _Set(_not_newline)
        if ch == "\\":
            return _Set(self.escape(end))
        if ch in "*+?":
            raise self.error("nothing to repeat")
        if ch == "{" and _quantifier_end(self.src, self.pos, end) is not None:
            raise self.error("nothing to repeat")
        if ch == "{":
            raise self.error("write a literal '{' as \\{")
        if ch == "^":
            raise self.error("'^' is only allowed as the first character")
        if ch == "$":
            raise self.error("'$' is only allowed as the last character")
        self.pos += 1
        return _Set(self.literal(ch))

    def group(self, end: int, depth: int) -> _Node:
        open_at = self.pos
        if depth >= _MAX_GROUP_DEPTH:
            raise self.error(f"groups nest at most {_MAX_GROUP_DEPTH} deep")
        self.pos += 1
        if self.src.startswith("?", self.pos):
            if not self.src.startswith("?:", self.pos):
                raise self.error(
                    "only plain (...) and (?:...) groups are supported: no lookaround, "
                    "named groups, inline flags or backreferences",
                    open_at,
                )
            self.pos += 2
        inner = self.alternation(end, depth + 1)
        if self.pos >= end or self.src[self.pos] != ")":
            raise self.error("missing ')'", open_at)
        self.pos += 1
        return inner

    def quantified(self, atom: _Node, start: int, end: int) -> _Node:
        ch = self.peek() if self.pos < end else ""
        if ch in {"*", "+", "?"} and ch:
            self.pos += 1
            low, high = {"*": (0, None), "+": (1, None), "?": (0, 1)}[ch]
        elif ch == "{" and (close := _quantifier_end(self.src, self.pos, end)) is not None:
            low, high = self.counts(self.src[self.pos + 1 : close])
            self.pos = close + 1
        else:
            return atom
        if self.pos < end and self.src[self.pos] == "?":
            self.pos += 1  # lazy: the same yes/no answer as greedy
        following = self.src[self.pos] if self.pos < end else ""
        if following in {"*", "+", "?"} or (
            following == "{" and _quantifier_end(self.src, self.pos, end) is not None
        ):
            raise self.error("multiple repeat (possessive quantifiers are not supported)")
        if atom == _EMPTY:
            raise self.error("nothing to repeat", start)
        return _Rep(atom, low, high)

    def counts(self, body: str) -> tuple[int, int | None]:
        low_text, comma, high_text = body.partition(",")
        low = int(low_text) if low_text else 0
        high = (int(high_text) if high_text else None) if comma else low
        if low > MAX_REPEAT or (high is not None and high > MAX_REPEAT):
            raise self.error(f"repeat counts are limited to {MAX_REPEAT}")
        if high is not None and high < low:
            raise self.error("min repeat greater than max repeat")
        return low, high

    def escape(self, end: int) -> _Test:
        at = self.pos
        if self.pos + 1 >= end:
            raise self.error("bad escape at the end of the pattern")
        ch = self.src[self.pos + 1]
        self.pos += 2
        if ch in _CLASS_TESTS:
            # \d, \w, \s and their negations mean the same in either case, as in re.
            return _CLASS_TESTS[ch]
        return self.literal(self.escaped_char(ch, at, end, in_class=False))

    def escaped_char(self, ch: str, at: int, end: int, *, in_class: bool) -> str:
        if ch in _CONTROL_ESCAPES:
            return _CONTROL_ESCAPES[ch]
        if ch in _HEX_ESCAPES:
            width = _HEX_ESCAPES[ch]
            digits = self.src[self.pos : self.pos + width]
            if self.pos + width > end or not _is_hex(digits, width):
                raise self.error(f"\\{ch} needs {width} hexadecimal digits", at)
            self.pos += width
            code = int(digits, 16)
            if code > 0x10FFFF:  # noqa: PLR2004 - the last Unicode code point
                raise self.error("escape beyond the last Unicode code point", at)
            return chr(code)
        if ch in _REFUSED_ESCAPES and not in_class:
            raise self.error(_REFUSED_ESCAPES[ch], at)
        if ch.isdigit():
            raise self.error("backreferences and octal escapes are not supported", at)
        if ch.isascii() and ch.isalpha():
            raise self.error(f"unsupported escape \\{ch}", at)
        return ch

    def char_class(self, end: int) -> _Set:  # noqa: C901 - one loop over the class syntax
        open_at = self.pos
        self.pos += 1
        negate = self.pos < end and self.src[self.pos] == "^"
        if negate:
            self.pos += 1
        codes: list[str] = []
        ranges: list[tuple[str, str]] = []
        first = True
        while True:
            if self.pos >= end:
                raise self.error("missing ']'", open_at)
            ch = self.src[self.pos]
            if ch == "]" and not first:
                self.pos += 1
                break
            first = False
            if ch == "[":
                raise self.error("write a literal '[' inside a class as \\[")
            low = self.class_member(end, codes)
            if low is None:
                continue
            if self.src.startswith("-", self.pos) and self.pos + 1 < end:
                if self.src[self.pos + 1] == "]":
                    ranges.append((low, low))
                    continue
                self.pos += 1
                high = self.class_member(end, codes)
                if high is None:
                    raise self.error("bad character range", self.pos - 1)
                if high < low:
                    raise self.error(f"bad character range {low}-{high}", self.pos - 1)
                ranges.append((low, high))
            else:
                ranges.append((low, low))
        return _Set(_class_test(ranges, codes, negate=negate, ignore_case=self.ignore_case))

    def class_member(self, end: int, codes: list[str]) -> str | None:
        ch = self.src[self.pos]
        if ch != "\\":
            self.pos += 1
            return ch
        if self.pos + 1 >= end:
            raise self.error("bad escape at the end of the pattern")
        code = self.src[self.pos + 1]
        if code in _CLASS_TESTS:
            self.pos += 2
            codes.append(code)
            return None
        if code == "b":
            raise self.error("\\b inside a class is not supported")
        at = self.pos
        self.pos += 2
        return self.escaped_char(code, at, end, in_class=True)


def _escaped(src: str, index: int) -> bool:
    backslashes = 0
    while index - backslashes - 1 >= 0 and src[index - backslashes - 1] == "\\":
        backslashes += 1
    return backslashes % 2 == 1


def _is_hex(text: str, width: int) -> bool:
    return len(text) == width and all(c in "0123456789abcdefABCDEF" for c in text)


def _quantifier_end(src: str, start: int, end: int) -> int | None:
    # "{m}", "{m,}", "{,n}", "{m,n}" with digits only; anything else is not a quantifier.
    close = src.find("}", start, end)
    if close == -1:
        return None
    low, comma, high = src[start + 1 : close].partition(",")
    if not (low or high) or not all(
        part.isascii() and (part.isdigit() or not part) for part in (low, high)
    ):
        return None
    if not comma and not low:
        return None
    return close


def _never(_: str) -> bool:
    return False


def _not_newline(ch: str) -> bool:
    return ch != "\n"


def _re_char(ch: str) -> str:
    # Every character written as an escape: safe inside and outside a class.
    return f"\\U{ord(ch):08x}"


@functools.lru_cache(maxsize=4096)
def _caseless(source: str) -> _Test:
    # Under ignore-case, one character is tested by re itself, on a pattern of one literal or
    # one class: re's case pairs are not those of str.lower/str.upper (U+212A KELVIN SIGN and
    # "k", U+0131 DOTLESS I and "i", final and plain sigma...), and only re knows them exactly.
    # A one-character pattern on one character cannot backtrack.
    return re.compile(source, re.IGNORECASE).fullmatch


def _class_test(
    ranges: list[tuple[str, str]], codes: list[str], *, negate: bool, ignore_case: bool
) -> _Test:
    if ignore_case:
        members = "".join(
            _re_char(low) if low == high else f"{_re_char(low)}-{_re_char(high)}"
            for low, high in ranges
        )
        escapes = "".join("\\" + code for code in codes)
        return _caseless(f"[{'^' if negate else ''}{members}{escapes}]")
    singles = frozenset(low for low, high in ranges if low == high)
    spans = tuple((low, high) for low, high in ranges if low != high)
    tests = tuple(_CLASS_TESTS[code] for code in codes)

    def test(ch: str) -> bool:
        hit = ch in singles or any(low <= ch <= high for low, high in spans)
        return (hit or any(t(ch) for t in tests)) != negate

    return test


# NFA: parallel lists indexed by state number. A "char" state tests one character and goes
# to `out1`; a "split" state goes to both outs without consuming; "match" accepts.
_CHAR, _SPLIT, _MATCH = 0, 1, 2


class _Builder:
    def __init__(self) -> None:
        self.kind: list[int] = []
        self.test: list[_Test] = []
        self.out1: list[int] = []
        self.out2: list[int] = []

    def new(self, kind: int, test: _Test, out1: int = -1, out2: int = -1) -> int:
        if len(self.kind) >= _MAX_NFA_STATES:
            raise PatternError("the pattern is too complex (too many states)", 1)
        self.kind.append(kind)
        self.test.append(test)
        self.out1.append(out1)
        self.out2.append(out2)
        return len(self.kind) - 1

    def build(self, node: _Node, nxt: int) -> int:
        if isinstance(node, _Set):
            return self.new(_CHAR, node.test, nxt)
        if isinstance(node, _Cat):
            for item in reversed(node.items):
                nxt = self.build(item, nxt)
            return nxt
        if isinstance(node, _Alt):
            starts = [self.build(branch, nxt) for branch in node.branches]
            state = starts[-1]
            for start in reversed(starts[:-1]):
                state = self.new(_SPLIT, _never, start, state)
            return state
        return self.repeat(node.body, node.low, node.high, nxt)

    def repeat(self, body: _Node, low: int, high: int | None, nxt: int) -> int:
        if high is None:
            loop = self.new(_SPLIT, _never, -1, nxt)
            self.out1[loop] = self.build(body, loop)
            tail = loop
        else:
            tail = nxt
            for _ in range(high - low):
                tail = self.new(_SPLIT, _never, self.build(body, tail), nxt)
        for _ in range(low):
            tail = self.build(body, tail)
        return tail

    def alphabet(self) -> tuple[tuple[_Test, ...], list[int]]:
        # The distinct tests, and for each state the bit of its test (0 for split and match).
        # A repeat's copies share their atom's test, so ".{100}" has one test, not 100.
        tests: list[_Test] = []
        index: dict[int, int] = {}
        bits = [0] * len(self.kind)
        for state, kind in enumerate(self.kind):
            if kind == _CHAR:
                test = self.test[state]
                position = index.setdefault(id(test), len(tests))
                if position == len(tests):
                    tests.append(test)
                bits[state] = 1 << position
        return tuple(tests), bits


_Group: TypeAlias = tuple[int, _Test, tuple[int, ...]]


class _DState:
    __slots__ = ("accepts", "by_class", "dead", "groups", "next", "nfa", "steps")

    def __init__(self, nfa: frozenset[int], accepts: bool, groups: tuple[_Group, ...]) -> None:
        self.nfa = nfa
        self.accepts = accepts
        self.dead = not nfa
        # The char states grouped by test: (the test's bit, the test, the states they lead to).
        # A character is tested once per distinct test of this state, however many copies of
        # an atom a repeat made, and only against the tests this state can use.
        self.groups = groups
        # Transitions by character (the fast path) and by class, the bits of the tests the
        # character passed: a new character of a known class needs no transition built.
        self.next: dict[str, _DState] = {}
        self.by_class: dict[int, _DState] = {}
        # The steps each cached class transition took to build, charged by counted searches.
        self.steps: dict[int, int] = {}


class CompiledPattern:
    """A pattern ready to match, built once; :meth:`search` never backtracks.

    Attributes:
        pattern: The pattern as written.
        ignore_case: Whether letters match in either case (the case pairs of ``re``).
    """

    __slots__ = (
        "_anchored_end",
        "_anchored_start",
        "_bits",
        "_budget",
        "_kind",
        "_out1",
        "_out2",
        "_restart",
        "_start",
        "_start_state",
        "_states",
        "_tests",
        "_worst_steps",
        "ignore_case",
        "pattern",
    )

    def __init__(self, pattern: str, *, ignore_case: bool) -> None:
        """Parse and build *pattern*.

        Raises:
            PatternError: The pattern is empty, too long, or outside the supported subset.
        """
        if not pattern:
            raise PatternError("the pattern is empty", 1)
        if len(pattern) > MAX_PATTERN_LENGTH:
            raise PatternError(
                f"the pattern is longer than {MAX_PATTERN_LENGTH} characters",
                MAX_PATTERN_LENGTH + 1,
            )
        parser = _Parser(pattern, ignore_case=ignore_case)
        tree = parser.parse()
        builder = _Builder()
        match = builder.new(_MATCH, _never)
        self._start = builder.build(tree, match)
        self._kind = builder.kind
        self._out1 = builder.out1
        self._out2 = builder.out2
        tests, self._bits = builder.alphabet()
        self._tests = tests
        self._anchored_start = parser.anchored_start
        self._anchored_end = parser.anchored_end
        self.pattern = pattern
        self.ignore_case = ignore_case
        self._budget = _MAX_CACHED
        # The most steps one character can take: testing it (every distinct test), then
        # building its transition (every state visited).
        self._worst_steps = len(tests) + _TRANSITION_STEPS + len(builder.kind)
        self._states: dict[frozenset[int], _DState] = {}
        self._start_state = self._state(self._closure([self._start])[0], {})
        # Where a character that no state accepts leads: the start again (the search goes on
        # from the next position), or nowhere when the pattern is anchored at the start.
        self._restart = self._state(frozenset(), {}) if self._anchored_start else self._start_state

    def _closure(self, seeds: list[int]) -> tuple[frozenset[int], int]:
        # Every state reachable without consuming a character; only char and match states are
        # kept, since split states do nothing by themselves. Also returns the states visited,
        # the work done.
        seen: set[int] = set()
        stack = seeds
        kind, out1, out2 = self._kind, self._out1, self._out2
        while stack:
            state = stack.pop()
            if state in seen:
                continue
            seen.add(state)
            if kind[state] == _SPLIT:
                stack.append(out1[state])
                stack.append(out2[state])
        return frozenset(s for s in seen if kind[s] != _SPLIT), len(seen)

    def _state(self, nfa: frozenset[int], local: dict[frozenset[int], _DState] | None) -> _DState:
        # A counted search needs one object per state set (from the cache, or from its own
        # *local* table once the cache is full) to recognise a transition it already paid;
        # an uncounted one passes no *local*, as it keeps no account.
        state = self._states.get(nfa)
        if state is None and local is not None:
            state = local.get(nfa)
        if state is None:
            state = _DState(nfa, any(self._kind[s] == _MATCH for s in nfa), self._groups(nfa))
            if self._budget > 0:
                self._budget -= 1
                # setdefault: two threads building the same state end up sharing one object.
                state = self._states.setdefault(nfa, state)
            elif local is not None:
                local[nfa] = state
        return state

    def _groups(self, nfa: frozenset[int]) -> tuple[_Group, ...]:
        grouped: dict[int, list[int]] = {}
        for s in sorted(nfa):
            if self._kind[s] == _CHAR:
                grouped.setdefault(self._bits[s], []).append(self._out1[s])
        return tuple(
            (bit, self._tests[bit.bit_length() - 1], tuple(outs)) for bit, outs in grouped.items()
        )

    @staticmethod
    def _class(state: _DState, ch: str) -> int:
        # The bits of the tests of *state* that *ch* passes; one step per test.
        cls = 0
        for bit, test, _ in state.groups:
            if test(ch):
                cls |= bit
        return cls

    def _advance(
        self, state: _DState, cls: int, local: dict[frozenset[int], _DState] | None
    ) -> tuple[_DState, int]:
        seeds = [out for bit, _, outs in state.groups if bit & cls for out in outs]
        steps = _TRANSITION_STEPS
        if seeds:
            if not self._anchored_start:
                seeds.append(self._start)
            nfa, visited = self._closure(seeds)
            steps += visited
            nxt = self._state(nfa, local)
        else:
            # The usual case on text the pattern does not care about (each new character of
            # a long value): back to the start, whose closure is already known.
            nxt = self._restart
            nfa = nxt.nfa
        # Only a transition into a cached state is cached: one into a state held by this
        # search alone would hand that private object to other searches.
        if self._budget > 0 and self._states.get(nfa) is nxt:
            self._budget -= 1
            state.steps[cls] = steps
            state.by_class[cls] = nxt  # last: a thread that finds it also finds its steps
        return nxt, steps

    def _step(self, state: _DState, ch: str) -> _DState:
        # An uncounted step on a character without a cached transition from *state*.
        cls = self._class(state, ch)
        nxt = state.by_class.get(cls)
        if nxt is None:
            nxt = self._advance(state, cls, None)[0]
        if self._budget > 0 and self._states.get(nxt.nfa) is nxt:
            self._budget -= 1
            state.next[ch] = nxt
        return nxt

    def _paid_step(
        self,
        state: _DState,
        ch: str,
        paid: dict[tuple[_DState, int], _DState],
        local: dict[frozenset[int], _DState],
        spent: int,
    ) -> tuple[_DState, int]:
        # A counted step on a character new to *state* in this search: its tests, then the
        # transition of its class unless this search already paid for it.
        cls = self._class(state, ch)
        spent += len(state.groups)
        nxt = paid.get((state, cls))
        if nxt is None:
            cached = state.by_class.get(cls)
            if cached is None:
                nxt, steps = self._advance(state, cls, local)
            else:
                nxt, steps = cached, state.steps[cls]
            spent += steps
            paid[state, cls] = nxt
        return nxt, spent

    def search(self, text: str) -> bool | None:
        """Whether the pattern matches anywhere in *text*.

        ``None`` (unknown) when *text* is longer than :data:`MAX_INPUT_LENGTH`, or when the
        match would take more than :data:`MAX_MATCH_STEPS` steps. The step count is the work
        of classifying each distinct character and of building, from scratch, each distinct
        transition the search takes, whether or not an earlier search left it cached: so the
        outcome depends only on the pattern and the text, never on what ran before.
        """
        if len(text) > MAX_INPUT_LENGTH:
            return None
        # When even the costliest character at every position stays within the budget, no
        # count is needed (the usual case: a short value); otherwise count exactly.
        if len(text) * self._worst_steps <= MAX_MATCH_STEPS:
            return self._plain(text)
        return self._counted(text)

    def _plain(self, text: str) -> bool:
        state = self._start_state
        anchored_end = self._anchored_end
        if state.accepts and not anchored_end:
            return True
        last = len(text) - 1
        for index, ch in enumerate(text):
            # Like re, "$" also matches just before a final newline.
            if anchored_end and index == last and ch == "\n" and state.accepts:
                return True
            nxt = state.next.get(ch)
            state = self._step(state, ch) if nxt is None else nxt
            if state.dead:
                return False
            if state.accepts and not anchored_end:
                return True
        return state.accepts

    def _counted(self, text: str) -> bool | None:
        # The same walk as _plain, charging the tests of each distinct (state, character) and
        # the building of each distinct (state, class) transition once.
        state = self._start_state
        anchored_end = self._anchored_end
        if state.accepts and not anchored_end:
            return True
        seen: dict[tuple[_DState, str], _DState] = {}
        paid: dict[tuple[_DState, int], _DState] = {}
        local: dict[frozenset[int], _DState] = {}
        spent = 0
        last = len(text) - 1
        for index, ch in enumerate(text):
            if anchored_end and index == last and ch == "\n" and state.accepts:
                return True
            nxt = seen.get((state, ch))
            if nxt is None:
                nxt, spent = self._paid_step(state, ch, paid, local, spent)
                if spent > MAX_MATCH_STEPS:
                    return None
                seen[state, ch] = nxt
            state = nxt
            if state.dead:
                return False
            if state.accepts and not anchored_end:
                return True
        return state.accepts


def compile_pattern(pattern: str, *, ignore_case: bool) -> CompiledPattern:
    """Compile *pattern* (see the module docstring for the subset).

    Raises:
        PatternError: The pattern is empty, too long, too complex or outside the subset.
    """
    return CompiledPattern(pattern, ignore_case=ignore_case)
