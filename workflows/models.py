"""Inputs, signals and views of the workflows (one model each)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from domain.catalog import Department
from domain.deadlines import DeadlinePlan, PlanningBasis
from domain.deadlines import Recalendar as Recalendar  # re-exported: the recalendar signal's argument
from domain.form import Application, judged_as_of
from domain.requests import DepartmentRequest
from domain.status import ApplicationStatus, Channel, TaskStatus
from runtime.timing import Timing as Timing  # re-exported: part of ApplicationInput


class ApplicationInput(BaseModel):
    application_id: str
    application: Application
    submitted_at: datetime
    deadline: DeadlinePlan | None = None  # planned at intake; None: planned by the workflow
    planning: PlanningBasis | None = None  # calendar snapshot + policy; None: asked of the worker at the start
    departments: list[Department]  # the catalog as it stood at submission
    timing: Timing = Field(default_factory=Timing)
    task_queue: str = "kaiban"
    robot_task_queue: str = "kaiban-robots"
    carried: Carried | None = None  # what the previous run left (continue-as-new); None: the first run

    # replays and queries re-validate the payload: date rules are judged on the submission day
    _as_of_submission = judged_as_of("submitted_at")


class DepartmentTaskInput(BaseModel):
    application_id: str
    department: Department
    request: DepartmentRequest
    timing: Timing
    activity_task_queue: str


class DepartmentState(BaseModel):
    """Where one department's task stands: what the clerk and the supervisor see."""

    code: str
    name: str
    channel: Channel
    status: TaskStatus = TaskStatus.WAITING
    receipt_no: str | None = None
    result: dict | None = None
    reason: str | None = None
    waiting_for: list[str] = Field(default_factory=list)
    due_at: datetime | None = None
    sla_state: str | None = None  # on_track | at_risk | breached, once dispatched
    round: int = 1  # 1, then 2 after the first correction (补正) re-dispatched it, ...
    evidence: dict[str, str] | None = (
        None  # the receipt's screenshot; after a failed robot attempt, its screenshot and trace
    )
    completed_by: str | None = None  # a clerk who recorded the result by hand
    dispatched_at: datetime | None = None
    completed_at: datetime | None = None
    updated_at: datetime | None = None


class Escalation(BaseModel):
    """One ladder step that fired: who was told, about what, when."""

    key: str
    department: str | None = None  # None: the whole application
    level: str
    audience: str
    sequence: int
    due_at: datetime
    planned_at: datetime
    fired_at: datetime


class DeadlineExtension(BaseModel):
    """A supervisor's request to extend a deadline (update ``extend_deadline``)."""

    department: str | None = None  # None: the whole application
    new_due_at: datetime
    reason: str
    requested_by: str


class DeadlineChange(BaseModel):
    """The audit record of an extension: who, why, from when to when."""

    department: str | None = None
    old_due_at: datetime
    new_due_at: datetime
    reason: str
    requested_by: str
    changed_at: datetime


class Correction(BaseModel):
    """The clerk's corrected application (补正), after a department asked for it (update ``correct``)."""

    application: Application
    corrected_at: datetime  # the form's date rules are judged as of this instant
    requested_by: str

    _as_of_correction = judged_as_of("corrected_at")


class ManualCompletion(BaseModel):
    """A clerk's hand-recorded result for a task a robot could not finish (update ``complete_manually``)."""

    department: str
    result: dict
    completed_by: str
    note: str | None = None


class DepartmentRetry(BaseModel):
    """A ``manual`` task sent back to its channel once its cause is fixed (update ``retry_department``)."""

    department: str
    requested_by: str
    note: str | None = None


class ManualResult(BaseModel):
    """What a clerk recorded for a ``manual`` department task: its result."""

    result: dict
    completed_by: str
    note: str | None = None


class Withdrawal(BaseModel):
    """The applicant withdraws before the licence is approved (update ``withdraw``)."""

    reason: str
    requested_by: str
    withdrawn_at: datetime | None = None


class DepartmentCallback(BaseModel):
    """A department API reporting its result (update ``department_callback`` of the application)."""

    department: str
    receipt_no: str
    status: str  # processing | in_review | completed | rejected | withdrawn
    result: dict | None = None
    reason: str | None = None


class HistoryEntry(BaseModel):
    """One line of the application's story, for the clerk: what happened, where, when."""

    at: datetime
    department: str | None = None
    event: str
    detail: str | None = None


class ApplicationView(BaseModel):
    application_id: str
    status: ApplicationStatus
    company_name: str
    company_address: str | None = Field(None, description="企业住所（详细地址）")
    window_id: str
    submitted_at: datetime
    due_at: datetime | None = None
    sla_state: str | None = None
    completed_at: datetime | None = None
    departments: list[DepartmentState]
    escalations: list[Escalation] = Field(default_factory=list)
    deadline_changes: list[DeadlineChange] = Field(default_factory=list)
    withdrawal: Withdrawal | None = None
    history: list[HistoryEntry] = Field(default_factory=list)


# -- continue-as-new: what one run of an application's workflow hands the next -----------------------


class LadderCarry(BaseModel):
    """An escalation ladder mid-way: its plan, the next step to fire, the deadline's version."""

    plan: DeadlinePlan
    version: int
    next: int
    sla_state: str
    fixed_due: datetime | None = None


class TaskCarry(BaseModel):
    """A department task waiting (for its department, a correction or a person) between two runs."""

    ladder: LadderCarry | None = None  # None: not timed (a rejected task waits for the clerk)
    inquiries: int = 0
    poll_delay_s: float
    withdrawal_refusal: str | None = None


class Carried(BaseModel):
    """An application's state at the end of a run, for the next (its history starts afresh)."""

    runs: int = Field(description="how many runs came before this one")
    planning: PlanningBasis
    application: Application  # as corrected
    states: dict[str, DepartmentState]
    tasks: dict[str, TaskCarry]  # the tasks that were running (waiting): resumed where they were
    ladder: LadderCarry
    escalations: list[Escalation]
    deadline_changes: list[DeadlineChange]
    history: list[HistoryEntry]


ApplicationInput.model_rebuild()  # its ``carried`` is defined after it
