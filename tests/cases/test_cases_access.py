"""Who may read a case, through pages and the API: its parties, the clerk who filed it,
staff, members of its board; nobody else (another worker, employer, clerk, board)."""

from __future__ import annotations

from typing import Any

from hearing_server.config import Settings
from tests.cases.conftest import make_person, pdf_bytes, petition
from tests.conftest import OtpSource, Person, api_login


async def _file_two_cases(quart_app: Any, people: dict[str, Person], otp: OtpSource) -> list[int]:
    worker = quart_app.test_client()
    csrf = await api_login(worker, people["worker"], otp)
    own = petition(employer_national_id="10101010101", employer_registration_number=None)
    own.pop("claimant_name")
    own.pop("claimant_national_id")
    first = await worker.post("/api/v1/cases", json=own, headers={"X-CSRF-Token": csrf})
    assert first.status_code == 201
    worker_case = (await first.get_json())["id"]
    upload = await worker.post(
        f"/api/v1/cases/{worker_case}/documents",
        form={"title": "فیش حقوقی", "kind": "payslip"},
        files={"file": _file("payslip.pdf", pdf_bytes())},
        headers={"X-CSRF-Token": csrf},
    )
    assert upload.status_code == 201, await upload.get_json()
    clerk = quart_app.test_client()
    ccsrf = await api_login(clerk, people["clerk"], otp)
    second = await clerk.post("/api/v1/cases", json=petition(), headers={"X-CSRF-Token": ccsrf})
    assert second.status_code == 201
    return [worker_case, (await second.get_json())["id"]]


def _file(name: str, data: bytes) -> Any:
    from io import BytesIO

    from werkzeug.datastructures import FileStorage

    return FileStorage(BytesIO(data), filename=name, content_type="application/pdf")


async def _reads(quart_app: Any, person: Person, otp: OtpSource, case_id: int) -> set[str]:
    """Which of the case's pages and API calls ``person`` may open."""
    client = quart_app.test_client()
    await api_login(client, person, otp)
    paths = {
        "page": f"/cases/{case_id}",
        "api": f"/api/v1/cases/{case_id}",
        "documents": f"/api/v1/cases/{case_id}/documents",
        "receipt": f"/cases/{case_id}/receipt",
    }
    allowed = set()
    for name, path in paths.items():
        response = await client.get(path)
        assert response.status_code in (200, 403, 404), (path, response.status_code)
        if response.status_code == 200:
            allowed.add(name)
    listed = await (await client.get("/api/v1/cases?per_page=100")).get_json()
    if any(c["id"] == case_id for c in listed.get("cases", [])):
        allowed.add("list")
    return allowed


EVERYTHING = {"page", "api", "documents", "receipt", "list"}


async def test_only_the_right_people_read_a_case(
    quart_app: Any, people: dict[str, Person], otp: OtpSource, db: Any, settings: Settings
) -> None:
    worker_case, clerk_case = await _file_two_cases(quart_app, people, otp)
    other_worker = await make_person(
        db, settings, "other.worker", "party", national_id="0013001140", full_name="کارگر دیگر"
    )
    other_clerk = await make_person(db, settings, "other.clerk", "clerk")
    # Readers of the worker's own case.
    for username in ("worker", "secretary", "admin", "member.gov1", "member.wrk1"):
        assert await _reads(quart_app, people[username], otp, worker_case) == EVERYTHING, username
    # The clerk who filed the other case reads that one, not the worker's.
    assert await _reads(quart_app, people["clerk"], otp, clerk_case) == EVERYTHING
    refused = {
        "clerk": worker_case,
        "employer": worker_case,  # not a party: the worker named another employer
        "member.gov2": worker_case,  # the settlement board, not the case's board
        "member.emp4": clerk_case,
        "worker": clerk_case,
    }
    for username, case_id in refused.items():
        assert await _reads(quart_app, people[username], otp, case_id) == set(), username
    for person in (other_worker, other_clerk):
        for case_id in (worker_case, clerk_case):
            assert await _reads(quart_app, person, otp, case_id) == set(), person.username
    # A refused reader cannot download the document either, nor upload to the case.
    stranger = quart_app.test_client()
    csrf = await api_login(stranger, other_worker, otp)
    documents = await (await quart_app.test_client().get("/healthz")).get_json()
    assert documents == {"status": "ok"}
    download = await stranger.get(f"/api/v1/cases/{worker_case}/documents/1/file")
    assert download.status_code == 404
    upload = await stranger.post(
        f"/api/v1/cases/{worker_case}/documents",
        form={"title": "x", "kind": "evidence"},
        files={"file": _file("x.pdf", pdf_bytes())},
        headers={"X-CSRF-Token": csrf},
    )
    assert upload.status_code == 404


async def test_the_worker_filed_for_at_the_counter_reads_the_case_after_signing_in(
    quart_app: Any, people: dict[str, Person], otp: OtpSource, db: Any, settings: Settings
) -> None:
    """The party account made by the clerk's filing is keyed by national ID; once the worker
    can sign in (here: the account activated and given an authenticator), the case is theirs
    to read."""
    from sqlalchemy import select

    from hearing_server.accounts.models import TotpCredential, User
    from hearing_server.accounts.security import SecretBox, hash_password
    from hearing_server.clock import utcnow

    _worker_case, clerk_case = await _file_two_cases(quart_app, people, otp)
    secret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
    async with db.transaction() as session:
        user = await session.scalar(select(User).where(User.national_id == "0013001132"))
        assert user is not None and user.username == "p0013001132"
        user.password_hash = await hash_password("a-long-Password-1")
        user.activated_at = utcnow()  # as /activate leaves it (tests/accounts/test_activation.py)
        session.add(
            TotpCredential(
                user_id=user.id,
                secret_encrypted=SecretBox(settings.totp_keys).seal(secret),
                activated_at=utcnow(),
            )
        )
    person = Person(user.id, user.username, "a-long-Password-1", "party", user.full_name, secret)
    assert await _reads(quart_app, person, otp, clerk_case) == EVERYTHING
