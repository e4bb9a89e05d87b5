"""Active content out of uploaded PDFs: what a viewer could run or open by itself.

An uploaded PDF is stored with its scripts, automatic actions, launch/submit actions,
embedded files and XML forms removed (pikepdf), rather than refused: the parties at a
counter office cannot fix a file that their scanner or word processor made (many add an
open action just to set the zoom), and the visible pages are what the board reads. The
upload's own hash is kept (``Document.original_sha256`` and the audit entry), so the
cleaning is on the record. Synchronous and CPU-bound: called from
``cases.files.prepare_upload`` in a worker thread.
"""

from __future__ import annotations

import io
from typing import Any

from hearing_server.errors import Invalid

# Keys that make a PDF act on its own: scripts, actions run on open / on page or field
# events, embedded files (the name tree, associated files, a file specification's
# streams), XML forms (which carry scripts).
_ACTIVE_KEYS = ("/OpenAction", "/AA", "/JS", "/JavaScript", "/EmbeddedFiles", "/AF", "/EF", "/XFA")
# Actions that run code, start programs, send or fetch data, or open an embedded file.
_ACTIVE_ACTIONS = {
    "/JavaScript",
    "/Launch",
    "/SubmitForm",
    "/ImportData",
    "/GoToE",
    "/RichMediaExecute",
    "/Rendition",
    "/Movie",
    "/Sound",
}
# Annotations that carry files or media.
_ACTIVE_ANNOTS = {"/FileAttachment", "/RichMedia", "/Screen", "/Movie", "/Sound", "/3D"}


def strip_active_content(data: bytes) -> tuple[bytes, list[str]]:
    """``data`` without the active content pikepdf finds in it, and what was removed.

    Every dictionary of the document is visited (indirect objects once): the keys of
    ``_ACTIVE_KEYS`` are deleted, a ``/A`` or ``/Next`` that is an active action is
    deleted, and annotations carrying files or media are dropped from their page. A PDF
    without any of these is returned as it came (same bytes, same hash); one with them is
    rewritten by qpdf, which leaves out the objects nothing refers to any more (the
    scripts and embedded files themselves). Synchronous and CPU-bound: run in a thread.
    """
    import pikepdf

    removed: set[str] = set()
    try:
        pdf = pikepdf.open(io.BytesIO(data))
    except pikepdf.PdfError as exc:
        raise Invalid(
            "The PDF file is damaged or incomplete. Save it again and upload the whole file.",
            code="pdf_broken",
        ) from exc
    with pdf:
        seen: set[tuple[int, int]] = set()
        stack: list[Any] = [pdf.trailer]
        while stack:
            obj = stack.pop()
            if obj.is_indirect:
                if obj.objgen in seen:
                    continue
                seen.add(obj.objgen)
            if isinstance(obj, pikepdf.Array):
                stack.extend(item for item in obj if _is_container(item))
                continue
            if not isinstance(obj, pikepdf.Dictionary | pikepdf.Stream):
                continue
            if _is_active_action(obj):
                # Wherever it is referred from (a link, an outline item, a chain of
                # actions): emptied, it does nothing.
                removed.add(str(obj.get("/S")))
                for key in list(obj.keys()):
                    del obj[key]
                continue
            for key in _ACTIVE_KEYS:
                if key in obj:
                    del obj[key]
                    removed.add(key)
            for key in ("/A", "/Next"):
                action: Any = obj.get(key)
                if _is_active_action(action):
                    del obj[key]
                    removed.add(str(action.get("/S")))
            annots = obj.get("/Annots")
            if isinstance(annots, pikepdf.Array):
                kept = [a for a in annots if str(_get(a, "/Subtype")) not in _ACTIVE_ANNOTS]
                if len(kept) != len(annots):
                    removed.update(
                        str(_get(a, "/Subtype"))
                        for a in annots
                        if str(_get(a, "/Subtype")) in _ACTIVE_ANNOTS
                    )
                    obj["/Annots"] = pikepdf.Array(kept)
            stack.extend(value for _key, value in obj.items() if _is_container(value))
        if not removed:
            return data, []
        out = io.BytesIO()
        pdf.remove_unreferenced_resources()
        pdf.save(out, deterministic_id=True)
    return out.getvalue(), sorted(removed)


def _is_container(obj: Any) -> bool:
    import pikepdf

    return isinstance(obj, pikepdf.Dictionary | pikepdf.Array | pikepdf.Stream)


def _get(obj: Any, key: str) -> Any:
    import pikepdf

    return obj.get(key) if isinstance(obj, pikepdf.Dictionary | pikepdf.Stream) else None


def _is_active_action(action: Any) -> bool:
    import pikepdf

    if not isinstance(action, pikepdf.Dictionary | pikepdf.Stream):
        return False
    return str(action.get("/S")) in _ACTIVE_ACTIONS
