"""Withdrawal holds only until the business licence is approved, at both ends: kaiban refuses once it knows,
and a department that has approved meanwhile refuses too (kaiban then tells the clerk and goes on); a robot
still filing is stopped before the department is told.

On Temporal's time-skipping server, departments stood in by the fakes of test_application_workflow.
"""

from __future__ import annotations

import asyncio
import time

import pytest
from temporalio import activity
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError

from activities.models import WITHDRAWAL_REFUSED, ActivityName, DispatchInput, InquireInput, WithdrawInput
from domain.results import Inquiry, Receipt
from domain.status import ApplicationStatus, TaskStatus
from tests.workflows.test_application_workflow import RESULTS, FakeDepartments
from tests.workflows.test_corrections import dept, start, until
from workflows.application import ApplicationWorkflow
from workflows.models import Timing, Withdrawal

WITHDRAWAL = Withdrawal(reason="申请人决定暂缓设立", requested_by="clerk-0007")
REFUSAL = "部门已办结该件（受理号 R-amr），不能撤回：撤销已核准的事项须另行依法申请"


class ApprovedMeanwhile(FakeDepartments):
    """amr approves the licence while kaiban still sees it in review (its last inquiry was before), and
    refuses the withdrawal; asked again after that, it answers completed."""

    def __init__(self) -> None:
        super().__init__(hold={"amr": lambda f: not f.refused})
        self.refused: list[str] = []

    @activity.defn(name=ActivityName.WITHDRAW)
    async def withdraw(self, inp: WithdrawInput) -> None:
        self.withdrawn.append((inp.endpoint.code, inp.receipt_no))
        if inp.endpoint.code == "amr":
            self.refused.append(inp.endpoint.code)
            raise ApplicationError(REFUSAL, type=WITHDRAWAL_REFUSED, non_retryable=True)


async def test_a_withdrawal_the_licence_department_refuses_is_refused_and_the_application_goes_on(
    time_env, sample_json
):
    fakes = ApprovedMeanwhile()
    inp, worker = await start(time_env, sample_json, fakes)
    async with worker:
        handle = await time_env.client.start_workflow(
            ApplicationWorkflow.run, inp, id=inp.application_id, task_queue=worker.task_queue
        )
        await until(handle, lambda v: dept(v, "amr").status is TaskStatus.IN_REVIEW, "amr in review")
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await handle.execute_update(ApplicationWorkflow.withdraw, WITHDRAWAL)
        reason = str(refused.value.cause)
        assert "营业执照已核准" in reason and REFUSAL in reason
        assert getattr(refused.value.cause, "type", None) == WITHDRAWAL_REFUSED
        view = await handle.query(ApplicationWorkflow.status)
        assert view.withdrawal is None and view.status is not ApplicationStatus.WITHDRAWN
        assert dept(view, "amr").status is not TaskStatus.CANCELLED
        final = await handle.result()

    # not withdrawn: the licence is read from the department, and every other department goes on
    assert final.status is ApplicationStatus.COMPLETED and final.withdrawal is None
    assert {d.code: d.status for d in final.departments} == {c: TaskStatus.COMPLETED for c in RESULTS}
    assert dept(final, "amr").result["uscc"] == fakes.uscc
    assert fakes.withdrawn == [("amr", "R-amr")]  # only the licence department was asked
    events = [(h.department, h.event) for h in final.history]
    assert (None, "withdrawal_requested") in events and ("amr", "withdrawal_refused") in events
    assert (None, "withdrawn") not in events


async def test_after_the_department_refused_a_second_withdrawal_is_refused_at_once(time_env, sample_json):
    fakes = ApprovedMeanwhile()
    fakes.hold = {"amr": lambda f: True, "psb_seal": lambda f: True}  # amr stays "in review" for kaiban
    inp, worker = await start(time_env, sample_json, fakes)
    async with worker:
        handle = await time_env.client.start_workflow(
            ApplicationWorkflow.run, inp, id=inp.application_id, task_queue=worker.task_queue
        )
        await until(handle, lambda v: dept(v, "amr").status is TaskStatus.IN_REVIEW, "amr in review")
        with pytest.raises(WorkflowUpdateFailedError):
            await handle.execute_update(ApplicationWorkflow.withdraw, WITHDRAWAL)
        with pytest.raises(WorkflowUpdateFailedError) as again:
            await handle.execute_update(ApplicationWorkflow.withdraw, WITHDRAWAL)
        assert "营业执照已核准" in str(again.value.cause)
        assert fakes.withdrawn == [("amr", "R-amr")]  # the validator answered: the department not asked again
        await handle.terminate("test over")


class FilingRobot(FakeDepartments):
    """amr's robot is mid-form for a while, heartbeating at every step; the withdrawal must find it stopped."""

    def __init__(self) -> None:
        super().__init__(hold={"amr": lambda f: True})
        self.filing = asyncio.Event()
        self.stopped_at: float | None = None
        self.withdrawn_at: float | None = None
        self.robot_cancelled = False

    @activity.defn(name=ActivityName.DISPATCH)
    async def dispatch(self, inp: DispatchInput) -> Receipt:
        if inp.endpoint.code != "amr":
            return await super().dispatch(inp)
        self.dispatched.append("amr")
        self.filing.set()
        try:
            for step in range(600):  # one form step every 50 ms, each a heartbeat
                activity.heartbeat(f"form:step{step}")
                await asyncio.sleep(0.05)
        except asyncio.CancelledError:
            self.robot_cancelled = True
            await asyncio.sleep(0.3)  # closing the browser page takes a moment
            self.stopped_at = time.monotonic()
            raise
        self.stopped_at = time.monotonic()
        return Receipt(receipt_no="R-amr")

    @activity.defn(name=ActivityName.WITHDRAW)
    async def withdraw(self, inp: WithdrawInput) -> None:
        self.withdrawn_at = time.monotonic()
        self.withdrawn.append((inp.endpoint.code, inp.receipt_no))


async def test_a_robot_still_filing_is_stopped_before_the_department_is_told(time_env, sample_json):
    fakes = FilingRobot()
    timing = Timing(poll_initial_s=30, retry_initial_s=0.1, robot_heartbeat_timeout_s=1)
    inp, worker = await start(time_env, sample_json, fakes)
    inp = inp.model_copy(update={"timing": timing})
    async with worker:
        handle = await time_env.client.start_workflow(
            ApplicationWorkflow.run, inp, id=inp.application_id, task_queue=worker.task_queue
        )
        await asyncio.wait_for(fakes.filing.wait(), timeout=10)
        view = await handle.execute_update(ApplicationWorkflow.withdraw, WITHDRAWAL)
        final = await handle.result()

    assert view.status is ApplicationStatus.WITHDRAWN and final.status is ApplicationStatus.WITHDRAWN
    assert {d.code: d.status for d in final.departments} == {c: TaskStatus.CANCELLED for c in RESULTS}
    # the cancellation reached the robot (its heartbeat), and the department was told after it had stopped
    assert fakes.robot_cancelled
    assert fakes.stopped_at is not None and fakes.withdrawn_at is not None
    assert fakes.stopped_at <= fakes.withdrawn_at
    assert fakes.withdrawn == [("amr", None)]  # no receipt yet: the department looks the application up


class SlowInquiry(FakeDepartments):
    """amr is being asked for its result (an inquiry in flight) when the withdrawal arrives."""

    def __init__(self) -> None:
        super().__init__()
        self.asking = asyncio.Event()

    @activity.defn(name=ActivityName.INQUIRE)
    async def inquire(self, inp: InquireInput) -> Inquiry:
        if inp.endpoint.code != "amr":
            return await super().inquire(inp)
        self.asking.set()
        await asyncio.sleep(1.0)
        return Inquiry(status="in_review")


async def test_a_withdrawal_during_an_inquiry_withdraws_and_does_not_leave_the_task_to_a_person(time_env, sample_json):
    fakes = SlowInquiry()
    inp, worker = await start(time_env, sample_json, fakes)
    async with worker:
        handle = await time_env.client.start_workflow(
            ApplicationWorkflow.run, inp, id=inp.application_id, task_queue=worker.task_queue
        )
        await asyncio.wait_for(fakes.asking.wait(), timeout=10)
        view = await asyncio.wait_for(handle.execute_update(ApplicationWorkflow.withdraw, WITHDRAWAL), timeout=30)
        final = await handle.result()
    assert view.status is ApplicationStatus.WITHDRAWN
    assert dept(final, "amr").status is TaskStatus.CANCELLED  # not ``manual`` ("自动办理未能完成")
    assert fakes.withdrawn == [("amr", "R-amr")]
