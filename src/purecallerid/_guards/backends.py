"""Opening the state backend a ``[state]`` settings table names."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from .._errors import ConfigurationError
from .memory import InMemoryStateBackend

if TYPE_CHECKING:
    from ..typing import StateBackend
    from .settings import StateSettings

__all__ = ["open_state_backend"]


def open_state_backend(settings: StateSettings, *, base_dir: Path | None = None) -> StateBackend:
    """Open the state backend that *settings* (a ``[state]`` table) names.

    Args:
        settings: The backend and its location.
        base_dir: Where a relative SQLite path is resolved from (the settings file's folder).

    Raises:
        ConfigurationError: The backend cannot be opened (no ``redis`` extra, a bad path).
    """
    if settings.backend == "sqlite":
        from .sqlite import SQLiteStateBackend  # noqa: PLC0415 - not every host needs it

        assert settings.path is not None  # noqa: S101 - StateSettings checked it
        path = Path(settings.path)
        if base_dir is not None and not path.is_absolute():
            path = base_dir / path
        try:
            return SQLiteStateBackend(path)
        except Exception as exc:
            raise ConfigurationError(f"cannot open the state database {path}: {exc}") from exc
    if settings.backend == "redis":
        from .redis import RedisStateBackend  # noqa: PLC0415 - an optional extra

        return RedisStateBackend(settings.url, prefix=settings.prefix)
    return InMemoryStateBackend()
