"""The dispatch activity on the API channel: filed once, then asked once what became of it."""

from __future__ import annotations

import pytest
from temporalio.testing import ActivityEnvironment

from activities.departments import DepartmentActivities
from activities.models import DepartmentEndpoint, DispatchInput
from domain.status import Channel
from runtime.settings import Settings
from simulators.department_api import count_submissions, create_department_api_app
from tests.activities.test_api_client import USCC, make_request
from tests.support.servers import serve_app

TOKEN = "dispatch-test-token"


async def dispatch_to(app, request, tmp_path):
    """Run the dispatch activity against the tax department ``app`` served on loopback."""
    acts = DepartmentActivities(Settings(data_dir=tmp_path), None)
    try:
        async with serve_app(app) as url:
            endpoint = DepartmentEndpoint(code="tax", channel=Channel.API, base_url=url)
            return await ActivityEnvironment().run(acts.dispatch, DispatchInput(endpoint=endpoint, request=request))
    finally:
        await acts.aclose()


@pytest.mark.parametrize(("delay", "status"), [(0.0, "completed"), (30.0, "in_review")])
async def test_an_api_dispatch_carries_the_departments_first_answer(tmp_path, monkeypatch, sample_json, delay, status):
    monkeypatch.setenv("KAIBAN_CRED_TAX_USERNAME", "kaiban-tax")
    monkeypatch.setenv("KAIBAN_CRED_TAX_PASSWORD", TOKEN)
    db = tmp_path / "tax.db"
    app = create_department_api_app("tax", db_path=db, token=TOKEN, process_delay_s=delay)
    request = make_request(sample_json, "tax")
    receipt = await dispatch_to(app, request, tmp_path)
    assert receipt.receipt_no.startswith("TAX-")
    assert receipt.answer is not None and receipt.answer.status == status
    if status == "completed":
        assert receipt.answer.result["taxpayer_id"] == USCC  # validated against the tax result schema
    else:
        assert receipt.answer.result is None
    assert count_submissions(db, request.application_id) == 1  # asking files nothing


async def test_a_failed_first_question_does_not_fail_the_filing(tmp_path, monkeypatch, sample_json):
    """The filing went through; if the question after it fails, the workflow's inquiry asks again."""
    monkeypatch.setenv("KAIBAN_CRED_TAX_USERNAME", "kaiban-tax")
    monkeypatch.setenv("KAIBAN_CRED_TAX_PASSWORD", TOKEN)
    db = tmp_path / "tax.db"
    app = create_department_api_app("tax", db_path=db, token=TOKEN, process_delay_s=0.0)

    @app.middleware("http")
    async def refuse_questions(req, call_next):
        if req.method == "GET":
            from starlette.responses import JSONResponse

            return JSONResponse({"detail": "overloaded"}, status_code=503)
        return await call_next(req)

    request = make_request(sample_json, "tax")
    receipt = await dispatch_to(app, request, tmp_path)
    assert receipt.receipt_no.startswith("TAX-") and receipt.answer is None
    assert count_submissions(db, request.application_id) == 1
