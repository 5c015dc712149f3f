"""The in-memory result store: append-only records and claims, for one process."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import attrs

from ..typing import Claim
from .common import from_json, matches, superseded, to_json

if TYPE_CHECKING:
    from collections.abc import Callable

    from .._records import ScreeningRecord
    from ..typing import RecordQuery

__all__ = ["InMemoryResultStore"]

_Key = tuple[str, str]


class InMemoryResultStore:
    """Records in a dict, for tests, tools and benchmarks in one process.

    Append-only like every store: each save adds a version. Claims hold for their lease on
    a monotonic clock. With ``check_json=True`` each record is also written to JSON and read
    back, so that a test using this store proves that whatever it saves would survive a real
    database.

    Args:
        check_json: Round-trip every record through JSON on save.
        clock: The claims' clock, in seconds (injectable for tests).
    """

    def __init__(
        self, *, check_json: bool = False, clock: Callable[[], float] = time.monotonic
    ) -> None:
        """Create an empty store."""
        self._records: dict[_Key, list[ScreeningRecord]] = {}
        self._claims: dict[_Key, tuple[str, float]] = {}
        self._check_json = check_json
        self._clock = clock

    async def load(self, campaign_id: str, lead_id: str) -> ScreeningRecord | None:
        """The latest record of the lead, or ``None``."""
        versions = self._records.get((campaign_id, lead_id))
        return versions[-1] if versions else None

    async def claim(
        self, campaign_id: str, lead_id: str, *, owner: str, lease: float, seen_version: int
    ) -> Claim:
        """Take the screening of the lead for *owner*; see :class:`ResultStore.claim`."""
        key = (campaign_id, lead_id)
        latest = len(self._records.get(key, ()))
        if latest != seen_version:
            return Claim(granted=False, latest_version=latest)
        now = self._clock()
        held = self._claims.get(key)
        if held is not None and held[0] != owner and held[1] > now:
            return Claim(
                granted=False, latest_version=latest, holder=held[0], expires_in=held[1] - now
            )
        self._claims[key] = (owner, now + lease)
        taken_over = held is not None and held[0] != owner
        return Claim(granted=True, latest_version=latest, taken_over=taken_over)

    async def save(self, record: ScreeningRecord, *, owner: str | None = None) -> ScreeningRecord:
        """Append *record* as the lead's next version and end *owner*'s claim."""
        key = (record.campaign_id, record.lead_id)
        versions = self._records.setdefault(key, [])
        held = self._claims.get(key)
        record = superseded(record, None if held is None else held[0], owner)
        if self._check_json:
            record = from_json(to_json(record), 0)
        record = attrs.evolve(record, version=len(versions) + 1)
        versions.append(record)
        self._end_claim(key, owner)
        return record

    async def release(self, campaign_id: str, lead_id: str, *, owner: str) -> None:
        """End *owner*'s claim on the lead."""
        self._end_claim((campaign_id, lead_id), owner)

    def _end_claim(self, key: _Key, owner: str | None) -> None:
        held = self._claims.get(key)
        if held is not None and owner is not None and held[0] == owner:
            del self._claims[key]

    async def history(self, campaign_id: str, lead_id: str) -> list[ScreeningRecord]:
        """Every version of the lead's record, oldest first."""
        return list(self._records.get((campaign_id, lead_id), ()))

    async def find(self, query: RecordQuery) -> list[ScreeningRecord]:
        """The records *query* selects, oldest first."""
        found = [
            record
            for versions in self._records.values()
            for record in (versions[-1:] if query.latest_only else versions)
            if matches(record, query)
        ]
        found.sort(key=lambda r: (r.finished_at, r.version))
        return found if query.limit is None else found[: query.limit]

    def __len__(self) -> int:
        """The number of leads with a record."""
        return len(self._records)

    def lead_ids(self) -> list[str]:
        """The lead ids with a record, in the order first saved."""
        return [lead_id for _, lead_id in self._records]

    def clear(self) -> None:
        """Forget every record and claim."""
        self._records.clear()
        self._claims.clear()
