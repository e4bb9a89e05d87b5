"""The answers of the main JSON routes fit the response models /openapi.json documents
(schemathesis' ``response_schema_conformance`` on real answers about the demo's ruled case:
sign-in, tracking, verification, cases, hearings, a motion, a ballot receipt, a ruling).
The fuzzing rarely reaches a 200 of a detail route (its ids name nothing); this does."""

from __future__ import annotations

import re
from typing import Any

import httpx
import schemathesis
from sqlalchemy import select

from hearing_server.accounts.models import User
from hearing_server.cases.models import Case, CaseParty
from hearing_server.issuance.demo import TRACKING_CODE
from hearing_server.issuance.models import Ruling
from hearing_server.scheduling.models import AgendaItem
from hearing_server.voting.models import Ballot
from tests.conftest import EVENTUALLY_SECONDS, LiveServer, OtpSource, Person
from tests.test_fuzz_schemathesis import identity

CONFORMANCE = schemathesis.checks.response_schema_conformance


async def _demo(db: Any) -> dict[str, Any]:
    async with db.transaction(write=False) as session:
        case = await session.scalar(select(Case).where(Case.tracking_code == TRACKING_CODE))
        assert case is not None
        # A filed case whose tracking code can be typed (the demo's "DEMO-RULED" cannot:
        # tracking drops the dash).
        tracked = (
            await session.execute(
                select(Case.tracking_code, CaseParty.national_id)
                .join(CaseParty, CaseParty.case_id == Case.id)
                .where(
                    Case.number.is_not(None),
                    Case.tracking_code.is_not(None),
                    Case.tracking_code.not_like("%-%"),
                    CaseParty.national_id.is_not(None),
                )
                .limit(1)
            )
        ).first()
        ruling = await session.scalar(select(Ruling).where(Ruling.case_id == case.id))
        hearing_id = await session.scalar(
            select(AgendaItem.hearing_id).where(AgendaItem.case_id == case.id)
        )
        ballot = (
            await session.execute(
                select(Ballot, User.username).join(User, User.id == Ballot.member_id)
            )
        ).first()
    assert ruling is not None and ballot is not None and tracked is not None
    return {
        "case_id": case.id,
        "tracked": tracked,
        "ruling_id": ruling.id,
        "code": ruling.verification_code,
        "hearing_id": hearing_id,
        "motion_id": ballot[0].motion_id,
        "receipt": ballot[0].receipt,
        "voter": ballot[1],
    }


def _check(schema: Any, template: str, method: str, response: httpx.Response) -> str | None:
    """None when the answer fits the document, else what is wrong."""
    assert response.status_code < 300, (template, response.status_code, response.text[:300])
    pattern = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", template)
    path = response.request.url.path
    params = re.fullmatch(pattern, path)
    assert params is not None, (template, path)
    case = schema[template][method].Case(path_parameters=params.groupdict())
    try:
        case.validate_response(response, checks=[CONFORMANCE])
    except BaseExceptionGroup as failures:  # schemathesis' FailureGroup
        return f"{method} {template}: {failures.exceptions[0]}"[:800]
    return None


async def test_the_main_routes_answer_what_the_document_says(
    live_server: LiveServer, db: Any, people: dict[str, Person], otp: OtpSource
) -> None:
    demo = await _demo(db)
    problems: list[str | None] = []
    async with httpx.AsyncClient(timeout=EVENTUALLY_SECONDS, base_url=live_server.url) as http:
        schema = schemathesis.openapi.from_dict((await http.get("/openapi.json")).json())
        secretary = people["secretary"]
        login = await http.post(
            "/api/v1/auth/login",
            json={
                "username": secretary.username,
                "password": secretary.password,
                "otp": otp.code(secretary.totp_secret),
            },
        )
        problems.append(_check(schema, "/api/v1/auth/login", "POST", login))
        track = await http.post(
            "/api/v1/track",
            json={"tracking_code": demo["tracked"][0], "national_id": demo["tracked"][1]},
        )
        problems.append(_check(schema, "/api/v1/track", "POST", track))
        for template, path in [
            ("/api/v1/verify/{code}", f"/api/v1/verify/{demo['code']}"),
            ("/api/v1/public/rulings", "/api/v1/public/rulings?q=%D9%85%D8%B2%D8%AF&page=1"),
        ]:
            problems.append(_check(schema, template, "GET", await http.get(path)))
        verify = await http.post("/api/v1/verify", json={"code": demo["code"]})
        problems.append(_check(schema, "/api/v1/verify", "POST", verify))
    as_secretary = await identity(live_server, secretary, otp)
    async with httpx.AsyncClient(
        timeout=EVENTUALLY_SECONDS, base_url=live_server.url, **as_secretary
    ) as http:
        for template, path in [
            ("/api/v1/cases", "/api/v1/cases"),
            ("/api/v1/cases/{case_id}", f"/api/v1/cases/{demo['case_id']}"),
            ("/api/v1/hearings", "/api/v1/hearings?past=1"),
            ("/api/v1/hearings/{hearing_id}", f"/api/v1/hearings/{demo['hearing_id']}"),
            ("/api/v1/rulings/{ruling_id}", f"/api/v1/rulings/{demo['ruling_id']}"),
            ("/api/v1/motions/{motion_id}", f"/api/v1/motions/{demo['motion_id']}"),
        ]:
            problems.append(_check(schema, template, "GET", await http.get(path)))
        body = (await http.get(f"/api/v1/cases/{demo['case_id']}")).json()
        assert body["claims"] and all(isinstance(c["id"], int) for c in body["claims"])
    as_voter = await identity(live_server, people[demo["voter"]], otp)
    async with httpx.AsyncClient(
        timeout=EVENTUALLY_SECONDS, base_url=live_server.url, **as_voter
    ) as http:
        receipt = await http.get(f"/api/v1/receipts/{demo['receipt']}")
        problems.append(_check(schema, "/api/v1/receipts/{receipt}", "GET", receipt))
    found = [p for p in problems if p]
    assert not found, "\n".join(found)
    # Every one of these routes documents its 200 body (not just "some JSON").
    for template, method in [
        ("/api/v1/auth/login", "post"),
        ("/api/v1/track", "post"),
        ("/api/v1/verify", "post"),
        ("/api/v1/verify/{code}", "get"),
        ("/api/v1/public/rulings", "get"),
        ("/api/v1/public/rulings/{code}", "get"),
        ("/api/v1/cases", "get"),
        ("/api/v1/cases/{case_id}", "get"),
        ("/api/v1/hearings", "get"),
        ("/api/v1/hearings/{hearing_id}", "get"),
        ("/api/v1/motions/{motion_id}", "get"),
        ("/api/v1/receipts/{receipt}", "get"),
        ("/api/v1/rulings/{ruling_id}", "get"),
    ]:
        answer = schema.raw_schema["paths"][template][method]["responses"].get("200", {})
        assert "schema" in answer.get("content", {}).get("application/json", {}), template
