"""An Idempotency-Key lasts: the same key and body of a window give the same application for
``idempotency_ttl_hours`` (across midnight, after the workflow finished, when two arrive at once), a
different body with the key is 409, and after the lifetime the key serves a new application."""

from __future__ import annotations

import asyncio
import threading
from datetime import datetime, timedelta

import httpx
import pytest
from fastapi.testclient import TestClient
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

import api.routers.applications as applications_router
from api.app import create_app
from runtime.access import DEV_CLERKS
from runtime.settings import Settings
from store import Store
from tests.support.clock import sh
from tests.support.postgres import database_url, postgres  # noqa: F401  (fixtures: SQLite and PostgreSQL)
from workflows.models import ApplicationInput

CLERK = {"Authorization": f"Bearer {DEV_CLERKS['TY-XD-01']}"}  # the sample's window
URL = "/api/v1/applications"


class Temporal:
    """Starts workflows as Temporal does by id: a running one is used again (USE_EXISTING), a finished one
    is refused with REJECT_DUPLICATE and run again with ALLOW_DUPLICATE. ``runs``: every run started."""

    def __init__(self) -> None:
        self.running: set[str] = set()
        self.finished: set[str] = set()
        self.runs: list[ApplicationInput] = []
        self.unavailable = 0  # the next so many starts fail as if Temporal were down

    async def start_workflow(self, _run, inp, *, id, id_conflict_policy, id_reuse_policy, **_kwargs):
        await asyncio.sleep(0)  # a round trip: other requests go on meanwhile
        if self.unavailable:
            self.unavailable -= 1
            raise RPCError("connection refused", RPCStatusCode.UNAVAILABLE, b"")
        if id in self.running:
            if id_conflict_policy == WorkflowIDConflictPolicy.USE_EXISTING:
                return
            raise WorkflowAlreadyStartedError(id, "ApplicationWorkflow")
        if id in self.finished and id_reuse_policy == WorkflowIDReusePolicy.REJECT_DUPLICATE:
            raise WorkflowAlreadyStartedError(id, "ApplicationWorkflow")
        self.running.add(id)
        self.runs.append(inp)

    def finish(self, workflow_id: str) -> None:
        self.running.discard(workflow_id)
        self.finished.add(workflow_id)


class Clock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


@pytest.fixture
def clock(monkeypatch):
    clock = Clock(sh(2026, 11, 30, 23, 59))
    monkeypatch.setattr(applications_router, "now", clock)
    return clock


@pytest.fixture
def api(tmp_path, clock):
    temporal = Temporal()
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'kaiban.sqlite3'}")
    app = create_app(settings, client=temporal)
    with TestClient(app, headers=CLERK) as http:
        yield http, temporal


def submit(http: TestClient, body: dict, key: str | None = "clerk-7-0001") -> httpx.Response:
    return http.post(URL, json=body, headers={"Idempotency-Key": key} if key else {})


def test_the_same_key_and_body_across_midnight_is_the_same_application_until_the_lifetime_ends(api, clock, sample_json):
    http, temporal = api
    first = submit(http, sample_json)
    assert first.status_code == 202, first.text
    assert first.json()["application_id"].startswith("KB20261130-")

    clock.at = sh(2026, 12, 1, 0, 1)  # the next Shanghai day
    again = submit(http, sample_json)
    assert again.status_code == 202, again.text
    assert again.json() == first.json()  # same id, status, due_at, message
    assert len(temporal.runs) == 1

    clock.at = sh(2026, 11, 30, 23, 59) + timedelta(hours=24)  # the last instant of the lifetime
    assert submit(http, sample_json).json() == first.json()
    assert len(temporal.runs) == 1

    clock.at = sh(2026, 11, 30, 23, 59) + timedelta(hours=25)  # the lifetime is over: a new application
    later = submit(http, sample_json)
    assert later.status_code == 202, later.text
    assert later.json()["application_id"] != first.json()["application_id"]
    assert later.json()["application_id"].startswith("KB20261202-")
    assert [r.application_id for r in temporal.runs] == [first.json()["application_id"], later.json()["application_id"]]
    assert temporal.runs[1].submitted_at == sh(2026, 12, 2, 0, 59)
    # and that one is now what the key gives
    clock.at += timedelta(minutes=5)
    assert submit(http, sample_json).json() == later.json()
    assert len(temporal.runs) == 2


def test_a_finished_application_is_answered_as_the_first_time_without_a_second_workflow(api, clock, sample_json):
    http, temporal = api
    first = submit(http, sample_json)
    app_id = first.json()["application_id"]
    temporal.finish(app_id)
    clock.at += timedelta(hours=20)
    again = submit(http, sample_json)
    assert again.status_code == 202, again.text
    assert again.json() == first.json()
    assert again.json()["status"] == "processing"  # as the first answer said
    assert [r.application_id for r in temporal.runs] == [app_id]


def test_the_key_with_a_different_body_is_409_and_starts_nothing(api, clock, sample_json):
    http, temporal = api
    first = submit(http, sample_json)
    changed = {**sample_json, "company": {**sample_json["company"], "employees_expected": 13}}
    clock.at += timedelta(hours=3)
    r = submit(http, changed)
    assert r.status_code == 409, r.text
    assert r.json()["code"] == "idempotency_key_reused"
    assert r.json()["detail"].startswith("该幂等键已用于另一份申请")
    assert first.json()["application_id"] in r.json()["detail"]
    assert set(r.json()) == {"detail", "code"}
    assert len(temporal.runs) == 1
    # the same body still gives the first application; after the lifetime the other body is a new one
    assert submit(http, sample_json).json() == first.json()
    clock.at += timedelta(hours=22)
    fresh = submit(http, changed)
    assert fresh.status_code == 202, fresh.text
    assert fresh.json()["application_id"] != first.json()["application_id"]
    assert len(temporal.runs) == 2


def test_the_form_s_clerk_does_not_make_another_body(api, sample_json):
    """kaiban puts the signed-in clerk into the form before hashing it: a different clerk_id in the body is
    the same application."""
    http, temporal = api
    first = submit(http, sample_json)
    sample_json["window"]["clerk_id"] = "somebody-else"
    again = submit(http, sample_json)
    assert again.status_code == 202, again.text
    assert again.json() == first.json()
    assert len(temporal.runs) == 1


def test_without_a_key_each_submission_is_a_new_application(api, sample_json):
    http, temporal = api
    a = submit(http, sample_json, key=None)
    b = submit(http, sample_json, key=None)
    assert a.status_code == b.status_code == 202
    assert a.json()["application_id"] != b.json()["application_id"]
    assert len(temporal.runs) == 2
    # both are recorded, for the access checks
    for r in (a, b):
        assert http.app.state.store.applications.get(r.json()["application_id"]).window_id == "TY-XD-01"


def test_a_repeat_starts_the_workflow_the_first_submission_could_not(api, clock, sample_json):
    http, temporal = api
    temporal.unavailable = 1
    first = submit(http, sample_json)
    assert first.status_code == 503
    assert not temporal.runs
    clock.at += timedelta(seconds=30)
    again = submit(http, sample_json)
    assert again.status_code == 202, again.text
    assert [r.application_id for r in temporal.runs] == [again.json()["application_id"]]
    assert temporal.runs[0].submitted_at == sh(2026, 11, 30, 23, 59)  # the first instant, recorded
    assert submit(http, sample_json).json() == again.json()
    assert len(temporal.runs) == 1


def test_two_identical_submissions_at_the_same_moment_start_one_workflow(api, monkeypatch, sample_json):
    """Both requests are in flight together (each one's clock a millisecond apart, so their ids would
    differ); the store's write transaction lets one be first, the other answers with its application."""
    http, temporal = api
    instants = iter([sh(2026, 11, 30, 10, 0) + timedelta(milliseconds=i) for i in range(10)])
    monkeypatch.setattr(applications_router, "now", lambda: next(instants))

    async def both() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=http.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://kaiban", headers=CLERK) as client:
            headers = {"Idempotency-Key": "clerk-7-same-moment"}
            return list(await asyncio.gather(*(client.post(URL, json=sample_json, headers=headers) for _ in range(4))))

    answers = asyncio.run(both())
    assert [r.status_code for r in answers] == [202] * 4, [r.text for r in answers]
    assert len({r.json()["application_id"] for r in answers}) == 1
    assert len({r.json()["due_at"] for r in answers}) == 1
    assert len(temporal.runs) == 1


def test_the_store_lets_exactly_one_of_simultaneous_submissions_hold_a_key(database_url):  # noqa: F811
    stores = [Store.open(database_url) for _ in range(3)]  # as three API processes: three engines
    store = stores[0]
    t0 = sh(2026, 11, 30, 10, 0)
    threads = 8
    start = threading.Barrier(threads)
    results: list[tuple[str, bool]] = []
    lock = threading.Lock()

    def claim(i: int) -> None:
        start.wait()
        held, first = stores[i % len(stores)].applications.record_unless_key_held(
            application_id=f"KB20261130-{i:010d}",
            window_id="TY-XD-01",
            submitted_by="clerk-0007",
            company_name="太原示例科技有限公司",
            submitted_at=t0 + timedelta(milliseconds=i),
            idempotency_key="k",
            body_sha256="0" * 64,
            since=t0 - timedelta(hours=24),
        )
        with lock:
            results.append((held.application_id, first))

    try:
        workers = [threading.Thread(target=claim, args=(i,)) for i in range(threads)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        assert sum(first for _, first in results) == 1
        assert len({app_id for app_id, _ in results}) == 1
        winner = next(app_id for app_id, first in results if first)
        assert store.applications.by_idempotency_key("TY-XD-01", "k", t0 - timedelta(hours=1)).application_id == winner
        # another window's key is its own
        _, first = store.applications.record_unless_key_held(
            application_id="KB20261130-OTHERWIN00",
            window_id="TY-XD-02",
            submitted_by="clerk-0012",
            company_name="x",
            submitted_at=t0,
            idempotency_key="k",
            body_sha256="1" * 64,
            since=t0 - timedelta(hours=24),
        )
        assert first
    finally:
        for s in stores:
            s.close()
