"""The working calendar the API plans on: the settings' (chinese-calendar, year files, overrides) and the
official arrangements admins loaded into kaiban's store.

One ``CalendarBook`` per app. The store is read again at most every ``ttl_s`` seconds, so an arrangement one
API process loaded reaches the others within that time; the process that loaded it reads it at once.
"""

from __future__ import annotations

import asyncio
import time
from typing import Annotated

from fastapi import Depends, Request

from domain.arrangements import YearArrangement
from domain.calendar import WorkingCalendar
from runtime.settings import Settings
from store import CalendarStore

TTL_S = 15.0


class CalendarBook:
    def __init__(self, settings: Settings, calendars: CalendarStore, *, ttl_s: float = TTL_S) -> None:
        self._settings = settings
        self._calendars = calendars
        self._ttl_s = ttl_s
        self._loaded: dict[int, YearArrangement] | None = None
        self._read_at = 0.0

    async def loaded(self) -> dict[int, YearArrangement]:
        """The arrangements admins loaded, by year."""
        if self._loaded is None or time.monotonic() - self._read_at > self._ttl_s:
            years = await asyncio.to_thread(self._calendars.all)
            self._loaded = {y.arrangement.year: y.arrangement for y in years}
            self._read_at = time.monotonic()
        return self._loaded

    async def current(self) -> WorkingCalendar:
        return self._settings.working_calendar(await self.loaded())

    def invalidate(self) -> None:
        self._loaded = None


async def _calendar(request: Request) -> WorkingCalendar:
    book: CalendarBook = request.app.state.calendars
    return await book.current()


CalendarDep = Annotated[WorkingCalendar, Depends(_calendar)]
