"""The issue's set-up for real: gunicorn ``--preload -w 2 --threads 4`` and a sync screener.

A screener built at import in the master (``--preload``) used to hang ``POST /leads`` for
ever while ``/healthz`` answered; it now answers at once with the documented
:class:`~purecallerid.ForkedError`. Built in gunicorn's ``post_fork`` hook, as the guide
says, it screens.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import textwrap
import time
from typing import TYPE_CHECKING

import httpx
import pytest

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

pytest.importorskip("gunicorn")

_APP = """
import functools
import json
import os

import purecallerid
from purecallerid.testing import FakePureCallerID

TOKEN = "pcid-token-123456"


@functools.cache
def screener() -> purecallerid.Screener:
    vendor = os.environ.get("VENDOR_URL")
    transport = None if vendor else FakePureCallerID(api_token=TOKEN).async_transport()
    pcid = purecallerid.PureCallerIDIntegration(transport=transport)
    settings = purecallerid.load_settings(
        {"campaigns": {"c": {"integrations": [{
            "id": "pcid", "kind": "purecallerid",
            "base_url": vendor or "https://purecallerid.test",
            "credentials": {"api_token": TOKEN, "campaign_id": "C1", "list_name": "Main"},
        }]}}},
        kinds=[pcid],
    )
    db = os.environ.get("RECORDS_DB")
    store = purecallerid.SQLiteResultStore(db) if db else purecallerid.InMemoryResultStore()
    return purecallerid.Screener(
        settings=purecallerid.InMemorySettings(settings.values()),
        store=store,
        integrations=[pcid],
    )


if os.environ.get("BUILD_AT_IMPORT"):
    screener()  # the bug: built in the master, before the workers are forked


def app(environ, start_response):
    if environ["PATH_INFO"] == "/healthz":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]
    query = dict(part.split("=", 1) for part in environ.get("QUERY_STRING", "").split("&") if part)
    lead_id = query.get("id", "L1")
    try:
        if environ["REQUEST_METHOD"] == "GET":  # GET /leads?id=...: the record, phones masked
            record = screener().load(lead_id, "c")
            answer = {} if record is None else record.to_public_dict()
        else:
            lead = purecallerid.Lead(
                lead_id=lead_id, campaign_id="c",
                fields={"phone": query.get("phone", "2125550106"), "zip": "02134"},
            )
            answer = {"decision": str(screener().screen(lead).decision)}
        status = "200 OK"
    except purecallerid.ForkedError as exc:
        answer = {"error": type(exc).__name__}
        status = "500 Internal Server Error"
    start_response(status, [("Content-Type", "application/json")])
    return [json.dumps(answer).encode()]
"""

_CONF = """
import app


def post_fork(server, worker):
    app.screener()
"""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextlib.contextmanager
def _serve(
    directory: Path, *, build_at_import: bool, hook: bool, env: dict[str, str] | None = None
) -> Iterator[str]:
    """Run gunicorn on the app in *directory*; yield its base URL once /healthz answers."""
    port = _free_port()
    command = [sys.executable, "-m", "gunicorn", "--preload", "-w", "2", "--threads", "4"]
    command += ["-b", f"127.0.0.1:{port}", "--chdir", str(directory), "--timeout", "30"]
    command += [*(["-c", str(directory / "gunicorn.conf.py")] if hook else []), "app:app"]
    environment = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(directory), **(env or {})}
    if build_at_import:
        environment["BUILD_AT_IMPORT"] = "1"
    log = (directory / "gunicorn.log").open("wb")
    server = subprocess.Popen(command, env=environment, stdout=log, stderr=log)  # noqa: S603
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise
                time.sleep(0.1)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:  # pragma: no cover - a worker that would not stop
            server.kill()
            server.wait()
        log.close()


@pytest.fixture
def app_dir(tmp_path: Path) -> Path:
    (tmp_path / "app.py").write_text(textwrap.dedent(_APP))
    (tmp_path / "gunicorn.conf.py").write_text(textwrap.dedent(_CONF))
    return tmp_path


def _post_leads(url: str) -> tuple[float, httpx.Response]:
    started = time.monotonic()
    answer = httpx.post(f"{url}/leads", timeout=5)
    return time.monotonic() - started, answer


def test_a_screener_built_in_the_master_is_refused_at_once(app_dir: Path) -> None:
    """--preload with the screener built at import: POST /leads answers ForkedError in < 1 s."""
    with _serve(app_dir, build_at_import=True, hook=False) as url:
        for _ in range(4):  # both workers, whichever takes the request
            took, answer = _post_leads(url)
            assert (answer.status_code, answer.json()) == (500, {"error": "ForkedError"})
            assert took < 1.0


def test_a_screener_built_in_post_fork_screens(app_dir: Path) -> None:
    """--preload with the screener built in post_fork, as the guide says: leads are screened."""
    with _serve(app_dir, build_at_import=False, hook=True) as url:
        for _ in range(4):
            took, answer = _post_leads(url)
            assert (answer.status_code, answer.json()) == (200, {"decision": "accept"})
            assert took < 1.0


def test_two_workers_of_four_threads_screen_200_leads_once_each(app_dir: Path) -> None:
    """The issue's acceptance: 200 leads posted at once, every one answered, one call each."""
    from concurrent.futures import ThreadPoolExecutor  # noqa: PLC0415 - this test only

    from purecallerid.testing import Simulator  # noqa: PLC0415 - this test only

    with Simulator(api_token="pcid-token-123456") as sim:
        env = {"VENDOR_URL": sim.url, "RECORDS_DB": str(app_dir / "records.db")}
        with _serve(app_dir, build_at_import=False, hook=True, env=env) as url:

            def post(n: int) -> int:
                phone = f"212300{n:04d}"
                answer = httpx.post(f"{url}/leads?id=L{n}&phone={phone}", timeout=10)
                return answer.status_code

            with ThreadPoolExecutor(8) as pool:
                statuses = list(pool.map(post, range(200)))
            shown = httpx.get(f"{url}/leads?id=L7", timeout=5).json()
        calls = sim.stats()["total_requests"]
    assert statuses == [200] * 200
    assert calls == 200
    assert shown["lead_id"] == "L7"
    assert "2123000007" not in str(shown)
    assert shown["phone"] == "***0007"
