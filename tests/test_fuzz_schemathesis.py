"""Schemathesis against the live app on a real port: every operation of /openapi.json,
with data that fits the document and data that does not, as three identities (nobody, the
demo worker, the demo secretary with the session cookie and X-CSRF-Token), on SQLite and
PostgreSQL. Any answer ≥ 500 fails, with the requests that got one.

Bounded by ``HEYAT_FUZZ_EXAMPLES`` examples per operation and mode (default 6), so the
test stays near a minute per backend. Signing out is left out for the signed-in identities
(it would end their session mid-run); everything else, refusals included, is called.
"""

from __future__ import annotations

import asyncio
import os
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode

from tests.conftest import LiveServer, OtpSource, Person

EXAMPLES = int(os.environ.get("HEYAT_FUZZ_EXAMPLES", "6"))
# Ending the identity's own session would turn the rest of the run into 401s.
SESSION_ENDING = {("POST", "/api/v1/auth/logout")}


@dataclass
class Tally:
    requests: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    server_errors: list[str] = field(default_factory=list)


async def identity_session(live: LiveServer, person: Person | None, otp: OtpSource) -> Any:
    """A requests session as ``person`` (cookie + X-CSRF-Token), or as nobody."""
    session = requests.Session()
    if person is None:
        return session
    async with httpx.AsyncClient(base_url=live.url) as http:
        response = await http.post(
            "/api/v1/auth/login",
            json={
                "username": person.username,
                "password": person.password,
                "otp": otp.code(person.totp_secret),
            },
        )
        assert response.status_code == 200, response.text
        session.cookies.update(dict(response.cookies))
        session.headers["X-CSRF-Token"] = response.json()["csrf_token"]
    return session


def fuzz(schema: Any, base_url: str, session: Any, signed_in: bool) -> Tally:
    tally = Tally()
    for result in schema.get_all_operations():
        operation = result.ok()
        if signed_in and (operation.method.upper(), operation.path) in SESSION_ENDING:
            continue
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            strategy = operation.as_strategy(generation_mode=mode)

            @given(case=strategy)
            @settings(
                max_examples=EXAMPLES,
                deadline=None,
                database=None,
                derandomize=True,
                suppress_health_check=list(HealthCheck),
            )
            def run(case: Any) -> None:
                response = case.call(base_url=base_url, session=session, timeout=60)
                tally.requests += 1
                tally.statuses[response.status_code] += 1
                if response.status_code >= 500:
                    tally.server_errors.append(
                        f"{response.status_code} {case.method} {case.formatted_path} "
                        f"query={case.query!r} body={case.body!r}: {response.text[:300]}"
                    )

            try:
                run()
            except st.errors.Unsatisfiable if hasattr(st, "errors") else Exception:  # noqa: B030
                pass
    return tally


@pytest.mark.parametrize("who", ["anonymous", "worker", "secretary"])
async def test_schemathesis_finds_no_server_error(
    live_server: LiveServer,
    people: dict[str, Person],
    otp: OtpSource,
    who: str,
    db_url: str,
) -> None:
    person = None if who == "anonymous" else people[who]
    session = await identity_session(live_server, person, otp)
    async with httpx.AsyncClient(base_url=live_server.url) as http:
        document = (await http.get("/openapi.json")).json()
    schema = schemathesis.openapi.from_dict(document)
    tally = await asyncio.to_thread(
        fuzz, schema, live_server.url, session, signed_in=person is not None
    )
    backend = "postgres" if db_url.startswith("postgresql") else "sqlite"
    print(f"schemathesis {backend} {who}: {tally.requests} requests {dict(tally.statuses)}")
    assert tally.requests > 0
    assert not tally.server_errors, "\n".join(tally.server_errors[:20])
