"""Single sign-on of the pages through the province's OIDC provider: the authorization-code flow with PKCE.

``GET /login/sso`` sends the browser to the provider's authorization endpoint with a fresh ``state``,
``nonce`` and PKCE challenge (S256); the three secrets travel in a short-lived signed cookie
(``kaiban_sso``, HttpOnly, SameSite=Lax, Secure in production, path /login/sso), never in the page.
``GET /login/sso/callback`` checks the returned ``state`` against the cookie, exchanges the code for tokens
at the token endpoint with the PKCE verifier (and the client secret, when the client is confidential),
verifies the ID token (the provider's JWKS at ``KAIBAN_OIDC_JWKS_URL``, issuer, audience = the client id,
expiry, the ``nonce``) and signs the person in with the identity its claims name, read as the API reads a
bearer JWT (``api.auth.identity_from_claims``). Anything else is the login page with a Chinese reason.

The provider's discovery document and JWKS are fetched with httpx and kept for an hour; an ID token signed
by a key not yet known fetches the JWKS once more (key rotation).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from typing import Any
from urllib.parse import urlencode

import httpx
import jwt
import structlog
from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer

from api.auth import Refusal, identity_from_claims
from api.pages.render import PageRoute, home_of, page
from api.pages.session import local_target, sessions
from runtime.settings import Settings

router = APIRouter(route_class=PageRoute, include_in_schema=False)
log = structlog.get_logger(__name__)

FLOW_COOKIE = "kaiban_sso"
FLOW_PATH = "/login/sso"
FLOW_MAX_AGE_S = 600  # from the redirect to the provider until the callback
CACHE_S = 3600


class SsoFailed(Exception):
    """The sign-on did not complete: ``reason`` for the person (Chinese), ``code`` for the log."""

    def __init__(self, code: str, reason: str, status_code: int = 401) -> None:
        super().__init__(code)
        self.code = code
        self.reason = reason
        self.status_code = status_code


def sso_configured(settings: Settings) -> bool:
    return bool(settings.oidc_enabled and settings.oidc_client_id)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def pkce_challenge(verifier: str) -> str:
    """RFC 7636 S256: BASE64URL(SHA256(verifier)) without padding."""
    return _b64(hashlib.sha256(verifier.encode()).digest())


class SingleSignOn:
    """The relying party of one deployment: the provider's metadata and keys, the flow cookie's signer."""

    def __init__(self, settings: Settings, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self._settings = settings
        self._transport = transport  # tests put the provider's ASGI app here; None: the network
        self._signer = URLSafeTimedSerializer(settings.session_secret, salt="kaiban-pages-sso")
        self._metadata: tuple[float, dict[str, Any]] | None = None
        self._keys: tuple[float, jwt.PyJWKSet] | None = None

    def _client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=self._transport, timeout=10.0, follow_redirects=False)

    async def _get_json(self, url: str) -> dict[str, Any]:
        async with self._client() as client:
            r = await client.get(url, headers={"Accept": "application/json"})
        r.raise_for_status()
        data = r.json()
        if not isinstance(data, dict):
            raise ValueError(f"{url}: not a JSON object")
        return data

    async def metadata(self) -> dict[str, Any]:
        if self._metadata and time.monotonic() - self._metadata[0] < CACHE_S:
            return self._metadata[1]
        s = self._settings
        url = s.oidc_discovery_url or f"{str(s.oidc_issuer).rstrip('/')}/.well-known/openid-configuration"
        data = await self._get_json(url)
        if data.get("issuer") != s.oidc_issuer:
            raise ValueError(f"discovery names issuer {data.get('issuer')!r}, not the configured one")
        self._metadata = (time.monotonic(), data)
        return data

    async def _key_set(self, refresh: bool = False) -> jwt.PyJWKSet:
        if not refresh and self._keys and time.monotonic() - self._keys[0] < CACHE_S:
            return self._keys[1]
        keys = jwt.PyJWKSet.from_dict(await self._get_json(str(self._settings.oidc_jwks_url)))
        self._keys = (time.monotonic(), keys)
        return keys

    async def _signing_key(self, id_token: str) -> Any:
        kid = jwt.get_unverified_header(id_token).get("kid")
        for refresh in (False, True):
            keys = await self._key_set(refresh)
            for key in keys.keys:
                if kid is None or key.key_id == kid:
                    return key.key
        raise SsoFailed("unknown_key", "统一身份认证返回的凭证无法验证，请重试或联系管理员")

    # -- the flow ------------------------------------------------------------------------------------------
    def redirect_uri(self, request: Request) -> str:
        return self._settings.oidc_redirect_url or str(request.url_for("sso_callback"))

    async def start(self, request: Request, target: str | None) -> Response:
        try:
            endpoint = str((await self.metadata())["authorization_endpoint"])
        except (httpx.HTTPError, ValueError, KeyError) as exc:
            log.warning("sso_provider_unreachable", error=str(exc))
            raise SsoFailed(
                "provider_unavailable", "统一身份认证服务暂不可用，请稍后重试或使用用户名和密码登录", 503
            ) from exc
        state, nonce, verifier = secrets.token_urlsafe(24), secrets.token_urlsafe(24), secrets.token_urlsafe(48)
        query = urlencode(
            {
                "response_type": "code",
                "client_id": self._settings.oidc_client_id,
                "redirect_uri": self.redirect_uri(request),
                "scope": self._settings.oidc_scopes,
                "state": state,
                "nonce": nonce,
                "code_challenge": pkce_challenge(verifier),
                "code_challenge_method": "S256",
            }
        )
        response = RedirectResponse(f"{endpoint}{'&' if '?' in endpoint else '?'}{query}", status_code=303)
        flow = {"s": state, "n": nonce, "v": verifier, "t": target or ""}
        response.set_cookie(
            FLOW_COOKIE,
            self._signer.dumps(flow),
            max_age=FLOW_MAX_AGE_S,
            httponly=True,
            samesite="lax",  # it must come back with the provider's top-level redirect
            secure=self._settings.environment == "production",
            path=FLOW_PATH,
        )
        log.info("sso_started")
        return response

    def _flow(self, request: Request) -> dict[str, str]:
        raw = request.cookies.get(FLOW_COOKIE)
        try:
            flow = self._signer.loads(raw, max_age=FLOW_MAX_AGE_S) if raw else None
        except BadSignature:
            flow = None
        if not isinstance(flow, dict):
            raise SsoFailed("no_flow", "登录已超时或不是从本页面发起，请重新登录")
        return flow

    async def finish(self, request: Request) -> tuple[Any, str | None]:
        """The identity of the person the provider sent back, and where they were going."""
        params = request.query_params
        flow = self._flow(request)
        if not hmac.compare_digest(str(params.get("state") or "").encode(), flow["s"].encode()):
            raise SsoFailed("state_mismatch", "登录请求与本页面不符（state 校验失败），请重新登录")
        if params.get("error"):
            log.info("sso_provider_error", error=params.get("error"))
            raise SsoFailed("provider_refused", "统一身份认证未完成登录，请重试或使用用户名和密码登录")
        code = params.get("code")
        if not code:
            raise SsoFailed("no_code", "统一身份认证未返回授权码，请重新登录")
        tokens = await self._exchange(request, code, flow["v"])
        id_token = tokens.get("id_token")
        if not isinstance(id_token, str):
            raise SsoFailed("no_id_token", "统一身份认证未返回身份凭证，请联系管理员")
        claims = await self._verify(id_token, flow["n"])
        return identity_from_claims(self._settings, claims), local_target(flow.get("t"))

    async def _exchange(self, request: Request, code: str, verifier: str) -> dict[str, Any]:
        s = self._settings
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": self.redirect_uri(request),
            "client_id": str(s.oidc_client_id),
            "code_verifier": verifier,
        }
        auth: httpx.Auth | None = (
            httpx.BasicAuth(str(s.oidc_client_id), s.oidc_client_secret) if s.oidc_client_secret else None
        )
        try:
            endpoint = str((await self.metadata())["token_endpoint"])
            async with self._client() as client:
                r = await client.post(
                    endpoint, data=form, auth=auth or httpx.USE_CLIENT_DEFAULT, headers={"Accept": "application/json"}
                )
            data = r.json() if r.headers.get("content-type", "").startswith("application/json") else {}
        except (httpx.HTTPError, ValueError, KeyError) as exc:
            log.warning("sso_token_exchange_failed", error=str(exc))
            raise SsoFailed("provider_unavailable", "统一身份认证服务暂不可用，请稍后重试", 503) from exc
        if r.status_code != 200 or not isinstance(data, dict):
            log.info("sso_token_refused", status_code=r.status_code, error=str(data.get("error", ""))[:80])
            raise SsoFailed("code_refused", "统一身份认证拒绝了本次登录（授权码无效或已使用），请重新登录")
        return data

    async def _verify(self, id_token: str, nonce: str) -> dict[str, Any]:
        s = self._settings
        try:
            key = await self._signing_key(id_token)
            claims: dict[str, Any] = jwt.decode(
                id_token,
                key,
                algorithms=s.oidc_algorithms,
                audience=s.oidc_client_id,
                issuer=s.oidc_issuer,
                leeway=s.oidc_leeway_s,
                options={"require": ["exp", "iat", "iss", "aud", "nonce", s.oidc_subject_claim]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise SsoFailed("token_expired", "身份凭证已过期，请重新登录") from exc
        except (jwt.PyJWTError, httpx.HTTPError, ValueError) as exc:
            log.info("sso_id_token_refused", error=str(exc))
            raise SsoFailed("invalid_id_token", "统一身份认证返回的凭证无效（签名、签发方或受众不符）") from exc
        if not hmac.compare_digest(str(claims.get("nonce")).encode(), nonce.encode()):
            raise SsoFailed("nonce_mismatch", "身份凭证与本次登录不符（nonce 校验失败），请重新登录")
        return claims


def single_sign_on(request: Request) -> SingleSignOn | None:
    return getattr(request.app.state, "page_sso", None)


def _failed(request: Request, exc: SsoFailed) -> Response:
    store = sessions(request)
    session = store.anonymous()
    request.state.refusal = f"sso_failed: {exc.code}"
    log.info("sso_refused", code=exc.code, status_code=exc.status_code)
    response = page(
        request, "login.html", None, exc.status_code, csrf=session.csrf, next="", error=exc.reason, sso=True
    )
    store.write(response, session)
    response.delete_cookie(FLOW_COOKIE, path=FLOW_PATH)
    return response


@router.get("/login/sso", response_class=RedirectResponse)
async def sso_start(request: Request, next: str | None = None) -> Response:
    sso = single_sign_on(request)
    if sso is None:
        raise Refusal(404, "sso_not_configured", "未配置统一身份认证")
    try:
        return await sso.start(request, local_target(next))
    except SsoFailed as exc:
        return _failed(request, exc)


@router.get("/login/sso/callback", response_class=RedirectResponse, name="sso_callback")
async def sso_callback(request: Request) -> Response:
    sso = single_sign_on(request)
    if sso is None:
        raise Refusal(404, "sso_not_configured", "未配置统一身份认证")
    try:
        identity, target = await sso.finish(request)
    except SsoFailed as exc:
        return _failed(request, exc)
    except Refusal as exc:  # claims without a role, window or department
        return _failed(request, SsoFailed(exc.code, exc.detail, exc.status_code))
    store = sessions(request)
    request.state.identity = identity
    log.info("page_login", subject=identity.subject, role=identity.role.value, method="oidc")
    done = RedirectResponse(target or home_of(identity), status_code=303)
    store.write(done, store.signed_in(identity.subject, identity))
    done.delete_cookie(FLOW_COOKIE, path=FLOW_PATH)
    return done
