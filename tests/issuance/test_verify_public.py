"""The public verification endpoints cannot be used to slow everyone down: they are rate
limited per client address (429 with Retry-After, other clients unaffected), and a PDF is
validated in the worker pool, not on the event loop."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any

from hearing_server.config import Settings
from rulings.verify import verify_pdf


async def test_verification_is_rate_limited_per_client(settings: Settings) -> None:
    from hearing_server.app import create_app

    app = create_app(replace(settings, public_verify_rate="5/minute"))
    try:
        client = app.quart_app.test_client()
        here = {"client": ("10.0.0.7", 40000)}
        there = {"client": ("10.0.0.8", 40000)}
        statuses = []
        for i in range(5):
            # Alternate the API and the page: one budget per client for both.
            if i % 2:
                response = await client.get("/verify/AAAA-BBBB-CCCC", scope_base=here)
            else:
                response = await client.post(
                    "/api/v1/verify", json={"code": "AAAA-BBBB-CCCC"}, scope_base=here
                )
            statuses.append(response.status_code)
        assert 429 not in statuses
        refused = await client.post(
            "/api/v1/verify",
            json={"code": "AAAA-BBBB-CCCC"},
            scope_base=here,
            headers={"Accept-Language": "fa"},
        )
        assert refused.status_code == 429
        assert 1 <= int(refused.headers["Retry-After"]) <= 60
        body = await refused.get_json()
        assert body["error"]["code"] == "too_many_requests"
        assert "ثانیه" in body["error"]["message"]  # in the caller's language
        page = await client.get("/verify/AAAA-BBBB-CCCC", scope_base=here)
        assert page.status_code == 429 and "Retry-After" in page.headers
        other = await client.post(
            "/api/v1/verify", json={"code": "AAAA-BBBB-CCCC"}, scope_base=there
        )
        assert other.status_code == 200
    finally:
        await app.runtime.db.dispose()


class _Recording(ThreadPoolExecutor):
    def __init__(self) -> None:
        super().__init__(max_workers=1, thread_name_prefix="verify-test")
        self.ran_in: list[int] = []

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Any:
        def wrapped() -> Any:
            self.ran_in.append(threading.get_ident())
            return fn(*args, **kwargs)

        return super().submit(wrapped)


async def test_a_pdf_is_validated_in_the_worker_pool(monkeypatch: Any) -> None:
    """verify_pdf hands the whole validation (parsing, hashing, CMS) to the document
    workers' pool; nothing of it runs on the loop's thread."""
    import rulings.render

    pool = _Recording()
    monkeypatch.setattr(rulings.render, "worker_pool", lambda: pool)
    try:
        result = await verify_pdf(b"%PDF-1.7 not really a pdf", b"")
        assert not result.authentic
        assert len(pool.ran_in) == 1 and pool.ran_in[0] != threading.get_ident()
    finally:
        pool.shutdown()
