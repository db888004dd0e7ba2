"""A per-address limit counted in one round trip to Redis, together with the cached values a page needs.

django-ratelimit's `get_usage` costs two cache calls (ADD, then INCR) and the page reads its cache after it.
The public scan page (portal, inspections/scan_card.py) is the busiest page and the one under a load goal, so it
counts the scan and reads its cached card in one Lua script instead. The count is django-ratelimit's own: the
same cache key (group, rate, address, window), the same fixed windows, the same expiry, and over the limit
when the count exceeds it; so the limit reads the same whichever way a request was counted, and the tests'
pinned ratelimit clock applies. With another cache (development, tests) the same is done with the cache's own
calls. When Redis cannot be reached the limit fails open as `RATELIMIT_FAIL_OPEN` says (core/cache.py)."""

from __future__ import annotations

import functools
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import caches
from django_ratelimit import ALL
from django_ratelimit import core as ratelimit_core

from .cache import UNREACHABLE, call, call_script, log_unreachable, redis_client


@dataclass(frozen=True)
class Counter:
    key: str  # django-ratelimit's cache key (the cache adds its prefix)
    limit: int
    period: int  # seconds of a window


def counter(request, group: str, rate: str) -> Counter | None:
    """The count of this address (django-ratelimit's key "ip") in `group`; None when limits are off."""
    if not getattr(settings, "RATELIMIT_ENABLE", True):
        return None
    limit, period = _split_rate(rate)
    value = _address(request)
    window = ratelimit_core._get_window(value, period)
    return Counter(_key(group, window, rate, value), limit, period)


# django-ratelimit's own functions, kept for the addresses, rates and keys of the last few thousand requests: its
# address parsing (`ipaddress.ip_network`) and key hashing cost more than the rest of the count.
_split_rate = functools.lru_cache(maxsize=64)(ratelimit_core._split_rate)
_network = functools.lru_cache(maxsize=4096)(lambda ip, meta: ratelimit_core._get_ip(_Meta(ip, meta)))


@functools.lru_cache(maxsize=4096)
def _key(group: str, window: int, rate: str, value: str) -> str:
    return ratelimit_core._make_cache_key(group, window, rate, value, ALL)


class _Meta:
    """Just enough of a request for django-ratelimit's `_get_ip`."""

    def __init__(self, ip: str, meta: str) -> None:
        self.META = {meta: ip}


def _address(request) -> str:
    meta = getattr(settings, "RATELIMIT_IP_META_KEY", None) or "REMOTE_ADDR"
    if callable(meta) or "." in meta:  # a function of the request: not kept
        return ratelimit_core._SIMPLE_KEYS["ip"](request)
    return _network(request.META.get(meta, ""), meta)


# KEYS[1] the counter, KEYS[2..] values to read; ARGV[1] the counter's expiry, ARGV[2] the limit. Over the limit
# nothing is read. A missing value comes back as nil.
_COUNT_AND_GET = """
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
local values = {count}
if count > tonumber(ARGV[2]) then return values end
for i = 2, #KEYS do values[i] = redis.call('GET', KEYS[i]) end
return values
"""


def count_and_get(count: Counter | None, keys: list[str]) -> tuple[bool, list | None]:
    """Count one request against `count` and read `keys` (stored with core.cache.set_raw, or versions), in one
    round trip on Redis. Returns whether the request is over the limit, and the values (None for each missing
    one; the whole list None when the cache could not be read, or over the limit)."""
    backend = caches["default"]
    if redis_client(backend) is None:
        return _count_and_get_with_cache_calls(backend, count, keys)
    made = [backend.make_key(key) for key in keys]
    try:
        if count is None:
            return False, (call("MGET", *made) if made else [])
        expiry = count.period + ratelimit_core.EXPIRATION_FUDGE
        reply = call_script(_COUNT_AND_GET, [backend.make_key(count.key), *made], [expiry, count.limit])
    except UNREACHABLE as error:
        log_unreachable("count_and_get", error)
        return not getattr(settings, "RATELIMIT_FAIL_OPEN", False), None
    if reply[0] > count.limit:
        return True, None
    values = list(reply[1:])
    return False, values + [None] * (len(keys) - len(values))


def _count_and_get_with_cache_calls(
    backend, count: Counter | None, keys: list[str]
) -> tuple[bool, list | None]:
    limited = False
    if count is not None:
        expiry = count.period + ratelimit_core.EXPIRATION_FUDGE
        value = 1 if backend.add(count.key, 1, expiry) else None
        if value is None:
            try:
                value = backend.incr(count.key)
            except ValueError:
                value = None
        if value is None:
            limited = not getattr(settings, "RATELIMIT_FAIL_OPEN", False)
        else:
            limited = value > count.limit
    if limited or not keys:
        return limited, None if limited else []
    found = backend.get_many(keys)
    return False, [found.get(key) for key in keys]
