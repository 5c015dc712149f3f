"""How long mapping one lead takes: the cost paid before every vendor call.

Run with ``.venv/bin/python benchmarks/bench_mapping.py [--iterations N] [--rounds R]``.
Prints microseconds per lead (median of the rounds) for the default mapping, for a valid lead
and for a lead that fails with every problem at once. The vendor call this precedes takes
hundreds of milliseconds, so mapping should stay in the tens of microseconds.
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

from purecallerid import DEFAULT_FIELD_MAPPING, Lead, MappingError, map_request

VALID = Lead(
    lead_id="L-1",
    campaign_id="camp",
    fields={
        "FirstName": "  Jane ",
        "LastName": "Doe",
        "Phone": "(512) 789-1111 x44",
        "Email": "jane@example.com",
        "Address": "1 Main St",
        "City": "Boston",
        "State": "ma",
        "Zip": "02134-1234",
        "lead_source": "web",
        "ip_address": "203.0.113.9",
    },
)
INVALID = Lead(
    lead_id="L-2",
    campaign_id="camp",
    fields={"phone": "n/a", "zip": 2134, "first_name": ["Jane"], "email": "jane@example.com"},
)


def _map_valid() -> Any:
    return map_request(DEFAULT_FIELD_MAPPING, VALID, campaign_id="C-1", list_name="Main")


def _map_invalid() -> Any:
    try:
        map_request(DEFAULT_FIELD_MAPPING, INVALID, campaign_id="C-1", list_name="Main")
    except MappingError as error:
        return error
    raise AssertionError("the invalid lead mapped")


def measure(func: Any, iterations: int, rounds: int) -> float:
    """Median microseconds per call of *func* over *rounds* rounds of *iterations* calls."""
    func()  # warm up: first calls load libphonenumber's metadata
    per_call = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(iterations):
            func()
        per_call.append((time.perf_counter() - start) / iterations * 1e6)
    return statistics.median(per_call)


def main() -> None:
    """Print µs per lead mapped."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    for name, func in (("valid lead", _map_valid), ("invalid lead (3 problems)", _map_invalid)):
        micros = measure(func, args.iterations, args.rounds)
        print(f"map_request, default mapping, {name}: {micros:.1f} µs per lead")


if __name__ == "__main__":
    main()
