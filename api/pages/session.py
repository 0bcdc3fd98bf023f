"""Sessions of the pages: a signed cookie that carries who signed in and the session's CSRF token.

The cookie (``kaiban_session``) is signed with ``KAIBAN_SESSION_SECRET`` (itsdangerous, HMAC-SHA1 over a
timestamped payload), HttpOnly, SameSite=Lax, Secure in production, and expires after
``KAIBAN_SESSION_MAX_AGE_S``. Nothing is kept on the server. It holds the :class:`Identity` of the signed-in
person (the same identities the API's tokens stand for) and a random CSRF token that every form and every
script's POST must send back (the form field ``csrf_token`` or the header ``X-CSRF-Token``). Before
signing in the cookie holds only a CSRF token, for the login form; signing in issues a new one.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from typing import Annotated, Any

import structlog
from fastapi import Depends, Request, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer
from pydantic import ValidationError

from api.auth import Refusal
from domain.access import Identity
from runtime.people import DEV_USERS, dev_password_hash, password_hasher
from runtime.settings import Settings

log = structlog.get_logger(__name__)

COOKIE = "kaiban_session"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"


class LoginRequired(Exception):
    """No (valid) session: a page answers with a redirect to /login, a script's request with 401."""


@dataclass(frozen=True)
class Session:
    csrf: str
    identity: Identity | None = None
    username: str | None = None


class Sessions:
    """Signs and reads session cookies, and checks passwords, under one deployment's settings."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._signer = URLSafeTimedSerializer(settings.session_secret, salt="kaiban-pages-session")
        users = {u.username: u for u in settings.page_users()}
        self._users = {name: (u.password_hash, u.identity) for name, u in users.items()}
        self._dev = settings.environment != "production"

    # -- the cookie --------------------------------------------------------------------------------------
    def read(self, request: Request) -> Session | None:
        return self.read_value(request.cookies.get(COOKIE))

    def read_value(self, raw: str | None) -> Session | None:
        if not raw:
            return None
        try:
            data: dict[str, Any] = self._signer.loads(raw, max_age=self._settings.session_max_age_s)
            identity = Identity.model_validate(data["i"]) if data.get("i") else None
            return Session(csrf=str(data["c"]), identity=identity, username=data.get("u"))
        except (BadSignature, KeyError, TypeError, ValidationError):
            return None

    def write(self, response: Response, session: Session) -> None:
        payload: dict[str, Any] = {"c": session.csrf, "u": session.username}
        if session.identity is not None:
            payload["i"] = session.identity.model_dump(mode="json", exclude_none=True)
        response.set_cookie(
            COOKIE,
            self._signer.dumps(payload),
            max_age=self._settings.session_max_age_s,
            httponly=True,
            samesite="lax",
            secure=self._settings.environment == "production",
            path="/",
        )

    def clear(self, response: Response) -> None:
        response.delete_cookie(COOKIE, path="/")

    @staticmethod
    def anonymous() -> Session:
        return Session(csrf=secrets.token_urlsafe(32))

    @staticmethod
    def signed_in(username: str, identity: Identity) -> Session:
        return Session(csrf=secrets.token_urlsafe(32), identity=identity, username=username)

    # -- passwords ---------------------------------------------------------------------------------------
    def check_password(self, username: str, password: str) -> Identity | None:
        """The identity of ``username`` when ``password`` is theirs; None otherwise (in about the same time)."""
        hasher = password_hasher()
        if username in self._users:
            stored, identity = self._users[username]
            return identity if hasher.verify(password, stored) else None
        if self._dev and username in DEV_USERS:
            return DEV_USERS[username] if hasher.verify(password, dev_password_hash()) else None
        hasher.verify(password, dev_password_hash())  # an unknown name costs what a known one does
        return None


def sessions(request: Request) -> Sessions:
    return request.app.state.page_sessions


def page_session(request: Request) -> Session:
    """The signed-in session (LoginRequired otherwise); its identity is the audit trail's actor."""
    session = sessions(request).read(request)
    if session is None or session.identity is None:
        raise LoginRequired()
    request.state.identity = session.identity
    return session


def local_target(target: str | None) -> str | None:
    """``next`` only ever leads within kaiban (no //host, no scheme)."""
    if target and target.startswith("/") and not target.startswith(("//", "/\\")):
        return target
    return None


def csrf_ok(session: Session, sent: str | None) -> bool:
    return bool(sent) and hmac.compare_digest(session.csrf.encode(), str(sent).encode())


async def checked_session(request: Request) -> Session:
    """A signed-in session whose CSRF token came back with the request (a refusal, 403, otherwise)."""
    session = page_session(request)
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        sent = str((await request.form()).get(CSRF_FIELD) or "")
    if not csrf_ok(session, sent):
        log.info("csrf_refused", path=request.url.path)
        raise Refusal(403, "csrf_failed", "页面已过期或请求来源不明，请刷新页面后重试")
    return session


SessionDep = Annotated[Session, Depends(page_session)]
CheckedSessionDep = Annotated[Session, Depends(checked_session)]
