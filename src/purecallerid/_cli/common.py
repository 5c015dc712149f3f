"""What the command line's commands share: errors with exit codes, settings loading, output.

Every failure a user can cause (a missing file, broken settings, an unknown campaign) becomes
a :class:`CLIError`, printed as one line per problem without a traceback.
"""

from __future__ import annotations

import asyncio
import os
import signal
from typing import TYPE_CHECKING, Final, TypeVar

from rich.console import Console

from .._errors import ConfigurationError, SettingsError
from .._guards.backends import open_state_backend
from .._integrations.calling_window import CallingWindowIntegration
from .._integrations.configured.integration import http_integrations
from .._integrations.purecallerid.integration import PureCallerIDIntegration
from .._integrations.suppression import SuppressionIntegration
from .._screener import AsyncScreener
from .._settings import FileSettings

if TYPE_CHECKING:
    from collections.abc import Awaitable, Mapping
    from pathlib import Path

    from prometheus_client import CollectorRegistry

    from .._settings import CampaignSettings
    from ..prometheus import MetricsServer
    from ..typing import EventObserver, Integration, Observer, ResultStore, StateBackend

__all__ = [
    "EXIT_INTERRUPTED",
    "EXIT_INVALID",
    "EXIT_OK",
    "EXIT_STOPPED",
    "EXIT_USAGE",
    "CLIError",
    "LoadedSettings",
    "load_settings_file",
    "make_kinds",
    "serve_prometheus",
    "stderr_console",
    "stdout_console",
]

T = TypeVar("T")

EXIT_OK: Final = 0
EXIT_INVALID: Final = 1
EXIT_USAGE: Final = 2
EXIT_STOPPED: Final = 3  # screen stopped early: a vendor failed for lead after lead
EXIT_INTERRUPTED: Final = 130  # the shell's convention for SIGINT
_PIPE_WIDTH: Final = 120


class CLIError(Exception):
    """A failure the user can fix: printed as its lines, then the command exits with *code*."""

    def __init__(self, *lines: str, code: int = EXIT_INVALID) -> None:
        """Create the error from one line or more."""
        super().__init__(lines[0] if lines else "error")
        self.lines = lines
        self.code = code


def _console(*, stderr: bool) -> Console:
    # No markup: paths, reasons and rule texts are shown as written, brackets included.
    # Soft wrap: a line of text is never cut into two (tables still fit the width).
    console = Console(stderr=stderr, highlight=False, markup=False, soft_wrap=True)
    if not console.is_terminal and "COLUMNS" not in os.environ:
        # Redirected to a file or a CI log: rich would assume 80 columns and fold the tables.
        console.width = _PIPE_WIDTH
    return console


def stdout_console() -> Console:
    """The console for results (tables, summaries)."""
    return _console(stderr=False)


def stderr_console() -> Console:
    """The console for progress and errors, so that results can be piped."""
    return _console(stderr=True)


def make_kinds(base_dir: Path, *, max_connections: int = 8) -> list[Integration]:
    """The integrations the command line offers to settings files.

    Relative suppression-list paths are resolved from *base_dir*, the settings file's folder,
    so that a settings file and its lists travel together.
    """
    return [
        PureCallerIDIntegration(max_connections=max_connections),
        SuppressionIntegration(base_dir=base_dir),
        *http_integrations(max_connections=max_connections),
        CallingWindowIntegration(),
    ]


class LoadedSettings:
    """A settings file loaded with the command line's integrations."""

    def __init__(self, settings: FileSettings, kinds: list[Integration]) -> None:
        """Keep the provider and the integrations it was checked against."""
        self.settings = settings
        self.kinds = kinds
        self._state: StateBackend | None = None

    def screener(
        self,
        store: ResultStore,
        *,
        claim_lease: float | None = None,
        observer: Observer | EventObserver | None = None,
    ) -> AsyncScreener:
        """A screener over these settings, with the state backend the file names.

        The guards' state (quota, rate limit, breaker, cache) lives where the file's
        ``[state]`` table says, so that several command lines share one quota; without it,
        in memory.

        Raises:
            CLIError: The state backend cannot be opened.
        """
        if self._state is None and self.settings.state is not None:
            try:
                self._state = open_state_backend(
                    self.settings.state, base_dir=self.settings.path.resolve().parent
                )
            except ConfigurationError as exc:
                raise CLIError(f"{self.settings.path}: state: {exc}") from None
        return AsyncScreener(
            settings=self.settings,
            store=store,
            integrations=self.kinds,
            state=self._state,
            claim_lease=claim_lease,
            observer=observer,
        )

    async def campaign(self, campaign_id: str) -> CampaignSettings:
        """The settings of *campaign_id*.

        Raises:
            CLIError: The file has no such campaign.
        """
        found = await self.settings.get_campaign(campaign_id)
        if found is None:
            known = ", ".join(self.settings.campaign_ids()) or "none"
            raise CLIError(
                f"campaign {campaign_id!r} is not in {self.settings.path} (campaigns: {known})"
            )
        return found

    async def aclose(self) -> None:
        """Close the integrations (the clients' pools, the opened lists) and the state."""
        for kind in self.kinds:
            await kind.aclose()
        state, self._state = self._state, None
        if state is not None:
            await state.aclose()


def load_settings_file(
    path: Path, *, environ: Mapping[str, str] | None = None, max_connections: int = 8
) -> LoadedSettings:
    """Load and check a settings file with the command line's integrations.

    Raises:
        CLIError: The file is missing, unreadable or has problems (one line each).
    """
    if not path.is_file():
        raise CLIError(f"settings file not found: {path}")
    kinds = make_kinds(path.resolve().parent, max_connections=max_connections)
    try:
        settings = FileSettings(
            path, kinds=kinds, environ=os.environ if environ is None else environ
        )
    except SettingsError as error:
        lines = [
            problem.message if problem.path == "(file)" else str(problem)
            for problem in error.problems
        ]
        if len(lines) == 1:
            raise CLIError(f"{path}: {lines[0]}") from None
        raise CLIError(
            f"{len(lines)} problems in {path}:", *(f"  {line}" for line in lines)
        ) from None
    return LoadedSettings(settings, kinds)


def serve_prometheus(port: int, host: str = "127.0.0.1") -> tuple[CollectorRegistry, MetricsServer]:
    """A registry of its own and a server exposing it at ``http://host:port/metrics``.

    Raises:
        CLIError: The prometheus extra is not installed, or the port cannot be listened on.
    """
    try:
        from ..prometheus import metrics_registry, serve_metrics  # noqa: PLC0415 - an extra
    except ImportError as exc:  # the message names pip install 'purecallerid[prometheus]'
        raise CLIError(str(exc)) from None
    registry = metrics_registry()  # its own: in-process runs (tests) cannot collide
    try:
        return registry, serve_metrics(port, host=host, registry=registry)
    except OSError as exc:
        raise CLIError(f"cannot serve metrics on {host}:{port}: {exc.strerror or exc}") from None


async def until_terminated(work: Awaitable[T]) -> T:
    """Await *work*; on SIGTERM, cancel it as the first Ctrl-C does (and as gently).

    ``docker stop``, systemd, Kubernetes and ``timeout`` send SIGTERM, whose default kills the
    process at once: the screenings under way would end unrecorded, their claims held until
    they expire, and the re-run would send those leads to the vendor again. Here it cancels
    the task running *work*, which ``asyncio.run`` does on the first Ctrl-C: no new row is
    started, the ones under way end recorded, and :class:`asyncio.CancelledError` reaches the
    caller of ``asyncio.run``. Handled by the event loop, so a job started with SIGINT ignored
    (``command &`` in a script) stops on SIGTERM too. Only in the main thread.
    """
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    if task is None:  # not awaited by a task: nothing to cancel
        return await work
    try:
        loop.add_signal_handler(signal.SIGTERM, task.cancel)
    except (NotImplementedError, RuntimeError, ValueError):  # not the main thread, no signals
        return await work
    try:
        return await work
    finally:
        loop.remove_signal_handler(signal.SIGTERM)


def overwritten(path: Path, files: Mapping[str, Path]) -> str | None:
    """The name of the file of *files* that *path* names (through links too), if any.

    Raises:
        CLIError: A path is a loop of symbolic links.
    """
    return next((name for name, other in files.items() if same_file(path, other)), None)


def same_file(one: Path, other: Path) -> bool:
    """Whether two paths name one file (through links too), existing or not.

    Raises:
        CLIError: A path is a loop of symbolic links.
    """
    try:
        if one.resolve() == other.resolve():
            return True
    except (RuntimeError, OSError):  # a loop: RuntimeError up to Python 3.12, then OSError
        raise CLIError(f"cannot follow {one} or {other}: a loop of symbolic links?") from None
    try:
        return one.exists() and other.exists() and one.samefile(other)
    except OSError:
        return False
