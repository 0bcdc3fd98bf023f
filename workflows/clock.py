"""One durable timer for the waits of all the escalation ladders of an application (patch ``ONE_CLOCK``).

Each ladder of an application (its own and one per department) waits for its next step's instant. Waiting
with a timer of its own costs each ladder a ``TimerStarted`` and, when its department ends first, a
``TimerCanceled``: sixteen events for an application of seven departments that completes before any step
is due. The clock keeps one timer, set for the earliest instant anybody waits for; a wait that ends early
(its department is done, the deadline moved) leaves the timer as it is, and a wait for an earlier instant
than the timer's starts one more. A timer nobody needs any more is never cancelled: when the workflow
completes first (the common case: steps are hours away) it costs nothing; when it fires first, the clock
sets the next timer then (a workflow task more than cancelling would have cost).

``at_once`` (patch ``PER_EVENT``): a timer is started at once, by the wait that needs it (``loop.call_later``:
its command is issued there and then), not by a task of its own that runs after every other ready coroutine,
so the commands of a ladder's wait do not depend on what else the activation carried.

Deterministic: timers are started and waits resolved only from workflow code, on workflow time.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from workflows.patches import per_event

_MIN = timedelta(milliseconds=1)  # a timer's shortest duration (Temporal counts in milliseconds)


class Clock:
    def __init__(self) -> None:
        self._at_once = per_event()
        self._waits: list[datetime] = []  # the instants waited for (one entry per wait)
        self._armed: list[datetime] = []  # the instants of the timers started and not yet fired
        self._rung: datetime | None = None  # the latest instant a timer of this clock fired for
        self._timers: list[asyncio.Future[None]] = []

    def reached(self, at: datetime) -> bool:
        return workflow.now() >= at or (self._rung is not None and self._rung >= at)

    async def wait_until(self, at: datetime, interrupted: Callable[[], bool]) -> bool:
        """Wait until the instant ``at`` (workflow time) or until ``interrupted()``. True when ``at`` came
        and nothing interrupted; False when ``interrupted()`` (it wins when both hold at once)."""
        if interrupted():
            return False
        if self.reached(at):
            return True
        self._waits.append(at)
        self._arm()
        try:
            await workflow.wait_condition(lambda: interrupted() or self.reached(at))
        finally:
            self._waits.remove(at)
        return not interrupted()

    def _arm(self) -> None:
        """Start a timer for the earliest instant waited for, unless one already fires no later than it."""
        ahead = [w for w in self._waits if not self.reached(w)]
        if not ahead:
            return
        first = min(ahead)
        if any(a <= first for a in self._armed):  # it fires first, and arms the next then
            return
        self._armed.append(first)
        after = max(first - workflow.now(), _MIN)
        if self._at_once:  # the timer's command now (patch PER_EVENT)
            asyncio.get_running_loop().call_later(after.total_seconds(), self._rang, first)
            return
        self._timers = [t for t in self._timers if not t.done()]
        self._timers.append(asyncio.ensure_future(self._ring(first, after)))

    async def _ring(self, at: datetime, after: timedelta) -> None:
        await workflow.sleep(after)
        self._rang(at)

    def _rang(self, at: datetime) -> None:
        self._armed.remove(at)
        self._rung = at if self._rung is None else max(self._rung, at)
        self._arm()  # the waits for later instants: the next timer
