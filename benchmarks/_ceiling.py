"""The ceiling of a ``screen`` row on this machine: a bare pipeline, no library, in a fresh process.

What a row of ``purecallerid screen`` cannot do without, written by hand: read the leads CSV
(``csv``, streamed), POST each lead with a bare ``aiohttp.ClientSession`` to the simulator
(``/singleLeadLoading``, the JSON body the library sends), read the JSON answer, write a record
of the library's size (a real record the library wrote, with the lead's own fields put in) to
the records store and a result CSV row of the library's columns, with
``bench_cli_memory.CONCURRENCY`` workers in flight. Like ``bench_cli_memory``'s screen, it runs
in a fresh process and times its main only (imports and start-up excluded); CPU is the whole
process's (the store's worker thread included).

Two stores, as the two ``screen`` targets:

- SQLite: one file in WAL mode, ``synchronous=NORMAL``, the records appended in batches of 128
  (``executemany`` and a commit in a worker thread, ``asyncio.to_thread``, one batch at a time).
  The table has the library's columns and primary key, not its four lookup indexes.
- PostgreSQL + Redis: per row, one autocommit ``INSERT`` of the record (``jsonb``) through a
  ``psycopg_pool`` pool of as many connections as workers, and two Redis round trips (the
  library's guards make two per lead: the admission, breaker, quota and turn in one script,
  and the breaker's record of the outcome; here two plain commands).

Less than a row of the library does (no claim, no record version read, no ordering of the
output, no progress): a ceiling, not a rival. ``make bench`` runs it (``run.py``); run alone,
``python benchmarks/_ceiling.py [ROWS]`` measures the SQLite pipeline against its own simulator.
"""

from __future__ import annotations

import asyncio
import csv
import json
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, TextIO

import aiohttp

import bench_cli_memory

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator

BATCH: Final = 128
COLUMNS: Final = (
    "line", "lead_id", "decision", "reasons", "flags", "decided_by", "error",
    "pcid.status", "pcid.action", "pcid.answer", "pcid.reason", "pcid.message",
)  # fmt: skip
_CREATE: Final = """CREATE TABLE lead_records (
    campaign_id TEXT NOT NULL,
    lead_id     TEXT NOT NULL,
    version     INTEGER NOT NULL,
    decision    TEXT NOT NULL,
    phone       TEXT,
    finished_at TEXT NOT NULL,
    record      {record} NOT NULL,
    PRIMARY KEY (campaign_id, lead_id, version)
)"""
Row = tuple[str, str, int, str, str, str, str]  # a lead_records row


class Pipeline:
    """One leads CSV screened by hand; each store's writing in a subclass."""

    def __init__(self, config: dict[str, Any]) -> None:
        """Take the run's *config* (see :func:`run`)."""
        self.config = config
        self.url = config["url"] + "/singleLeadLoading"
        record: dict[str, Any] = json.loads(config["record"])
        self.template = record
        self.integration: dict[str, Any] = record["integrations"][0]

    def record(self, lead: dict[str, str], body: dict[str, str], raw: str) -> str:
        """The lead's record: the library's, with this lead's request, answer and fields."""
        request = {**self.integration["request"], "body": {**body, "apiToken": "***"}}
        integration = {**self.integration, "request": request, "raw": raw}
        return json.dumps(
            {
                **self.template,
                "lead_id": lead["lead_id"],
                "phone": "+1" + body["phone"],
                "integrations": [integration],
            }
        )

    async def open(self) -> None:
        """Open the store."""

    async def write(self, row: Row) -> None:
        """Store one record."""
        raise NotImplementedError

    async def close(self) -> None:
        """Write what is left and close the store."""

    async def main(self, leads_file: TextIO, out_file: TextIO) -> None:
        """Screen every lead of *leads_file*, ``concurrency`` at a time, into *out_file*."""
        await self.open()
        leads = enumerate(csv.DictReader(leads_file), start=2)
        out = csv.writer(out_file)
        out.writerow(COLUMNS)
        async with aiohttp.ClientSession() as session:
            workers = (
                self.worker(session, leads, out.writerow) for _ in range(self.config["concurrency"])
            )
            await asyncio.gather(*workers)
        await self.close()

    async def worker(
        self,
        session: aiohttp.ClientSession,
        leads: Iterator[tuple[int, dict[str, str]]],
        write_row: Callable[[Iterable[object]], object],
    ) -> None:
        """Take the next lead until there is none (the iterator is shared: no await in it)."""
        token = self.config["token"]
        for line, lead in leads:
            body = {
                "campaignId": "C1",
                "listName": "Main",
                "apiToken": token,
                "phone": lead["phone"].replace("-", ""),
                "zip": lead["zip"],
                "firstName": lead["first_name"],
                "lastName": lead["last_name"],
                "email": lead["email"],
            }
            async with session.post(self.url, json=body) as response:
                raw = await response.text()
            answer = json.loads(raw)
            status = answer.get("status", "")
            decision = "accept" if status == "Accepted" else "reject"
            finished = time.strftime("%Y-%m-%dT%H:%M:%S")
            text = self.record(lead, body, raw)
            await self.write(("bulk", lead["lead_id"], 1, decision, body["phone"], finished, text))
            write_row(
                (line, lead["lead_id"], decision, "", "", "", "", "completed", decision,
                 status, answer.get("reason") or "", answer.get("message") or "")
            )  # fmt: skip


class SQLitePipeline(Pipeline):
    """Records to a SQLite file, in batches written by a worker thread."""

    async def open(self) -> None:
        """Create the file and its table."""
        self.db = sqlite3.connect(self.config["db"], check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute(_CREATE.format(record="TEXT"))
        self.db.commit()
        self.pending: list[Row] = []
        self.lock = asyncio.Lock()  # one batch at a time on the one connection

    def _insert(self, batch: list[Row]) -> None:
        self.db.executemany("INSERT INTO lead_records VALUES (?, ?, ?, ?, ?, ?, ?)", batch)
        self.db.commit()

    async def write(self, row: Row) -> None:
        """Add *row* to the batch; the row that fills it writes it."""
        self.pending.append(row)
        if len(self.pending) >= BATCH:
            batch, self.pending = self.pending, []
            async with self.lock:
                await asyncio.to_thread(self._insert, batch)

    async def close(self) -> None:
        """Write the last batch."""
        async with self.lock:
            await asyncio.to_thread(self._insert, self.pending)
        self.db.close()


class PostgresRedisPipeline(Pipeline):
    """Records to PostgreSQL, one INSERT each, after two Redis round trips."""

    async def open(self) -> None:
        """Open the pool and the Redis client; create the table."""
        import psycopg_pool  # noqa: PLC0415 - only this pipeline needs it
        import redis.asyncio  # noqa: PLC0415

        self.pool = psycopg_pool.AsyncConnectionPool(
            self.config["db"],
            min_size=self.config["concurrency"],
            max_size=self.config["concurrency"],
            kwargs={"autocommit": True},
            open=False,
        )
        await self.pool.open(wait=True)
        async with self.pool.connection() as db:
            await db.execute(_CREATE.format(record="jsonb"))
        self.redis = redis.asyncio.Redis.from_url(self.config["redis_url"])

    async def write(self, row: Row) -> None:
        """Two Redis round trips (the guards' share), then the INSERT."""
        await self.redis.incr("bare:admission")
        await self.redis.set("bare:breaker", "closed", px=60_000)
        async with self.pool.connection() as db:
            await db.execute(
                "INSERT INTO lead_records VALUES (%s, %s, %s, %s, %s, %s, %s::jsonb)", row
            )

    async def close(self) -> None:
        """Close the pool and the client."""
        await self.redis.aclose()
        await self.pool.close()


def child(config: dict[str, Any]) -> dict[str, Any]:
    """In the fresh process: run the pipeline; its seconds and CPU seconds."""
    kind = PostgresRedisPipeline if config.get("redis_url") else SQLitePipeline
    pipeline = kind(config)
    started, cpu = time.perf_counter(), time.process_time()
    with (
        Path(config["leads"]).open(newline="") as leads_file,
        Path(config["out"]).open("w", newline="") as out_file,
    ):
        asyncio.run(pipeline.main(leads_file, out_file))
    return {
        "seconds": time.perf_counter() - started,
        "cpu_s": time.process_time() - cpu,
        "peak_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    }


def run(
    url: str,
    rows: int,
    record: str,
    *,
    db: str | None = None,
    redis_url: str | None = None,
) -> dict[str, Any]:
    """Screen *rows* leads by hand against the simulator at *url*, in a fresh process.

    *record* is the JSON text of a record the library wrote; with *db* (a PostgreSQL URL) and
    *redis_url*, the PostgreSQL + Redis pipeline, else SQLite (a file in a temporary folder).
    """
    with tempfile.TemporaryDirectory() as folder:
        leads = Path(folder) / "leads.csv"
        bench_cli_memory.write_leads(leads, rows)  # the library's screen reads the same
        config: dict[str, Any] = {
            "url": url,
            "leads": str(leads),
            "out": str(Path(folder) / "out.csv"),
            "db": db or str(Path(folder) / "records.db"),
            "redis_url": redis_url,
            "record": record,
            "token": bench_cli_memory.TOKEN,
            "concurrency": bench_cli_memory.CONCURRENCY,
        }
        done = subprocess.run(
            [sys.executable, __file__, "--child"],
            input=json.dumps(config),
            capture_output=True,
            text=True,
            check=False,
        )
        line = next((x for x in done.stdout.splitlines() if x.startswith("BENCH ")), None)
        if line is None:
            raise RuntimeError(f"the bare pipeline failed: {done.stderr[-2000:]}")
        with Path(config["out"]).open() as out:
            written = sum(1 for _ in out) - 1
    if written != rows:
        raise RuntimeError(f"the bare pipeline wrote {written} rows of {rows}")
    result: dict[str, Any] = json.loads(line.removeprefix("BENCH "))
    result |= {
        "rows": rows,
        "rows_per_s": rows / result["seconds"],
        "cpu_us_per_row": result["cpu_s"] / rows * 1e6,
        "record_bytes": len(record.encode()),
        "concurrency": bench_cli_memory.CONCURRENCY,
        "store": "postgres_redis" if redis_url else "sqlite",
    }
    return result


def _standalone(rows: int) -> None:
    """Screen with the library once for a record, then run the bare SQLite pipeline."""
    with bench_cli_memory.simulator() as url:
        library = bench_cli_memory.measure((rows // 10, rows), url=url)
        bare = run(url, rows, library["record_sample"])
    print(
        f"bare pipeline, {rows:,} rows: {bare['rows_per_s']:,.0f} rows/s, "
        f"CPU {bare['cpu_us_per_row']:.0f} us/row; the library's screen "
        f"{library['rows_per_s'] / bare['rows_per_s']:.2f} of it"
    )


def _main(stdin: TextIO) -> None:
    if sys.argv[1:] == ["--child"]:
        print("BENCH " + json.dumps(child(json.load(stdin))))
    else:
        _standalone(int(sys.argv[1]) if len(sys.argv) > 1 else 20_000)


if __name__ == "__main__":
    _main(sys.stdin)
