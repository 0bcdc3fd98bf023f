"""The audit trail of the API: every state-changing request and every refusal, appended to kaiban's store.

A pure ASGI middleware: after the route has answered it knows the route (the action), the path (the
target), the identity the route resolved (the actor) and the status; a refusal's reason is what the
exception handlers put on ``request.state``. Reads that were allowed are not recorded; reads refused are.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from domain.access import Identity
from store import AuditEntry, Store
from store.audit import ANONYMOUS

log = structlog.get_logger(__name__)

STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
#: refusals of reads that are recorded: no or bad identity, not allowed, not in the identity's scope
REFUSED_READ = frozenset({401, 403, 404})
UNAUDITED_PATHS = ("/healthz", "/docs", "/openapi.json", "/redoc")


def note_refusal(request_state: Any, reason: str, code: str | None = None) -> None:
    """Called by the exception handlers: what the audit entry gives as the refusal's reason."""
    request_state.refusal = f"{code}: {reason}" if code else reason


class AuditMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(UNAUDITED_PATHS):
            await self.app(scope, receive, send)
            return
        status = 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            if scope["method"] in STATE_CHANGING or status in REFUSED_READ:
                await self._record(scope, status)

    async def _record(self, scope: Scope, status: int) -> None:
        state = scope.get("state", {})
        identity: Identity | None = state.get("identity")
        route = scope.get("route")
        params = scope.get("path_params", {})
        entry = AuditEntry(
            at=datetime.now(UTC),
            actor=identity.subject if identity else ANONYMOUS,
            role=identity.role.value if identity else None,
            window_id=identity.window_id if identity else None,
            action=getattr(route, "name", None) or f"{scope['method']} {scope['path']}",
            target=scope["path"].removeprefix("/api/v1/"),
            application_id=params.get("application_id") or state.get("audit_application_id"),
            outcome="allowed" if status < 400 else "denied",
            status_code=status,
            reason=state.get("refusal") if status >= 400 else None,
            detail=state.get("audit_detail") if status < 400 else None,  # small facts a route noted
        )
        try:
            store: Store = scope["app"].state.store
            await asyncio.to_thread(store.audit.append, entry)
        except Exception as exc:  # the answer has gone out; the failure must be seen, not swallowed
            log.error("audit_append_failed", action=entry.action, status_code=status, error=str(exc))
