"""The planning basis as a local activity, for an application started without one.

The API puts the basis (calendar snapshot and SLA policy) into every application it starts; a
workflow started some other way asks the worker at its start, before anything else runs (the
only local activity of the workflow). Either way the basis is recorded in the workflow's
history, so a calendar update never changes a running workflow.
"""

from __future__ import annotations

from temporalio import activity

from activities.models import ActivityName, PlanningBasisInput
from domain.deadlines import PlanningBasis, planning_basis
from runtime.settings import Settings


class DeadlineActivities:
    """Pure calendar arithmetic (milliseconds), so a plain async activity needs no thread pool."""

    def __init__(self, settings: Settings) -> None:
        self._calendar = settings.working_calendar()
        self._policy = settings.sla_policy

    @activity.defn(name=ActivityName.PLANNING_BASIS)
    async def planning_basis(self, inp: PlanningBasisInput) -> PlanningBasis:
        return planning_basis(inp.submitted_at, self._calendar, self._policy)
