"""Intake through the HTTP API: field-level Chinese errors, what is started, Temporal down."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from runtime.access import DEV_CLERKS
from runtime.settings import Settings
from workflows.models import ApplicationInput

CLERK = {"Authorization": f"Bearer {DEV_CLERKS['TY-XD-01']}"}  # the sample's window


class RecordingClient:
    """Stands in for the Temporal client: records the workflows the API starts."""

    def __init__(self) -> None:
        self.started: list[tuple[ApplicationInput, dict]] = []

    async def start_workflow(self, _run, inp, **kwargs):
        self.started.append((inp, kwargs))


@pytest.fixture
def recording():
    client = RecordingClient()
    with TestClient(create_app(Settings(), client=client), headers=CLERK) as http:
        yield http, client


def change_check_digit(id_number: str) -> str:
    last = id_number[-1]
    return id_number[:-1] + ("0" if last != "0" else "1")


def test_valid_sample_is_accepted_and_started(recording, sample_json):
    http, client = recording
    r = http.post("/api/v1/applications", json=sample_json)
    assert r.status_code == 202, r.text
    body = r.json()
    assert body["application_id"].startswith("KB")
    inp, kwargs = client.started[0]
    assert kwargs["id"] == body["application_id"] == inp.application_id
    assert [d.code for d in inp.departments] == ["amr", "psb_seal", "tax", "hrss", "nhsa", "hpf", "bank"]
    assert inp.application.company.name == sample_json["company"]["name"]


def test_shareholder_with_a_wrong_check_digit_is_422_naming_the_field(recording, sample_json):
    http, client = recording
    sample_json["shareholders"][0]["id_number"] = change_check_digit(sample_json["shareholders"][0]["id_number"])
    r = http.post("/api/v1/applications", json=sample_json)
    assert r.status_code == 422
    body = r.json()
    assert "需要修改" in body["detail"]
    fields = {e["field"]: e["message"] for e in body["errors"]}
    assert "shareholders.0.id_number" in fields, body
    assert "身份证" in fields["shareholders.0.id_number"]
    assert not client.started


def test_missing_and_mistyped_fields_are_explained_in_chinese(recording, sample_json):
    http, _ = recording
    del sample_json["company"]["name"]
    sample_json["company"]["registered_capital_wan_yuan"] = "一百"
    r = http.post("/api/v1/applications", json=sample_json)
    assert r.status_code == 422
    fields = {e["field"]: e["message"] for e in r.json()["errors"]}
    assert "company.name" in fields and "company.registered_capital_wan_yuan" in fields
    for message in fields.values():
        assert any("\u4e00" <= ch <= "\u9fff" for ch in message), message


def test_idempotency_key_gives_the_same_application(recording, sample_json):
    http, client = recording
    a = http.post("/api/v1/applications", json=sample_json, headers={"Idempotency-Key": "clerk-7-42"}).json()
    b = http.post("/api/v1/applications", json=sample_json, headers={"Idempotency-Key": "clerk-7-42"}).json()
    c = http.post("/api/v1/applications", json=sample_json).json()
    assert a["application_id"] == b["application_id"] != c["application_id"]
    assert client.started[0][1]["id_conflict_policy"] == client.started[1][1]["id_conflict_policy"]


def test_temporal_down_is_503_in_chinese(sample_json):
    settings = Settings(temporal_address="127.0.0.1:1")
    with TestClient(create_app(settings), headers=CLERK) as http:
        r = http.post("/api/v1/applications", json=sample_json)
        assert r.status_code == 503
        assert "暂不可用" in r.json()["detail"]
        health = http.get("/healthz").json()
        assert health == {"status": "degraded", "temporal": "unavailable"}
