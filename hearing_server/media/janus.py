"""A client of the Janus HTTP API for the VideoRoom plugin, on httpx.

Heyat keeps one session with one VideoRoom handle, kept alive every 25 s (Janus drops a
session after 60 s without a request) and opened again when Janus forgets it (a restart
loses sessions and rooms: :meth:`JanusClient.ensure_room` creates a room again). Every
request carries the API secret; the rooms' ``secret`` and the plugin's ``admin_key`` stay
here too. Janus errors raise :class:`JanusError` with Janus's code.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Iterable
from typing import Any

import httpx

log = logging.getLogger(__name__)
VIDEOROOM = "janus.plugin.videoroom"
NO_SUCH_SESSION = 458
NO_SUCH_HANDLE = 459
NO_SUCH_ROOM = 426
ROOM_EXISTS = 427


class JanusError(Exception):
    def __init__(self, code: int, reason: str) -> None:
        super().__init__(f"Janus error {code}: {reason}")
        self.code = code
        self.reason = reason


class JanusUnavailable(Exception):
    """Janus did not answer (not running, not reachable)."""


class JanusClient:
    def __init__(
        self,
        url: str,
        *,
        api_secret: str,
        admin_key: str,
        room_secret: str,
        timeout: float = 5.0,
        keepalive_seconds: float = 25.0,
    ) -> None:
        self.url = url.rstrip("/")
        self.api_secret = api_secret
        self.admin_key = admin_key
        # The secret every Heyat room gets (edit, kick, moderate, destroy need it).
        self.room_secret = room_secret
        self._http = httpx.AsyncClient(timeout=timeout)
        self._session: int | None = None
        self._handle: int | None = None
        self._lock = asyncio.Lock()
        self._keepalive_seconds = keepalive_seconds
        self._keepalive: asyncio.Task[None] | None = None

    async def close(self) -> None:
        if self._keepalive:
            self._keepalive.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._keepalive
        if self._session is not None:
            with contextlib.suppress(Exception):
                await self._post(f"/{self._session}", {"janus": "destroy"})
        self._session = self._handle = None
        await self._http.aclose()

    async def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        body = {**body, "transaction": secrets.token_hex(8), "apisecret": self.api_secret}
        try:
            response = await self._http.post(self.url + path, json=body)
        except httpx.HTTPError as error:
            raise JanusUnavailable(str(error)) from error
        if response.status_code != 200:
            raise JanusUnavailable(f"HTTP {response.status_code}")
        data: dict[str, Any] = response.json()
        if data.get("janus") == "error":
            err = data.get("error") or {}
            raise JanusError(int(err.get("code", 0)), str(err.get("reason", "")))
        return data

    async def info(self) -> dict[str, Any]:
        try:
            response = await self._http.get(self.url + "/info")
        except httpx.HTTPError as error:
            raise JanusUnavailable(str(error)) from error
        result: dict[str, Any] = response.json()
        return result

    async def _open(self) -> tuple[int, int]:
        async with self._lock:
            if self._session is not None and self._handle is not None:
                return self._session, self._handle
            created = await self._post("", {"janus": "create"})
            session = int(created["data"]["id"])
            attached = await self._post(f"/{session}", {"janus": "attach", "plugin": VIDEOROOM})
            self._session, self._handle = session, int(attached["data"]["id"])
            if self._keepalive is None or self._keepalive.done():
                self._keepalive = asyncio.create_task(self._keep_alive())
            return self._session, self._handle

    async def _keep_alive(self) -> None:
        while True:
            await asyncio.sleep(self._keepalive_seconds)
            session = self._session
            if session is None:
                continue
            try:
                await self._post(f"/{session}", {"janus": "keepalive"})
            except JanusError:
                self._forget(session)
            except JanusUnavailable:
                log.warning("Janus keepalive failed")

    def _forget(self, session: int) -> None:
        if self._session == session:
            self._session = self._handle = None

    async def request(self, body: dict[str, Any]) -> dict[str, Any]:
        """A synchronous VideoRoom request; the plugin's answer (``plugindata.data``)."""
        for attempt in (1, 2):
            session, handle = await self._open()
            try:
                answer = await self._post(
                    f"/{session}/{handle}", {"janus": "message", "body": body}
                )
            except JanusError as error:
                if error.code in (NO_SUCH_SESSION, NO_SUCH_HANDLE) and attempt == 1:
                    self._forget(session)
                    continue
                raise
            data: dict[str, Any] = answer.get("plugindata", {}).get("data", {})
            if "error_code" in data:
                raise JanusError(int(data["error_code"]), str(data.get("error", "")))
            return data
        raise AssertionError("unreachable")

    # --- rooms -----------------------------------------------------------------------

    async def exists(self, room: str) -> bool:
        data = await self.request({"request": "exists", "room": room})
        return bool(data.get("exists"))

    async def create_room(
        self,
        room: str,
        *,
        description: str,
        allowed: Iterable[str] = (),
        rec_dir: str | None = None,
        publishers: int = 12,
    ) -> None:
        body: dict[str, Any] = {
            "request": "create",
            "admin_key": self.admin_key,
            "room": room,
            "description": description,
            "secret": self.room_secret,
            "is_private": True,
            "publishers": publishers,
            "allowed": list(allowed),
            "signed_tokens": True,
            # A subscription belongs to a publisher of the room: kicking the publisher
            # kicks its subscriptions too (no more media in either direction).
            "require_pvtid": True,
            "audiolevel_event": True,
            "audio_active_packets": 50,
            "audio_level_average": 40,
            "bitrate": 512000,
            "fir_freq": 10,
            "notify_joining": True,
            "lock_record": True,
            "permanent": False,
        }
        if rec_dir:
            body["rec_dir"] = rec_dir
        await self.request(body)

    async def ensure_room(
        self,
        room: str,
        *,
        description: str,
        allowed: Iterable[str] = (),
        rec_dir: str | None = None,
    ) -> bool:
        """Create ``room`` unless it exists; True when it was created now."""
        try:
            await self.create_room(room, description=description, allowed=allowed, rec_dir=rec_dir)
        except JanusError as error:
            if error.code == ROOM_EXISTS:
                return False
            raise
        return True

    async def destroy_room(self, room: str) -> None:
        try:
            await self.request({"request": "destroy", "room": room, "secret": self.room_secret})
        except JanusError as error:
            if error.code != NO_SUCH_ROOM:
                raise

    async def allowed(self, room: str, action: str, tokens: Iterable[str] = ()) -> list[str]:
        """``action``: add, remove, enable or disable; the room's allowed list after it."""
        body: dict[str, Any] = {
            "request": "allowed",
            "room": room,
            "secret": self.room_secret,
            "action": action,
        }
        if action in ("add", "remove"):
            body["allowed"] = list(tokens)
        data = await self.request(body)
        return list(data.get("allowed", []))

    async def participants(self, room: str) -> list[dict[str, Any]]:
        data = await self.request({"request": "listparticipants", "room": room})
        return list(data.get("participants", []))

    async def kick(self, room: str, participant: str) -> None:
        await self.request(
            {"request": "kick", "room": room, "secret": self.room_secret, "id": participant}
        )

    async def moderate(self, room: str, participant: str, mid: str, mute: bool) -> None:
        await self.request(
            {
                "request": "moderate",
                "room": room,
                "secret": self.room_secret,
                "id": participant,
                "mid": mid,
                "mute": mute,
            }
        )

    async def publishers(
        self, room: str, token: str, *, wait: float = 10.0
    ) -> list[dict[str, Any]]:
        """The room's active publishers with their streams (``type``, ``mid``), as a
        participant sees them: Heyat joins the room on a handle of its own (``token`` must
        be a room token in ``allowed``), reads the list and leaves.
        ``listparticipants`` does not name the streams; ``moderate`` needs their mid."""
        session, _handle = await self._open()
        attached = await self._post(f"/{session}", {"janus": "attach", "plugin": VIDEOROOM})
        handle = int(attached["data"]["id"])
        try:
            await self._post(
                f"/{session}/{handle}",
                {
                    "janus": "message",
                    "body": {
                        "request": "join",
                        "ptype": "publisher",
                        "room": room,
                        "id": f"heyat-{secrets.token_hex(6)}",
                        "display": "Heyat",
                        "token": token,
                    },
                },
            )
            loop = asyncio.get_running_loop()
            deadline = loop.time() + wait
            while loop.time() < deadline:
                for event in await self._poll(session):
                    if event.get("sender") != handle:
                        continue
                    data = event.get("plugindata", {}).get("data", {})
                    if "error_code" in data:
                        raise JanusError(int(data["error_code"]), str(data.get("error", "")))
                    if data.get("videoroom") == "joined":
                        return list(data.get("publishers", []))
            raise JanusUnavailable("no answer to join")
        finally:
            with contextlib.suppress(JanusError, JanusUnavailable):
                await self._post(f"/{session}/{handle}", {"janus": "detach"})

    async def _poll(self, session: int) -> list[dict[str, Any]]:
        try:
            response = await self._http.get(
                f"{self.url}/{session}",
                params={"maxev": "10", "apisecret": self.api_secret, "rid": secrets.token_hex(4)},
                timeout=35.0,
            )
        except httpx.HTTPError as error:
            raise JanusUnavailable(str(error)) from error
        data = response.json()
        events = data if isinstance(data, list) else [data]
        return [event for event in events if event.get("janus") == "event"]

    async def enable_recording(self, room: str, record: bool) -> None:
        await self.request(
            {
                "request": "enable_recording",
                "room": room,
                "secret": self.room_secret,
                "record": record,
            }
        )
