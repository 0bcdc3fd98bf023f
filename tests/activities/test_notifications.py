"""The notifier: signed webhooks against a real receiver on loopback, the ``notify`` activity writing to the store."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import hmac
import json
from datetime import timedelta
from typing import Any
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
    WEBHOOK,
    WEBHOOK_DELIVERY_FAILED,
    NotifierActivities,
    notification_body,
)
from runtime.settings import Settings
from runtime.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign, verify_signature
from store import Database, NoticeStore, upgrade
from tests.support.notices import MESSAGE, note_fields
from tests.support.servers import free_port, serve_app

SHANGHAI = ZoneInfo("Asia/Shanghai")
SECRET = "s3cret-Hook-Key-0123456789-abcdef"  # 33 characters, distinctive
URL_TOKEN = "urltoken-9f8e7d6c5b4a"


def note(key: str = "KB20261130-AAAA.tax.warn.2.v1", **fields: Any) -> Notification:
    return Notification(**note_fields(key, **fields))


def db_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'n.sqlite3'}"


def open_notices(tmp_path) -> NoticeStore:
    """The store the activity writes to (tests/store runs the store itself on SQLite and PostgreSQL)."""
    upgrade(db_url(tmp_path))  # as the worker does at start
    return NoticeStore(Database(db_url(tmp_path)))


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
    upgrade(db_url(tmp_path))  # as the worker does at start
    return Settings(database_url=db_url(tmp_path), webhooks=webhooks, **kw)


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

    row = open_notices(tmp_path).get(n.key)
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
    sink = open_notices(tmp_path)
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
    sink = open_notices(tmp_path)
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
    [row] = open_notices(tmp_path).list(audience="department_handler")
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
    sink_text = repr(open_notices(tmp_path).list())
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
    assert s.database_url == f"sqlite:///{tmp_path / 'data' / 'kaiban.sqlite3'}"  # follows data_dir
    assert Settings(database_url="postgresql+psycopg://k@db/kaiban").database_url == "postgresql+psycopg://k@db/kaiban"
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
