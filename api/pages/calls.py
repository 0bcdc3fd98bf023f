"""Calling the API's route functions from a page: the same function, its dependencies given by the page.

A route function declares what it needs (``request``, ``client``, ``settings``, ``identity`` …); the page
passes what it has, and each function gets the parameters it declares, by name. So a route that comes to
need one more dependency (the calendar with the loaded years, the settings) keeps working from its page.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from fastapi import Request

from domain.calendar import WorkingCalendar

T = TypeVar("T")


async def page_calendar(request: Request) -> WorkingCalendar:
    """The API's working calendar now (``api.calendars.CalendarBook``: the settings' and the arrangements
    admins loaded with PUT /api/v1/admin/calendar/{year}), for the pages' countdowns and figures."""
    return await request.app.state.calendars.current()


async def call_route(route: Callable[..., Awaitable[T]], request: Request, **values: Any) -> T:
    params = inspect.signature(route).parameters
    values["request"] = request
    if "calendar" in params and "calendar" not in values:  # the API's working calendar (api.calendars)
        values["calendar"] = await page_calendar(request)
    missing = [n for n, p in params.items() if n not in values and p.default is inspect.Parameter.empty]
    if missing:
        raise TypeError(f"{route.__name__} needs {missing}, which the page does not give")
    return await route(**{name: value for name, value in values.items() if name in params})
