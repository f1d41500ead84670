"""Messages to a citizen sent outside a turn (the live-agent desk), across Rasa processes.

The desk speaks to a citizen with Rasa's ``POST /conversations/{id}/tracker/events?output_channel=…``
(docs/desk.md). Whichever Rasa process receives that call must reach the citizen, but with several
processes behind nginx (``make prod``) the citizen's socket.io connection, and the REST citizen's
next request, may be on another one. So, when ``CHANNEL_REDIS_URL`` is set (docker/entrypoints/rasa.sh
sets it from the lock store's ``REDIS_HOST``/``REDIS_PORT``/``REDIS_DB``):

* **socket.io**: the server uses python-socketio's ``AsyncRedisManager`` (:func:`socketio_manager`):
  an emit to the session's room in any process is published on the Redis channel ``tthc:socketio``
  and every process emits it to the members of that room it holds;
* **REST**: the messages wait in Redis (:class:`RedisQueue`: one list per sender, key
  ``tthc:out_of_turn:<sender>``, at most ``MAX_QUEUED`` messages, expiring ``OUT_OF_TURN_TTL_S``
  seconds after the last one, 86400 by default) and any process hands them out with the citizen's
  next request.

Without it (``make run``: one process) nothing changes: the socket.io rooms and the REST queue
(:class:`MemoryQueue`) are in the process's memory. The password comes from ``REDIS_PASSWORD`` (as
for the lock store) unless the URL carries one, so it never has to be written into the URL.
"""

from __future__ import annotations

import json
import os
from collections import OrderedDict
from typing import Any, Dict, List
from urllib.parse import urlsplit

import structlog

logger = structlog.get_logger()

REDIS_URL_ENV = "CHANNEL_REDIS_URL"
KEY_PREFIX = "tthc:out_of_turn:"
SOCKETIO_CHANNEL = "tthc:socketio"
MAX_QUEUED = 50


def redis_url() -> str:
    """``CHANNEL_REDIS_URL`` (``redis://host:port/db``), or "" for the in-memory default."""
    return os.environ.get(REDIS_URL_ENV, "").strip()


def redis_options(url: str) -> Dict[str, Any]:
    """``Redis.from_url`` keyword arguments: the password from ``REDIS_PASSWORD`` when the URL has none,
    and a connect timeout, so an unreachable Redis fails a call instead of holding it. (No read
    timeout here: the socket.io manager's subscription waits for messages as long as it must.)"""
    options: Dict[str, Any] = {"socket_connect_timeout": 2}
    password = os.environ.get("REDIS_PASSWORD", "")
    if urlsplit(url).password is None and password:
        options["password"] = password
    return options


def safe_url(url: str) -> str:
    """The URL without its password, for the log."""
    parts = urlsplit(url)
    return url.replace(f":{parts.password}@", ":***@") if parts.password else url


class MemoryQueue:
    """One process's queue: at most ``MAX_QUEUED`` messages per sender and ``MAX_SENDERS`` senders,
    oldest dropped."""

    MAX_QUEUED = MAX_QUEUED
    MAX_SENDERS = 10000

    def __init__(self) -> None:
        self._items: OrderedDict[str, List[Dict[str, Any]]] = OrderedDict()

    async def put(self, sender: str, message: Dict[str, Any]) -> None:
        items = self._items.setdefault(sender, [])
        items.append(message)
        del items[: -self.MAX_QUEUED]
        self._items.move_to_end(sender)
        while len(self._items) > self.MAX_SENDERS:
            self._items.popitem(last=False)

    async def take(self, sender: str) -> List[Dict[str, Any]]:
        return self._items.pop(sender, [])


class RedisQueue:
    """The queue shared by every Rasa process: a Redis list per sender, with an expiry.

    ``put`` appends, trims to the newest ``MAX_QUEUED`` and renews the expiry in one transaction;
    ``take`` reads and deletes in one transaction, so two requests of the same citizen on two
    processes never both get a message. A ``put`` that fails raises (Rasa then answers the desk's
    call with an error and does not store the operator's message); a ``take`` that fails is logged
    and gives nothing, so the citizen's own turn still runs.
    """

    MAX_QUEUED = MAX_QUEUED

    def __init__(self, url: str, ttl_s: int | None = None) -> None:
        self.url = url
        self.ttl_s = int(ttl_s if ttl_s is not None else os.environ.get("OUT_OF_TURN_TTL_S", "86400"))
        self._redis: Any = None

    def _client(self) -> Any:
        if self._redis is None:  # created on first use, inside the server's event loop
            from redis import asyncio as aioredis

            self._redis = aioredis.Redis.from_url(self.url, socket_timeout=5, **redis_options(self.url))
        return self._redis

    @staticmethod
    def key(sender: str) -> str:
        return KEY_PREFIX + sender

    async def put(self, sender: str, message: Dict[str, Any]) -> None:
        key = self.key(sender)
        async with self._client().pipeline(transaction=True) as pipe:
            pipe.rpush(key, json.dumps(message, ensure_ascii=False))
            pipe.ltrim(key, -self.MAX_QUEUED, -1)
            pipe.expire(key, self.ttl_s)
            await pipe.execute()

    async def take(self, sender: str) -> List[Dict[str, Any]]:
        key = self.key(sender)
        try:
            async with self._client().pipeline(transaction=True) as pipe:
                pipe.lrange(key, 0, -1)
                pipe.delete(key)
                raw, _ = await pipe.execute()
        except Exception as exc:
            logger.error("out_of_turn.take.failed", error=f"{type(exc).__name__}: {exc}")
            return []
        out = []
        for item in raw:
            try:
                out.append(json.loads(item))
            except ValueError:
                continue
        return out


def queue_from_env() -> MemoryQueue | RedisQueue:
    url = redis_url()
    if url:
        logger.info("out_of_turn.queue", backend="redis", url=safe_url(url))
        return RedisQueue(url)
    return MemoryQueue()


def socketio_manager() -> Any:
    """python-socketio's ``AsyncRedisManager`` when ``CHANNEL_REDIS_URL`` is set, else None (the
    server's default in-memory manager)."""
    url = redis_url()
    if not url:
        return None
    from socketio import AsyncRedisManager

    logger.info("socketio.manager", backend="redis", url=safe_url(url), channel=SOCKETIO_CHANNEL)
    return AsyncRedisManager(url, channel=SOCKETIO_CHANNEL, redis_options=redis_options(url))


__all__ = ["MemoryQueue", "RedisQueue", "queue_from_env", "socketio_manager", "redis_url", "SOCKETIO_CHANNEL"]
