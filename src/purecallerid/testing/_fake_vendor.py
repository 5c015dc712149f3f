"""FakeVendor: a preset's vendor in process, for ``httpx.MockTransport``.

How a request is read and which answer it gets is decided in ``purecallerid.testing._presets``,
shared with the simulator's ``/presets/<name>`` routes; this module only adapts it to httpx.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

import httpx

from .._integrations.configured.presets import Preset, preset_named
from ._fake import _respond
from ._presets import PresetVendor
from ._vendor import Script

if TYPE_CHECKING:
    from ._testnumbers import CannedAnswer

__all__ = ["FakeVendor"]


class FakeVendor:
    """A preset's vendor in process: plug :meth:`async_transport` into its integration.

    It answers as the simulator does at ``{url}/presets/<name>``: the preset's fake for the
    test number's line (``[fakes."0101"]``...), its ``[fakes.default]`` for any other number;
    404 for a path the preset does not call, 405 for another method, 401 when a credential is
    missing or empty where the preset puts it (header, query, path, basic auth or body).
    :meth:`program` and :meth:`fail_next` work as on
    :class:`~purecallerid.testing.FakePureCallerID`.

    Give the transport to the integrations
    (``http_integrations(transport=FakeVendor("twilio").async_transport())``); requests then
    go to the preset's base URL and never leave the process.

    Args:
        preset: The preset's kind name (``"twilio"``), or a :class:`~purecallerid.Preset`.
        base_url: The base URL the integration calls (default: the preset's); the path below
            it is what the preset's ``http.path`` must match.

    Raises:
        KeyError: No preset has that name.
    """

    def __init__(self, preset: str | Preset, *, base_url: str | None = None) -> None:
        """Create the fake; see the class docstring."""
        self.preset = preset_named(preset) if isinstance(preset, str) else preset
        self.base_url = base_url or self.preset.base_url
        self.lines: list[str | None] = []
        self._vendor = PresetVendor(self.preset)
        self._script = Script()
        self._lock = threading.Lock()

    @property
    def calls(self) -> int:
        """How many requests reached the fake (refused ones included)."""
        return len(self.lines)

    def program(self, phone: str, *answers: CannedAnswer) -> None:
        """Answer requests for *phone* with *answers* in turn; the last one then repeats."""
        self._script.program(phone, *answers)

    def fail_next(self, *answers: CannedAnswer) -> None:
        """Answer the next accepted requests with *answers*, one each, whatever their number."""
        self._script.fail_next(*answers)

    def reset(self) -> None:
        """Forget programmed and queued answers and the calls seen."""
        self._script.clear()
        with self._lock:
            self.lines.clear()

    def transport(self) -> httpx.MockTransport:
        """A transport for ``httpx.Client``."""
        return httpx.MockTransport(self.handle)

    def async_transport(self) -> httpx.MockTransport:
        """A transport for ``httpx.AsyncClient`` and the ``http`` integrations."""
        return httpx.MockTransport(self.ahandle)

    def handle(self, request: httpx.Request) -> httpx.Response:
        """Answer one request (the sync ``MockTransport`` handler)."""
        answer = self._receive(request)
        if answer.kind == "timeout":
            raise httpx.ReadTimeout("the fake vendor did not answer in time", request=request)
        if answer.kind in {"connect_error", "connect_timeout"}:
            raise httpx.ConnectError("the fake vendor refused the connection", request=request)
        return _respond(answer)

    async def ahandle(self, request: httpx.Request) -> httpx.Response:
        """Answer one request (the async ``MockTransport`` handler)."""
        return self.handle(request)

    def _receive(self, request: httpx.Request) -> CannedAnswer:
        raw = request.url.raw_path.decode("ascii")
        path, _, query = raw.partition("?")
        prefix = httpx.URL(self.base_url).raw_path.decode("ascii").rstrip("/")
        if prefix and path.startswith(prefix):
            path = path[len(prefix) :]
        reading = self._vendor.read(request.method, path, query, request.headers, request.content)
        with self._lock:
            self.lines.append(reading.line)
        if reading.refusal is None:
            programmed = self._script.programmed(reading.phone or "")
            if programmed is not None:
                return programmed
        return self._vendor.answer(reading)

    def __repr__(self) -> str:
        return f"FakeVendor({self.preset.name!r}, {self.calls} request(s))"
