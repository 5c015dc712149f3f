"""The one failure table: error class names and "may the vendor have processed the lead"."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import purecallerid
from purecallerid import (
    APIError,
    APIStatusError,
    Attempt,
    AttemptOutcome,
    ErrorClass,
    Exchange,
    IntegrationStatus,
    PureCallerIDError,
    RequestRecord,
    ServerError,
    error_class,
    failure_table,
)
from purecallerid._errors import status_error_class
from purecallerid.testing import CannedAnswer, FakePureCallerID
from test_screening_purecallerid import lead, pcid_settings, screen_leads

DOCS = Path(__file__).parent.parent / "docs"


def _record_after(*answers: CannedAnswer) -> purecallerid.IntegrationRecord:
    fake = FakePureCallerID(api_token="pcid-token-123456")
    fake.fail_next(*answers)
    (record,), _ = screen_leads([pcid_settings()], lead("2125550000"), fake=fake)
    pcid = record.integration("pcid")
    assert pcid.status is IntegrationStatus.ERROR
    return pcid


@pytest.mark.parametrize(
    ("answers", "error_class_name", "unknown"),
    [
        ((CannedAnswer.status(503),) * 3, "server_error", False),
        ((CannedAnswer.status(503),) * 5, "server_error", False),
        ((CannedAnswer.status(429, retry_after="0"),) * 3, "rate_limited", False),
        ((CannedAnswer.status(400),), "client_error", False),
        ((CannedAnswer.status(401),), "auth_failed", False),
        ((CannedAnswer.status(403),), "auth_failed", False),
        ((CannedAnswer.status(404),), "client_error", False),
        ((CannedAnswer.connect_error(),) * 3, "connection", False),
        ((CannedAnswer.status(500),), "server_error", True),
        ((CannedAnswer.status(502),), "server_error", True),
        ((CannedAnswer.timeout(),), "timeout", True),
        # One attempt that may have been processed makes the whole call "possibly billed".
        ((CannedAnswer.status(503), CannedAnswer.status(500)), "server_error", True),
        ((CannedAnswer.connect_error(), CannedAnswer.timeout()), "timeout", True),
    ],
)
def test_a_record_says_whether_the_vendor_may_have_processed_the_lead(
    answers: tuple[CannedAnswer, ...], error_class_name: str, unknown: bool
) -> None:
    """503s, 429s, 4xx and refused connections were not processed; 500s and read timeouts may be."""
    record = _record_after(*answers)
    assert record.error_class == error_class_name
    assert record.outcome_unknown is unknown


def test_every_library_error_names_its_class_from_the_table() -> None:
    """error_class() reads the class attribute; every row's name is an ErrorClass member."""
    for cls, name, unknown in failure_table():
        assert cls.error_class is name
        assert isinstance(name, ErrorClass)
        assert unknown in {True, False, None}
    assert error_class(TimeoutError()) is ErrorClass.TIMEOUT
    assert error_class(KeyError("x")) is ErrorClass.ERROR


def test_the_table_covers_every_exported_error() -> None:
    """Each exception class the package exports is a row of the table."""
    exported = {
        value
        for value in (getattr(purecallerid, name) for name in purecallerid.__all__)
        if isinstance(value, type) and issubclass(value, PureCallerIDError)
    }
    assert exported == {row[0] for row in failure_table()}


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 422, 429, 500, 502, 503, 504])
def test_a_status_error_without_attempts_reads_its_status(status: int) -> None:
    """Built by hand (a host's integration), a status error judges by its own status."""
    error = status_error_class(status)("x", status_code=status, body="")
    assert error.outcome_unknown is (status >= 500 and status != 503)


_OUTCOMES = st.sampled_from([*AttemptOutcome, "something_new"])
_STATUSES = st.sampled_from([None, 200, 400, 401, 404, 429, 500, 502, 503, 504])


@given(st.lists(st.tuples(_OUTCOMES, _STATUSES), min_size=1, max_size=6))
def test_outcome_unknown_is_true_exactly_when_one_attempt_may_have_been_processed(
    attempts: list[tuple[str, int | None]],
) -> None:
    """For any attempts, the error's outcome_unknown is "any attempt may have been processed"."""
    exchange = Exchange(
        dialect="leadexec",
        request=RequestRecord(method="POST", url="https://x.test/"),
        attempts=tuple(
            Attempt(
                number=n,
                started_at=datetime(2026, 1, 1, tzinfo=UTC),
                duration=0.1,
                outcome=outcome,
                status_code=status if outcome == "answered" else None,
            )
            for n, (outcome, status) in enumerate(attempts, 1)
        ),
    )
    expected = False
    for outcome, status in attempts:
        if outcome == "answered":
            expected |= status is None or not (400 <= status < 500 or status == 503)
        else:
            expected |= outcome not in {
                "connect_error",
                "connect_timeout",
                "pool_timeout",
                "local_protocol_error",
            }
    error = ServerError("x", status_code=500, body="", exchange=exchange)
    assert error.outcome_unknown is expected
    assert APIError("x", exchange=exchange).outcome_unknown is expected
    assert isinstance(error, APIStatusError)


def _table_rows(page: str, heading: str) -> list[list[str]]:
    text = (DOCS / page).read_text()
    section = text.split(heading, 1)[1]
    rows = []
    for line in section.splitlines()[1:]:
        if line.startswith("|"):
            if not line.startswith("|---"):
                rows.append([cell.strip() for cell in line.strip("|").split("|")])
        elif rows:  # the first table of the section ends here
            break
    return rows[1:]


def test_failure_policies_page_lists_exactly_the_error_classes() -> None:
    """docs/failure-policies.md names every ErrorClass, and no other."""
    named = {
        cell.strip("`")
        for row in _table_rows("failure-policies.md", "## What counts as a failure")
        for cell in row[2:3]
        if cell
    }
    assert named == {member.value for member in ErrorClass}


def test_errors_page_agrees_with_the_table() -> None:
    """docs/errors.md's failure table gives each class the name and outcome the code gives."""
    rows = _table_rows("errors.md", "## The failure table")
    documented = {row[0].strip("`"): (row[1].strip("`"), row[2]) for row in rows}
    expected = {
        cls.__name__: (
            str(name),
            {True: "yes", False: "no", None: "not"}[unknown],
        )
        for cls, name, unknown in failure_table()
    }
    # A row may qualify its outcome ("no, unless ..."): its first word is the table's value.
    assert {k: (v[0], re.split(r"[ ,;(]", v[1])[0]) for k, v in documented.items()} == expected


def _tree_names(text: str) -> set[str]:
    tree = text.split("PureCallerIDError\n", 1)[1].split("\n\n", 1)[0]
    return {"PureCallerIDError", *re.findall(r"[─└├]── (\w+)", tree)}


def test_error_trees_name_exactly_the_table() -> None:
    """The class trees in the errors module and on docs/errors.md name every row, and no other."""
    import purecallerid._errors as errors_module  # noqa: PLC0415 - its docstring is the subject

    names = {cls.__name__ for cls, _, _ in failure_table()}
    assert _tree_names(errors_module.__doc__ or "") == names
    assert _tree_names((DOCS / "errors.md").read_text()) == names


def _all_tables(page: str, heading: str) -> list[list[list[str]]]:
    section = (DOCS / page).read_text().split(heading, 1)[1].split("\n## ", 1)[0]
    tables: list[list[list[str]]] = []
    current: list[list[str]] = []
    for line in [*section.splitlines(), ""]:
        if line.startswith("|"):
            if not line.startswith("|---"):
                current.append([cell.strip() for cell in line.strip("|").split("|")])
        elif current:
            tables.append(current[1:])
            current = []
    return tables


def test_per_attempt_table_agrees_with_the_code() -> None:
    """Each attempt outcome and status on docs/errors.md reads as the table's functions say."""
    from purecallerid._errors import status_may_have_been_processed  # noqa: PLC0415

    rows = _all_tables("errors.md", "## The failure table")[1]
    outcomes_seen: set[str] = set()
    for what, verdict in rows:
        expected = verdict.startswith("yes")
        outcomes = re.findall(r"`(\w+)`", what)
        for outcome in outcomes:
            assert AttemptOutcome(outcome).sent is expected, outcome
            outcomes_seen.add(outcome)
        if not outcomes:
            for code in (int(c) for c in re.findall(r"\b[1-5]\d\d\b", what)):
                assert status_may_have_been_processed(code) is expected, code
    assert outcomes_seen == {o.value for o in AttemptOutcome} - {"answered"}
