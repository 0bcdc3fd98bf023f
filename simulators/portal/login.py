"""Logging in (user name, password and, when the behaviour asks, a captcha), logging out, the home page."""

from __future__ import annotations

import secrets
import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from simulators.portal import captchas
from simulators.portal.state import SESSION_COOKIE, Portal, PortalDep

router = APIRouter()


def safe_next(target: str | None) -> str:
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return "/"


def new_captcha(portal: Portal) -> dict[str, str] | None:
    """A captcha for the login page as the behaviour asks, or None: ``{"id", "question"}``, with ``"image"``
    (its address) for the image kinds, whose picture ``GET /captcha/{id}.png`` serves."""
    kind = portal.behaviour.captcha
    if kind is None:
        return None
    captcha = captchas.new_captcha(kind)
    captcha_id = secrets.token_urlsafe(12)
    if len(portal.captchas) > 10_000:  # never-answered captchas must not grow without end
        portal.captchas.clear()
        portal.captcha_images.clear()
    portal.captchas[captcha_id] = captcha.answer
    out = {"id": captcha_id, "question": captcha.question}
    if captcha.png is not None:
        portal.captcha_images[captcha_id] = captcha.png
        out["image"] = f"/captcha/{captcha_id}.png"
    return out


def login_errors(portal: Portal, form: Any, values: dict[str, str]) -> dict[str, str]:
    """What is wrong with a login form: missing fields, wrong account, wrong captcha (used up either way)."""
    spec = portal.spec
    errors = {f.name: f"请输入{f.label}" for f in spec.login_fields if not values[f.name]}
    if not errors and not (
        secrets.compare_digest(values["username"].encode(), portal.username.encode())
        and secrets.compare_digest(values["password"].encode(), portal.password.encode())
    ):
        errors["_form"] = "用户名或密码错误"
    if portal.behaviour.captcha is not None:
        captcha_id = str(form.get("captcha_id") or "")
        expected = portal.captchas.pop(captcha_id, None)
        portal.captcha_images.pop(captcha_id, None)
        answer = str(form.get("captcha") or "").strip()
        if not answer:
            errors["captcha"] = "请输入验证码"
        elif expected is None or answer.upper() != expected.upper():
            errors["captcha"] = "验证码错误，请重新输入"
    return errors


def open_session(portal: Portal, request: Request, user: str, target: str) -> Response:
    """A new session for ``user`` (counting a re-login after expiry), then on to ``target``."""
    portal.counters["logins"] += 1
    old_token = request.cookies.get(SESSION_COOKIE)
    if old_token and old_token in portal.expired_tokens:
        portal.expired_tokens.discard(old_token)
        portal.counters["relogins_after_expiry"] += 1
    token = secrets.token_urlsafe(32)
    now = time.time()
    portal.sessions[token] = {"user": user, "draft": {}, "done": set(), "created": now, "seen": now}
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="lax", path="/")
    return response


@router.get("/login", response_class=HTMLResponse)
async def login_form(portal: PortalDep, next: str = "/", expired: str = "") -> Response:
    notice = "会话已过期，请重新登录" if expired else ""
    return portal.render(
        "login.html",
        None,
        page_title="用户登录",
        values={},
        next=safe_next(next),
        captcha=new_captcha(portal),
        notice=notice,
    )


@router.post("/login", response_class=HTMLResponse)
async def login(request: Request, portal: PortalDep) -> Response:
    form = await request.form()
    values = {f.name: str(form.get(f.name) or "") for f in portal.spec.login_fields}
    target = safe_next(str(form.get("next") or "/"))
    errors = login_errors(portal, form, values)
    if errors:
        values["password"] = ""
        return portal.render(
            "login.html",
            None,
            page_title="用户登录",
            values=values,
            next=target,
            errors=errors,
            captcha=new_captcha(portal),
            notice="",
        )
    return open_session(portal, request, values["username"], target)


@router.get("/captcha/{captcha_id}.png")
async def captcha_image(captcha_id: str, portal: PortalDep) -> Response:
    """The picture of an image captcha still to be answered (404 once it was used)."""
    png = portal.captcha_images.get(captcha_id)
    if png is None:
        return Response(status_code=404)
    return Response(png, media_type="image/png", headers={"Cache-Control": "no-store"})


@router.get("/logout")
async def logout(request: Request, portal: PortalDep) -> Response:
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        portal.sessions.pop(token, None)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/", response_class=HTMLResponse)
async def home(request: Request, portal: PortalDep) -> Response:
    return portal.render("home.html", portal.session(request), page_title="办事大厅")
