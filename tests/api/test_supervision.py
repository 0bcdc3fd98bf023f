"""Supervision endpoints over kaiban's store (SQLite here; tests/store runs them on PostgreSQL too), filled by the test."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from runtime.access import DEV_SUPERVISOR
from runtime.settings import Settings
from store import Notice, Store

WEBHOOK = "webhook"

SHANGHAI = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 11, 30, 10, 0, tzinfo=SHANGHAI)
APP_A = "KB20261130-AAAAAAAAAA"
APP_B = "KB20261130-BBBBBBBBBB"


def note(key, *, app=APP_A, department="tax", level="warn", audience="department_supervisor", minutes=0, seq=1):
    fired = T0 + timedelta(minutes=minutes)
    return Notice(
        key=key,
        application_id=app,
        department=department,
        level=level,
        audience=audience,
        sequence=seq,
        due_at=T0 + timedelta(hours=3),
        planned_at=fired,
        fired_at=fired,
        window_id="W-07",
        message=f"{department or '整件申请'} 办理提醒（{level}）",
    )


@pytest.fixture
def filled(tmp_path):
    url = f"sqlite:///{tmp_path / 'kaiban.sqlite3'}"
    store = Store.open(url)
    sink = store.notices
    for n in (
        note("a-tax-remind", level="remind", audience="department_handler", minutes=0, seq=1),
        note("a-tax-warn", level="warn", audience="department_supervisor", minutes=10, seq=2),
        note("a-tax-breach", level="breach", audience="window_supervisor", minutes=20, seq=3),
        note("a-tax-re1", level="re_escalate", audience="leading_group_office", minutes=80, seq=4),
        note("b-hpf-warn", app=APP_B, department="hpf", level="warn", audience="department_supervisor", minutes=15),
        note("a-app-breach", department=None, level="breach", audience="window_supervisor", minutes=30),
    ):
        sink.record(n)
    sink.mark_failed(
        "a-tax-breach", WEBHOOK, "webhook for audience 'window_supervisor' answered HTTP 500", status_code=500
    )
    sink.mark_delivered("a-tax-breach", WEBHOOK, 200)
    sink.mark_failed("a-app-breach", WEBHOOK, "webhook for audience 'window_supervisor' timed out (ReadTimeout)")
    store.close()
    with TestClient(create_app(Settings(database_url=url), client=object()), headers=DEV_SUPERVISOR) as http:
        yield http


def keys(body):
    return [item["key"] for item in body["items"]]


def test_escalations_newest_first_with_delivery_state(filled):
    r = filled.get("/api/v1/supervision/escalations")
    assert r.status_code == 200, r.text
    body = r.json()
    assert keys(body) == ["a-tax-re1", "a-app-breach", "a-tax-breach", "b-hpf-warn", "a-tax-warn", "a-tax-remind"]
    assert body["count"] == 6
    items = {i["key"]: i for i in body["items"]}

    delivered = items["a-tax-breach"]
    assert delivered["delivery_status"] == "delivered"
    [d] = delivered["deliveries"]
    assert (d["channel"], d["status"], d["attempts"], d["last_status_code"]) == ("webhook", "delivered", 2, 200)
    assert "HTTP 500" in d["last_error"] and d["delivered_at"]

    failing = items["a-app-breach"]
    assert failing["delivery_status"] == "failed" and failing["department"] is None
    assert failing["deliveries"][0]["attempts"] == 1 and "timed out" in failing["deliveries"][0]["last_error"]
    assert failing["deliveries"][0]["delivered_at"] is None

    local = items["a-tax-warn"]
    assert local["delivery_status"] == "recorded" and local["deliveries"] == []
    assert local["message"] == "tax 办理提醒（warn）"
    assert datetime.fromisoformat(local["fired_at"]) == T0 + timedelta(minutes=10)
    assert local["recorded_at"]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"application_id": APP_B}, ["b-hpf-warn"]),
        ({"application_id": APP_A, "department": "tax"}, ["a-tax-re1", "a-tax-breach", "a-tax-warn", "a-tax-remind"]),
        ({"audience": "window_supervisor"}, ["a-app-breach", "a-tax-breach"]),
        ({"level": "warn"}, ["b-hpf-warn", "a-tax-warn"]),
        ({"level": "re_escalate"}, ["a-tax-re1"]),
        ({"department": "hpf", "level": "breach"}, []),
        ({"limit": 2}, ["a-tax-re1", "a-app-breach"]),
        ({"application_id": "KB-UNKNOWN"}, []),
    ],
)
def test_escalation_filters(filled, query, expected):
    r = filled.get("/api/v1/supervision/escalations", params=query)
    assert r.status_code == 200, r.text
    assert keys(r.json()) == expected
    assert r.json()["count"] == len(expected)


@pytest.mark.parametrize("limit", [0, 1001, "many"])
def test_limit_is_bounded(filled, limit):
    assert filled.get("/api/v1/supervision/escalations", params={"limit": limit}).status_code == 422


def test_notifications_inbox_for_one_audience(filled):
    r = filled.get("/api/v1/notifications", params={"audience": "department_supervisor"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["audience"] == "department_supervisor"
    assert keys(body) == ["b-hpf-warn", "a-tax-warn"]
    assert {i["audience"] for i in body["items"]} == {"department_supervisor"}

    r = filled.get("/api/v1/notifications", params={"audience": "department_supervisor", "department": "hpf"})
    assert keys(r.json()) == ["b-hpf-warn"]
    r = filled.get(
        "/api/v1/notifications", params={"audience": "window_supervisor", "application_id": APP_A, "limit": 1}
    )
    assert keys(r.json()) == ["a-app-breach"]
    assert keys(filled.get("/api/v1/notifications", params={"audience": "nobody"}).json()) == []


def test_notifications_need_an_audience(filled):
    assert filled.get("/api/v1/notifications").status_code == 422


def test_empty_sink_is_an_empty_list(tmp_path):
    url = f"sqlite:///{tmp_path / 'fresh' / 'kaiban.sqlite3'}"  # the worker has written nothing yet
    with TestClient(create_app(Settings(database_url=url), client=object()), headers=DEV_SUPERVISOR) as http:
        r = http.get("/api/v1/supervision/escalations")
        assert r.status_code == 200 and r.json() == {"count": 0, "items": []}
        # a step the worker records afterwards shows up without restarting the API
        Store(url).notices.record(note("late"))
        assert keys(http.get("/api/v1/supervision/escalations").json()) == ["late"]


def test_openapi_declares_models_and_chinese_summaries(filled):
    spec = filled.get("/openapi.json").json()
    esc = spec["paths"]["/api/v1/supervision/escalations"]["get"]
    inbox = spec["paths"]["/api/v1/notifications"]["get"]
    for op in (esc, inbox):
        assert any("\u4e00" <= ch <= "\u9fff" for ch in op["summary"]), op["summary"]
        assert op["tags"] == ["supervision"]
    assert esc["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/EscalationList")
    assert inbox["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/NotificationInbox")
    params = {p["name"] for p in esc["parameters"] if p["in"] == "query"}  # the identity is a header
    assert params == {"application_id", "department", "audience", "level", "limit"}
    assert {"NotificationRecord", "DeliveryState"} <= set(spec["components"]["schemas"])
    board = spec["paths"]["/api/v1/supervision/board"]["get"]
    assert "督办看板" in board["summary"]
    assert {p["name"] for p in board["parameters"] if p["in"] == "query"} == {"department", "sla_state", "limit"}
    assert board["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/Board")
