"""A network namespace for WebRTC tests (STACK.md, "Media"): Janus never gathers ICE
candidates on a loopback interface, so Janus, coturn and Chromium run inside a namespace
whose veth end carries 127.0.1.1 (for ICE) and a /30 address the host reaches it by; the
host end carries the other address of the /30 (the Heyat server listens there). Needs
root; the namespace and its veth pair are deleted afterwards."""

from __future__ import annotations

import contextlib
import os
import secrets
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass

ICE_IP = "127.0.1.1"


@dataclass(frozen=True)
class NetNs:
    name: str
    host_ip: str  # the host's end: where the Heyat server listens
    ns_ip: str  # the namespace's end: where Janus's HTTP API listens

    def command(self, argv: list[str]) -> list[str]:
        return ["ip", "netns", "exec", self.name, *argv]


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True)


@contextlib.contextmanager
def netns() -> Iterator[NetNs]:
    tag = secrets.token_hex(3)
    name = f"heyat-av-{tag}"
    host_if, ns_if = f"hav{tag}", f"nav{tag}"
    # A /30 in 10.231.0.0/16 picked at random: two test runs at once do not collide.
    block = secrets.randbelow(16384) * 4
    base = f"10.231.{block // 256}."
    host_ip, ns_ip = f"{base}{block % 256 + 1}", f"{base}{block % 256 + 2}"
    _ip("netns", "add", name)
    try:
        _ip("netns", "exec", name, "ip", "link", "set", "lo", "up")
        _ip("link", "add", host_if, "type", "veth", "peer", "name", ns_if, "netns", name)
        _ip("addr", "add", f"{host_ip}/30", "dev", host_if)
        _ip("link", "set", host_if, "up")
        _ip("netns", "exec", name, "ip", "addr", "add", f"{ns_ip}/30", "dev", ns_if)
        _ip("netns", "exec", name, "ip", "addr", "add", f"{ICE_IP}/32", "dev", ns_if)
        _ip("netns", "exec", name, "ip", "link", "set", ns_if, "up")
        yield NetNs(name, host_ip, ns_ip)
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):
            _ip("link", "del", host_if)
        _ip("netns", "del", name)


def is_root() -> bool:
    return os.geteuid() == 0
