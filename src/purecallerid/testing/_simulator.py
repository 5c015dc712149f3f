"""Simulator: a PureCallerID stand-in over real HTTP/1.1, for demos, hosts' tests and benchmarks.

It answers exactly as :class:`~purecallerid.testing.FakePureCallerID` does (both share
``purecallerid.testing._vendor`` and the test number table), but over a socket, so that a host's
real HTTP stack, connection pool and timeouts take part. It adds what only a server can
have: latency, a daily quota and a rate limit answered with 429 and ``Retry-After``, and
request counts at ``GET /_simulator/stats``. Every vendor preset is served too, below
``/presets/<name>``, as :class:`~purecallerid.testing.FakeVendor` answers it (both share
``purecallerid.testing._presets``).

It is one ``asyncio.Protocol`` per connection (``_simulator_http``): no thread per request
and no web framework, so that it is not the bottleneck of a benchmark (see
``benchmarks/bench_simulator.py``).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import ipaddress
import math
import signal
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Final, Self

from .._integrations.configured.presets import presets
from ._presets import PRESETS_PREFIX, PresetVendor
from ._simulator_http import Connection
from ._testnumbers import CannedAnswer, line_of_test_number
from ._vendor import Script, read_request

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["Simulator"]

STATS_PATH: Final = "/_simulator/stats"


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class _Bucket:
    """A token bucket: *rate* requests per second, up to *burst* at once."""

    def __init__(self, rate: float, burst: int, clock: Callable[[], float]) -> None:
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._tokens = float(burst)
        self._last = clock()

    def take(self) -> float | None:
        """Take a token; return ``None`` when granted, else the seconds until the next one."""
        now = self._clock()
        self._tokens = min(float(self.burst), self._tokens + (now - self._last) * self.rate)
        self._last = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return None
        return (1.0 - self._tokens) / self.rate


class _Quota:
    """A daily quota; the vendor's day is the UTC day."""

    def __init__(self, limit: int, now: Callable[[], datetime]) -> None:
        self.limit = limit
        self.used = 0
        self._now = now
        self._day = now().date()

    def take(self) -> float | None:
        """Count one request; ``None`` when within the quota, else seconds until the day ends."""
        now = self._now()
        if now.date() != self._day:
            self._day, self.used = now.date(), 0
        if self.used < self.limit:
            self.used += 1
            return None
        midnight = datetime.combine(self._day + timedelta(days=1), datetime.min.time(), UTC)
        return (midnight - now).total_seconds()


def _too_many(error: str, wait: float) -> CannedAnswer:
    # Retry-After in whole seconds, rounded up: a client waiting that long will be served.
    return CannedAnswer.status(429, retry_after=str(max(1, math.ceil(wait))), body={"error": error})


class Simulator:
    """A PureCallerID stand-in over real HTTP on a loopback port.

    Use it in process (``async with Simulator() as sim:`` then ``sim.url``), from synchronous
    code (``with Simulator() as sim:`` serves from a background thread), or as a blocking
    server (:meth:`run`, what ``purecallerid simulate`` does). Both dialects are served, from
    the path; answers come from the test number table, or from :meth:`program` and
    :meth:`fail_next` as with the fake. Line 0193 gets no answer: the connection is held for
    *hang_seconds*, then closed.

    Each vendor preset is served at :meth:`preset_url` (``{url}/presets/<name>``, the base URL
    a campaign gives that preset), answering from the preset's ``[fakes]`` as
    :class:`~purecallerid.testing.FakeVendor` does. The quota and the rate limit apply to the
    PureCallerID routes only; the latency applies to every answer.

    Args:
        host: The address to listen on. Loopback only, unless *allow_remote* is true.
        port: The port; ``0`` picks a free one (read it back from :attr:`url`).
        latency: Seconds added before every answer.
        daily_quota: Screenings allowed per UTC day (``None``: unlimited); beyond it, 429 with
            ``Retry-After`` set to the seconds left in the day.
        rate_limit: Screenings allowed per second (``None``: unlimited), with a burst of
            *rate_burst*; beyond it, 429 with ``Retry-After`` set to the wait for the next
            slot (rounded up to a whole second).
        rate_burst: Requests allowed at once before the rate applies (default: a tenth of a
            second's worth, at least 1).
        hang_seconds: How long line 0193 (or a programmed timeout) holds the connection.
        api_token: The token to expect; ``None`` accepts any non-empty token.
        allow_remote: Accept a *host* that is not a loopback address. The simulator has no
            TLS and no real authentication: expose it on a network only on purpose.
        clock: A monotonic clock in seconds, for the rate limit (injectable for tests).
        now: The current UTC time, for the daily quota (injectable for tests).
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        latency: float = 0.0,
        daily_quota: int | None = None,
        rate_limit: float | None = None,
        rate_burst: int | None = None,
        hang_seconds: float = 30.0,
        api_token: str | None = None,
        allow_remote: bool = False,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        """Create the simulator (not listening yet); see the class docstring."""
        if not (allow_remote or _is_loopback(host)):
            raise ValueError(
                f"refusing to listen on {host!r}: the simulator is for loopback addresses "
                "(pass allow_remote=True to expose it on a network on purpose)"
            )
        if not (math.isfinite(latency) and latency >= 0):
            raise ValueError(f"latency must be >= 0 seconds, not {latency!r}")
        if not (math.isfinite(hang_seconds) and hang_seconds >= 0):
            raise ValueError(f"hang_seconds must be >= 0 seconds, not {hang_seconds!r}")
        if daily_quota is not None and daily_quota < 0:
            raise ValueError(f"daily_quota must be >= 0, not {daily_quota!r}")
        if rate_limit is not None and not (math.isfinite(rate_limit) and rate_limit > 0):
            raise ValueError(f"rate_limit must be > 0 requests per second, not {rate_limit!r}")
        # "localhost" may resolve to two addresses, each bound to its own free port.
        self.host = "127.0.0.1" if host == "localhost" else host
        self.port = port
        self.latency = latency
        self.hang_seconds = hang_seconds
        self.api_token = api_token
        self._script = Script()
        self._bucket = (
            None
            if rate_limit is None
            else _Bucket(rate_limit, rate_burst or max(1, math.ceil(rate_limit / 10)), clock)
        )
        self._quota = None if daily_quota is None else _Quota(daily_quota, now)
        self._server: asyncio.Server | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._base_url = ""
        self._connections: set[Connection] = set()
        self._total = 0
        self._by_dialect: Counter[str] = Counter()
        self._by_status: Counter[str] = Counter()
        self._by_line: Counter[str] = Counter()
        self._by_preset: Counter[str] = Counter()
        self._preset_vendors: dict[str, PresetVendor] | None = None
        self._rejected_by_quota = 0
        self._rejected_by_rate = 0

    # -- lifecycle -----------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The base URL to give clients (``http://127.0.0.1:PORT``), once listening."""
        if self._server is None:
            raise RuntimeError("the simulator is not listening; use `async with` or start()")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def preset_url(self, name: str) -> str:
        """The base URL of the preset *name* here: ``{url}/presets/<name>``, once listening."""
        return f"{self.url}{PRESETS_PREFIX}{name}"

    async def start(self) -> None:
        """Start listening (on a free port when *port* is 0)."""
        if self._server is not None:
            raise RuntimeError("the simulator is already listening")
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: Connection(
                self._answer, hang_seconds=self.hang_seconds, registry=self._connections
            ),
            self.host,
            self.port,
            backlog=1024,
        )
        self.port = int(self._server.sockets[0].getsockname()[1])
        self._base_url = self.url

    async def aclose(self) -> None:
        """Stop listening and close every connection (held ones included)."""
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        for connection in list(self._connections):
            connection.close()
        await server.wait_closed()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.aclose()

    def __enter__(self) -> Self:
        """Serve from a background thread with its own event loop (for synchronous tests)."""
        if self._thread is not None:
            raise RuntimeError("the simulator is already running in a thread")
        loop = asyncio.new_event_loop()
        started: concurrent.futures.Future[None] = concurrent.futures.Future()

        def serve() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self.start())
            except BaseException as exc:  # noqa: BLE001 - handed to the waiting thread
                started.set_exception(exc)
                loop.close()
                return
            started.set_result(None)
            loop.run_forever()
            loop.run_until_complete(self.aclose())
            loop.close()

        self._thread = threading.Thread(target=serve, name="purecallerid-simulator", daemon=True)
        self._thread.start()
        try:
            started.result()
        except BaseException:
            self._thread.join()
            self._thread = None
            raise
        self._loop = loop
        return self

    def __exit__(self, *_: object) -> None:
        """Stop the background thread's server and close its connections."""
        thread, loop = self._thread, self._loop
        self._thread, self._loop = None, None
        if thread is None or loop is None:
            return
        loop.call_soon_threadsafe(loop.stop)
        thread.join()

    def run(self, *, on_ready: Callable[[Simulator], None] | None = None) -> None:
        """Serve until stopped: SIGTERM returns; Ctrl-C raises ``KeyboardInterrupt`` here.

        Args:
            on_ready: Called once listening, with this simulator (to print its URL).
        """

        async def serve() -> None:
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            # Windows has no signal handlers; a thread other than the main one cannot set them.
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(signal.SIGTERM, stop.set)
            async with self:
                if on_ready is not None:
                    on_ready(self)
                await stop.wait()

        asyncio.run(serve())

    # -- programming, as with the fake ---------------------------------------------------

    def program(self, phone: str, *answers: CannedAnswer) -> None:
        """Answer requests for *phone* with *answers* in turn; the last one then repeats."""
        self._script.program(phone, *answers)

    def fail_next(self, *answers: CannedAnswer) -> None:
        """Answer the next screenings with *answers*, one each, whatever their number."""
        self._script.fail_next(*answers)

    # -- counts --------------------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        """The counts served at ``GET /_simulator/stats``, as JSON data.

        ``total_requests`` (every request but the stats ones), ``by_dialect``, ``by_preset``
        (requests to each preset's routes), ``by_status`` (HTTP status, or ``timeout`` /
        ``connect_error`` for no answer), ``by_line`` (the test number line, ``other`` for any
        other number), ``rejected_by_quota``, ``rejected_by_rate``, ``quota_used`` (today's),
        ``daily_quota`` and ``rate_limit``. Safe to call from any thread.
        """
        loop = self._loop
        if loop is not None and threading.current_thread() is not self._thread:
            # The counters belong to the server's thread: read them there.
            async def snapshot() -> dict[str, Any]:
                return self._snapshot()

            return asyncio.run_coroutine_threadsafe(snapshot(), loop).result()
        return self._snapshot()

    def _snapshot(self) -> dict[str, Any]:
        return {
            "total_requests": self._total,
            "by_dialect": dict(self._by_dialect),
            "by_preset": dict(self._by_preset),
            "by_status": dict(self._by_status),
            "by_line": dict(self._by_line),
            "rejected_by_quota": self._rejected_by_quota,
            "rejected_by_rate": self._rejected_by_rate,
            "quota_used": 0 if self._quota is None else self._quota.used,
            "daily_quota": None if self._quota is None else self._quota.limit,
            "rate_limit": None if self._bucket is None else self._bucket.rate,
        }

    # -- answering -----------------------------------------------------------------------

    def _answer(
        self, method: str, path: str, query: str, headers: dict[str, str], body: bytes
    ) -> tuple[CannedAnswer, float]:
        """The answer to one request, and the seconds to wait before giving it."""
        if path == STATS_PATH:
            if method != "GET":
                return CannedAnswer.status(405, body={"error": "use GET"}), 0.0
            return CannedAnswer.json(self.stats()), 0.0
        self._total += 1
        if path.startswith(PRESETS_PREFIX):
            answer = self._answer_preset(method, path, query, headers, body)
            self._by_status[str(answer.status_code)] += 1
            return answer, self.latency + answer.delay
        reading = read_request(
            method,
            path,
            headers,
            body,
            url=self._base_url + path,
            api_token=self.api_token,
            log=False,
        )
        phone = reading.phone
        if phone is not None:
            self._by_dialect[reading.dialect or ""] += 1
            self._by_line[line_of_test_number(phone) or "other"] += 1
        if phone is None or reading.refusal is not None:
            answer = self._script.answer(reading)
        elif self._bucket is not None and (wait := self._bucket.take()) is not None:
            self._rejected_by_rate += 1
            answer = _too_many("rate limit exceeded", wait)
        elif self._quota is not None and (wait := self._quota.take()) is not None:
            self._rejected_by_quota += 1
            answer = _too_many("daily quota exceeded", wait)
        else:
            answer = self._script.choose(phone)
        self._by_status[str(answer.status_code) if answer.kind == "http" else answer.kind] += 1
        return answer, self.latency + answer.delay

    def _answer_preset(
        self, method: str, path: str, query: str, headers: dict[str, str], body: bytes
    ) -> CannedAnswer:
        """The answer of a preset's vendor, for a path below ``/presets/``."""
        if self._preset_vendors is None:  # read on first use: the presets are data files
            self._preset_vendors = {p.name: PresetVendor(p) for p in presets()}
        name, _, rest = path.removeprefix(PRESETS_PREFIX).partition("/")
        vendor = self._preset_vendors.get(name)
        if vendor is None:
            known = ", ".join(sorted(self._preset_vendors))
            return CannedAnswer.status(404, body={"error": f"no preset {name!r} (known: {known})"})
        self._by_preset[name] += 1
        reading = vendor.read(method, "/" + rest, query, headers, body)
        self._by_line[reading.line or "other"] += 1
        return vendor.answer(reading)
