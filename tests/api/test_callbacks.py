"""Department callbacks are signed: accepted once, refused unsigned, wrongly signed, stale or replayed."""

from __future__ import annotations

import json
import time

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from runtime.settings import Settings
from runtime.signing import sign
from tests.api.test_access import APP_ID, FakeTemporal

BODY = json.dumps({"ticket": "T-1", "application_id": APP_ID, "status": "completed", "result": {"x": 1}}).encode()


@pytest.fixture
def api(tmp_path):
    fake = FakeTemporal()
    with TestClient(create_app(Settings(database_url=f"sqlite:///{tmp_path / 'k.sqlite3'}"), client=fake)) as http:
        yield http, fake


def post(http, body: bytes, *, secret="tax-callback-dev-secret", ts: int | None = None, ts_offset=0, signature=None):
    ts = int(time.time()) + ts_offset if ts is None else ts  # the offset taken when the test runs
    headers = {"Content-Type": "application/json", "X-Kaiban-Timestamp": str(ts)}
    headers["X-Kaiban-Signature"] = signature or sign(secret, ts, body)
    return http.post("/api/v1/departments/tax/callbacks", content=body, headers=headers)


def test_a_signed_callback_is_accepted_once_and_its_replay_refused(api):
    http, fake = api
    first = post(http, BODY)
    assert first.status_code == 200, first.text
    assert [name for name, _ in fake.updates] == ["department_callback"]
    replay = http.post(
        "/api/v1/departments/tax/callbacks",
        content=BODY,
        headers={k: first.request.headers[k] for k in ("content-type", "x-kaiban-timestamp", "x-kaiban-signature")},
    )
    assert (replay.status_code, replay.json()["code"]) == (401, "replayed_signature")
    assert len(fake.updates) == 1  # the replay changed nothing


@pytest.mark.parametrize(
    ("case", "kwargs"),
    [
        ("wrong secret", {"secret": "nhsa-callback-dev-secret"}),
        ("stale", {"ts_offset": -301}),
        ("from the future", {"ts_offset": 600}),  # not 301: a loaded machine may take a second to answer
        ("not a signature", {"signature": "sha256=00"}),
    ],
)
def test_a_badly_signed_callback_is_401_and_changes_nothing(api, case, kwargs):
    http, fake = api
    r = post(http, BODY, **kwargs)
    assert (r.status_code, r.json()["code"]) == (401, "bad_signature"), case
    assert r.headers["www-authenticate"].startswith("Bearer")
    assert fake.updates == []


def test_an_unsigned_callback_is_401_even_with_the_departments_token(api):
    http, fake = api
    r = http.post(
        "/api/v1/departments/tax/callbacks",
        content=BODY,
        headers={"Content-Type": "application/json", "Authorization": "Bearer dept-tax-dev-token"},
    )
    assert r.status_code == 401 and fake.updates == []


def test_a_tampered_body_is_refused(api):
    http, fake = api
    ts = int(time.time())
    r = post(http, BODY.replace(b'"x": 1', b'"x": 2'), signature=sign("tax-callback-dev-secret", ts, BODY), ts=ts)
    assert r.status_code == 401 and fake.updates == []


def test_an_unsigned_callback_is_401_before_its_body_is_looked_at(api):
    http, fake = api
    r = http.post("/api/v1/departments/tax/callbacks", json={})
    assert (r.status_code, r.json()["code"]) == (401, "bad_signature") and fake.updates == []
