"""The pages' material routes refuse what the API refuses: no CSRF token, a person who is not a window
clerk, a review without a decision (no Temporal, no OCR needed: refused before either)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.pages.materials import field_label
from api.pages.session import COOKIE, Sessions
from runtime.settings import Settings
from tests.api.pages.test_login import sign_in

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64


@pytest.fixture
def client(tmp_path):
    settings = Settings(
        data_dir=tmp_path, temporal_address="127.0.0.1:1", database_url=f"sqlite:///{tmp_path}/k.sqlite3"
    )
    with TestClient(create_app(settings), follow_redirects=False) as c:
        yield c


def _page_csrf(client) -> str:
    """The signed-in session's CSRF token (what every page's meta tag carries)."""
    session = Sessions(client.app.state.settings).read_value(client.cookies.get(COOKIE))
    return session.csrf


def test_an_upload_without_the_sessions_csrf_token_is_refused(client):
    sign_in(client, "clerk")
    r = client.post("/applications/materials", files={"file": ("a.png", PNG)}, data={"kind": "id_card"})
    assert r.status_code == 403 and "csrf_failed" in r.text


def test_only_a_window_clerk_uploads_or_reviews(client):
    sign_in(client, "supervisor")
    token = _page_csrf(client)
    r = client.post(
        "/applications/materials",
        files={"file": ("a.png", PNG)},
        data={"kind": "id_card"},
        headers={"x-csrf-token": token, "accept": "application/json"},
    )
    assert r.status_code == 403 and r.json()["code"] == "not_a_clerk"
    r = client.post(
        "/applications/KB20261202-0000000001/materials/MT0123456789ABCDEF0123/review",
        data={"csrf_token": token, "field": "legal_representative.name", "decision": "form_correct"},
    )
    assert r.status_code == 403 and "一表申请由受理窗口的工作人员填写" in r.text


def test_a_review_without_a_decision_is_refused_before_anything_is_recorded(client):
    sign_in(client, "clerk")
    r = client.post(
        "/applications/KB20261202-0000000001/materials/MT0123456789ABCDEF0123/review",
        data={"csrf_token": _page_csrf(client), "field": "legal_representative.name"},
    )
    assert r.status_code == 422 and "请选择确认结果" in r.text


def test_findings_name_their_fields_in_peoples_words():
    assert field_label("legal_representative.id_number") == "法定代表人 · 身份证号码"
    assert field_label("shareholders.1.uscc") == "第 2 位股东 · 统一社会信用代码"
    assert field_label("company.address.detail") == "企业 · 住所"
