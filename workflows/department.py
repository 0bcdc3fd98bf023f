"""One department's task, as its own workflow: dispatch, then wait for the department's result.

Deterministic orchestration only. Failures of a channel are retried by Temporal's
retry policy (back-off, bounded attempts); a department's "no" (BusinessRejection) is a
business outcome and is never retried; a robot that cannot finish (portal changed,
attempts exhausted) leaves the task ``manual`` for a clerk. Every change of state is
signalled to the application workflow, which shows the whole picture.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.models import BUSINESS_REJECTION, NON_RETRYABLE_TYPES, DepartmentEndpoint, DispatchInput, InquireInput
    from domain.results import Inquiry, Receipt, validate_result
    from domain.status import Channel, TaskStatus
    from workflows.models import DepartmentProgress, DepartmentState, DepartmentTaskInput

PROGRESS_SIGNAL = "department_progress"


@workflow.defn(name="DepartmentTask")
class DepartmentTaskWorkflow:
    def __init__(self) -> None:
        self._state: DepartmentState | None = None

    @workflow.query(name="state")
    def state(self) -> DepartmentState | None:
        return self._state

    @workflow.run
    async def run(self, inp: DepartmentTaskInput) -> DepartmentState:
        d = inp.department
        self._state = DepartmentState(code=d.code, name=d.name, channel=d.channel, dispatched_at=workflow.now())
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
        parent = workflow.info().parent
        if parent is not None:
            await workflow.get_external_workflow_handle(parent.workflow_id).signal(
                PROGRESS_SIGNAL, DepartmentProgress(state=self._state)
            )
