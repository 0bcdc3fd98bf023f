"""Identities of API callers: ``Authorization: Bearer <token>``, an opaque token or the province's OIDC JWT.

Opaque tokens are looked up by their SHA-256 and compared in constant time; JWTs are verified with PyJWT
against the provider's JWKS (issuer, audience, expiry). A refusal is 401 (no or bad identity, with
``WWW-Authenticate``) or 403 (known, not allowed), each with a Chinese ``detail`` and an English ``code``.
"""

from __future__ import annotations

import hmac
from functools import cached_property
from typing import Any

import jwt
import structlog
from pydantic import ValidationError

from domain.access import Identity, Role
from runtime.access import token_hash
from runtime.settings import Settings

log = structlog.get_logger(__name__)


class Refusal(Exception):
    """A request refused for who is asking: 401 or 403 (or 404 where existence must not show)."""

    def __init__(self, status_code: int, code: str, detail: str) -> None:
        super().__init__(f"{status_code} {code}")
        self.status_code = status_code
        self.code = code
        self.detail = detail
        self.headers: dict[str, str] | None = None  # e.g. ``Retry-After`` of a 503


def unauthenticated(detail: str = "请先登录：缺少有效的身份凭证", code: str = "unauthenticated") -> Refusal:
    return Refusal(401, code, detail)


def forbidden(detail: str = "当前身份无权进行此操作", code: str = "forbidden") -> Refusal:
    return Refusal(403, code, detail)


class Authenticator:
    """Turns a bearer token into an :class:`Identity` under one deployment's settings."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._tokens = {e.sha256: e.identity for e in settings.token_entries()}

    @cached_property
    def _jwks(self) -> jwt.PyJWKClient | None:
        url = self._settings.oidc_jwks_url
        return jwt.PyJWKClient(url, cache_keys=True, lifespan=3600, timeout=5) if url else None

    def identify(self, authorization: str | None) -> Identity:
        if not authorization:
            raise unauthenticated()
        scheme, _, token = authorization.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise unauthenticated("身份凭证格式不正确：应为 Authorization: Bearer <token>", "bad_authorization")
        if token.count(".") == 2 and self._settings.oidc_enabled:
            return self._from_jwt(token)
        return self._from_opaque(token)

    def _from_opaque(self, token: str) -> Identity:
        digest = token_hash(token)
        found = None
        for known, identity in self._tokens.items():  # every entry compared, in constant time each
            if hmac.compare_digest(known, digest):
                found = identity
        if found is None:
            raise unauthenticated("身份凭证无效或已停用", "invalid_token")
        return found

    def _from_jwt(self, token: str) -> Identity:
        s = self._settings
        assert self._jwks is not None
        try:
            key = self._jwks.get_signing_key_from_jwt(token)
            claims: dict[str, Any] = jwt.decode(
                token,
                key.key,
                algorithms=s.oidc_algorithms,
                audience=s.oidc_audience,
                issuer=s.oidc_issuer,
                leeway=s.oidc_leeway_s,
                options={"require": ["exp", "iss", "aud", s.oidc_subject_claim]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise unauthenticated("登录已过期，请重新登录", "token_expired") from exc
        except (jwt.PyJWTError, jwt.PyJWKClientError) as exc:
            log.info("jwt_refused", error=str(exc))
            raise unauthenticated("身份凭证无效（签名、签发方或受众不符）", "invalid_token") from exc
        return self._identity_from_claims(claims)

    def _identity_from_claims(self, claims: dict[str, Any]) -> Identity:
        return identity_from_claims(self._settings, claims)


def identity_from_claims(s: Settings, claims: dict[str, Any]) -> Identity:
    """The identity a provider's claims name (the claims' names are settings); 403 ``no_role`` otherwise.
    The API's bearer JWTs and the pages' single sign-on (``api.pages.sso``) read claims the same way."""
    windows = claims.get(s.oidc_windows_claim)
    try:
        return Identity(
            subject=str(claims[s.oidc_subject_claim]),
            role=Role(str(claims.get(s.oidc_role_claim))),
            window_id=claims.get(s.oidc_window_claim),
            windows=tuple(windows) if isinstance(windows, list) else None,
            department=claims.get(s.oidc_department_claim),
            name=claims.get(s.oidc_name_claim),
        )
    except (KeyError, ValueError, ValidationError) as exc:
        raise forbidden("身份凭证未载明有效的角色、窗口或部门", "no_role") from exc
