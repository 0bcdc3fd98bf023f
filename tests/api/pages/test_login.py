"""Signing in to the pages: dev users, session cookie, CSRF, roles taken home, production refusals."""

from __future__ import annotations

import json
import re

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.app import create_app
from api.pages import install_pages
from api.pages.session import COOKIE, Sessions
from runtime.people import DEV_PASSWORD, password_hasher
from runtime.settings import Settings

HOMES = {
    "clerk": "/applications",
    "clerk-b": "/applications",
    "supervisor": "/board",
    "admin": "/board",
    "dept-tax": "/departments/tax/inbox",
    "dept-amr": "/departments/amr/inbox",
}


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(data_dir=tmp_path, temporal_address="127.0.0.1:1", database_url=f"sqlite:///{tmp_path}/k.sqlite3")


@pytest.fixture
def client(settings):
    with TestClient(create_app(settings), follow_redirects=False) as c:
        yield c


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def sign_in(client: TestClient, username: str, password: str = DEV_PASSWORD, **extra):
    token = csrf_of(client.get("/login").text)
    return client.post("/login", data={"username": username, "password": password, "csrf_token": token, **extra})


def test_the_login_page_is_labelled_and_under_a_strict_policy(client):
    r = client.get("/login")
    assert r.status_code == 200
    assert '<label for="username">用户名</label>' in r.text and '<label for="password">密码</label>' in r.text
    assert ">登录</button>" in r.text
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert r.headers["x-frame-options"] == "DENY" and r.headers["cache-control"] == "no-store"
    assert "<script>" not in r.text  # no inline script: every script is a file of /static


@pytest.mark.parametrize(("username", "home"), sorted(HOMES.items()))
def test_each_development_user_signs_in_and_is_taken_to_their_page(client, username, home):
    r = sign_in(client, username)
    assert r.status_code == 303 and r.headers["location"] == home
    cookie = r.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}=") and "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert "Secure" not in cookie  # development runs on http://127.0.0.1
    assert client.get("/").headers["location"] == home


def test_a_wrong_password_or_unknown_user_is_refused_without_saying_which(client):
    for username, password in (("clerk", "wrong"), ("nobody", DEV_PASSWORD)):
        r = sign_in(client, username, password)
        assert r.status_code == 401 and "用户名或密码不正确" in r.text
        assert client.get("/").headers["location"] == "/login"


def test_a_login_without_the_forms_csrf_token_is_refused(client):
    client.get("/login")
    r = client.post("/login", data={"username": "clerk", "password": DEV_PASSWORD, "csrf_token": "forged"})
    assert r.status_code == 403 and "页面已过期" in r.text
    assert client.get("/").headers["location"] == "/login"


def test_a_tampered_cookie_is_no_session(client):
    sign_in(client, "clerk")
    value = client.cookies.get(COOKIE)
    client.cookies.set(COOKIE, value[:-3] + ("AAA" if not value.endswith("AAA") else "BBB"))
    assert client.get("/").headers["location"] == "/login"


def test_next_leads_back_within_kaiban_only(client):
    assert sign_in(client, "clerk", next="/applications/new").headers["location"] == "/applications/new"
    assert sign_in(client, "clerk", next="//evil.example/x").headers["location"] == "/applications"


def test_logout_needs_the_csrf_token_and_ends_the_session(client):
    sign_in(client, "supervisor")
    assert client.post("/logout", data={"csrf_token": "forged"}).headers["location"] == "/board"
    assert client.get("/").headers["location"] == "/board"
    token = Sessions(client.app.state.settings).read_value(client.cookies.get(COOKIE)).csrf
    r = client.post("/logout", data={"csrf_token": token})
    assert r.headers["location"] == "/login" and "Max-Age=0" in r.headers["set-cookie"]
    assert client.get("/").headers["location"] == "/login"


def test_production_refuses_the_development_users_and_secures_the_cookie(settings, tmp_path):
    users = tmp_path / "users.json"
    identity = {"subject": "clerk-0031", "role": "clerk", "window_id": "TY-XD-01", "name": "窗口 0031"}
    users.write_text(
        json.dumps([{"username": "wang", "password_hash": password_hasher().hash("s3cret-pass"), "identity": identity}])
    )
    prod = settings.model_copy(update={"environment": "production", "users_file": users, "session_secret": "x" * 40})
    sessions = Sessions(prod)
    assert sessions.check_password("clerk", DEV_PASSWORD) is None  # no development users in production
    found = sessions.check_password("wang", "s3cret-pass")
    assert found is not None and found.subject == "clerk-0031"
    assert sessions.check_password("wang", DEV_PASSWORD) is None
    from fastapi import Response

    response = Response()
    sessions.write(response, sessions.signed_in("wang", found))
    assert "Secure" in response.headers["set-cookie"]
    assert prod.people_problems() == []


def test_production_refuses_to_start_with_development_defaults(settings, tmp_path):
    prod = settings.model_copy(update={"environment": "production"})
    with pytest.raises(RuntimeError, match="session secret"):
        install_pages(FastAPI(), prod)
    users = tmp_path / "users.yaml"
    users.write_text(
        json.dumps(
            [
                {
                    "username": "x",
                    "password_hash": password_hasher().hash(DEV_PASSWORD),
                    "identity": {"subject": "s", "role": "admin"},
                }
            ]
        )
    )
    prod = prod.model_copy(update={"session_secret": "y" * 40, "users_file": users})
    with pytest.raises(RuntimeError, match="development password"):
        install_pages(FastAPI(), prod)
