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
import logging
import time

from django.core.cache.backends import redis as django_redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger(__name__)
UNREACHABLE = (RedisConnectionError, RedisTimeoutError, ConnectionError, TimeoutError, OSError)
_last_logged = [0.0]


def _log_unreachable(operation: str, error: Exception) -> None:
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
                _log_unreachable(method.__name__, error)
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
