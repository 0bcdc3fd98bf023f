"""The robot dispatch activity: a retry resumes from the previous attempt's heartbeat (on the account's warm
page), the first attempt's failure keeps no trace, and a success links a JPEG of the receipt and its HTML.
Real Chromium, the real hpf portal simulator, Temporal's ActivityEnvironment."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import datetime

import pytest
from structlog.testing import capture_logs
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.departments import RECEIPT_HTML, RECEIPT_SCREENSHOT, DepartmentActivities, previous_step
from activities.models import ActivityName, DepartmentEndpoint, DispatchInput
from api.routers.evidence import evidence as serve_evidence
from bots import evidence
from bots.browser import BrowserPool
from domain.requests import DepartmentRequest
from domain.status import Channel
from runtime.access import DEV_TOKENS
from runtime.settings import Settings
from simulators.portal import count_submissions, create_portal_app, list_submissions
from tests.bots.conftest import valid_uscc
from tests.support.servers import serve_app

USER, SECRET = "kaiban-hpf-robot", "hpf-口令-20261128"


class CutOff(Exception):
    """The first attempt ends here (as a killed worker or a heartbeat timeout would end it)."""


def test_previous_step_reads_the_last_heartbeat():
    assert previous_step([]) is None
    assert previous_step(["form:unit"]) == "form:unit"  # a heartbeat of one step
    assert previous_step(["login", "form:contribution"]) == "form:contribution"  # the furthest step wins
    assert previous_step(["login", None]) == "login"
    assert previous_step([{"unexpected": 1}]) is None


async def test_a_retry_resumes_the_form_and_the_receipt_screenshot_is_linked(tmp_path, monkeypatch, sample_json):
    monkeypatch.setenv("KAIBAN_CRED_HPF_USERNAME", USER)
    monkeypatch.setenv("KAIBAN_CRED_HPF_PASSWORD", SECRET)
    settings = Settings(data_dir=tmp_path, evidence_dir=tmp_path / "evidence")
    db = tmp_path / "hpf.sqlite3"
    app = create_portal_app("hpf", db_path=db, username=USER, password=SECRET, process_delay_s=3600)
    application_id = f"T-{uuid.uuid4().hex[:16]}"
    request = DepartmentRequest(
        application_id=application_id,
        department="hpf",
        application=sample_json,
        upstream={"amr": {"uscc": valid_uscc()}},
    )
    pool = BrowserPool(max_sessions=1, evidence_dir=settings.evidence_path)
    await pool.start()
    acts = DepartmentActivities(settings, pool)
    try:
        async with serve_app(app) as url:
            inp = DispatchInput(
                endpoint=DepartmentEndpoint(code="hpf", channel=Channel.ROBOT, base_url=url), request=request
            )
            env = ActivityEnvironment()
            first: list[tuple] = []

            def cut_at_step_2(*details) -> None:
                first.append(details)
                if details[0] == "form:contribution":
                    raise CutOff("worker lost")

            env.on_heartbeat = cut_at_step_2
            env.info = dataclasses.replace(env.info, activity_type=ActivityName.DISPATCH, attempt=1)
            with pytest.raises(ApplicationError) as failed:
                await env.run(acts.dispatch, inp)
            assert not failed.value.non_retryable  # Temporal tries again
            # the first attempt's evidence: screenshot, HTML and step log, no trace (none was recorded)
            day = datetime.now(evidence.CST).strftime("%Y-%m-%d")
            first_label = f"{day}/hpf-{application_id}-attempt1"
            assert failed.value.details[0] == {
                "screenshot": f"{first_label}.png",
                "html": f"{first_label}.html",
                "steps": f"{first_label}.json",
            }
            assert [d[0] for d in first] == ["login", "search_existing", "form:unit", "form:contribution"]
            assert first[-1] == ("form:contribution", "form:contribution")  # the furthest step travels along
            assert count_submissions(db, application_id) == 0

            # attempt 2 gets the last heartbeat of attempt 1, as Temporal hands it over
            second: list[tuple] = []
            env.on_heartbeat = lambda *details: second.append(details)
            env.info = dataclasses.replace(env.info, attempt=2, heartbeat_details=list(first[-1]))
            with capture_logs() as logs:
                receipt = await env.run(acts.dispatch, inp)

            resuming = [e for e in logs if e["event"] == "robot.resuming"]
            assert resuming and resuming[0]["step"] == "form:contribution" and resuming[0]["attempt"] == 2
            resumed = next(e for e in logs if e["event"] == "robot.dispatch.resumed")
            assert resumed["at"] == "contribution" and resumed["steps_skipped"] == 1
            steps = [d[0] for d in second]
            assert steps == ["login", "search_existing", "resume_draft", "form:contribution", "submit", "receipt"]
            assert second[0] == ("login", "form:contribution") and second[-1] == ("receipt", "receipt")
            assert [s["receipt_no"] for s in list_submissions(db)] == [receipt.receipt_no]

            # the receipt links a JPEG of itself and its HTML, named by department, application id and attempt only
            stem = f"{day}/hpf-{application_id}-receipt-attempt2"
            assert receipt.evidence == {RECEIPT_SCREENSHOT: f"{stem}.jpg", RECEIPT_HTML: f"{stem}.html"}
            assert (settings.evidence_path / f"{stem}.jpg").read_bytes()[:3] == b"\xff\xd8\xff"
            assert SECRET not in (settings.evidence_path / f"{stem}.html").read_text(encoding="utf-8")
            # what GET /api/v1/evidence/<path> answers the development supervisor (a test application id
            # "T-…" ties the file to no application kaiban knows: no request or Temporal client is asked)
            supervisor = DEV_TOKENS["supervisor-dev-token"].identity
            for suffix, media in ((".jpg", "image/jpeg"), (".html", "text/plain; charset=utf-8")):
                served = await serve_evidence(
                    stem + suffix, request=None, settings=settings, client=None, identity=supervisor
                )
                assert served.path == settings.evidence_path.resolve() / (stem + suffix)
                assert served.media_type == media
                # a portal's page is never rendered (nor its script run) on kaiban's origin
                assert served.headers["content-security-policy"] == "sandbox"
                assert served.headers["content-disposition"].startswith("attachment;")
            # the receipt (a pydantic model crossing Temporal) carries the link through JSON
            assert type(receipt).model_validate_json(receipt.model_dump_json()).evidence == receipt.evidence
            kept = sorted(p.name for p in settings.evidence_path.rglob("*"))
            assert all(SECRET not in name and USER not in name for name in kept)
    finally:
        await acts.aclose()
        await pool.stop()


def test_the_robot_pool_settings(monkeypatch):
    defaults = Settings()
    assert defaults.robot_reuse_sessions is True and defaults.robot_recycle_after_tasks == 200
    monkeypatch.setenv("KAIBAN_ROBOT_REUSE_SESSIONS", "false")
    monkeypatch.setenv("KAIBAN_ROBOT_RECYCLE_AFTER_TASKS", "0")  # never
    changed = Settings()
    assert changed.robot_reuse_sessions is False and changed.robot_recycle_after_tasks == 0
    monkeypatch.setenv("KAIBAN_ROBOT_RECYCLE_AFTER_TASKS", "-1")
    with pytest.raises(ValueError, match="robot_recycle_after_tasks"):
        Settings()
    with pytest.raises(ValueError, match="recycle_after_tasks"):
        BrowserPool(recycle_after_tasks=-1)
    # warm pages and tracing
    assert (defaults.robot_warm_pages, defaults.robot_warm_pages_total, defaults.robot_page_recycle_tasks) == (3, 6, 50)
    assert defaults.robot_page_idle_s == 300.0 and defaults.robot_trace_from_attempt == 2
    monkeypatch.setenv("KAIBAN_ROBOT_RECYCLE_AFTER_TASKS", "0")
    monkeypatch.setenv("KAIBAN_ROBOT_WARM_PAGES", "0")  # a fresh context per task, as before warm pages
    monkeypatch.setenv("KAIBAN_ROBOT_PAGE_RECYCLE_TASKS", "10")
    monkeypatch.setenv("KAIBAN_ROBOT_TRACE_FROM_ATTEMPT", "1")  # trace every attempt
    changed = Settings()
    assert changed.robot_warm_pages == 0 and changed.robot_page_recycle_tasks == 10
    assert changed.robot_trace_from_attempt == 1
    monkeypatch.setenv("KAIBAN_ROBOT_TRACE_FROM_ATTEMPT", "0")
    with pytest.raises(ValueError, match="robot_trace_from_attempt"):
        Settings()
    with pytest.raises(ValueError, match="trace_from_attempt"):
        BrowserPool(trace_from_attempt=0)


def test_robot_work_needs_its_own_queue(monkeypatch):
    """Two workers of one process may not poll the same queue for activities: refused at start, plainly."""
    monkeypatch.setenv("KAIBAN_ROBOT_TASK_QUEUE", "kaiban")
    with pytest.raises(ValueError, match="KAIBAN_ROBOT_TASK_QUEUE must differ"):
        Settings()
    monkeypatch.setenv("KAIBAN_ROBOT_TASK_QUEUE", "kaiban-robots-2")
    assert Settings().robot_task_queue == "kaiban-robots-2"
