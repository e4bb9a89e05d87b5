"""The Socket.IO message queue over Redis, made to live through a Redis outage.

python-socketio's ``AsyncPubSubManager`` hands every emit to this process's own sockets
first and then publishes it for the other processes; a subclass provides ``_publish``
and ``_listen`` (its documented extension points). The stock ``AsyncRedisManager`` drops
what it cannot publish while Redis is down and, once its subscription has failed, waits
up to a minute (doubling 1, 2, 4 … 60 s) before subscribing again, so the sockets of the
other processes could miss a hearing's events and stay behind long after Redis returned.

Here:

* a publish that fails (Redis down, or slower than ``TIMEOUT``) never blocks or fails
  the emit; the message is kept (``KEEP`` at most) and published again, in order, as
  soon as a publish succeeds;
* the subscription is retried every ``RETRY_SECONDS``; on each (re)subscription the
  process says so on the channel (``HELLO``), and every process that kept messages from
  an outage (while it lasts and ``RESEND_SECONDS`` after) publishes them again, so a
  process whose subscription came back after the others had re-sent still gets them.

Messages sent again may arrive twice: the room's events carry their ``seq`` and clients
ignore what they already applied (docs/realtime.md, "Order and recovery"); removals and
room membership changes are idempotent. Acknowledgement callbacks across processes are
never kept (a late answer would be one nobody waits for any more).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import AsyncIterator
from typing import Any

from redis import asyncio as aioredis
from socketio.async_pubsub_manager import AsyncPubSubManager

log = logging.getLogger(__name__)

HELLO = "heyat:hello"  # a process (re)subscribed: send again what an outage kept
RETRY_SECONDS = 0.5
TIMEOUT = 2.0  # seconds a publish may take before Redis counts as down
KEEP = 10_000  # messages kept while Redis is down (the oldest are dropped past that)
RESEND_SECONDS = 60.0  # how long after an outage its messages are sent again on a hello


class ResilientRedisManager(AsyncPubSubManager):  # type: ignore[misc]  # untyped base
    name = "heyat-redis"

    def __init__(self, url: str, channel: str) -> None:
        super().__init__(channel=channel)
        self.url = url
        self.publisher: Any = aioredis.from_url(
            url, socket_timeout=TIMEOUT, socket_connect_timeout=TIMEOUT
        )
        self.kept: deque[dict[str, Any]] = deque(maxlen=KEEP)
        self.down = False  # the last publish failed
        self.next_try = 0.0  # while down: no new attempt before this time.monotonic()
        self.outage_ended = 0.0  # time.monotonic() of the last successful re-send

    async def _publish(self, data: dict[str, Any]) -> None:
        if data.get("method") == "callback":
            if not self.down:
                await self._send(data)
            return
        if self.down:
            self.kept.append(data)
            if time.monotonic() >= self.next_try:  # an emit never waits on Redis twice a retry
                await self._recover()
            return
        if not await self._send(data):
            self.kept.append(data)

    async def _send(self, data: dict[str, Any]) -> bool:
        try:
            await self.publisher.publish(self.channel, self.json.dumps(data))
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if not self.down:
                log.warning("Redis is unreachable (%s); keeping Socket.IO messages", exc)
                if time.monotonic() - self.outage_ended > RESEND_SECONDS:
                    self.kept.clear()  # a former outage's messages are not sent again
            self.down = True
            self.next_try = time.monotonic() + RETRY_SECONDS
            return False
        return True

    async def _recover(self) -> None:
        """Redis was down: publish the kept messages in order if it answers again."""
        for data in list(self.kept):
            if not await self._send(data):
                return
        if self.down:
            log.warning("Redis answers again; %d kept Socket.IO messages sent", len(self.kept))
        self.down = False
        self.outage_ended = time.monotonic()

    async def _resend(self) -> None:
        """Another process (re)subscribed: what an outage kept goes out again for it."""
        if not self.kept:
            return
        if not self.down and time.monotonic() - self.outage_ended > RESEND_SECONDS:
            self.kept.clear()
            return
        if self.down:
            await self._recover()
            return
        for data in list(self.kept):
            if not await self._send(data):
                return

    async def _listen(self) -> AsyncIterator[dict[str, Any]]:
        """Messages of the channel, forever: subscribed again every ``RETRY_SECONDS``
        while Redis is away."""
        failed = False
        while True:
            client: Any = aioredis.from_url(self.url, socket_connect_timeout=TIMEOUT)
            pubsub = client.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self.channel)
                if failed:
                    log.warning("Socket.IO channel subscribed again after a Redis outage")
                failed = False
                await self._publish_hello()
                async for message in pubsub.listen():
                    if message.get("type") != "message":
                        continue
                    data = self.json.loads(message["data"])
                    if not isinstance(data, dict):
                        continue
                    if data.get("method") == HELLO:
                        if data.get("host_id") != self.host_id:
                            await self._resend()
                        continue
                    yield data
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if not failed:
                    log.warning("Socket.IO channel lost (%s); subscribing again", exc)
                failed = True
            finally:
                await _close_quietly(pubsub, client)
            await asyncio.sleep(RETRY_SECONDS)

    async def _publish_hello(self) -> None:
        if self.down:
            await self._recover()
        await self._send({"method": HELLO, "host_id": self.host_id})

    async def close(self) -> None:
        await _close_quietly(self.publisher)


async def _close_quietly(*connections: Any) -> None:
    for connection in connections:
        try:
            await connection.aclose()
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: S110 - a connection Redis already dropped
            pass
