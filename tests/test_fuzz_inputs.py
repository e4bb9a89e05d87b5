"""Bad input at the HTTP boundary is a 4xx with the error body in the caller's language,
never a 500, on both backends: a JSON body that is not UTF-8 (400), an id past the
columns' range (404 in a path, 422 in a body), NUL and other control characters in any
text, form fields and uploaded file names included (422). Each of these answered 500
(or stored the NUL, on SQLite) before."""

from __future__ import annotations

from io import BytesIO
from typing import Any

import pytest
from werkzeug.datastructures import FileStorage

from tests.cases.conftest import pdf_bytes
from tests.conftest import OtpSource, Person, api_login

NOT_UTF8 = b'{"username": "\xff\xfe", "password": "x", "otp": "123456"}'
JSON = {"Content-Type": "application/json"}
PAST_INT32 = 2**31
PAST_INT64 = 2**63


def assert_error(body: Any, code: str | None = None) -> dict[str, Any]:
    assert isinstance(body, dict) and isinstance(body.get("error"), dict), body
    error: dict[str, Any] = body["error"]
    assert error["message"] and isinstance(error["code"], str), body
    if code is not None:
        assert error["code"] == code, body
    return error


async def signed_in(quart_app: Any, person: Person, otp: OtpSource) -> tuple[Any, dict[str, str]]:
    client = quart_app.test_client()
    csrf = await api_login(client, person, otp)
    return client, {"X-CSRF-Token": csrf}


# ------------------------------------------------------------------ JSON that is not UTF-8


@pytest.mark.parametrize("path", ["/api/v1/track", "/api/v1/verify", "/api/v1/auth/login"])
async def test_a_json_body_that_is_not_utf8_is_a_400_on_the_public_routes(
    client: Any, path: str
) -> None:
    response = await client.post(path, data=NOT_UTF8, headers=JSON)
    assert response.status_code == 400, await response.get_data(as_text=True)
    assert_error(await response.get_json(), "invalid_json")


async def test_a_json_body_that_is_not_utf8_is_a_400_for_a_signed_in_post(
    quart_app: Any, people: dict[str, Person], otp: OtpSource
) -> None:
    client, csrf = await signed_in(quart_app, people["worker"], otp)
    response = await client.post("/api/v1/cases", data=NOT_UTF8, headers={**JSON, **csrf})
    assert response.status_code == 400, await response.get_data(as_text=True)
    assert_error(await response.get_json(), "invalid_json")


@pytest.mark.parametrize(
    ("language", "message"),
    [
        ("fa", "متن درخواست JSON معتبر با کدگذاری UTF-8 نیست."),
        ("en", "The request body is not valid JSON in UTF-8."),
    ],
)
async def test_the_400_says_why_in_the_callers_language(
    client: Any, language: str, message: str
) -> None:
    response = await client.post(
        "/api/v1/track", data=NOT_UTF8, headers={**JSON, "Accept-Language": language}
    )
    assert response.status_code == 400
    assert assert_error(await response.get_json(), "invalid_json")["message"] == message


# ------------------------------------------------------------------ ids past the columns


ID_PATHS = [
    "/api/v1/cases/{id}",
    "/api/v1/cases/{id}/history",
    "/api/v1/cases/{id}/documents/{id}/file",
    "/api/v1/hearings/{id}",
    "/api/v1/rulings/{id}",
    "/api/v1/motions/{id}",
    "/api/v1/minutes/{id}/pdf",
    "/cases/{id}",
    "/hearings/{id}",
]


async def test_an_id_past_the_column_range_is_a_404(
    quart_app: Any, people: dict[str, Person], otp: OtpSource
) -> None:
    client, _csrf = await signed_in(quart_app, people["secretary"], otp)
    for path in ID_PATHS:
        for big in (PAST_INT32, PAST_INT64, 10**30):
            response = await client.get(path.format(id=big))
            assert response.status_code == 404, (path, big, await response.get_data(as_text=True))


async def test_the_largest_id_in_range_is_still_looked_up(
    quart_app: Any, people: dict[str, Person], otp: OtpSource
) -> None:
    client, _csrf = await signed_in(quart_app, people["secretary"], otp)
    response = await client.get(f"/api/v1/cases/{2**31 - 1}")
    assert response.status_code == 404
    assert_error(await response.get_json(), "not_found")  # the service's answer, not routing's


@pytest.mark.parametrize("big", [PAST_INT32, PAST_INT64])
async def test_an_id_past_the_column_range_in_a_json_body_is_a_422(
    quart_app: Any, people: dict[str, Person], otp: OtpSource, big: int
) -> None:
    client, csrf = await signed_in(quart_app, people["worker"], otp)
    response = await client.post("/api/v1/cases", json={"board_id": big}, headers=csrf)
    assert response.status_code == 422, await response.get_data(as_text=True)
    assert_error(await response.get_json())


# ------------------------------------------------------------------ control characters


@pytest.mark.parametrize("bad", ["\x00", "\x07", "\x1b[31m", "\x7f", "\x85", "\ud800"])
async def test_control_characters_in_json_text_are_a_422_naming_the_field(
    quart_app: Any, people: dict[str, Person], otp: OtpSource, bad: str
) -> None:
    client, csrf = await signed_in(quart_app, people["worker"], otp)
    response = await client.post(
        "/api/v1/cases",
        json={"employer_name": f"شرکت{bad}نمونه", "claims": []},
        headers=csrf,
    )
    assert response.status_code == 422, await response.get_data(as_text=True)
    error = assert_error(await response.get_json(), "control_characters")
    assert error["field"] == "employer_name"


async def test_control_characters_are_refused_on_the_public_calls_too(client: Any) -> None:
    response = await client.post(
        "/api/v1/track", json={"tracking_code": "AB\x00CD", "national_id": "0012345690"}
    )
    assert response.status_code == 422, await response.get_data(as_text=True)
    assert_error(await response.get_json(), "control_characters")
    response = await client.get("/api/v1/verify/AB%00CD")
    assert response.status_code == 422, await response.get_data(as_text=True)


async def test_control_characters_in_a_query_are_a_422(
    quart_app: Any, people: dict[str, Person], otp: OtpSource
) -> None:
    client, _csrf = await signed_in(quart_app, people["secretary"], otp)
    response = await client.get("/api/v1/cases?q=%00")
    assert response.status_code == 422, await response.get_data(as_text=True)
    assert assert_error(await response.get_json(), "control_characters")["field"] == "q"


async def test_newlines_and_tabs_in_text_are_still_accepted(
    quart_app: Any, people: dict[str, Person], otp: OtpSource
) -> None:
    client, csrf = await signed_in(quart_app, people["worker"], otp)
    response = await client.post(
        "/api/v1/cases",
        json={"description": "سطر اول\r\n\tسطر دوم", "claims": []},
        headers=csrf,
    )
    assert response.status_code == 201, await response.get_data(as_text=True)


# ------------------------------------------------------------------ forms and file names


async def _filed_case(client: Any, csrf: dict[str, str]) -> int:
    filed = await client.post("/api/v1/cases", json={"claims": []}, headers=csrf)
    assert filed.status_code == 201, await filed.get_data(as_text=True)
    case_id: int = (await filed.get_json())["id"]
    return case_id


async def _upload(client: Any, case_id: int, csrf: dict[str, str], title: str, name: str) -> Any:
    return await client.post(
        f"/api/v1/cases/{case_id}/documents",
        form={"title": title, "kind": "evidence"},
        files={"file": FileStorage(BytesIO(pdf_bytes()), filename=name)},
        headers=csrf,
    )


@pytest.mark.parametrize("bad", ["\x00", "\x1b"])
async def test_control_characters_in_a_form_field_are_a_422_naming_the_field(
    quart_app: Any, people: dict[str, Person], otp: OtpSource, bad: str
) -> None:
    client, csrf = await signed_in(quart_app, people["worker"], otp)
    case_id = await _filed_case(client, csrf)
    response = await _upload(client, case_id, csrf, f"فیش{bad}حقوقی", "payslip.pdf")
    assert response.status_code == 422, await response.get_data(as_text=True)
    error = assert_error(await response.get_json(), "control_characters")
    assert error["field"] == "title"
    # A urlencoded form too (the petition page), refused before anything is stored.
    page = await client.post("/cases/new", form={"employer_name": f"a{bad}b"}, headers=csrf)
    assert page.status_code == 422, await page.get_data(as_text=True)


@pytest.mark.parametrize("bad", ["\x00", "\x07", "\x85"])
async def test_control_characters_in_an_uploaded_file_name_are_a_422(
    quart_app: Any, people: dict[str, Person], otp: OtpSource, bad: str
) -> None:
    client, csrf = await signed_in(quart_app, people["worker"], otp)
    case_id = await _filed_case(client, csrf)
    response = await _upload(client, case_id, csrf, "فیش حقوقی", f"pay{bad}slip.pdf")
    assert response.status_code == 422, await response.get_data(as_text=True)
    error = assert_error(await response.get_json(), "control_characters")
    assert error["field"] == "file"
    # The same upload with a clean name is taken: the refusal was the name's.
    response = await _upload(client, case_id, csrf, "فیش حقوقی", "payslip.pdf")
    assert response.status_code == 201, await response.get_data(as_text=True)
