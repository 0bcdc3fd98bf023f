"""The planning basis as a local activity, for an application started without one.

The API puts the basis (calendar snapshot and SLA policy) into every application it starts; a
workflow started some other way asks the worker at its start, before anything else runs (the
only local activity of the workflow). Either way the basis is recorded in the workflow's
history, so a calendar update never changes a running workflow's past; a year's arrangement loaded
later reaches it as the ``recalendar`` signal (``activities.calendar``).
"""

from __future__ import annotations

import asyncio

from temporalio import activity

from activities.models import ActivityName, PlanningBasisInput
from domain.deadlines import PlanningBasis, planning_basis
from runtime.settings import Settings
from store import CalendarStore


class DeadlineActivities:
    """Calendar arithmetic (milliseconds) on the calendar of the settings and the arrangements admins loaded."""

    def __init__(self, settings: Settings, calendars: CalendarStore | None = None) -> None:
        self._settings = settings
        self._calendars = calendars
        self._policy = settings.sla_policy

    @activity.defn(name=ActivityName.PLANNING_BASIS)
    async def planning_basis(self, inp: PlanningBasisInput) -> PlanningBasis:
        loaded = await asyncio.to_thread(self._calendars.all) if self._calendars is not None else []
        calendar = self._settings.working_calendar({y.arrangement.year: y.arrangement for y in loaded})
        return planning_basis(inp.submitted_at, calendar, self._policy)
