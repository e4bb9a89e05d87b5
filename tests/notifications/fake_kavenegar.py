"""A local stand-in for Kavenegar's REST API, on a real port: the same paths
(``/v1/{API-KEY}/sms/send.json``, ``verify/lookup.json``, ``sms/status.json``), form-encoded
requests, the same JSON envelope (``{"return": {"status", "message"}, "entries": […]}``)
and the documented error statuses. Tests arrange failures and read what it received."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

API_KEY = "6A2B-TEST-KEY"
SENDER = "10004346"
MESSAGES = {
    200: "تایید شد",
    403: "کد شناسائی API-Key معتبر نمی‌باشد",
    411: "دریافت کننده نامعتبر است",
    418: "اعتبار حساب شما کافی نیست",
    429: "IP محدود شده است",
}


@dataclass
class Sent:
    method: str
    form: dict[str, str]
    messageid: int


@dataclass
class FakeKavenegar:
    url: str = ""
    received: list[Sent] = field(default_factory=list)
    credit: bool = True
    invalid_numbers: set[str] = field(default_factory=set)
    busy_for: int = 0  # answer the next N sends with 429
    delivered: set[int] = field(default_factory=set)  # message ids reported as status 10
    lock: threading.Lock = field(default_factory=threading.Lock)

    def accepted(self, method: str = "sms/send") -> list[Sent]:
        return [s for s in self.received if s.method == method and s.messageid]

    def answer(self, method: str, key: str, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        with self.lock:
            if key != API_KEY:
                return 403, {}
            if method in ("sms/send", "verify/lookup"):
                if self.busy_for > 0:
                    self.busy_for -= 1
                    self.received.append(Sent(method, form, 0))
                    return 429, {}
                if form.get("receptor") in self.invalid_numbers:
                    self.received.append(Sent(method, form, 0))
                    return 411, {}
                if not self.credit:
                    self.received.append(Sent(method, form, 0))
                    return 418, {}
                ident = 8792343 + len(self.received)
                self.received.append(Sent(method, form, ident))
                entry = {
                    "messageid": ident,
                    "message": form.get("message", form.get("token", "")),
                    "status": 1,
                    "statustext": "در صف ارسال",
                    "sender": form.get("sender", SENDER),
                    "receptor": form.get("receptor"),
                    "date": 1356619709,
                    "cost": 120,
                }
                return 200, {"entries": [entry]}
            if method == "sms/status":
                entries = []
                for raw in form.get("messageid", "").split(","):
                    ident = int(raw)
                    status = 10 if ident in self.delivered else 4
                    entries.append({"messageid": ident, "status": status, "statustext": ""})
                return 200, {"entries": entries}
            return 404, {}


@contextmanager
def running() -> Iterator[FakeKavenegar]:
    fake = FakeKavenegar()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            parts = urlparse(self.path).path.strip("/").split("/")
            length = int(self.headers.get("Content-Length") or 0)
            form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
            if len(parts) != 4 or parts[0] != "v1" or not parts[3].endswith(".json"):
                status, extra = 404, {}
            else:
                method = f"{parts[2]}/{parts[3].removesuffix('.json')}"
                status, extra = fake.answer(method, parts[1], form)
            body = json.dumps(
                {"return": {"status": status, "message": MESSAGES.get(status, "")}, **extra},
                ensure_ascii=False,
            ).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        thread.join()
