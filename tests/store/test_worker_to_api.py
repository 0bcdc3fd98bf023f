"""An escalation notice written by the worker side (the ``notify`` activity) is read by the API, through the
store, on SQLite and on PostgreSQL: the two sides share nothing but ``KAIBAN_DATABASE_URL``."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.models import Notification
from activities.notifications import NotifierActivities
from api.app import create_app
from runtime.settings import Settings
from store import upgrade
from tests.support.servers import free_port

SHANGHAI = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 11, 30, 10, 0, tzinfo=SHANGHAI)
SECRET = "s3cret-Hook-Key-0123456789-abcdef"
SUPERVISOR = {"Authorization": "Bearer supervisor-dev-token"}  # a development identity (runtime.access)


def notification(key: str, *, audience: str, level: str, minutes: int) -> Notification:
    fired = T0 + timedelta(minutes=minutes)
    return Notification(
        key=key,
        application_id="KB20261130-AAAAAAAAAA",
        department="tax",
        level=level,
        audience=audience,
        sequence=minutes,
        due_at=T0 + timedelta(hours=3),
        planned_at=fired,
        fired_at=fired,
        window_id="W-07",
        message=f"税务登记办理提醒（{level}）",
    )


async def test_a_notice_the_worker_writes_is_what_the_api_reads(database_url, tmp_path):
    # the worker's host: a webhook for window supervisors that cannot be reached, none for the others
    worker_settings = Settings(
        database_url=database_url,
        data_dir=tmp_path / "worker",
        webhooks={"window_supervisor": {"url": f"http://127.0.0.1:{free_port()}/hook", "secret": SECRET}},
    )
    upgrade(worker_settings.database_url)  # as the worker does at start
    acts = NotifierActivities(worker_settings)
    try:
        await ActivityEnvironment().run(
            acts.notify, notification("n-warn", audience="department_supervisor", level="warn", minutes=10)
        )
        with pytest.raises(ApplicationError):  # retried by Temporal; the notice is recorded meanwhile
            await ActivityEnvironment().run(
                acts.notify, notification("n-breach", audience="window_supervisor", level="breach", minutes=20)
            )
        # a retry of the first step records nothing twice
        await ActivityEnvironment().run(
            acts.notify, notification("n-warn", audience="department_supervisor", level="warn", minutes=10)
        )
    finally:
        await acts.aclose()

    # the API's host: another data directory, the same database
    api_settings = Settings(database_url=database_url, data_dir=tmp_path / "api")
    with TestClient(create_app(api_settings, client=object()), headers=SUPERVISOR) as http:
        inbox = http.get("/api/v1/notifications", params={"audience": "department_supervisor"})
        assert inbox.status_code == 200, inbox.text
        body = inbox.json()
        assert body["count"] == 1
        [warn] = body["items"]
        assert (warn["key"], warn["level"], warn["department"], warn["delivery_status"]) == (
            "n-warn",
            "warn",
            "tax",
            "recorded",
        )
        assert warn["message"] == "税务登记办理提醒（warn）"
        assert datetime.fromisoformat(warn["fired_at"]) == T0 + timedelta(minutes=10)

        escalations = http.get("/api/v1/supervision/escalations")
        assert escalations.status_code == 200, escalations.text
        items = escalations.json()["items"]
        assert [i["key"] for i in items] == ["n-breach", "n-warn"]  # newest first
        breach = items[0]
        assert breach["delivery_status"] == "failed"
        [d] = breach["deliveries"]
        assert (d["channel"], d["status"], d["attempts"]) == ("webhook", "failed", 1)
        assert "unreachable" in d["last_error"] and SECRET not in d["last_error"]

        only_breach = http.get("/api/v1/supervision/escalations", params={"level": "breach"}).json()
        assert [i["key"] for i in only_breach["items"]] == ["n-breach"]
