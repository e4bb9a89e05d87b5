"""Signed credentials for browsers: Janus tokens and TURN REST credentials.

Janus (``token_auth_secret``) accepts ``<expiry>,<realm>,<descriptor>...:<sig>`` where
``sig`` is base64(HMAC-SHA1(secret, everything before the colon)) and ``expiry`` a Unix
time. The core token (realm ``janus``, descriptor the VideoRoom plugin) lets a browser
open a session and attach the plugin; the room token (realm ``janus.plugin.videoroom``,
descriptor ``room=<id>``) lets it join that one room, and only while it is in the room's
``allowed`` list. A per-grant nonce keeps two people's tokens apart.

coturn (``use-auth-secret``): username ``<expiry>:<user>``, password
base64(HMAC-SHA1(secret, username)).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass

VIDEOROOM = "janus.plugin.videoroom"


def _sign(secret: str, data: str) -> str:
    digest = hmac.new(secret.encode(), data.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def janus_token(secret: str, expires: int, realm: str, *descriptors: str) -> str:
    data = ",".join([str(int(expires)), realm, *descriptors])
    return f"{data}:{_sign(secret, data)}"


def core_token(secret: str, expires: int) -> str:
    return janus_token(secret, expires, "janus", VIDEOROOM)


def room_token(secret: str, expires: int, room: str, grant: str | None = None) -> str:
    return janus_token(
        secret, expires, VIDEOROOM, f"room={room}", f"grant={grant or secrets.token_hex(8)}"
    )


def check_janus_token(secret: str, token: str, realm: str, descriptor: str, now: float) -> bool:
    """What Janus checks (auth.c): the signature, the expiry, the realm, the descriptor."""
    data, sep, sig = token.rpartition(":")
    if not sep or not hmac.compare_digest(sig, _sign(secret, data)):
        return False
    parts = data.split(",")
    if len(parts) < 3 or not parts[0].isdigit():
        return False
    return int(parts[0]) > now and parts[1] == realm and descriptor in parts[2:]


@dataclass(frozen=True)
class TurnCredential:
    username: str
    credential: str
    expires: int
    urls: tuple[str, ...]

    def ice_server(self) -> dict[str, object]:
        return {"urls": list(self.urls), "username": self.username, "credential": self.credential}


def turn_credential(secret: str, user: str, expires: int, urls: tuple[str, ...]) -> TurnCredential:
    username = f"{int(expires)}:{user}"
    return TurnCredential(username, _sign(secret, username), int(expires), urls)


def check_turn_credential(secret: str, username: str, password: str, now: float) -> bool:
    """What coturn checks with ``use-auth-secret``: the password, then the expiry."""
    expiry, sep, _user = username.partition(":")
    if not sep or not expiry.isdigit():
        return False
    return hmac.compare_digest(password, _sign(secret, username)) and int(expiry) > now
