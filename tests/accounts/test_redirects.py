"""Redirect targets taken from the request stay on the site (issue #13, item 3).

``next`` after signing in and after ``POST /language`` accepts only a same-site path;
every hostile value below must end on ``/``. The list is what browsers are known to
read as another host (backslashes, doubled slashes, schemes, control characters that
the URL parser strips) and their percent-encoded forms, once and twice.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urljoin, urlsplit

import pytest

from hearing_server.web.redirects import same_site_path
from tests.conftest import OtpSource, Person

HOSTILE = [
    "//evil.example/x",
    "///evil.example/x",
    "////evil.example",
    "/\\evil.example/x",
    "\\\\evil.example",
    "\\/evil.example",
    "/\\127.0.0.1:5199/x",
    "/%5C127.0.0.1:5199/x",
    "/%5c127.0.0.1:5199/x",
    "/%255C127.0.0.1:5199/x",
    "/%2F%2Fevil.example",
    "/%2f/evil.example",
    "%2F%2Fevil.example",
    "/%252F%252Fevil.example",
    "https://evil.example/",
    "http:evil.example",
    "https:/evil.example",
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "/\t/evil.example",
    "/\n/evil.example",
    "/\r\n/evil.example",
    "/%09/evil.example",
    "/%0d%0aLocation:%20https://evil.example",
    "/\x00//evil.example",
    " //evil.example",
    "\t//evil.example",
    "evil.example",
    "./evil",
    "",
    "/\u3000/evil.example",
    "/%E3%80%80/evil.example",
    "/\u2215\u2215evil.example",
    "/@evil.example",  # harmless path but tested to end on the site either way
]


def _on_site(location: str) -> bool:
    """The browser-resolved target is on this host and the header is a plain path."""
    resolved = urlsplit(urljoin("http://heyat.test/", location))
    return resolved.netloc == "heyat.test" and not re.search(r"[\x00-\x20\\\x7f]", location)


def test_the_list_is_long_enough() -> None:
    assert len(HOSTILE) >= 20


@pytest.mark.parametrize("target", HOSTILE)
def test_same_site_path_refuses_or_keeps_on_site(target: str) -> None:
    result = same_site_path(target)
    if target == "/@evil.example":  # a path of this site: kept, still on the site
        assert result == "/@evil.example"
        return
    assert result is None, target


@pytest.mark.parametrize(
    "target",
    ["/", "/cases/12", "/cases?q=%D8%B9%D9%84%DB%8C&page=2", "/account#sessions", "/rooms/3/"],
)
def test_same_site_paths_pass_unchanged(target: str) -> None:
    assert same_site_path(target) == target


def test_raw_non_ascii_is_refused() -> None:
    """The site's own links are percent-encoded; a raw non-ASCII target is not one of them."""
    assert same_site_path("/cases?q=علی") is None


async def _csrf(client: Any, path: str) -> str:
    html = await (await client.get(path)).get_data(as_text=True)
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found
    return found.group(1)


def _raw_control(value: str) -> bool:
    """A raw control character that text may not carry (tab and line breaks may; a %-encoded
    one is text): web.inputs answers 422 before any view."""
    from hearing_server.text import control_character

    return control_character(value) is not None


async def test_hostile_next_after_sign_in_ends_on_the_site(
    quart_app: Any, people: dict[str, Person], otp: OtpSource
) -> None:
    worker = people["worker"]
    for target in HOSTILE:
        client = quart_app.test_client()
        token = await _csrf(client, "/login")
        first = await client.post(
            "/login",
            query_string={"next": target},
            form={"username": worker.username, "password": worker.password, "csrf_token": token},
        )
        if _raw_control(target):  # refused at the input boundary: no redirect at all
            assert first.status_code == 422, target
            continue
        assert first.status_code == 302, target
        otp_page = first.headers["Location"]
        assert otp_page.startswith("/login/otp"), (target, otp_page)
        token = await _csrf(client, otp_page)
        second = await client.post(
            otp_page, form={"otp": otp.code(worker.totp_secret), "csrf_token": token}
        )
        assert second.status_code == 302, target
        location = second.headers["Location"]
        assert _on_site(location), (target, location)
        if target != "/@evil.example":
            assert location == "/", (target, location)


async def test_hostile_next_on_language_switch_ends_on_the_site(client: Any) -> None:
    token = await _csrf(client, "/login")
    for target in HOSTILE:
        response = await client.post(
            "/language", form={"locale": "en", "next": target, "csrf_token": token}
        )
        if _raw_control(target):  # refused at the input boundary: no redirect at all
            assert response.status_code == 422, target
            continue
        assert response.status_code == 302, target
        location = response.headers["Location"]
        assert _on_site(location), (target, location)
        if target != "/@evil.example":
            assert location == "/", (target, location)


async def test_language_switch_returns_to_the_page_it_came_from(client: Any) -> None:
    token = await _csrf(client, "/login")
    response = await client.post(
        "/language", form={"locale": "en", "next": "/verify?code=AB12", "csrf_token": token}
    )
    assert response.headers["Location"] == "/verify?code=AB12"
