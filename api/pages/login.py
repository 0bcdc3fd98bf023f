"""Signing in and out, and ``/`` taking each role to its page."""

from __future__ import annotations

import asyncio

import structlog
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api.pages.render import PageRoute, home_of, page
from api.pages.session import CSRF_FIELD, SessionDep, csrf_ok, local_target, sessions

router = APIRouter(route_class=PageRoute, include_in_schema=False)
log = structlog.get_logger(__name__)


def _sso(request: Request) -> bool:
    """Whether /login offers single sign-on (api.pages.sso: configured for this deployment)."""
    return getattr(request.app.state, "page_sso", None) is not None


@router.get("/", response_class=RedirectResponse)
async def home(request: Request) -> Response:
    session = sessions(request).read(request)
    if session is None or session.identity is None:
        return RedirectResponse("/login", status_code=303)
    return RedirectResponse(home_of(session.identity), status_code=303)


@router.get("/login", response_class=HTMLResponse)
async def login_form(request: Request, next: str | None = None) -> Response:
    store = sessions(request)
    session = store.read(request) or store.anonymous()
    response = page(
        request, "login.html", None, csrf=session.csrf, next=local_target(next) or "", error=None, sso=_sso(request)
    )
    store.write(response, session)
    return response


@router.post("/login", response_class=HTMLResponse)
async def login(request: Request) -> Response:
    store = sessions(request)
    form = await request.form()
    username = str(form.get("username") or "").strip()
    password = str(form.get("password") or "")
    target = local_target(str(form.get("next") or ""))
    session = store.read(request)
    if session is None or not csrf_ok(session, str(form.get(CSRF_FIELD) or "")):
        session = store.anonymous()
        error, status = "页面已过期，请重新登录", 403
    else:
        identity = await asyncio.to_thread(store.check_password, username, password) if username else None
        if identity is not None:
            signed = store.signed_in(username, identity)
            request.state.identity = identity
            log.info("page_login", subject=identity.subject, role=identity.role.value)
            done = RedirectResponse(target or home_of(identity), status_code=303)
            store.write(done, signed)
            return done
        error, status = "用户名或密码不正确", 401
    request.state.refusal = f"login_failed: {error}"
    log.info("page_login_refused", status_code=status)
    response = page(
        request, "login.html", None, status, csrf=session.csrf, next=target or "", error=error, sso=_sso(request)
    )
    store.write(response, session)
    return response


@router.post("/logout", response_class=RedirectResponse)
async def logout(request: Request, session: SessionDep) -> Response:
    form = await request.form()
    if not csrf_ok(session, str(form.get(CSRF_FIELD) or "")):
        return RedirectResponse(home_of(session.identity) if session.identity else "/login", status_code=303)
    response = RedirectResponse("/login", status_code=303)
    sessions(request).clear(response)
    return response
