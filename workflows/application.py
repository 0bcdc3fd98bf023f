"""One application, from the window to every department it concerns.

The catalog snapshot taken at submission decides the order: a department starts as
soon as every department it waits for has completed (``amr`` first; then ``psb_seal``,
``tax``, ``hrss``, ``nhsa``, ``hpf`` in parallel; ``bank`` after ``psb_seal`` with the
default catalog). Each department task is a :class:`workflows.department.DepartmentTask`
run as one of this workflow's coroutines (one history per application); a department the
applicant did not ask for is skipped. The ``status`` query answers the state of every
department at any time; the search attributes and the ``tasks`` memo give supervisors the
open tasks without asking each workflow (``GET /api/v1/supervision/board``).
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.models import WITHDRAWAL_REFUSED, ActivityName, PlanningBasisInput
    from domain.catalog import applies, changed_fields
    from domain.deadlines import DeadlinePlan, PlannedStep, PlanningBasis
    from domain.requests import DepartmentRequest
    from domain.results import validate_result
    from domain.status import ApplicationStatus, Channel, TaskStatus
    from workflows.clock import Clock
    from workflows.department import UNBOUNDED_TRANSIENT_RETRIES, WITHDRAWAL_REFUSABLE, DepartmentTask
    from workflows.ladder import Ladder
    from workflows.models import (
        ApplicationInput,
        ApplicationView,
        Carried,
        Correction,
        DeadlineChange,
        DeadlineExtension,
        DepartmentCallback,
        DepartmentRetry,
        DepartmentState,
        DepartmentTaskInput,
        Escalation,
        HistoryEntry,
        ManualCompletion,
        ManualResult,
        Recalendar,
        TaskCarry,
        Withdrawal,
    )
    from workflows.notification import start_notification
    from workflows.patches import CONTINUE_AS_NEW, INQUIRIES_IN_WORKING_HOURS, one_clock, patched, take_lean
    from workflows.planning import DAILY_DIGEST, EXACT_EXTENSION, Planner
    from workflows.published import RECEIPT_IN_MEMO, Published, Shown
    from workflows.refusals import LICENCE, LICENCE_APPROVED, refusal_when_closed

# Patch ids (workflows.patches: ONE_CLOCK, checked first in ``run``, stands for every earlier one in a new workflow)
#: every patch a continued run takes (it began after each), marked at its start: first marked in an update's
#: handler, a replay may not yet know of the marker and take the old branch
_FIRST_PATCHES = (INQUIRIES_IN_WORKING_HOURS, WITHDRAWAL_REFUSABLE, UNBOUNDED_TRANSIENT_RETRIES, EXACT_EXTENSION)
PATCHES = (*_FIRST_PATCHES, DAILY_DIGEST, RECEIPT_IN_MEMO)


@workflow.defn(name="Application")
class ApplicationWorkflow:
    @workflow.init
    def __init__(self, inp: ApplicationInput) -> None:
        self._inp = inp
        self._completed_at: datetime | None = None
        self._finished = False
        self._ladder: Ladder | None = None
        self._escalations: list[Escalation] = []
        self._deadline_changes: list[DeadlineChange] = []
        self._application = inp.application  # replaced by a correction (补正)
        self._withdrawal: Withdrawal | None = None
        self._withdrawal_pending: Withdrawal | None = None  # asked of the licence department, not yet answered
        self._running: dict[str, asyncio.Future] = {}
        self._tasks: dict[str, DepartmentTask] = {}
        self._published = Published(inp.application_id, inp.application.window.window_id, self._shown)
        self._may_continue = False  # continue-as-new past a history size (patch CONTINUE_AS_NEW)
        self._notices: list[asyncio.Future] = []  # the Notification workflows started (a new run waits for them)
        self._planner: Planner | None = None  # from the planning basis, at the start
        self._clock: Clock | None = None  # the one timer of all the ladders (patch ONE_CLOCK)
        self._recalendar: Recalendar | None = None  # a new calendar that came before the start
        self._history: list[HistoryEntry] = []
        self._states: dict[str, DepartmentState] = {}
        for d in inp.departments:
            asked = applies(d, inp.application)
            self._states[d.code] = DepartmentState(
                code=d.code,
                name=d.name,
                channel=d.channel,
                status=TaskStatus.WAITING if asked else TaskStatus.SKIPPED,
                waiting_for=list(d.prerequisites) if asked else [],
            )

    @workflow.run
    async def run(self, inp: ApplicationInput) -> ApplicationView:
        if take_lean():  # first, before any other patch (workflows.patches)
            self._writer = asyncio.ensure_future(self._published.writer())  # LEAN, ONE_CLOCK: once per activation
        if one_clock():
            self._clock = Clock()
        self._may_continue = patched(CONTINUE_AS_NEW)
        if inp.carried is not None:
            self._resume(inp.carried)
        else:
            # The one local activity, before anything else runs (concurrent local activities do not replay
            # reliably: temporalio/sdk-python#1578); the API gives the basis, so usually there is none.
            basis = inp.planning or await workflow.execute_local_activity(
                ActivityName.PLANNING_BASIS,
                PlanningBasisInput(submitted_at=inp.submitted_at),
                result_type=PlanningBasis,
                start_to_close_timeout=timedelta(seconds=10),
            )
            self._planner = Planner(basis, inp.submitted_at)
            plan = inp.deadline or self._planner.application()
            if self._recalendar is not None and self._planner.recalendar(self._recalendar.calendar):
                plan = self._planner.application()
            self._ladder = Ladder(plan)
        assert self._ladder is not None
        self._published.write(board=False)
        ladder = asyncio.ensure_future(
            self._ladder.run(
                done=lambda: self._finished,
                fire=self._escalate,
                replan=self._replan,
                extended=self._extended,
                clock=self._clock,
            )
        )
        await self._carry_to_departments(inp)
        self._finished = True
        await ladder
        if self._overall_status() is ApplicationStatus.COMPLETED:
            self._completed_at = workflow.now()
        self._published.write()  # the last change (finished: the search attributes only)
        workflow.logger.info("application finished with status %s", self._overall_status())
        await workflow.wait_condition(workflow.all_handlers_finished)  # e.g. the withdrawal answering its caller
        return self.status()

    async def _carry_to_departments(self, inp: ApplicationInput) -> None:
        departments = {d.code: d for d in inp.departments}
        running = self._running
        if inp.carried is None:
            self._note(None, "submitted", f"提交窗口 {inp.application.window.window_id}")
        for code, carry in (inp.carried.tasks if inp.carried else {}).items():  # where the last run left them
            running[code] = asyncio.ensure_future(self._run_department(code, resume=carry))
        renewal: asyncio.Future | None = None  # ready when the history is long and every task is waiting
        while True:
            for code, d in departments.items():
                state = self._states[code]
                if state.status is not TaskStatus.WAITING or code in running:
                    continue
                if self._withdrawal is not None:
                    self._states[code] = state.model_copy(update={"status": TaskStatus.CANCELLED, "waiting_for": []})
                    continue
                pending = [p for p in d.prerequisites if not self._states[p].status.satisfied]
                self._states[code] = state.model_copy(update={"waiting_for": pending})
                if not pending:
                    running[code] = asyncio.ensure_future(self._run_department(code))
            if not running:
                break
            if self._may_continue and renewal is None:
                renewal = asyncio.ensure_future(workflow.wait_condition(self._time_to_continue))
            await workflow.wait(
                [*running.values(), *([renewal] if renewal else [])], return_when=asyncio.FIRST_COMPLETED
            )
            if renewal is not None and renewal.done():
                renewal = None
                if self._time_to_continue():
                    self._continue_as_new()
            for code in [c for c, task in running.items() if task.done()]:
                task = running.pop(code)
                try:
                    self._states[code] = task.result()
                except asyncio.CancelledError:  # withdrawn before it began
                    self._states[code] = self._states[code].model_copy(update={"status": TaskStatus.CANCELLED})
            self._visibility_changed()

    # -- continue-as-new: a long-waiting application's history starts afresh -------------------------

    def _time_to_continue(self) -> bool:
        """The history is long and nothing is in flight: every task (and both ladders) waits, no update runs."""
        if self._finished or self._withdrawal is not None or self._withdrawal_pending is not None:
            return False
        info = workflow.info()
        if info.get_current_history_length() < self._inp.timing.continue_as_new_after_events:
            return False
        if not workflow.all_handlers_finished() or self._ladder is None or not self._ladder.parked:
            return False
        if not all(n.done() for n in self._notices):  # notifications still being started or delivered
            return False
        return all(c in self._tasks and self._tasks[c].parked for c, f in self._running.items() if not f.done())

    def _continue_as_new(self) -> None:
        """End this run; the next starts where it stands (ContinueAsNewError: raised to ``run``)."""
        assert self._ladder is not None
        before = self._inp.carried
        runs = (before.runs if before else 0) + 1
        length = workflow.info().get_current_history_length()
        self._note(None, "continued_as_new", f"流程第 {runs} 次接续运行（原历史 {length} 条事件）")
        self._published.flush()  # a change not yet written (patch LEAN)
        carried = Carried(
            runs=runs,
            planning=self._planned.basis,
            application=self._application,
            states=self._states,
            tasks={c: self._tasks[c].carry() for c, f in self._running.items() if not f.done()},
            ladder=self._ladder.carry(),
            escalations=self._escalations,
            deadline_changes=self._deadline_changes,
            history=self._history,
        )
        workflow.logger.info("application continues as new after %d events (run %d)", length, runs + 1)
        workflow.continue_as_new(self._inp.model_copy(update={"carried": carried, "deadline": None, "planning": None}))

    def _resume(self, carried: Carried) -> None:
        """This run takes over from the last: its calendar, ladders, states and records."""
        for patch in PATCHES:
            patched(patch)
        self._planner = Planner(carried.planning, self._inp.submitted_at)
        self._ladder = Ladder.restore(carried.ladder)
        self._application = carried.application
        self._states = dict(carried.states)
        self._escalations = list(carried.escalations)
        self._deadline_changes = list(carried.deadline_changes)
        self._history = list(carried.history)
        if self._recalendar is not None and self._planner.recalendar(self._recalendar.calendar):
            self._ladder.request_recalendar()

    async def _run_department(self, code: str, resume: TaskCarry | None = None) -> DepartmentState:
        inp = self._inp
        d = next(x for x in inp.departments if x.code == code)
        queue = inp.robot_task_queue if d.channel is Channel.ROBOT else inp.task_queue
        task = DepartmentTask(
            DepartmentTaskInput(
                application_id=inp.application_id,
                department=d,
                request=self._request(code),
                timing=inp.timing,
                activity_task_queue=queue,
            ),
            self._states[code],
            on_change=self._department_changed,
            on_escalation=self._record_escalation,
            plan=self._planned.task,
            next_inquiry=self._planned.next_inquiry
            if inp.timing.inquire_in_working_hours_only and patched(INQUIRIES_IN_WORKING_HOURS)
            else None,
            clock=self._clock,
        )
        self._tasks[code] = task
        return await task.run(resume=resume)

    def _request(self, code: str) -> DepartmentRequest:
        """What department ``code`` is given: the (corrected) application and its prerequisites' results."""
        inp = self._inp
        d = next(x for x in inp.departments if x.code == code)
        upstream = {p: self._states[p].result for p in d.prerequisites if self._states[p].result is not None}
        return DepartmentRequest(
            application_id=inp.application_id,
            department=code,
            application=self._application,
            upstream=upstream,
            submitted_at=inp.submitted_at,
        )

    def _note(self, department: str | None, event: str, detail: str | None = None) -> None:
        self._history.append(HistoryEntry(at=workflow.now(), department=department, event=event, detail=detail))

    # -- the clerk: correction (补正), manual completion, withdrawal ------------------------------

    @workflow.update(name="correct")
    async def correct(self, correction: Correction) -> list[str]:
        """Re-dispatch the rejected departments with the corrected application; returns their codes."""
        self._application = correction.application
        redo = [c for c, s in self._states.items() if s.status is TaskStatus.REJECTED]
        for code in redo:
            self._tasks[code].redispatch(self._request(code))
        self._note(None, "corrected", f"{correction.requested_by} 补正后重新报送：{', '.join(redo)}")
        return redo

    @correct.validator
    def _validate_correction(self, correction: Correction) -> None:
        if self._withdrawal is not None or self._finished:
            raise ValueError(refusal_when_closed("correct", self._overall_status()))
        if not any(s.status is TaskStatus.REJECTED for s in self._states.values()):
            raise ValueError("当前没有需要补正的部门事项")
        for d in self._inp.departments:
            if self._states[d.code].status is not TaskStatus.COMPLETED:
                continue
            changed = changed_fields(d, self._application, correction.application)
            if changed:
                raise ValueError(
                    f"{d.name}已办结，其使用的 {'、'.join(changed)} 不能在补正中修改（已办结事项的变更须另行申请）"
                )

    @workflow.update(name="complete_manually")
    async def complete_manually(self, manual: ManualCompletion) -> DepartmentState:
        """A clerk records the result of a task a robot could not finish; the application goes on."""
        result = validate_result(manual.department, manual.result)
        self._tasks[manual.department].complete_manually(
            ManualResult(result=result, completed_by=manual.completed_by, note=manual.note)
        )
        self._note(manual.department, "completed_manually", f"{manual.completed_by} 人工办结")
        await workflow.wait_condition(lambda: self._states[manual.department].status is not TaskStatus.MANUAL)
        return self._states[manual.department]

    @complete_manually.validator
    def _validate_manual(self, manual: ManualCompletion) -> None:
        if self._withdrawal is not None or self._finished:
            raise ValueError(refusal_when_closed("complete_manually", self._overall_status()))
        state = self._states.get(manual.department)
        if state is None:
            raise ValueError(f"该申请不涉及部门 {manual.department}")
        if state.status is not TaskStatus.MANUAL:
            raise ValueError(f"部门 {manual.department} 的事项当前状态为 {state.status.value}，无需人工办结")
        if not manual.completed_by.strip():
            raise ValueError("人工办结须注明办理人")
        try:
            validate_result(manual.department, manual.result)
        except ValueError as exc:
            raise ValueError(f"办理结果不符合{state.name}的结果格式：{exc}") from exc

    @workflow.update(name="retry_department")
    async def retry_department(self, retry: DepartmentRetry) -> DepartmentState:
        """Send a ``manual`` task back to its channel once the cause is fixed: dispatched again as a new round
        (the channels are idempotent by application id: nothing is filed twice), its deadline from then."""
        self._tasks[retry.department].send_back()
        detail = f"{retry.requested_by} 退回自动渠道重新报送" + (f"：{retry.note}" if retry.note else "")
        self._note(retry.department, "sent_back", detail)
        await workflow.wait_condition(lambda: self._states[retry.department].status is not TaskStatus.MANUAL)
        return self._states[retry.department]

    @retry_department.validator
    def _validate_retry(self, retry: DepartmentRetry) -> None:
        state = self._states.get(retry.department)
        if state is None:
            raise ValueError(f"该申请不涉及部门 {retry.department}")
        if self._withdrawal is not None or self._finished:
            raise ValueError("该申请已结束，不能重新报送")
        if state.status is not TaskStatus.MANUAL or retry.department not in self._tasks:
            raise ValueError(
                f"部门 {retry.department} 的事项当前状态为 {state.status.value}，只有转人工处理的事项可以重新报送"
            )
        if not retry.requested_by.strip():
            raise ValueError("重新报送须注明经办人")

    @workflow.update(name="withdraw")
    async def withdraw(self, withdrawal: Withdrawal) -> ApplicationView:
        """Withdraw before the licence is approved: every open task is cancelled, departments are told.

        The licence department is asked first (once its robot, if one is filing, has stopped): when it
        has approved the application meanwhile (kaiban had not learnt it yet), it refuses, the withdrawal
        is refused with its reason (``WithdrawalRefused``: 409 for the clerk), nothing else is touched
        and the application goes on to the licence and beyond."""
        stamped = withdrawal.model_copy(update={"withdrawn_at": workflow.now()})
        if not patched(WITHDRAWAL_REFUSABLE):  # histories from before: every task cancelled at once
            self._withdrawal = stamped
            self._note(None, "withdrawn", f"{withdrawal.requested_by}：{withdrawal.reason}")
            for running in self._running.values():
                running.cancel()
            await workflow.wait_condition(lambda: self._finished)
            return self.status()
        licence = self._running.get(LICENCE)
        task = self._tasks.get(LICENCE)
        if licence is None or licence.done() or task is None:
            self._accept_withdrawal(stamped)
        else:
            self._withdrawal_pending = stamped
            self._note(None, "withdrawal_requested", f"{withdrawal.requested_by}：{withdrawal.reason}")
            task.request_withdrawal()
            licence.cancel()
            # accepted: the licence task is cancelled (``_department_changed`` accepts the withdrawal then)
            await workflow.wait_condition(
                lambda: self._withdrawal_pending is None or task.withdrawal_refusal is not None
            )
            if self._withdrawal is None:
                refusal = task.withdrawal_refusal or "部门已办结"
                self._withdrawal_pending = None
                self._note(LICENCE, "withdrawal_refused", refusal)
                workflow.logger.info("withdrawal refused by the licence department: %s", refusal)
                raise ApplicationError(
                    f"{LICENCE_APPROVED}（{self._states[LICENCE].name}：{refusal}）",
                    type=WITHDRAWAL_REFUSED,
                    non_retryable=True,
                )
        await workflow.wait_condition(lambda: self._finished)
        return self.status()

    def _accept_withdrawal(self, withdrawal: Withdrawal) -> None:
        """The application is withdrawn: every other task still running is withdrawn (cancelled); those
        waiting are cancelled by ``_carry_to_departments``. Synchronous: called from the licence task's
        last change, before its coroutine ends and wakes the loop that cancels the waiting ones."""
        self._withdrawal, self._withdrawal_pending = withdrawal, None
        self._note(None, "withdrawn", f"{withdrawal.requested_by}：{withdrawal.reason}")
        for code, running in self._running.items():
            task = self._tasks.get(code)
            if running.done() or (code == LICENCE and task is not None and task.state.status.ended):
                continue
            if task is not None:
                task.request_withdrawal()
            running.cancel()

    @withdraw.validator
    def _validate_withdrawal(self, withdrawal: Withdrawal) -> None:
        if not withdrawal.reason.strip() or not withdrawal.requested_by.strip():
            raise ValueError("撤回申请须填写理由和经办人")
        if self._withdrawal is not None or self._finished:
            raise ValueError(refusal_when_closed("withdraw", self._overall_status()))
        if self._withdrawal_pending is not None:
            raise ValueError("该申请的撤回正在办理中（等待登记机关答复），请稍后查询")
        licence = self._states.get(LICENCE)
        if licence is not None and licence.status is TaskStatus.COMPLETED:
            raise ValueError(LICENCE_APPROVED)
        task = self._tasks.get(LICENCE)
        if task is not None and task.withdrawal_refusal is not None:  # approved: kaiban is reading the result
            raise ValueError(f"{LICENCE_APPROVED}（{task.withdrawal_refusal}）")

    # -- deadline -------------------------------------------------------------------------------

    @property
    def _planned(self) -> Planner:
        assert self._planner is not None
        return self._planner

    async def _replan(self, due_at: datetime | None) -> DeadlinePlan:
        return self._planned.application(due_at)

    @workflow.signal(name="recalendar")
    def recalendar(self, change: Recalendar) -> None:
        """A year's official arrangement was loaded: plan from now on on the new calendar. The application's
        and each running task's deadline planned from working time moves; one an extension set stays."""
        if self._planner is None:  # before the start: taken there
            self._recalendar = change
            return
        if self._finished or not self._planner.recalendar(change.calendar):
            return
        self._note(None, "calendar_updated", f"工作日历已更新：{change.source}")
        if self._ladder is not None:
            self._ladder.request_recalendar()
        for task in self._tasks.values():
            task.recalendar()

    async def _escalate(self, step: PlannedStep) -> None:
        assert self._ladder is not None
        inp = self._inp
        esc = Escalation(
            key=f"{inp.application_id}.application.v{self._ladder.version}.s{step.sequence}",
            level=step.level,
            audience=step.audience,
            sequence=step.sequence,
            due_at=self._ladder.due_at,
            planned_at=step.at,
            fired_at=workflow.now(),
        )
        workflow.logger.info("application escalation %s to %s", step.level, step.audience)
        self._record_escalation(esc)
        self._visibility_changed()
        notice = await start_notification(
            esc, application_id=inp.application_id, window_id=inp.application.window.window_id, subject="企业开办申请"
        )
        self._notices = [n for n in self._notices if not n.done()] + [notice]

    async def _extended(self) -> None:
        self._visibility_changed()

    def _record_escalation(self, esc: Escalation) -> None:
        if all(e.key != esc.key for e in self._escalations):
            self._escalations.append(esc)

    @workflow.update(name="extend_deadline")
    async def extend_deadline(self, ext: DeadlineExtension) -> DeadlineChange:
        """A supervisor moves a deadline (the application's or one department's); audited."""
        assert self._ladder is not None
        old = self._current_due(ext.department)
        change = DeadlineChange(
            department=ext.department,
            old_due_at=old,
            new_due_at=ext.new_due_at,
            reason=ext.reason.strip(),
            requested_by=ext.requested_by.strip(),
            changed_at=workflow.now(),
        )
        if ext.department is None:
            self._ladder.request_extension(ext.new_due_at)
        else:
            task = self._tasks.get(ext.department)
            if task is None or not task.extend(ext.new_due_at):  # the task ended between validation and now
                raise ApplicationError(f"部门 {ext.department} 的事项已结束，不能延期", type="TaskEnded")
            state = self._states[ext.department]
            self._states[ext.department] = state.model_copy(update={"due_at": ext.new_due_at})
        self._deadline_changes.append(change)
        workflow.logger.info("deadline of %s extended by %s", ext.department or "application", change.requested_by)
        return change

    @extend_deadline.validator
    def _validate_extension(self, ext: DeadlineExtension) -> None:
        if not ext.reason.strip():
            raise ValueError("延期必须填写理由")
        if not ext.requested_by.strip():
            raise ValueError("延期必须注明申请人")
        if self._withdrawal is not None or self._finished:
            raise ValueError(refusal_when_closed("extend_deadline", self._overall_status()))
        if ext.new_due_at.tzinfo is None:
            raise ValueError("新的办结时限须带时区")
        if ext.department is not None:
            state = self._states.get(ext.department)
            if state is None:
                raise ValueError(f"该申请不涉及部门 {ext.department}")
            open_task = state.status.open
            if not open_task or state.due_at is None:  # not dispatched yet, or its task has ended
                raise ValueError(f"部门 {ext.department} 的事项当前状态为 {state.status.value}，不能延期")
        old = self._current_due(ext.department)
        if ext.new_due_at <= old:
            raise ValueError(f"新的办结时限须晚于原时限 {old.isoformat()}")
        if ext.new_due_at <= workflow.now():
            raise ValueError("新的办结时限须晚于当前时间")

    def _current_due(self, department: str | None) -> datetime:
        assert self._ladder is not None
        if department is None:
            return self._ladder.due_at
        due = self._states[department].due_at
        assert due is not None
        return due

    def _visibility_changed(self) -> None:
        self._published.changed()  # written at once, or once per activation (workflows.published)

    def _shown(self) -> Shown:
        ladder = self._ladder
        due, sla = (ladder.due_at, ladder.sla_state) if ladder else (None, None)
        return Shown(self._overall_status().value, due, sla, self._states, self._finished)

    def _department_changed(self, state: DepartmentState) -> None:
        """A department task's new state: kept for the status query, noted in the history when its status moved."""
        current = self._states[state.code]
        if state.status is not current.status or state.round != current.round:
            detail = state.reason or (f"受理编号 {state.receipt_no}" if state.receipt_no else None)
            self._note(state.code, state.status.value, detail)
        self._states[state.code] = state
        pending = self._withdrawal_pending
        if pending is not None and state.code == LICENCE and state.status is TaskStatus.CANCELLED:
            self._accept_withdrawal(pending)  # the licence department took the withdrawal
        self._visibility_changed()

    # -- department APIs reporting back ---------------------------------------------------------

    @workflow.update(name="department_callback")
    def department_callback(self, callback: DepartmentCallback) -> str:
        """A department API reports its result; the department task's next wait for it ends at once."""
        self._tasks[callback.department].callback(callback)
        return "accepted"

    @department_callback.validator
    def _validate_callback(self, callback: DepartmentCallback) -> None:
        if callback.department not in self._states:
            raise ValueError(f"该申请不涉及部门 {callback.department}，回调未改变任何状态")
        task = self._tasks.get(callback.department)
        if task is None:
            raise ValueError(f"该事项当前状态为 {self._states[callback.department].status.value}，回调未改变任何状态")
        problem = task.callback_problem(callback)
        if problem:
            raise ValueError(problem)

    def _overall_status(self) -> ApplicationStatus:
        if self._withdrawal is not None:
            return ApplicationStatus.WITHDRAWN
        statuses = [s.status for s in self._states.values()]
        if any(s is TaskStatus.REJECTED for s in statuses):
            return ApplicationStatus.NEEDS_CORRECTION
        if all(s.satisfied for s in statuses):
            return ApplicationStatus.COMPLETED
        return ApplicationStatus.PROCESSING

    @workflow.query(name="status")
    def status(self) -> ApplicationView:
        inp = self._inp
        return ApplicationView(
            application_id=inp.application_id,
            status=self._overall_status(),
            company_name=self._application.company.name,
            company_address=self._application.company.address.detail,
            window_id=inp.application.window.window_id,
            submitted_at=inp.submitted_at,
            due_at=self._ladder.due_at if self._ladder else None,
            sla_state=self._ladder.sla_state if self._ladder else None,
            completed_at=self._completed_at,
            departments=list(self._states.values()),
            escalations=list(self._escalations),
            deadline_changes=list(self._deadline_changes),
            withdrawal=self._withdrawal,
            history=list(self._history),
        )
