"""No active content reaches a viewer: a PDF's JavaScript, automatic actions, launch
actions and embedded files are removed before it is stored (the original's hash kept in
the audit entry); identical content uploaded twice to a case is one document; every file
goes out as an attachment that a browser will not run or sniff."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote

import pikepdf
import pytest
from pikepdf import Array, Dictionary, Name, String
from sqlalchemy import select

from hearing_server.audit.models import AuditEvent
from tests.cases.conftest import pdf_bytes
from tests.cases.test_cases_documents import _case, _upload
from tests.conftest import OtpSource, Person

ACTIVE_KEYS = {"/JS", "/JavaScript", "/OpenAction", "/AA", "/EmbeddedFiles", "/XFA"}
ACTIVE_ACTIONS = {
    "/JavaScript",
    "/Launch",
    "/SubmitForm",
    "/ImportData",
    "/GoToE",
    "/RichMediaExecute",
}


def _js(code: str) -> Dictionary:
    return Dictionary(S=Name.JavaScript, JS=String(code))


def hostile_pdf(kind: str) -> bytes:
    """A one-page PDF with one kind of active content."""
    pdf = pikepdf.new()
    pdf.add_blank_page(page_size=(595, 842))
    page = pdf.pages[0]
    # Each kind its own content: cleaned, two kinds would otherwise be the same file.
    page.obj.Contents = pdf.make_stream(f"% {kind}\n".encode())
    if kind == "javascript":
        script = pdf.make_indirect(_js("app.alert('hello');"))
        pdf.Root.Names = Dictionary(JavaScript=Dictionary(Names=Array([String("x"), script])))
    elif kind == "openaction":
        pdf.Root.OpenAction = pdf.make_indirect(_js("this.exportDataObject({cName: 'a'});"))
    elif kind == "page_aa":
        page.obj.AA = Dictionary(O=_js("app.launchURL('http://evil.example');"))
    elif kind == "launch":
        link = Dictionary(
            Type=Name.Annot,
            Subtype=Name.Link,
            Rect=Array([0, 0, 100, 100]),
            A=Dictionary(S=Name.Launch, F=String("cmd.exe")),
        )
        page.obj.Annots = Array([pdf.make_indirect(link)])
    elif kind == "chained":
        # A harmless-looking link whose next action runs a script.
        link = Dictionary(
            Type=Name.Annot,
            Subtype=Name.Link,
            Rect=Array([0, 0, 100, 100]),
            A=Dictionary(
                S=Name.URI, URI=String("https://example.org"), Next=Array([_js("app.alert(2)")])
            ),
        )
        page.obj.Annots = Array([pdf.make_indirect(link)])
    elif kind == "embedded":
        pdf.attachments["invoice.exe"] = pikepdf.AttachedFileSpec(pdf, b"MZ\x90\x00payload")
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


def _walk(obj: Any, seen: set[tuple[int, int]]) -> Iterator[Any]:
    if isinstance(obj, pikepdf.Object) and obj.is_indirect:
        if obj.objgen in seen:
            return
        seen.add(obj.objgen)
    if isinstance(obj, pikepdf.Dictionary | pikepdf.Stream):
        yield obj
        for key in list(obj.keys()):
            yield from _walk(obj.get(key), seen)
    elif isinstance(obj, pikepdf.Array):
        for item in obj:
            yield from _walk(item, seen)


def active_parts(data: bytes) -> set[str]:
    """Every active key or action pikepdf finds anywhere in the file."""
    found: set[str] = set()
    with pikepdf.open(io.BytesIO(data)) as pdf:
        roots = [pdf.trailer, *pdf.objects]
        seen: set[tuple[int, int]] = set()
        for root in roots:
            for node in _walk(root, seen):
                found |= ACTIVE_KEYS & {str(k) for k in node}
                action = node.get("/S")
                if action is not None and str(action) in ACTIVE_ACTIONS:
                    found.add(str(action))
                if node.get("/Type") == Name.EmbeddedFile or node.get("/Subtype") == Name(
                    "/FileAttachment"
                ):
                    found.add("/EmbeddedFile")
    return found


KINDS = ["javascript", "openaction", "page_aa", "launch", "chained", "embedded"]


@pytest.mark.parametrize("kind", KINDS)
def test_the_test_files_really_carry_active_content(kind: str) -> None:
    assert active_parts(hostile_pdf(kind))


@pytest.mark.parametrize("kind", KINDS)
def test_stripping_leaves_no_active_part_and_keeps_the_pages(kind: str) -> None:
    from hearing_server.cases.pdf_safety import strip_active_content

    cleaned, removed = strip_active_content(hostile_pdf(kind))
    assert removed
    assert active_parts(cleaned) == set()
    with pikepdf.open(io.BytesIO(cleaned)) as pdf:
        assert len(pdf.pages) == 1


def test_a_plain_pdf_is_kept_byte_for_byte() -> None:
    from hearing_server.cases.pdf_safety import strip_active_content

    plain = pdf_bytes(2)
    assert strip_active_content(plain) == (plain, [])


async def test_uploaded_pdfs_with_javascript_or_an_open_action_are_stored_cleaned(
    client: Any, people: dict[str, Person], otp: OtpSource, db: Any
) -> None:
    case_id, csrf = await _case(client, people, otp)
    for kind in ("javascript", "openaction", "launch", "embedded"):
        original = hostile_pdf(kind)
        response = await _upload(client, case_id, csrf, f"{kind}.pdf", original)
        body = await response.get_json()
        assert response.status_code == 201, (kind, body)
        original_sha = hashlib.sha256(original).hexdigest()
        assert body["sha256"] != original_sha
        assert body["original_sha256"] == original_sha
        stored = await client.get(f"/api/v1/cases/{case_id}/documents/{body['id']}/file")
        data = await stored.get_data()
        assert hashlib.sha256(data).hexdigest() == body["sha256"]
        assert active_parts(data) == set(), kind
        async with db.transaction(write=False) as session:
            payloads = list(
                await session.scalars(
                    select(AuditEvent.payload).where(AuditEvent.action == "document.uploaded")
                )
            )
        entry = next(p for p in payloads if p["document_id"] == body["id"])
        assert entry["original_sha256"] == original_sha
        assert entry["active_content_removed"]


async def test_identical_content_uploaded_twice_is_one_document(
    client: Any, people: dict[str, Person], otp: OtpSource
) -> None:
    case_id, csrf = await _case(client, people, otp)
    same = pdf_bytes(2)
    first = await _upload(client, case_id, csrf, "a.pdf", same, title="قرارداد")
    again = await _upload(client, case_id, csrf, "b.pdf", same, title="قرارداد دوباره")
    assert first.status_code == 201
    assert again.status_code == 200
    assert (await again.get_json())["id"] == (await first.get_json())["id"]
    # The page's form too.
    page = await client.post(
        f"/cases/{case_id}/documents",
        form={"title": "سوم", "kind": "evidence", "csrf_token": csrf},
        files={"file": _file(same)},
    )
    assert page.status_code == 302
    listed = await (await client.get(f"/api/v1/cases/{case_id}/documents")).get_json()
    assert [d["title"] for d in listed["documents"]] == ["قرارداد"]
    # The same bytes with JavaScript are cleaned to one document too.
    hostile = hostile_pdf("javascript")
    one = await (await _upload(client, case_id, csrf, "x.pdf", hostile)).get_json()
    two = await (await _upload(client, case_id, csrf, "y.pdf", hostile)).get_json()
    assert one["id"] == two["id"]
    # Withdrawn, the same content may be filed again.
    withdrawn = await client.post(
        f"/api/v1/cases/{case_id}/documents/{one['id']}/withdraw",
        json={"reason": "اشتباه"},
        headers={"X-CSRF-Token": csrf},
    )
    assert withdrawn.status_code == 200
    refiled = await _upload(client, case_id, csrf, "x.pdf", hostile)
    assert refiled.status_code == 201
    assert (await refiled.get_json())["id"] != one["id"]


def _file(data: bytes) -> Any:
    from werkzeug.datastructures import FileStorage

    return FileStorage(io.BytesIO(data), filename="c.pdf")


def assert_safe_download(response: Any, filename: str) -> None:
    assert response.status_code == 200
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment;"), disposition
    assert "filename*=UTF-8''" in disposition
    assert unquote(disposition.split("filename*=UTF-8''", 1)[1]) == filename
    assert response.headers["Content-Security-Policy"] == "sandbox"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


async def test_case_files_go_out_as_sandboxed_attachments(
    client: Any, people: dict[str, Person], otp: OtpSource
) -> None:
    case_id, csrf = await _case(client, people, otp)
    doc = await (
        await _upload(client, case_id, csrf, "a.pdf", pdf_bytes(1), title="فیش حقوقی/مهر")
    ).get_json()
    api = await client.get(f"/api/v1/cases/{case_id}/documents/{doc['id']}/file")
    assert_safe_download(api, "فیش حقوقی_مهر.pdf")
    page = await client.get(f"/cases/{case_id}/documents/{doc['id']}/file")
    assert_safe_download(page, "فیش حقوقی_مهر.pdf")
    receipt = await client.get(f"/cases/{case_id}/receipt.pdf")
    assert receipt.status_code == 200
    assert receipt.headers["Content-Disposition"].startswith("attachment;")
    assert receipt.headers["Content-Security-Policy"] == "sandbox"
