"""One portal instance's state (spec, behaviour, store, sessions, captchas, rejection rules, counters)
and what every route needs of it: the session, the current wizard version, rendering a page."""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from simulators.portal import store
from simulators.portal.behaviour import Behaviour
from simulators.portal.filings import Filings, PortalStore
from simulators.portal.forms import display
from simulators.portal.specs import V2_PREFIX, V3_PREFIX, PortalSpec, StepSpec, v2_steps, v3_steps

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates" / "portal"
SESSION_COOKIE = "PORTALSESSID"
STATUS_LABELS = {
    store.IN_REVIEW: "审核中",
    store.COMPLETED: "已办结",
    store.REJECTED: "已退回",
    store.WITHDRAWN: "已撤回",
}
DEFAULT_REJECTION_REASON = "材料不齐全，需补正"
# what GET /_admin/counters counts (see simulators/README.md)
COUNTERS = (
    "requests",
    "responses_5xx",
    "errors_injected",
    "logins",
    "sessions_expired_idle",
    "sessions_expired_lifetime",
    "relogins_after_expiry",
)


class LoginRequired(Exception):
    """No live session: the app answers with a redirect to the login page (see :func:`to_login`)."""


def to_login(request: Request, _exc: Exception | None = None) -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    expired = "&expired=1" if getattr(request.state, "expired", False) else ""
    return RedirectResponse(f"/login?next={quote(target)}{expired}", status_code=303)


def _templates(spec: PortalSpec) -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES_DIR)),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals.update(spec=spec, display=display, status_labels=STATUS_LABELS)
    return env


@dataclass
class Portal:
    spec: PortalSpec
    behaviour: Behaviour
    db_path: Path
    username: str
    password: str
    sessions: dict[str, dict[str, Any]] = field(default_factory=dict)
    captchas: dict[str, str] = field(default_factory=dict)  # captcha id -> expected answer (one use each)
    captcha_images: dict[str, bytes] = field(default_factory=dict)  # captcha id -> its picture (image kinds)
    rejection_rules: dict[str, str] = field(default_factory=dict)
    counters: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNTERS, 0))
    pages: dict[str, int] = field(default_factory=dict)  # requests by "METHOD /path" (receipt numbers as {no})
    expired_tokens: set[str] = field(default_factory=set)  # a login from one of them is a re-login
    filings: Filings = None  # type: ignore[assignment]  # default: the portal's own store

    def __post_init__(self) -> None:
        if self.filings is None:
            self.filings = PortalStore(self.db_path, self.spec)
        self.rng = random.Random(self.behaviour.error_seed)
        self.templates = _templates(self.spec)
        self.versions = {1: self.spec.steps, 2: v2_steps(self.spec.steps), 3: v3_steps(self.spec.steps)}
        self.n_steps = len(self.spec.steps)

    # --- sessions ---------------------------------------------------------------------

    def session_of(self, request: Request) -> dict[str, Any] | None:
        """The request's live session, or None (an expired one is dropped and counted)."""
        token = request.cookies.get(SESSION_COOKIE)
        session = self.sessions.get(token) if token else None
        if session is None:
            return None
        now = getattr(request.state, "arrived", None) or time.time()
        idle, lifetime = self.behaviour.session_idle_timeout_s, self.behaviour.session_lifetime_s
        idle_expired = idle is not None and now - session.get("seen", now) > idle
        if idle_expired or (lifetime is not None and now - session.get("created", now) > lifetime):
            self.sessions.pop(token, None)
            self.counters["sessions_expired_idle" if idle_expired else "sessions_expired_lifetime"] += 1
            if len(self.expired_tokens) > 10_000:
                self.expired_tokens.clear()
            self.expired_tokens.add(token)
            request.state.expired = True
            return None
        session["seen"] = now
        return session

    def session(self, request: Request) -> dict[str, Any]:
        """The request's live session; raises :class:`LoginRequired` without one."""
        session = self.session_of(request)
        if session is None:
            raise LoginRequired
        return session

    def touch_session(self, request: Request) -> None:
        """The request's session (if any) was seen now: its idle time starts again."""
        token = request.cookies.get(SESSION_COOKIE)
        if token and token in self.sessions:
            self.sessions[token]["seen"] = time.time()

    # --- the wizard as the current version shows it -----------------------------------

    def steps(self) -> tuple[StepSpec, ...]:
        return self.versions[self.behaviour.version]

    def wire_prefix(self) -> str:
        return {1: "", 2: V2_PREFIX, 3: V3_PREFIX}[self.behaviour.version]

    def first_open_step(self, session: dict[str, Any]) -> int:
        done = session["done"]
        for i in range(1, self.n_steps + 1):
            if i not in done:
                return i
        return self.n_steps + 1

    async def slow_step(self) -> None:
        if self.behaviour.step_delay_s > 0:
            await asyncio.sleep(self.behaviour.step_delay_s)

    # --- pages and rules --------------------------------------------------------------

    def render(self, template: str, session: dict[str, Any] | None, *, status: int = 200, **ctx: Any) -> HTMLResponse:
        ctx.setdefault("errors", {})
        html = self.templates.get_template(template).render(user=session["user"] if session else None, **ctx)
        return HTMLResponse(html, status_code=status)

    def not_found(self, session: dict[str, Any] | None, message: str) -> HTMLResponse:
        return self.render("message.html", session, status=404, page_title="页面不存在", message=message)

    def case_page(
        self, session: dict[str, Any], receipt_no: str, template: str, page_title: str, missing: str
    ) -> HTMLResponse:
        """A page about one filed case (receipt, withdrawal), or the 404 page saying ``missing``."""
        rows = self.filings.find(receipt_no=receipt_no)
        if not rows:
            return self.not_found(session, missing)
        return self.render(template, session, page_title=page_title, record=rows[0])

    def add_rejection_rule(self, application_id: str, reason: str) -> int:
        """Reject ``application_id`` from now on; returns how many of its cases in review were marked."""
        self.rejection_rules[application_id] = reason
        return self.filings.decide_rejection(application_id, reason)


def get_portal(request: Request) -> Portal:
    return request.app.state.portal


PortalDep = Annotated[Portal, Depends(get_portal)]
