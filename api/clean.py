"""Text the API takes in holds no NUL character and no lone surrogate, wherever it comes from.

JSON may carry ``\\u0000`` or an unpaired ``\\ud800`` escape, and a URL ``%00``: Python accepts both in a
``str``, but PostgreSQL refuses NUL in text and UTF-8 cannot encode a lone surrogate, so either would fail
deep inside a route (a 500) or in the audit trail. ``CheckedRoute`` refuses them first as a 422 naming the
field, like any other validation failure.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Coroutine, Iterator
from typing import Any

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute

#: a JSON escape that may decode to NUL or to half of a surrogate pair (a quick test before parsing)
_SUSPECT_ESCAPE = re.compile(rb"\\u(?:0000|[dD][89a-fA-F])")
_NUL_MESSAGE = "不能包含空字符（NUL）"
_SURROGATE_MESSAGE = "文本编码无效：含有不成对的代理字符"


def text_problem(text: str) -> str | None:
    """Why ``text`` cannot be taken in, or None."""
    if "\x00" in text:
        return _NUL_MESSAGE
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return _SURROGATE_MESSAGE
    return None


def _strings(value: Any, loc: tuple[str | int, ...]) -> Iterator[tuple[tuple[str | int, ...], str]]:
    if isinstance(value, str):
        yield loc, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield loc, str(key)
            yield from _strings(item, (*loc, str(key)))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _strings(item, (*loc, i))


def _error(loc: tuple[str | int, ...], message: str) -> dict[str, Any]:
    return {"type": "string_unsafe_character", "loc": loc, "msg": message, "input": None}


async def unsafe_text_errors(request: Request) -> list[dict[str, Any]]:
    """Errors (FastAPI's shape) for every path, query or body value holding NUL or a lone surrogate."""
    errors = []
    for name, value in request.path_params.items():
        if (problem := text_problem(str(value))) is not None:
            errors.append(_error(("path", name), problem))
    for name, value in request.query_params.multi_items():
        if (problem := text_problem(name + value)) is not None:
            errors.append(_error(("query", name), problem))
    if request.method in ("POST", "PUT", "PATCH"):
        raw = await request.body()  # Starlette keeps it: the route reads the same bytes
        if _SUSPECT_ESCAPE.search(raw):
            try:
                data = json.loads(raw)
            except ValueError:
                return errors  # not JSON: the route's own parsing says so
            for loc, text in _strings(data, ("body",)):
                if (problem := text_problem(text)) is not None:
                    errors.append(_error(loc, problem))
    return errors


class CheckedRoute(APIRoute):
    """An ``APIRoute`` that refuses unsafe text (422) before its dependencies and its function run."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()

        async def checked(request: Request) -> Response:
            errors = await unsafe_text_errors(request)
            if errors:
                raise RequestValidationError(errors)
            return await handle(request)

        return checked
