"""Bad input never hurts: a request body over the limit is refused before anything parses it.

``BodyLimitMiddleware`` is pure ASGI. With a ``Content-Length`` it answers 413 at once when the length is
over the limit; without one (``Transfer-Encoding: chunked``) it counts the streamed body and answers 413 as
soon as the count passes the limit, never holding more than the limit (and one chunk) in memory; a body
within the limit is handed to the application as it came.
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

BODY_TOO_LARGE = "body_too_large"


def _mib(n: int) -> str:
    return f"{n / (1024 * 1024):g} MiB" if n >= 1024 * 1024 else f"{n} 字节"


class BodyLimitMiddleware:
    """``path_limits``: a larger limit for the paths that take files (exact paths, e.g. the materials upload)."""

    def __init__(self, app: ASGIApp, max_body_bytes: int, path_limits: dict[str, int] | None = None) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.path_limits = dict(path_limits or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.path_limits.get(scope["path"].rstrip("/"), self.max_body_bytes)
        length = _content_length(scope)
        if length == "invalid":
            await _refuse(scope, send, 400, "bad_content_length", "请求头 Content-Length 无效")
            return
        if isinstance(length, int):
            if length > limit:
                await self._too_large(scope, send, limit)
                return
            await self.app(scope, receive, send)  # the server delivers no more than Content-Length
            return
        # no Content-Length: read (at most the limit) before the application sees anything
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                chunks.clear()
                await self._too_large(scope, send, limit)
                return
            if chunk:
                chunks.append(chunk)
            if not message.get("more_body", False):
                break
        await self.app(scope, _replay(b"".join(chunks), receive), send)

    async def _too_large(self, scope: Scope, send: Send, limit: int) -> None:
        await _refuse(scope, send, 413, BODY_TOO_LARGE, f"请求内容过大：最多 {_mib(limit)}")


def _content_length(scope: Scope) -> int | str | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            text = value.decode("latin-1").strip()
            return int(text) if text.isdigit() else "invalid"
    return None


def _replay(body: bytes, receive: Receive) -> Receive:
    """The body read in one message, then the client's own ``receive`` (to hear of a disconnect)."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


async def _refuse(scope: Scope, send: Send, status: int, code: str, detail: str) -> None:
    # what the audit middleware records as the reason (the route never ran)
    scope.setdefault("state", {})["refusal"] = f"{code}: {detail}"
    body = json.dumps({"detail": detail, "code": code}, ensure_ascii=False).encode("utf-8")
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
