"""Hostile text through the database path, the CLI (`heyat ruling verify/export`), the
signed minutes, and access rules."""

from __future__ import annotations

import asyncio
import subprocess
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from hearing_server.accounts.models import User
from hearing_server.cases.files import file_path
from hearing_server.clock import utcnow
from hearing_server.config import Settings
from hearing_server.issuance.compose import member_ids
from hearing_server.issuance.models import Approval, Ruling
from hearing_server.issuance.rulings import do_draft_ruling, do_issue_ruling
from hearing_server.rooms.models import Attendance, Statement
from hearing_server.voting.models import MotionKind
from rulings.pki import PkiPaths
from tests.conftest import PROJECT, OtpSource, Person, server_env
from tests.issuance.conftest import (
    DISSENT,
    Decided,
    MotionPlan,
    flip_byte,
    login_as,
    make_decided_case,
    pdf_text,
)


async def issue_directly(db: Any, settings: Settings, decided: Decided) -> Ruling:
    """Draft, approve (rows as the approval service leaves them) and issue via services."""
    async with db.transaction() as session:
        secretary = await session.scalar(select(User).where(User.username == "secretary"))
        assert secretary is not None
        ruling = await do_draft_ruling(session, settings, actor=secretary, case_id=decided.case_id)
        for member_id in member_ids(ruling):
            session.add(Approval(ruling_id=ruling.id, member_id=member_id, at=utcnow()))
        await session.flush()
        return await do_issue_ruling(session, settings, actor=secretary, ruling_id=ruling.id)


async def test_hostile_claim_text_is_printed_escaped_and_fetches_nothing(
    db: Any, settings: Settings, pki: PkiPaths
) -> None:
    hits: list[bytes] = []

    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        hits.append(await reader.read(200))
        writer.close()

    server = await asyncio.start_server(on_connect, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    title = f'<img src="http://127.0.0.1:{port}/title.png"> <b>bold</b>'
    reasoning = (
        f'<link rel="stylesheet" href="file:///etc/passwd">'
        f"<style>@import url(http://127.0.0.1:{port}/x.css);</style> مزد پرداخت نشده"
    )
    decided = await make_decided_case(
        db,
        claim_titles=[title, None],
        plans=[
            MotionPlan(MotionKind.ACCEPT, "passed", reasoning=reasoning),
            MotionPlan(MotionKind.REJECT, "passed"),
        ],
    )
    try:
        ruling = await issue_directly(db, settings, decided)
    finally:
        server.close()
        await server.wait_closed()
    assert hits == []  # nothing was fetched from the loopback server
    assert ruling.pdf_sha256 is not None
    pdf = file_path(settings.files_dir, ruling.pdf_sha256).read_bytes()
    text = pdf_text(pdf)
    # Shown as text, not markup (pdftotext mirrors the brackets in right-to-left lines).
    assert 'img src="http://127.0.0.1' in text and "title.png" in text and "bold" in text
    assert "file:///etc/passwd" in text
    assert "root:" not in text  # /etc/passwd was not embedded


async def test_cli_exports_and_verifies_and_flipped_byte_is_not_authentic(
    db: Any, settings: Settings, pki: PkiPaths, tmp_path: Path
) -> None:
    decided = await make_decided_case(db)
    ruling = await issue_directly(db, settings, decided)
    env = server_env(settings, 5000)
    heyat = str(PROJECT / ".venv" / "bin" / "heyat")
    exported = tmp_path / "ruling.pdf"
    done = await asyncio.to_thread(
        subprocess.run,
        [heyat, "ruling", "export", decided.case_number, "--output", str(exported)],
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    ok = await asyncio.to_thread(
        subprocess.run,
        [heyat, "ruling", "verify", str(exported)],
        env=env,
        capture_output=True,
        text=True,
    )
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "Authentic" in ok.stdout and ruling.number in ok.stdout
    flipped = tmp_path / "flipped.pdf"
    flipped.write_bytes(flip_byte(exported.read_bytes()))
    bad = await asyncio.to_thread(
        subprocess.run,
        [heyat, "ruling", "verify", str(flipped)],
        env=env,
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 1
    assert "Not authentic" in bad.stdout and "اصیل نیست" in bad.stdout
    missing = await asyncio.to_thread(
        subprocess.run,
        [heyat, "ruling", "export", "1405-777777", "--output", str(tmp_path / "none.pdf")],
        env=env,
        capture_output=True,
        text=True,
    )
    assert missing.returncode == 1 and not (tmp_path / "none.pdf").exists()


async def test_reissued_ruling_makes_the_older_file_not_the_latest(
    db: Any, settings: Settings, pki: PkiPaths, quart_app: Any
) -> None:
    decided = await make_decided_case(db)
    first = await issue_directly(db, settings, decided)
    assert first.pdf_sha256 is not None
    old_pdf = file_path(settings.files_dir, first.pdf_sha256).read_bytes()
    second = await issue_directly(db, settings, decided)  # a corrected version
    assert second.version == 2
    client = quart_app.test_client()
    verdict = await (
        await client.post(
            "/api/v1/verify", data=old_pdf, headers={"Content-Type": "application/pdf"}
        )
    ).get_json()
    assert verdict["authentic"] is False
    assert verdict["state"] == "superseded"
    by_code = await (await client.get(f"/api/v1/verify/{second.verification_code}")).get_json()
    assert by_code["authentic"] is True and by_code["number"] == second.number


async def test_minutes_are_signed_with_attendance_votes_and_dissent(
    quart_app: Any, db: Any, people: dict[str, Person], otp: OtpSource, pki: PkiPaths
) -> None:
    decided = await make_decided_case(db)
    async with db.transaction() as session:
        start = utcnow() - timedelta(hours=2)
        for username, role in (("member.gov1", "member"), ("worker", "claimant")):
            session.add(
                Attendance(
                    hearing_id=decided.hearing_id,
                    user_id=people[username].id,
                    role=role,
                    joined_at=start,
                    left_at=start + timedelta(minutes=40),
                    admitted=True,
                )
            )
        session.add(
            Statement(
                hearing_id=decided.hearing_id,
                case_id=decided.case_id,
                author_id=people["worker"].id,
                kind="statement",
                body="مزد سه ماه پرداخت نشده است.",
                at=start + timedelta(minutes=5),
            )
        )
    secretary, csrf = await login_as(quart_app, people["secretary"], otp)
    made = await secretary.post(
        f"/api/v1/hearings/{decided.hearing_id}/minutes", headers={"X-CSRF-Token": csrf}
    )
    body = await made.get_json()
    assert made.status_code == 201, body
    again = await secretary.post(
        f"/api/v1/hearings/{decided.hearing_id}/minutes", headers={"X-CSRF-Token": csrf}
    )
    assert again.status_code == 409
    member, _ = await login_as(quart_app, people["member.wrk1"], otp)
    pdf_response = await member.get(f"/api/v1/minutes/{body['id']}/pdf")
    assert pdf_response.status_code == 200
    text = pdf_text(await pdf_response.get_data())
    assert people["member.gov1"].full_name in text
    assert people["worker"].full_name in text
    assert "مزد سه ماه پرداخت نشده است." in text
    assert DISSENT.replace("\u200c", "") in text
    other_party, _ = await login_as(quart_app, people["clerk"], otp)
    assert (await other_party.get(f"/api/v1/minutes/{body['id']}/pdf")).status_code == 404
    verdict = await (await member.get(f"/api/v1/verify/{body['verification_code']}")).get_json()
    assert verdict["kind"] == "minutes" and verdict["authentic"] is True


async def test_access_drafts_approvals_and_other_boards(
    quart_app: Any, db: Any, people: dict[str, Person], otp: OtpSource, pki: PkiPaths
) -> None:
    decided = await make_decided_case(db)
    secretary, csrf = await login_as(quart_app, people["secretary"], otp)
    member_try, member_csrf = await login_as(quart_app, people["member.gov1"], otp)
    refused = await member_try.post(
        f"/api/v1/cases/{decided.case_id}/rulings", headers={"X-CSRF-Token": member_csrf}
    )
    assert refused.status_code == 403  # only the secretary drafts
    made = await secretary.post(
        f"/api/v1/cases/{decided.case_id}/rulings", headers={"X-CSRF-Token": csrf}
    )
    ruling_id = (await made.get_json())["id"]
    worker, _ = await login_as(quart_app, people["worker"], otp)
    assert (await worker.get(f"/api/v1/rulings/{ruling_id}")).status_code == 404  # no drafts
    assert (await worker.get(f"/rulings/{ruling_id}")).status_code == 404
    # A settlement member is not on this diagnosis board: the case does not exist for them.
    outsider, outsider_csrf = await login_as(quart_app, people["member.gov2"], otp)
    answer = await outsider.post(
        f"/api/v1/rulings/{ruling_id}/approvals",
        json={"otp": otp.code(people["member.gov2"].totp_secret)},
        headers={"X-CSRF-Token": outsider_csrf},
    )
    assert answer.status_code == 404
    # A wrong code is refused and records no approval.
    chair, chair_csrf = await login_as(quart_app, people["member.gov1"], otp)
    wrong = await chair.post(
        f"/api/v1/rulings/{ruling_id}/approvals",
        json={
            "otp": "000000" if otp.code(people["member.gov1"].totp_secret) != "000000" else "111111"
        },
        headers={"X-CSRF-Token": chair_csrf},
    )
    assert wrong.status_code == 422
    page = await chair.get(f"/rulings/{ruling_id}")
    html = await page.get_data(as_text=True)
    assert page.status_code == 200 and 'id="approve-form"' in html
    async with db.transaction(write=False) as session:
        assert (
            list(await session.scalars(select(Approval).where(Approval.ruling_id == ruling_id)))
            == []
        )
    # The public verify page answers an unknown code with 404 and a clear message.
    anonymous = quart_app.test_client()
    unknown = await anonymous.get("/verify/AAAA-BBBB-CCCC")
    assert unknown.status_code == 404
    assert "هیچ رأی یا صورتجلسه‌ای با این کد تصدیق نیست." in await unknown.get_data(as_text=True)
