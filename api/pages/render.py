"""How a page answers: Jinja2 templates (every value escaped), security headers, refusals as pages.

``PageRoute`` is the route class of every page router: a refusal (``api.auth.Refusal``: 403, 404, 409 …)
becomes the error page with the same status (or a JSON problem for a script that asked for JSON), a
missing session a redirect to /login, and every answer carries the Content-Security-Policy (scripts and
styles from kaiban itself only: no inline script, no CDN) and the other security headers.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jinja2
import structlog
from fastapi import Request, Response
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from fastapi.routing import APIRoute
from starlette.templating import Jinja2Templates

from api.audit import note_refusal
from api.auth import Refusal
from api.deps import TemporalUnavailable
from api.pages import labels
from api.pages.session import CSRF_FIELD, LoginRequired, Session
from domain.access import Identity, Role
from domain.calendar import SHANGHAI

log = structlog.get_logger(__name__)

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"
STATIC_DIR = Path(__file__).resolve().parent.parent / "static"

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",  # pages hold personal data: not kept by the browser or a proxy
}


def local_time(value: datetime | str | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    if value is None or value == "":
        return ""
    instant = datetime.fromisoformat(value) if isinstance(value, str) else value
    return instant.astimezone(SHANGHAI).strftime(fmt)


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,  # every value escaped, whatever the template's name
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["local"] = local_time
    env.globals["L"] = labels
    env.globals["csrf_field"] = CSRF_FIELD
    return env


templates = Jinja2Templates(env=_environment())


def home_of(identity: Identity) -> str:
    """Where ``/`` takes each role."""
    if identity.role is Role.CLERK:
        return "/applications"
    if identity.role is Role.DEPARTMENT:
        return f"/departments/{identity.department}/inbox"
    return "/board"


def page(
    request: Request, template: str, session: Session | None, status_code: int = 200, **context: Any
) -> HTMLResponse:
    identity = session.identity if session else None
    context.update(request=request, session=session, me=identity, home=home_of(identity) if identity else "/login")
    return templates.TemplateResponse(request, template, context, status_code=status_code)


def _wants_json(request: Request) -> bool:
    return "application/json" in request.headers.get("accept", "")


def refusal_page(request: Request, exc: Refusal, session: Session | None) -> Response:
    note_refusal(request.state, exc.detail, exc.code)
    log.info("page_refused", path=request.url.path, status_code=exc.status_code, code=exc.code)
    if _wants_json(request):
        response: Response = JSONResponse({"detail": exc.detail, "code": exc.code}, status_code=exc.status_code)
    else:
        response = page(request, "error.html", session, status_code=exc.status_code, detail=exc.detail, code=exc.code)
    response.headers.update(exc.headers or {})  # e.g. Retry-After of a read refused while a worker restarts
    return response


class PageRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        original = super().get_route_handler()

        async def handler(request: Request) -> Response:
            try:
                response = await original(request)
            except LoginRequired:
                if _wants_json(request) or request.method != "GET":
                    response = JSONResponse({"detail": "请先登录", "code": "unauthenticated"}, status_code=401)
                else:
                    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                    response = RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)
            except Refusal as exc:
                response = refusal_page(request, exc, _session_of(request))
            except TemporalUnavailable as exc:
                log.error("temporal_unavailable", error=str(exc))
                busy = Refusal(503, "temporal_unavailable", "工作流服务暂不可用，请稍后重试")
                response = refusal_page(request, busy, _session_of(request))
            response.headers.update(SECURITY_HEADERS)
            return response

        return handler


def _session_of(request: Request) -> Session | None:
    return request.app.state.page_sessions.read(request)
