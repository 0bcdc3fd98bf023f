"""The worker side of the one log stream: an activity's loggers (structlog as kaiban's activities use it, and
Temporal's ``activity.logger``) and the SDK's own report of a failed attempt, traceback included, come out of
configure_logging with ID numbers and mobiles masked."""

from __future__ import annotations

import io
import json
import logging
import uuid
from datetime import timedelta

import pytest
import structlog
from temporalio import activity, workflow
from temporalio.common import RetryPolicy
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from runtime.logging import configure_logging
from runtime.settings import Settings
from runtime.temporal import data_converter, temporal_test_server_path

ID_NUMBER = "140122199007280443"
MOBILE = "13903510288"


@activity.defn(name="test_file_founder")
async def file_founder(founder: dict) -> str:
    info = activity.info()
    with structlog.contextvars.bound_contextvars(application_id=info.workflow_id, department="amr"):
        structlog.get_logger("activities.departments").info("filing", founder=founder)
    activity.logger.info("filing %s with mobile %s", founder["id_number"], founder["mobile"])
    if info.attempt == 1:
        raise RuntimeError(f"portal refused {founder['id_number']} ({founder['mobile']})")
    return "filed"


@workflow.defn(name="TestFileFounder")
class FileFounder:
    @workflow.run
    async def run(self, founder: dict) -> str:
        return await workflow.execute_activity(
            file_founder,
            founder,
            start_to_close_timeout=timedelta(seconds=10),
            retry_policy=RetryPolicy(initial_interval=timedelta(milliseconds=10), maximum_attempts=2),
        )


@pytest.fixture
def stream():
    root = logging.getLogger()
    saved = root.handlers[:]
    buf = io.StringIO()
    configure_logging("json", "INFO", stream=buf)  # as cli.worker.main does, to a buffer
    yield buf
    root.handlers[:] = saved


async def test_activity_logs_and_the_sdks_failure_report_are_masked(stream):
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=temporal_test_server_path(), data_converter=data_converter(Settings())
    )
    try:
        queue = f"logging-{uuid.uuid4().hex[:8]}"
        async with Worker(
            env.client,
            task_queue=queue,
            workflows=[FileFounder],
            activities=[file_founder],
            workflow_runner=UnsandboxedWorkflowRunner(),
        ):
            founder = {"name": "李娜", "id_number": ID_NUMBER, "mobile": MOBILE}
            result = await env.client.execute_workflow(FileFounder.run, founder, id=queue, task_queue=queue)
    finally:
        await env.shutdown()
    assert result == "filed"
    out = stream.getvalue()
    assert ID_NUMBER not in out and MOBILE not in out, out
    events = [json.loads(line) for line in out.splitlines()]
    ours = [e for e in events if e["event"] == "filing"]
    assert ours and ours[0]["founder"]["id_number"] == "140122********0443"
    assert ours[0]["founder"]["mobile"] == "139****0288" and ours[0]["application_id"] == queue
    sdk = [e for e in events if e["logger"] == "temporalio.activity"]
    assert any(e["event"].startswith("filing 140122********0443 with mobile 139****0288") for e in sdk), sdk
    failed = [e for e in sdk if "exception" in e]
    assert failed and "portal refused 140122********0443 (139****0288)" in failed[0]["exception"], sdk
