"""A suppression list in a Redis set, read with redis-py's asyncio client.

The set's members are the suppressed numbers in E.164; an optional hash keeps their reasons
(field: the number, value: the reason). A lookup is one round trip: ``SISMEMBER``, and
``HGET`` in the same pipeline when there is a hash of reasons.
"""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from ..._errors import ConfigurationError, PureCallerIDError
from ..._fork import check_process, forked
from ..._secrets import Secret, register_secret
from .lists import SuppressionEntry, e164, list_failure

__all__ = ["RedisSuppressionList", "url_password"]

_SCHEMES = ("redis", "rediss", "unix")


def url_password(url: str) -> str | None:
    """The password a Redis URL holds, if any (a ConfigurationError if it is no Redis URL)."""
    parts = urlsplit(url)
    if parts.scheme not in _SCHEMES:
        raise ConfigurationError("not a Redis URL (redis://, rediss:// or unix://)")
    if parts.password is not None:
        return unquote(parts.password)
    # redis-py also takes it as a parameter of the URL.
    given = parse_qs(parts.query).get("password")
    return given[0] if given else None


class RedisSuppressionList:
    """A suppression list in a Redis set, with an optional hash of reasons (the ``redis`` extra).

    Members of the set *key* are the suppressed numbers in E.164; when *reasons* names a
    hash, its field for a number holds the reason. A number is suppressed when it is in the
    set: a reason without a member counts for nothing. The client connects at the first
    command; close it with :meth:`aclose`. It belongs to the process that built it: in a
    forked child its use raises :class:`~purecallerid.ForkedError`.

    A failure of the server (down, refused, a key of another type) is a
    :class:`~purecallerid.SuppressionListError` (a socket timeout a
    :class:`~purecallerid.SuppressionListTimeoutError`) whose message holds no password.

    Args:
        url: ``redis://host:port/db`` (or ``rediss://``, ``unix://``); may carry a password,
            so it is held as a :class:`~purecallerid.Secret` and never shown.
        key: The set of suppressed numbers.
        reasons: The hash of reasons, or ``None`` for a list without reasons.
        password: The password, when *url* holds none.
        region: The region of numbers written without a country code, for :meth:`add`.
        timeout: Seconds for connecting and for each command.
        max_connections: The connections this process keeps open at most; commands beyond
            them wait for a free one, within the integration's timeout.
        client: An existing ``redis.asyncio.Redis`` to use instead of *url* (the caller
            closes it; it must decode responses, ``decode_responses=True``).

    Raises:
        ConfigurationError: Neither a URL nor a client, a URL of another scheme, or no
            ``redis`` extra.
    """

    def __init__(
        self,
        url: str | Secret | None = None,
        *,
        key: str = "suppression",
        reasons: str | None = None,
        password: str | Secret | None = None,
        region: str = "US",
        timeout: float = 1.0,
        max_connections: int = 16,
        client: Any = None,
    ) -> None:
        """Create the client (no connection is made until the first command)."""
        try:
            import redis.asyncio  # noqa: PLC0415 - an optional extra
        except ImportError:  # pragma: no cover - the dev extra installs it
            raise ConfigurationError(
                "RedisSuppressionList needs redis-py: pip install 'purecallerid[redis]'"
            ) from None
        if not key or (reasons is not None and not reasons):
            raise ConfigurationError("key and reasons must be non-empty key names")
        given = password.reveal() if isinstance(password, Secret) else password
        hidden: list[str | None] = [given]
        self._owned = client is None
        if client is None:
            if url is None:
                raise ConfigurationError("RedisSuppressionList needs a url or a client")
            text = url.reveal() if isinstance(url, Secret) else url
            hidden += [url_password(text), text if isinstance(url, Secret) else None]
            pool = redis.asyncio.BlockingConnectionPool.from_url(
                text,
                max_connections=max_connections,
                timeout=timeout,
                socket_timeout=timeout,
                socket_connect_timeout=timeout,
                decode_responses=True,
                **({"password": given} if given else {}),
            )
            client = redis.asyncio.Redis.from_pool(pool)  # closes the pool with the client
        # Kept alive with the list: registered, they are masked in the library's log lines.
        self._secrets = tuple(Secret(value) for value in hidden if value)
        for kept in self._secrets:
            register_secret(kept)
        self._redis = client
        self._key = key
        self._reasons = reasons
        self._region = region
        self._pid = os.getpid()
        self._failures: tuple[type[Exception], ...] = (redis.RedisError, OSError)
        self._timeouts: tuple[type[Exception], ...] = (redis.TimeoutError, TimeoutError)

    @property
    def key(self) -> str:
        """The set's key."""
        return self._key

    async def lookup(self, phone: str) -> SuppressionEntry | None:
        """Return the entry for *phone* (E.164), or ``None``."""
        check_process(self._pid, type(self).__name__)
        try:
            if self._reasons is None:
                found, reason = await self._redis.sismember(self._key, phone), None
            else:
                async with self._redis.pipeline(transaction=False) as pipe:
                    pipe.sismember(self._key, phone)
                    pipe.hget(self._reasons, phone)
                    found, reason = await pipe.execute()
        except self._failures as exc:
            raise self._failure(exc) from None
        return SuppressionEntry(phone=phone, reason=reason) if found else None

    async def add(self, phone: str, reason: str | None = None) -> None:
        """Suppress *phone* (any format), with an optional reason (replacing an earlier one).

        The member and its reason are written in one transaction (``MULTI``); without a
        reason, an earlier reason is removed.
        """
        check_process(self._pid, type(self).__name__)
        number = e164(phone, self._region)
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.sadd(self._key, number)
                if self._reasons is not None:
                    if reason is None:
                        pipe.hdel(self._reasons, number)
                    else:
                        pipe.hset(self._reasons, number, reason)
                await pipe.execute()
        except self._failures as exc:
            raise self._failure(exc) from None

    def _failure(self, exc: Exception) -> PureCallerIDError:
        return list_failure(
            exc,
            f"the Redis suppression list {self._key!r} failed",
            tuple(secret.reveal() for secret in self._secrets),
            timed_out=isinstance(exc, self._timeouts),
        )

    async def aclose(self) -> None:
        """Close the connection pool (unless the client was given; in a forked child: nothing)."""
        if self._owned and not forked(self._pid):
            await self._redis.aclose()

    def __repr__(self) -> str:
        """The list by its keys, without the URL (it may carry a password)."""
        return f"RedisSuppressionList(key={self._key!r}, reasons={self._reasons!r})"
