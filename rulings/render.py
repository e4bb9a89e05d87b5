"""Render rulings and minutes to HTML (Jinja2, autoescaped) and to PDF (WeasyPrint).

WeasyPrint may read only the project's own ``templates/`` and ``static/`` files
and ``data:`` URLs; any other URL (http, https, ftp, files elsewhere) is refused
and makes the render fail, so text typed by a party can never make the server
fetch anything. Rendering is CPU-bound and synchronous: :func:`render_pdf_async`
runs it in a process pool.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import mimetypes
import multiprocessing
import re
import threading
import unicodedata
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from functools import lru_cache
from pathlib import Path
from typing import Any, Final, Literal

import jinja2
import segno
import weasyprint
from weasyprint.urls import URLFetcher, URLFetcherResponse

from rulings.compose import (
    Decision,
    MinutesContent,
    PartyRole,
    Phase,
    RulingContent,
    SeatGroup,
    Vote,
    board_title,
)
from rulings.persian import (
    Locale,
    amount_in_words,
    fa_digits,
    format_rials,
    jalali_date,
    jalali_datetime,
    jalali_time,
)
from rulings.redact import PublicRulingContent

PROJECT_ROOT: Final = Path(__file__).resolve().parent.parent
TEMPLATES_DIR: Final = PROJECT_ROOT / "templates"
STATIC_DIR: Final = PROJECT_ROOT / "static"
RULING_TEMPLATES_DIR: Final = TEMPLATES_DIR / "rulings"
FONT_FILES: Final = (
    STATIC_DIR / "vendor" / "vazirmatn" / "fonts" / "Vazirmatn-Regular.ttf",
    STATIC_DIR / "vendor" / "vazirmatn" / "fonts" / "Vazirmatn-Bold.ttf",
)

Content = RulingContent | MinutesContent | PublicRulingContent
DocumentKind = Literal["ruling", "minutes", "public_ruling"]


class RenderError(RuntimeError):
    """A ruling or minutes document could not be rendered."""


class FontMissingError(RenderError):
    """The Vazirmatn font files are not installed under static/vendor."""


class ForbiddenURLError(ValueError):
    """The document asked for a resource outside the project's templates/static or data:."""


# --------------------------------------------------------------------------- fetcher


class RestrictedURLFetcher(URLFetcher):  # type: ignore[misc]  # weasyprint is untyped
    """A WeasyPrint fetcher that serves only files under ``roots`` and ``data:`` URLs.

    No network handler is ever used: files are read directly after resolving
    symlinks and ``..``; anything else raises :class:`ForbiddenURLError` and is
    remembered in :attr:`refused` so the caller can fail the render.
    """

    def __init__(self, roots: Sequence[Path] = (TEMPLATES_DIR, STATIC_DIR)) -> None:
        super().__init__(allowed_protocols=("file", "data"), allow_redirects=False)
        self.roots = tuple(root.resolve() for root in roots)
        self.refused: list[str] = []
        self.served: list[str] = []

    def _refuse(self, url: str, why: str) -> ForbiddenURLError:
        self.refused.append(url)
        return ForbiddenURLError(f"Refused to fetch {url[:200]!r}: {why}.")

    def fetch(self, url: str, headers: object = None) -> URLFetcherResponse:
        scheme = url.split(":", 1)[0].lower() if ":" in url else ""
        if scheme == "data":
            return self._fetch_data(url)
        if scheme == "file":
            return self._fetch_file(url)
        raise self._refuse(url, "only the project's own files and data: URLs may be read")

    def _fetch_data(self, url: str) -> URLFetcherResponse:
        header, sep, payload = url[len("data:") :].partition(",")
        if not sep:
            raise self._refuse(url, "malformed data: URL")
        params = header.split(";")
        media_type = params[0] or "text/plain"
        try:
            if "base64" in params[1:]:
                body = base64.b64decode(urllib.parse.unquote(payload), validate=False)
            else:
                body = urllib.parse.unquote_to_bytes(payload)
        except ValueError as exc:
            raise self._refuse(url, f"undecodable data: URL ({exc})") from exc
        self.served.append(url[:40])
        return URLFetcherResponse(url, body, {"Content-Type": media_type})

    def _fetch_file(self, url: str) -> URLFetcherResponse:
        parsed = urllib.parse.urlsplit(url)
        if parsed.netloc not in ("", "localhost"):
            raise self._refuse(url, "file URLs on another host are not allowed")
        path = Path(urllib.request.url2pathname(parsed.path)).resolve()
        if not any(path.is_relative_to(root) for root in self.roots):
            raise self._refuse(url, "outside the project's templates/ and static/ directories")
        if not path.is_file():
            raise self._refuse(url, "no such file")
        media_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        if path.suffix == ".ttf":
            media_type = "font/ttf"
        self.served.append(str(path))
        return URLFetcherResponse(path.as_uri(), path.read_bytes(), {"Content-Type": media_type})


# --------------------------------------------------------------------------- HTML


def require_fonts() -> None:
    """Raise :class:`FontMissingError` unless the Vazirmatn TTF files are installed."""
    missing = [str(p) for p in FONT_FILES if not p.is_file()]
    if missing:
        raise FontMissingError(
            "The Vazirmatn font is not installed (missing: "
            + ", ".join(missing)
            + "). Run `make vendor` to install static/vendor from npm."
        )


_LABELS: Final[dict[str, dict[str, dict[str, str]]]] = {
    "fa": {
        "decisions": {
            Decision.ACCEPTED: "پذیرفته شد",
            Decision.REJECTED: "رد شد",
            Decision.PARTLY_ACCEPTED: "بخشی پذیرفته شد",
            Decision.NO_MAJORITY: "بدون اکثریت لازم — رسیدگی دوباره",
        },
        "party_roles": {
            PartyRole.CLAIMANT: "خواهان (کارگر)",
            PartyRole.RESPONDENT: "خوانده (کارفرما)",
        },
        "seat_groups": {
            SeatGroup.WORKER: "نماینده کارگران",
            SeatGroup.EMPLOYER: "نماینده کارفرمایان",
            SeatGroup.GOVERNMENT: "نماینده دولت",
        },
        "votes": {
            Vote.ACCEPT: "موافق",
            Vote.REJECT: "مخالف",
            Vote.PARTLY_ACCEPT: "موافق با بخشی",
            Vote.ABSTAIN: "ممتنع",
        },
        "phases": {
            Phase.LOBBY: "انتظار",
            Phase.HEARING: "رسیدگی با حضور طرفین",
            Phase.DELIBERATION: "شور هیأت",
            Phase.VOTING: "رأی‌گیری",
            Phase.CLOSED: "پایان جلسه",
            "recalled": "فراخوان طرفین از شور",
        },
        "roles": {
            "chair": "رئیس جلسه",
            "member": "عضو هیأت",
            "secretary": "دبیر هیأت",
            "claimant": "خواهان",
            "respondent": "خوانده",
            "representative": "نماینده / وکیل",
            "admin": "مدیر سامانه",
            "observer": "ناظر",
        },
    },
    "en": {
        "decisions": {
            Decision.ACCEPTED: "Accepted",
            Decision.REJECTED: "Rejected",
            Decision.PARTLY_ACCEPTED: "Partly accepted",
            Decision.NO_MAJORITY: "No majority — to be reheard",
        },
        "party_roles": {
            PartyRole.CLAIMANT: "Claimant (worker)",
            PartyRole.RESPONDENT: "Respondent (employer)",
        },
        "seat_groups": {
            SeatGroup.WORKER: "Workers' representative",
            SeatGroup.EMPLOYER: "Employers' representative",
            SeatGroup.GOVERNMENT: "Government representative",
        },
        "votes": {
            Vote.ACCEPT: "For",
            Vote.REJECT: "Against",
            Vote.PARTLY_ACCEPT: "Partly for",
            Vote.ABSTAIN: "Abstained",
        },
        "phases": {
            Phase.LOBBY: "Lobby",
            Phase.HEARING: "Hearing (parties present)",
            Phase.DELIBERATION: "Deliberation",
            Phase.VOTING: "Voting",
            Phase.CLOSED: "Closed",
            "recalled": "Parties called back from deliberation",
        },
        "roles": {
            "chair": "Chair of the session",
            "member": "Board member",
            "secretary": "Board secretary",
            "claimant": "Claimant",
            "respondent": "Respondent",
            "representative": "Representative / lawyer",
            "admin": "Administrator",
            "observer": "Observer",
        },
    },
}


def _filters(locale: Locale) -> dict[str, Callable[..., str]]:
    digits: Callable[[str | int], str] = fa_digits if locale == "fa" else str
    return {
        "fa": digits,
        "jdate": lambda value: jalali_date(value, locale),
        "jdatetime": lambda value: jalali_datetime(value, locale),
        "jtime": lambda value: jalali_time(value, locale),
        "rials": lambda value: format_rials(value, locale),
        "words": lambda value: amount_in_words(value, locale),
    }


@lru_cache(maxsize=2)
def _environment(locale: Locale) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(RULING_TEMPLATES_DIR),
        autoescape=True,  # every value from a case is untrusted text
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(_filters(locale))
    return env


@lru_cache(maxsize=64)
def qr_data_uri(url: str) -> str:
    """An SVG data: URI of a QR code for ``url`` (medium error correction)."""
    return str(segno.make(url, error="m", micro=False).svg_data_uri(scale=4, border=2))


def _kind(content: Content) -> DocumentKind:
    if isinstance(content, PublicRulingContent):
        return "public_ruling"
    return "ruling" if isinstance(content, RulingContent) else "minutes"


def render_html(content: Content) -> str:
    """The document as HTML, from ``templates/rulings/{ruling,minutes}_{fa,en}.html`` (the
    anonymised public copy of a ruling from the ruling's template, with ``p`` set)."""
    kind = _kind(content)
    locale = content.locale
    name = "ruling" if kind == "public_ruling" else kind
    template = _environment(locale).get_template(f"{name}_{locale}.html")
    board = content.ruling.board if isinstance(content, PublicRulingContent) else content.board
    context: dict[str, Any] = {
        **_LABELS[locale],
        "board_title": board_title(board, locale),
        "qr": qr_data_uri(content.verification_url),
    }
    if isinstance(content, PublicRulingContent):
        context["c"] = content.ruling
        context["p"] = content
    else:
        context["c" if kind == "ruling" else "m"] = content
        context["p"] = None
    return template.render(context)


def base_url() -> str:
    """The URL relative links in the ruling templates resolve against."""
    return RULING_TEMPLATES_DIR.as_uri() + "/"


def html_to_pdf(html: str, *, identifier: bytes | None = None) -> bytes:
    """Lay out ``html`` with WeasyPrint using the restricted fetcher; refuse any outside URL.

    ``identifier`` becomes the PDF /ID so the same snapshot yields the same bytes.
    Custom ``<meta>`` names (HeyatVerificationCode…) go into the PDF info dictionary.
    """
    require_fonts()
    fetcher = RestrictedURLFetcher()
    document = weasyprint.HTML(string=html, base_url=base_url(), url_fetcher=fetcher)
    pdf = document.write_pdf(
        custom_metadata=True, pdf_identifier=identifier, finisher=rtl_ligatures_in_visual_order
    )
    if fetcher.refused:
        raise RenderError(
            "The document referred to resources Heyat does not serve: "
            + ", ".join(u[:80] for u in fetcher.refused)
        )
    if not isinstance(pdf, bytes):  # pragma: no cover - write_pdf() without target returns bytes
        raise RenderError("WeasyPrint returned no PDF.")
    return pdf


# --------------------------------------------------------------------------- ToUnicode

_BFCHAR = re.compile(rb"^<([0-9a-fA-F]+)> <([0-9a-fA-F]+)>$")
_RTL = frozenset(("R", "AL"))


def _visual_order(line: bytes) -> bytes:
    """One ``<glyph> <text>`` bfchar line, with a right-to-left ligature's text reversed.

    Only a glyph standing for two or more characters, all strong right-to-left (lam-alef
    «لا», «الله»…), changes; anything with a mark, a digit or a Latin letter is left as
    WeasyPrint wrote it.
    """
    match = _BFCHAR.match(line.strip())
    if match is None:
        return line
    try:
        text = bytes.fromhex(match.group(2).decode()).decode("utf-16-be")
    except ValueError:
        return line
    if len(text) < 2 or any(unicodedata.bidirectional(ch) not in _RTL for ch in text):
        return line
    reversed_hex = text[::-1].encode("utf-16-be").hex()
    return b"<" + match.group(1) + b"> <" + reversed_hex.encode() + b">"


def rtl_ligatures_in_visual_order(_document: Any, pdf: Any) -> None:
    """WeasyPrint finisher: write each right-to-left ligature's ToUnicode text in visual order.

    WeasyPrint draws right-to-left text in visual order (glyphs left to right on the
    page) but maps a ligature glyph to its characters in logical order: the lam-alef
    glyph to U+0644 U+0627 «لا». The extractors behind copy, search and indexing —
    poppler (pdftotext, Evince, Okular), pdf.js (Firefox and this app's viewer) and
    PDFium (Chrome) — expand a glyph's characters in drawing order and then reverse the
    right-to-left run, so «اختلاف» came out as «اختالف». Writing the ligature's
    characters in drawing order («ال») makes all three extract «لا»
    (tests/rulings/test_rulings_text.py). Runs before the PDF is serialised (and so
    before it is signed); ``pdf`` is the pydyf document WeasyPrint hands finishers.
    """
    for obj in pdf.objects:
        lines = getattr(obj, "stream", None)
        if not isinstance(lines, list) or b"begincmap" not in lines:
            continue
        obj.stream = [_visual_order(x) if isinstance(x, bytes) else x for x in lines]


def render_pdf(content: Content) -> bytes:
    """Render a ruling or minutes snapshot to PDF bytes (synchronous, CPU-bound ~0.2 s)."""
    snapshot = content.to_json()
    identifier = hashlib.sha256(snapshot.encode()).hexdigest()[:32].encode()
    return html_to_pdf(render_html(content), identifier=identifier)


def _render_snapshot(kind: DocumentKind, snapshot: str) -> bytes:
    """Process-pool entry point: rebuild the snapshot from JSON and render it."""
    content: Content
    if kind == "public_ruling":
        content = PublicRulingContent.from_json(snapshot)
    elif kind == "ruling":
        content = RulingContent.from_json(snapshot)
    else:
        content = MinutesContent.from_json(snapshot)
    return render_pdf(content)


def _warm_worker() -> None:
    """Pool initializer: pay WeasyPrint's start-up (fonts, user-agent CSS) once per worker."""
    weasyprint.HTML(string="<p>.</p>").write_pdf()


_pool: ProcessPoolExecutor | None = None
_pool_lock = threading.Lock()


def _get_pool() -> ProcessPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            # spawn, not fork: forking a process that runs an event loop and threads
            # can copy held locks into the child.
            _pool = ProcessPoolExecutor(
                max_workers=2,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_warm_worker,
            )
        return _pool


def worker_pool() -> Executor:
    """The module's process pool, for other CPU-bound work on documents (verification)."""
    return _get_pool()


def shutdown_pool(wait: bool = True) -> None:
    """Stop the module's render pool (it is created again on the next async render)."""
    global _pool
    with _pool_lock:
        pool, _pool = _pool, None
    if pool is not None:
        pool.shutdown(wait=wait, cancel_futures=not wait)


async def render_pdf_async(content: Content, executor: Executor | None = None) -> bytes:
    """Render off the event loop, by default in a lazily created 2-process pool.

    Only the JSON snapshot crosses the process boundary, so any executor works.
    """
    require_fonts()
    loop = asyncio.get_running_loop()
    pool = executor if executor is not None else _get_pool()
    return await loop.run_in_executor(pool, _render_snapshot, _kind(content), content.to_json())
