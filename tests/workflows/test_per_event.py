"""Patch PER_EVENT (workflows.patches): the commands an application issues in answer to its departments' receipts
do not depend on how the receipts were grouped into workflow tasks.

A worker restarted after a crash can answer a status query while a workflow task waits on the dead worker's
sticky queue: it applies the receipts already in history for the query, the later ones when the workflow task
comes, and sends the commands of both activations in one completion, which a replay (all the receipts in one
activation) must reproduce. So the same receipts are delivered here once one per workflow task (the workflow
worker running) and once all in one (the worker stopped while the robots file, a new one started after), on a
real Temporal dev server, and the commands that answer them are compared. Histories from before PER_EVENT
(ONE_CLOCK) answered differently (the board's memo once per activation, the sweepers woken by signals from
tasks of their own): the same comparison tells them apart, so the test can fail.
"""

from __future__ import annotations

import asyncio
import uuid

from temporalio import activity
from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import History, HistoryEvent
from temporalio.worker import Replayer, Worker

from activities.models import ActivityName, DispatchInput
from domain.results import Receipt
from tests.workflows.test_application_workflow import FakeDepartments, application_input, worker_kwargs
from tests.workflows.test_lean_visibility import one_clock_only
from workflows import patches
from workflows.application import ApplicationWorkflow
from workflows.models import Timing
from workflows.notification import NotificationWorkflow
from workflows.patches import PER_EVENT
from workflows.visibility import TASKS_MEMO

GATED = ("hpf", "hrss", "psb_seal")  # the robots of the parallel departments, released in this order
#: sweeps on (the robots' results come from their accounts' sweepers), the fallback inquiry far away
TIMING = Timing(poll_initial_s=600, retry_initial_s=0.1, swept_poll_initial_s=600)
INPUTS = {  # events that are not the answer to a command
    EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED,
    EventType.EVENT_TYPE_TIMER_FIRED,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED,
}


class GatedDepartments(FakeDepartments):
    """The robots of ``GATED`` file when released; amr answers at its filing (the others then start)."""

    def __init__(self) -> None:
        super().__init__(answer_at_once={"amr", "tax", "nhsa", "bank"})
        self.gates = {code: asyncio.Event() for code in GATED}
        self.woken: list[str] = []

    @activity.defn(name=ActivityName.DISPATCH)
    async def dispatch(self, inp: DispatchInput) -> Receipt:
        gate = self.gates.get(inp.endpoint.code)
        if gate is not None:
            await gate.wait()
        receipt = await super().dispatch(inp)
        if inp.wake_sweeper and receipt.answer is None:  # the real activity signals the sweeper (none runs here)
            self.woken.append(inp.endpoint.code)
        return receipt


def _workflow_worker(env, queue: str, fakes: GatedDepartments) -> Worker:
    """The workflows, with the API departments' activities and the planning basis (a local activity)."""
    return Worker(
        env.client,
        task_queue=queue,
        workflows=[ApplicationWorkflow, NotificationWorkflow],
        activities=worker_kwargs(fakes)["activities"],
    )


def _dispatch_completions(history: History, codes: tuple[str, ...] | None = None) -> list[int]:
    """The event ids of the dispatch completions of ``codes`` (None: every department's)."""
    scheduled = {
        e.event_id
        for e in history.events
        if e.HasField("activity_task_scheduled_event_attributes")
        and ".dispatch." in (activity_id := e.activity_task_scheduled_event_attributes.activity_id)
        and (codes is None or activity_id.split(".")[0] in codes)
    }
    return [
        e.event_id
        for e in history.events
        if e.HasField("activity_task_completed_event_attributes")
        and e.activity_task_completed_event_attributes.scheduled_event_id in scheduled
    ]


def _receipt_ids(history: History) -> list[int]:
    """The event ids of the gated robots' dispatch completions."""
    return _dispatch_completions(history, GATED)


async def _until(handle, predicate, timeout: float = 60.0) -> History:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        history = await handle.fetch_history()
        if predicate(history):
            return history
        if loop.time() > deadline:
            raise AssertionError(f"history never got there: {[e.event_type for e in history.events][-12:]}")
        await asyncio.sleep(0.1)


def _answered(history: History, receipts: int) -> bool:
    """``receipts`` gated receipts are in history and a workflow task completed after the last of them."""
    ids = _receipt_ids(history)
    return len(ids) >= receipts and any(
        e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED and e.event_id > ids[receipts - 1]
        for e in history.events
    )


async def _describe(env, e: HistoryEvent) -> tuple:
    """A command event by what it does (not by instants, which differ from run to run)."""
    if e.HasField("workflow_properties_modified_event_attributes"):
        payload = e.workflow_properties_modified_event_attributes.upserted_memo.fields[TASKS_MEMO]
        [rows] = await env.client.data_converter.decode([payload], [dict])
        return ("memo", tuple(sorted((code, row["status"], row["receipt_no"]) for code, row in rows.items())))
    if e.HasField("activity_task_scheduled_event_attributes"):
        return ("activity", e.activity_task_scheduled_event_attributes.activity_id)
    if e.HasField("signal_external_workflow_execution_initiated_event_attributes"):
        target = e.signal_external_workflow_execution_initiated_event_attributes.workflow_execution.workflow_id
        return ("signal", target.split("@")[0])  # the sweeper's id, without the run's task queue
    if e.HasField("upsert_workflow_search_attributes_event_attributes"):
        fields = e.upsert_workflow_search_attributes_event_attributes.search_attributes.indexed_fields
        return ("search_attributes", tuple(sorted(fields)))
    return (EventType.Name(e.event_type),)


async def _answers(env, history: History) -> list[tuple]:
    """The commands issued from the first gated receipt on, until an event that answers none of them."""
    receipts = _receipt_ids(history)
    out = []
    for e in history.events:
        if e.event_id <= receipts[0] or e.event_type in (
            EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED,
            EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED,
            EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED,
            EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED,
        ):
            continue
        if e.event_type in INPUTS:
            if e.event_id in receipts:
                continue
            break
        out.append(await _describe(env, e))
    return out


async def _run(env, sample_json, *, grouped: bool) -> tuple[list[tuple], History, GatedDepartments]:
    queue = f"q-{uuid.uuid4()}"
    fakes = GatedDepartments()
    inp = application_input(sample_json, queue, timing=TIMING, robot_task_queue=f"{queue}-robots")
    async with Worker(env.client, task_queue=inp.robot_task_queue, activities=worker_kwargs(fakes)["activities"]):
        worker = _workflow_worker(env, queue, fakes)
        async with worker:
            handle = await env.client.start_workflow(
                ApplicationWorkflow.run, inp, id=inp.application_id, task_queue=queue
            )
            # the parallel departments' robots are filing, the others have answered
            await _until(handle, _robots_filing)
            if not grouped:  # one receipt per workflow task
                for n, code in enumerate(GATED, start=1):
                    fakes.gates[code].set()
                    await _until(handle, lambda h, n=n: _answered(h, n))
        if grouped:  # the worker is gone while all the robots file: one workflow task for all their receipts
            for code in GATED:
                fakes.gates[code].set()
                n = GATED.index(code) + 1
                await _until(handle, lambda h, n=n: len(_receipt_ids(h)) >= n)
            async with _workflow_worker(env, queue, fakes):
                history = await _until(handle, lambda h: _answered(h, len(GATED)))
        else:
            history = await handle.fetch_history()
        await handle.terminate("test over")
    return await _answers(env, history), history, fakes


def _robots_filing(history: History) -> bool:
    """Every dispatch but bank's (it waits for psb_seal) is scheduled, and a workflow task completed after the
    last of the ungated ones came back: the workflow waits for the gated robots only."""
    scheduled = [
        e
        for e in history.events
        if e.HasField("activity_task_scheduled_event_attributes")
        and ".dispatch." in e.activity_task_scheduled_event_attributes.activity_id
    ]
    done = _dispatch_completions(history)
    last_task = max(
        (e.event_id for e in history.events if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED), default=0
    )
    return len(scheduled) == 6 and len(done) == 6 - len(GATED) and last_task > max(done, default=0)


def _wft_with_receipts(history: History) -> list[int]:
    """How many gated receipts each workflow task answered."""
    ids, counts, pending = set(_receipt_ids(history)), [], 0
    for e in history.events:
        if e.event_id in ids:
            pending += 1
        elif e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED and pending:
            counts.append(pending)
            pending = 0
    return counts


async def test_the_answer_to_each_receipt_does_not_depend_on_how_receipts_are_grouped(dev_env, sample_json):
    split, split_history, split_fakes = await _run(dev_env, sample_json, grouped=False)
    grouped, grouped_history, _ = await _run(dev_env, sample_json, grouped=True)
    assert _wft_with_receipts(split_history) == [1, 1, 1]
    assert _wft_with_receipts(grouped_history) == [3]
    markers = [e for e in grouped_history.events if e.HasField("marker_recorded_event_attributes")]
    assert any(PER_EVENT.encode() in e.SerializeToString() for e in markers)
    # each receipt: the board shows it, the task waits for the sweep (a timer); no signal of the workflow's
    kinds = [a[0] for a in split]
    assert kinds.count("memo") == len(GATED) and "signal" not in kinds, split
    assert split == grouped
    assert sorted(split_fakes.woken) == sorted(GATED)  # the dispatch activity was asked to wake each sweeper
    replayer = Replayer(
        workflows=[ApplicationWorkflow, NotificationWorkflow], data_converter=dev_env.client.data_converter
    )
    for history in (split_history, grouped_history):
        await replayer.replay_workflow(history)


async def test_before_per_event_the_answers_depended_on_the_grouping(dev_env, sample_json, monkeypatch):
    """The same comparison with the code as it was (ONE_CLOCK): it tells the groupings apart."""
    with monkeypatch.context() as m:
        m.setattr(patches, "take_lean", one_clock_only)
        split, _, _ = await _run(dev_env, sample_json, grouped=False)
        grouped, _, _ = await _run(dev_env, sample_json, grouped=True)
    assert [a[0] for a in split].count("signal") == len(GATED), split  # the tasks woke the sweepers
    assert split != grouped
    assert [a[0] for a in grouped].count("memo") < [a[0] for a in split].count("memo")  # once per activation
