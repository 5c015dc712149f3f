"""The host's own suppression (Do-Not-Call) list as an integration: no HTTP, same flow.

It proves the design: the same field mapping finds the phone, the same rule engine judges the
answer, and the same record keeps the evidence. Lists come through a small protocol,
:class:`SuppressionList`, with three implementations: in memory, a CSV file, a SQLite table.
"""

from __future__ import annotations

import csv
import sqlite3
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Protocol, runtime_checkable

from attrs import frozen

from .._errors import ConfigurationError, SuppressionListError
from .._mapping import DEFAULT_FIELD_MAPPING, FieldMapping
from .._phone import PhoneFormat, normalize_phone
from .._rules.fields import FieldRegistry, FieldSpec, FieldType
from .._sqlite import open_shared
from ..typing import IntegrationAnswer

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from .._models import Lead
    from .._settings import IntegrationSettings

__all__ = [
    "SUPPRESSION_FIELDS",
    "CSVSuppressionList",
    "InMemorySuppressionList",
    "SQLiteSuppressionList",
    "SuppressionEntry",
    "SuppressionIntegration",
    "SuppressionList",
]


@frozen(kw_only=True)
class SuppressionEntry:
    """One suppressed number.

    Attributes:
        phone: The number in E.164 (``+12125550102``).
        reason: Why it is suppressed (``"customer request"``, ``"DNC"``...), if known.
    """

    phone: str
    reason: str | None = None


@runtime_checkable
class SuppressionList(Protocol):
    """A list of numbers not to call. Implemented by the library's lists or by the host.

    :meth:`lookup` is called once per lead by :class:`SuppressionIntegration`, with the phone
    in E.164; it should be fast (an index lookup), since it runs on the lead's path.
    """

    def lookup(self, phone: str) -> SuppressionEntry | None:
        """Return the entry for *phone* (E.164), or ``None`` if it is not suppressed."""
        ...


def _e164(value: str, region: str) -> str:
    return normalize_phone(value, region=region)


class InMemorySuppressionList:
    """A suppression list held in a dict.

    Args:
        entries: Phone numbers in any format people type, or ``(phone, reason)`` pairs.
        region: The region of numbers written without a country code.
    """

    def __init__(
        self, entries: Iterable[str | tuple[str, str | None]] = (), *, region: str = "US"
    ) -> None:
        """Create the list from *entries*."""
        self._region = region
        self._entries: dict[str, SuppressionEntry] = {}
        for entry in entries:
            phone, reason = (entry, None) if isinstance(entry, str) else entry
            self.add(phone, reason)

    def add(self, phone: str, reason: str | None = None) -> None:
        """Suppress *phone* (any format), with an optional reason."""
        e164 = _e164(phone, self._region)
        self._entries[e164] = SuppressionEntry(phone=e164, reason=reason)

    def lookup(self, phone: str) -> SuppressionEntry | None:
        """Return the entry for *phone* (E.164), or ``None``."""
        return self._entries.get(phone)

    def __len__(self) -> int:
        """The number of suppressed numbers."""
        return len(self._entries)


class CSVSuppressionList(InMemorySuppressionList):
    """A suppression list read from a CSV file with a ``phone`` column (``reason`` optional).

    The file is read once, when the list is built. Every row must hold a valid phone: a list
    that silently dropped rows would let suppressed numbers through, so bad rows are a
    :class:`purecallerid.ConfigurationError` naming each line.

    Args:
        path: The CSV file (UTF-8, header row).
        region: The region of numbers written without a country code.
    """

    def __init__(self, path: str | Path, *, region: str = "US") -> None:
        """Read the list from *path*."""
        super().__init__(region=region)
        self.path = Path(path)
        problems: list[str] = []
        try:
            with self.path.open(newline="", encoding="utf-8") as file:
                reader = csv.DictReader(file)
                if reader.fieldnames is None or "phone" not in reader.fieldnames:
                    raise ConfigurationError(f"{self.path}: the CSV has no 'phone' column")
                for row in reader:
                    try:
                        self.add(row.get("phone") or "", (row.get("reason") or "").strip() or None)
                    except ValueError as exc:
                        problems.append(f"line {reader.line_num}: {exc}")
        except (OSError, UnicodeDecodeError, csv.Error) as exc:
            raise ConfigurationError(
                f"{self.path}: cannot read the suppression list: {exc}"
            ) from None
        if problems:
            shown = "; ".join(problems[:10])
            more = f" (and {len(problems) - 10} more)" if len(problems) > 10 else ""  # noqa: PLR2004
            raise ConfigurationError(f"{self.path}: invalid rows: {shown}{more}")


class SQLiteSuppressionList:
    """A suppression list in a SQLite table ``suppression(phone PRIMARY KEY, reason)``.

    Phones are stored in E.164. Safe to share between processes on one host.

    Args:
        path: The database file (created with its table when missing).
        region: The region of numbers written without a country code, for :meth:`add`.
    """

    def __init__(self, path: str | Path, *, region: str = "US") -> None:
        """Open (and create if needed) the list at *path*."""
        self.path = str(path)
        self._region = region
        self._lock = threading.Lock()
        self._db = open_shared(
            self.path,
            busy_timeout=5.0,
            setup=["CREATE TABLE IF NOT EXISTS suppression (phone TEXT PRIMARY KEY, reason TEXT)"],
        )

    def add(self, phone: str, reason: str | None = None) -> None:
        """Suppress *phone* (any format), with an optional reason."""
        e164 = _e164(phone, self._region)
        with self._lock:
            self._db.execute(
                "INSERT INTO suppression VALUES (?, ?) "
                "ON CONFLICT(phone) DO UPDATE SET reason=excluded.reason",
                (e164, reason),
            )

    def lookup(self, phone: str) -> SuppressionEntry | None:
        """Return the entry for *phone* (E.164), or ``None``."""
        with self._lock:
            row = self._db.execute(
                "SELECT phone, reason FROM suppression WHERE phone = ?", (phone,)
            ).fetchone()
        return None if row is None else SuppressionEntry(phone=row[0], reason=row[1])

    def close(self) -> None:
        """Close the database connection."""
        with self._lock:
            self._db.close()


SUPPRESSION_FIELDS: Final = FieldRegistry(
    integration="suppression",
    extra=False,
    fields=(
        FieldSpec(
            name="status",
            type=FieldType.STRING,
            values=("Suppressed", "Clear"),
            open_values=False,
            description="Suppressed when the phone is on the list, else Clear.",
        ),
        FieldSpec(
            name="suppressed",
            type=FieldType.BOOLEAN,
            description="Whether the phone is on the list.",
        ),
        FieldSpec(
            name="reason",
            type=FieldType.STRING,
            description="The list entry's reason, when it has one.",
        ),
        FieldSpec(
            name="list",
            type=FieldType.STRING,
            description="Which list was consulted.",
        ),
    ),
)
"""The answer fields of :class:`SuppressionIntegration`, for rules."""

_PHONE_ONLY: Final = FieldMapping(
    targets={"phone": DEFAULT_FIELD_MAPPING.targets["phone"]},
    phone_format=PhoneFormat.E164,
)


class SuppressionIntegration:
    """Screens leads against a suppression list. Kind ``"suppression"`` by default.

    The list comes from the integration's settings ``options``: ``csv = "path.csv"``,
    ``sqlite = "path.db"``, or ``list = "name"`` for a list given here in *lists*. A list
    opened from a path is opened once and reused.

    Its answer has ``status`` (``Suppressed`` / ``Clear``), ``suppressed`` (bool),
    ``reason`` and ``list``; a typical rule is ``reject when suppressed is true``.

    Args:
        lists: Named lists that settings can refer to with ``options.list``.
        kind: The kind name settings use to select this integration.
        base_dir: Where relative ``csv`` / ``sqlite`` paths are resolved.
    """

    def __init__(
        self,
        lists: Mapping[str, SuppressionList] | None = None,
        *,
        kind: str = "suppression",
        base_dir: str | Path = ".",
    ) -> None:
        """Create the integration; see the class docstring for the arguments."""
        self._lists: dict[str, SuppressionList] = dict(lists or {})
        self._kind = kind
        self._base_dir = Path(base_dir)
        self._lock = threading.Lock()

    @property
    def kind(self) -> str:
        """The kind name (``"suppression"`` by default)."""
        return self._kind

    @property
    def fields(self) -> FieldRegistry:
        """:data:`SUPPRESSION_FIELDS`."""
        return SUPPRESSION_FIELDS

    def check_settings(self, settings: IntegrationSettings) -> list[str]:
        """Check that the settings name one list that can be opened."""
        options = settings.options
        if settings.mapping is not None and "phone" not in settings.mapping.targets:
            return ["mapping: a suppression list needs a 'phone' target"]
        given = [key for key in ("csv", "sqlite", "list") if key in options]
        if len(given) != 1:
            return ["options: give exactly one of csv, sqlite or list"]
        try:
            self._list_for(options)
        except (ConfigurationError, KeyError, OSError, sqlite3.Error) as exc:
            return [f"options.{given[0]}: {exc}"]
        return []

    def _list_for(self, options: Mapping[str, Any]) -> SuppressionList:
        with self._lock:
            if "list" in options:
                name = str(options["list"])
                if name not in self._lists:
                    raise ConfigurationError(f"no suppression list named {name!r} was given")
                return self._lists[name]
            key, opener = (
                ("csv", CSVSuppressionList)
                if "csv" in options
                else ("sqlite", SQLiteSuppressionList)
            )
            path = self._base_dir / str(options[key])
            cache_key = f"{key}:{path}"
            if cache_key not in self._lists:
                self._lists[cache_key] = opener(path)
            return self._lists[cache_key]

    async def screen(
        self, lead: Lead, settings: IntegrationSettings, *, deadline: float
    ) -> IntegrationAnswer:
        """Look the lead's phone up in the list."""
        del deadline  # a local lookup does not wait on anything
        mapping = settings.mapping or _PHONE_ONLY
        phone = _e164(mapping.map_payload(lead)["phone"], mapping.phone_region)
        try:
            found = self._list_for(settings.options).lookup(phone)
        except (OSError, sqlite3.Error, csv.Error, ConfigurationError) as exc:
            # The list could not be read: the lead is neither cleared nor suppressed.
            raise SuppressionListError(f"the suppression list could not be read: {exc}") from exc
        name = str(
            settings.options.get("list")
            or settings.options.get("csv")
            or settings.options.get("sqlite")
        )
        answer = {
            "status": "Suppressed" if found else "Clear",
            "suppressed": found is not None,
            "reason": None if found is None else found.reason,
            "list": name,
        }
        return IntegrationAnswer(answer=answer, raw=None)

    async def aclose(self) -> None:
        """Close the lists this integration opened itself."""
        with self._lock:
            for key, opened in self._lists.items():
                if key.startswith("sqlite:") and isinstance(opened, SQLiteSuppressionList):
                    opened.close()
