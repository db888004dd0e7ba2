"""Django's Redis cache backend, with one redis client per connection pool and `incr` in one round trip.

Django's `RedisCacheClient.get_client()` builds a new `redis.Redis` for every cache call, and redis-py copies
its table of about 170 response callbacks into each new client: that cost more than the round trip to Redis,
and a fifth of the public scan page's time (its rate limit makes three cache calls per scan;
bench/bench_scan.py). A `redis.Redis` is safe to share between threads (each command takes a connection from
the pool), and Django already keeps one backend instance per thread, so the client is kept beside its pool.

Django's `incr` asks EXISTS and then INCRBY: two round trips, and a key that expires between them comes
back without an expiry, so a rate-limit window would never end. One Lua script does both at once.

When Redis is unreachable the cache fails open: reads miss, writes are dropped, `add` says the key exists and
`incr` that it does not, each logged (at most once a minute). django-ratelimit then counts nothing and, with
`RATELIMIT_FAIL_OPEN`, limits no one: the scan page and the logins keep working without their per-address
limits until Redis is back, instead of refusing everyone (tests/faults/test_redis_cut.py). Sessions, login
codes and lockouts live in the database and do not depend on Redis.
"""

import functools
import hashlib
import logging
import os
import threading
import time

from django.core.cache import caches
from django.core.cache.backends import redis as django_redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger(__name__)
UNREACHABLE = (RedisConnectionError, RedisTimeoutError, ConnectionError, TimeoutError, OSError)
_last_logged = [0.0]


def log_unreachable(operation: str, error: Exception) -> None:
    now = time.monotonic()
    if now - _last_logged[0] >= 60:
        _last_logged[0] = now
        logger.warning(
            "Redis 不可达（%s：%s）：缓存暂时失效，按地址的频率限制暂停，直到 Redis 恢复", operation, error
        )


def _fail_open(fallback):
    """The cache call, or `fallback(*args)` (a missed read, a dropped write) when Redis cannot be reached."""

    def decorate(method):
        @functools.wraps(method)
        def wrapper(self, *args, **kwargs):
            try:
                return method(self, *args, **kwargs)
            except UNREACHABLE as error:
                log_unreachable(method.__name__, error)
                return fallback(*args, **kwargs)

        return wrapper

    return decorate


def _key_missing(key, *args, **kwargs):
    raise ValueError(f"Key '{key}' not found (Redis unreachable).")


_INCR_EXISTING = """
if redis.call('exists', KEYS[1]) == 1 then
  return redis.call('incrby', KEYS[1], ARGV[1])
end
return false
"""


class RedisCacheClient(django_redis.RedisCacheClient):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._clients: dict = {}
        self._incr_script = None

    def get_client(self, key=None, *, write=False):
        pool = self._get_connection_pool(write)
        client = self._clients.get(pool)
        if client is None:
            client = self._clients[pool] = self._client(connection_pool=pool)
        return client

    def incr(self, key, delta):
        client = self.get_client(key, write=True)
        if self._incr_script is None:
            self._incr_script = client.register_script(_INCR_EXISTING)
        value = self._incr_script(keys=[key], args=[delta], client=client)
        if value is None:
            raise ValueError(f"Key '{key}' not found.")
        return value


class RedisCache(django_redis.RedisCache):
    def __init__(self, server, params) -> None:
        super().__init__(server, params)
        self._class = RedisCacheClient

    get = _fail_open(lambda key, default=None, *a, **k: default)(django_redis.RedisCache.get)
    get_many = _fail_open(lambda keys, *a, **k: {})(django_redis.RedisCache.get_many)
    has_key = _fail_open(lambda *a, **k: False)(django_redis.RedisCache.has_key)
    add = _fail_open(lambda *a, **k: False)(django_redis.RedisCache.add)
    set = _fail_open(lambda *a, **k: None)(django_redis.RedisCache.set)
    set_many = _fail_open(lambda *a, **k: [])(django_redis.RedisCache.set_many)
    touch = _fail_open(lambda *a, **k: False)(django_redis.RedisCache.touch)
    delete = _fail_open(lambda *a, **k: False)(django_redis.RedisCache.delete)
    delete_many = _fail_open(lambda *a, **k: None)(django_redis.RedisCache.delete_many)
    clear = _fail_open(lambda *a, **k: False)(django_redis.RedisCache.clear)
    incr = _fail_open(_key_missing)(django_redis.RedisCache.incr)


# --- Raw values, versions and one-round-trip reads (the public scan page; inspections/scan_card.py) -----------


def redis_client(backend=None):
    """The shared redis client of the default cache when it is this module's Redis backend, else None (the
    process-memory cache of development and tests, where the callers fall back to Django's cache API)."""
    backend = backend or caches["default"]
    if isinstance(backend, RedisCache):
        return backend._cache.get_client(write=True)
    return None


def get_raw(keys: list[str]) -> list | None:
    """The values of `keys` (bytes, as `set_raw` stored them; versions as numbers) in one round trip, or None
    when Redis cannot be reached."""
    backend = caches["default"]
    client = redis_client(backend)
    if client is None:
        found = backend.get_many(keys)
        return [found.get(key) for key in keys]
    try:
        return client.mget([backend.make_key(key) for key in keys])
    except UNREACHABLE as error:
        log_unreachable("mget", error)
        return None


def set_raw(key: str, value: bytes, timeout: int) -> None:
    """Store bytes as they are (not pickled by the cache), so that a Lua script or `get_raw` reads them."""
    backend = caches["default"]
    client = redis_client(backend)
    if client is None:
        backend.set(key, value, timeout)
        return
    try:
        client.set(backend.make_key(key), value, ex=max(int(timeout), 1))
    except UNREACHABLE as error:
        log_unreachable("set", error)


# Versions that cached values are stamped with: a writer counts a version up when what a cached value was
# built from changes, and a reader keeps a cached value only while its stamp equals the versions now. A bump
# that cannot reach Redis is retried every second from a background thread until it gets through, so that a
# value cached before an outage is not taken for current after it.
_pending_bumps: dict[str, int | None] = {}
# The registry's people, certificates, bodies and items as a whole: the registry counts it up after writes that
# bypass the models' signals (bulk imports), and whatever caches what they show stamps its values with it.
REGISTRY_GENERATION_KEY = "registry-generation"
_pending_lock = threading.Lock()
_retry_timer: list = [None]


def bump(keys, *, timeout: int | None = None) -> None:
    """Count each version in `keys` up by one (from 0 when missing); `timeout`: seconds it is kept after this
    bump (None: for ever). It must outlive every value stamped with the version before the bump."""
    keys = list(keys)
    if not keys:
        return
    try:
        _bump(keys, timeout)
    except UNREACHABLE as error:
        log_unreachable("bump", error)
        with _pending_lock:
            _pending_bumps.update(dict.fromkeys(keys, timeout))
        _schedule_retry()


def _bump(keys: list[str], timeout: int | None) -> None:
    backend = caches["default"]
    client = redis_client(backend)
    if client is None:
        for key in keys:
            backend.add(key, 0, timeout)
            try:
                backend.incr(key)
            except ValueError:  # expired between the two calls
                backend.set(key, 1, timeout)
        return
    pipe = client.pipeline(transaction=False)
    for key in keys:
        made = backend.make_key(key)
        pipe.incr(made)
        if timeout is not None:
            pipe.expire(made, int(timeout))
    pipe.execute()


def _schedule_retry() -> None:
    with _pending_lock:
        if _retry_timer[0] is not None:
            return
        timer = threading.Timer(1.0, _retry_bumps)
        timer.daemon = True
        _retry_timer[0] = timer
    timer.start()


def _retry_bumps() -> None:
    with _pending_lock:
        pending = dict(_pending_bumps)
        _pending_bumps.clear()
        _retry_timer[0] = None
    by_timeout: dict[int | None, list[str]] = {}
    for key, timeout in pending.items():
        by_timeout.setdefault(timeout, []).append(key)
    for timeout, keys in by_timeout.items():
        bump(keys, timeout=timeout)


# --- One command on a connection of the thread's own (the scan page's round trips) ----------------------------

_local = threading.local()


def call(*args):
    """One Redis command on a connection this thread keeps for itself, built from the default cache's pool
    (its address, database and timeouts). For the scan page's two round trips a scan (count + card, then the
    log entry): redis-py's client spends several times the round trip itself on each command (taking the
    connection from the pool checks the socket with a system call, the command passes through its retry and
    event layers), about 85 µs against 15 µs here. A broken connection is opened again and the command sent
    once more (the callers' commands may run twice: a count, or a log entry carrying its own idempotency key);
    a second failure raises, and the caller fails open. Only for the Redis backend (`redis_client`)."""
    client = redis_client()
    if client is None:
        raise RuntimeError("core.cache.call needs the Redis cache backend")
    packed = _pack(args)
    for attempt in (1, 2):
        connection = _connection(client.connection_pool)
        try:
            connection.send_packed_command([packed], check_health=False)
            return connection.read_response()
        except UNREACHABLE:
            connection.disconnect()
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def _connection(pool):
    connection = getattr(_local, "connection", None)
    if connection is None or _local.pool is not pool or _local.pid != os.getpid():
        connection = pool.connection_class(**pool.connection_kwargs)
        _local.connection, _local.pool, _local.pid = connection, pool, os.getpid()
    return connection


def _pack(args) -> bytes:
    """RESP: an array of bulk strings."""
    out = [b"*%d\r\n" % len(args)]
    for arg in args:
        if isinstance(arg, str):
            arg = arg.encode()
        elif isinstance(arg, int):
            arg = b"%d" % arg
        out.append(b"$%d\r\n%s\r\n" % (len(arg), arg))
    return b"".join(out)


def call_script(script: str, keys: list, args: list):
    """EVALSHA of `script`, loading it first when Redis does not know it yet (a restart, a new server)."""
    digest = _script_digests.get(script)
    if digest is None:
        digest = _script_digests[script] = hashlib.sha1(script.encode()).hexdigest()
    try:
        return call("EVALSHA", digest, len(keys), *keys, *args)
    except NoScriptError:
        call("SCRIPT", "LOAD", script)
        return call("EVALSHA", digest, len(keys), *keys, *args)


_script_digests: dict[str, str] = {}
