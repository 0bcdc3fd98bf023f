"""``bench.mix.server_events``: every run's history events by workflow type, running ones included."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

from temporalio import workflow
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from bench.mix import server_events


@workflow.defn(name="MixEventsProbe")
class Probe:
    def __init__(self) -> None:
        self._go = False

    @workflow.signal
    def go(self) -> None:
        self._go = True

    @workflow.run
    async def run(self, wait: bool) -> str:
        await workflow.sleep(timedelta(milliseconds=10))
        if wait:
            await workflow.wait_condition(lambda: self._go)
        return "done"


async def test_server_events_sum_every_run_by_type_running_ones_too(dev_env):
    client = dev_env.client
    queue = f"mix-events-{uuid.uuid4().hex[:8]}"
    async with Worker(client, task_queue=queue, workflows=[Probe], workflow_runner=UnsandboxedWorkflowRunner()):
        done = await client.start_workflow(Probe.run, False, id=f"probe-done-{queue}", task_queue=queue)
        await done.result()
        running = await client.start_workflow(Probe.run, True, id=f"probe-running-{queue}", task_queue=queue)
        while not [e async for e in running.fetch_history_events() if e.HasField("timer_fired_event_attributes")]:
            await asyncio.sleep(0.05)
        events = await server_events(client)
        mine = await server_events(client, {queue})
        others = await server_events(client, {f"{queue}-none"})
        lengths = [len([e async for e in h.fetch_history_events()]) for h in (done, running)]
        await running.signal(Probe.go)
        await running.result()
    assert lengths[0] > lengths[1] > 0  # the running one has not completed yet
    # the shared server may hold other probes' runs of other tests: this test's two are in the sum
    assert events["MixEventsProbe"] >= sum(lengths)
    assert events["total"] >= events["MixEventsProbe"]
    assert list(events)[0] == "total"
    # by task queue: this test's two runs alone
    assert mine == {"total": sum(lengths), "MixEventsProbe": sum(lengths)} and others == {"total": 0}
