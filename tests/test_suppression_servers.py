"""The PostgreSQL and Redis suppression lists, against the real servers the suite starts.

Without redis-server or PostgreSQL these tests skip locally and fail in CI (the fixtures of
conftest.py read PURECALLERID_REQUIRE_REDIS / PURECALLERID_REQUIRE_POSTGRES).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any

import psycopg
import pytest
import redis.asyncio

from _redis import RedisServer
from purecallerid import (
    AsyncScreener,
    ErrorClass,
    InMemoryResultStore,
    InMemorySettings,
    Lead,
    PostgresSuppressionList,
    RedisSuppressionList,
    Secret,
    SuppressionEntry,
    SuppressionIntegration,
    SuppressionListError,
    SuppressionListTimeoutError,
    load_settings,
)

PASSWORD = "hunter2-Secret-9f3a"


def _screen_all(options: dict[str, Any], phones: list[str], **integration: Any) -> list[Any]:
    """Screen one lead per phone through a campaign whose suppression list is *options*."""
    dnc = SuppressionIntegration()
    document = {
        "campaigns": {
            "solar": {
                "integrations": [
                    {
                        "id": "house-dnc",
                        "kind": "suppression",
                        "options": options,
                        "rules": ['reject when suppressed is true because "DNC: {reason}"'],
                        **integration,
                    }
                ]
            }
        }
    }
    campaigns = load_settings(document, kinds=[dnc])

    async def main() -> list[Any]:
        async with AsyncScreener(
            settings=InMemorySettings(campaigns.values()),
            store=InMemoryResultStore(),
            integrations=[dnc],
        ) as screener:
            return [
                await screener.screen(
                    Lead(lead_id=str(n), campaign_id="solar", fields={"phone": phone})
                )
                for n, phone in enumerate(phones)
            ]

    return asyncio.run(main())


# -- PostgreSQL ---------------------------------------------------------------------------------


def test_postgres_list_adds_and_looks_up(postgres_url: str) -> None:
    """Numbers go in as E.164 with their reasons, replace earlier reasons, and are found."""

    async def main() -> list[SuppressionEntry | None]:
        dnc = PostgresSuppressionList(postgres_url, table="dnc", create=True)
        try:
            await dnc.add("(212) 555-0150", "asked not to be called")
            await dnc.add("212.555.0151")
            await dnc.add("+1 212 555 0151", "litigator")
            found = [await dnc.lookup(p) for p in ("+12125550150", "+12125550151", "+12125550152")]
        finally:
            await dnc.aclose()
        return found

    assert asyncio.run(main()) == [
        SuppressionEntry(phone="+12125550150", reason="asked not to be called"),
        SuppressionEntry(phone="+12125550151", reason="litigator"),
        None,
    ]
    with psycopg.connect(postgres_url) as db:
        rows = db.execute("SELECT phone, reason FROM dnc ORDER BY phone").fetchall()
    assert rows == [("+12125550150", "asked not to be called"), ("+12125550151", "litigator")]


def test_postgres_list_reads_a_host_table_in_its_schema(postgres_url: str) -> None:
    """A table the host made (in a schema of its own) is read as it is, never created."""
    with psycopg.connect(postgres_url, autocommit=True) as db:
        db.execute("CREATE SCHEMA crm")
        db.execute("CREATE TABLE crm.dnc (phone text PRIMARY KEY, reason text, added date)")
        db.execute("INSERT INTO crm.dnc VALUES ('+12125550150', 'complaint', now())")
    records = _screen_all(
        {"postgres": postgres_url, "table": "crm.dnc"}, ["212-555-0150", "212-555-0151"]
    )
    assert [r.decision for r in records] == ["reject", "accept"]
    assert records[0].reasons == ("DNC: complaint",)
    assert records[0].integration("house-dnc").answer["list"] == "postgres:crm.dnc"


def test_postgres_list_created_from_settings(postgres_url: str) -> None:
    """`create = true` makes the table at the first lookup; an empty list clears every lead."""
    records = _screen_all(
        {"postgres": postgres_url, "table": "dnc", "create": True}, ["2125550150"]
    )
    assert records[0].decision == "accept"
    with psycopg.connect(postgres_url) as db:
        assert db.execute("SELECT count(*) FROM dnc").fetchone() == (0,)


def test_postgres_missing_table_is_list_unavailable(postgres_url: str) -> None:
    """A table that is not there is `list_unavailable`, held by the failure policy."""
    (record,) = _screen_all({"postgres": postgres_url, "table": "nowhere"}, ["2125550150"])
    dnc = record.integration("house-dnc")
    assert dnc.error_class == ErrorClass.LIST_UNAVAILABLE
    assert dnc.outcome_unknown is False
    assert "'nowhere'" in (dnc.error_message or "")
    assert record.decision == "qa"


def test_postgres_server_down_shows_no_password(caplog: pytest.LogCaptureFixture) -> None:
    """No server: a timeout whose message, the list's repr and the logs hold no password."""
    caplog.set_level(logging.DEBUG)
    url = f"postgresql://dnc:{PASSWORD}@127.0.0.1:1/crm?connect_timeout=1"

    async def main() -> None:
        dnc = PostgresSuppressionList(url, timeout=0.3)
        try:
            await dnc.lookup("+12125550150")
        finally:
            await dnc.aclose()

    with pytest.raises(SuppressionListTimeoutError) as caught:
        asyncio.run(main())
    assert caught.value.error_class == ErrorClass.TIMEOUT
    assert PASSWORD not in str(caught.value)
    assert PASSWORD not in repr(PostgresSuppressionList(Secret(url)))
    assert all(PASSWORD not in r.getMessage() for r in caplog.records)


# -- Redis --------------------------------------------------------------------------------------


def _key() -> str:
    return f"dnc-{uuid.uuid4().hex}"


def test_redis_list_adds_and_looks_up(redis_server: RedisServer) -> None:
    """Members are E.164; the hash keeps reasons; an add without a reason drops the old one."""
    key = _key()

    async def main() -> tuple[list[SuppressionEntry | None], set[str]]:
        dnc = RedisSuppressionList(redis_server.url, key=key, reasons=f"{key}:reasons")
        try:
            await dnc.add("(212) 555-0150", "asked not to be called")
            await dnc.add("212.555.0151", "litigator")
            await dnc.add("+1 212 555 0151")
            found = [await dnc.lookup(p) for p in ("+12125550150", "+12125550151", "+12125550152")]
        finally:
            await dnc.aclose()
        client = redis.asyncio.Redis.from_url(redis_server.url, decode_responses=True)
        members = {str(m) for m in await client.smembers(key)}
        await client.aclose()
        return found, members

    found, members = asyncio.run(main())
    assert found == [
        SuppressionEntry(phone="+12125550150", reason="asked not to be called"),
        SuppressionEntry(phone="+12125550151", reason=None),
        None,
    ]
    assert members == {"+12125550150", "+12125550151"}


def test_redis_set_from_settings(redis_server: RedisServer) -> None:
    """A set the host fills (SADD) screens leads through `options.redis`; no hash, no reason."""
    key = _key()

    async def fill() -> None:
        client = redis.asyncio.Redis.from_url(redis_server.url)
        await client.sadd(key, "+12125550150")
        await client.aclose()

    asyncio.run(fill())
    records = _screen_all({"redis": redis_server.url, "key": key}, ["212-555-0150", "2125550151"])
    assert [r.decision for r in records] == ["reject", "accept"]
    assert records[0].reasons == ("DNC: ",)
    assert records[0].integration("house-dnc").answer["list"] == f"redis:{key}"


def test_redis_password_from_credentials(own_redis_server: RedisServer) -> None:
    """A server with a password: `credentials.password` opens it; a wrong one never shows."""

    async def protect() -> None:
        client = redis.asyncio.Redis.from_url(own_redis_server.url)
        await client.config_set("requirepass", PASSWORD)
        await client.aclose()

    asyncio.run(protect())
    options = {"redis": own_redis_server.url, "key": _key()}
    (record,) = _screen_all(options, ["2125550150"], credentials={"password": PASSWORD})
    assert record.integration("house-dnc").status == "completed"
    (record,) = _screen_all(options, ["2125550150"], credentials={"password": "wrong-" + PASSWORD})
    dnc = record.integration("house-dnc")
    assert dnc.error_class == ErrorClass.LIST_UNAVAILABLE
    assert PASSWORD not in (dnc.error_message or "")


def test_redis_down_is_list_unavailable(own_redis_server: RedisServer) -> None:
    """A stopped server is `list_unavailable`, and the URL's password is not in the message."""
    url = own_redis_server.url.replace("redis://", f"redis://:{PASSWORD}@")
    own_redis_server.stop()

    async def main() -> None:
        dnc = RedisSuppressionList(url, timeout=0.5)
        try:
            await dnc.lookup("+12125550150")
        finally:
            await dnc.aclose()

    with pytest.raises(SuppressionListError) as caught:
        asyncio.run(main())
    assert caught.value.error_class == ErrorClass.LIST_UNAVAILABLE
    assert PASSWORD not in str(caught.value)
    assert caught.value.__cause__ is None  # the driver's exception may quote the URL
    assert PASSWORD not in repr(RedisSuppressionList(url))


def test_redis_key_of_another_type_is_list_unavailable(redis_server: RedisServer) -> None:
    """A key that is not a set is the list's failure, not a crash."""
    key = _key()

    async def main() -> None:
        client = redis.asyncio.Redis.from_url(redis_server.url)
        await client.set(key, "not a set")
        await client.aclose()
        dnc = RedisSuppressionList(redis_server.url, key=key)
        try:
            await dnc.lookup("+12125550150")
        finally:
            await dnc.aclose()

    with pytest.raises(SuppressionListError, match="WRONGTYPE"):
        asyncio.run(main())
