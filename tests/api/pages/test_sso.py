"""Single sign-on of the pages (api.pages.sso) against a small OIDC provider inside the test
(tests/support/oidc_provider.py, reached through httpx.ASGITransport: no socket): the authorization-code
flow with PKCE, state and nonce; roles and windows from the claims as the API reads them; each way the
flow must refuse."""

from __future__ import annotations

import base64
import hashlib
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.pages.session import COOKIE, Sessions
from api.pages.sso import FLOW_COOKIE, SingleSignOn
from domain.access import Role
from runtime.settings import Settings
from tests.support.oidc_provider import Provider, new_key

ISSUER = "http://idp.test"
CLERK = {"sub": "zhang.clerk", "name": "张窗口", "kaiban_role": "clerk", "kaiban_window_id": "TY-XD-02"}
SUPERVISOR = {"sub": "li.sup", "kaiban_role": "supervisor"}


@pytest.fixture
def provider() -> Provider:
    return Provider(issuer=ISSUER, claims=dict(CLERK))


def sso_settings(tmp_path, **extra) -> Settings:
    return Settings(
        data_dir=tmp_path,
        temporal_address="127.0.0.1:1",
        database_url=f"sqlite:///{tmp_path}/k.sqlite3",
        oidc_issuer=ISSUER,
        oidc_audience="kaiban-api",
        oidc_jwks_url=f"{ISSUER}/jwks",
        oidc_client_id="kaiban-pages",
        **extra,
    )


@pytest.fixture
def settings(tmp_path) -> Settings:
    return sso_settings(tmp_path)


@pytest.fixture
def client(settings, provider):
    app = create_app(settings)
    app.state.page_sso = SingleSignOn(settings, transport=httpx.ASGITransport(provider.app()))
    with TestClient(app, follow_redirects=False) as c:
        yield c


@pytest.fixture
def idp(provider):
    """The browser's side of the provider: follows /authorize back to kaiban's callback."""
    with TestClient(provider.app(), base_url=ISSUER, follow_redirects=False) as c:
        yield c


def to_provider(client: TestClient, path: str = "/login/sso") -> httpx.Response:
    r = client.get(path)
    assert r.status_code == 303 and r.headers["location"].startswith(f"{ISSUER}/authorize?"), r.text
    return r


def through(idp: TestClient, location: str) -> str:
    """What the provider redirects the browser to: kaiban's callback, as a path with its query."""
    r = idp.get(location)
    assert r.status_code == 303, r.text
    back = urlsplit(r.headers["location"])
    assert back.netloc == "testserver" and back.path == "/login/sso/callback"
    return f"{back.path}?{back.query}"


def signed_in(client: TestClient, settings: Settings):
    session = Sessions(settings).read_value(client.cookies.get(COOKIE))
    return session.identity if session else None


def test_login_offers_single_sign_on_only_when_configured(client, tmp_path):
    r = client.get("/login")
    assert r.status_code == 200 and ">统一身份认证登录</a>" in r.text and 'href="/login/sso"' in r.text
    assert "unsafe-inline" not in r.headers["content-security-policy"]
    plain = Settings(data_dir=tmp_path, temporal_address="127.0.0.1:1", database_url=f"sqlite:///{tmp_path}/p.sqlite3")
    with TestClient(create_app(plain), follow_redirects=False) as c:
        assert "统一身份认证" not in c.get("/login").text
        assert c.get("/login/sso").status_code == 404


def test_a_clerk_signs_in_through_the_provider_with_pkce_state_and_nonce(client, idp, provider, settings):
    r = to_provider(client)
    q = {k: v[0] for k, v in parse_qs(urlsplit(r.headers["location"]).query).items()}
    assert q["response_type"] == "code" and q["client_id"] == "kaiban-pages" and q["scope"] == "openid profile"
    assert q["code_challenge_method"] == "S256" and len(q["state"]) >= 32 and len(q["nonce"]) >= 32
    assert q["redirect_uri"] == "http://testserver/login/sso/callback"
    flow = r.headers["set-cookie"]
    assert flow.startswith(f"{FLOW_COOKIE}=") and "HttpOnly" in flow and "Path=/login/sso" in flow
    assert q["state"] not in flow and q["nonce"] not in flow  # signed, and the verifier never leaves kaiban

    done = client.get(through(idp, r.headers["location"]))
    assert done.status_code == 303 and done.headers["location"] == "/applications"
    [token] = provider.token_requests
    challenge = base64.urlsafe_b64encode(hashlib.sha256(token["code_verifier"].encode()).digest()).rstrip(b"=")
    assert challenge.decode() == q["code_challenge"] and 43 <= len(token["code_verifier"]) <= 128
    identity = signed_in(client, settings)
    assert identity.role is Role.CLERK and identity.window_id == "TY-XD-02" and identity.subject == "zhang.clerk"
    assert identity.name == "张窗口"
    assert client.get("/").headers["location"] == "/applications"
    assert FLOW_COOKIE not in client.cookies  # used once


def test_a_supervisor_is_taken_where_they_were_going_and_never_off_site(client, idp, provider):
    provider.claims = dict(SUPERVISOR)
    r = to_provider(client, "/login/sso?next=/board%3Fdepartment%3Damr")
    assert client.get(through(idp, r.headers["location"])).headers["location"] == "/board?department=amr"
    r = to_provider(client, "/login/sso?next=//evil.example/board")
    assert client.get(through(idp, r.headers["location"])).headers["location"] == "/board"


def test_a_callback_with_another_state_is_refused(client, idp, settings):
    callback = through(idp, to_provider(client).headers["location"])
    forged = callback.replace("state=", "state=x")
    r = client.get(forged)
    assert r.status_code == 401 and "state 校验失败" in r.text and signed_in(client, settings) is None


def test_a_callback_in_a_browser_that_did_not_start_the_flow_is_refused(client, idp, settings):
    callback = through(idp, to_provider(client).headers["location"])
    client.cookies.delete(FLOW_COOKIE, path="/login/sso")
    r = client.get(callback)
    assert r.status_code == 401 and "重新登录" in r.text and signed_in(client, settings) is None


def test_an_id_token_with_another_nonce_is_refused(client, idp, provider, settings):
    provider.tamper = {"nonce": "replayed-from-another-login"}
    r = client.get(through(idp, to_provider(client).headers["location"]))
    assert r.status_code == 401 and "nonce 校验失败" in r.text and signed_in(client, settings) is None


@pytest.mark.parametrize(
    "bend",
    [
        {"sign_with": "other key"},
        {"tamper": {"aud": "kaiban-api"}},  # a token for the API, not for this client
        {"tamper": {"iss": "http://other-idp.test"}},
    ],
    ids=["signature", "audience", "issuer"],
)
def test_an_id_token_not_meant_for_these_pages_is_refused(client, idp, provider, settings, bend):
    if "sign_with" in bend:
        provider.sign_with = new_key()
    else:
        provider.tamper = bend["tamper"]
    r = client.get(through(idp, to_provider(client).headers["location"]))
    assert r.status_code == 401 and "凭证无效" in r.text and signed_in(client, settings) is None


def test_a_code_is_exchanged_once(client, idp, settings):
    callback = through(idp, to_provider(client).headers["location"])
    first = client.get(callback)
    assert first.status_code == 303
    client.cookies.delete(COOKIE)
    # the same code again (a stolen redirect): the provider refuses it; the flow cookie is gone too
    r = client.get(callback)
    assert r.status_code == 401 and signed_in(client, settings) is None


def test_claims_without_a_role_sign_no_one_in(client, idp, provider, settings):
    provider.claims = {"sub": "wang.nobody", "name": "王某"}
    r = client.get(through(idp, to_provider(client).headers["location"]))
    assert r.status_code == 403 and "未载明有效的角色" in r.text and signed_in(client, settings) is None


def test_a_confidential_client_authenticates_at_the_token_endpoint(tmp_path, provider, idp):
    provider.client_secret = "s3cret-of-the-client"
    for secret, status in (("s3cret-of-the-client", 303), ("wrong", 401)):
        settings = sso_settings(tmp_path, oidc_client_secret=secret)
        app = create_app(settings)
        app.state.page_sso = SingleSignOn(settings, transport=httpx.ASGITransport(provider.app()))
        with TestClient(app, follow_redirects=False) as c:
            r = c.get(through(idp, to_provider(c).headers["location"]))
            assert r.status_code == status, r.text


def test_the_provider_down_leaves_the_password_login(tmp_path):
    settings = sso_settings(tmp_path)
    app = create_app(settings)

    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    app.state.page_sso = SingleSignOn(settings, transport=httpx.MockTransport(down))
    with TestClient(app, follow_redirects=False) as c:
        r = c.get("/login/sso")
        assert r.status_code == 503 and "统一身份认证服务暂不可用" in r.text and 'name="password"' in r.text
