"""The ``options`` of a suppression integration: which list, checked with paths, and opened.

Exactly one option names the list (:data:`LIST_OPTIONS`); the PostgreSQL and Redis lists take
a few more (:data:`MORE_OPTIONS`). A password never sits in ``options``, which are shown and
hashed with the settings: it comes from ``credentials.password``, a masked secret.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any, Final

from attrs import frozen

from ..._errors import ConfigurationError
from .lists import CSVSuppressionList, SQLiteSuppressionList
from .postgres import PostgresSuppressionList, dsn_password, table_name
from .redis import RedisSuppressionList, url_password

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from pathlib import Path

    from ..._secrets import Secret
    from ..._settings import IntegrationSettings
    from .lists import AsyncSuppressionList, SuppressionList

__all__ = [
    "LIST_OPTIONS",
    "MORE_OPTIONS",
    "OPTION_KEYS",
    "ListSource",
    "credential_problems",
    "open_list",
    "problems",
]

LIST_OPTIONS: Final = ("csv", "sqlite", "list", "postgres", "redis")
"""The options naming a list: a settings gives exactly one."""
MORE_OPTIONS: Final[dict[str, tuple[str, ...]]] = {
    "postgres": ("table", "create"),
    "redis": ("key", "reasons"),
}
"""The options a list takes besides the one naming it."""
OPTION_KEYS: Final = (*LIST_OPTIONS, *(key for more in MORE_OPTIONS.values() for key in more))
"""Every option of the suppression kind (the configuration reference lists them)."""

_HINT: Final = (
    "the URL holds a password: give it as credentials.password, where it is masked (options"
    " are shown and hashed with the settings)"
)


def _text(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigurationError("must be non-empty text")
    return value


def _postgres(value: object) -> str:
    if dsn_password(_text(value)) is not None:
        raise ConfigurationError(_HINT)
    return str(value)


def _redis(value: object) -> str:
    if url_password(_text(value)) is not None:
        raise ConfigurationError(_HINT)
    return str(value)


def _flag(value: object) -> bool:
    if not isinstance(value, bool):
        raise ConfigurationError("must be true or false")
    return value


_CHECKS: Final[dict[str, Callable[[object], object]]] = {
    "csv": _text,
    "sqlite": _text,
    "list": _text,
    "postgres": _postgres,
    "table": table_name,
    "create": _flag,
    "redis": _redis,
    "key": _text,
    "reasons": _text,
}


def problems(options: Mapping[str, Any]) -> list[str]:
    """Every problem of *options*, each with its path; empty when they name one usable list."""
    given = [key for key in LIST_OPTIONS if key in options]
    if len(given) != 1:
        return ["options: give exactly one of csv, sqlite, list, postgres or redis"]
    allowed = (given[0], *MORE_OPTIONS.get(given[0], ()))
    found: list[str] = []
    for key, value in options.items():
        if key not in allowed:
            takes = ", ".join(allowed)
            found.append(f"options.{key}: not an option of a {given[0]} list (it takes {takes})")
            continue
        try:
            _CHECKS[key](value)
        except ConfigurationError as exc:
            found.append(f"options.{key}: {exc}")
    return found


def credential_problems(settings: IntegrationSettings) -> list[str]:
    """The credentials *settings* give that their list does not take (only a server's password).

    Call it once :func:`problems` found none in the options.
    """
    credentials = settings.credentials
    given = [
        name
        for name in ("api_token", "campaign_id", "list_name", "dialer_list_id")
        if getattr(credentials, name) is not None
    ]
    given += [name for name in credentials.secrets if name != "password"]
    found = [
        f"credentials.{name}: not a suppression list credential (only password)" for name in given
    ]
    option = next(key for key in LIST_OPTIONS if key in settings.options)
    if "password" in credentials.secrets and option not in MORE_OPTIONS:
        found.append(f"credentials.password: a {option} list takes no password")
    return found


@frozen
class ListSource:
    """Where a settings' list comes from.

    Attributes:
        option: The option naming it (``csv``, ``postgres``...).
        name: The name the answer's ``list`` field gives it: the list's name, the file as
            written, ``postgres:<table>`` or ``redis:<key>`` (never a URL).
        key: Identifies the list among those opened (settings naming the same one share it).
    """

    option: str
    name: str
    key: str

    @classmethod
    def of(cls, settings: IntegrationSettings, base_dir: Path) -> ListSource:
        """The source of *settings* (whose options :func:`problems` found none in)."""
        options = settings.options
        option = next((key for key in LIST_OPTIONS if key in options), None)
        if option is None:  # settings the integration never checked
            raise ConfigurationError("options name no suppression list")
        value = str(options[option])
        if option == "list":
            return cls(option, value, f"list:{value}")
        if option in {"csv", "sqlite"}:
            return cls(option, value, f"{option}:{base_dir / value}")
        extras = [str(options.get(key)) for key in MORE_OPTIONS[option]]
        # The password is part of what makes two lists the same, but only as a digest.
        password = _password(settings)
        digest = "" if password is None else hashlib.sha256(password.reveal().encode()).hexdigest()
        name = options.get("table" if option == "postgres" else "key", "suppression")
        return cls(option, f"{option}:{name}", ":".join([option, value, *extras, digest]))


def _password(settings: IntegrationSettings) -> Secret | None:
    return settings.credentials.secrets.get("password")


def open_list(
    settings: IntegrationSettings, base_dir: Path
) -> SuppressionList | AsyncSuppressionList:
    """Open the list *settings* name by a file or a server (not a list named with ``list``)."""
    options = settings.options
    if "csv" in options:
        return CSVSuppressionList(base_dir / str(options["csv"]))
    if "sqlite" in options:
        return SQLiteSuppressionList(base_dir / str(options["sqlite"]))
    if "postgres" in options:
        return PostgresSuppressionList(
            str(options["postgres"]),
            table=str(options.get("table", "suppression")),
            create=bool(options.get("create", False)),
            password=_password(settings),
        )
    reasons = options.get("reasons")
    return RedisSuppressionList(
        str(options["redis"]),
        key=str(options.get("key", "suppression")),
        reasons=None if reasons is None else str(reasons),
        password=_password(settings),
    )
