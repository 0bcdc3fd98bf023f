"""One department's task inside the application workflow: dispatch, then follow it to the department's result.

Deterministic orchestration only. A department task is not a workflow of its own: it is an
object the application workflow runs as one of its coroutines, so that the whole opening of an
enterprise is one history (a child workflow per department cost about four times the server
work for the same result, see BENCHMARKS.md). Failures of a channel are retried by Temporal's
retry policy: an outage (a department down for an hour, a portal in maintenance) with back-off at a
bounded interval and no attempt limit while the deadline ladder runs and escalates; a department's
"no" (BusinessRejection) is a business outcome and is never retried; a task that cannot go on by
itself (portal changed, credentials refused, a failure that is no outage and kept failing) is left
``manual`` for a clerk, who completes it by hand or, once the cause is fixed, sends it back to its
channel (``send_back``: dispatched again as a new round, its deadline planned from then). Every change
of state is reported to the application through ``on_change`` at once (no signal, no extra workflow
task).

A robot department whose portal account is swept (``Timing.swept_poll_initial_s``, workflows/sweeper.py) learns
its result from the sweep through the same update as an API's callback; the filing wakes the account's
sweeper (the dispatch activity signals it; in histories from before patch PER_EVENT, the task did) and the
task makes its own first inquiry (the fallback) only after that wait. An API department is given kaiban's
callback URL with the filing and posts its decision there (the same update): its task's first inquiry, the
fallback, comes ``Timing.api_callback_poll_initial_s`` after filing (None or 0: from ``poll_initial_s`` on).

Activity ids name the department and the round (``tax.dispatch.r1``, ``tax.inquire.r1.3``), so
the pending activities of an application read plainly in Temporal's UI.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.workflow import ActivityCancellationType

with workflow.unsafe.imports_passed_through():
    from activities.models import (
        BUSINESS_REJECTION,
        NON_RETRYABLE_TYPES,
        WITHDRAWAL_REFUSED,
        ActivityName,
        DepartmentEndpoint,
        DispatchInput,
        InquireInput,
        WithdrawInput,
    )
    from domain.deadlines import DeadlinePlan, PlannedStep
    from domain.requests import DepartmentRequest
    from domain.results import Inquiry, Receipt, inquiry_status, validate_result
    from domain.status import Channel, TaskStatus
    from workflows.clock import Clock
    from workflows.ladder import Ladder
    from workflows.models import (
        DepartmentCallback,
        DepartmentState,
        DepartmentTaskInput,
        Escalation,
        ManualResult,
        TaskCarry,
    )
    from workflows.notification import start_notification
    from workflows.patches import patched, per_event
    from workflows.sweeper import WAKE_SIGNAL, sweeper_id

#: Patch id: a withdrawal stops the task's activity in flight and waits until it has stopped (a robot
#: mid-form) before the department is told; a department that refuses (it has approved the case) is
#: followed on to its result instead of the task being cancelled (histories from before: cancelled)
WITHDRAWAL_REFUSABLE = "withdrawal-refusable-by-department"

#: Patch id: a robot department whose portal account is swept (``Timing.swept_poll_initial_s``): after filing,
#: the task wakes the account's PortalSweeper and waits that long for the sweep's result before its own first
#: inquiry (the fallback); histories from before inquired at once
SWEPT_FALLBACK = "department-swept-fallback-inquiry"

#: Patch id: a department's outages are retried without an attempt limit (``Timing.transient_max_attempts``);
#: histories from before keep the bounded attempts after which the task went to a person
UNBOUNDED_TRANSIENT_RETRIES = "department-transient-retries-unbounded"


class DepartmentTask:
    """One department's task; ``run()`` is awaited by the application workflow (cancelled on withdrawal).

    ``on_change(state)`` is called after every change of state; ``on_escalation(esc)`` when a ladder
    step fired (before its notification is started); ``plan(dispatched_at, budget_minutes, due_at=…,
    re_escalations=…)`` plans a deadline on the application's planning basis (pure, in the workflow);
    ``next_inquiry(now, delay_s)`` moves an inquiry due outside working hours to when work starts again."""

    def __init__(
        self,
        inp: DepartmentTaskInput,
        state: DepartmentState,
        *,
        on_change: Callable[[DepartmentState], None],
        on_escalation: Callable[[Escalation], None],
        plan: Callable[..., DeadlinePlan],
        next_inquiry: Callable[[datetime, float], float] | None = None,
        clock: Clock | None = None,
    ) -> None:
        self._inp = inp
        self._clock = clock
        self.state = state
        self._on_change = on_change
        self._on_escalation = on_escalation
        self._plan = plan
        self._next_inquiry = next_inquiry
        self._ladder: Ladder | None = None
        self._ladder_task: asyncio.Future | None = None
        self._ladder_stopped = True
        self._redispatch: DepartmentRequest | None = None
        self._manual: ManualResult | None = None
        self._send_back = False
        self._callback: DepartmentCallback | None = None
        self._inquiries = 0
        self._poll_delay = inp.timing.poll_initial_s
        self._parked = False  # waiting for the department, a correction or a person (nothing in flight)
        self._notices: list[asyncio.Future] = []  # its Notification workflows (a new run waits for them)
        self._wakes: list[asyncio.Future] = []  # signals to the portal's sweeper (a new run waits for them)
        self._withdrawing = False  # the application asked this task to withdraw (``request_withdrawal``)
        #: why the department refused the withdrawal (it had approved the case); None: never refused
        self.withdrawal_refusal: str | None = None

    # -- what the application asks of the task ----------------------------------------------------

    def extend(self, new_due_at: datetime) -> bool:
        """Move the deadline (the ladder re-plans); False when the task is no longer timed."""
        if self._ladder is None or self._ladder_stopped:
            return False
        self._ladder.request_extension(new_due_at)
        return True

    def recalendar(self) -> None:
        """The application's planning calendar changed: the running round's ladder plans anew on it."""
        if self._ladder is not None and not self._ladder_stopped:
            self._ladder.request_recalendar()

    def redispatch(self, request: DepartmentRequest) -> None:
        """File again with this (corrected) request: only a rejected task listens."""
        if self.state.status is TaskStatus.REJECTED:
            self._redispatch = request

    def complete_manually(self, manual: ManualResult) -> None:
        if self.state.status is TaskStatus.MANUAL:
            self._manual = manual

    def send_back(self) -> None:
        """Back to the channel (the cause of ``manual`` is fixed): dispatched again as a new round. Nothing is
        filed twice: both channels find an earlier filing of the application and answer with it."""
        if self.state.status is TaskStatus.MANUAL:
            self._send_back = True

    def callback_problem(self, callback: DepartmentCallback) -> str | None:
        """Why a department's callback cannot be taken now (None: it can)."""
        if not self.state.status.at_department:
            return f"该事项当前状态为 {self.state.status.value}，回调未改变任何状态"
        if callback.receipt_no != self.state.receipt_no:
            return f"回执编号 {callback.receipt_no} 与该事项的受理编号不符，回调未改变任何状态"
        return None

    def callback(self, callback: DepartmentCallback) -> None:
        """A department API reports its result; the task's next wait for it ends at once."""
        self._callback = callback

    def request_withdrawal(self) -> None:
        """The application is being withdrawn: the caller cancels ``run()`` next. An activity in flight is
        cancelled and waited for (a robot stops at its next step, its heartbeat), whatever it returns;
        then the department is told, and either the task is cancelled or, when the department refuses
        (``withdrawal_refusal``: it has approved the case), followed on to the department's result."""
        self._withdrawing = True
        self.withdrawal_refusal = None

    # -- the task ------------------------------------------------------------------------------------

    # -- continue-as-new -----------------------------------------------------------------------------

    @property
    def parked(self) -> bool:
        """Waiting with nothing in flight and nothing asked of it: ``carry()`` holds all of it."""
        pending = self._callback or self._redispatch or self._manual or self._send_back or self._withdrawing
        ladder = self._ladder is None or self._ladder_stopped or self._ladder.parked
        notices = all(n.done() for n in self._notices) and all(w.done() for w in self._wakes)
        return self._parked and not pending and ladder and notices

    def carry(self) -> TaskCarry:
        ladder = None if self._ladder is None or self._ladder_stopped else self._ladder.carry()
        return TaskCarry(
            ladder=ladder,
            inquiries=self._inquiries,
            poll_delay_s=self._poll_delay,
            withdrawal_refusal=self.withdrawal_refusal,
        )

    def _resume(self, carry: TaskCarry) -> None:
        """Where a previous run of the workflow left the task: its ladder runs on from its next step."""
        self._inquiries, self._poll_delay = carry.inquiries, carry.poll_delay_s
        self.withdrawal_refusal = carry.withdrawal_refusal
        if carry.ladder is not None:
            self._run_ladder(Ladder.restore(carry.ladder))

    async def _park(self, condition: Callable[[], bool], timeout: timedelta | None = None) -> None:
        self._parked = True
        try:
            await workflow.wait_condition(condition, timeout=timeout)
        finally:
            self._parked = False

    # -- the task ------------------------------------------------------------------------------------

    async def run(
        self, request: DepartmentRequest | None = None, *, resume: TaskCarry | None = None
    ) -> DepartmentState:
        """The task to its end; ``request``: the one to file (the latest, when followed on after a refused
        withdrawal), by default the input's; ``resume``: where a previous run left it (its state is the
        task's state then: in review, rejected or manual)."""
        request = request or self._inp.request
        resumed: TaskStatus | None = None
        if resume is not None:
            self._resume(resume)
            resumed = self.state.status
        try:
            while True:
                if resumed in (TaskStatus.DISPATCHED, TaskStatus.IN_REVIEW):
                    assert self.state.receipt_no is not None
                    status = await self._follow(self.state.receipt_no, None, waited=False)
                elif resumed is not None:
                    status = resumed  # rejected or manual: waiting for the clerk
                else:
                    if self._ladder_stopped:  # not after a refused withdrawal: the round goes on
                        await self._start_round()
                    status = await self._dispatch_and_follow(request)
                resumed = None
                if status is TaskStatus.COMPLETED:
                    break
                if status is TaskStatus.REJECTED:
                    # back with the clerk (补正): the department is not late meanwhile
                    await self._stop_ladder()
                    await self._park(lambda: self._redispatch is not None)
                    assert self._redispatch is not None
                    request, self._redispatch = self._redispatch, None
                    await self._next_round()
                    continue
                # MANUAL: a clerk finishes the task by hand (it is still late if late), or sends it back
                await self._park(lambda: self._manual is not None or self._send_back)
                if self._manual is None:
                    await self._next_round()
                    continue
                self._finish(
                    TaskStatus.COMPLETED,
                    result=self._manual.result,
                    completed_by=self._manual.completed_by,
                    reason=self._manual.note,
                )
                break
        except asyncio.CancelledError:
            if not self._withdrawing:  # histories from before WITHDRAWAL_REFUSABLE
                await self._stop_ladder()
                await self._withdrawn(request)
                return self.state
            refusal = await self._withdrawn(request)
            if refusal is None:
                return self.state
            # The department has approved the case meanwhile: not withdrawn. Follow it on: the channels
            # are idempotent by application id, so filing again finds the approved case and its result.
            self._withdrawing, self.withdrawal_refusal = False, refusal
            workflow.logger.info("department %s refused the withdrawal: %s", self._inp.department.code, refusal)
            self._update()  # the application learns it at once
            return await self.run(request)
        # (no await in a `finally`: an evicted workflow's coroutine is closed and must not await)
        await self._stop_ladder()
        return self.state

    async def _next_round(self) -> None:
        """File again (after a correction, or sent back from a person): a new round, a new deadline."""
        await self._stop_ladder()  # a rejected task's ladder stopped already; a manual one's runs until now
        self._send_back = False
        self._update(
            status=TaskStatus.WAITING,
            round=self.state.round + 1,
            receipt_no=None,
            reason=None,
            completed_at=None,
        )

    async def _withdrawn(self, request: DepartmentRequest) -> str | None:
        """The application was withdrawn: tell the department, then close; or, when the department refuses
        (it has approved the case; only after ``request_withdrawal``), return its reason and stay open.

        Always asked, even without a receipt: a filing cut short between submit and receipt may be at
        the department already; the withdrawal looks the application up and is quiet if it is not there.
        """
        d = self._inp.department
        try:
            await workflow.execute_activity(
                ActivityName.WITHDRAW,
                WithdrawInput(
                    endpoint=self._endpoint(),
                    application_id=self._inp.application_id,
                    receipt_no=self.state.receipt_no,
                    reason="申请人撤回申请",
                ),
                activity_id=f"{d.code}.withdraw",
                **self._activity_options(outages_unbounded=False),
            )
        except ActivityError as err:
            cause = err.cause
            if self._withdrawing and isinstance(cause, ApplicationError) and cause.type == WITHDRAWAL_REFUSED:
                return cause.message or "部门已办结该件，不能撤回"
            workflow.logger.warning("department %s could not be told of the withdrawal: %s", d.code, err)
        if self._withdrawing:
            await self._stop_ladder()
        self._finish(TaskStatus.CANCELLED, reason="申请人撤回申请，已终止办理")
        return None

    def _endpoint(self) -> DepartmentEndpoint:
        d = self._inp.department
        return DepartmentEndpoint(
            code=d.code, channel=d.channel, base_url=d.base_url, credentials_ref=d.credentials_ref
        )

    async def _start_round(self) -> None:
        """Dispatch starts now: plan its deadline, set the ladder going."""
        d = self._inp.department
        now = workflow.now()
        plan = self._plan(now, d.budget_minutes)
        self._run_ladder(Ladder(plan))
        self._update(dispatched_at=now, due_at=plan.due_at, sla_state="on_track")  # the application learns it at once

    def _run_ladder(self, ladder: Ladder) -> None:
        self._ladder = ladder
        self._ladder_stopped = False
        self._ladder_task = asyncio.ensure_future(
            ladder.run(
                done=lambda: self._ladder_stopped,
                fire=self._escalate,
                replan=self._replan,
                extended=self._extended,
                plan_more=self._plan_more,
                clock=self._clock,
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
        d = inp.department
        endpoint = self._endpoint()
        options = self._activity_options()
        rnd = self.state.round
        swept = inp.timing.swept_poll_initial_s
        robot_swept = swept is not None and d.channel is Channel.ROBOT
        # patch PER_EVENT (it implies SWEPT_FALLBACK, no marker): the activity wakes the account's sweeper once filed
        wake = self._sweeper_id() if robot_swept and per_event() else None
        try:
            receipt: Receipt = await workflow.execute_activity(
                ActivityName.DISPATCH,
                DispatchInput(endpoint=endpoint, request=request, wake_sweeper=wake),
                result_type=Receipt,
                activity_id=f"{d.code}.dispatch.r{rnd}",
                # a withdrawal waits until a robot mid-form has stopped before the department is told
                cancellation_type=ActivityCancellationType.WAIT_CANCELLATION_COMPLETED
                if patched(WITHDRAWAL_REFUSABLE)
                else ActivityCancellationType.TRY_CANCEL,
                **options,
            )
        except ActivityError as err:
            self._stop_if_withdrawing()
            return self._failed(err)
        self._stop_if_withdrawing()
        self._update(
            status=TaskStatus.DISPATCHED,
            receipt_no=receipt.receipt_no,
            evidence=receipt.evidence or self.state.evidence,
        )
        self._poll_delay = inp.timing.poll_initial_s
        # (histories from before PER_EVENT check SWEPT_FALLBACK here, last, as they did)
        if robot_swept and receipt.answer is None and (wake is not None or patched(SWEPT_FALLBACK)):
            # the account's sweeper tells the result (a callback); the task's own inquiry is the fallback
            if wake is None:
                self._wake_sweeper()
            assert swept is not None
            self._poll_delay = max(swept, inp.timing.poll_initial_s)
            return await self._follow(receipt.receipt_no, None, waited=False)
        called_back = inp.timing.api_callback_poll_initial_s
        if called_back and d.channel is Channel.API:
            # the department posts its decision to the callback URL it was given; the inquiry is the fallback
            self._poll_delay = max(called_back, inp.timing.poll_initial_s)
        return await self._follow(receipt.receipt_no, receipt.answer)  # an API department answers right away

    async def _follow(self, receipt_no: str, inquiry: Inquiry | None, *, waited: bool = True) -> TaskStatus:
        """Ask the department until it decides (``inquiry``: its answer already given). ``waited=False``
        (resumed in a new run): wait before the first inquiry, as the previous run was doing."""
        inp = self._inp
        d = inp.department
        endpoint = self._endpoint()
        options = self._activity_options()
        rnd = self.state.round
        while True:
            if inquiry is None and waited:
                self._inquiries += 1
                try:
                    inquiry = await workflow.execute_activity(
                        ActivityName.INQUIRE,
                        InquireInput(endpoint=endpoint, application_id=inp.application_id, receipt_no=receipt_no),
                        result_type=Inquiry,
                        activity_id=f"{d.code}.inquire.r{rnd}.{self._inquiries}",
                        **options,
                    )
                except ActivityError as err:
                    self._stop_if_withdrawing()
                    return self._failed(err)
                self._stop_if_withdrawing()
            waited = True
            if inquiry is None:
                pass  # resumed: the wait below comes first
            elif inquiry.status == "completed":
                try:
                    result = validate_result(d.code, inquiry.result or {})
                except ValueError as exc:
                    workflow.logger.warning("department result does not match its schema: %s", exc)
                    return self._finish(TaskStatus.MANUAL, reason=f"部门返回结果格式不符，需人工核对：{exc}")
                return self._finish(TaskStatus.COMPLETED, result=result)
            elif inquiry.status == "rejected":
                return self._finish(TaskStatus.REJECTED, reason=inquiry.reason or "部门退回，需补正")
            elif inquiry.status == "withdrawn":  # withdrawn at the department, not through kaiban: a person must look
                return self._finish(TaskStatus.MANUAL, reason="部门系统显示该件已撤回，需窗口人工核实")
            elif self.state.status is not TaskStatus.IN_REVIEW:
                self._update(status=TaskStatus.IN_REVIEW)
            # Still reviewing: ask again later, backing off (a durable timer); a callback ends the wait at once.
            inquiry = None
            delay = self._poll_delay
            try:
                wait = self._next_inquiry(workflow.now(), delay) if self._next_inquiry else delay
                await self._park(lambda: self._callback is not None, timeout=timedelta(seconds=wait))
            except TimeoutError:
                self._poll_delay = min(delay * 1.5, inp.timing.poll_max_s)
                continue
            callback, self._callback = self._callback, None
            assert callback is not None
            status = inquiry_status(callback.status)
            if status is not None:
                inquiry = Inquiry(status=status, result=callback.result, reason=callback.reason)

    def _sweeper_id(self) -> str:
        d = self._inp.department
        return sweeper_id(d.code, d.credentials_ref, workflow.info().task_queue)

    def _wake_sweeper(self) -> None:
        """Histories from before patch PER_EVENT: tell the portal account's sweeper of the new filing (it sweeps
        at its fast pace). Not awaited here; a sweeper that is not running is no failure: the task's own
        inquiries answer then."""
        d = self._inp.department
        handle = workflow.get_external_workflow_handle(self._sweeper_id())

        async def wake() -> None:
            try:
                await handle.signal(WAKE_SIGNAL)
            except Exception as exc:  # e.g. no sweeper: the fallback inquiry answers
                workflow.logger.info("sweeper of %s not told: %s", d.code, exc)

        self._wakes = [w for w in self._wakes if not w.done()] + [asyncio.ensure_future(wake())]

    # -- deadline -------------------------------------------------------------------------------

    async def _replan(self, new_due_at: datetime | None) -> DeadlinePlan:
        """The deadline an extension set, or (None) the budget from dispatch on the current calendar."""
        assert self.state.dispatched_at is not None
        plan = self._plan(self.state.dispatched_at, self._inp.department.budget_minutes, due_at=new_due_at)
        workflow.logger.info(
            "department %s deadline %s %s",
            self._inp.department.code,
            "extended to" if new_due_at is not None else "re-planned to",
            plan.due_at.isoformat(),
        )
        return plan

    async def _plan_more(self, n: int) -> DeadlinePlan:
        """The ladder ran out: plan at least ``n`` steps (re-escalations) for the same deadline."""
        ladder = self._ladder
        assert ladder is not None
        return self._plan(
            ladder.plan.started_at,
            self._inp.department.budget_minutes,
            due_at=ladder.due_at if ladder.fixed_due is not None else None,
            re_escalations=n,
        )

    async def _extended(self) -> None:
        assert self._ladder is not None
        self._update(due_at=self._ladder.due_at, sla_state=self._ladder.sla_state)

    async def _escalate(self, step: PlannedStep) -> None:
        assert self._ladder is not None
        inp = self._inp
        d = inp.department
        esc = Escalation(
            key=f"{inp.application_id}.{d.code}.r{self.state.round}.v{self._ladder.version}.s{step.sequence}",
            department=d.code,
            level=step.level,
            audience=step.audience,
            sequence=step.sequence,
            due_at=self._ladder.due_at,
            planned_at=step.at,
            fired_at=workflow.now(),
        )
        workflow.logger.info("escalation %s to %s for department %s", step.level, step.audience, d.code)
        self._update(sla_state=self._ladder.sla_state)
        self._on_escalation(esc)
        notice = await start_notification(
            esc,
            application_id=inp.application_id,
            window_id=inp.request.application.window.window_id,
            subject=f"{d.name}·{d.task}" if d.task else d.name,
        )
        self._notices = [n for n in self._notices if not n.done()] + [notice]

    # -- helpers ----------------------------------------------------------------------------------

    def _activity_options(self, *, outages_unbounded: bool = True) -> dict:
        """Timeouts and retry policy of a department activity. Dispatch and inquiry retry an outage without
        limit (``outages_unbounded``, behind a patch): the activity itself gives up on a failure that is no
        outage after the bounded attempts (``activities.departments``), and never retries a business
        refusal or a changed portal. Telling a department of a withdrawal keeps the bounded attempts."""
        inp = self._inp
        t = inp.timing
        robot = inp.department.channel is Channel.ROBOT
        attempts = t.robot_max_attempts if robot else t.api_max_attempts
        if outages_unbounded and patched(UNBOUNDED_TRANSIENT_RETRIES):
            attempts = t.transient_max_attempts
        return {
            "task_queue": inp.activity_task_queue,
            "start_to_close_timeout": timedelta(seconds=t.robot_task_timeout_s if robot else t.api_task_timeout_s),
            "heartbeat_timeout": timedelta(seconds=t.robot_heartbeat_timeout_s) if robot else None,
            "retry_policy": RetryPolicy(
                initial_interval=timedelta(seconds=t.retry_initial_s),
                backoff_coefficient=2.0,
                maximum_interval=timedelta(seconds=t.retry_max_interval_s),
                maximum_attempts=attempts,
                non_retryable_error_types=NON_RETRYABLE_TYPES,
            ),
        }

    def _stop_if_withdrawing(self) -> None:
        """After an activity that was in flight when the application was withdrawn: whatever it returned
        (a receipt, an error, its cancellation), the withdrawal goes on, as after a cancelled timer."""
        if self._withdrawing:
            raise asyncio.CancelledError()

    def _failed(self, err: ActivityError) -> TaskStatus:
        cause = err.cause
        if isinstance(cause, ApplicationError) and cause.type == BUSINESS_REJECTION:
            return self._finish(TaskStatus.REJECTED, reason=cause.message)
        detail = cause.message if isinstance(cause, ApplicationError) else str(cause or err)
        evidence = None
        if isinstance(cause, ApplicationError) and cause.details and isinstance(cause.details[0], dict):
            evidence = {k: str(v) for k, v in cause.details[0].items()}
        workflow.logger.warning("department %s task needs a person: %s", self._inp.department.code, detail)
        return self._finish(TaskStatus.MANUAL, reason=f"自动办理未能完成，需窗口人工处理：{detail}", evidence=evidence)

    def _finish(self, status: TaskStatus, **changes: Any) -> TaskStatus:
        finished_at = workflow.now() if status in (TaskStatus.COMPLETED, TaskStatus.CANCELLED) else None
        self._update(status=status, completed_at=finished_at, **changes)
        return status

    def _update(self, **changes: Any) -> None:
        self.state = self.state.model_copy(update={**changes, "updated_at": workflow.now()})
        self._on_change(self.state)
