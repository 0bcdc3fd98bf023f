"""Inputs, signals and views of the workflows (one model each)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field, model_validator

from domain.catalog import Department
from domain.form import Application, application_as_of
from domain.requests import DepartmentRequest
from domain.status import ApplicationStatus, Channel, TaskStatus


class Timing(BaseModel):
    """Retry and polling policy, fixed at submission so a running workflow never changes shape."""

    robot_heartbeat_timeout_s: float = 20.0
    robot_task_timeout_s: float = 300.0
    api_task_timeout_s: float = 30.0
    robot_max_attempts: int = 8
    api_max_attempts: int = 10
    retry_initial_s: float = 1.0
    retry_max_interval_s: float = 60.0
    poll_initial_s: float = 1.0
    poll_max_s: float = 60.0


class ApplicationInput(BaseModel):
    application_id: str
    application: Application
    submitted_at: datetime
    departments: list[Department]  # the catalog as it stood at submission
    timing: Timing = Field(default_factory=Timing)
    task_queue: str = "kaiban"
    robot_task_queue: str = "kaiban-robots"

    @model_validator(mode="before")
    @classmethod
    def _judge_as_of_submission(cls, data):
        # replays and queries re-validate the payload: date rules are judged on the submission day
        if isinstance(data, dict) and "application" in data:
            data = {**data, "application": application_as_of(data["application"], data.get("submitted_at"))}
        return data


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
    dispatched_at: datetime | None = None
    completed_at: datetime | None = None
    updated_at: datetime | None = None


class DepartmentProgress(BaseModel):
    """Signal from a department task to its application: the task's new state."""

    state: DepartmentState


class ApplicationView(BaseModel):
    application_id: str
    status: ApplicationStatus
    company_name: str
    window_id: str
    submitted_at: datetime
    completed_at: datetime | None = None
    departments: list[DepartmentState]
