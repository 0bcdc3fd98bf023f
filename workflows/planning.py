"""An application's planning basis inside its workflow: the calendar and SLA policy its deadlines are planned on.

Fixed at submission (the API puts the basis into the workflow's input), and replaced only by a new calendar
sent to the running workflow (``recalendar``, when an admin loads a year's official arrangement): the new
calendar is merged into the old one (its window wins) and every plan from then on uses it. Both arrive in
the workflow's history, so every replay plans the same. Pure arithmetic: no I/O.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from domain.calendar import CalendarSnapshot, WorkingCalendar, merge_snapshots
    from domain.deadlines import RE_ESCALATION_BATCH, DeadlinePlan, PlanningBasis, plan_application, plan_task
    from workflows.patches import patched

#: Patch id: a department task's extended deadline is the instant set, not rounded to working minutes
EXACT_EXTENSION = "task-extension-exact-instant"
#: Patch id: re-escalations become one daily digest after SlaPolicy.re_escalations_before_digest
DAILY_DIGEST = "re-escalation-daily-digest"


class Planner:
    def __init__(self, basis: PlanningBasis, submitted_at: datetime) -> None:
        self.basis = basis
        self.calendar = WorkingCalendar.from_snapshot(basis.calendar)
        self._submitted_at = submitted_at

    def recalendar(self, snapshot: CalendarSnapshot) -> bool:
        """Plan on ``snapshot`` from now on (merged into the current calendar); False: nothing changed."""
        merged = merge_snapshots(self.basis.calendar, snapshot)
        if merged == self.basis.calendar:
            return False
        self.basis = self.basis.model_copy(update={"calendar": merged})
        self.calendar = WorkingCalendar.from_snapshot(merged)
        return True

    def application(self, due_at: datetime | None = None) -> DeadlinePlan:
        """The application's plan: from submission on the calendar, or up to the deadline an extension set."""
        return plan_application(self._submitted_at, self.calendar, self.basis.policy, due_at=due_at)

    def task(
        self,
        dispatched_at: datetime,
        budget_minutes: float,
        *,
        due_at: datetime | None = None,
        re_escalations: int = RE_ESCALATION_BATCH,
    ) -> DeadlinePlan:
        """A department task's plan (pure: the same on every replay)."""
        return plan_task(
            dispatched_at,
            budget_minutes,
            self.calendar,
            self.basis.policy,
            due_at=due_at,
            re_escalations=re_escalations,
            # an extension holds at the instant the supervisor set (histories from before keep their rounding)
            exact_due=due_at is None or patched(EXACT_EXTENSION),
            # a task waiting for a person is told once a working day after a few re-escalations
            digest=patched(DAILY_DIGEST),
        )

    def next_inquiry(self, now: datetime, delay_s: float) -> float:
        """Seconds until the next inquiry: ``delay_s``, or until work starts again when that falls outside
        working hours."""
        at = now + timedelta(seconds=delay_s)
        start = self.calendar.next_working_start(at)
        return max(delay_s, (start - now).total_seconds())
