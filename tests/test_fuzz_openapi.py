"""/openapi.json is worth fuzzing: the API only, ids with their range, the error body on
every operation, and the session cookie and CSRF header as security schemes."""

from __future__ import annotations

from typing import Any

from hearing_server.web.inputs import MAX_DB_ID


async def document(client: Any) -> dict[str, Any]:
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    body: dict[str, Any] = await response.get_json()
    return body


async def test_the_document_lists_the_api_with_errors_and_security(client: Any) -> None:
    doc = await document(client)
    assert doc["paths"] and all(path.startswith("/api/") for path in doc["paths"])
    schemes = doc["components"]["securitySchemes"]
    assert schemes["session"] == {"type": "apiKey", "in": "cookie", "name": "heyat_session"}
    assert schemes["csrf"] == {"type": "apiKey", "in": "header", "name": "X-CSRF-Token"}
    error = doc["components"]["schemas"]["Error"]
    assert error["properties"]["error"]["required"] == ["code", "message"]
    for path, operations in doc["paths"].items():
        for method, operation in operations.items():
            for status in ("400", "401", "403", "404", "422"):
                content = operation["responses"][status]["content"]["application/json"]
                assert content["schema"] == {"$ref": "#/components/schemas/Error"}, (path, method)
            for parameter in operation.get("parameters", []):
                if parameter["in"] == "path" and parameter["schema"].get("type") == "integer":
                    assert parameter["schema"]["maximum"] == MAX_DB_ID, (path, parameter)
    ops = doc["paths"]
    assert ops["/api/v1/track"]["post"]["security"] == [{}]
    assert ops["/api/v1/auth/login"]["post"]["security"] == [{}]
    assert ops["/api/v1/cases/{case_id}"]["get"]["security"] == [{"session": []}]
    assert ops["/api/v1/cases/{case_id}"]["put"]["security"] == [{"session": [], "csrf": []}]
