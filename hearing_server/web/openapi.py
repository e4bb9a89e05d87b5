"""/openapi.json as a program (or Schemathesis) needs it: the /api/ routes only, ids with
their range, the error body every refusal has, and how a caller proves who it is.

- ``session``: the ``heyat_session`` cookie that ``POST /api/v1/auth/login`` sets;
- ``csrf``: the ``X-CSRF-Token`` header with the ``csrf_token`` that sign-in (and
  ``GET /api/v1/me``) answers, on every POST, PUT, PATCH and DELETE with a session.

Routes marked :func:`~hearing_server.web.context.csrf_exempt` (sign-in, tracking,
verification) are public; the others ask for the session, and for the header when unsafe.
"""

from __future__ import annotations

from typing import Any

from quart import Quart
from quart_schema import APIKeySecurityScheme, QuartSchema
from quart_schema.openapi import OpenAPIProvider
from werkzeug.routing import BaseConverter, Rule

from hearing_server.web.context import SESSION_COOKIE, UNSAFE
from hearing_server.web.inputs import MAX_DB_ID, IdConverter

SECURITY_SCHEMES: dict[str, Any] = {
    "session": APIKeySecurityScheme(in_="cookie", name=SESSION_COOKIE),
    "csrf": APIKeySecurityScheme(in_="header", name="X-CSRF-Token"),
}

ERROR_BODY: dict[str, Any] = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string", "description": "stable, for programs"},
                "message": {"type": "string", "description": "in the caller's language"},
                "field": {"type": "string", "description": "the field at fault"},
                "fields": {
                    "type": "object",
                    "additionalProperties": {"type": "string"},
                    "description": "every field at fault, with its message",
                },
                "details": {"type": "array", "items": {"type": "object"}},
            },
        }
    },
}

ERROR_REF = {"$ref": "#/components/schemas/Error"}

ERRORS = {
    "400": "The body is not JSON in UTF-8, or not what the call takes.",
    "401": "Sign in first (or the code was wrong).",
    "403": "Not allowed for this user, or the X-CSRF-Token header is missing or wrong.",
    "404": "No such object (ids are 1 … 2147483647), or not one the caller may see.",
    "409": "The object is not in a state that allows this.",
    "413": "The upload is too large.",
    "415": "The upload's type is not accepted.",
    "422": "A field is not valid; text may not carry control characters.",
    "429": "Too many attempts; wait and try again.",
}


class HeyatOpenAPIProvider(OpenAPIProvider):
    def __init__(self, app: Quart, extension: QuartSchema) -> None:
        super().__init__(app, extension)
        self.heyat_app = app  # our own reference: the base class keeps its app private

    def schema(self) -> dict[str, Any]:
        document = super().schema()
        document.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_BODY
        return document

    def generate_rules(self) -> Any:
        for rule in super().generate_rules():
            if rule.rule.startswith("/api/"):
                yield rule

    def build_paths(self, rule: Rule) -> tuple[dict[str, Any], dict[str, Any]]:
        paths, components = super().build_paths(rule)
        view = self.heyat_app.view_functions[rule.endpoint]
        public = bool(getattr(view, "csrf_exempt", False)) or not getattr(view, "login_roles", None)
        for operations in paths.values():
            for method, operation in list(operations.items()):
                operation = operations[method] = {**operation}
                # quart-schema keys a documented response by its int status; JSON (and the
                # sorted dump) wants the strings OpenAPI uses.
                responses = operation["responses"] = {
                    str(status): answer for status, answer in operation["responses"].items()
                }
                for status, description in ERRORS.items():
                    responses.setdefault(
                        status,
                        {
                            "description": description,
                            "content": {"application/json": {"schema": ERROR_REF}},
                        },
                    )
                if not public:
                    needs: dict[str, list[str]] = {"session": []}
                    if method.upper() in UNSAFE:
                        needs["csrf"] = []
                    operation.setdefault("security", [needs])
                else:
                    operation.setdefault("security", [{}])
        return paths, components

    def build_path_parameter(self, name: str, converter: BaseConverter) -> dict[str, Any]:
        parameter = super().build_path_parameter(name, converter)
        if isinstance(converter, IdConverter):
            parameter["schema"] = {"type": "integer", "minimum": 0, "maximum": MAX_DB_ID}
        return parameter
