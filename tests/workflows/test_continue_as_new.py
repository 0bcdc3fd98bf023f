"""An application that waits long continues as a new run past a history size, its state carried over
(time-skipping server, with a low threshold): nothing is lost, filed twice, or escalated twice."""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import timedelta

import pytest
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowUpdateFailedError
from temporalio.worker import Replayer, Worker

from domain.status import TaskStatus
from tests.workflows.test_application_workflow import RESULTS, FakeDepartments, application_input, worker_kwargs
from tests.workflows.test_deadlines import dispatched
from tests.workflows.test_history import SlowHrss, wait_working_days
from workflows.application import ApplicationWorkflow
from workflows.models import ApplicationInput, ApplicationView, Correction, ManualCompletion, Timing


async def runs_of(client: Client, workflow_id: str, first_run_id: str) -> list:
    """Each run's history, first to last (following the continue-as-new chain)."""
    histories, run_id = [], first_run_id
    while run_id:
        history = await client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history()
        histories.append(history)
        last = history.events[-1]
        cont = last.workflow_execution_continued_as_new_event_attributes
        run_id = (
            cont.new_execution_run_id if last.HasField("workflow_execution_continued_as_new_event_attributes") else ""
        )
    return histories


async def result_of(env, workflow_id: str) -> ApplicationView:
    """The last run's result, once it has completed (read from its history: the time-skipping server's long
    poll for a result, and a query of a closed run, do not follow runs reliably)."""
    handle = env.client.get_workflow_handle(workflow_id)
    for _ in range(2000):
        if (await handle.describe()).status == WorkflowExecutionStatus.COMPLETED:
            last = (await handle.fetch_history()).events[-1]
            payloads = last.workflow_execution_completed_event_attributes.result.payloads
            [view] = await env.client.data_converter.decode(payloads, [ApplicationView])
            return view
        await env.sleep(timedelta(minutes=10))
    raise AssertionError("the application never completed")


async def check_runs(client: Client, inp: ApplicationInput, first_run_id: str, kwargs: dict, *, limit: int) -> int:
    """Every run replays; each stays near the threshold; how many runs there were."""
    histories = await runs_of(client, inp.application_id, first_run_id)
    replayer = Replayer(workflows=kwargs["workflows"], data_converter=client.data_converter)
    for history in histories:
        await replayer.replay_workflow(history)  # raises on any divergence
        assert len(history.events) < limit, len(history.events)
    return len(histories)


async def test_a_task_waiting_weeks_for_a_person_continues_as_new_and_completes(time_env, sample_json):
    fakes = FakeDepartments(portal_changed={"hrss"})  # every robot attempt fails: the task waits for a clerk
    queue = f"q-{uuid.uuid4()}"
    timing = Timing(poll_initial_s=30, retry_initial_s=0.1, continue_as_new_after_events=150)
    inp = application_input(sample_json, queue, timing=timing)
    kwargs = worker_kwargs(fakes)
    async with Worker(time_env.client, task_queue=queue, **kwargs):
        handle = await time_env.client.start_workflow(
            ApplicationWorkflow.run, inp, id=inp.application_id, task_queue=queue
        )
        await dispatched(time_env, handle, "hrss")
        for _ in range(30):  # a day at a time: the time-skipping server stalls on one long sleep across runs
            await wait_working_days(time_env, 1)
        latest = time_env.client.get_workflow_handle_for(ApplicationWorkflow.run, inp.application_id)
        # the newest run takes the clerk's completion: its validator finds the task still waiting for a person
        await latest.execute_update(
            ApplicationWorkflow.complete_manually,
            ManualCompletion(department="hrss", result=RESULTS["hrss"](fakes.uscc), completed_by="clerk-0007"),
        )
        view = await result_of(time_env, inp.application_id)
    assert view.status == "completed"
    runs = await check_runs(time_env.client, inp, handle.result_run_id, kwargs, limit=150 + 60)
    assert runs >= 3, runs  # 30 working days of digests are ~650 events in one run
    assert len([h for h in view.history if h.event == "continued_as_new"]) == runs - 1
    # the ladder went on across runs: 3 rungs, 3 re-escalations, then one digest a working day, none twice
    steps = [n for n in fakes.notifications if n.department == "hrss"]
    assert len({n.key for n in steps}) == len(steps)
    levels = [n.level for n in steps]
    assert levels[:6] == ["remind", "warn", "breach", "re_escalate", "re_escalate", "re_escalate"]
    assert set(levels[6:]) == {"digest"} and 25 <= len(levels[6:]) <= 31, levels
    assert len({n.planned_at.date() for n in steps if n.level == "digest"}) == len(levels[6:])
    assert {e.key for e in view.escalations if e.department == "hrss"} == {n.key for n in steps}
    # the states carried over: every other department completed once, hrss by the clerk
    assert Counter(fakes.dispatched) == {c: 1 for c in RESULTS if c != "hrss"}
    hrss = next(d for d in view.departments if d.code == "hrss")
    assert hrss.completed_by == "clerk-0007" and view.history[0].event == "submitted"


async def test_a_rejected_task_is_corrected_in_a_later_run(time_env, sample_json):
    # each department reviews once: the history passes 100 events before the clerk corrects (since patch LEAN a
    # new application writes far fewer events: without reviews it would stay below the threshold)
    fakes = FakeDepartments(reject={"psb_seal"}, reviews=1)
    queue = f"q-{uuid.uuid4()}"
    timing = Timing(poll_initial_s=30, retry_initial_s=0.1, continue_as_new_after_events=100)
    inp = application_input(sample_json, queue, timing=timing)
    kwargs = worker_kwargs(fakes)
    async with Worker(time_env.client, task_queue=queue, **kwargs):
        handle = await time_env.client.start_workflow(
            ApplicationWorkflow.run, inp, id=inp.application_id, task_queue=queue
        )
        latest = time_env.client.get_workflow_handle_for(ApplicationWorkflow.run, inp.application_id)
        for _ in range(100):  # rejected, and the run has continued as new while it waits for the clerk
            view = await latest.query(ApplicationWorkflow.status)
            states = {d.code: d.status for d in view.departments}
            if states["psb_seal"] is TaskStatus.REJECTED and any(h.event == "continued_as_new" for h in view.history):
                break
            await time_env.sleep(60)
        else:
            raise AssertionError(f"never rejected and continued: {states}")
        now = await time_env.get_current_time()
        renamed = inp.application.model_copy(
            update={"company": inp.application.company.model_copy(update={"name": "太原另一个名字科技有限公司"})}
        )
        with pytest.raises(WorkflowUpdateFailedError) as refused:  # what amr completed with still holds
            await latest.execute_update(
                ApplicationWorkflow.correct, Correction(application=renamed, corrected_at=now, requested_by="c")
            )
        assert "市场监督管理局已办结" in str(refused.value.cause)
        corrected = inp.application.model_copy(
            update={"seal": inp.application.seal.model_copy(update={"types": ["official", "financial"]})}
        )
        redo = await latest.execute_update(
            ApplicationWorkflow.correct, Correction(application=corrected, corrected_at=now, requested_by="clerk-0007")
        )
        view = await result_of(time_env, inp.application_id)
    assert redo == ["psb_seal"] and view.status == "completed"
    assert await check_runs(time_env.client, inp, handle.result_run_id, kwargs, limit=100 + 60) >= 2
    assert Counter(fakes.dispatched) == {**{c: 1 for c in RESULTS}, "psb_seal": 2}  # filed again once, corrected
    assert fakes.requests["psb_seal"][-1].application.seal.types == ["official", "financial"]
    assert fakes.requests["psb_seal"][-1].upstream["amr"]["uscc"] == fakes.uscc  # amr's result carried over
    assert fakes.dispatched.index("bank") > len(fakes.dispatched) - 3  # the bank waited for the corrected seal


async def test_a_slow_department_is_followed_across_runs(time_env, sample_json):
    fakes = SlowHrss()  # in review for its first 40 inquiries
    queue = f"q-{uuid.uuid4()}"
    timing = Timing(poll_initial_s=600, poll_max_s=3600, retry_initial_s=0.1, continue_as_new_after_events=150)
    inp = application_input(sample_json, queue, timing=timing)
    kwargs = worker_kwargs(fakes)
    async with Worker(time_env.client, task_queue=queue, **kwargs):
        handle = await time_env.client.start_workflow(
            ApplicationWorkflow.run, inp, id=inp.application_id, task_queue=queue
        )
        view = await result_of(time_env, inp.application_id)
    assert view.status == "completed"
    assert await check_runs(time_env.client, inp, handle.result_run_id, kwargs, limit=150 + 60) >= 2
    assert (
        fakes.dispatched.count("hrss") == 1 and fakes.inquiries["hrss"] == 40
    )  # asked on (no extra inquiry on resuming), never filed again
    hrss = next(d for d in view.departments if d.code == "hrss")
    assert hrss.status is TaskStatus.COMPLETED and hrss.receipt_no == "R-hrss"
