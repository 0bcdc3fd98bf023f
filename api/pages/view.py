"""What the application page shows, computed from the API's ``ApplicationView``: per department its
timeline step, live SLA state and remaining working time; which actions apply for whom."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from domain.access import Identity
from domain.calendar import WorkingCalendar
from domain.sla import SlaPolicy, remaining_working_minutes, sla_state
from domain.status import TaskStatus
from workflows.models import ApplicationView, DepartmentState

LICENCE = "amr"  # once its licence is approved, an application can no longer be withdrawn


def now() -> datetime:
    """The present instant of the pages' countdowns and SLA colours (tests put their own clock here)."""
    return datetime.now(UTC)


@dataclass(frozen=True)
class Countdown:
    due_at: datetime
    remaining: float  # working minutes, negative once past
    ticking: bool  # working time passes right now
    sla: str  # on_track | at_risk | breached
    estimated: bool = False  # due in a year without an official arrangement: Monday–Friday, it may move


def countdown(
    start: datetime | None, due: datetime | None, at: datetime, calendar: WorkingCalendar, policy: SlaPolicy
) -> Countdown | None:
    if due is None:
        return None
    local_now = calendar.to_local(at)
    ticking = calendar.to_local(calendar.next_working_start(at)) <= local_now
    remaining = remaining_working_minutes(at, due, calendar)
    if start is not None:
        state = sla_state(at, start, due, calendar, policy)
    else:
        state = "breached" if local_now >= calendar.to_local(due) else "on_track"
    return Countdown(
        due_at=calendar.to_local(due),
        remaining=round(remaining, 2),
        ticking=ticking,
        sla=state,
        estimated=not calendar.has_official_data(calendar.to_local(due).year),
    )


@dataclass(frozen=True)
class DepartmentRow:
    state: DepartmentState
    countdown: Countdown | None
    result: list[tuple[str, Any]]


def rows(view: ApplicationView, at: datetime, calendar: WorkingCalendar, policy: SlaPolicy) -> list[DepartmentRow]:
    out = []
    for d in view.departments:
        open_ = d.status in (TaskStatus.DISPATCHED, TaskStatus.IN_REVIEW, TaskStatus.MANUAL)
        clock = countdown(d.dispatched_at, d.due_at, at, calendar, policy) if open_ else None
        out.append(DepartmentRow(state=d, countdown=clock, result=list((d.result or {}).items())))
    return out


def application_countdown(
    view: ApplicationView, at: datetime, calendar: WorkingCalendar, policy: SlaPolicy
) -> Countdown | None:
    if view.status not in ("processing", "needs_correction"):
        return None
    return countdown(view.submitted_at, view.due_at, at, calendar, policy)


@dataclass(frozen=True)
class Actions:
    correct: bool
    manual: list[DepartmentState]  # tasks a clerk may complete by hand
    retry: list[DepartmentState]  # tasks that may be sent back to their channel
    withdraw: bool
    notice: bool


def actions(view: ApplicationView, identity: Identity) -> Actions:
    handles = identity.handles_applications(view.window_id)
    running = view.status in ("processing", "needs_correction")
    manual = [d for d in view.departments if d.status is TaskStatus.MANUAL] if running else []
    licence = next((d for d in view.departments if d.code == LICENCE), None)
    approved = licence is not None and licence.status is TaskStatus.COMPLETED
    return Actions(
        correct=handles and view.status == "needs_correction",
        manual=manual if handles else [],
        retry=manual if (handles or identity.oversees) else [],
        withdraw=handles and running and not approved,
        notice=view.status == "completed",
    )
