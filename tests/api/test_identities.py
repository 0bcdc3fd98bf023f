"""Identities: the province's OIDC JWTs verified against its JWKS, and production refusing development defaults."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient
from pydantic import ValidationError

from api.app import create_app
from runtime.access import DEV_TOKENS, TokenEntry, token_hash
from runtime.settings import DEV_PAYLOAD_KEY, Settings
from tests.api.test_access import APP_ID, FakeTemporal
from tests.support.applications import store_with_application

ISSUER, AUDIENCE = "https://idp.example.gov.cn/realms/shanxi", "kaiban"
PROD_KEY = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="  # base64 of 32 bytes, not the development key


@pytest.fixture(scope="module")
def provider():
    """A signing key and its JWKS served on a loopback port, as the province's identity provider would."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    jwk.update(kid="k1", use="sig", alg="RS256")
    body = json.dumps({"keys": [jwk]}).encode()

    class Jwks(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Jwks)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield key, f"http://127.0.0.1:{server.server_address[1]}/jwks.json"
    server.shutdown()


def token(key, **claims) -> str:
    base = {"iss": ISSUER, "aud": AUDIENCE, "sub": "u-1", "exp": int(time.time()) + 300}
    return jwt.encode({**base, **claims}, key, algorithm="RS256", headers={"kid": "k1"})


@pytest.fixture
def api(provider, tmp_path):
    _, jwks_url = provider
    url = store_with_application(tmp_path)
    settings = Settings(
        database_url=url,
        oidc_issuer=ISSUER,
        oidc_audience=AUDIENCE,
        oidc_jwks_url=jwks_url,
    )
    with TestClient(create_app(settings, client=FakeTemporal())) as http:
        yield http


def deadlines(http, bearer: str):
    return http.get(
        "/api/v1/deadlines",
        params={"submitted_at": "2026-11-30T10:00:00+08:00"},
        headers={"Authorization": f"Bearer {bearer}"},
    )


def test_a_provider_jwt_carries_role_and_window(api, provider):
    key, _ = provider
    clerk = token(key, sub="zhang.san", kaiban_role="clerk", kaiban_window_id="TY-XD-01")
    assert deadlines(api, clerk).status_code == 200
    supervisor = token(key, sub="li.si", kaiban_role="supervisor", kaiban_windows=["TY-XD-02"])
    board = api.get("/api/v1/supervision/board", headers={"Authorization": f"Bearer {supervisor}"})
    assert board.status_code == 200, board.text


@pytest.mark.parametrize(
    ("case", "claims", "code"),
    [
        ("expired", {"exp": int(time.time()) - 3600}, "token_expired"),
        ("another audience", {"aud": "someone-else"}, "invalid_token"),
        ("another issuer", {"iss": "https://evil.example"}, "invalid_token"),
    ],
)
def test_a_jwt_that_does_not_hold_is_401(api, provider, case, claims, code):
    key, _ = provider
    r = deadlines(api, token(key, kaiban_role="clerk", kaiban_window_id="TY-XD-01", **claims))
    assert (r.status_code, r.json()["code"]) == (401, code), case


def test_a_jwt_signed_by_another_key_is_401(api):
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    r = deadlines(api, token(other, kaiban_role="clerk", kaiban_window_id="TY-XD-01"))
    assert (r.status_code, r.json()["code"]) == (401, "invalid_token")


def test_a_jwt_without_a_known_role_is_403(api, provider):
    key, _ = provider
    r = deadlines(api, token(key, kaiban_role="janitor"))
    assert (r.status_code, r.json()["code"]) == (403, "no_role")
    r = deadlines(api, token(key, kaiban_role="clerk"))  # a clerk without a window
    assert (r.status_code, r.json()["code"]) == (403, "no_role")


def test_a_jwt_clerk_of_another_window_gets_404(api, provider, tmp_path):
    key, _ = provider
    stranger = token(key, sub="wang.wu", kaiban_role="clerk", kaiban_window_id="TY-XD-02")
    r = api.get(f"/api/v1/applications/{APP_ID}", headers={"Authorization": f"Bearer {stranger}"})
    assert r.status_code == 404


# -- production refuses every development default, each on its own ---------------------------------


def production(monkeypatch, tmp_path, **overrides) -> Settings:
    """A production configuration with everything set properly, then ``overrides`` applied."""
    for ref in ("amr", "psb_seal", "tax", "hrss", "nhsa", "hpf", "bank"):
        monkeypatch.setenv(f"KAIBAN_CRED_{ref.upper()}_USERNAME", f"svc-{ref}")
        monkeypatch.setenv(f"KAIBAN_CRED_{ref.upper()}_PASSWORD", f"{ref}-a-long-real-password-0123456789")
    real_token = TokenEntry(
        sha256=token_hash("a-real-random-token-" + "x" * 40), identity=DEV_TOKENS["clerk-dev-token"].identity
    )
    values = dict(
        environment="production",
        payload_key=PROD_KEY,
        database_url=f"sqlite:///{tmp_path / 'k.sqlite3'}",
        api_tokens=[real_token],
        callback_secrets={c: f"{c}-a-long-real-callback-secret-0123456789" for c in ("tax", "nhsa", "bank")},
    )
    values.update(overrides)
    return Settings(**values)


def test_a_proper_production_configuration_starts(monkeypatch, tmp_path):
    settings = production(monkeypatch, tmp_path)
    assert settings.production_problems() == []
    settings.refuse_unsafe_production()


def refused(settings: Settings, match: str) -> None:
    with pytest.raises(RuntimeError, match=match):
        settings.refuse_unsafe_production()
    with pytest.raises(RuntimeError, match=match):  # the API refuses to start
        create_app(settings, client=FakeTemporal())


def test_production_refuses_the_development_payload_key(monkeypatch, tmp_path):
    with pytest.raises(ValidationError, match="KAIBAN_PAYLOAD_KEY must be set in production"):
        production(monkeypatch, tmp_path, payload_key=DEV_PAYLOAD_KEY)


def test_production_refuses_a_development_token(monkeypatch, tmp_path):
    dev = DEV_TOKENS["supervisor-dev-token"]
    settings = production(monkeypatch, tmp_path)
    settings.api_tokens.append(dev)
    refused(settings, "development API token")


def test_production_refuses_a_development_token_in_the_token_file(monkeypatch, tmp_path):
    path = tmp_path / "tokens.json"
    path.write_text(json.dumps([DEV_TOKENS["admin-dev-token"].model_dump(mode="json")]), encoding="utf-8")
    refused(production(monkeypatch, tmp_path, api_tokens=[], api_tokens_file=path), "development API token")


def test_production_refuses_to_run_without_any_identity_source(monkeypatch, tmp_path):
    refused(production(monkeypatch, tmp_path, api_tokens=[]), "nobody could sign in")


def test_production_refuses_a_missing_department_password(monkeypatch, tmp_path):
    settings = production(monkeypatch, tmp_path)
    monkeypatch.delenv("KAIBAN_CRED_HPF_PASSWORD")
    refused(settings, "no credentials configured for department account 'hpf'")


def test_production_refuses_a_development_department_password(monkeypatch, tmp_path):
    settings = production(monkeypatch, tmp_path)
    monkeypatch.setenv("KAIBAN_CRED_AMR_PASSWORD", "amr-dev-secret")
    refused(settings, "'amr' has its development password")


def test_production_refuses_a_missing_callback_secret(monkeypatch, tmp_path):
    secrets = {c: f"{c}-a-long-real-callback-secret-0123456789" for c in ("tax", "nhsa")}
    refused(
        production(monkeypatch, tmp_path, callback_secrets=secrets),
        "no callback secret configured for department 'bank'",
    )


def test_production_refuses_a_development_callback_secret(monkeypatch, tmp_path):
    secrets = {"tax": "tax-callback-dev-secret", "nhsa": "n" * 40, "bank": "b" * 40}
    refused(production(monkeypatch, tmp_path, callback_secrets=secrets), "'tax' has its development callback secret")


def test_the_worker_refuses_too(monkeypatch, tmp_path):
    from cli.worker import check_settings

    settings = production(monkeypatch, tmp_path)
    settings.api_tokens.append(DEV_TOKENS["clerk-dev-token"])
    with pytest.raises(RuntimeError, match="development API token"):
        check_settings(settings)
