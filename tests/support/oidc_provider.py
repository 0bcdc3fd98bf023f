"""A small OIDC provider for tests: discovery, JWKS, an authorization endpoint that signs in whoever the
test says (as if the person were already signed in at the province) and a token endpoint that checks the
code, the client, the redirect URI and the PKCE verifier (S256) before it answers an RS256 ID token.

It is an ASGI app: served on loopback (``tests.support.servers.serve_app``) for a browser, or reached
through ``httpx.ASGITransport`` by the relying party with no socket at all. What a test may bend:
``claims`` (who signs in), ``tamper`` (claims overriding the ID token's, e.g. another nonce),
``sign_with`` (another key than the published one), ``client_secret`` (a confidential client).
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response


def new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@dataclass
class Grant:
    client_id: str
    redirect_uri: str
    challenge: str
    nonce: str | None
    claims: dict[str, Any]
    used: bool = False


@dataclass
class Provider:
    issuer: str
    client_id: str = "kaiban-pages"
    client_secret: str | None = None
    redirect_uris: tuple[str, ...] = ()  # empty: any
    claims: dict[str, Any] = field(default_factory=dict)
    tamper: dict[str, Any] = field(default_factory=dict)
    key: rsa.RSAPrivateKey = field(default_factory=new_key)
    kid: str = "test-key-1"
    sign_with: rsa.RSAPrivateKey | None = None
    authorize_requests: list[dict[str, str]] = field(default_factory=list)
    token_requests: list[dict[str, str]] = field(default_factory=list)
    grants: dict[str, Grant] = field(default_factory=dict)

    def jwks(self) -> dict[str, Any]:
        public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
        return {"keys": [{**public, "kid": self.kid, "use": "sig", "alg": "RS256"}]}

    def id_token(self, grant: Grant) -> str:
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "aud": grant.client_id,
            "iat": now,
            "exp": now + 300,
            **({"nonce": grant.nonce} if grant.nonce else {}),
            **grant.claims,
            **self.tamper,
        }
        return jwt.encode(claims, self.sign_with or self.key, algorithm="RS256", headers={"kid": self.kid})

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.get("/.well-known/openid-configuration")
        async def discovery() -> dict[str, Any]:
            return {
                "issuer": self.issuer,
                "authorization_endpoint": f"{self.issuer}/authorize",
                "token_endpoint": f"{self.issuer}/token",
                "jwks_uri": f"{self.issuer}/jwks",
                "response_types_supported": ["code"],
                "code_challenge_methods_supported": ["S256"],
                "id_token_signing_alg_values_supported": ["RS256"],
            }

        @app.get("/jwks")
        async def keys() -> dict[str, Any]:
            return self.jwks()

        @app.get("/authorize", response_model=None)
        async def authorize(request: Request) -> Response:
            q = dict(request.query_params)
            self.authorize_requests.append(q)
            bad = (
                q.get("response_type") != "code"
                or q.get("client_id") != self.client_id
                or q.get("code_challenge_method") != "S256"
                or not q.get("code_challenge")
                or (self.redirect_uris and q.get("redirect_uri") not in self.redirect_uris)
            )
            if bad:
                return JSONResponse({"error": "invalid_request"}, status_code=400)
            code = secrets.token_urlsafe(16)
            self.grants[code] = Grant(
                q["client_id"], q["redirect_uri"], q["code_challenge"], q.get("nonce"), dict(self.claims)
            )
            back = {"code": code, **({"state": q["state"]} if "state" in q else {})}
            return RedirectResponse(f"{q['redirect_uri']}?{urlencode(back)}", status_code=303)

        @app.post("/token")
        async def token(request: Request) -> JSONResponse:
            form = {k: str(v) for k, v in (await request.form()).items()}
            self.token_requests.append(form)
            if self.client_secret is not None:
                basic = base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
                if request.headers.get("authorization") != f"Basic {basic}":
                    return JSONResponse({"error": "invalid_client"}, status_code=401)
            grant = self.grants.get(form.get("code", ""))
            if grant is None or grant.used or form.get("grant_type") != "authorization_code":
                return JSONResponse({"error": "invalid_grant"}, status_code=400)
            grant.used = True
            verifier = form.get("code_verifier", "")
            challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
            if (
                challenge != grant.challenge
                or form.get("client_id") != grant.client_id
                or form.get("redirect_uri") != grant.redirect_uri
            ):
                return JSONResponse({"error": "invalid_grant"}, status_code=400)
            return JSONResponse(
                {
                    "access_token": secrets.token_urlsafe(24),
                    "token_type": "Bearer",
                    "expires_in": 300,
                    "id_token": self.id_token(grant),
                }
            )

        return app
