"""A read of an application's progress is not asked of its workflow while a workflow task waits to be taken
(``api.status_reads``): the server would dispatch the query directly, and a worker without the workflow in its
cache would split the task's events into two activations. On Temporal's dev server (the real server): with no
worker polling, the first workflow task stays scheduled; the read is refused with 503 ``status_recovering`` and
``Retry-After``, in JSON and in the clerk's page (a query sent then would wait for a worker that is not there,
and the request would hang); once a worker takes the task the same read answers.
"""

from __future__ import annotations

import re
import uuid

import httpx
import pytest
from temporalio.worker import Worker

from api.app import create_app
from api.status_reads import StatusRecovering, read_status, task_waits
from runtime.people import DEV_PASSWORD
from runtime.settings import Settings
from tests.support.applications import store_with_application
from tests.workflows.test_application_workflow import FakeDepartments, application_input, worker_kwargs
from workflows.application import ApplicationWorkflow

CLERK = {"Authorization": "Bearer clerk-dev-token"}


async def test_a_read_is_refused_while_the_workflow_task_waits_and_answers_once_a_worker_took_it(
    dev_env, sample_json, tmp_path
):
    queue = f"q-{uuid.uuid4()}"
    inp = application_input(sample_json, queue)
    handle = await dev_env.client.start_workflow(ApplicationWorkflow.run, inp, id=inp.application_id, task_queue=queue)
    assert task_waits(await handle.describe()), "no worker polls the queue: the first workflow task waits"

    app = create_app(Settings(database_url=store_with_application(tmp_path, inp.application_id)), client=dev_env.client)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://kaiban", timeout=30) as http:
            r = await http.get(f"/api/v1/applications/{inp.application_id}", headers=CLERK)
            assert r.status_code == 503, r.text
            assert r.json()["code"] == "status_recovering"
            assert "请稍后刷新" in r.json()["detail"]
            assert r.headers["Retry-After"] == "5"

            # the clerk's page says the same, in a page
            login = (await http.get("/login")).text
            token = re.search(r'name="csrf_token" value="([^"]+)"', login).group(1)
            signed = await http.post(
                "/login", data={"username": "clerk", "password": DEV_PASSWORD, "csrf_token": token}
            )
            assert signed.status_code == 303, signed.text
            r = await http.get(f"/applications/{inp.application_id}", headers={"accept": "text/html"})
            assert r.status_code == 503 and r.headers["Retry-After"] == "5"
            assert "正在恢复处理" in r.text and "<html" in r.text

            held = FakeDepartments(hold={"amr": lambda f: True})  # the application stays in progress
            async with Worker(dev_env.client, task_queue=queue, **worker_kwargs(held)):
                r = await http.get(f"/api/v1/applications/{inp.application_id}", headers=CLERK)
                assert r.status_code == 200, r.text
                assert r.json()["application_id"] == inp.application_id
                assert r.json()["status"] == "processing"
            await handle.terminate("test: done")


async def test_read_status_names_the_application_it_could_not_read(dev_env, sample_json):
    queue = f"q-{uuid.uuid4()}"
    inp = application_input(sample_json, queue)
    handle = await dev_env.client.start_workflow(ApplicationWorkflow.run, inp, id=inp.application_id, task_queue=queue)
    with pytest.raises(StatusRecovering) as refused:
        await read_status(dev_env.client, inp.application_id, wait_s=0.2)
    assert (refused.value.status_code, refused.value.application_id) == (503, inp.application_id)
    await handle.terminate("test: done")
