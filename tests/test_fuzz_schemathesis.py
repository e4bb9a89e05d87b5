"""Schemathesis against the live app on a real port: every operation of /openapi.json,
with data that fits the document and data that does not, as three identities (nobody, the
demo worker, the demo secretary with the session cookie and X-CSRF-Token), on SQLite and
PostgreSQL. Any answer ≥ 500 fails, with the requests that got one, and so does any
answer whose body does not fit the document (``response_schema_conformance``: the response
models of the JSON routes and the error body every refusal has).

Bounded by ``HEYAT_FUZZ_EXAMPLES`` examples per operation and mode (default 2), so the
test stays within minutes per backend. Signing out is left out for the signed-in identities
(it would end their session mid-run); everything else, refusals included, is called.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from hearing_server.config import Settings
from hearing_server.web.context import SESSION_COOKIE
from tests.conftest import EVENTUALLY_SECONDS, LiveServer, OtpSource, Person, make_settings

EXAMPLES = int(os.environ.get("HEYAT_FUZZ_EXAMPLES", "2"))
# Ending the identity's own session would turn the rest of the run into 401s.
SESSION_ENDING = {("POST", "/api/v1/auth/logout")}
CONFORMANCE = schemathesis.checks.response_schema_conformance


@dataclass
class Tally:
    requests: int = 0
    waited: float = 0.0  # seconds spent waiting for answers (the rest is generation)
    statuses: Counter[int] = field(default_factory=Counter)
    server_errors: list[str] = field(default_factory=list)
    nonconforming: list[str] = field(default_factory=list)
    conforming: Counter[str] = field(default_factory=Counter)  # checked answers, by status


async def identity(live: LiveServer, person: Person | None, otp: OtpSource) -> dict[str, Any]:
    """``person``'s session cookie and X-CSRF-Token header, as the document's security
    schemes name them (Schemathesis would otherwise make values up), or none for nobody."""
    if person is None:
        return {}
    async with httpx.AsyncClient(timeout=EVENTUALLY_SECONDS, base_url=live.url) as http:
        response = await http.post(
            "/api/v1/auth/login",
            json={
                "username": person.username,
                "password": person.password,
                "otp": otp.code(person.totp_secret),
            },
        )
        assert response.status_code == 200, response.text
        return {
            "cookies": {SESSION_COOKIE: response.cookies[SESSION_COOKIE]},
            "headers": {"X-CSRF-Token": response.json()["csrf_token"]},
        }


def fuzz(schema: Any, base_url: str, auth: dict[str, Any]) -> Tally:
    tally = Tally()
    session = requests.Session()
    signed_in = bool(auth)
    for result in schema.get_all_operations():
        operation = result.ok()
        if signed_in and (operation.method.upper(), operation.path) in SESSION_ENDING:
            continue
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            strategy = operation.as_strategy(generation_mode=mode, **auth)

            @given(case=strategy)
            @hypothesis_settings(
                max_examples=EXAMPLES,
                deadline=None,
                database=None,
                derandomize=True,
                suppress_health_check=list(HealthCheck),
            )
            def run(case: Any) -> None:
                started = time.perf_counter()
                response = case.call(base_url=base_url, session=session, timeout=60)
                tally.waited += time.perf_counter() - started
                tally.requests += 1
                tally.statuses[response.status_code] += 1
                request = (
                    f"{response.status_code} {case.method} {case.formatted_path} "
                    f"query={case.query!r} body={case.body!r}"
                )
                if response.status_code >= 500:
                    tally.server_errors.append(f"{request}: {response.text[:300]}")
                    return
                try:
                    case.validate_response(response, checks=[CONFORMANCE])
                except BaseExceptionGroup as failures:  # schemathesis' FailureGroup
                    tally.nonconforming.append(f"{request}: {failures.exceptions[0]}"[:600])
                else:
                    tally.conforming[str(response.status_code)] += 1

            # Unsatisfiable: no data of this mode exists for the operation (nothing to send).
            with contextlib.suppress(Unsatisfiable):
                run()
    return tally


@pytest.fixture
def settings(db_url: str, tmp_path: Path, tmp_root: Path) -> Settings:
    """The demo's stored files too (its minutes and ruling PDFs), copied for this test, so
    the downloads answer their PDFs (a lost file is a 404 ``file_missing``, tested apart)."""
    shutil.copytree(tmp_root / "files", tmp_path / "files", dirs_exist_ok=True)
    return make_settings(db_url, tmp_path, pki_dir=tmp_root / "pki")


@pytest.mark.parametrize("who", ["anonymous", "worker", "secretary"])
async def test_schemathesis_finds_no_server_error(
    live_server: LiveServer,
    people: dict[str, Person],
    otp: OtpSource,
    who: str,
    db_url: str,
) -> None:
    person = None if who == "anonymous" else people[who]
    auth = await identity(live_server, person, otp)
    async with httpx.AsyncClient(timeout=EVENTUALLY_SECONDS, base_url=live_server.url) as http:
        document = (await http.get("/openapi.json")).json()
    schema = schemathesis.openapi.from_dict(document)
    started = time.perf_counter()
    tally = await asyncio.to_thread(fuzz, schema, live_server.url, auth)
    took = time.perf_counter() - started
    backend = "postgres" if db_url.startswith("postgresql") else "sqlite"
    print(
        f"schemathesis {backend} {who}: {tally.requests} requests in {took:.0f} s "
        f"({tally.waited:.0f} s waiting for answers) {dict(sorted(tally.statuses.items()))}; "
        f"bodies that fit the document, by status: {dict(sorted(tally.conforming.items()))}"
    )
    assert tally.requests > 0
    assert not tally.server_errors, "\n".join(tally.server_errors[:20])
    assert not tally.nonconforming, "\n".join(tally.nonconforming[:20])
