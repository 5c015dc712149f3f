"""Guard state on Redis: many worker processes on many hosts (the ``redis`` extra).

Every operation that reads and then writes is one Lua script, which Redis runs atomically: no
other client's command runs in between, so two workers cannot both take the last unit of a quota
or the same rate-limiter turn. A guarded call's admission (the breaker, the quota, the first
turn) is one script too, made of the three operations' own: one round trip before the call
instead of three, on the same keys as the separate scripts. The scripts follow the rules of
``algorithms.py`` step by step. Time inside the scripts is the Redis server's (``TIME``), the
one clock every host shares: a worker's clock never measures an interval. The server's clock is
a wall clock, so each limiter and breaker state stores when it was written; one written "in the
future" shows that the server's clock stepped back, and its times move back as far
(``algorithms.clock_stepped_back``): no wait grows by the step. Quota counters expire after
their vendor day; limiter and breaker keys expire once idle.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final, cast

from .._errors import ConfigurationError
from .._secrets import Secret
from ..typing import BreakerAdmission, QuotaReservation
from .admission import CAPABILITY, Admitted

if TYPE_CHECKING:
    from ..typing import BreakerChange, BreakerOutcome
    from .admission import BreakerAsk, QuotaAsk, RateAsk

__all__ = ["RedisStateBackend"]

# Shared by every script: the server's time in seconds, and floats written without loss
# (Lua's tostring keeps 14 digits, too few for a Unix time with microseconds).
_PRELUDE: Final = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local function num(text) return tonumber(text) or 0 end
local function fmt(x) return string.format('%.6f', x) end
local function ms(x) return string.format('%d', math.ceil(x * 1000)) end
-- How far the server's clock stepped back since a state was written at `at`, 0 if it did not
-- (algorithms.clock_stepped_back): that state's times move back as far.
local function back(at) return math.max(0, num(at) - now) end
-- A limiter is '<tat> <written at>'.
local function write_tat(key, tat)
  redis.call('SET', key, fmt(tat) .. ' ' .. fmt(now), 'PX', ms(tat - now + 1))
end
-- The limiter's tat as if the server's clock never stepped back. A moved tat is written back
-- at once, refused turn or not: left as written, the next read would find it as far ahead
-- again, and refuse again, until the clock caught up.
local function read_tat(key)
  local value = redis.call('GET', key)
  if not value then return 0 end
  local tat, at = string.match(value, '^(%S+) (%S+)$')
  if not tat then return num(value) end  -- a bare tat, written before the time was kept
  local moved = num(tat) - back(at)
  if moved < num(tat) then write_tat(key, moved) end
  return moved
end
"""

_RESERVE_QUOTA: Final = """
-- KEYS[1]: the counter of one credential and vendor day. ARGV: limit, expires_at (Unix s).
local used = num(redis.call('GET', KEYS[1]))
if used >= tonumber(ARGV[1]) then return {0, used} end
used = redis.call('INCR', KEYS[1])
redis.call('EXPIREAT', KEYS[1], ARGV[2])
return {1, used}
"""

_RELEASE_QUOTA: Final = """
if num(redis.call('GET', KEYS[1])) > 0 then redis.call('DECR', KEYS[1]) end
return 1
"""

_ACQUIRE_RATE: Final = """
-- KEYS[1]: the limiter's theoretical arrival time (GCRA). ARGV: rate, burst, max_wait.
local interval = 1 / tonumber(ARGV[1])
local tat = math.max(read_tat(KEYS[1]), now) + interval
local wait = math.max(0, tat - tonumber(ARGV[2]) * interval - now)
if wait > tonumber(ARGV[3]) then return {0, fmt(wait)} end
write_tat(KEYS[1], tat)
return {1, fmt(wait)}
"""

_SLOW_DOWN: Final = """
-- KEYS[1]: the limiter. ARGV: rate, burst, wait: no turn before now + wait, no burst after.
local interval = 1 / tonumber(ARGV[1])
local tat = math.max(read_tat(KEYS[1]), now + tonumber(ARGV[3])
  + (tonumber(ARGV[2]) - 1) * interval)
write_tat(KEYS[1], tat)
return 1
"""

_BREAKER_ADMIT: Final = """
-- KEYS[1]: the breaker's hash. ARGV: probe_lease, idle expiry (s).
local h = redis.call('HMGET', KEYS[1], 'state', 'open_until', 'probe_until', 'at')
local state = h[1] or 'closed'
if state == 'closed' then return {'call', '0'} end
local moved = back(h[4])
local open_until, probe_until = num(h[2]) - moved, num(h[3]) - moved
if moved > 0 then  -- written back at once, as a limiter's tat (a rejection writes nothing)
  redis.call('HSET', KEYS[1], 'open_until', fmt(open_until), 'probe_until', fmt(probe_until),
    'at', fmt(now))
end
if state == 'open' and now < open_until then return {'reject', fmt(open_until - now)} end
if state == 'half_open' and now < probe_until then return {'reject', '0'} end
redis.call('HSET', KEYS[1], 'state', 'half_open', 'probe_until', fmt(now + tonumber(ARGV[1])),
  'at', fmt(now))
redis.call('EXPIRE', KEYS[1], ARGV[2])
return {'probe', '0'}
"""

_BREAKER_RECORD: Final = """
-- KEYS[1]: the breaker's hash. ARGV: outcome, probe (0/1), threshold, cooldown, expiry (s).
local h = redis.call('HMGET', KEYS[1], 'state', 'failures')
local state, failures = h[1] or 'closed', num(h[2])
local outcome, probe = ARGV[1], ARGV[2] == '1'
-- Every save writes the time that the state it leaves needs (open_until when open,
-- probe_until when half open): each stored time that counts is as of the new 'at'.
local function save(...)
  redis.call('HSET', KEYS[1], 'at', fmt(now), ...)
  redis.call('EXPIRE', KEYS[1], ARGV[5])
end
if outcome == 'neutral' then
  if probe and state == 'half_open' then save('probe_until', '0') end
  return false
end
if outcome == 'success' then
  if state == 'closed' then
    if failures > 0 then save('failures', '0') end
    return false
  end
  if probe and state == 'half_open' then
    save('state', 'closed', 'failures', '0', 'probe_until', '0')
    return 'closed'
  end
  return false
end
if probe and state == 'half_open' then
  save('state', 'open', 'open_until', fmt(now + tonumber(ARGV[4])), 'probe_until', '0')
  return 'reopened'
end
if state == 'closed' then
  failures = failures + 1
  if failures >= tonumber(ARGV[3]) then
    save('state', 'open', 'failures', failures, 'open_until', fmt(now + tonumber(ARGV[4])))
    return 'opened'
  end
  save('failures', failures)
end
return false
"""


def _step(name: str, body: str) -> str:
    """A script's body as a function of its own: its KEYS and ARGV are the function's."""
    # The parameters shadow the script's KEYS and ARGV, and the body's `return` ends the step
    # only: the bodies are the separate scripts' own, word for word.
    return f"local function {name}(KEYS, ARGV)\n{body}end\n"


# A call's admission in one script: the breaker, the quota, the turn, each step as its own
# script would run it, stopping at a rejection or a refusal (nothing further is reserved).
# Redis runs the whole atomically, at one `now`: at least as strict as the separate scripts.
_ADMIT_AT_ONCE: Final = (
    _step("breaker_admit", _BREAKER_ADMIT)
    + _step("reserve_quota", _RESERVE_QUOTA)
    + _step("acquire_rate", _ACQUIRE_RATE)
    + """
-- ARGV[1]: the steps asked, in order: b (breaker), q (quota), r (turn). Then each step's key
-- (KEYS) and arguments (ARGV), in the same order: those of its own script. Answers the
-- replies of the steps taken, the last one refused or all granted.
local steps = {b = {breaker_admit, 2}, q = {reserve_quota, 2}, r = {acquire_rate, 3}}
local replies, k, a = {}, 1, 2
for name in string.gmatch(ARGV[1], '.') do
  local step = steps[name]
  local args = {}
  for i = 1, step[2] do args[i] = ARGV[a + i - 1] end
  local ok, reply = pcall(step[1], {KEYS[k]}, args)
  if not ok then
    -- A step that fails (a key of another type): the steps before it stand, as they would
    -- with the separate scripts, and the caller learns which step failed, to give back what
    -- they reserved.
    replies[#replies + 1] = {'failed', type(reply) == 'table' and reply.err or tostring(reply)}
    break
  end
  replies[#replies + 1] = reply
  if (name == 'b' and reply[1] == 'reject') or (name ~= 'b' and reply[1] == 0) then break end
  k, a = k + 1, a + step[2]
end
return replies
"""
)

_IDLE_EXPIRY: Final = 86_400  # a breaker untouched for a day starts afresh


def _reservation(reply: Any) -> QuotaReservation:
    granted, used = reply
    return QuotaReservation(granted=bool(int(granted)), used=int(used))


def _wait(reply: Any) -> float | None:
    granted, wait = reply
    return float(wait) if int(granted) else None


def _admission(reply: Any) -> BreakerAdmission:
    decision, retry_in = reply
    return BreakerAdmission(decision=decision, retry_in=float(retry_in))


class RedisStateBackend:
    """Guard state on Redis, shared by every worker on every host that uses the same server.

    Quota reservation, rate-limiter turns and breaker transitions are each one Lua script,
    atomic on the server, and a call's admission by all three is one round trip. Their clock is
    the server's, so a step of a worker's clock changes nothing, and a step back of the server's
    own holds no call up (each state keeps when it was written). Cached answers expire by the
    server's own expiry: a step back of its clock by *d* keeps one up to *d* past its TTL. Needs
    the ``redis`` extra (``pip install 'purecallerid[redis]'``).

    Connection errors and timeouts are raised to the screener, which records the integration
    as ``state_unavailable`` and lets its failure policy decide: a lead is never lost to a
    Redis outage, and no vendor call is made without its quota. Each command is retried once
    on a dropped connection or a timeout (a pooled connection to a restarted server); a
    retried admission or quota reservation, or one whose answer timed out after Redis ran it,
    can at worst count a unit for a call that was not made (and keep a breaker's probe slot
    until its lease ends), never let a call through uncounted.

    Args:
        url: ``redis://host:port/db`` (or ``rediss://``, ``unix://``); may carry a password,
            so it is held as a :class:`~purecallerid.Secret` and never shown.
        prefix: Prepended to every key, to share one Redis between applications.
        timeout: Seconds for connecting and for each command.
        max_connections: The connections this process keeps open at most. Commands beyond
            them wait for a free connection (up to *pool_timeout*) instead of failing: a
            host screening hundreds of leads at once must not see ``state_unavailable``.
        pool_timeout: Seconds a command waits for a free connection.
        client: An existing ``redis.asyncio.Redis`` to use instead of *url* (the caller
            closes it).
    """

    def __init__(
        self,
        url: str | Secret | None = None,
        *,
        prefix: str = "purecallerid",
        timeout: float = 1.0,
        max_connections: int = 50,
        pool_timeout: float = 5.0,
        client: Any = None,
    ) -> None:
        """Create the client (no connection is made until the first command)."""
        try:
            import redis.asyncio  # noqa: PLC0415 - an optional extra, needed only here
            from redis.asyncio.retry import Retry  # noqa: PLC0415
            from redis.backoff import NoBackoff  # noqa: PLC0415
        except ImportError:  # pragma: no cover - the dev extra installs it
            raise ConfigurationError(
                "RedisStateBackend needs redis-py: pip install 'purecallerid[redis]'"
            ) from None
        if client is None:
            if url is None:
                raise ConfigurationError("RedisStateBackend needs a url or a client")
            text = url.reveal() if isinstance(url, Secret) else url
            # A blocking pool: redis-py's default pool raises MaxConnectionsError at its cap
            # (100) instead of waiting, which turned a busy moment into failed leads.
            pool = redis.asyncio.BlockingConnectionPool.from_url(
                text,
                max_connections=max_connections,
                timeout=pool_timeout,
                socket_timeout=timeout,
                socket_connect_timeout=timeout,
                retry=Retry(NoBackoff(), 1),
                decode_responses=True,
            )
            client = redis.asyncio.Redis.from_pool(pool)  # closes the pool with the client
            self._owned = True
        else:
            self._owned = False
        self._redis = client
        self._prefix = prefix
        self._reserve = client.register_script(_PRELUDE + _RESERVE_QUOTA)
        self._release = client.register_script(_PRELUDE + _RELEASE_QUOTA)
        self._acquire = client.register_script(_PRELUDE + _ACQUIRE_RATE)
        self._slow = client.register_script(_PRELUDE + _SLOW_DOWN)
        self._admit = client.register_script(_PRELUDE + _BREAKER_ADMIT)
        self._record = client.register_script(_PRELUDE + _BREAKER_RECORD)
        self._at_once = client.register_script(_PRELUDE + _ADMIT_AT_ONCE)
        if _is_cluster(client):
            # One script over several keys: a cluster may hold them in different slots and
            # refuse it (CROSSSLOT), so a cluster client keeps the separate scripts.
            self.__dict__[CAPABILITY] = None

    def _key(self, kind: str, key: str) -> str:
        return f"{self._prefix}:{kind}:{key}"

    async def reserve_quota(
        self, key: str, *, period: str, limit: int, expires_at: float
    ) -> QuotaReservation:
        """Count one call for *key* in *period* unless *limit* is reached (one script)."""
        return _reservation(
            await self._reserve(
                keys=[self._key("quota", f"{key}:{period}")], args=[limit, int(expires_at) + 1]
            )
        )

    async def release_quota(self, key: str, *, period: str) -> None:
        """Give back one call of *key* in *period*."""
        await self._release(keys=[self._key("quota", f"{key}:{period}")])

    async def acquire_rate(
        self, key: str, *, rate: float, burst: int, max_wait: float
    ) -> float | None:
        """Reserve the next turn of *key*; the seconds to wait, or ``None`` when too far."""
        return _wait(
            await self._acquire(
                keys=[self._key("rate", key)], args=[repr(rate), burst, repr(max_wait)]
            )
        )

    async def slow_down(self, key: str, *, rate: float, burst: int, wait: float) -> None:
        """Give no turn of *key* for *wait* seconds."""
        await self._slow(keys=[self._key("rate", key)], args=[repr(rate), burst, repr(wait)])

    async def breaker_admit(self, key: str, *, probe_lease: float) -> BreakerAdmission:
        """Admit, probe or reject a call to the endpoint of *key*."""
        return _admission(
            await self._admit(
                keys=[self._key("breaker", key)], args=[repr(probe_lease), _IDLE_EXPIRY]
            )
        )

    async def _admit_at_once(
        self, breaker: BreakerAsk | None, quota: QuotaAsk | None, rate: RateAsk | None
    ) -> Admitted:
        """Ask the breaker, reserve the quota and take a turn in one script (one round trip).

        The guards' combined admission (``admission.AdmitAtOnce``): the same keys, arguments
        and rules as :meth:`breaker_admit`, :meth:`reserve_quota` and :meth:`acquire_rate`, so
        that workers running the separate scripts share the same state.
        """
        steps, keys, args = "", [], []
        if breaker is not None:
            steps += "b"
            keys.append(self._key("breaker", breaker.key))
            args += [repr(breaker.probe_lease), _IDLE_EXPIRY]
        if quota is not None:
            steps += "q"
            keys.append(self._key("quota", f"{quota.key}:{quota.period}"))
            args += [quota.limit, int(quota.expires_at) + 1]
        if rate is not None:
            steps += "r"
            keys.append(self._key("rate", rate.key))
            args += [repr(rate.rate), rate.burst, repr(rate.max_wait)]
        replies = await self._at_once(keys=keys, args=[steps, *args])
        admission, reservation, asked, wait = None, None, False, None
        # The script stops at a rejection, a refusal or a failed step: the steps after it have
        # no reply.
        for step, reply in zip(steps, replies, strict=False):
            if reply[0] == "failed":
                return Admitted(admission, reservation, asked, wait, failed=step)
            if step == "b":
                admission = _admission(reply)
            elif step == "q":
                reservation = _reservation(reply)
            else:
                asked, wait = True, _wait(reply)
        return Admitted(admission, reservation, asked, wait)

    async def breaker_record(
        self,
        key: str,
        *,
        outcome: BreakerOutcome,
        probe: bool,
        threshold: int,
        cooldown: float,
    ) -> BreakerChange | None:
        """Record a call's outcome on the breaker *key*."""
        change = await self._record(
            keys=[self._key("breaker", key)],
            args=[outcome, int(probe), threshold, repr(cooldown), _IDLE_EXPIRY + int(cooldown)],
        )
        return cast("BreakerChange | None", change or None)

    async def cache_get(self, key: str) -> str | None:
        """The text under *key*, unless expired."""
        value = await self._redis.get(self._key("cache", key))
        return None if value is None else str(value)

    async def cache_put(self, key: str, value: str, *, ttl: float) -> None:
        """Keep *value* under *key* for *ttl* seconds."""
        await self._redis.set(self._key("cache", key), value, px=max(1, int(ttl * 1000)))

    async def aclose(self) -> None:
        """Close the connection pool (unless the client was given)."""
        if self._owned:
            await self._redis.aclose()

    # The separate operations as defined here (the admission module's STANDS_FOR): a later
    # replacement of one of them on the class (a test's patch) turns the combined admission
    # off, as a subclass's or an instance's does.
    _admission_stands_for = (breaker_admit, reserve_quota, acquire_rate)

    def __repr__(self) -> str:
        # The URL may carry a password: never shown.
        return f"RedisStateBackend(prefix={self._prefix!r})"


def _is_cluster(client: object) -> bool:
    """Whether *client* is redis-py's cluster client (its keys live in many slots)."""
    try:
        from redis.asyncio.cluster import RedisCluster  # noqa: PLC0415 - the redis extra
    except ImportError:  # pragma: no cover - the extra installs it
        return False
    return isinstance(client, RedisCluster)
