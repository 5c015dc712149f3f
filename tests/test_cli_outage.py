"""``purecallerid screen`` against a vendor that fails for every lead: stop, say why, re-screen.

Issue 19's acceptance: 500 rows against a closed port and 200 with a wrong token stop after the
configured number of failures, exit non-zero and print what to check; once the endpoint is
fixed, ``--rescreen-failures`` screens exactly the leads the outage decided (the simulator
counts the calls).
"""

from __future__ import annotations

import asyncio
import csv
import json
import socket
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import attrs
import pytest

from purecallerid import (
    Action,
    Attempt,
    IntegrationRecord,
    IntegrationStatus,
    ScreeningRecord,
    SQLiteResultStore,
)
from purecallerid._cli.common import load_settings_file
from purecallerid._cli.outage import OutageWatch, vendor_wide_failure
from purecallerid._cli.plan import is_local, plan_lines
from purecallerid._cli.summary import Tally
from purecallerid.cli import main
from purecallerid.testing import Simulator
from purecallerid.typing import RecordQuery

TOKEN = "tok-OUTAGE-SECRET-41"
NOW = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)


@pytest.fixture(autouse=True)
def wide_output(monkeypatch: pytest.MonkeyPatch) -> None:
    """Messages are checked by content: give them room whatever the caller's terminal."""
    monkeypatch.setenv("COLUMNS", "300")


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def write_leads(path: Path, rows: int, start: int = 0) -> Path:
    """Distinct valid numbers, every 10th the DNC test number."""
    with path.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["lead_id", "phone", "zip"])
        for n in range(start, rows):
            phone = "212-555-0102" if n % 10 == 0 else f"212-300-{n:04d}"
            writer.writerow([f"L{n:04d}", phone, "10001"])
    return path


def write_settings(folder: Path, base_url: str, token: str = TOKEN) -> Path:
    path = folder / "settings.toml"
    path.write_text(
        f"""
[campaigns.bulk]
[[campaigns.bulk.integrations]]
id = "pcid"
kind = "purecallerid"
base_url = "{base_url}"
timeout = 3
credentials = {{ api_token = "{token}", campaign_id = "C1", list_name = "Main" }}
rules = ['dnc: reject when status = "Rejected" and reason = "DNC"']
"""
    )
    return path


def argv(folder: Path, *extra: str, leads: str = "leads.csv") -> list[str]:
    return [
        "screen",
        str(folder / leads),
        "--settings",
        str(folder / "settings.toml"),
        "--campaign",
        "bulk",
        "--out",
        str(folder / "out.csv"),
        "--no-progress",
        *extra,
    ]


def histories(folder: Path) -> dict[str, list[ScreeningRecord]]:
    """Every lead's versions, oldest first."""
    store = SQLiteResultStore(folder / "out.records.db")
    try:
        every = asyncio.run(store.find(RecordQuery(latest_only=False)))
    finally:
        store.close()
    found: dict[str, list[ScreeningRecord]] = {}
    for one in sorted(every, key=lambda r: r.version):
        found.setdefault(one.lead_id, []).append(one)
    return found


def failed_leads(folder: Path) -> set[str]:
    """The leads whose latest record a failure policy decided."""
    return {
        lead
        for lead, versions in histories(folder).items()
        if (versions[-1].decided_by or "").endswith(":failure_policy")
    }


def test_closed_port_stops_then_rescreen_failures_screens_exactly_the_outage(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """500 rows, nothing listening: stop after 20, exit 3, say what to check; then recover."""
    write_leads(tmp_path / "leads.csv", 500)
    url = f"http://127.0.0.1:{closed_port()}"
    write_settings(tmp_path, url)
    summary = tmp_path / "summary.json"
    code = main([*argv(tmp_path, "--concurrency", "16"), "--summary-json", str(summary)])
    err = capsys.readouterr().err
    assert code == 3, err
    assert f"pcid (purecallerid): {url} (local, not the vendor)" in err  # the plan, first
    assert "at most 500 vendor calls" in err
    assert (
        f"error: stopped: 20 leads in a row failed at pcid (purecallerid): the vendor was "
        f"never reached at {url}"
    ) in err
    assert "check: the base_url of integration pcid" in err
    assert "--rescreen-failures" in err
    assert not (tmp_path / "out.csv").exists()  # no partial output passed off as whole
    outage = failed_leads(tmp_path)
    # The 20 in a row, and at most the screenings under way when the 20th ended.
    assert 20 <= len(outage) <= 20 + 16
    data = json.loads(summary.read_text())
    assert data["exit_code"] == 3
    assert data["stopped"]["failure"] == "unreachable"
    assert data["stopped"]["endpoint"] == url
    assert data["screened_now"] == len(outage)
    assert data["rows_in_file"] == 500

    with Simulator(api_token=TOKEN) as sim:
        write_settings(tmp_path, sim.url)
        # A plain re-run finishes the rest and keeps the outage's records as they are...
        assert main(argv(tmp_path, "--concurrency", "16")) == 0
        assert sim.stats()["total_requests"] == 500 - len(outage)
        assert failed_leads(tmp_path) == outage
        # ...and --rescreen-failures screens exactly those leads again, each once.
        assert main(argv(tmp_path, "--concurrency", "16", "--rescreen-failures")) == 0
        assert sim.stats()["total_requests"] == 500
        # Nothing left that a failure decided: another such run calls nobody.
        assert main(argv(tmp_path, "--rescreen-failures")) == 0
        assert sim.stats()["total_requests"] == 500
    versions = histories(tmp_path)
    assert {lead for lead, v in versions.items() if len(v) == 2} == outage
    assert all(v[-1].decided_by != "pcid:failure_policy" for v in versions.values())
    assert failed_leads(tmp_path) == set()


def test_wrong_token_stops_after_the_configured_count_and_recovers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """200 rows with a refused token stop after --stop-after 5; the fix re-screens only those."""
    write_leads(tmp_path / "first.csv", 50)
    write_leads(tmp_path / "leads.csv", 200)
    with Simulator(api_token=TOKEN) as sim:
        write_settings(tmp_path, sim.url)
        assert main(argv(tmp_path, leads="first.csv")) == 0  # 50 leads decided by the vendor
        write_settings(tmp_path, sim.url, token="tok-WRONG-00000000")
        one_at_a_time = ["--concurrency", "1", "--stop-after", "5"]
        assert main(argv(tmp_path, *one_at_a_time)) == 3
        err = capsys.readouterr().err
        assert sim.stats()["by_status"].get("401") == 5  # exactly the configured count
        assert (
            f"stopped: 5 leads in a row failed at pcid (purecallerid): the vendor refused the "
            f"credentials at {sim.url} (HTTP 401)"
        ) in err
        assert "check: the API token of integration pcid" in err
        assert TOKEN not in err
        outage = failed_leads(tmp_path)
        assert len(outage) == 5

        write_settings(tmp_path, sim.url)
        before = sim.stats()["total_requests"]
        assert main(argv(tmp_path, "--concurrency", "8", "--rescreen-failures")) == 0
        # The 5 again, the 145 never screened; none of the 50 the vendor had decided.
        assert sim.stats()["total_requests"] - before == 150
    versions = histories(tmp_path)
    assert {lead for lead, v in versions.items() if len(v) == 2} == outage
    assert len(versions) == 200


def test_an_endpoint_that_does_not_exist_stops_the_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Something answers at the URL, but not the vendor's API (404): a vendor-wide failure."""
    write_leads(tmp_path / "leads.csv", 40)
    with Simulator(api_token=TOKEN) as sim:
        write_settings(tmp_path, sim.url + "/wrong-prefix")
        code = main(argv(tmp_path, "--concurrency", "1", "--stop-after", "3"))
        assert sim.stats()["total_requests"] == 3
    err = capsys.readouterr().err
    assert code == 3
    assert "no such endpoint at the vendor's URL" in err
    assert "(HTTP 404)" in err
    assert "check: the base_url and dialect of integration pcid" in err


def test_stop_after_zero_never_stops_and_strict_counts_vendor_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--stop-after 0 screens every row; --strict then fails on the vendor errors."""
    write_leads(tmp_path / "leads.csv", 30)
    write_settings(tmp_path, f"http://127.0.0.1:{closed_port()}")
    assert main(argv(tmp_path, "--concurrency", "30", "--stop-after", "0", "--strict")) == 1
    captured = capsys.readouterr()
    assert captured.err.splitlines()[-1] == "error: 30 leads had a vendor error (--strict)"
    assert "never stops early (--stop-after 0)" in captured.err
    with (tmp_path / "out.csv").open(newline="") as file:
        assert [r["decision"] for r in csv.DictReader(file)] == ["qa"] * 30
    # The next step names the cause and the way back.
    assert "next: 30 of 30 leads were decided by a failure policy" in captured.out
    assert "most often pcid connection" in captured.out


def test_strict_without_vendor_errors_exits_0(tmp_path: Path) -> None:
    """--strict passes a run whose only failures are leads' own data (a bad phone)."""
    (tmp_path / "leads.csv").write_text("lead_id,phone,zip\nL1,2125550106,10001\nL2,555,10001\n")
    with Simulator(api_token=TOKEN) as sim:
        write_settings(tmp_path, sim.url)
        assert main(argv(tmp_path, "--strict")) == 0


def test_summary_json_in_a_missing_folder_is_refused_before_any_call(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_leads(tmp_path / "leads.csv", 3)
    with Simulator(api_token=TOKEN) as sim:
        write_settings(tmp_path, sim.url)
        missing = tmp_path / "no" / "s.json"
        assert main([*argv(tmp_path), "--summary-json", str(missing)]) == 1
        assert sim.stats()["total_requests"] == 0
    assert "the folder of --summary-json does not exist" in capsys.readouterr().err


def test_rescreen_and_rescreen_failures_exclude_each_other(
    capsys: pytest.CaptureFixture[str],
) -> None:
    base = ["screen", "l.csv", "--settings", "s", "--campaign", "c", "--out", "o"]
    assert main([*base, "--rescreen", "--rescreen-failures"]) == 2
    assert "not allowed with argument --rescreen" in capsys.readouterr().err


# -- the classification, as a unit ----------------------------------------------------------


def attempt(status: int | None, outcome: str = "answered") -> Attempt:
    return Attempt(number=1, started_at=NOW, duration=0.01, outcome=outcome, status_code=status)


def failed(error_class: str, *attempts: Attempt, unknown: bool = False) -> IntegrationRecord:
    return IntegrationRecord(
        integration_id="pcid",
        kind="purecallerid",
        sort=1,
        status=IntegrationStatus.ERROR,
        action=Action.QA,
        decided_by="failure_policy",
        error_class=error_class,
        error_message=f"{error_class} happened",
        outcome_unknown=unknown,
        attempts=attempts,
    )


ANSWERED = IntegrationRecord(
    integration_id="pcid",
    kind="purecallerid",
    sort=1,
    status=IntegrationStatus.COMPLETED,
    action=Action.ACCEPT,
    answer={"status": "Accepted"},
    attempts=(attempt(200),),
)


@pytest.mark.parametrize(
    ("integration", "expected"),
    [
        (failed("auth_failed", attempt(401)), "auth_failed"),
        (failed("auth_failed", attempt(403)), "auth_failed"),
        (failed("connection", attempt(None, "connect_error")), "unreachable"),
        (failed("timeout", attempt(None, "connect_timeout")), "unreachable"),
        (failed("client_error", attempt(404)), "endpoint_missing"),
        (failed("client_error", attempt(405)), "endpoint_missing"),
        (failed("server_error", attempt(501)), "endpoint_missing"),
        (failed("circuit_open"), "circuit_open"),
        (failed("quota_exhausted"), "quota_exhausted"),
        # A lead's own failures, or ones that reached the vendor: not vendor-wide.
        (failed("timeout", attempt(None, "read_timeout"), unknown=True), None),
        (failed("connection", attempt(None, "network_error"), unknown=True), None),
        (failed("server_error", attempt(500)), None),
        (failed("rate_limited", attempt(429)), None),
        (failed("client_error", attempt(400)), None),
        (failed("mapping_error"), None),
        (failed("timeout", unknown=True), None),  # cut by the integration's own timeout
        (ANSWERED, None),
    ],
)
def test_vendor_wide_failures(integration: IntegrationRecord, expected: str | None) -> None:
    assert vendor_wide_failure(integration) == expected


def record(*integrations: IntegrationRecord) -> ScreeningRecord:
    return ScreeningRecord(
        lead_id="L",
        campaign_id="bulk",
        decision=Action.QA,
        integrations=integrations,
        started_at=NOW,
        finished_at=NOW,
        duration=0.0,
        library_version="test",
        settings_hash="x",
    )


def test_the_watch_counts_failures_in_a_row_per_integration() -> None:
    """An answer ends a run of failures; a lead that made no call neither counts nor ends it."""
    watch = OutageWatch(3, {"pcid": ("purecallerid", "http://127.0.0.1:9")})
    refused = record(failed("connection", attempt(None, "connect_error")))
    assert watch.observe(refused) is None
    assert watch.observe(refused) is None
    assert watch.observe(record(ANSWERED)) is None  # the vendor answered: start again
    assert watch.observe(refused) is None
    assert watch.observe(record(failed("mapping_error"))) is None  # no call: no news
    assert watch.observe(refused) is None
    outage = watch.observe(refused)
    assert outage is not None
    assert (outage.integration_id, outage.failure, outage.failures) == ("pcid", "unreachable", 3)
    assert outage.endpoint == "http://127.0.0.1:9"
    assert watch.observe(record(ANSWERED)) is outage  # tripped stays tripped


def test_a_shadow_integration_never_stops_the_run_nor_fails_strict() -> None:
    """A trial vendor that refuses every call decides nothing: no stop, no vendor error."""
    watch = OutageWatch(2, {})
    shadow = attrs.evolve(failed("auth_failed", attempt(401)), shadow=True)
    tally = Tally(NOW)
    for line in range(5):
        assert watch.observe(record(shadow)) is None
        tally.add(line, record(shadow), None)
    summary = tally.summary(seconds=1.0, out=None, db="x.db")
    assert (summary.vendor_errors, summary.errored) == (0, 0)
    assert summary.errors == {("pcid (shadow)", "auth_failed"): 5}


def test_a_watch_with_no_limit_never_trips() -> None:
    watch = OutageWatch(0, {})
    for _ in range(100):
        assert watch.observe(record(failed("auth_failed", attempt(401)))) is None


# -- the plan --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "local"),
    [
        ("http://127.0.0.1:8765", True),
        ("http://127.3.4.5", True),
        ("http://[::1]:8765/presets/x", True),
        ("http://localhost:8765", True),
        ("https://api.purecallerid.example", False),
        ("https://10.0.0.5", False),
    ],
)
def test_local_endpoints(url: str, local: bool) -> None:
    assert is_local(url) is local


def test_plan_names_each_integration_and_bounds_the_calls(tmp_path: Path) -> None:
    (tmp_path / "dnc.csv").write_text("phone\n2125550150\n")
    path = tmp_path / "settings.toml"
    path.write_text(
        f"""
[campaigns.bulk]
[[campaigns.bulk.integrations]]
id = "house"
kind = "suppression"
sort = 1
options = {{ csv = "dnc.csv" }}
rules = ['reject when suppressed is true']
[[campaigns.bulk.integrations]]
id = "pcid"
kind = "purecallerid"
sort = 2
base_url = "https://api.purecallerid.example"
credentials = {{ api_token = "{TOKEN}", campaign_id = "C1", list_name = "Main" }}
"""
    )
    loaded = load_settings_file(path)

    async def plan() -> list[str]:
        try:
            campaign = await loaded.campaign("bulk")
            return plan_lines(
                campaign=campaign,
                kinds=loaded.kinds,
                settings=path,
                rows=1234,
                db=tmp_path / "r.db",
                mode="leads recorded earlier are not screened again",
            )
        finally:
            await loaded.aclose()

    lines = asyncio.run(plan())
    assert lines[0] == f"plan: campaign bulk of {path}, 1,234 rows"
    assert "at most 1,234 vendor calls" in lines[1]  # one vendor: the list calls nobody
    assert lines[2] == "  house (suppression): calls no vendor"
    assert lines[3] == "  pcid (purecallerid): https://api.purecallerid.example"  # no mark
    assert lines[4].startswith(f"  records: {tmp_path / 'r.db'}")


def test_plan_and_shadow_agreement(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`plan` prints stages and conditions; `screen` prints the shadow agreement table."""
    with Simulator() as sim:
        settings = tmp_path / "s.toml"
        settings.write_text(
            f"""
[campaigns.c]
shadow_rules = 'reject when purecallerid.status = "Rejected" because "trial"'

[[campaigns.c.integrations]]
id = "purecallerid"
kind = "purecallerid"
base_url = "{sim.url}"
credentials = {{ api_token = "test-token-0123", campaign_id = "C", list_name = "L" }}
rules = 'reject when status = "Rejected" and reason = "DNC" because "DNC"'

[[campaigns.c.integrations]]
id = "window"
kind = "calling_window"
sort = 2
when = 'purecallerid.status = "Accepted"'
"""
        )
        leads = tmp_path / "leads.csv"
        rows = [f"L{i},212-555-{line},10001" for i, line in enumerate(["0101", "0102", "0150"])]
        leads.write_text("lead_id,phone,zip\n" + "\n".join(rows) + "\n")
        assert main(["plan", "--settings", str(settings), "--campaign", "c"]) == 0
        plan = capsys.readouterr().out
        assert 'window (calling_window): when purecallerid.status = "Accepted"' in plan
        assert "shadow rules" in plan
        out = tmp_path / "out.csv"
        summary = tmp_path / "summary.json"
        argv = ["screen", str(leads), "--settings", str(settings), "--campaign", "c"]
        argv += ["--out", str(out), "--no-progress", "--summary-json", str(summary)]
        assert main(argv) == 0
    shown = capsys.readouterr().out
    assert "shadow decision: agreed on 2 of 3 leads" in shown
    data = json.loads(summary.read_text())
    assert data["shadow_agreement"]["agreed"] == 2


def test_screen_serves_its_metrics(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--metrics-port: the run's screenings are counted in Prometheus metrics it serves."""
    import httpx  # noqa: PLC0415

    from purecallerid._cli import screen as screen_module  # noqa: PLC0415

    scraped: list[str] = []
    real = screen_module._metrics

    def spy(job: Any, console: Any) -> Any:
        observer, server = real(job, console)
        assert server is not None
        original = server.close

        def close() -> None:
            scraped.append(httpx.get(server.url, timeout=10).text)
            original()

        server.close = close  # type: ignore[method-assign]
        return observer, server

    with Simulator() as sim, pytest.MonkeyPatch.context() as patch:
        patch.setattr(screen_module, "_metrics", spy)
        settings = tmp_path / "s.toml"
        settings.write_text(
            f"""
[[campaigns.c.integrations]]
kind = "purecallerid"
base_url = "{sim.url}"
credentials = {{ api_token = "test-token-0123", campaign_id = "C", list_name = "L" }}
"""
        )
        leads = tmp_path / "leads.csv"
        leads.write_text("lead_id,phone,zip\nL1,212-555-0150,10001\nL2,212-555-0151,10001\n")
        argv = ["screen", str(leads), "--settings", str(settings), "--campaign", "c"]
        argv += ["--out", str(tmp_path / "o.csv"), "--no-progress", "--metrics-port", "0"]
        assert main(argv) == 0
    assert "metrics: http://127.0.0.1:" in capsys.readouterr().err
    assert any(
        'decision="accept"' in line and line.endswith(" 2.0") for line in scraped[0].splitlines()
    )


def test_a_shadow_rule_set_over_1000_leads_changes_no_decision(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 16's acceptance through `screen`: the same 1,000 leads with and without shadow
    rules get the same decisions, and the run with them prints the agreement table."""
    lines = ["0101", "0102", "0103", "0104", "0105", "0150"]
    leads = tmp_path / "leads.csv"
    rows = [f"L{n},212-555-{lines[n % len(lines)]},10001" for n in range(1000)]
    leads.write_text("lead_id,phone,zip\n" + "\n".join(rows) + "\n")
    decisions: dict[str, list[str]] = {}
    with Simulator() as sim:
        for name, extra in (("live", ""), ("shadow", SHADOW_RULES)):
            folder = tmp_path / name
            folder.mkdir()
            (folder / "s.toml").write_text(
                f"""
[campaigns.c]
{extra}
[[campaigns.c.integrations]]
id = "purecallerid"
kind = "purecallerid"
base_url = "{sim.url}"
credentials = {{ api_token = "test-token-0123", campaign_id = "C", list_name = "L" }}
rules = 'reject when status = "Rejected" and reason = "DNC" because "DNC"'
"""
            )
            out = folder / "out.csv"
            argv = ["screen", str(leads), "--settings", str(folder / "s.toml"), "--campaign"]
            argv += ["c", "--out", str(out), "--no-progress", "--concurrency", "32"]
            assert main(argv) == 0
            with out.open(newline="") as file:
                decisions[name] = [row["decision"] for row in csv.DictReader(file)]
    assert decisions["live"] == decisions["shadow"]
    assert len(decisions["live"]) == 1000
    printed = capsys.readouterr().out
    # 0101, 0103, 0104 are Rejected but not DNC: live accepts them, the trial rejects them.
    assert "shadow decision: agreed on 499 of 1,000 leads (49.9%)" in printed


SHADOW_RULES = 'shadow_rules = \'reject when purecallerid.status = "Rejected" because "trial"\''
