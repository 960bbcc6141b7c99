"""Django's Redis cache, keeping one redis-py client per connection pool.

Django's RedisCacheClient builds a new `redis.Redis` for every cache call, and redis-py's
constructor fills a case-insensitive dict of about 170 response callbacks one key at a time:
more Python than the command it then sends. A public form post makes two cache calls (the rate
limit and the drain's debounce), so that was about a tenth of a post's CPU (cProfile). A client
holds no connection of its own (it borrows one from the pool per command) and may be shared
by threads, so one per pool is enough.
"""

from __future__ import annotations

from django.core.cache.backends import redis as django_redis


class RedisCacheClient(django_redis.RedisCacheClient):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._clients: dict[int, object] = {}

    def get_client(self, key=None, *, write=False):
        pool = self._get_connection_pool(write)
        client = self._clients.get(id(pool))  # the pools live as long as this object
        if client is None:
            client = self._clients[id(pool)] = self._client(connection_pool=pool)
        return client


class RedisCache(django_redis.RedisCache):
    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = RedisCacheClient

    def count(self, key: str, *, timeout: int) -> int:
        """Add one to the counter `key` (a missing key counts from 0) and expire it `timeout`
        seconds from now; returns the new count. One round trip, atomic (MULTI/EXEC): Django's
        incr is an EXISTS then an INCR, and a first hit needs an add besides."""
        key = self.make_and_validate_key(key)
        pipe = self._cache.get_client(key, write=True).pipeline(transaction=True)
        pipe.incr(key)
        pipe.expire(key, timeout)
        count, _ = pipe.execute()
        return count
