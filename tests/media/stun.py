"""A TURN Allocate over UDP with long-term credentials (RFC 5766/5389), just enough to ask
a real coturn whether it takes a credential."""

from __future__ import annotations

import hashlib
import hmac
import os
import socket
import struct

MAGIC = 0x2112A442
ALLOCATE = 0x0003
ALLOCATE_OK = 0x0103
USERNAME, MESSAGE_INTEGRITY, ERROR_CODE, REALM, NONCE, REQUESTED_TRANSPORT = (
    0x0006, 0x0008, 0x0009, 0x0014, 0x0015, 0x0019,
)  # fmt: skip


def _attr(kind: int, value: bytes) -> bytes:
    pad = (4 - len(value) % 4) % 4
    return struct.pack("!HH", kind, len(value)) + value + b"\0" * pad


def _message(txid: bytes, attrs: bytes) -> bytes:
    return struct.pack("!HHI", ALLOCATE, len(attrs), MAGIC) + txid + attrs


def _parse(data: bytes) -> tuple[int, dict[int, bytes]]:
    kind, length, _magic = struct.unpack("!HHI", data[:8])
    attrs: dict[int, bytes] = {}
    pos = 20
    while pos < 20 + length:
        a_kind, a_len = struct.unpack("!HH", data[pos : pos + 4])
        attrs.setdefault(a_kind, data[pos + 4 : pos + 4 + a_len])
        pos += 4 + a_len + (4 - a_len % 4) % 4
    return kind, attrs


def _ask(
    sock: socket.socket, address: tuple[str, int], message: bytes
) -> tuple[int, dict[int, bytes]]:
    sock.sendto(message, address)
    data, _ = sock.recvfrom(2048)
    return _parse(data)


def allocate(host: str, port: int, username: str, password: str) -> int:
    """200 when coturn allocates a relay for this credential, else the STUN error code."""
    transport = _attr(REQUESTED_TRANSPORT, bytes([17, 0, 0, 0]))  # UDP
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(10)
        kind, attrs = _ask(sock, (host, port), _message(os.urandom(12), transport))
        if kind == ALLOCATE_OK:
            return 200
        realm, nonce = attrs[REALM], attrs[NONCE]
        key = hashlib.md5(  # noqa: S324  # RFC 5389 long-term credential key
            username.encode() + b":" + realm + b":" + password.encode()
        ).digest()
        body = _attr(USERNAME, username.encode()) + _attr(REALM, realm) + _attr(NONCE, nonce)
        body += transport
        txid = os.urandom(12)
        # MESSAGE-INTEGRITY covers the header with the length counting itself (24 bytes).
        head = struct.pack("!HHI", ALLOCATE, len(body) + 24, MAGIC) + txid
        mac = hmac.new(key, head + body, hashlib.sha1).digest()
        kind, attrs = _ask(sock, (host, port), head + body + _attr(MESSAGE_INTEGRITY, mac))
        if kind == ALLOCATE_OK:
            return 200
        code = attrs.get(ERROR_CODE, b"\0\0\0\0")
        return (code[2] & 0x7) * 100 + code[3]
