"""The Janus and coturn configs, rendered from Heyat's settings into ``var/media/``.

Never the packages' stock configs (demo rooms, a well-known admin secret, every plugin
and port): only the VideoRoom plugin and the plain HTTP transport on 127.0.0.1, the API
secret and the signed tokens; coturn with ``use-auth-secret`` and nothing else open.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from hearing_server.config import Settings

PLUGINS_DIR = Path("/usr/lib/x86_64-linux-gnu/janus/plugins")
TRANSPORTS_DIR = Path("/usr/lib/x86_64-linux-gnu/janus/transports")
OTHER_PLUGINS = (
    "libjanus_audiobridge.so,libjanus_duktape.so,libjanus_echotest.so,libjanus_lua.so,"
    "libjanus_nosip.so,libjanus_recordplay.so,libjanus_sip.so,libjanus_streaming.so,"
    "libjanus_textroom.so,libjanus_videocall.so,libjanus_voicemail.so"
)
OTHER_TRANSPORTS = (
    "libjanus_mqtt.so,libjanus_nanomsg.so,libjanus_pfunix.so,libjanus_rabbitmq.so,"
    "libjanus_websockets.so"
)


@dataclass(frozen=True)
class MediaPaths:
    root: Path

    @property
    def janus_dir(self) -> Path:
        return self.root / "janus"

    @property
    def janus_config(self) -> Path:
        return self.janus_dir / "janus.jcfg"

    @property
    def turn_config(self) -> Path:
        return self.root / "turnserver.conf"

    @property
    def recordings(self) -> Path:
        return self.root / "recordings"

    @property
    def logs(self) -> Path:
        return self.root / "logs"


def media_paths(settings: Settings) -> MediaPaths:
    return MediaPaths(settings.var_dir / "media")


def _q(value: str) -> str:
    """A libconfig string: JSON's quoting is the same for what we write."""
    return json.dumps(value)


# Janus's own list of folders a recording may never go to (janus.jcfg's default).
PROTECTED = (
    "/bin", "/boot", "/dev", "/etc", "/initrd", "/lib", "/lib32", "/lib64",
    "/proc", "/sbin", "/sys", "/usr", "/var",
)  # fmt: skip


def protected_folders(paths: MediaPaths) -> list[str]:
    """Janus's list less any folder holding Heyat's recordings (``/var`` when Heyat's
    var_dir is ``/var/lib/heyat``): Janus refuses a room's ``rec_dir`` under one."""
    recordings = paths.recordings.absolute()
    return [p for p in PROTECTED if not recordings.is_relative_to(p)]


def _list(values: list[str]) -> str:
    return "[" + ", ".join(_q(value) for value in values) + "]"


def janus_jcfg(settings: Settings, paths: MediaPaths) -> str:
    lo, _, hi = settings.media_rtp_ports.partition("-")
    nat = ""
    if settings.media_janus_interface:
        nat = f"\tice_enforce_list = {_q(settings.media_janus_interface)}\n"
    if settings.media_public_ip:
        # Behind 1:1 NAT: announce the public address in the ICE candidates.
        nat += f"\tnat_1_1_mapping = {_q(settings.media_public_ip)}\n"
    return (
        "general: {\n"
        f"\tconfigs_folder = {_q(str(paths.janus_dir))}\n"
        f"\tplugins_folder = {_q(str(PLUGINS_DIR))}\n"
        f"\ttransports_folder = {_q(str(TRANSPORTS_DIR))}\n"
        f"\tlog_to_file = {_q(str(paths.logs / 'janus.log'))}\n"
        "\tdebug_level = 4\n"
        "\tadmin_secret = " + _q(settings.media_admin_key) + "\n"
        f"\tprotected_folders = {_list(protected_folders(paths))}\n"
        '\tserver_name = "Heyat"\n'
        "\tsession_timeout = 60\n"
        f"\tapi_secret = {_q(settings.media_api_secret)}\n"
        "\ttoken_auth = true\n"
        f"\ttoken_auth_secret = {_q(settings.media_token_secret)}\n"
        "\tevent_handlers = false\n"
        "}\n"
        "media: {\n"
        f"\trtp_port_range = {_q(f'{lo}-{hi or lo}')}\n"
        "}\n"
        "nat: {\n"
        "\tnice_debug = false\n"
        '\tice_ignore_list = "vmnet"\n'
        f"{nat}"
        "}\n"
        "plugins: {\n"
        f"\tdisable = {_q(OTHER_PLUGINS)}\n"
        "}\n"
        "transports: {\n"
        f"\tdisable = {_q(OTHER_TRANSPORTS)}\n"
        "}\n"
        "events: {\n"
        "\tbroadcast = false\n"
        "}\n"
        "loggers: {\n"
        '\tdisable = "libjanus_jsonlog.so"\n'
        "}\n"
    )


def videoroom_jcfg(settings: Settings) -> str:
    # No rooms here: Heyat creates one per hearing over the API.
    return (
        "general: {\n"
        "\tstring_ids = true\n"
        f"\tadmin_key = {_q(settings.media_admin_key)}\n"
        "\tlock_rtp_forward = true\n"
        "}\n"
    )


def http_jcfg(settings: Settings) -> str:
    return (
        "general: {\n"
        '\tjson = "plain"\n'
        '\tbase_path = "/janus"\n'
        "\thttp = true\n"
        f"\tport = {int(settings.media_janus_port)}\n"
        f"\tip = {_q(janus_listen_ip(settings))}\n"
        "\thttps = false\n"
        "}\n"
        "admin: {\n"
        "\tadmin_http = false\n"
        "}\n"
        "cors: {\n"
        f"\tallow_origin = {_q(settings.base_url)}\n"
        "}\n"
    )


def janus_listen_ip(settings: Settings) -> str:
    """Where Janus's HTTP API listens: the host of the URL Heyat controls it by."""
    host = urlsplit(settings.media_janus_url).hostname if settings.media_janus_url else None
    return host or "127.0.0.1"


def turnserver_conf(settings: Settings, paths: MediaPaths) -> str:
    lines = [
        f"listening-port={int(settings.media_turn_port)}",
        "fingerprint",
        "use-auth-secret",
        f"static-auth-secret={settings.media_turn_secret}",
        f"realm={settings.media_turn_realm}",
        "no-cli",
        "no-tls",
        "no-dtls",
        "no-multicast-peers",
        f"log-file={paths.logs / 'turnserver.log'}",
        "simple-log",
        "no-stdout-log",
        f"pidfile={paths.root / 'turnserver.pid'}",
    ]
    if settings.media_turn_relay_ip:
        lines.append(f"relay-ip={settings.media_turn_relay_ip}")
        lines.append(f"listening-ip={settings.media_turn_relay_ip}")
    if settings.media_public_ip:
        lines.append(f"external-ip={settings.media_public_ip}")
    if settings.media_allow_loopback:
        lines.append("allow-loopback-peers")
        lines.append("cli-password=unused")
    return "\n".join(lines) + "\n"


def render(settings: Settings) -> MediaPaths:
    """Write the configs (mode 0600: they hold the secrets); returns where."""
    paths = media_paths(settings)
    for directory in (paths.root, paths.janus_dir, paths.recordings, paths.logs):
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    files = {
        paths.janus_config: janus_jcfg(settings, paths),
        paths.janus_dir / "janus.plugin.videoroom.jcfg": videoroom_jcfg(settings),
        paths.janus_dir / "janus.transport.http.jcfg": http_jcfg(settings),
        paths.turn_config: turnserver_conf(settings, paths),
    }
    for path, text in files.items():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
    return paths


def janus_command(settings: Settings, paths: MediaPaths) -> list[str]:
    command = [
        "janus",
        "-F", str(paths.janus_dir),
        "-C", str(paths.janus_config),
        "-o", "-N",
        "-L", str(paths.logs / "janus.log"),
    ]  # fmt: skip
    if settings.media_janus_interface:
        command += ["--interface", settings.media_janus_interface]
    return command


def turn_command(paths: MediaPaths) -> list[str]:
    return ["turnserver", "-c", str(paths.turn_config)]
