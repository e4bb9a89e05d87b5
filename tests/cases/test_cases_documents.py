"""The case file: content checks with clear 4xx, nothing left behind on refusal, images
as PDF, one stored copy of the same bytes, visibility, withdrawal, audited downloads."""

from __future__ import annotations

import asyncio
import hashlib
from io import BytesIO
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from werkzeug.datastructures import FileStorage

from hearing_server.audit.models import AuditEvent
from hearing_server.cases.models import Document, StoredFile
from hearing_server.config import Settings
from tests.cases.conftest import MAX_UPLOAD, pdf_bytes, petition, png_bytes
from tests.conftest import OtpSource, Person, api_login


async def _case(client: Any, people: dict[str, Person], otp: OtpSource) -> tuple[int, str]:
    csrf = await api_login(client, people["clerk"], otp)
    filed = await client.post("/api/v1/cases", json=petition(), headers={"X-CSRF-Token": csrf})
    assert filed.status_code == 201
    return (await filed.get_json())["id"], csrf


async def _upload(client: Any, case_id: int, csrf: str, name: str, data: bytes, **form: str) -> Any:
    fields = {"title": "مدرک", "kind": "evidence", **form}
    return await client.post(
        f"/api/v1/cases/{case_id}/documents",
        form=fields,
        files={"file": FileStorage(BytesIO(data), filename=name)},
        headers={"X-CSRF-Token": csrf},
    )


def _stored(files_dir: Path) -> list[Path]:
    return [p for p in files_dir.rglob("*") if p.is_file()] if files_dir.exists() else []


async def _counts(db: Any) -> tuple[int, int]:
    async with db.transaction(write=False) as session:
        documents = await session.scalar(select(func.count()).select_from(Document))
        stored = await session.scalar(select(func.count()).select_from(StoredFile))
    return int(documents or 0), int(stored or 0)


async def test_bad_files_get_a_clear_4xx_and_leave_nothing_behind(
    client: Any, people: dict[str, Person], otp: OtpSource, db: Any, settings: Settings
) -> None:
    case_id, csrf = await _case(client, people, otp)
    before = await _counts(db)
    good = pdf_bytes(2)
    cases = [
        ("setup.pdf", b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 4000, 415, "unsupported_type"),
        ("locked.pdf", pdf_bytes(password="secret"), 422, "pdf_encrypted"),
        ("cut.pdf", good[: len(good) // 2], 422, "pdf_broken"),
        ("big.pdf", good[:-6] + b" " * MAX_UPLOAD + good[-6:], 413, "too_large"),
        ("photo.png", png_bytes()[:5000], 422, "image_broken"),
        ("long.pdf", pdf_bytes(21), 413, "too_many_pages"),
    ]
    for name, data, status, code in cases:
        response = await _upload(client, case_id, csrf, name, data)
        body = await response.get_json()
        assert response.status_code == status, (name, body)
        assert body["error"]["code"] == code, name
        assert body["error"]["message"]  # a sentence in the user's language
    assert await _counts(db) == before
    assert _stored(settings.files_dir) == []
    en = await client.post("/language", form={"locale": "en", "csrf_token": csrf})
    assert en.status_code == 302
    locked = await _upload(client, case_id, csrf, "locked.pdf", pdf_bytes(password="x"))
    assert (await locked.get_json())["error"]["message"] == (
        "The PDF is protected with a password. Upload a copy without a password."
    )


async def test_an_oversized_page_upload_shows_the_error_beside_the_field(
    client: Any, people: dict[str, Person], otp: OtpSource, settings: Settings
) -> None:
    case_id, csrf = await _case(client, people, otp)
    response = await client.post(
        f"/cases/{case_id}/documents",
        form={"title": "x", "kind": "evidence", "csrf_token": csrf},
        files={"file": FileStorage(BytesIO(b"GIF89a" + b"\x00" * 100), filename="a.gif")},
    )
    html = await response.get_data(as_text=True)
    assert response.status_code == 415
    assert 'id="e-file"' in html and "فقط فایل‌های PDF" in html
    assert _stored(settings.files_dir) == []


async def test_a_photo_becomes_a_pdf_and_the_same_file_is_stored_once(
    quart_app: Any, people: dict[str, Person], otp: OtpSource, db: Any, settings: Settings
) -> None:
    client = quart_app.test_client()
    case_id, csrf = await _case(client, people, otp)
    photo = png_bytes()
    response = await _upload(client, case_id, csrf, "photo.png", photo, title="عکس قرارداد")
    body = await response.get_json()
    assert response.status_code == 201, body
    assert body["original_sha256"] == hashlib.sha256(photo).hexdigest()
    download = await client.get(f"/api/v1/cases/{case_id}/documents/{body['id']}/file")
    data = await download.get_data()
    assert download.status_code == 200 and data.startswith(b"%PDF-")
    assert hashlib.sha256(data).hexdigest() == body["sha256"]

    same = pdf_bytes(3)
    second = quart_app.test_client()
    csrf2 = await api_login(second, people["clerk"], otp)
    results = await asyncio.gather(
        _upload(client, case_id, csrf, "a.pdf", same),
        _upload(second, case_id, csrf2, "b.pdf", same),
    )
    # Two uploads of the same content at once: one document, both answered with it.
    assert sorted(r.status_code for r in results) == [200, 201]
    answered = [(await r.get_json())["id"] for r in results]
    assert answered[0] == answered[1]
    sha = hashlib.sha256(same).hexdigest()
    async with db.transaction(write=False) as session:
        rows = await session.scalar(
            select(func.count()).select_from(StoredFile).where(StoredFile.sha256 == sha)
        )
        pages = await session.scalar(select(StoredFile.pages).where(StoredFile.sha256 == sha))
    assert rows == 1 and pages == 3
    on_disk = [p for p in _stored(settings.files_dir) if p.name == sha]
    assert len(on_disk) == 1 and on_disk[0].read_bytes() == same
    assert not [p for p in _stored(settings.files_dir) if p.name.startswith(".upload-")]


async def test_board_only_and_withdrawn_documents_and_audited_downloads(
    quart_app: Any, people: dict[str, Person], otp: OtpSource, db: Any
) -> None:
    clerk = quart_app.test_client()
    case_id, clerk_csrf = await _case(clerk, people, otp)
    mine = await (await _upload(clerk, case_id, clerk_csrf, "a.pdf", pdf_bytes(1))).get_json()
    refused = await _upload(clerk, case_id, clerk_csrf, "b.pdf", pdf_bytes(2), visibility="board")
    assert refused.status_code == 403
    secretary = quart_app.test_client()
    csrf = await api_login(secretary, people["secretary"], otp)
    internal = await (
        await _upload(secretary, case_id, csrf, "r.pdf", pdf_bytes(4), visibility="board")
    ).get_json()
    no_reason = await clerk.post(
        f"/api/v1/cases/{case_id}/documents/{mine['id']}/withdraw",
        json={"reason": " "},
        headers={"X-CSRF-Token": clerk_csrf},
    )
    assert no_reason.status_code == 422
    withdrawn = await clerk.post(
        f"/api/v1/cases/{case_id}/documents/{mine['id']}/withdraw",
        json={"reason": "نسخه اشتباه بود"},
        headers={"X-CSRF-Token": clerk_csrf},
    )
    assert withdrawn.status_code == 200
    clerk_sees = await (await clerk.get(f"/api/v1/cases/{case_id}/documents")).get_json()
    assert clerk_sees["documents"] == []
    assert (
        await clerk.get(f"/api/v1/cases/{case_id}/documents/{internal['id']}/file")
    ).status_code == 404
    member = quart_app.test_client()
    await api_login(member, people["member.gov1"], otp)
    board_sees = await (await member.get(f"/api/v1/cases/{case_id}/documents")).get_json()
    marks = {d["id"]: (d["withdrawn"], d["visibility"]) for d in board_sees["documents"]}
    assert marks == {mine["id"]: (True, "parties"), internal["id"]: (False, "board")}
    assert (
        await member.get(f"/api/v1/cases/{case_id}/documents/{internal['id']}/file")
    ).status_code == 200
    page = await (await secretary.get(f"/cases/{case_id}")).get_data(as_text=True)
    assert "نسخه اشتباه بود" in page
    async with db.transaction(write=False) as session:
        actions = list(
            await session.scalars(
                select(AuditEvent.action)
                .where(AuditEvent.subject_type == "case", AuditEvent.subject_id == str(case_id))
                .order_by(AuditEvent.seq)
            )
        )
    assert actions == [
        "case.filed",
        "document.uploaded",
        "document.uploaded",
        "document.withdrawn",
        "document.downloaded",
    ]


async def test_an_upload_refused_when_recorded_removes_its_file_but_never_anothers(
    client: Any, people: dict[str, Person], otp: OtpSource, db: Any, settings: Settings
) -> None:
    """The bytes are written and fsynced before the transaction that records them (no
    fsync under the write lock); a refusal in that transaction (here: no title) removes
    the file it wrote — but not a file the same bytes already had, which a row names."""
    case_id, csrf = await _case(client, people, otp)
    before = await _counts(db)
    refused = await _upload(client, case_id, csrf, "a.pdf", pdf_bytes(4), title="  ")
    assert refused.status_code == 422, await refused.get_json()
    assert (await refused.get_json())["error"]["field"] == "title"
    assert await _counts(db) == before
    assert _stored(settings.files_dir) == []

    kept = pdf_bytes(5)
    made = await _upload(client, case_id, csrf, "b.pdf", kept)
    assert made.status_code == 201
    again = await _upload(client, case_id, csrf, "c.pdf", kept, kind="no-such-kind")
    assert again.status_code == 422
    sha = hashlib.sha256(kept).hexdigest()
    assert [p.read_bytes() for p in _stored(settings.files_dir) if p.name == sha] == [kept]
