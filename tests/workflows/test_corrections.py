"""When departments say no and robots get stuck: correction, manual completion, withdrawal, callbacks.

On Temporal's time-skipping server, departments stood in by the fakes of test_application_workflow.
"""

from __future__ import annotations

import asyncio
import uuid

import pytest
from temporalio.client import WorkflowUpdateFailedError
from temporalio.worker import Worker

from domain.form import Application
from domain.status import ApplicationStatus, TaskStatus
from tests.workflows.test_application_workflow import RESULTS, FakeDepartments, application_input, worker_kwargs
from workflows.application import ApplicationWorkflow
from workflows.models import Correction, DepartmentCallback, ManualCompletion, Timing, Withdrawal


async def until(handle, predicate, what: str, tries: int = 300):
    for _ in range(tries):
        view = await handle.query(ApplicationWorkflow.status)
        if predicate(view):
            return view
        await asyncio.sleep(0.05)
    raise AssertionError(f"never reached: {what}; last view {view}")


def dept(view, code):
    return next(d for d in view.departments if d.code == code)


async def start(env, sample_json, fakes, **overrides):
    queue = f"q-{uuid.uuid4()}"
    inp = application_input(sample_json, queue, timing=Timing(poll_initial_s=30, retry_initial_s=0.1), **overrides)
    worker = Worker(env.client, task_queue=queue, **worker_kwargs(fakes))
    return inp, worker


def corrected(sample_json, **changes) -> Correction:
    data = {**sample_json, **changes}
    return Correction(
        application=Application.model_validate(data),
        corrected_at="2026-11-27T10:30:00+08:00",
        requested_by="clerk-0007",
    )


async def test_reject_then_correct_then_complete(time_env, sample_json):
    fakes = FakeDepartments(reject={"psb_seal"})
    inp, worker = await start(time_env, sample_json, fakes)
    async with worker:
        handle = await time_env.client.start_workflow(
            ApplicationWorkflow.run, inp, id=inp.application_id, task_queue=worker.task_queue
        )
        view = await until(handle, lambda v: dept(v, "psb_seal").status is TaskStatus.REJECTED, "psb_seal rejected")
        assert view.status is ApplicationStatus.NEEDS_CORRECTION
        assert dept(view, "psb_seal").reason == "名称重复"
        assert fakes.inquiries["psb_seal"] == 1  # a business "no" is never retried
        assert dept(view, "bank").status is TaskStatus.WAITING and dept(view, "bank").waiting_for == ["psb_seal"]

        # a correction may not change what a completed department (amr) relied on
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await handle.execute_update(
                ApplicationWorkflow.correct,
                corrected(sample_json, company={**sample_json["company"], "name": "太原另一个名字科技有限公司"}),
            )
        assert "市场监督管理局已办结" in str(refused.value.cause)
        # the same form rules apply: an invalid correction never reaches the workflow
        with pytest.raises(ValueError):
            corrected(sample_json, seal={"types": ["official", "official"]})

        redo = await handle.execute_update(
            ApplicationWorkflow.correct, corrected(sample_json, seal={"types": ["official", "financial"]})
        )
        assert redo == ["psb_seal"]
        view = await handle.result()

    assert view.status is ApplicationStatus.COMPLETED
    seal = dept(view, "psb_seal")
    assert seal.status is TaskStatus.COMPLETED and seal.round == 2
    # only the rejected department was filed again, with the corrected data
    assert fakes.dispatched.count("psb_seal") == 2 and fakes.dispatched.count("amr") == 1
    assert fakes.dispatched.count("tax") == 1
    assert fakes.requests["psb_seal"][1].application.seal.types == ["official", "financial"]
    assert fakes.requests["psb_seal"][1].upstream["amr"]["uscc"] == fakes.uscc
    # the application's history explains every step
    events = [(h.department, h.event) for h in view.history]
    assert ("psb_seal", "rejected") in events and (None, "corrected") in events
    assert events.index(("psb_seal", "rejected")) < events.index((None, "corrected"))
    assert [e for e in events if e[0] == "psb_seal"][-1] == ("psb_seal", "completed")


async def test_a_robot_that_gives_up_goes_to_a_person_then_the_rest_completes(time_env, sample_json):
    fakes = FakeDepartments(portal_changed={"psb_seal"})
    inp, worker = await start(time_env, sample_json, fakes)
    async with worker:
        handle = await time_env.client.start_workflow(
            ApplicationWorkflow.run, inp, id=inp.application_id, task_queue=worker.task_queue
        )
        view = await until(handle, lambda v: dept(v, "psb_seal").status is TaskStatus.MANUAL, "psb_seal manual")
        assert "人工" in dept(view, "psb_seal").reason
        assert dept(view, "bank").status is TaskStatus.WAITING
        # the result is checked against the department's schema
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await handle.execute_update(
                ApplicationWorkflow.complete_manually,
                ManualCompletion(department="psb_seal", result={"seal_code": "x"}, completed_by="clerk-0007"),
            )
        assert "结果格式" in str(refused.value.cause)
        with pytest.raises(WorkflowUpdateFailedError):  # tax is not waiting for a person
            await handle.execute_update(
                ApplicationWorkflow.complete_manually,
                ManualCompletion(department="tax", result=RESULTS["tax"](fakes.uscc), completed_by="clerk-0007"),
            )
        state = await handle.execute_update(
            ApplicationWorkflow.complete_manually,
            ManualCompletion(
                department="psb_seal",
                result={"seal_codes": {"official": "S-HAND-1"}},
                completed_by="clerk-0007",
                note="公安窗口现场备案",
            ),
        )
        assert state.status is TaskStatus.COMPLETED and state.completed_by == "clerk-0007"
        view = await handle.result()

    assert view.status is ApplicationStatus.COMPLETED
    assert dept(view, "psb_seal").result == {"seal_codes": {"official": "S-HAND-1"}}
    # the bank got the hand-recorded seal codes
    assert fakes.upstream["bank"]["psb_seal"]["seal_codes"] == {"official": "S-HAND-1"}
    assert ("psb_seal", "completed_manually") in [(h.department, h.event) for h in view.history]


async def test_withdrawal_before_approval_cancels_everything_and_tells_the_department(time_env, sample_json):
    fakes = FakeDepartments(hold={"amr": lambda f: True})
    inp, worker = await start(time_env, sample_json, fakes)
    async with worker:
        handle = await time_env.client.start_workflow(
            ApplicationWorkflow.run, inp, id=inp.application_id, task_queue=worker.task_queue
        )
        await until(handle, lambda v: dept(v, "amr").status is TaskStatus.IN_REVIEW, "amr in review")
        with pytest.raises(WorkflowUpdateFailedError):
            await handle.execute_update(ApplicationWorkflow.withdraw, Withdrawal(reason=" ", requested_by="clerk-0007"))
        view = await handle.execute_update(
            ApplicationWorkflow.withdraw, Withdrawal(reason="申请人决定暂缓设立", requested_by="clerk-0007")
        )
        assert view.status is ApplicationStatus.WITHDRAWN
        final = await handle.result()

    assert final.status is ApplicationStatus.WITHDRAWN
    assert final.withdrawal.reason == "申请人决定暂缓设立"
    assert {d.code: d.status for d in final.departments} == {c: TaskStatus.CANCELLED for c in RESULTS}
    # the one department that had the application was told; the others never received it
    assert fakes.withdrawn == [("amr", "R-amr")]
    assert fakes.dispatched == ["amr"]


async def test_withdrawal_after_approval_is_refused(time_env, sample_json):
    fakes = FakeDepartments(hold={"hrss": lambda f: True})
    inp, worker = await start(time_env, sample_json, fakes)
    async with worker:
        handle = await time_env.client.start_workflow(
            ApplicationWorkflow.run, inp, id=inp.application_id, task_queue=worker.task_queue
        )
        await until(handle, lambda v: dept(v, "amr").status is TaskStatus.COMPLETED, "amr approved")
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await handle.execute_update(
                ApplicationWorkflow.withdraw, Withdrawal(reason="不办了", requested_by="clerk-0007")
            )
        assert "营业执照已核准" in str(refused.value.cause)
        view = await handle.query(ApplicationWorkflow.status)
        assert view.status is ApplicationStatus.PROCESSING and view.withdrawal is None
        assert fakes.withdrawn == []
        await handle.terminate("test over")


async def test_callbacks_complete_a_task_and_late_or_wrong_ones_change_nothing(time_env, sample_json):
    fakes = FakeDepartments(hold={"tax": lambda f: True})
    inp, worker = await start(time_env, sample_json, fakes)
    async with worker:
        handle = await time_env.client.start_workflow(
            ApplicationWorkflow.run, inp, id=inp.application_id, task_queue=worker.task_queue
        )
        await until(handle, lambda v: dept(v, "tax").status is TaskStatus.IN_REVIEW, "tax in review")
        result = RESULTS["tax"](fakes.uscc)
        with pytest.raises(WorkflowUpdateFailedError) as wrong:
            await handle.execute_update(
                ApplicationWorkflow.department_callback,
                DepartmentCallback(department="tax", receipt_no="R-other", status="completed", result=result),
            )
        assert "不符" in str(wrong.value.cause)
        with pytest.raises(WorkflowUpdateFailedError) as done:  # amr finished long ago: nothing to call back
            await handle.execute_update(
                ApplicationWorkflow.department_callback,
                DepartmentCallback(department="amr", receipt_no="R-amr", status="completed", result=result),
            )
        assert "completed" in str(done.value.cause)
        polls = fakes.inquiries["tax"]
        await handle.execute_update(
            ApplicationWorkflow.department_callback,
            DepartmentCallback(department="tax", receipt_no="R-tax", status="completed", result=result),
        )
        view = await handle.result()
        assert dept(view, "tax").status is TaskStatus.COMPLETED
        assert dept(view, "tax").result["taxpayer_id"] == fakes.uscc
        assert fakes.inquiries["tax"] == polls  # the callback answered; no further inquiry
        # a late duplicate: the task has finished, nothing changes
        with pytest.raises(Exception):  # noqa: B017 - the workflow is closed: the server refuses the update
            await handle.execute_update(
                ApplicationWorkflow.department_callback,
                DepartmentCallback(department="tax", receipt_no="R-tax", status="completed", result=result),
            )
        again = await handle.query(ApplicationWorkflow.status)
        assert dept(again, "tax") == dept(view, "tax")


async def _wait_after_first_answer_s(handle, code: str) -> float:
    """Seconds (workflow time) from the first answer "in review" (the fakes give it at the first inquiry; the
    real API activity with the filing) to the next inquiry's scheduling."""
    answered_at = next_at = None
    scheduled: dict[int, str] = {}
    async for e in handle.fetch_history_events():
        if e.HasField("activity_task_scheduled_event_attributes"):
            scheduled[e.event_id] = e.activity_task_scheduled_event_attributes.activity_id
            if answered_at is not None and next_at is None and scheduled[e.event_id].startswith(f"{code}.inquire."):
                next_at = e.event_time.ToDatetime()
        elif e.HasField("activity_task_completed_event_attributes") and answered_at is None:
            if scheduled.get(e.activity_task_completed_event_attributes.scheduled_event_id) == f"{code}.inquire.r1.1":
                answered_at = e.event_time.ToDatetime()
    assert answered_at is not None and next_at is not None
    return (next_at - answered_at).total_seconds()


@pytest.mark.parametrize("called_back_s", [None, 0.0, 900.0])
async def test_an_api_departments_inquiry_waits_for_its_callback_when_told_so(time_env, sample_json, called_back_s):
    fakes = FakeDepartments(hold={"tax": lambda f: f.inquiries.get("tax", 0) < 2})
    queue = f"q-{uuid.uuid4()}"
    timing = Timing(poll_initial_s=30, retry_initial_s=0.1, api_callback_poll_initial_s=called_back_s)
    inp = application_input(sample_json, queue, timing=timing)
    async with Worker(time_env.client, task_queue=queue, **worker_kwargs(fakes)):
        handle = await time_env.client.start_workflow(
            ApplicationWorkflow.run, inp, id=inp.application_id, task_queue=queue
        )
        view = await handle.result()
    assert dept(view, "tax").status is TaskStatus.COMPLETED  # the fallback inquiry answered (no callback came)
    waited = await _wait_after_first_answer_s(handle, "tax")
    # 900 s: the callback's fallback; None or 0: polling from poll_initial_s on, as before
    expected = called_back_s or 30.0
    assert expected <= waited < expected + 5, waited
