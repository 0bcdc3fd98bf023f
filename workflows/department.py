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
    )
    from domain.deadlines import DeadlinePlan, PlannedStep
    from domain.escalation import escalation_message
    from domain.results import Inquiry, Receipt, validate_result
    from domain.status import Channel, TaskStatus
    from workflows import visibility
    from workflows.ladder import Ladder
    from workflows.models import (
        DepartmentProgress,
        DepartmentState,
        DepartmentTaskInput,
        Escalation,
        EscalationFired,
        ExtendTaskDeadline,
    )
    from workflows.notification import NotificationWorkflow

PROGRESS_SIGNAL = "department_progress"
ESCALATION_SIGNAL = "escalation_fired"
EXTEND_SIGNAL = "extend_deadline"
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
        self._state: DepartmentState | None = None
        self._ladder: Ladder | None = None
        self._done = False

    @workflow.query(name="state")
    def state(self) -> DepartmentState | None:
        return self._state

    @workflow.signal(name=EXTEND_SIGNAL)
    def extend_deadline(self, ext: ExtendTaskDeadline) -> None:
        if self._ladder is not None and not self._done:
            self._ladder.request_extension(ext.new_due_at)

    @workflow.run
    async def run(self, inp: DepartmentTaskInput) -> DepartmentState:
        d = inp.department
        now = workflow.now()
        plan = await self._plan(PlanTaskDeadlineInput(dispatched_at=now, budget_minutes=d.budget_minutes))
        self._ladder = Ladder(plan)
        self._state = DepartmentState(
            code=d.code, name=d.name, channel=d.channel, dispatched_at=now, due_at=plan.due_at, sla_state="on_track"
        )
        await self._update()  # the application learns the deadline at once; visibility is set
        ladder = asyncio.ensure_future(
            self._ladder.run(
                done=lambda: self._done,
                fire=lambda step: self._escalate(inp, step),
                replan=lambda due: self._replan(inp, due),
                extended=lambda: self._update(due_at=self._ladder.due_at, sla_state=self._ladder.sla_state),
                plan_more=lambda n: self._plan(
                    PlanTaskDeadlineInput(
                        dispatched_at=plan.started_at, budget_minutes=d.budget_minutes,
                        due_at=self._ladder.due_at if self._ladder.version else None,
                        re_escalations=n,
                    )
                ),
            )
        )
        try:
            return await self._work(inp)
        finally:
            self._done = True
            await ladder

    async def _work(self, inp: DepartmentTaskInput) -> DepartmentState:
        d = inp.department
        assert self._state is not None
        endpoint = DepartmentEndpoint(code=d.code, channel=d.channel, base_url=d.base_url, credentials_ref=d.credentials_ref)
        options = self._activity_options(inp)

        try:
            receipt: Receipt = await workflow.execute_activity(
                "dispatch_to_department",
                DispatchInput(endpoint=endpoint, request=inp.request),
                result_type=Receipt,
                **options,
            )
        except ActivityError as err:
            return await self._failed(err)
        await self._update(status=TaskStatus.DISPATCHED, receipt_no=receipt.receipt_no)

        delay = inp.timing.poll_initial_s
        while True:
            try:
                inquiry: Inquiry = await workflow.execute_activity(
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
            if self._state.status is not TaskStatus.IN_REVIEW:
                await self._update(status=TaskStatus.IN_REVIEW)
            # The department is still reviewing: ask again later, backing off (a durable timer).
            await workflow.sleep(timedelta(seconds=delay))
            delay = min(delay * 1.5, inp.timing.poll_max_s)

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
            key=f"{inp.application_id}.{d.code}.v{self._ladder.version}.s{step.sequence}",
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

    async def _failed(self, err: ActivityError) -> DepartmentState:
        cause = err.cause
        if isinstance(cause, ApplicationError) and cause.type == BUSINESS_REJECTION:
            return await self._finish(TaskStatus.REJECTED, reason=cause.message)
        detail = cause.message if isinstance(cause, ApplicationError) else str(cause or err)
        workflow.logger.warning("department task needs a person: %s", detail)
        return await self._finish(TaskStatus.MANUAL, reason=f"自动办理未能完成，需窗口人工处理：{detail}")

    async def _finish(self, status: TaskStatus, *, result: dict | None = None, reason: str | None = None) -> DepartmentState:
        await self._update(status=status, result=result, reason=reason, completed_at=workflow.now())
        assert self._state is not None
        return self._state

    async def _update(self, **changes) -> None:
        assert self._state is not None
        self._state = self._state.model_copy(update={**changes, "updated_at": workflow.now()})
        self._upsert_visibility()
        parent = workflow.info().parent
        if parent is not None:
            await workflow.get_external_workflow_handle(parent.workflow_id).signal(
                PROGRESS_SIGNAL, DepartmentProgress(state=self._state)
            )
