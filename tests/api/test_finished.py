"""A finished application still exists: the clerk's and the supervisor's updates on it are refused with a
reason (409: 已办结 / 已撤回 / 已终止), not 404 as if it had never been; 404 stays for one that never was.

The workflows run on Temporal's time-skipping server (departments stood in by the workflow tests' fakes);
the API asks that server, as in production.
"""

from __future__ import annotations

import uuid

import httpx
import pytest
import pytest_asyncio
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from api.app import create_app
from cli.worker import ensure_search_attributes
from runtime.settings import Settings
from runtime.temporal import data_converter, temporal_test_server_path
from tests.support.applications import store_with_application
from tests.workflows.test_application_workflow import FakeDepartments, application_input, worker_kwargs
from workflows.application import ApplicationWorkflow
from workflows.models import Withdrawal

CLERK = {"Authorization": "Bearer clerk-dev-token"}
SUPERVISOR = {"Authorization": "Bearer supervisor-dev-token"}


@pytest_asyncio.fixture(loop_scope="session")
async def time_env():
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=temporal_test_server_path(), data_converter=data_converter(Settings())
    )
    await ensure_search_attributes(env.client, "default")
    yield env
    await env.shutdown()


async def finished_applications(env, sample_json) -> dict[str, str]:
    """Three applications of window TY-XD-01 that have finished: completed, withdrawn, terminated."""
    queue = f"q-{uuid.uuid4()}"
    ids: dict[str, str] = {}
    async with Worker(env.client, task_queue=queue, **worker_kwargs(FakeDepartments())):
        inp = application_input(sample_json, queue)
        await env.client.execute_workflow(ApplicationWorkflow.run, inp, id=inp.application_id, task_queue=queue)
        ids["completed"] = inp.application_id

    held = FakeDepartments(hold={"amr": lambda f: True})
    async with Worker(env.client, task_queue=queue, **worker_kwargs(held)):
        inp = application_input(sample_json, queue)
        handle = await env.client.start_workflow(ApplicationWorkflow.run, inp, id=inp.application_id, task_queue=queue)
        for _ in range(300):
            if held.inquiries.get("amr"):
                break
            await env.sleep(1)
        await handle.execute_update(ApplicationWorkflow.withdraw, Withdrawal(reason="暂缓设立", requested_by="c"))
        await handle.result()
        ids["withdrawn"] = inp.application_id

        inp = application_input(sample_json, queue)
        handle = await env.client.start_workflow(ApplicationWorkflow.run, inp, id=inp.application_id, task_queue=queue)
        await handle.terminate("test: stopped by an operator")
        ids["terminated"] = inp.application_id
    return ids


@pytest_asyncio.fixture(loop_scope="session")
async def api(time_env, sample_json, tmp_path):
    ids = await finished_applications(time_env, sample_json)
    for application_id in ids.values():
        url = store_with_application(tmp_path, application_id)
    app = create_app(Settings(database_url=url), client=time_env.client)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://kaiban") as http:
            yield http, ids


def requests_on(application_id: str, sample_json: dict) -> dict[str, tuple[str, dict, dict]]:
    base = f"/api/v1/applications/{application_id}"
    return {
        "withdrawal": (f"{base}/withdrawal", CLERK, {"reason": "申请人撤回"}),
        "extension": (
            f"{base}/deadline-extensions",
            SUPERVISOR,
            {"new_due_at": "2099-12-31T17:00:00+08:00", "reason": "材料需补充核验"},
        ),
        "correction": (f"{base}/corrections", CLERK, sample_json),
        "manual completion": (
            f"{base}/departments/hpf/manual-completion",
            CLERK,
            {"result": {"hpf_unit_account": "1401000199999999"}},
        ),
    }


EXPECTED = {
    "completed": {
        "withdrawal": "营业执照已核准",
        "extension": "已办结",
        "correction": "已办结",
        "manual completion": "已办结",
    },
    "withdrawn": {"withdrawal": "已撤回", "extension": "已撤回", "correction": "已撤回", "manual completion": "已撤回"},
    "terminated": {
        "withdrawal": "已终止",
        "extension": "已终止",
        "correction": "已终止",
        "manual completion": "已终止",
    },
}


@pytest.mark.parametrize("state", ["completed", "withdrawn", "terminated"])
async def test_an_update_on_a_finished_application_is_409_with_its_reason(api, sample_json, state):
    http, ids = api
    for what, (path, headers, body) in requests_on(ids[state], sample_json).items():
        r = await http.post(path, headers=headers, json=body)
        assert r.status_code == 409, (state, what, r.text)
        problem = r.json()
        assert problem["code"] == "application_closed", (state, what, problem)
        assert EXPECTED[state][what] in problem["detail"], (state, what, problem)


async def test_the_licence_reason_names_the_legal_procedure(api, sample_json):
    http, ids = api
    path, headers, body = requests_on(ids["completed"], sample_json)["withdrawal"]
    detail = (await http.post(path, headers=headers, json=body)).json()["detail"]
    assert detail == "该申请已办结：营业执照已核准，不能撤回申请：撤销或注销登记须另行依法办理"


async def test_an_application_that_never_existed_is_still_404(api, sample_json):
    http, _ids = api
    for what, (path, headers, body) in requests_on("KB20261130-NEVER00000", sample_json).items():
        r = await http.post(path, headers=headers, json=body)
        assert (r.status_code, r.json()["code"]) == (404, "application_not_found"), what
