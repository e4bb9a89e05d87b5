"""Rulings and minutes turned into signed PDFs: rendered in ``rulings.render``'s process
pool and signed (PAdES) in a worker thread with the board's certificate, so the event
loop is never blocked."""

from __future__ import annotations

from hearing_server.config import Settings
from hearing_server.errors import Conflict
from hearing_server.issuance.progress import Progress
from rulings import compose as rc
from rulings.render import FontMissingError, RenderError, render_pdf_async
from rulings.sign import SignerConfig, SigningError, sign_pdf


def signer_config(settings: Settings) -> SignerConfig:
    return SignerConfig(
        pkcs12_path=settings.pki_dir / "board.p12",
        tsa_url=settings.tsa_url,
        reason="Ruling of the labour dispute board",
    )


async def render_preview(content: rc.RulingContent) -> bytes:
    """The unsigned PDF of a draft."""
    try:
        return await render_pdf_async(content)
    except FontMissingError as exc:
        raise Conflict(
            "PDF rendering is not available: the Vazirmatn font is not installed."
        ) from exc


async def render_and_sign(
    settings: Settings, content: rc.RulingContent | rc.MinutesContent, step: Progress
) -> bytes:
    """The signed PDF of ``content``; ``step`` hears "rendering", then "signing"."""
    config = signer_config(settings)
    if not config.pkcs12_path.is_file():
        raise Conflict(
            "The board's signing certificate is not set up. Run `heyat pki init` or import one."
        )
    await step("rendering")
    try:
        pdf = await render_pdf_async(content)
    except FontMissingError as exc:
        raise Conflict(
            "PDF rendering is not available: the Vazirmatn font is not installed."
        ) from exc
    except RenderError as exc:
        raise Conflict("The document could not be rendered: {reason}", reason=str(exc)) from exc
    await step("signing")
    try:
        return await sign_pdf(pdf, config)
    except SigningError as exc:
        raise Conflict("The document could not be signed: {reason}", reason=str(exc)) from exc
