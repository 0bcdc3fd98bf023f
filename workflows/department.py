"""One department's task, as its own workflow: dispatch, then wait for the department's result.

Deterministic orchestration only. Failures of a channel are retried by Temporal's
retry policy (back-off, bounded attempts); a department's "no" (BusinessRejection) is a
business outcome and is never retried; a robot that cannot finish (portal changed,
attempts exhausted) leaves the task ``manual`` for a clerk. Every change of state is
signalled to the application workflow, which shows the whole picture.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from activities.models import (
        BUSINESS_REJECTION,
        NON_RETRYABLE_TYPES,
        DepartmentEndpoint,
        DispatchInput,
        InquireInput,
        Notification,
        PlanTaskDeadlineInput,
        WithdrawInput,
    )
    from domain.requests import DepartmentRequest
    from domain.deadlines import DeadlinePlan, PlannedStep
    from domain.escalation import escalation_message
    from domain.results import Inquiry, Receipt, validate_result
    from domain.status import Channel, TaskStatus
    from workflows import visibility
    from workflows.ladder import Ladder
    from workflows.models import (
        DepartmentCallback,
        DepartmentProgress,
        DepartmentState,
        DepartmentTaskInput,
        Escalation,
        EscalationFired,
        ExtendTaskDeadline,
        ManualResult,
        Redispatch,
    )
    from workflows.notification import NotificationWorkflow

PROGRESS_SIGNAL = "department_progress"
ESCALATION_SIGNAL = "escalation_fired"
EXTEND_SIGNAL = "extend_deadline"
REDISPATCH_SIGNAL = "redispatch"
MANUAL_SIGNAL = "manual_result"
PLAN_TIMEOUT = timedelta(seconds=10)


async def start_notification(esc: Escalation, *, application_id: str, window_id: str, subject: str) -> None:
    """Hand one fired step to its own Notification workflow (abandoned: it outlives its starter)."""
    n = Notification(
        key=esc.key, application_id=application_id, department=esc.department, level=esc.level,
        audience=esc.audience, sequence=esc.sequence, due_at=esc.due_at, planned_at=esc.planned_at,
        fired_at=esc.fired_at, window_id=window_id,
        message=escalation_message(
            level=esc.level, audience=esc.audience, application_id=application_id, window_id=window_id,
            subject=subject, due_at=esc.due_at,
        ),
    )
    await workflow.start_child_workflow(
        NotificationWorkflow.run, n, id=f"notify.{esc.key}", parent_close_policy=ParentClosePolicy.ABANDON
    )


@workflow.defn(name="DepartmentTask")
class DepartmentTaskWorkflow:
    def __init__(self) -> None:
        self._inp: DepartmentTaskInput | None = None
        self._state: DepartmentState | None = None
        self._ladder: Ladder | None = None
        self._ladder_task: asyncio.Future | None = None
        self._ladder_stopped = True
        self._redispatch: Redispatch | None = None
        self._manual: ManualResult | None = None
        self._callback: DepartmentCallback | None = None

    @workflow.query(name="state")
    def state(self) -> DepartmentState | None:
        return self._state

    @workflow.signal(name=EXTEND_SIGNAL)
    def extend_deadline(self, ext: ExtendTaskDeadline) -> None:
        if self._ladder is not None and not self._ladder_stopped:
            self._ladder.request_extension(ext.new_due_at)

    @workflow.signal(name=REDISPATCH_SIGNAL)
    def redispatch(self, redo: Redispatch) -> None:
        if self._state is not None and self._state.status is TaskStatus.REJECTED:
            self._redispatch = redo

    @workflow.signal(name=MANUAL_SIGNAL)
    def manual_result(self, manual: ManualResult) -> None:
        if self._state is not None and self._state.status is TaskStatus.MANUAL:
            self._manual = manual

    @workflow.update(name="department_callback")
    def department_callback(self, callback: DepartmentCallback) -> str:
        """A department API reports its result; the next wait for it ends at once."""
        self._callback = callback
        return "accepted"

    @department_callback.validator
    def _validate_callback(self, callback: DepartmentCallback) -> None:
        if self._state is None or self._state.status not in (TaskStatus.DISPATCHED, TaskStatus.IN_REVIEW):
            status = self._state.status.value if self._state else "waiting"
            raise ValueError(f"该事项当前状态为 {status}，回调未改变任何状态")
        if callback.receipt_no != self._state.receipt_no:
            raise ValueError(f"回执编号 {callback.receipt_no} 与该事项的受理编号不符，回调未改变任何状态")

    @workflow.run
    async def run(self, inp: DepartmentTaskInput) -> DepartmentState:
        self._inp = inp
        d = inp.department
        self._state = DepartmentState(code=d.code, name=d.name, channel=d.channel)
        request = inp.request
        try:
            while True:
                await self._start_round()
                status = await self._dispatch_and_follow(request)
                if status is TaskStatus.COMPLETED:
                    break
                if status is TaskStatus.REJECTED:
                    # back with the clerk (补正): the department is not late meanwhile
                    await self._stop_ladder()
                    await workflow.wait_condition(lambda: self._redispatch is not None)
                    assert self._redispatch is not None
                    request, self._redispatch = self._redispatch.request, None
                    await self._update(status=TaskStatus.WAITING, round=self._state.round + 1, receipt_no=None,
                                       reason=None, completed_at=None)
                    continue
                # MANUAL: a clerk finishes the task by hand; it is still late if late
                await workflow.wait_condition(lambda: self._manual is not None)
                assert self._manual is not None
                await self._finish(TaskStatus.COMPLETED, result=self._manual.result,
                                   completed_by=self._manual.completed_by, reason=self._manual.note)
                break
        except asyncio.CancelledError:
            await self._stop_ladder()
            await self._withdrawn(request)
            return self._state
        # (no await in a `finally`: an evicted workflow's coroutine is closed and must not await)
        await self._stop_ladder()
        return self._state

    async def _withdrawn(self, request: DepartmentRequest) -> None:
        """The application was withdrawn: tell the department, then close.

        Always asked, even without a receipt: a filing cut short between submit and receipt may be at
        the department already; the withdrawal looks the application up and is quiet if it is not there.
        """
        assert self._inp is not None and self._state is not None
        d = self._inp.department
        try:
            await workflow.execute_activity(
                "withdraw_from_department",
                WithdrawInput(endpoint=self._endpoint(), application_id=self._inp.application_id,
                              receipt_no=self._state.receipt_no, reason="申请人撤回申请"),
                **self._activity_options(self._inp),
            )
        except ActivityError as err:
            workflow.logger.warning("department %s could not be told of the withdrawal: %s", d.code, err)
        await self._finish(TaskStatus.CANCELLED, reason="申请人撤回申请，已终止办理")

    def _endpoint(self) -> DepartmentEndpoint:
        assert self._inp is not None
        d = self._inp.department
        return DepartmentEndpoint(code=d.code, channel=d.channel, base_url=d.base_url, credentials_ref=d.credentials_ref)

    async def _start_round(self) -> None:
        """Dispatch starts now: plan its deadline, set the ladder going."""
        assert self._inp is not None and self._state is not None
        d = self._inp.department
        now = workflow.now()
        plan = await self._plan(PlanTaskDeadlineInput(dispatched_at=now, budget_minutes=d.budget_minutes))
        self._ladder = Ladder(plan)
        ladder = self._ladder
        self._ladder_stopped = False
        await self._update(dispatched_at=now, due_at=plan.due_at, sla_state="on_track")  # the application learns it at once
        self._ladder_task = asyncio.ensure_future(
            ladder.run(
                done=lambda: self._ladder_stopped,
                fire=lambda step: self._escalate(self._inp, step),
                replan=lambda due: self._replan(self._inp, due),
                extended=lambda: self._update(due_at=ladder.due_at, sla_state=ladder.sla_state),
                plan_more=lambda n: self._plan(
                    PlanTaskDeadlineInput(
                        dispatched_at=plan.started_at, budget_minutes=d.budget_minutes,
                        due_at=ladder.due_at if ladder.version else None, re_escalations=n,
                    )
                ),
            )
        )

    async def _stop_ladder(self) -> None:
        self._ladder_stopped = True
        if self._ladder_task is not None:
            task, self._ladder_task = self._ladder_task, None
            await task

    async def _dispatch_and_follow(self, request: DepartmentRequest) -> TaskStatus:
        """File the task, then follow it until the department decides: completed, rejected or manual."""
        inp = self._inp
        assert inp is not None and self._state is not None
        d = inp.department
        endpoint = self._endpoint()
        options = self._activity_options(inp)
        try:
            receipt: Receipt = await workflow.execute_activity(
                "dispatch_to_department", DispatchInput(endpoint=endpoint, request=request), result_type=Receipt, **options
            )
        except ActivityError as err:
            return await self._failed(err)
        await self._update(status=TaskStatus.DISPATCHED, receipt_no=receipt.receipt_no)

        delay = inp.timing.poll_initial_s
        inquiry: Inquiry | None = None
        while True:
            if inquiry is None:
                try:
                    inquiry = await workflow.execute_activity(
                        "inquire_department",
                        InquireInput(endpoint=endpoint, application_id=inp.application_id, receipt_no=receipt.receipt_no),
                        result_type=Inquiry,
                        **options,
                    )
                except ActivityError as err:
                    return await self._failed(err)
            if inquiry.status == "completed":
                try:
                    result = validate_result(d.code, inquiry.result or {})
                except ValueError as exc:
                    workflow.logger.warning("department result does not match its schema: %s", exc)
                    return await self._finish(TaskStatus.MANUAL, reason=f"部门返回结果格式不符，需人工核对：{exc}")
                return await self._finish(TaskStatus.COMPLETED, result=result)
            if inquiry.status == "rejected":
                return await self._finish(TaskStatus.REJECTED, reason=inquiry.reason or "部门退回，需补正")
            if inquiry.status == "withdrawn":  # withdrawn at the department, not through kaiban: a person must look
                return await self._finish(TaskStatus.MANUAL, reason="部门系统显示该件已撤回，需窗口人工核实")
            if self._state.status is not TaskStatus.IN_REVIEW:
                await self._update(status=TaskStatus.IN_REVIEW)
            # Still reviewing: ask again later, backing off (a durable timer); a callback ends the wait at once.
            inquiry = None
            try:
                await workflow.wait_condition(lambda: self._callback is not None, timeout=timedelta(seconds=delay))
            except asyncio.TimeoutError:
                delay = min(delay * 1.5, inp.timing.poll_max_s)
                continue
            callback, self._callback = self._callback, None
            assert callback is not None
            status = {"processing": "in_review"}.get(callback.status, callback.status)
            if status in ("in_review", "completed", "rejected", "withdrawn"):
                inquiry = Inquiry(status=status, result=callback.result, reason=callback.reason)

    # -- deadline -------------------------------------------------------------------------------

    async def _plan(self, inp: PlanTaskDeadlineInput) -> DeadlinePlan:
        return await workflow.execute_local_activity(
            "plan_task_deadline", inp, result_type=DeadlinePlan, start_to_close_timeout=PLAN_TIMEOUT
        )

    async def _replan(self, inp: DepartmentTaskInput, new_due_at: datetime) -> DeadlinePlan:
        assert self._state is not None and self._state.dispatched_at is not None
        plan = await self._plan(
            PlanTaskDeadlineInput(
                dispatched_at=self._state.dispatched_at, budget_minutes=inp.department.budget_minutes, due_at=new_due_at
            )
        )
        workflow.logger.info("department deadline extended to %s", plan.due_at.isoformat())
        return plan

    async def _escalate(self, inp: DepartmentTaskInput, step: PlannedStep) -> None:
        assert self._ladder is not None
        d = inp.department
        esc = Escalation(
            key=f"{inp.application_id}.{d.code}.r{self._state.round}.v{self._ladder.version}.s{step.sequence}",
            department=d.code, level=step.level, audience=step.audience, sequence=step.sequence,
            due_at=self._ladder.due_at, planned_at=step.at, fired_at=workflow.now(),
        )
        workflow.logger.info("escalation %s to %s for department %s", step.level, step.audience, d.code)
        await self._update(sla_state=self._ladder.sla_state)
        await start_notification(
            esc, application_id=inp.application_id, window_id=inp.request.application.window.window_id,
            subject=f"{d.name}·{d.task}" if d.task else d.name,
        )
        parent = workflow.info().parent
        if parent is not None:
            await workflow.get_external_workflow_handle(parent.workflow_id).signal(
                ESCALATION_SIGNAL, EscalationFired(escalation=esc)
            )

    def _upsert_visibility(self) -> None:
        assert self._state is not None
        updates = [visibility.STATUS.value_set(self._state.status.value)]
        if self._state.due_at is not None:
            updates.append(visibility.DUE_AT.value_set(self._state.due_at))
        if self._state.sla_state is not None:
            updates.append(visibility.SLA_STATE.value_set(self._state.sla_state))
        workflow.upsert_search_attributes(updates)

    # -- helpers ----------------------------------------------------------------------------------

    @staticmethod
    def _activity_options(inp: DepartmentTaskInput) -> dict:
        t = inp.timing
        robot = inp.department.channel is Channel.ROBOT
        return {
            "task_queue": inp.activity_task_queue,
            "start_to_close_timeout": timedelta(seconds=t.robot_task_timeout_s if robot else t.api_task_timeout_s),
            "heartbeat_timeout": timedelta(seconds=t.robot_heartbeat_timeout_s) if robot else None,
            "retry_policy": RetryPolicy(
                initial_interval=timedelta(seconds=t.retry_initial_s),
                backoff_coefficient=2.0,
                maximum_interval=timedelta(seconds=t.retry_max_interval_s),
                maximum_attempts=t.robot_max_attempts if robot else t.api_max_attempts,
                non_retryable_error_types=NON_RETRYABLE_TYPES,
            ),
        }

    async def _failed(self, err: ActivityError) -> TaskStatus:
        cause = err.cause
        if isinstance(cause, ApplicationError) and cause.type == BUSINESS_REJECTION:
            return await self._finish(TaskStatus.REJECTED, reason=cause.message)
        detail = cause.message if isinstance(cause, ApplicationError) else str(cause or err)
        evidence = None
        if isinstance(cause, ApplicationError) and cause.details and isinstance(cause.details[0], dict):
            evidence = {k: str(v) for k, v in cause.details[0].items()}
        workflow.logger.warning("department task needs a person: %s", detail)
        return await self._finish(
            TaskStatus.MANUAL, reason=f"自动办理未能完成，需窗口人工处理：{detail}", evidence=evidence
        )

    async def _finish(self, status: TaskStatus, **changes) -> TaskStatus:
        finished_at = workflow.now() if status in (TaskStatus.COMPLETED, TaskStatus.CANCELLED) else None
        await self._update(status=status, completed_at=finished_at, **changes)
        return status

    async def _update(self, **changes) -> None:
        assert self._state is not None
        self._state = self._state.model_copy(update={**changes, "updated_at": workflow.now()})
        self._upsert_visibility()
        parent = workflow.info().parent
        if parent is not None:
            await workflow.get_external_workflow_handle(parent.workflow_id).signal(
                PROGRESS_SIGNAL, DepartmentProgress(state=self._state)
            )
