"""Deadlines and the escalation ladder (DOMAIN.md "Deadlines (SLA) and escalation").

- Whole application: submitted on a working day at or before the cut-off (15:00) → due
  at the end of that working day (17:30, 当日办结); otherwise → due at the end of the
  next working day.
- Department task: due when its budget of working minutes has elapsed from dispatch.
- Ladder: steps at fractions of the working time from start to due, measured with the
  working calendar (so a step that would fall after 17:30 lands the next working
  morning); a task's ladder goes on after the breach with a re-escalation every 60
  working minutes.

Pure: every function takes the instants it needs; nothing reads the wall clock.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from domain.calendar import WorkingCalendar

LadderLevel = Literal["remind", "warn", "breach", "re_escalate", "digest"]
RungLevel = Literal["remind", "warn", "breach"]
SlaState = Literal["on_track", "at_risk", "breached"]

# Audiences (who is told). Plain strings so routing to people stays configuration.
DEPARTMENT_HANDLER = "department_handler"  # 部门经办人, 提醒
DEPARTMENT_SUPERVISOR = "department_supervisor"  # 部门负责人, 预警
WINDOW_SUPERVISOR = "window_supervisor"  # 窗口负责人, 超时
LEADING_GROUP_OFFICE = "leading_group_office"  # 领导小组办公室, 督办


class LadderRung(BaseModel):
    """One step of a ladder as configured: at ``fraction`` of the working time to due."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    level: RungLevel
    fraction: float = Field(gt=0, le=1)
    audience: str = Field(min_length=1)


def _check_rungs(rungs: tuple[LadderRung, ...]) -> tuple[LadderRung, ...]:
    levels = [r.level for r in rungs]
    if len(set(levels)) != len(levels):
        raise ValueError(f"each level may appear once in a ladder, got {levels}")
    fractions = [r.fraction for r in rungs]
    if fractions != sorted(fractions) or len(set(fractions)) != len(fractions):
        raise ValueError(f"ladder fractions must strictly increase, got {fractions}")
    for r in rungs:
        if r.level == "breach" and r.fraction != 1.0:
            raise ValueError(f"the breach step is at the deadline: fraction 1.0, got {r.fraction}")
        if r.level != "breach" and r.fraction >= 1.0:
            raise ValueError(f"a {r.level} step must come before the deadline, got fraction {r.fraction}")
    return rungs


class SlaPolicy(BaseModel):
    """The SLA defaults of DOMAIN.md, each one configurable."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    same_day_cutoff: time = time(15, 0)
    # None: the calendar's end of the working day (17:30 by default).
    application_due_time: time | None = None
    task_ladder: tuple[LadderRung, ...] = (
        LadderRung(level="remind", fraction=0.5, audience=DEPARTMENT_HANDLER),
        LadderRung(level="warn", fraction=0.8, audience=DEPARTMENT_SUPERVISOR),
        LadderRung(level="breach", fraction=1.0, audience=WINDOW_SUPERVISOR),
    )
    re_escalate_every_minutes: float = Field(default=60, gt=0)
    re_escalate_audience: str = Field(default=LEADING_GROUP_OFFICE, min_length=1)
    # A task still open after this many re-escalations (waiting for a person) is told once a working day
    # instead, at digest_time: its history and the office's inbox stay bounded however long it waits.
    re_escalations_before_digest: int = Field(default=3, ge=0)
    digest_time: time = time(9, 30)
    application_ladder: tuple[LadderRung, ...] = (
        LadderRung(level="warn", fraction=0.8, audience=WINDOW_SUPERVISOR),
        LadderRung(level="breach", fraction=1.0, audience=WINDOW_SUPERVISOR),
    )
    at_risk_threshold: float = Field(default=0.8, gt=0, le=1)

    @field_validator("task_ladder", "application_ladder")
    @classmethod
    def _valid_ladder(cls, rungs: tuple[LadderRung, ...]) -> tuple[LadderRung, ...]:
        return _check_rungs(rungs)

    @field_validator("same_day_cutoff", "application_due_time")
    @classmethod
    def _local_time(cls, t: time | None) -> time | None:
        if t is not None and t.tzinfo is not None:
            raise ValueError("a local wall-clock time in the calendar's time zone: give it without tzinfo")
        return t

    @model_validator(mode="after")
    def _due_after_cutoff(self) -> SlaPolicy:
        if self.application_due_time is not None and self.application_due_time <= self.same_day_cutoff:
            raise ValueError("application_due_time must be after same_day_cutoff")
        return self


@dataclass(frozen=True)
class LadderStep:
    """One escalation to send: ``level`` to ``audience`` at instant ``at``.

    ``sequence`` is the step's 1-based position in its ladder (stable for a given
    policy), usable as an idempotency key: the k-th re-escalation of a task ladder has
    ``sequence == len(policy.task_ladder) + k``.
    """

    level: LadderLevel
    audience: str
    at: datetime
    sequence: int


# ---- deadlines --------------------------------------------------------------------


def application_due(submitted_at: datetime, calendar: WorkingCalendar, policy: SlaPolicy) -> datetime:
    """Due instant of a whole application (当日办结 by the cut-off, else next working day)."""
    local = calendar.to_local(submitted_at)
    d = local.date()
    if calendar.is_working_day(d) and local.time() <= policy.same_day_cutoff:
        due_day = d
    else:
        due_day = calendar.next_working_day(d)
    if policy.application_due_time is None:
        return calendar.end_of_working_day(due_day)
    return datetime.combine(due_day, policy.application_due_time, tzinfo=calendar.tz)


def task_due(dispatched_at: datetime, budget_minutes: int | float, calendar: WorkingCalendar) -> datetime:
    """Due instant of a department task: ``budget_minutes`` working minutes after dispatch."""
    _check_budget(budget_minutes)
    return calendar.add_working_minutes(dispatched_at, budget_minutes)


# ---- ladders ----------------------------------------------------------------------


def task_ladder(
    dispatched_at: datetime,
    budget_minutes: int | float,
    calendar: WorkingCalendar,
    policy: SlaPolicy,
    *,
    re_escalations: int,
    due_at: datetime | None = None,
    digest: bool = True,
) -> list[LadderStep]:
    """The task's steps in time order: the policy's rungs, then ``re_escalations`` re-escalations.

    The k-th re-escalation is ``k × re_escalate_every_minutes`` working minutes after the
    deadline. Ask for more re-escalations (a larger ``re_escalations``) to extend the
    ladder; earlier steps do not move. ``due_at`` (an extension): the deadline is exactly that
    instant, even outside working time, and the rungs are fractions of the working time up to it.
    """
    if due_at is not None:
        return _extended_task_ladder(
            dispatched_at, due_at, calendar, policy, re_escalations=re_escalations, digest=digest
        )
    _check_budget(budget_minutes)
    if isinstance(re_escalations, bool) or not isinstance(re_escalations, int) or re_escalations < 0:
        raise ValueError(f"re_escalations must be a non-negative int, got {re_escalations!r}")
    budget = timedelta(minutes=budget_minutes)
    steps = [
        LadderStep(
            level=rung.level,
            audience=rung.audience,
            at=calendar.add_working_time(dispatched_at, budget * rung.fraction),
            sequence=i,
        )
        for i, rung in enumerate(policy.task_ladder, start=1)
    ]
    due = calendar.add_working_time(dispatched_at, budget)
    steps += _re_escalations(due, calendar, policy, count=re_escalations, digest=digest)
    return steps


def _re_escalations(
    due: datetime, calendar: WorkingCalendar, policy: SlaPolicy, *, count: int, digest: bool
) -> list[LadderStep]:
    """After the deadline: every ``re_escalate_every_minutes`` working minutes; with ``digest``, after
    ``re_escalations_before_digest`` of those, once a working day at ``digest_time`` instead."""
    every = timedelta(minutes=policy.re_escalate_every_minutes)
    steps: list[LadderStep] = []
    at = due
    for k in range(1, count + 1):
        sequence = len(policy.task_ladder) + k
        if digest and k > policy.re_escalations_before_digest:
            day = calendar.next_working_day(calendar.to_local(at).date())
            at = datetime.combine(day, policy.digest_time, tzinfo=calendar.tz)
            steps.append(LadderStep(level="digest", audience=policy.re_escalate_audience, at=at, sequence=sequence))
            continue
        at = calendar.add_working_time(at, every)  # chained: each exactly `every` working time later
        steps.append(LadderStep(level="re_escalate", audience=policy.re_escalate_audience, at=at, sequence=sequence))
    return steps


def _extended_task_ladder(
    dispatched_at: datetime,
    due_at: datetime,
    calendar: WorkingCalendar,
    policy: SlaPolicy,
    *,
    re_escalations: int,
    digest: bool,
) -> list[LadderStep]:
    due = calendar.to_local(due_at)
    total = calendar.working_time_between(dispatched_at, due)
    steps = [
        LadderStep(
            level=rung.level,
            audience=rung.audience,
            at=due
            if rung.fraction >= 1.0 or total <= timedelta(0)
            else min(calendar.add_working_time(dispatched_at, total * rung.fraction), due),
            sequence=i,
        )
        for i, rung in enumerate(policy.task_ladder, start=1)
    ]
    steps += _re_escalations(due, calendar, policy, count=re_escalations, digest=digest)
    return steps


def application_ladder(
    submitted_at: datetime, due_at: datetime, calendar: WorkingCalendar, policy: SlaPolicy
) -> list[LadderStep]:
    """The application's steps: fractions of the working time from submission to ``due_at``.

    The breach step (fraction 1.0) is exactly ``due_at``. If there is no working time
    left between submission and ``due_at`` (e.g. ``due_at`` already passed), every step
    is at ``due_at``.
    """
    due_local = calendar.to_local(due_at)
    total = calendar.working_time_between(submitted_at, due_local)
    steps = []
    for i, rung in enumerate(policy.application_ladder, start=1):
        if rung.fraction == 1.0 or total <= timedelta(0):
            at = due_local
        else:
            at = min(calendar.add_working_time(submitted_at, total * rung.fraction), due_local)
        steps.append(LadderStep(level=rung.level, audience=rung.audience, at=at, sequence=i))
    return steps


def next_steps_after(steps: Iterable[LadderStep], t: datetime) -> list[LadderStep]:
    """Steps strictly after ``t``, in time order (a step exactly at ``t`` counts as done)."""
    if t.tzinfo is None or t.tzinfo.utcoffset(t) is None:
        raise ValueError(f"naive datetime {t.isoformat()}: give an aware datetime (with a time zone)")
    return sorted((s for s in steps if s.at > t), key=lambda s: (s.at, s.sequence))


# ---- state ------------------------------------------------------------------------


def remaining_working_minutes(now: datetime, due_at: datetime, calendar: WorkingCalendar) -> float:
    """Working minutes from ``now`` to ``due_at``; negative once working time has passed the deadline.

    Between a deadline and the next working start (e.g. 17:45 after a 17:30 deadline, or
    a weekend) this is 0, not negative: no working time has been lost yet. Use
    ``sla_state`` to ask whether a deadline has passed.
    """
    return calendar.working_minutes_between(now, due_at)


def sla_state(
    now: datetime, started_at: datetime, due_at: datetime, calendar: WorkingCalendar, policy: SlaPolicy
) -> SlaState:
    """``breached`` from ``due_at`` on; ``at_risk`` once the elapsed share of working time
    reaches ``policy.at_risk_threshold``; ``on_track`` before that."""
    now_local = calendar.to_local(now)
    due_local = calendar.to_local(due_at)
    if now_local >= due_local:
        return "breached"
    total = calendar.working_time_between(started_at, due_local)
    if total <= timedelta(0):
        return "at_risk"
    elapsed = calendar.working_time_between(started_at, now_local)
    if elapsed / total >= policy.at_risk_threshold:
        return "at_risk"
    return "on_track"


def _check_budget(budget_minutes: int | float) -> None:
    if isinstance(budget_minutes, bool) or not isinstance(budget_minutes, int | float):
        raise TypeError(f"budget_minutes must be a number, got {type(budget_minutes).__name__}")
    if not budget_minutes > 0 or budget_minutes == float("inf"):
        raise ValueError(f"budget_minutes must be a positive finite number, got {budget_minutes}")
