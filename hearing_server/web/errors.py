"""DomainError → an HTTP answer, once for the whole app.

API requests get ``{"error": {"code", "message", ...}}``; pages get the error
page in the user's language. Unknown exceptions are logged and answered 500
with the same shape, never a stack trace.
"""

from __future__ import annotations

import logging
from typing import Any

from quart import Quart, Response, render_template, request
from quart_schema import RequestSchemaValidationError
from werkzeug.exceptions import HTTPException

from hearing_server.errors import DomainError, ValidationErrors
from hearing_server.i18n import gettext as _
from hearing_server.web.context import is_api_request, json_error, mark_persist
from hearing_server.web.responses import form_errors

log = logging.getLogger(__name__)

HTTP_MESSAGES = {
    400: "The request is not valid.",
    401: "Please sign in.",
    403: "You do not have access to this page.",
    404: "The page was not found.",
    405: "This action is not allowed here.",
    413: "The file is too large.",
    415: "This file type is not accepted.",
    429: "Too many attempts. Please wait a few minutes and try again.",
    500: "Something went wrong on our side. The problem has been recorded.",
}


def domain_error_body(exc: DomainError) -> dict[str, Any]:
    body: dict[str, Any] = {"code": exc.code, "message": _(exc.message, **exc.params)}
    if exc.field:
        body["field"] = exc.field
    if isinstance(exc, ValidationErrors):
        body["fields"] = form_errors(exc)
    return body


async def _page(status: int, message: str) -> tuple[str, int]:
    return await render_template("error.html", status=status, message=message), status


def register(app: Quart) -> None:
    @app.errorhandler(DomainError)
    async def on_domain_error(exc: DomainError) -> Any:
        mark_persist(exc)
        # A refusal that ends at a known time says when (429 and 423).
        wait = exc.params.get("retry_after")
        headers = {"Retry-After": str(int(wait))} if isinstance(wait, int | float) else {}
        if is_api_request():
            return {"error": domain_error_body(exc)}, exc.status, headers
        return (*await _page(exc.status, _(exc.message, **exc.params)), headers)

    @app.errorhandler(RequestSchemaValidationError)
    async def on_schema_error(exc: RequestSchemaValidationError) -> Any:
        details: list[dict[str, Any]] = []
        errors = getattr(exc.validation_error, "errors", None)
        if callable(errors):
            for item in errors():
                details.append(
                    {
                        "field": ".".join(str(p) for p in item.get("loc", ())),
                        "type": item.get("type"),
                    }
                )
        return json_error("invalid", _("The request is not valid."), 422, details=details)

    @app.errorhandler(HTTPException)
    async def on_http_error(exc: HTTPException) -> Any:
        status = exc.code or 500
        message = _(HTTP_MESSAGES.get(status, "The request is not valid."))
        if is_api_request() or request.path.startswith("/socket.io"):
            return json_error(exc.name.lower().replace(" ", "_"), message, status)
        return await _page(status, message)

    @app.errorhandler(Exception)
    async def on_unexpected(exc: Exception) -> Any:
        log.exception("unhandled error on %s %s", request.method, request.path)
        message = _(HTTP_MESSAGES[500])
        if is_api_request():
            return json_error("internal", message, 500)
        return Response(message, status=500, mimetype="text/plain")
