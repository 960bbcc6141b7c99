"""leadflow.cache: Django's Redis cache with one redis-py client per connection pool; `count` on
both caches."""

from __future__ import annotations

import time

import pytest
import time_machine

from leadflow.cache import LocMemCache, RedisCache
from tests.conftest import skip_or_fail


def test_every_call_gets_the_same_client_of_its_pool():
    # No server needed: a client connects only when it sends a command.
    cache = RedisCache("redis://127.0.0.1:6399/0", {})
    client = cache._cache.get_client(write=True)
    assert cache._cache.get_client("some-key") is client
    assert client.connection_pool is cache._cache._get_connection_pool(True)


def test_with_replicas_each_server_keeps_its_own_client():
    cache = RedisCache("redis://127.0.0.1:6399/0,redis://127.0.0.1:6398/0", {})
    writer = cache._cache.get_client(write=True)
    reader = cache._cache.get_client()
    assert reader is not writer and reader is cache._cache.get_client()
    assert reader.connection_pool.connection_kwargs["port"] == 6398


@pytest.mark.redis
def test_it_counts_and_expires_like_djangos(settings):
    if not settings.REDIS_URL:
        skip_or_fail("needs Redis: set REDIS_URL=redis://127.0.0.1:6379/<db>")
    cache = RedisCache(settings.REDIS_URL, {})
    key = "leadflow-test-cache"
    cache.delete(key)
    assert cache.add(key, 1, timeout=5) and not cache.add(key, 1, timeout=5)
    assert cache.incr(key) == 2 and cache.get(key) == 2
    assert 0 < cache._cache.get_client(key).ttl(cache.make_and_validate_key(key)) <= 5
    cache.delete(key)


@pytest.mark.redis
def test_count_starts_at_one_and_always_carries_its_expiry(settings):
    if not settings.REDIS_URL:
        skip_or_fail("needs Redis: set REDIS_URL=redis://127.0.0.1:6379/<db>")
    cache = RedisCache(settings.REDIS_URL, {})
    key = "leadflow-test-count"
    cache.delete(key)
    assert [cache.count(key, timeout=30) for _ in range(3)] == [1, 2, 3]
    assert cache.get(key) == 3  # a plain integer, as Django's incr keeps it
    assert 0 < cache._cache.get_client(key).ttl(cache.make_and_validate_key(key)) <= 30
    cache.delete(key)


@pytest.mark.redis
def test_count_goes_on_when_the_server_forgot_its_script(settings):
    """A restarted Redis (or SCRIPT FLUSH) no longer knows the count's script: it is sent again.
    Simulated with a digest the server never saw (flushing would touch every user of the server)."""
    if not settings.REDIS_URL:
        skip_or_fail("needs Redis: set REDIS_URL=redis://127.0.0.1:6379/<db>")
    cache = RedisCache(settings.REDIS_URL, {})
    key = "leadflow-test-count-flushed"
    cache.delete(key)
    assert cache.count(key, timeout=30) == 1
    client = cache._cache.get_client(key, write=True)
    cache._cache._count_scripts[id(client)].sha = "0" * 40
    assert cache.count(key, timeout=30) == 2
    assert 0 < cache._cache.get_client(key).ttl(cache.make_and_validate_key(key)) <= 30
    cache.delete(key)


def test_the_local_memory_count_starts_at_one_and_starts_again_once_expired():
    cache = LocMemCache("leadflow-test-count", {})
    with time_machine.travel(time.time(), tick=False) as clock:
        assert [cache.count("hits", timeout=30) for _ in range(3)] == [1, 2, 3]
        assert cache.get("hits") == 3  # a plain integer, as incr keeps it
        clock.shift(29)
        assert cache.count("hits", timeout=30) == 4  # each hit expires it 30 s from then
        clock.shift(31)
        assert cache.get("hits") is None
        assert cache.count("hits", timeout=30) == 1
