"""One application, from the window to every department it concerns.

The catalog snapshot taken at submission decides the order: a department starts as
soon as every department it waits for has completed (``amr`` first; then ``psb_seal``,
``tax``, ``hrss``, ``nhsa``, ``hpf`` in parallel; ``bank`` after ``psb_seal`` with the
default catalog). Each department task is a child workflow with its own history; a
department the applicant did not ask for is skipped. The ``status`` query answers the
state of every department at any time.
"""

from __future__ import annotations

import asyncio

from temporalio import workflow
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from domain.catalog import applies
    from domain.requests import DepartmentRequest
    from domain.status import ApplicationStatus, Channel, TaskStatus
    from workflows.department import PROGRESS_SIGNAL, DepartmentTaskWorkflow
    from workflows.models import ApplicationInput, ApplicationView, DepartmentProgress, DepartmentState, DepartmentTaskInput

_DONE_OK = (TaskStatus.COMPLETED, TaskStatus.SKIPPED)


def department_workflow_id(application_id: str, code: str) -> str:
    return f"{application_id}.{code}"


@workflow.defn(name="Application")
class ApplicationWorkflow:
    @workflow.init
    def __init__(self, inp: ApplicationInput) -> None:
        self._inp = inp
        self._completed_at = None
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
        departments = {d.code: d for d in inp.departments}
        running: dict[str, asyncio.Task[DepartmentState]] = {}
        while True:
            for code, d in departments.items():
                state = self._states[code]
                if state.status is not TaskStatus.WAITING or code in running:
                    continue
                pending = [p for p in d.prerequisites if self._states[p].status not in _DONE_OK]
                self._states[code] = state.model_copy(update={"waiting_for": pending})
                if not pending:
                    running[code] = asyncio.ensure_future(self._run_department(code))
            if not running:
                break
            await workflow.wait(list(running.values()), return_when=asyncio.FIRST_COMPLETED)
            for code in [c for c, task in running.items() if task.done()]:
                self._states[code] = running.pop(code).result()
        if self._overall_status() is ApplicationStatus.COMPLETED:
            self._completed_at = workflow.now()
        workflow.logger.info("application finished with status %s", self._overall_status())
        return self.status()

    async def _run_department(self, code: str) -> DepartmentState:
        inp = self._inp
        d = next(x for x in inp.departments if x.code == code)
        upstream = {p: self._states[p].result for p in d.prerequisites if self._states[p].result is not None}
        request = DepartmentRequest(
            application_id=inp.application_id,
            department=code,
            application=inp.application,
            upstream=upstream,
            submitted_at=inp.submitted_at,
        )
        queue = inp.robot_task_queue if d.channel is Channel.ROBOT else inp.task_queue
        return await workflow.execute_child_workflow(
            DepartmentTaskWorkflow.run,
            DepartmentTaskInput(
                application_id=inp.application_id, department=d, request=request, timing=inp.timing, activity_task_queue=queue
            ),
            id=department_workflow_id(inp.application_id, code),
            parent_close_policy=ParentClosePolicy.REQUEST_CANCEL,
        )

    @workflow.signal(name=PROGRESS_SIGNAL)
    def department_progress(self, progress: DepartmentProgress) -> None:
        state = progress.state
        current = self._states.get(state.code)
        if current is None or current.status in (TaskStatus.COMPLETED, TaskStatus.SKIPPED, TaskStatus.CANCELLED):
            return
        self._states[state.code] = state

    def _overall_status(self) -> ApplicationStatus:
        statuses = [s.status for s in self._states.values()]
        if any(s is TaskStatus.REJECTED for s in statuses):
            return ApplicationStatus.NEEDS_CORRECTION
        if all(s in _DONE_OK for s in statuses):
            return ApplicationStatus.COMPLETED
        return ApplicationStatus.PROCESSING

    @workflow.query(name="status")
    def status(self) -> ApplicationView:
        inp = self._inp
        return ApplicationView(
            application_id=inp.application_id,
            status=self._overall_status(),
            company_name=inp.application.company.name,
            window_id=inp.application.window.window_id,
            submitted_at=inp.submitted_at,
            completed_at=self._completed_at,
            departments=list(self._states.values()),
        )
