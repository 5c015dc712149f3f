"""Test helpers for hosts: fake vendors, a simulator and the test number table.

Importable without pytest. :class:`FakePureCallerID` plugs into the clients in process;
:class:`Simulator` serves the same answers over real HTTP on a loopback port. Each vendor
preset has its test answers too: :class:`FakeVendor` in process, the simulator at
``{url}/presets/<name>``.

Test numbers: any valid area code, exchange 555, line 01NN (e.g. 212-555-0102).

======  ==============================================================================
line    answer
======  ==============================================================================
0101    Rejected, INACTIVE, "Inactive phone number"
0102    Rejected, DNC
0103    Rejected, TCPA_FLAG
0104    Rejected, INVALID
0105    Accepted, SUPPRESSED
0106    Accepted, with activity_score 12, carrier, line_type "voip",
        knownLitigatorCheck true, and one unknown key (``reassigned``)
0190    HTTP 500
0191    HTTP 429 with Retry-After: 1
0192    HTTP 200 with a body that is not JSON
0193    never answers in time (the fake raises a read timeout after the request was sent;
        the simulator holds the connection for ``hang_seconds``, then closes it)
0194    HTTP 503
0195    HTTP 401
other   Accepted, no reason
======  ==============================================================================

:class:`ScreenerHarness` is an :class:`~purecallerid.AsyncScreener` wired for a host's tests
(the fake vendor, memory store and settings, instant retries on a :class:`FakeClock`).

The pytest fixtures are opt-in: add ``pytest_plugins = ["purecallerid.testing.pytest_plugin"]``
to your ``conftest.py``.
"""

from ._fake import FakePureCallerID, ReceivedRequest
from ._fake_vendor import FakeVendor
from ._harness import DEMO_CAMPAIGN, FakeClock, ScreenerHarness
from ._simulator import Simulator
from ._testnumbers import (
    DEFAULT_ANSWER,
    TEST_NUMBERS,
    CannedAnswer,
    canned_answer_for,
    line_of_test_number,
)

__all__ = [
    "DEFAULT_ANSWER",
    "DEMO_CAMPAIGN",
    "TEST_NUMBERS",
    "CannedAnswer",
    "FakeClock",
    "FakePureCallerID",
    "FakeVendor",
    "ReceivedRequest",
    "ScreenerHarness",
    "Simulator",
    "canned_answer_for",
    "line_of_test_number",
]
