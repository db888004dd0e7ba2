"""The Redis cache backend (core/cache.py) against a real Redis: skipped on a developer's machine where none
answers, never in CI (which has one)."""

import os
import uuid

import pytest
import redis

URL = "redis://127.0.0.1:6379/0"


@pytest.fixture
def cache():
    try:
        redis.Redis.from_url(URL, socket_connect_timeout=1).ping()
    except redis.exceptions.ConnectionError:
        if os.environ.get("CI"):
            pytest.fail("CI has Redis at 127.0.0.1:6379, but it does not answer")
        pytest.skip("no Redis at 127.0.0.1:6379")
    from jianchama.core.cache import RedisCache

    backend = RedisCache(URL, {"KEY_PREFIX": f"jc-test-{uuid.uuid4().hex}"})
    yield backend
    client = redis.Redis.from_url(URL)
    keys = list(client.scan_iter(f"{backend.key_prefix}:*"))
    if keys:
        client.delete(*keys)


def test_incr_counts_an_existing_key_and_keeps_its_expiry(cache):
    assert cache.add("hits", 1, 60)
    assert cache.incr("hits") == 2
    assert cache.incr("hits", 5) == 7
    assert cache.decr("hits") == 6
    assert cache.get("hits") == 6
    assert 0 < redis.Redis.from_url(URL).ttl(cache.make_key("hits")) <= 60


def test_incr_of_a_missing_key_raises_and_creates_nothing(cache):
    with pytest.raises(ValueError):
        cache.incr("nothing")
    assert cache.get("nothing") is None


def test_one_client_serves_every_call(cache):
    cache.set("a", "x")
    first = cache._cache.get_client("a")
    cache.get("a")
    assert cache._cache.get_client("a", write=True) is first


def test_the_rate_limiter_counts_through_it(cache, rf, monkeypatch):
    from django_ratelimit import core

    monkeypatch.setattr(core, "caches", {"default": cache})
    request = rf.get("/")
    counts = [core.get_usage(request, group="g", key="ip", rate="2/m", increment=True) for _ in range(3)]
    assert [c["count"] for c in counts] == [1, 2, 3]
    assert [c["should_limit"] for c in counts] == [False, False, True]
