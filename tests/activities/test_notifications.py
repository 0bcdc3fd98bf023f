"""The notifier: the SQLite sink, signed webhooks against a real receiver on loopback, the ``notify`` activity."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import hmac
import json
import sqlite3
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from fastapi import FastAPI, Request, Response
from pydantic import ValidationError
from structlog.testing import capture_logs
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.models import Notification
from activities.notifications import (
    DELIVERY_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    WEBHOOK,
    WEBHOOK_DELIVERY_FAILED,
    NotificationSink,
    NotifierActivities,
    notification_body,
    sign,
    verify_signature,
)
from runtime.settings import ROOT, Settings
from tests.support.servers import free_port, serve_app

SHANGHAI = ZoneInfo("Asia/Shanghai")
SECRET = "s3cret-Hook-Key-0123456789-abcdef"  # 33 characters, distinctive
URL_TOKEN = "urltoken-9f8e7d6c5b4a"
MESSAGE = "税务登记已超过办理时限的80%，请部门负责人督促办理。"
T0 = datetime(2026, 11, 30, 10, 0, tzinfo=SHANGHAI)


def note(
    key: str = "KB20261130-AAAA.tax.warn.2.v1",
    *,
    application_id: str = "KB20261130-AAAA",
    department: str | None = "tax",
    level: str = "warn",
    audience: str = "department_supervisor",
    sequence: int = 2,
    fired_at: datetime = T0,
    message: str = MESSAGE,
) -> Notification:
    return Notification(
        key=key,
        application_id=application_id,
        department=department,
        level=level,
        audience=audience,
        sequence=sequence,
        due_at=T0 + timedelta(hours=2),
        planned_at=fired_at - timedelta(seconds=1),
        fired_at=fired_at,
        window_id="W-07",
        message=message,
    )


# ---------------------------------------------------------------------------------------------
# the sink


def test_record_is_idempotent_by_key(tmp_path):
    sink = NotificationSink(tmp_path / "n.sqlite3")
    n = note()
    assert sink.record(n) is True
    assert sink.record(n.model_copy(update={"message": "第二次"})) is False
    rows = sink.list()
    assert len(rows) == 1
    row = rows[0]
    assert row["message"] == MESSAGE  # the first write wins
    assert row["fired_at"] == n.fired_at and row["due_at"] == n.due_at and row["planned_at"] == n.planned_at
    assert {
        k: row[k] for k in ("key", "application_id", "department", "level", "audience", "sequence", "window_id")
    } == {
        "key": n.key,
        "application_id": n.application_id,
        "department": "tax",
        "level": "warn",
        "audience": "department_supervisor",
        "sequence": 2,
        "window_id": "W-07",
    }
    assert row["delivery_status"] == "recorded" and row["deliveries"] == []
    # a second instance on the same file sees the same row and still refuses the duplicate
    again = NotificationSink(tmp_path / "n.sqlite3")
    assert again.record(n) is False
    assert [r["key"] for r in again.list()] == [n.key]


def test_sink_uses_wal(tmp_path):
    path = tmp_path / "sub" / "n.sqlite3"
    NotificationSink(path)
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_list_is_newest_first_and_filters(tmp_path):
    sink = NotificationSink(tmp_path / "n.sqlite3")
    a = note("a", level="remind", audience="department_handler", sequence=1, fired_at=T0)  # 02:00 UTC
    # written in UTC, but one hour later than ``a``: text order would put it first, time order last
    b = note(
        "b",
        level="warn",
        audience="department_supervisor",
        sequence=2,
        fired_at=datetime(2026, 11, 30, 3, 0, tzinfo=UTC),
    )
    c = note("c", level="breach", audience="window_supervisor", sequence=3, fired_at=T0 + timedelta(hours=2))
    d = note("d", application_id="KB20261130-BBBB", department="hpf", level="warn", audience="department_supervisor",
             fired_at=T0 + timedelta(minutes=30))  # fmt: skip
    e = note("e", department=None, level="breach", audience="window_supervisor", fired_at=T0 + timedelta(hours=3))
    for n in (c, a, e, b, d):  # insertion order must not matter
        sink.record(n)

    keys = lambda rows: [r["key"] for r in rows]  # noqa: E731
    assert keys(sink.list()) == ["e", "c", "b", "d", "a"]
    assert keys(sink.list(limit=2)) == ["e", "c"]
    assert keys(sink.list(application_id="KB20261130-AAAA")) == ["e", "c", "b", "a"]
    assert keys(sink.list(application_id="KB20261130-BBBB")) == ["d"]
    assert keys(sink.list(audience="department_supervisor")) == ["b", "d"]
    assert keys(sink.list(department="tax")) == ["c", "b", "a"]
    assert keys(sink.list(level="breach")) == ["e", "c"]
    assert keys(sink.list(level=["remind", "warn"])) == ["b", "d", "a"]
    assert keys(sink.list(level=[])) == []
    assert keys(sink.list(application_id="KB20261130-AAAA", audience="department_supervisor", level="warn")) == ["b"]
    assert keys(sink.list(application_id="nope")) == []
    assert sink.list(department=None)[0]["department"] is None  # None means "no filter"; stored None reads back


def test_delivery_bookkeeping(tmp_path):
    sink = NotificationSink(tmp_path / "n.sqlite3")
    n = note()
    sink.record(n)
    assert sink.delivery(n.key, WEBHOOK) is None

    sink.mark_failed(n.key, WEBHOOK, "webhook answered HTTP 500", status_code=500)
    d = sink.delivery(n.key, WEBHOOK)
    assert (d["status"], d["attempts"], d["last_status_code"], d["last_error"]) == (
        "failed",
        1,
        500,
        "webhook answered HTTP 500",
    )
    assert d["delivered_at"] is None
    assert sink.get(n.key)["delivery_status"] == "failed"

    sink.mark_failed(n.key, WEBHOOK, "timed out")
    d = sink.delivery(n.key, WEBHOOK)
    assert (d["status"], d["attempts"], d["last_status_code"], d["last_error"]) == ("failed", 2, None, "timed out")

    sink.mark_delivered(n.key, WEBHOOK, 204)
    row = sink.get(n.key)
    assert row["delivery_status"] == "delivered"
    [d] = row["deliveries"]
    assert (d["channel"], d["status"], d["attempts"], d["last_status_code"]) == (WEBHOOK, "delivered", 3, 204)
    assert d["last_error"] == "timed out"  # kept for the record
    assert d["delivered_at"] is not None and d["first_attempt_at"] <= d["last_attempt_at"]

    sink.mark_failed(n.key, WEBHOOK, "late duplicate failed")  # once delivered, stays delivered
    assert sink.delivery(n.key, WEBHOOK)["status"] == "delivered"

    with pytest.raises(KeyError):
        sink.mark_delivered("unknown", WEBHOOK, 200)
    with pytest.raises(KeyError):
        sink.mark_failed("unknown", WEBHOOK, "x")
    assert sink.get("unknown") is None


_WRITER = textwrap.dedent(
    """
    import sys
    from datetime import datetime, timedelta, timezone
    from activities.models import Notification
    from activities.notifications import NotificationSink
    sink = NotificationSink(sys.argv[1])
    t0 = datetime(2026, 11, 30, 2, 0, tzinfo=timezone.utc)
    new = 0
    for i in range(int(sys.argv[2]), int(sys.argv[3])):
        n = Notification(key=f"k{i}", application_id="KB1", level="warn", audience="window_supervisor", sequence=i,
                         due_at=t0, planned_at=t0, fired_at=t0 + timedelta(seconds=i), window_id="W", message="m")
        new += sink.record(n)
        sink.mark_failed(n.key, "webhook", "x")
    print(new)
    """
)


def test_several_processes_share_the_sink(tmp_path):
    path = tmp_path / "n.sqlite3"
    reader = NotificationSink(path)
    # two writers with overlapping keys (k50..k99 written by both), while this process reads
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _WRITER, str(path), lo, hi], cwd=ROOT, stdout=subprocess.PIPE, text=True
        )
        for lo, hi in (("0", "100"), ("50", "150"))
    ]
    while any(p.poll() is None for p in procs):
        reader.list(limit=10)
    outs = [p.communicate()[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    assert sum(int(o) for o in outs) == 150  # each key new exactly once
    rows = reader.list(limit=1000)
    assert len(rows) == 150
    assert [r["key"] for r in rows[:2]] == ["k149", "k148"]
    overlapping = reader.get("k75")["deliveries"][0]
    assert overlapping["attempts"] == 2  # both writers' attempts counted


# ---------------------------------------------------------------------------------------------
# signatures


def test_signature_wire_format_and_verification():
    body = notification_body(note())
    assert MESSAGE.encode("utf-8") in body  # ensure_ascii=False: Chinese as UTF-8, not \\u escapes
    assert Notification.model_validate_json(body) == note()
    ts = 1_764_468_000
    expected = "sha256=" + hmac.new(SECRET.encode(), f"{ts}.".encode() + body, hashlib.sha256).hexdigest()
    assert sign(SECRET, ts, body) == expected

    assert verify_signature(SECRET, str(ts), body, expected, now=ts + 10) is True
    assert verify_signature(SECRET, ts, body, expected, now=ts - 299) is True
    tampered = body.replace(b"80%", b"90%")
    assert tampered != body
    assert verify_signature(SECRET, str(ts), tampered, expected, now=ts) is False
    assert verify_signature(SECRET, str(ts + 1), body, expected, now=ts) is False  # timestamp is signed
    assert verify_signature(SECRET, str(ts), body, expected, now=ts + 301) is False  # stale
    assert verify_signature(SECRET, str(ts), body, expected, now=ts - 301) is False  # from the future
    assert verify_signature(SECRET, str(ts), body, expected, now=ts + 1000, tolerance_s=2000) is True
    assert verify_signature("another-secret-0123456789", str(ts), body, expected, now=ts) is False
    assert verify_signature(SECRET, str(ts), body, expected[len("sha256=") :], now=ts) is False  # no scheme
    assert verify_signature(SECRET, str(ts), body, "sha256=zz", now=ts) is False
    assert verify_signature(SECRET, "yesterday", body, expected, now=ts) is False
    assert verify_signature(SECRET, None, body, expected, now=ts) is False
    assert verify_signature(SECRET, str(ts), body, None, now=ts) is False


# ---------------------------------------------------------------------------------------------
# the notify activity against a real receiver


class Receiver:
    """A webhook receiver that verifies signatures and answers with ``status``."""

    def __init__(self, secret: str = SECRET) -> None:
        self.secret = secret
        self.status = 200
        self.delay_s = 0.0
        self.headers: dict[str, str] = {}
        self.deliveries: list[dict] = []
        self.app = FastAPI()

        @self.app.post("/hook")
        async def hook(request: Request) -> Response:
            body = await request.body()
            valid = verify_signature(
                self.secret, request.headers.get(TIMESTAMP_HEADER), body, request.headers.get(SIGNATURE_HEADER)
            )
            self.deliveries.append(
                {
                    "id": request.headers.get(DELIVERY_HEADER),
                    "valid": valid,
                    "body": body,
                    "content_type": request.headers.get("content-type"),
                    "query": dict(request.query_params),
                }
            )
            if self.delay_s:
                await asyncio.sleep(self.delay_s)
            if not valid:
                return Response(status_code=401)
            return Response(status_code=self.status, headers=self.headers)


def settings_for(tmp_path, url: str | None, *, audience: str = "department_supervisor", **kw) -> Settings:
    webhooks = {audience: {"url": url, "secret": SECRET}} if url else {}
    return Settings(notification_sink_path=tmp_path / "n.sqlite3", webhooks=webhooks, **kw)


def env_attempt(attempt: int) -> ActivityEnvironment:
    env = ActivityEnvironment()
    env.info = dataclasses.replace(env.info, attempt=attempt)
    return env


async def test_notify_delivers_a_signed_webhook(tmp_path):
    receiver = Receiver()
    n = note()
    async with serve_app(receiver.app) as url:
        acts = NotifierActivities(settings_for(tmp_path, f"{url}/hook"))
        try:
            with capture_logs() as logs:
                await ActivityEnvironment().run(acts.notify, n)
        finally:
            await acts.aclose()
    [got] = receiver.deliveries
    assert got["valid"] is True
    assert got["id"] == n.key
    assert got["content_type"].startswith("application/json")
    assert MESSAGE.encode("utf-8") in got["body"]
    assert Notification.model_validate(json.loads(got["body"].decode("utf-8"))) == n

    row = NotificationSink(tmp_path / "n.sqlite3").get(n.key)
    assert row["delivery_status"] == "delivered"
    [d] = row["deliveries"]
    assert (d["channel"], d["status"], d["attempts"], d["last_status_code"], d["last_error"]) == (
        WEBHOOK,
        "delivered",
        1,
        200,
        None,
    )
    sent = [e for e in logs if e["event"] == "notification_sent"]
    assert len(sent) == 1 and sent[0]["channel"] == WEBHOOK and sent[0]["notification_key"] == n.key
    assert MESSAGE not in repr(logs)


async def test_failed_delivery_is_recorded_and_a_retry_succeeds_with_the_same_id(tmp_path):
    receiver = Receiver()
    receiver.status = 500
    n = note()
    sink = NotificationSink(tmp_path / "n.sqlite3")
    async with serve_app(receiver.app) as url:
        acts = NotifierActivities(settings_for(tmp_path, f"{url}/hook"))
        try:
            with capture_logs() as logs:
                with pytest.raises(ApplicationError) as caught:
                    await env_attempt(1).run(acts.notify, n)
            err = caught.value
            assert err.type == WEBHOOK_DELIVERY_FAILED and not err.non_retryable
            assert "department_supervisor" in str(err) and "500" in str(err)
            failed = [e for e in logs if e["event"] == "notification_delivery_failed"]
            assert len(failed) == 1 and failed[0]["status_code"] == 500 and failed[0]["problem"] == "transient"
            assert failed[0]["log_level"] == "warning"

            # the step is visible (and its failure too) while the webhook is down
            row = sink.get(n.key)
            assert row["delivery_status"] == "failed"
            [d] = row["deliveries"]
            assert (d["status"], d["attempts"], d["last_status_code"]) == ("failed", 1, 500)
            assert "500" in d["last_error"]

            receiver.status = 204  # the receiver recovers; Temporal retries
            await env_attempt(2).run(acts.notify, n)
            # a further retry (e.g. the activity timed out after delivering) sends nothing more
            await env_attempt(3).run(acts.notify, n)
        finally:
            await acts.aclose()

    assert [x["id"] for x in receiver.deliveries] == [n.key, n.key]
    assert all(x["valid"] for x in receiver.deliveries)
    assert receiver.deliveries[0]["body"] == receiver.deliveries[1]["body"]
    rows = sink.list()
    assert len(rows) == 1
    [d] = rows[0]["deliveries"]
    assert (d["status"], d["attempts"], d["last_status_code"]) == ("delivered", 2, 204)


async def test_wrong_secret_is_a_configuration_problem_but_still_retryable(tmp_path):
    receiver = Receiver(secret="the-receiver-expects-another-secret")
    n = note()
    async with serve_app(receiver.app) as url:
        acts = NotifierActivities(settings_for(tmp_path, f"{url}/hook"))
        try:
            with capture_logs() as logs, pytest.raises(ApplicationError) as caught:
                await ActivityEnvironment().run(acts.notify, n)
        finally:
            await acts.aclose()
    assert receiver.deliveries[0]["valid"] is False
    assert not caught.value.non_retryable and "401" in str(caught.value)
    [failed] = [e for e in logs if e["event"] == "notification_delivery_failed"]
    assert failed["problem"] == "configuration" and failed["log_level"] == "error"


async def test_rate_limited_delivery_honours_retry_after(tmp_path):
    receiver = Receiver()
    receiver.status = 429
    receiver.headers = {"Retry-After": "7"}
    async with serve_app(receiver.app) as url:
        acts = NotifierActivities(settings_for(tmp_path, f"{url}/hook"))
        try:
            with capture_logs() as logs, pytest.raises(ApplicationError) as caught:
                await ActivityEnvironment().run(acts.notify, note())
        finally:
            await acts.aclose()
    assert caught.value.next_retry_delay == timedelta(seconds=7)
    assert not caught.value.non_retryable
    [failed] = [e for e in logs if e["event"] == "notification_delivery_failed"]
    assert failed["problem"] == "transient"


async def test_timeout_and_refused_connection_are_retryable_failures(tmp_path):
    receiver = Receiver()
    receiver.delay_s = 1.0
    sink = NotificationSink(tmp_path / "n.sqlite3")
    async with serve_app(receiver.app) as url:
        acts = NotifierActivities(settings_for(tmp_path, f"{url}/hook", webhook_timeout_s=0.2))
        try:
            with pytest.raises(ApplicationError) as caught:
                await ActivityEnvironment().run(acts.notify, note("slow"))
        finally:
            await acts.aclose()
    assert "timed out" in str(caught.value) and not caught.value.non_retryable
    assert sink.delivery("slow", WEBHOOK)["status"] == "failed"

    acts = NotifierActivities(settings_for(tmp_path, f"http://127.0.0.1:{free_port()}/hook"))
    try:
        with pytest.raises(ApplicationError) as caught:
            await ActivityEnvironment().run(acts.notify, note("refused"))
    finally:
        await acts.aclose()
    assert "unreachable" in str(caught.value) and not caught.value.non_retryable
    d = sink.delivery("refused", WEBHOOK)
    assert d["status"] == "failed" and "unreachable" in d["last_error"] and d["last_status_code"] is None


async def test_audience_without_webhook_is_only_recorded(tmp_path):
    receiver = Receiver()
    async with serve_app(receiver.app) as url:
        # a webhook for another audience only
        acts = NotifierActivities(settings_for(tmp_path, f"{url}/hook", audience="leading_group_office"))
        try:
            with capture_logs() as logs:
                await ActivityEnvironment().run(acts.notify, note(audience="department_handler"))
        finally:
            await acts.aclose()
    assert receiver.deliveries == []
    [row] = NotificationSink(tmp_path / "n.sqlite3").list(audience="department_handler")
    assert row["delivery_status"] == "recorded" and row["deliveries"] == []
    [sent] = [e for e in logs if e["event"] == "notification_sent"]
    assert sent["channel"] == "sink"


async def test_secrets_never_appear_in_logs_errors_or_the_sink(tmp_path):
    receiver = Receiver()
    receiver.status = 503
    errors: list[str] = []
    async with serve_app(receiver.app) as url:
        hook = f"{url}/hook?token={URL_TOKEN}"
        acts = NotifierActivities(settings_for(tmp_path, hook))
        dead = NotifierActivities(settings_for(tmp_path, f"http://127.0.0.1:{free_port()}/hook?token={URL_TOKEN}"))
        try:
            with capture_logs() as logs:
                for acts_, key in ((acts, "s1"), (dead, "s2")):
                    with pytest.raises(ApplicationError) as caught:
                        await ActivityEnvironment().run(acts_.notify, note(key))
                    errors += [str(caught.value), repr(caught.value), str(caught.value.__cause__)]
                receiver.status = 200
                await ActivityEnvironment().run(acts.notify, note("s1"))
        finally:
            await acts.aclose()
            await dead.aclose()
    assert receiver.deliveries[-1]["query"] == {"token": URL_TOKEN}  # the URL token did reach the receiver
    events = [e["event"] for e in logs]
    assert events.count("notification_delivery_failed") == 2 and "notification_sent" in events
    sink_text = repr(NotificationSink(tmp_path / "n.sqlite3").list())
    settings_text = repr(settings_for(tmp_path, hook))
    for text in (repr(logs), *errors, sink_text):
        assert SECRET not in text and URL_TOKEN not in text  # the URL may carry a token: never logged either
    assert SECRET not in settings_text  # WebhookTarget's repr hides the secret
    assert MESSAGE not in repr(logs)


# ---------------------------------------------------------------------------------------------
# settings


def test_webhook_settings(tmp_path, monkeypatch):
    monkeypatch.setenv(
        "KAIBAN_WEBHOOKS", json.dumps({"window_supervisor": {"url": "https://hooks.example/k", "secret": SECRET}})
    )
    monkeypatch.setenv("KAIBAN_DATA_DIR", str(tmp_path / "data"))
    s = Settings()
    assert s.webhooks["window_supervisor"].url == "https://hooks.example/k"
    assert s.webhooks["window_supervisor"].secret == SECRET
    assert s.notification_sink_path == tmp_path / "data" / "notifications.sqlite3"  # follows data_dir
    assert Settings(notification_sink_path=tmp_path / "x.db").notification_sink_path == tmp_path / "x.db"
    monkeypatch.delenv("KAIBAN_WEBHOOKS")
    monkeypatch.delenv("KAIBAN_DATA_DIR")
    assert Settings().webhooks == {}

    with pytest.raises(ValidationError):  # shorter than 16
        Settings(webhooks={"window_supervisor": {"url": "https://h/x", "secret": "short"}})
    with pytest.raises(ValidationError, match="unknown audiences"):
        Settings(webhooks={"window_supervisors": {"url": "https://h/x", "secret": SECRET}})
    with pytest.raises(ValidationError):
        Settings(webhooks={"window_supervisor": {"url": "ftp://h/x", "secret": SECRET}})

    prod_key = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="  # base64 of 32 bytes, not the dev key
    sixteen = "0123456789abcdef"
    Settings(webhooks={"window_supervisor": {"url": "https://h/x", "secret": sixteen}})  # fine in development
    with pytest.raises(ValidationError, match="at least 32 characters"):
        Settings(
            environment="production",
            payload_key=prod_key,
            webhooks={"window_supervisor": {"url": "https://h/x", "secret": sixteen}},
        )
    ok = Settings(
        environment="production",
        payload_key=prod_key,
        webhooks={"window_supervisor": {"url": "https://h/x", "secret": sixteen * 2}},
    )
    assert len(ok.webhooks["window_supervisor"].secret) == 32
