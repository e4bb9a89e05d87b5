"""What a request may carry, checked once at the HTTP boundary for every route.

- A JSON body is UTF-8 JSON, or the answer is 400 ``invalid_json`` (Quart lets the
  ``UnicodeDecodeError`` of a body in another encoding escape as a 500).
- An id in a path fits the id columns: ``<int:…>`` matches 0 … 2**31 - 1 only, so a
  larger id is a 404 like any id that names nothing (PostgreSQL's ``integer`` refuses it
  with an error, SQLite's driver overflows past 2**63). Ids in bodies use :data:`DbId`.
- Text (JSON strings and keys, form fields, file names, query and path values) carries no
  control character other than tab and line breaks, and no lone surrogate: 422
  ``control_characters`` naming the field. :func:`hearing_server.text.control_character`
  says which characters those are.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

from pydantic import Field
from quart import Quart, Request, request
from werkzeug.routing import IntegerConverter, Map

from hearing_server.errors import DomainError, Invalid
from hearing_server.text import control_character

# Every id column is an ``Integer`` (``integer`` on PostgreSQL): 32 bits, signed.
MAX_DB_ID = 2**31 - 1

DbId = Annotated[int, Field(ge=1, le=MAX_DB_ID, description="a row's id")]
"""An id in a request body: 1 … 2**31 - 1, else 422 like any other bad field."""


def digits_up_to(n: int) -> str:
    """A regular expression for the ASCII numbers 0 … ``n`` (leading zeros allowed)."""
    top = str(n)
    alternatives = [f"[0-9]{{1,{len(top) - 1}}}"] if len(top) > 1 else []
    for i, digit in enumerate(top):
        if digit != "0":
            rest = len(top) - i - 1
            alternatives.append(f"{top[:i]}[0-{int(digit) - 1}][0-9]{{{rest}}}")
    alternatives.append(top)
    return "(?:" + "|".join(alternatives) + ")"


class IdConverter(IntegerConverter):
    """``<int:…>`` in every route: 0 … :data:`MAX_DB_ID`, in ASCII digits.

    The bound is in the regular expression, so a larger number matches no rule at all:
    404. (A converter that refused it in ``to_python`` would let routing answer 405 where
    another rule with the same shape takes other methods.)"""

    regex = digits_up_to(MAX_DB_ID)

    def __init__(self, map: Map, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", MAX_DB_ID)
        super().__init__(map, *args, **kwargs)


class HeyatRequest(Request):
    """Quart's request whose JSON is always UTF-8 and free of control characters.

    Quart decodes the body before its ``try``, so its ``on_json_loading_failed`` never
    sees a ``UnicodeDecodeError``; here both it and bad JSON answer 400 ``invalid_json``.
    """

    async def get_json(self, force: bool = False, silent: bool = False, cache: bool = True) -> Any:
        try:
            data = await super().get_json(force=force, silent=silent, cache=cache)
        except UnicodeDecodeError as error:
            # Even when ``silent``: bytes in another encoding are a broken request, not
            # an absent body, and the caller is told so (400) rather than "give a body".
            return self.on_json_loading_failed(error)
        check_text(_json_strings(data, ""))
        return data

    def on_json_loading_failed(self, error: Exception | None) -> Any:
        raise DomainError("The request body is not valid JSON in UTF-8.", code="invalid_json")


def _json_strings(value: Any, where: str) -> Iterator[tuple[str, str]]:
    """Every string in a decoded JSON value, keys too, with its dotted place."""
    if isinstance(value, str):
        yield where, value
    elif isinstance(value, dict):
        for key, item in value.items():
            place = f"{where}.{key}" if where else str(key)
            yield place, str(key)
            yield from _json_strings(item, place)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _json_strings(item, f"{where}.{index}" if where else str(index))


def check_text(values: Iterator[tuple[str, str]]) -> None:
    for field, text in values:
        if control_character(text) is not None:
            raise Invalid(
                "The text contains control characters that cannot be stored.",
                code="control_characters",
                field=field[:100],
            )


async def check_request_text() -> None:
    """The query, the path values and a form's fields and file names (the JSON body is
    checked where it is read, :meth:`HeyatRequest.get_json`)."""
    check_text(_pairs(request.args.items(multi=True)))
    path_values = (request.view_args or {}).items()
    check_text((name, value) for name, value in path_values if isinstance(value, str))
    if request.method != "GET" and request.mimetype in (
        "application/x-www-form-urlencoded",
        "multipart/form-data",
    ):
        check_text(_pairs((await request.form).items(multi=True)))
        files = await request.files
        check_text((name, f.filename or "") for name, f in files.items(multi=True))


def _pairs(items: Any) -> Iterator[tuple[str, str]]:
    for name, value in items:
        yield name, name
        yield name, value


def install(app: Quart) -> None:
    """Before any route is added: the bounded ``int`` converter and the request class."""
    app.url_map.converters["int"] = IdConverter
    app.request_class = HeyatRequest
