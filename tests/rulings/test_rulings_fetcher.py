"""WeasyPrint may read only our own files and data: URLs — nothing a party can type."""

import http.server
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from rulings_testkit import pdf_text

from rulings.compose import RulingContent
from rulings.render import (
    STATIC_DIR,
    TEMPLATES_DIR,
    ForbiddenURLError,
    RenderError,
    RestrictedURLFetcher,
    html_to_pdf,
    render_html,
    render_pdf,
)


class _CountingServer:
    def __init__(self) -> None:
        self.requests: list[str] = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.requests.append(self.path)
                self.send_response(200)
                self.send_header("Content-Type", "image/png")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@pytest.fixture
def canary() -> Iterator[_CountingServer]:
    """A local HTTP server that records every request it gets."""
    server = _CountingServer()
    server.thread.start()
    try:
        yield server
    finally:
        server.server.shutdown()
        server.server.server_close()


def _hostile_title(url: str) -> str:
    return (
        f'مزد <img src="{url}/img"> <link rel="stylesheet" href="{url}/css">'
        f'<style>@import url("{url}/import");</style>'
        f'<object data="file:///etc/passwd"></object> <a href="file:///etc/passwd">x</a>'
    )


def test_hostile_claim_is_escaped_and_fetches_nothing(
    canary: _CountingServer, ruling_factory: Callable[..., RulingContent], pdftotext: str
) -> None:
    ruling = ruling_factory("fa", claim_title=_hostile_title(canary.url))
    html = render_html(ruling)
    assert f"&lt;img src=&#34;{canary.url}/img&#34;&gt;" in html
    assert '<img src="http' not in html
    assert "<object" not in html

    pdf = render_pdf(ruling)
    assert canary.requests == []
    text = pdf_text(pdftotext, pdf)
    assert "/etc/passwd" in text  # shown as text, not read
    assert "root:x:0:0" not in text


def test_raw_html_pointing_outside_is_refused_without_a_request(canary: _CountingServer) -> None:
    html = (
        f'<html><body><img src="{canary.url}/x.png">'
        f'<link rel="stylesheet" href="{canary.url}/s.css">'
        '<img src="file:///etc/passwd"></body></html>'
    )
    with pytest.raises(RenderError, match="does not serve"):
        html_to_pdf(html)
    assert canary.requests == []


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/x",
        "https://example.com/font.ttf",
        "ftp://example.com/x",
        "file:///etc/passwd",
        (TEMPLATES_DIR / "rulings").as_uri() + "/../../pyproject.toml",
        "file://evil.example/" + str(STATIC_DIR),
        "gopher://127.0.0.1/",
        "//127.0.0.1/x",
    ],
)
def test_fetcher_refuses(url: str) -> None:
    fetcher = RestrictedURLFetcher()
    with pytest.raises(ForbiddenURLError):
        fetcher.fetch(url)
    assert fetcher.refused == [url]


def test_fetcher_refuses_a_symlink_that_leaves_the_project(tmp_path: Path) -> None:
    root = tmp_path / "static"
    root.mkdir()
    (root / "passwd").symlink_to("/etc/passwd")
    fetcher = RestrictedURLFetcher(roots=(root,))
    with pytest.raises(ForbiddenURLError, match="outside"):
        fetcher.fetch((root / "passwd").as_uri())


def test_fetcher_serves_our_font_and_data_urls() -> None:
    fetcher = RestrictedURLFetcher()
    font = STATIC_DIR / "vendor" / "vazirmatn" / "fonts" / "Vazirmatn-Regular.ttf"
    response = fetcher.fetch(font.as_uri())
    assert response.read(4) == font.read_bytes()[:4]
    response.close()
    data = fetcher.fetch("data:text/plain;base64,aGV5YXQ=")
    assert data.read() == b"heyat"
    assert fetcher.refused == []
