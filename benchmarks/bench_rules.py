"""Microseconds per evaluation of a 10-rule set, trace included.

Run with ``.venv/bin/python benchmarks/bench_rules.py``. Each round evaluates the rule set on
a cycle of answers (rejected, accepted, suppressed, errored) many times; the median of the
rounds is printed, so that one slow round (a GC pass, another process) does not skew it.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

from purecallerid import PURECALLERID_FIELDS, RuleSet

RULES = """\
reject-bad-phone: reject when status = "Rejected" and reason in ("INACTIVE", "DNC", "TCPA_FLAG") because "Rejected: {reason}"
qa-suppressed: qa when status = "Accepted" and reason = "SUPPRESSED"
reject-invalid: reject when status = "Rejected" and reason = "INVALID" because "Invalid phone"
flag-low-activity: flag when activity_score < 40 because "Low activity ({activity_score})"
reject-litigator: reject when known_litigator is true or unknown
qa-voip: qa when line_type in ("voip") and not (carrier contains "verizon")
flag-prepaid: flag when extra.is_prepaid = true
flag-message: flag when message matches "^(inactive|disconnected)" and activity_score between 0 and 20
qa-test-lead: qa when lead.email does not contain "@" or lead.source is blank
flag-state: flag when lead.address.state in ("CA", "FL", "TX") case sensitive
"""  # noqa: E501 - one rule a line

ANSWERS: list[dict[str, Any] | None] = [
    {"status": "Rejected", "reason": "DNC", "message": "Do not call", "extra": {}},
    {
        "status": "Accepted",
        "reason": None,
        "message": "OK",
        "activity_score": 72,
        "known_litigator": False,
        "carrier": "Verizon Wireless",
        "line_type": "mobile",
        "extra": {"is_prepaid": False},
    },
    {"status": "Accepted", "reason": "SUPPRESSED", "activity_score": 12, "extra": {}},
    None,
]
LEAD = {"email": "ann@example.com", "source": "web", "address": {"state": "CA"}}

ROUNDS = 7
ITERATIONS = 20_000


def main() -> None:
    """Print the median microseconds per evaluation over several rounds."""
    rules = RuleSet.load(RULES, PURECALLERID_FIELDS)
    assert len(rules) == 10
    answers = ANSWERS * (ITERATIONS // len(ANSWERS))
    evaluate = rules.evaluate
    for answer in answers[:1000]:  # warm the pattern cache and the interpreter
        evaluate(answer, LEAD)
    per_eval: list[float] = []
    for _ in range(ROUNDS):
        start = time.perf_counter()
        for answer in answers:
            evaluate(answer, LEAD)
        per_eval.append((time.perf_counter() - start) / len(answers) * 1e6)
    median = statistics.median(per_eval)
    spread = f"min {min(per_eval):.1f}, max {max(per_eval):.1f}"
    print(
        f"rules: {median:.1f} µs per evaluation of 10 rules with trace ({spread}, {ROUNDS} rounds)"
    )


if __name__ == "__main__":
    main()
