"""Logging in (user name, password and, when the behaviour asks, a captcha), logging out, the home page."""

from __future__ import annotations

import secrets
import string
import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from simulators.portal.state import SESSION_COOKIE, Portal, PortalDep

router = APIRouter()


def safe_next(target: str | None) -> str:
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return "/"


def new_captcha(portal: Portal) -> dict[str, str] | None:
    """A captcha for the login page as the behaviour asks ("3 + 4 = ?" or "请输入验证码：K7QP"), or None."""
    if portal.behaviour.captcha is None:
        return None
    if portal.behaviour.captcha == "arithmetic":
        a, b = secrets.randbelow(9) + 1, secrets.randbelow(9) + 1
        op = ("+", "-", "×")[secrets.randbelow(3)]
        if op == "-" and b > a:
            a, b = b, a
        answer = a + b if op == "+" else a - b if op == "-" else a * b
        question, expected = f"{a} {op} {b} = ?", str(answer)
    else:
        alphabet = "".join(c for c in string.ascii_uppercase + string.digits if c not in "0O1IL")
        expected = "".join(secrets.choice(alphabet) for _ in range(4))
        question = f"请输入验证码：{expected}"
    captcha_id = secrets.token_urlsafe(12)
    if len(portal.captchas) > 10_000:  # never-answered captchas must not grow without end
        portal.captchas.clear()
    portal.captchas[captcha_id] = expected
    return {"id": captcha_id, "question": question}


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
        expected = portal.captchas.pop(str(form.get("captcha_id") or ""), None)
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
