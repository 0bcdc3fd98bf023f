"""Deadline plans: a due instant and the escalation steps leading to it and beyond.

Built from the working calendar and the SLA policy (``domain.sla``). The API plans an
application's deadline at intake (to tell the applicant the promised completion time,
承诺办结时间) and hands the workflow a :class:`PlanningBasis` — the calendar as a snapshot
and the policy — on which the workflow plans each department task at dispatch. The basis is
in the workflow's history, so a later calendar update can never change the history of a
running workflow; a year's official arrangement loaded later reaches it as a :class:`Recalendar`
(also in its history), and it plans from then on on the new calendar. Pure: no I/O, no wall clock.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import date, datetime, timedelta

from pydantic import BaseModel, Field

from domain.calendar import SNAPSHOT_DAYS, CalendarSnapshot, WorkingCalendar
from domain.sla import LadderStep, SlaPolicy, application_due, application_ladder, task_ladder

RE_ESCALATION_BATCH = 24  # re-escalations planned at a time; more are planned when a task outlives them


class PlannedStep(BaseModel):
    level: str  # remind | warn | breach | re_escalate
    audience: str
    at: datetime
    sequence: int


class DeadlinePlan(BaseModel):
    started_at: datetime
    due_at: datetime
    steps: list[PlannedStep]


class PlanningBasis(BaseModel):
    """What an application's deadlines are planned on, fixed when it is submitted."""

    calendar: CalendarSnapshot
    policy: SlaPolicy


class Recalendar(BaseModel):
    """A new planning calendar for the running applications (a year's official arrangement was loaded)."""

    calendar: CalendarSnapshot
    version: str = Field(description="the calendar's fingerprint (``calendar_version``)")
    source: str = Field(description="where the arrangement comes from, for each application's history")


RECALENDAR_DAYS_BACK = 400  # a new calendar reaches this far back (an application open that long keeps its own)


def recalendar(today: date, calendar: WorkingCalendar, source: str) -> Recalendar:
    """The calendar for every running application, from ``RECALENDAR_DAYS_BACK`` days before ``today`` to a
    snapshot's length after it."""
    first = today - timedelta(days=RECALENDAR_DAYS_BACK)
    snap = calendar.snapshot(first, days=RECALENDAR_DAYS_BACK + SNAPSHOT_DAYS)
    return Recalendar(calendar=snap, version=calendar_version(snap), source=source)


def calendar_version(snap: CalendarSnapshot) -> str:
    """A short fingerprint of a snapshot's working days and hours (the same calendar: the same version)."""
    digest = hashlib.sha256(snap.model_dump_json().encode()).hexdigest()
    return digest[:16]


def planning_basis(submitted_at: datetime, calendar: WorkingCalendar, policy: SlaPolicy) -> PlanningBasis:
    """The calendar from a week before submission for a little over a year, and the policy."""
    first = calendar.to_local(submitted_at).date() - timedelta(days=7)
    return PlanningBasis(calendar=calendar.snapshot(first), policy=policy)


def _steps(ladder: Iterable[LadderStep]) -> list[PlannedStep]:
    return [PlannedStep(level=s.level, audience=s.audience, at=s.at, sequence=s.sequence) for s in ladder]


def plan_task(
    dispatched_at: datetime,
    budget_minutes: float,
    calendar: WorkingCalendar,
    policy: SlaPolicy,
    *,
    due_at: datetime | None = None,
    re_escalations: int = RE_ESCALATION_BATCH,
    exact_due: bool = True,
    digest: bool = True,
) -> DeadlinePlan:
    """A department task's plan: its budget from dispatch, or up to an extended ``due_at``, which then holds
    exactly as set (``exact_due=False``: the plan of histories from before that rule, which rounded it to the
    working minutes between dispatch and ``due_at``)."""
    if due_at is not None and exact_due:
        steps = _steps(
            task_ladder(
                dispatched_at,
                budget_minutes,
                calendar,
                policy,
                re_escalations=re_escalations,
                due_at=due_at,
                digest=digest,
            )
        )
        return DeadlinePlan(started_at=dispatched_at, due_at=calendar.to_local(due_at), steps=steps)
    if due_at is not None:
        budget_minutes = max(calendar.working_minutes_between(dispatched_at, due_at), 1.0)
    steps = _steps(
        task_ladder(dispatched_at, budget_minutes, calendar, policy, re_escalations=re_escalations, digest=digest)
    )
    due = calendar.add_working_minutes(dispatched_at, budget_minutes)
    return DeadlinePlan(started_at=dispatched_at, due_at=due, steps=steps)


def plan_application(
    submitted_at: datetime, calendar: WorkingCalendar, policy: SlaPolicy, *, due_at: datetime | None = None
) -> DeadlinePlan:
    """The whole application's plan: same day by the cut-off, else the next working day (or an extended due)."""
    due = due_at or application_due(submitted_at, calendar, policy)
    steps = _steps(application_ladder(submitted_at, due, calendar, policy))
    return DeadlinePlan(started_at=submitted_at, due_at=calendar.to_local(due), steps=steps)
