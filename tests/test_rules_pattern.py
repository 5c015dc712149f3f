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
    assert _steps_needed(pattern, prose) < MAX_MATCH_STEPS // 2


def test_short_values_are_never_counted() -> None:
    """A value short enough that even the costliest steps fit the budget skips the count."""
    compiled = compile_pattern("(mobile|voip)", ignore_case=True)
    assert len("mobile phone") * compiled._worst_steps <= MAX_MATCH_STEPS
    assert compiled.search("mobile phone") is True
