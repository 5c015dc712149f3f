"""Patterns: the safe subset, linear-time matching, and agreement with Python's re."""

from __future__ import annotations

import random
import re
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from purecallerid._rules import pattern as _rules_pattern
from purecallerid._rules.pattern import (
    MAX_INPUT_LENGTH,
    MAX_MATCH_STEPS,
    MAX_REPEAT,
    PatternError,
    compile_pattern,
)


def search(pattern: str, text: str, *, ignore_case: bool = False) -> bool | None:
    return compile_pattern(pattern, ignore_case=ignore_case).search(text)


@pytest.mark.parametrize(
    ("pattern", "text"),
    [
        ("(a+)+$", "a" * 9_999 + "b"),
        ("(a|aa)*$", "a" * 9_999 + "b"),
        (r"\d*\d*\d*x", "1" * 9_999),
        ("(.*)*,(.*)*,(.*)*;", "a," * 4_999),
        ("(a|b)*a(a|b){20}", "ab" * 4_999),
    ],
)
def test_evil_patterns_finish_fast(pattern: str, text: str) -> None:
    """Classic catastrophic-backtracking patterns run in linear time on long inputs."""
    compiled = compile_pattern(pattern, ignore_case=True)
    start = time.perf_counter()
    compiled.search(text)
    assert time.perf_counter() - start < 1.0


def test_evil_pattern_answer_is_right() -> None:
    """(a+)+$ does match a run of a's and does not match when a b ends it."""
    assert search("(a+)+$", "a" * 5_000) is True
    assert search("(a+)+$", "a" * 5_000 + "b") is False


def test_input_over_the_cap_is_unknown() -> None:
    """A value longer than the input cap is not matched at all."""
    assert search("a", "a" * (MAX_INPUT_LENGTH + 1)) is None


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        ("", "the pattern is empty"),
        ("a" * 257, "longer than 256"),
        (r"(a)\1", "backreferences"),
        ("(?=a)", "lookaround"),
        ("(?P<n>a)", "named groups"),
        ("(?i)a", "inline flags"),
        (r"\bword", "word boundaries"),
        (r"\Aa", "use ^"),
        ("a*+", "possessive"),
        ("a**", "multiple repeat"),
        ("*a", "nothing to repeat"),
        ("()*", "nothing to repeat"),
        ("a{", "literal '{'"),
        ("(a", "missing ')'"),
        ("a)", "unbalanced ')'"),
        ("[a", "missing ']'"),
        ("[z-a]", "bad character range"),
        ("a{3,1}", "min repeat greater"),
        ("a{101}", "limited to 100"),
        ("x^", "first character"),
        ("a$b", "last character"),
        ("^a|b", "put the alternatives in a group"),
        (r"\q", "unsupported escape"),
        (r"\x4", "hexadecimal"),
        ("(" * 21 + "a" + ")" * 21, "nest at most"),
        ("((a{100}){100})", "too complex"),
    ],
)
def test_unsupported_patterns_are_refused(pattern: str, message: str) -> None:
    """Whatever needs backtracking or is malformed is refused at compile time with a reason."""
    with pytest.raises(PatternError, match=re.escape(message)):
        compile_pattern(pattern, ignore_case=False)


def test_error_position_is_one_based() -> None:
    """PatternError.position points at the offending character."""
    with pytest.raises(PatternError) as info:
        compile_pattern("ab(c", ignore_case=False)
    assert info.value.position == 3


@pytest.mark.parametrize(
    ("pattern", "text", "expected"),
    [
        (r"^\d{3}-\d{4}$", "555-0100", True),
        (r"^\d{3}-\d{4}$", "555-01000", False),
        ("^(mobile|voip)$", "VOIP", True),
        (r"@example\.com$", "ann@example.com\n", True),
        ("[^a-c]x", "bx", False),
        (r"\u00e9t\xe9", "été", True),
        ("colou?r", "COLOR", True),
        ("a{2,}", "a", False),
        ("a{,2}b", "b", True),
        ("[]a]", "]", True),
        ("[a-]", "-", True),
        (r"[\d\s]", "x 1", True),
        (r"\.", "x", False),
    ],
)
def test_supported_syntax(pattern: str, text: str, expected: bool) -> None:
    """The subset's features behave like re (case ignored here)."""
    assert search(pattern, text, ignore_case=True) is expected


_ATOMS = st.sampled_from(
    ["a", "b", "A", ".", "[ab]", "[^a]", "[a-b]", r"\d", r"\w", r"\s", r"\W", "1", " "]
)
_QUANTIFIERS = st.sampled_from(["*", "+", "?", "{2}", "{1,3}", "{0,}", "{,2}", "*?", "+?"])


def _grow(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.tuples(children, children).map("".join),
        st.tuples(children, children).map(lambda t: f"({t[0]}|{t[1]})"),
        st.tuples(children, _QUANTIFIERS).map(lambda t: f"(?:{t[0]}){t[1]}"),
    )


_PATTERNS = st.tuples(
    st.sampled_from(["", "^"]),
    st.recursive(_ATOMS, _grow, max_leaves=8),
    st.sampled_from(["", "$"]),
).map("".join)


@given(
    pattern=_PATTERNS, text=st.text(alphabet="abAB1 _\n", max_size=16), ignore_case=st.booleans()
)
def test_agrees_with_python_re(pattern: str, text: str, ignore_case: bool) -> None:
    """On the supported subset, the matcher answers exactly what re.search answers."""
    expected = re.search(pattern, text, re.IGNORECASE if ignore_case else 0) is not None
    assert search(pattern, text, ignore_case=ignore_case) is expected


@given(pattern=st.text(max_size=40))
def test_any_text_compiles_or_is_refused(pattern: str) -> None:
    """Any pattern text either compiles or raises PatternError, nothing else."""
    try:
        compiled = compile_pattern(pattern, ignore_case=True)
    except PatternError as exc:
        position = exc.position
    else:
        assert compiled.search(pattern) in {True, False}
        return
    assert 1 <= position <= len(pattern) + 1


# A pattern whose DFA keeps growing: every position may start the "a" 100 characters before
# the end, so each new character of a random a/b text is a new set of NFA states.
_GROWING = "(a|b)*a(a|b){99}x"
_RANDOM_AB = "".join(random.Random(1).choices("ab", k=9_999))  # noqa: S311 - test data


def _steps_needed(pattern: str, text: str) -> int:
    """The smallest step budget, up to the real one, under which the search gives an answer."""
    low, high = 0, MAX_MATCH_STEPS + 1
    while low < high:
        middle = (low + high) // 2
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(_rules_pattern, "MAX_MATCH_STEPS", middle)
            known = compile_pattern(pattern, ignore_case=True).search(text) is not None
        if known:
            high = middle
        else:
            low = middle + 1
    return low


def test_a_match_over_the_step_budget_is_unknown() -> None:
    """The slowest safe pattern on 10,000 characters stops at the budget: unknown."""
    compiled = compile_pattern(_GROWING, ignore_case=True)
    assert compiled.search(_RANDOM_AB) is None
    # Without the budget this search takes 2.6 million steps (0.6 s). Values that do not
    # make the DFA grow are answered as before.
    assert compiled.search("b" * 5_000 + "x") is False
    assert compiled.search("a" + "b" * 99 + "x") is True


def test_the_budgeted_worst_case_is_fast() -> None:
    """The worst case now ends within the budget: loosely, well under 50 ms (about 3 ms)."""
    compiled = compile_pattern(_GROWING, ignore_case=True)
    timings = []
    for _ in range(3):
        start = time.perf_counter()
        compiled.search(_RANDOM_AB)
        timings.append(time.perf_counter() - start)
    assert min(timings) < 0.05


def test_the_outcome_does_not_depend_on_the_cache() -> None:
    """A warm DFA cache gives the same answer as a cold one: each transition is charged once."""
    text = _RANDOM_AB[:3_000] + "x"
    cold = compile_pattern(_GROWING, ignore_case=True)
    warm = compile_pattern(_GROWING, ignore_case=True)
    for _ in range(5):
        # Each search leaves the transitions it built in the cache; were only uncached work
        # counted, a later search would get further and answer.
        warm.search(text)
    assert cold.search(text) is None
    assert warm.search(text) is None
    assert _steps_needed(_GROWING, text) > MAX_MATCH_STEPS
    below = "a" + "ab" * 20 + "x"  # a few thousand steps: known, cold or warm
    assert compile_pattern(_GROWING, ignore_case=True).search(below) is False
    assert warm.search(below) is False


@pytest.mark.parametrize(
    "pattern",
    [
        "inactive",
        r"\d{3}-\d{4}",
        "^(inactive|disconnected)",
        r"\w+@\w+\.(com|net)$",
        r"[a-z ]{1,100}\d",
        r"(\w+\s){1,10}zz",
        "a.{50}q",
    ],
)
def test_ordinary_patterns_stay_well_within_the_budget(pattern: str) -> None:
    """Usual patterns on 10,000 characters of prose need a fraction of the budget."""
    prose = ("The quick brown fox jumps over the lazy dog, call 512-789-1111! " * 160)[:10_000]
    assert compile_pattern(pattern, ignore_case=True).search(prose) is not None
    assert _steps_needed(pattern, prose) < MAX_MATCH_STEPS // 5


def test_short_values_are_never_counted() -> None:
    """A value short enough that even the costliest steps fit the budget skips the count."""
    compiled = compile_pattern("(mobile|voip)", ignore_case=True)
    assert len("mobile phone") * compiled._worst_steps <= MAX_MATCH_STEPS
    assert compiled.search("mobile phone") is True


# -- case pairs ------------------------------------------------------------------------------


def _case_groups() -> list[list[str]]:
    """Every BMP character with a case partner, grouped by case: the pairs re may equate.

    Characters are joined to the first character of their lower, upper, case-folded and title
    forms (the first only: re's one-character case mapping of "İ" is "i", its lower "i̇" has
    two); every pair re calls equal under IGNORECASE lies within one group.
    """
    parent: dict[str, str] = {}

    def find(ch: str) -> str:
        while parent.get(ch, ch) != ch:
            ch = parent[ch]
        return ch

    bmp = [chr(code) for code in range(0x10000) if not 0xD800 <= code <= 0xDFFF]
    for ch in bmp:
        for mapped in (ch.lower(), ch.upper(), ch.casefold(), ch.title()):
            if mapped and mapped[0] != ch and ord(mapped[0]) < 0x10000:
                a, b = find(ch), find(mapped[0])
                if a != b:
                    parent[a] = b
    groups: dict[str, list[str]] = {}
    for ch in bmp:
        groups.setdefault(find(ch), []).append(ch)
    return [group for group in groups.values() if len(group) > 1]


def test_every_bmp_case_pair_agrees_with_re() -> None:
    """Ignoring case, a literal, a class and a negated class of each cased BMP character
    accept exactly the characters re accepts, over every pair of case partners (3,076 pairs:
    the Kelvin sign and k, long s and s, final sigma, micro sign and mu, dotless i...)."""
    groups = _case_groups()
    pairs = [(a, b) for group in groups for a in group for b in group if a != b]
    assert len(pairs) > 3_000
    disagreements = []
    for a, b in pairs:
        escaped = f"\\u{ord(a):04x}"
        for pattern in (escaped, f"[{escaped}]", f"[^{escaped}]", f"[{escaped}-{escaped}]"):
            expected = re.search(pattern, b, re.IGNORECASE) is not None
            if search(pattern, b, ignore_case=True) is not expected:
                disagreements.append((pattern, b))
    assert disagreements == []


@pytest.mark.parametrize(
    ("pattern", "text"),
    [
        ("k", "\u212a"),  # KELVIN SIGN
        ("\u212a", "K"),
        ("s", "\u017f"),  # LATIN SMALL LETTER LONG S
        ("[a-z]+", "\u017f\u212a"),
        ("\u03c3", "\u03c2"),  # sigma, final sigma
        ("\u00b5", "\u03bc"),  # MICRO SIGN, GREEK SMALL LETTER MU
        ("\u00b5", "\u039c"),
        ("i", "\u0130"),  # LATIN CAPITAL LETTER I WITH DOT ABOVE
        ("i", "\u0131"),  # LATIN SMALL LETTER DOTLESS I
        ("\u00df", "\u1e9e"),  # sharp s, capital sharp s
    ],
)
def test_unicode_case_partners_match_like_re(pattern: str, text: str) -> None:
    """The case pairs that str.lower/str.upper miss match, as they do in re."""
    assert re.search(pattern, text, re.IGNORECASE) is not None
    assert search(pattern, text, ignore_case=True) is True
    if len(pattern) == 1:
        assert search(f"[^{pattern}]", text, ignore_case=True) is False


_CASED = (
    "kK\u212a sS\u017f \u03c3\u03c2\u03a3 \u00b5\u03bc\u039c iI\u0130\u0131 \u00df\u1e9e "
    "\u01c4\u01c5\u01c6"
).replace(" ", "")
_CASED_ATOMS = st.one_of(
    st.sampled_from(list(_CASED)),
    st.sampled_from(list(_CASED)).map(lambda ch: f"[{ch}]"),
    st.sampled_from(list(_CASED)).map(lambda ch: f"[^{ch}]"),
    st.tuples(st.sampled_from(list(_CASED)), st.sampled_from(list(_CASED)))
    .map(sorted)
    .map(lambda pair: f"[{pair[0]}-{pair[1]}]"),
    st.sampled_from(["[a-z]", "[A-Z]", "[^a-z]", r"[\w]", r"[a\W]", "[\u0370-\u03ff]", "."]),
)


@given(
    pattern=st.recursive(_CASED_ATOMS, _grow, max_leaves=6),
    text=st.text(alphabet=_CASED + "az1 ", max_size=12),
    ignore_case=st.booleans(),
)
def test_agrees_with_python_re_on_unicode_case(pattern: str, text: str, ignore_case: bool) -> None:
    """On text made of Unicode case partners, the matcher answers exactly what re.search does."""
    expected = re.search(pattern, text, re.IGNORECASE if ignore_case else 0) is not None
    assert search(pattern, text, ignore_case=ignore_case) is expected


# -- counted repeats -------------------------------------------------------------------------


@pytest.mark.parametrize("pattern", [".{100}", r"\w{90}", "[a-z]{100}", "[a-z]{100}$"])
def test_counted_repeats_decide_on_a_short_value(pattern: str) -> None:
    """The largest counted repeats match a 110-character value (they came out unknown)."""
    assert search(pattern, "a" * 110, ignore_case=True) is True
    assert search(pattern, "a" * 110, ignore_case=False) is True
    assert search(pattern, "a" * 50, ignore_case=True) is False


_DISTINCT = "".join(chr(0x4E00 + i) for i in range(MAX_INPUT_LENGTH))  # CJK: all \w


def _runs(letters: str, separator: str) -> str:
    """Runs of 1, 2, ... 99 letters, each ended by the separator, up to the input cap."""
    chunks: list[str] = []
    size = 0
    length = 1
    while size < MAX_INPUT_LENGTH:
        chunk = (letters * 100)[:length] + separator
        chunks.append(chunk)
        size += len(chunk)
        length = length % 99 + 1
    return "".join(chunks)[:MAX_INPUT_LENGTH]


_HARD_VALUES = {
    "distinct": _DISTINCT,
    "distinct runs": "".join(ch if i % 100 else "\n" for i, ch in enumerate(_DISTINCT)),
    "letter runs": _runs("abcdefghij", " "),
    "line runs": _runs("abcdefghij", "\n"),
    "prose": ("The quick brown fox jumps over the lazy dog, call 512-789-1111! " * 160)[
        :MAX_INPUT_LENGTH
    ],
}


@pytest.mark.parametrize("value", _HARD_VALUES.values(), ids=list(_HARD_VALUES))
@pytest.mark.parametrize(
    "pattern",
    [
        ".{100}",
        ".{100}$",
        r"\w{90}",
        r"\w{90}$",
        "[a-z]{100}",
        "[a-z]{1,100}$",
        r"^\w{0,100}$",
        r"[^\n]{100,}$",
    ],
)
def test_counted_repeats_decide_on_values_up_to_the_cap(pattern: str, value: str) -> None:
    """A counted repeat of one atom, up to the largest count, decides on any value up to
    MAX_INPUT_LENGTH characters: never unknown for lack of budget, and as re answers."""
    for ignore_case in (True, False):
        expected = re.search(pattern, value, re.IGNORECASE if ignore_case else 0) is not None
        assert search(pattern, value, ignore_case=ignore_case) is expected


def _whole_dfa_steps(pattern: str, *, ignore_case: bool) -> tuple[int, int]:
    """The steps of building every transition of the pattern's DFA, and its most tests a state.

    Every DFA state is reached with every combination of its tests' answers, each transition
    built once: no search on any value can build more than this.
    """
    compiled = compile_pattern(pattern, ignore_case=ignore_case)
    start = compiled._start_state
    seen = {start.nfa}
    todo = [start]
    total = most_tests = 0
    while todo:
        state = todo.pop()
        if state.dead or (state.accepts and not compiled._anchored_end):
            continue  # the search ends here
        most_tests = max(most_tests, len(state.groups))
        classes = {0}
        for bit, _, _ in state.groups:
            classes |= {cls | bit for cls in classes}
        for cls in classes:
            nxt, steps = compiled._advance(state, cls, {})
            total += steps
            if nxt.nfa not in seen:
                seen.add(nxt.nfa)
                todo.append(nxt)
    return total, most_tests


@pytest.mark.parametrize("atom", [".", r"\w", r"\d", "[a-z]", "[^a-c]", "x", "\u00e9"])
@pytest.mark.parametrize("anchors", ["{}", "^{}", "{}$", "^{}$"])
@pytest.mark.parametrize(
    "counts", ["{100}", "{0,100}", "{1,100}", "{50,100}", "{99,100}", "{100,}", "{,100}", "{0,}"]
)
def test_one_counted_atom_always_fits_the_budget(atom: str, anchors: str, counts: str) -> None:
    """The budget covers a counted repeat of one atom on any value up to the input cap: one
    test per character (MAX_INPUT_LENGTH steps) plus its whole DFA (at most 11,198 steps)."""
    pattern = anchors.format(atom + counts)
    for ignore_case in (True, False):
        whole, most_tests = _whole_dfa_steps(pattern, ignore_case=ignore_case)
        assert most_tests <= 1
        assert whole <= 11_198
        assert MAX_INPUT_LENGTH * most_tests + whole <= MAX_MATCH_STEPS


def test_the_largest_count_is_the_parsers() -> None:
    """Counts up to MAX_REPEAT are accepted, one more is refused."""
    compile_pattern(f"a{{{MAX_REPEAT}}}", ignore_case=True)
    compile_pattern(f"a{{0,{MAX_REPEAT}}}", ignore_case=True)
    with pytest.raises(PatternError, match=f"limited to {MAX_REPEAT}"):
        compile_pattern(f"a{{{MAX_REPEAT + 1}}}", ignore_case=True)
