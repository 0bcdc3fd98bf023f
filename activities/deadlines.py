"""Deadline planning as (local) activities: the calendar is read by the worker, the plan is
recorded in the workflow's history, so a calendar update never changes a running workflow."""

from __future__ import annotations

from temporalio import activity

from activities.models import PlanApplicationDeadlineInput, PlanTaskDeadlineInput
from domain.deadlines import DeadlinePlan, plan_application, plan_task
from runtime.settings import Settings


class DeadlineActivities:
    """Pure calendar arithmetic (microseconds), so plain async activities need no thread pool."""

    def __init__(self, settings: Settings) -> None:
        self._calendar = settings.working_calendar()
        self._policy = settings.sla_policy

    @activity.defn(name="plan_task_deadline")
    async def plan_task_deadline(self, inp: PlanTaskDeadlineInput) -> DeadlinePlan:
        return plan_task(
            inp.dispatched_at, inp.budget_minutes, self._calendar, self._policy,
            due_at=inp.due_at, re_escalations=inp.re_escalations,
        )

    @activity.defn(name="plan_application_deadline")
    async def plan_application_deadline(self, inp: PlanApplicationDeadlineInput) -> DeadlinePlan:
        return plan_application(inp.submitted_at, self._calendar, self._policy, due_at=inp.due_at)
