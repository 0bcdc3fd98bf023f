"""What the API takes in is what its schema says, checked by ``CheckedRoute`` on every route.

- Text holds no NUL character and no lone surrogate, wherever it comes from: JSON may carry ``\\u0000`` or
  an unpaired ``\\ud800`` escape, and a URL ``%00``; Python accepts both in a ``str``, but PostgreSQL refuses
  NUL in text and UTF-8 cannot encode a lone surrogate, so either would fail deep inside a route (a 500) or
  in the audit trail. They are refused first, as a 422 naming the field.
- A JSON body has the JSON types its schema gives: pydantic's lax mode alone would take ``0`` for ``false``,
  ``"20"`` for ``20`` and ``1700000000`` for an instant. After the identity and the usual validation have
  passed (so 401/403 still come first), the parsed body is checked against the types of the route's
  published JSON schema (only ``type``: every constraint is pydantic's); a mismatch is a 422 like any other.
  (pydantic's own strict mode cannot do this: behind the form's wrap validators it validates Python
  objects, and then refuses the text that JSON dates and decimals are.)
"""

from __future__ import annotations

import functools
import inspect
import json
import re
from collections.abc import Callable, Coroutine, Iterator
from typing import Any

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import TypeAdapter

#: a JSON escape that may decode to NUL or to half of a surrogate pair, or a constant JSON does not have
#: (Python's json reads NaN and Infinity): a quick test before parsing
_SUSPECT = re.compile(rb"\\u(?:0000|[dD][89a-fA-F])|NaN|Infinity")
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


def _error(loc: tuple[str | int, ...], message: str, type_: str = "string_unsafe_character") -> dict[str, Any]:
    return {"type": type_, "loc": loc, "msg": message, "input": None}


class _NotJson(Exception):
    pass


def _no_constant(name: str) -> Any:
    raise _NotJson(name)


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
        if _SUSPECT.search(raw):
            try:
                data = json.loads(raw, parse_constant=_no_constant)
            except _NotJson:
                return [
                    *errors,
                    _error(("body",), "不是有效的 JSON：不能使用 NaN 或 Infinity", "json_invalid_constant"),
                ]
            except ValueError:
                return errors  # not JSON: the route's own parsing says so
            for loc, text in _strings(data, ("body",)):
                if (problem := text_problem(text)) is not None:
                    errors.append(_error(loc, problem))
    return errors


#: a JSON schema type → the pydantic error type whose Chinese message (domain.form_errors) says what it must be
_TYPE_ERRORS = {
    "boolean": "bool_type",
    "integer": "int_type",
    "number": "float_type",
    "string": "string_type",
    "object": "dict_type",
    "array": "list_type",
    "null": "none_required",
}


def _has_type(value: Any, json_type: str) -> bool:
    match json_type:
        case "boolean":
            return isinstance(value, bool)
        case "integer":
            return isinstance(value, int) and not isinstance(value, bool)
        case "number":
            return isinstance(value, int | float) and not isinstance(value, bool)
        case "string":
            return isinstance(value, str)
        case "object":
            return isinstance(value, dict)
        case "array":
            return isinstance(value, list)
        case "null":
            return value is None
    return True


def type_mismatches(
    schema: dict[str, Any], value: Any, loc: tuple[str | int, ...], root: dict[str, Any] | None = None
) -> Iterator[dict[str, Any]]:
    """Errors (FastAPI's shape) where ``value`` is not of the JSON type ``schema`` gives (types only)."""
    root = root if root is not None else schema
    if "$ref" in schema:
        schema = root["$defs"][schema["$ref"].rsplit("/", 1)[-1]]
    branches = schema.get("anyOf") or schema.get("oneOf")
    if branches:
        discriminator = schema.get("discriminator")
        if (
            discriminator
            and isinstance(value, dict)
            and value.get(discriminator["propertyName"]) in discriminator.get("mapping", {})
        ):
            chosen = {"$ref": discriminator["mapping"][value[discriminator["propertyName"]]]}
            yield from type_mismatches(chosen, value, loc, root)
            return
        found = [list(type_mismatches(b, value, loc, root)) for b in branches]
        if all(found):  # no branch takes it: say what the first (non-null) one wanted
            yield from next((f for f, b in zip(found, branches, strict=True) if b.get("type") != "null"), found[0])
        return
    json_type = schema.get("type")
    if isinstance(json_type, str) and not _has_type(value, json_type):
        yield {"type": _TYPE_ERRORS[json_type], "loc": loc, "msg": f"Input should be JSON {json_type}", "input": None}
        return
    if isinstance(value, dict):
        properties = schema.get("properties", {})
        for key, item in value.items():
            if key in properties:
                yield from type_mismatches(properties[key], item, (*loc, key), root)
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for i, item in enumerate(value):
            yield from type_mismatches(schema["items"], item, (*loc, i), root)


_REQUEST = "_checked_route_request"


class CheckedRoute(APIRoute):
    """An ``APIRoute`` that refuses unsafe text (422) before its dependencies run, and a JSON body of the
    wrong JSON types (422) after them, before its function runs."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        self._body_schema: dict[str, Any] | None = None
        if inspect.iscoroutinefunction(endpoint) and kwargs.get("methods") and set(kwargs["methods"]) & {"POST"}:
            endpoint = self._checking_body_types(endpoint)
        super().__init__(path, endpoint, **kwargs)

    def _checking_body_types(self, endpoint: Callable[..., Any]) -> Callable[..., Any]:
        """``endpoint`` validating the request's body types first; FastAPI hands it the request as its own
        ``Request`` parameter, or as one more keyword parameter (FastAPI fills only one per route)."""
        signature = inspect.signature(endpoint)
        own = next((p.name for p in signature.parameters.values() if p.annotation in (Request, "Request")), None)

        @functools.wraps(endpoint)
        async def checked(*args: Any, **kwargs: Any) -> Any:
            request = kwargs[own] if own else kwargs.pop(_REQUEST)
            await self._check_body_types(request)
            return await endpoint(*args, **kwargs)

        if own is None:
            extra = inspect.Parameter(_REQUEST, inspect.Parameter.KEYWORD_ONLY, annotation=Request)
            checked.__signature__ = signature.replace(parameters=[*signature.parameters.values(), extra])  # type: ignore[attr-defined]
        return checked

    async def _check_body_types(self, request: Request) -> None:
        if self.body_field is None:
            return
        if self._body_schema is None:
            self._body_schema = TypeAdapter(self.body_field.field_info.annotation or Any).json_schema()
        raw = await request.body()
        if not raw:
            return
        errors = list(type_mismatches(self._body_schema, json.loads(raw), ("body",)))
        if errors:
            raise RequestValidationError(errors)

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()

        async def checked(request: Request) -> Response:
            errors = await unsafe_text_errors(request)
            if errors:
                raise RequestValidationError(errors)
            return await handle(request)

        return checked
