"""Production refuses unencrypted payloads: a workflow using what kaiban's workflows use (patches, memo
upserts, timers, signals, queries, a retried activity, a local activity, a child workflow) still runs when
client and worker decode strictly, so nothing the SDK hands back is an unencrypted payload of its own."""

from __future__ import annotations

import asyncio
import base64
import os
import uuid
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.client import Client, WorkflowHandle
from temporalio.common import RetryPolicy
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from runtime.settings import Settings
from runtime.temporal import data_converter, temporal_test_server_path


@activity.defn(name="test_flaky")
async def flaky(text: str) -> str:
    if activity.info().attempt == 1:
        raise RuntimeError("first attempt fails")
    return text.upper()


@workflow.defn(name="TestChild")
class Child:
    @workflow.run
    async def run(self, text: str) -> str:
        return f"child:{text}"


@workflow.defn(name="TestStrict")
class Strict:
    def __init__(self) -> None:
        self.signals: list[str] = []

    @workflow.signal
    def note(self, text: str) -> None:
        self.signals.append(text)

    @workflow.query
    def noted(self) -> list[str]:
        return self.signals

    @workflow.run
    async def run(self, text: str) -> list[str]:
        patched = workflow.patched("test-patch")
        workflow.upsert_memo({"progress": {"patched": patched}})
        retry = RetryPolicy(initial_interval=timedelta(milliseconds=10), maximum_attempts=2)
        remote = await workflow.execute_activity(
            flaky, text, start_to_close_timeout=timedelta(seconds=10), retry_policy=retry
        )
        local = await workflow.execute_local_activity(
            flaky, text, start_to_close_timeout=timedelta(seconds=10), retry_policy=retry
        )
        await workflow.sleep(timedelta(hours=1))
        child = await workflow.execute_child_workflow(Child.run, text, id=f"{workflow.info().workflow_id}-child")
        await workflow.wait_condition(lambda: bool(self.signals))
        return [remote, local, child, *self.signals]


async def first_task_failure(handle: WorkflowHandle, timeout_s: float = 10.0) -> str:
    """The message of the workflow's first failed workflow task."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while loop.time() < deadline:
        async for event in handle.fetch_history_events():
            if event.HasField("workflow_task_failed_event_attributes"):
                return event.workflow_task_failed_event_attributes.failure.message
        await asyncio.sleep(0.1)
    raise AssertionError("no workflow task failed")


async def test_a_workflow_runs_with_strict_decoding_and_an_unencrypted_input_is_refused():
    settings = Settings(environment="production", payload_key=base64.b64encode(os.urandom(32)).decode())
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=temporal_test_server_path(), data_converter=data_converter(settings)
    )
    try:
        queue = f"strict-{uuid.uuid4().hex[:8]}"
        async with Worker(
            env.client,
            task_queue=queue,
            workflows=[Strict, Child],
            activities=[flaky],
            workflow_runner=UnsandboxedWorkflowRunner(),
        ):
            handle = await env.client.start_workflow(Strict.run, "x", id=queue, task_queue=queue)
            await handle.signal(Strict.note, "signalled")
            assert await handle.result() == ["X", "X", "child:x", "signalled"]
            assert await handle.query(Strict.noted) == ["signalled"]
            memo = await (await handle.describe()).memo_value("progress")
            assert memo == {"patched": True}
            # an input written without kaiban's codec (e.g. ``temporal workflow start --input``) is refused
            plain_client = await Client.connect(env.client.service_client.config.target_host)
            raw = await plain_client.start_workflow("TestStrict", "x", id=f"{queue}-raw", task_queue=queue)
            assert "refusing an unencrypted payload" in await first_task_failure(raw)
    finally:
        await env.shutdown()
