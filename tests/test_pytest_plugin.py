"""The opt-in pytest plugin's fixtures."""

from __future__ import annotations

from _helpers import request_for
from purecallerid import PureCallerIDClient
from purecallerid.testing import FakePureCallerID

pytest_plugins = ["purecallerid.testing.pytest_plugin"]


def test_fixtures_are_wired(
    purecallerid_fake: FakePureCallerID, purecallerid_client: PureCallerIDClient
) -> None:
    """The client fixture talks to the fake fixture."""
    response = purecallerid_client.screen(request_for("2125550103"))
    assert response.reason == "TCPA_FLAG"
    purecallerid_fake.assert_called(1)
