"""The escalation ladder inside a workflow: a durable timer for each step, moved by extensions.

Used by both the application and each department task. Steps fire at their planned
instants (workflow time), in order, until the owner is done; a step that fired is in the
workflow's history, so a worker restart neither loses nor repeats one. An extension
plans the ladder anew for the new deadline: its steps already in the past are not sent,
the ones still ahead are waited for (so a reminder may come again, now for the new
deadline); each step's key carries the deadline's version. A new calendar (a year's official arrangement
loaded) plans it anew the same way: the deadline an extension set stays, one planned from working time moves.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from domain.deadlines import DeadlinePlan, PlannedStep
    from domain.escalation import LEVEL_SLA_STATE
    from workflows.clock import Clock
    from workflows.models import LadderCarry


class Ladder:
    def __init__(self, plan: DeadlinePlan) -> None:
        self.plan = plan
        self.version = 0  # bumped by every extension; part of each step's idempotency key
        self.sla_state = "on_track"
        self._next = 0
        self._requested_due: datetime | None = None
        self._recalendar = False
        #: the deadline an extension set (holds whatever the calendar); None: planned from working time
        self.fixed_due: datetime | None = None
        self._busy = False  # firing a step or re-planning (not a point to continue the workflow as new at)

    @classmethod
    def restore(cls, carry: LadderCarry) -> Ladder:
        """The ladder as a previous run of the workflow left it (continue-as-new)."""
        ladder = cls(carry.plan)
        ladder.version, ladder.sla_state, ladder._next, ladder.fixed_due = (
            carry.version,
            carry.sla_state,
            carry.next,
            carry.fixed_due,
        )
        return ladder

    def carry(self) -> LadderCarry:
        return LadderCarry(
            plan=self.plan, version=self.version, next=self._next, sla_state=self.sla_state, fixed_due=self.fixed_due
        )

    @property
    def parked(self) -> bool:
        """Waiting for its next step with nothing asked of it: its state is all there is to carry over."""
        return not self._busy and self._requested_due is None and not self._recalendar

    @property
    def due_at(self) -> datetime:
        return self.plan.due_at

    def request_extension(self, new_due_at: datetime) -> None:
        self._requested_due = new_due_at

    def request_recalendar(self) -> None:
        """The planning calendar changed: plan the ladder anew on it (``replan(fixed_due)``)."""
        self._recalendar = True

    async def run(
        self,
        *,
        done: Callable[[], bool],
        fire: Callable[[PlannedStep], Awaitable[None]],
        replan: Callable[[datetime | None], Awaitable[DeadlinePlan]],
        plan_more: Callable[[int], Awaitable[DeadlinePlan]] | None = None,
        extended: Callable[[], Awaitable[None]] | None = None,
        clock: Clock | None = None,
    ) -> None:
        """Fire steps until ``done()``. ``replan(due)`` plans an extended deadline (``replan(None)``: the
        deadline from working time, after a calendar change), after which ``extended()`` is told (``due_at``
        and ``sla_state`` are then the new ones);
        ``plan_more(n)`` plans at least ``n`` steps when the ladder runs out (re-escalations). ``clock``: the
        application's one timer for all its ladders (patch ``ONE_CLOCK``); None: a timer of the ladder's own."""

        def interrupted() -> bool:
            return done() or self._requested_due is not None or self._recalendar

        while not done():
            if self._requested_due is not None or self._recalendar:
                if self._requested_due is not None:
                    self.fixed_due, self._requested_due = self._requested_due, None
                self._recalendar = False
                self._busy = True
                self.plan = await replan(self.fixed_due)
                self.version += 1
                now = workflow.now()
                self._next = next((i for i, s in enumerate(self.plan.steps) if s.at > now), len(self.plan.steps))
                passed = [s.level for s in self.plan.steps[: self._next]]
                self.sla_state = LEVEL_SLA_STATE.get(passed[-1], "on_track") if passed else "on_track"
                if extended is not None:
                    await extended()
                self._busy = False
                continue
            if self._next >= len(self.plan.steps):
                if plan_more is None:
                    await workflow.wait_condition(interrupted)
                    continue
                self.plan = await plan_more(len(self.plan.steps) + 1)
                continue
            step = self.plan.steps[self._next]
            if clock is not None:
                if not await clock.wait_until(step.at, interrupted):
                    continue  # done or extended before the step was due
            elif (delay := step.at - workflow.now()).total_seconds() > 0:
                try:
                    await workflow.wait_condition(interrupted, timeout=delay)
                    continue  # done or extended before the step was due
                except TimeoutError:
                    pass
            self._next += 1
            self.sla_state = LEVEL_SLA_STATE.get(step.level, self.sla_state)
            self._busy = True
            await fire(step)
            self._busy = False
