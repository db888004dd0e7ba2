"""Django's Redis cache backend, with one redis client per connection pool and `incr` in one round trip.

Django's `RedisCacheClient.get_client()` builds a new `redis.Redis` for every cache call, and redis-py copies
its table of about 170 response callbacks into each new client: that cost more than the round trip to Redis,
and a fifth of the public scan page's time (its rate limit makes three cache calls per scan;
bench/bench_scan.py). A `redis.Redis` is safe to share between threads (each command takes a connection from
the pool), and Django already keeps one backend instance per thread, so the client is kept beside its pool.

Django's `incr` asks EXISTS and then INCRBY: two round trips, and a key that expires between them comes
back without an expiry, so a rate-limit window would never end. One Lua script does both at once.
"""

from django.core.cache.backends import redis as django_redis

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
