"""Result stores: one contract over memory, SQLite and PostgreSQL; SQLite across processes."""

from __future__ import annotations

import asyncio
import contextlib
import json
import multiprocessing
import sqlite3
from collections.abc import AsyncIterator, Callable, Coroutine
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import attrs
import pytest

from purecallerid import (
    Action,
    ConfigurationError,
    InMemoryResultStore,
    IntegrationRecord,
    IntegrationStatus,
    PostgresResultStore,
    ScreeningRecord,
    SQLiteResultStore,
    converter,
)
from purecallerid._stores.common import to_json
from purecallerid.typing import RecordQuery


def record(
    lead_id: str,
    decision: Action = Action.ACCEPT,
    *,
    campaign_id: str = "c",
    phone: str | None = None,
    finished_at: datetime | None = None,
) -> ScreeningRecord:
    now = finished_at or datetime.now(UTC)
    return ScreeningRecord(
        lead_id=lead_id,
        campaign_id=campaign_id,
        phone=phone,
        decision=decision,
        integrations=(
            IntegrationRecord(
                integration_id="a",
                kind="scripted",
                sort=1,
                status=IntegrationStatus.COMPLETED,
                action=decision,
                answer={"verdict": "ok", "extra": {"x": [1, 2]}},
            ),
        ),
        started_at=now,
        finished_at=now,
        duration=0.01,
        library_version="0",
        settings_hash="h",
    )


STORES = ["memory", "sqlite", "postgres"]


@pytest.fixture(params=STORES)
def open_store(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Callable[[], contextlib.AbstractAsyncContextManager[Any]]:
    """Opens this test's kind of store inside the running event loop (and closes it)."""
    kind = str(request.param)
    url = request.getfixturevalue("postgres_url") if kind == "postgres" else ""

    @contextlib.asynccontextmanager
    async def opened() -> AsyncIterator[Any]:
        if kind == "memory":
            yield InMemoryResultStore(check_json=True)
        elif kind == "sqlite":
            sqlite = SQLiteResultStore(tmp_path / "records.db")
            yield sqlite
            sqlite.close()
        else:
            postgres = PostgresResultStore(url)
            yield postgres
            await postgres.aclose()

    return opened


def run(coroutine: Coroutine[Any, Any, None]) -> None:
    asyncio.run(coroutine)


def test_records_are_appended_and_the_latest_is_loaded(open_store: Any) -> None:
    """Each save is a new version; load returns the latest, history every version in order."""

    async def go() -> None:
        async with open_store() as store:
            assert await store.load("c", "L1") is None
            first = await store.save(record("L1"))
            second = await store.save(record("L1", Action.REJECT))
            assert (first.version, second.version) == (1, 2)
            latest = await store.load("c", "L1")
            assert latest == second
            assert latest.version == 2
            assert latest.decision is Action.REJECT
            history = await store.history("c", "L1")
            assert [(r.version, r.decision) for r in history] == [
                (1, Action.ACCEPT),
                (2, Action.REJECT),
            ]

    run(go())


def test_the_same_lead_id_in_two_campaigns_is_two_leads(open_store: Any) -> None:
    """Records are keyed by (campaign, lead id)."""

    async def go() -> None:
        async with open_store() as store:
            await store.save(record("L1", Action.REJECT, campaign_id="a"))
            assert await store.load("b", "L1") is None
            await store.save(record("L1", Action.QA, campaign_id="b"))
            loaded_a, loaded_b = await store.load("a", "L1"), await store.load("b", "L1")
            assert (loaded_a.decision, loaded_b.decision) == (Action.REJECT, Action.QA)
            assert (loaded_a.version, loaded_b.version) == (1, 1)

    run(go())


def test_one_owner_holds_a_claim_until_it_saves(open_store: Any) -> None:
    """A claim is exclusive; saving ends it; a claim for a version already passed is refused."""

    async def go() -> None:
        async with open_store() as store:
            mine = await store.claim("c", "L1", owner="a", lease=30, seen_version=0)
            assert mine.granted
            assert not mine.taken_over
            theirs = await store.claim("c", "L1", owner="b", lease=30, seen_version=0)
            assert not theirs.granted
            assert theirs.holder == "a"
            assert 0 < theirs.expires_in <= 30
            again = await store.claim("c", "L1", owner="a", lease=30, seen_version=0)
            assert again.granted  # the owner may renew its own claim
            await store.save(record("L1"), owner="a")
            late = await store.claim("c", "L1", owner="b", lease=30, seen_version=0)
            assert (late.granted, late.latest_version) == (False, 1)
            rescreen = await store.claim("c", "L1", owner="b", lease=30, seen_version=1)
            assert rescreen.granted

    run(go())


def test_an_expired_claim_is_taken_over(open_store: Any) -> None:
    """Past its lease, a claim goes to the next caller, which is told it took it over."""

    async def go() -> None:
        async with open_store() as store:
            assert (await store.claim("c", "L1", owner="a", lease=0.2, seen_version=0)).granted
            await asyncio.sleep(0.35)
            claim = await store.claim("c", "L1", owner="b", lease=30, seen_version=0)
            assert claim.granted
            assert claim.taken_over
            # The dead owner's late save still appends (evidence is never lost); the live
            # owner's claim stands.
            await store.save(record("L1"), owner="a")
            assert not (await store.claim("c", "L1", owner="c", lease=30, seen_version=1)).granted

    run(go())


def test_release_ends_a_claim_without_a_record(open_store: Any) -> None:
    """A released claim leaves the lead free and without a record."""

    async def go() -> None:
        async with open_store() as store:
            assert (await store.claim("c", "L1", owner="a", lease=30, seen_version=0)).granted
            await store.release("c", "L1", owner="b")  # not b's: nothing happens
            assert not (await store.claim("c", "L1", owner="b", lease=30, seen_version=0)).granted
            await store.release("c", "L1", owner="a")
            assert (await store.claim("c", "L1", owner="b", lease=30, seen_version=0)).granted
            assert await store.load("c", "L1") is None

    run(go())


def test_concurrent_claims_grant_exactly_one(open_store: Any) -> None:
    """Twenty owners claiming one lead at once: one is granted."""

    async def go() -> None:
        async with open_store() as store:
            claims = await asyncio.gather(
                *(
                    store.claim("c", "L1", owner=f"o{n}", lease=30, seen_version=0)
                    for n in range(20)
                )
            )
            assert sum(claim.granted for claim in claims) == 1

    run(go())


def test_find_by_phone_campaign_decision_and_time(open_store: Any) -> None:
    """find() filters by phone, campaign, decision and time; latest versions unless asked."""
    base = datetime(2026, 11, 1, tzinfo=UTC)

    async def go() -> None:
        async with open_store() as store:
            await store.save(record("L1", phone="+12125550101", finished_at=base))
            await store.save(
                record("L1", Action.REJECT, phone="+12125550101",
                       finished_at=base + timedelta(days=2))
            )  # fmt: skip
            await store.save(
                record("L2", Action.QA, campaign_id="b", phone="+12125550102",
                       finished_at=base + timedelta(days=1))
            )  # fmt: skip
            by_phone = await store.find(RecordQuery(phone="+12125550101"))
            assert [(r.lead_id, r.version) for r in by_phone] == [("L1", 2)]
            every = await store.find(RecordQuery(phone="+12125550101", latest_only=False))
            assert [r.version for r in every] == [1, 2]
            assert [r.lead_id for r in await store.find(RecordQuery(campaign_id="b"))] == ["L2"]
            assert [r.lead_id for r in await store.find(RecordQuery(decision="reject"))] == ["L1"]
            window = RecordQuery(since=base + timedelta(hours=12), until=base + timedelta(days=2))
            assert [r.lead_id for r in await store.find(window)] == ["L2"]
            assert [r.lead_id for r in await store.find(RecordQuery())] == ["L2", "L1"]
            assert len(await store.find(RecordQuery(limit=1))) == 1

    run(go())


def test_awkward_text_survives_every_store(open_store: Any) -> None:
    """Quotes, backslashes, non-ASCII text and an escaped NUL look-alike come back as saved."""
    answer = {"q": 'it\'s \\u0000 "quoted"', "é": "日本", "nested": {"k": [1.5, None, True]}}

    async def go() -> None:
        async with open_store() as store:
            saved = record("L'1")
            saved = attrs.evolve(
                saved,
                integrations=(attrs.evolve(saved.integrations[0], answer=answer),),
            )
            await store.save(saved)
            loaded = await store.load("c", "L'1")
            assert loaded.integrations[0].answer == answer

    run(go())


def test_sqlite_upgrades_a_version_1_file(tmp_path: Path) -> None:
    """An older records file (one row per lead id) opens upgraded, every record kept."""
    path = tmp_path / "old.db"
    old = record("L1", Action.REJECT)
    with sqlite3.connect(path) as db:
        db.execute(
            "CREATE TABLE screening_records (lead_id TEXT PRIMARY KEY, campaign_id TEXT NOT NULL,"
            " decision TEXT NOT NULL, finished_at TEXT NOT NULL, record TEXT NOT NULL)"
        )
        text = json.dumps(
            {k: v for k, v in converter.unstructure(old).items()
             if k not in {"phone", "outcome_unknown", "version"}}
        )  # fmt: skip
        db.execute(
            "INSERT INTO screening_records VALUES (?, ?, ?, ?, ?)",
            ("L1", "c", "reject", old.finished_at.isoformat(), text),
        )
    store = SQLiteResultStore(path)
    loaded = asyncio.run(store.load("c", "L1"))
    assert loaded == attrs.evolve(old, version=1)
    assert store.count() == 1
    store.close()
    with sqlite3.connect(path) as db:
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master")}
        assert "screening_records" not in tables
        assert db.execute("SELECT version FROM purecallerid_schema").fetchone() == (2,)


def _writer(path: str, prefix: str, count: int) -> None:
    async def go() -> None:
        store = SQLiteResultStore(path)
        for i in range(count):
            await store.save(record(f"{prefix}{i}"))
        store.close()

    asyncio.run(go())


def test_sqlite_store_several_processes(tmp_path: Path) -> None:
    """Several processes writing one SQLite store lose no record."""
    path = str(tmp_path / "shared.db")
    SQLiteResultStore(path).close()
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_writer, args=(path, f"P{n}-", 50)) for n in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
        assert worker.exitcode == 0
    store = SQLiteResultStore(path)
    assert store.count() == 150
    store.close()


def _open_new(path: str, barrier_file: str) -> None:
    from purecallerid import SQLiteStateBackend  # noqa: PLC0415 - in the child process

    while not Path(barrier_file).exists():  # start together, to race on creating the file
        pass
    SQLiteResultStore(path).close()
    SQLiteStateBackend(path + ".state")._db.close()


def test_sqlite_files_opened_by_many_processes_at_once(tmp_path: Path) -> None:
    """Processes creating one SQLite database at the same moment all get in (no 'locked')."""
    path, go = str(tmp_path / "fresh.db"), tmp_path / "go"
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_open_new, args=(path, str(go))) for _ in range(6)]
    for worker in workers:
        worker.start()
    go.touch()
    for worker in workers:
        worker.join(60)
        assert worker.exitcode == 0


def test_text_no_database_can_hold_is_saved_replaced(open_store: Any) -> None:
    """A lone surrogate (legal in JSON, refused by UTF-8 databases) saves as U+FFFD anywhere."""

    async def go() -> None:
        async with open_store() as store:
            saved = attrs.evolve(record("L1"), note="odd \ud83d text", reasons=("x\udc80",))
            await store.save(saved)
            loaded = await store.load("c", "L1")
            assert loaded.note == "odd \ufffd text"
            assert loaded.reasons == ("x\ufffd",)

    run(go())


def test_a_late_save_after_a_takeover_is_kept_and_says_so(open_store: Any) -> None:
    """An owner saving after its claim was taken over: its record is kept, flagged."""

    async def go() -> None:
        async with open_store() as store:
            assert (await store.claim("c", "L1", owner="a", lease=0.2, seen_version=0)).granted
            await asyncio.sleep(0.35)
            assert (await store.claim("c", "L1", owner="b", lease=30, seen_version=0)).taken_over
            late = await store.save(record("L1"), owner="a")
            assert late.outcome_unknown is True
            assert late.note is not None
            assert "took the lead over" in late.note
            mine = await store.save(attrs.evolve(record("L1"), outcome_unknown=True), owner="b")
            assert [r.version for r in await store.history("c", "L1")] == [1, 2]
            assert mine.version == 2

    run(go())


def test_a_time_without_a_zone_is_utc_in_every_store(open_store: Any) -> None:
    """RecordQuery reads a naive since/until as UTC, whatever the store."""
    base = datetime(2026, 11, 1, 12, tzinfo=UTC)

    async def go() -> None:
        async with open_store() as store:
            await store.save(record("L1", finished_at=base))
            naive = base.replace(tzinfo=None)
            assert len(await store.find(RecordQuery(since=naive - timedelta(minutes=1)))) == 1
            assert await store.find(RecordQuery(since=naive + timedelta(minutes=1))) == []

    run(go())


def test_sqlite_upgrade_reads_naive_and_broken_times(tmp_path: Path) -> None:
    """A version 1 file with a naive or unreadable finish time still opens, every row kept."""
    path = tmp_path / "old.db"
    text = json.dumps(
        {k: v for k, v in converter.unstructure(record("L1")).items()
         if k not in {"phone", "outcome_unknown", "version"}}
    )  # fmt: skip
    with sqlite3.connect(path) as db:
        db.execute(
            "CREATE TABLE screening_records (lead_id TEXT PRIMARY KEY, campaign_id TEXT NOT NULL,"
            " decision TEXT NOT NULL, finished_at TEXT NOT NULL, record TEXT NOT NULL)"
        )
        db.execute("INSERT INTO screening_records VALUES ('L1', 'c', 'accept',"
                   " '2026-11-01T12:00:00', ?)", (text,))  # fmt: skip
        db.execute("INSERT INTO screening_records VALUES ('L2', 'c', 'accept', 'garbage', ?)",
                   (text.replace('"L1"', '"L2"'),))  # fmt: skip
    store = SQLiteResultStore(path)
    naive = datetime(2026, 11, 1, 11, 59, tzinfo=UTC).replace(tzinfo=None)  # as a v1 file wrote
    window = RecordQuery(since=naive, until=naive + timedelta(minutes=2))
    assert [r.lead_id for r in asyncio.run(store.find(window))] == ["L1"]
    assert store.count() == 2
    store.close()


def test_postgres_upgrades_a_schema_1_database(postgres_url: str) -> None:
    """A database of schema 1 (no functions) is brought to 2; its records stand and grow."""
    import psycopg  # noqa: PLC0415 - the postgres extra, for this test's own SQL

    async def go() -> None:
        first = PostgresResultStore(postgres_url)
        assert (await first.claim("c", "L1", owner="a", lease=30, seen_version=0)).granted
        old = await first.save(record("L1"), owner="a")
        await first.aclose()
        async with await psycopg.AsyncConnection.connect(postgres_url, autocommit=True) as db:
            await db.execute("DROP FUNCTION purecallerid_claim, purecallerid_save")
            await db.execute("UPDATE purecallerid_schema SET version = 1")
        store = PostgresResultStore(postgres_url)
        assert await store.load("c", "L1") == old
        assert (await store.claim("c", "L1", owner="b", lease=30, seen_version=1)).granted
        assert (await store.save(record("L1", Action.REJECT), owner="b")).version == 2
        await store.aclose()
        async with await psycopg.AsyncConnection.connect(postgres_url) as db:
            cursor = await db.execute("SELECT version FROM purecallerid_schema")
            assert await cursor.fetchall() == [(2,)]

    run(go())


def test_postgres_claim_and_save_are_one_statement_each(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A claim, a save by the claim's owner and a load: one statement each, no transaction."""
    import psycopg  # noqa: PLC0415 - the postgres extra, whose connection is counted

    sent: list[str] = []
    execute = psycopg.AsyncConnection.execute
    transaction = psycopg.AsyncConnection.transaction

    def counted_execute(self: Any, query: Any, *args: Any, **kwargs: Any) -> Any:
        sent.append(str(query))
        return execute(self, query, *args, **kwargs)

    def counted_transaction(self: Any, *args: Any, **kwargs: Any) -> Any:
        sent.append("BEGIN")
        return transaction(self, *args, **kwargs)

    async def go() -> None:
        store = PostgresResultStore(postgres_url)
        await store.load("c", "warm-up")  # the pool opened and the schema made
        monkeypatch.setattr(psycopg.AsyncConnection, "execute", counted_execute)
        monkeypatch.setattr(psycopg.AsyncConnection, "transaction", counted_transaction)
        assert (await store.claim("c", "L1", owner="a", lease=30, seen_version=0)).granted
        assert len(sent) == 1
        saved = await store.save(record("L1"), owner="a")
        assert len(sent) == 2
        assert await store.load("c", "L1") == saved
        assert len(sent) == 3
        assert "BEGIN" not in sent
        monkeypatch.undo()
        await store.aclose()

    run(go())


def test_postgres_claims_of_many_leads_from_two_pools_grant_one_each(postgres_url: str) -> None:
    """Two stores (two pools, as two workers), three owners each, 60 leads at once."""

    async def go() -> None:
        stores = [PostgresResultStore(postgres_url, max_size=8) for _ in range(2)]
        leads = [f"L{n}" for n in range(60)]
        claims = await asyncio.gather(
            *(
                store.claim("c", lead, owner=f"w{s}-{o}", lease=30, seen_version=0)
                for lead in leads
                for s, store in enumerate(stores)
                for o in range(3)
            )
        )
        granted = [claim.granted for claim in claims]
        assert [sum(granted[n * 6 : n * 6 + 6]) for n in range(len(leads))] == [1] * len(leads)
        refused = [claim for claim in claims if not claim.granted]
        assert all(claim.holder is not None and claim.expires_in for claim in refused)
        assert all(claim.latest_version == 0 for claim in claims)
        for store in stores:
            await store.aclose()

    run(go())


def test_postgres_claims_read_committed_state_whatever_the_database_default(
    postgres_url: str,
) -> None:
    """A database defaulting to REPEATABLE READ: a claim waiting on the lead's lock still
    sees the record another worker saved under it, and is refused (no second screening)."""
    import psycopg  # noqa: PLC0415 - the postgres extra, for this test's own SQL

    async def waiting_on_a_lock(watch: psycopg.AsyncConnection[Any]) -> bool:
        cursor = await watch.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE wait_event_type = 'Lock' AND query LIKE '%purecallerid_claim%'"
        )
        row = await cursor.fetchone()
        return row is not None and int(row[0]) > 0

    async def go() -> None:
        async with await psycopg.AsyncConnection.connect(postgres_url, autocommit=True) as db:
            cursor = await db.execute("SELECT current_database()")
            row = await cursor.fetchone()
            assert row is not None
            await db.execute(
                f"ALTER DATABASE \"{row[0]}\" SET default_transaction_isolation = 'repeatable read'"
            )
        store = PostgresResultStore(postgres_url)
        await store.load("c", "warm-up")  # the schema made
        other = await psycopg.AsyncConnection.connect(postgres_url)  # another worker's save
        watch = await psycopg.AsyncConnection.connect(postgres_url, autocommit=True)
        await other.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended('c' || chr(31) || 'L1', 0))"
        )
        claim = asyncio.create_task(store.claim("c", "L1", owner="b", lease=30, seen_version=0))
        for _ in range(500):
            if await waiting_on_a_lock(watch):
                break
            await asyncio.sleep(0.01)
        else:
            pytest.fail("the claim never waited for the lead's lock")
        await other.execute(
            "INSERT INTO purecallerid_records VALUES"
            " ('c', 'L1', 1, 'accept', NULL, now(), %s::jsonb)",
            (to_json(record("L1"), for_jsonb=True),),
        )
        await other.commit()
        result = await claim
        assert not result.granted
        assert result.latest_version == 1
        for connection in (other, watch):
            await connection.close()
        await store.aclose()

    run(go())


def test_postgres_a_late_save_stays_marked_when_the_taker_saves_meanwhile(
    postgres_url: str,
) -> None:
    """A's claim taken over by B; B saves between A's two round trips: A's record is still
    kept marked as screened twice (the holder A's first round trip saw decides)."""

    async def go() -> None:
        late, taker = PostgresResultStore(postgres_url), PostgresResultStore(postgres_url)
        assert (await late.claim("c", "L1", owner="a", lease=0.05, seen_version=0)).granted
        await asyncio.sleep(0.2)
        assert (await taker.claim("c", "L1", owner="b", lease=30, seen_version=0)).taken_over
        pool = await late._connection()
        real = pool.connection
        opened: list[int] = []

        @contextlib.asynccontextmanager
        async def connection(*args: Any, **kwargs: Any) -> AsyncIterator[Any]:
            opened.append(1)
            if len(opened) == 2:  # the late save's second round trip: the taker saves first
                await taker.save(record("L1"), owner="b")
            async with real(*args, **kwargs) as db:
                yield db

        pool.connection = connection  # type: ignore[method-assign]
        saved = await late.save(record("L1"), owner="a")
        assert len(opened) == 2
        assert saved.version == 2
        assert saved.outcome_unknown is True
        assert saved.note is not None
        assert "took the lead over" in saved.note
        history = await late.history("c", "L1")
        assert [(r.version, r.outcome_unknown) for r in history] == [(1, False), (2, True)]
        await late.aclose()
        await taker.aclose()

    run(go())


def test_postgres_missing_functions_are_named(postgres_url: str) -> None:
    """Functions dropped from a database at schema 2: the error says which and why."""
    import psycopg  # noqa: PLC0415 - the postgres extra, for this test's own SQL

    async def go() -> None:
        store = PostgresResultStore(postgres_url)
        await store.load("c", "warm-up")
        async with await psycopg.AsyncConnection.connect(postgres_url, autocommit=True) as db:
            await db.execute("DROP FUNCTION purecallerid_claim, purecallerid_save")
        with pytest.raises(ConfigurationError, match="functions purecallerid_claim"):
            await store.claim("c", "L1", owner="a", lease=30, seen_version=0)
        with pytest.raises(ConfigurationError, match="schema version 2"):
            await store.save(record("L1"), owner="a")
        await store.aclose()

    run(go())


def test_a_claim_against_a_version_no_store_holds_is_refused(open_store: Any) -> None:
    """A seen version beyond any stored one (past 32 bits too) is stale, not an error."""

    async def go() -> None:
        async with open_store() as store:
            for seen in (2**31, 2**63, 10**30, -1):
                claim = await store.claim("c", "L1", owner="a", lease=30, seen_version=seen)
                assert not claim.granted
                assert claim.latest_version == 0

    run(go())


def test_ids_that_look_like_sql_or_separators_claim_and_save_as_themselves(
    open_store: Any,
) -> None:
    """Quotes, dollar quotes, placeholders, backslashes, the unit separator the PostgreSQL lock
    key joins with: each id is its own lead, claimed once, saved as version 1."""
    awkward = ["it's", "$$;DROP TABLE x;$$", "%s%%", "back\\slash", "a\x1fb", "日本"]

    async def go() -> None:
        async with open_store() as store:
            for lead_id in awkward:
                first = await store.claim("c\x1f", lead_id, owner="a", lease=30, seen_version=0)
                second = await store.claim("c\x1f", lead_id, owner="b", lease=30, seen_version=0)
                assert (first.granted, second.granted) == (True, False), lead_id
                saved = await store.save(record(lead_id, campaign_id="c\x1f"), owner="a")
                assert saved.version == 1
                assert await store.load("c\x1f", lead_id) == saved
            assert await store.load("c", "\x1fit's") is None

    run(go())
