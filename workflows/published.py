"""What an application shows outside its workflow, for supervisors and departments: its search attributes
(status, due instant, SLA state, window, id) and the ``tasks`` memo (the open department tasks), each written
only when it changed.

Histories from before patch ``workflows.patches.LEAN`` wrote both from the coroutine that changed them, at
every change (seven departments: about 21 memo updates, each carrying every row). Since ``LEAN`` a change only
marks them stale (``changed``); ``writer``, a coroutine waiting on that mark, writes them once the activation's
ready coroutines have all run: temporalio evaluates ``wait_condition`` predicates in order of registration,
after each activation's jobs and every time its ready queue is empty, so the writer runs at the same point of
every replay and the commands come in the same order (one memo update per workflow task, usually). Since
``PER_EVENT`` each change is written at once again (no ``writer``): what a workflow task writes must not depend
on how its events were grouped into activations (``workflows.patches``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from temporalio import workflow
from temporalio.common import SearchAttributeUpdate

with workflow.unsafe.imports_passed_through():
    from workflows import visibility
    from workflows.models import DepartmentState
    from workflows.patches import patched, per_event

#: Patch id: the tasks memo carries each task's receipt number (histories from before it replay unchanged)
RECEIPT_IN_MEMO = "tasks-memo-receipt-no"


@dataclass(frozen=True)
class Shown:
    """What the application shows now: its status, due instant and SLA state (no due instant before its
    ladder is planned), its departments, and whether it has finished (the board lists running ones only)."""

    status: str
    due_at: datetime | None
    sla_state: str | None
    states: dict[str, DepartmentState]
    finished: bool


class Published:
    def __init__(self, application_id: str, window_id: str, shown: Callable[[], Shown]) -> None:
        self._application_id = application_id
        self._window_id = window_id
        self._shown = shown
        self._attrs: tuple | None = None  # the search attributes last written
        self._rows: dict = {}  # the ``tasks`` memo last written
        self._batched = False  # patch LEAN: written by ``writer`` once per activation
        self._stale = False
        self._changes = 0  # changes marked (batched)

    def changed(self) -> None:
        """Something shown changed: written at once, or (batched) by ``writer`` at the activation's end."""
        if self._batched:
            self._stale, self._changes = True, self._changes + 1
        else:
            self.write()

    def write(self, *, board: bool = True) -> None:
        """Write what changed now: the search attributes, then (``board``) the board's memo."""
        self._stale = False
        shown = self._shown()
        if shown.due_at is not None and shown.sla_state is not None:
            self.search_attributes(shown.status, shown.due_at, shown.sla_state)
        if board and not shown.finished:  # the board lists running applications only
            self.board(shown.states)

    def flush(self) -> None:
        """Write a change not yet written (batched), e.g. before the run continues as new."""
        if self._stale:
            self.write()

    async def writer(self) -> None:
        """Batched (patch LEAN): write what changed once the activation's coroutines have run. Runs for the
        workflow's life (left waiting when it returns: ``run`` writes the last change itself). Since patch
        PER_EVENT there is nothing to batch: it returns at once, and each change is written when it happens."""
        if per_event():
            return
        self._batched = True
        while True:
            await workflow.wait_condition(lambda: self._stale)
            # woken with other coroutines (a ladder that stopped, a task that ended): let them run on, to the
            # next evaluation of the conditions, until one passes without a change; then write, once
            seen = -1
            while seen != self._changes:
                seen = self._changes
                await workflow.wait_condition(lambda: True)
            self.write()

    def search_attributes(self, status: str, due_at: datetime, sla_state: str) -> None:
        """The search attributes (filter, sort), written only when they changed."""
        attrs = (status, due_at, sla_state)
        if attrs == self._attrs:
            return
        updates: list[SearchAttributeUpdate[Any]] = [
            visibility.STATUS.value_set(status),
            visibility.DUE_AT.value_set(due_at),
            visibility.SLA_STATE.value_set(sla_state),
        ]
        if self._attrs is None:
            updates += [
                visibility.WINDOW_ID.value_set(self._window_id),
                visibility.APPLICATION_ID.value_set(self._application_id),
            ]
        self._attrs = attrs
        workflow.upsert_search_attributes(updates)

    def board(self, states: dict[str, DepartmentState]) -> None:
        """The board's rows (the ``tasks`` memo: each department task that has started and not ended, its
        status, dispatch and due instants), written only when they changed."""
        rows: dict[str, dict[str, str | None]] = {
            code: {
                "status": s.status.value,
                "dispatched_at": s.dispatched_at.isoformat(),
                "due_at": s.due_at.isoformat(),
            }
            for code, s in states.items()
            if not s.status.ended and s.dispatched_at is not None and s.due_at is not None
        }
        if patched(RECEIPT_IN_MEMO):  # the department inbox shows the receipt number
            for code, row in rows.items():
                row["receipt_no"] = states[code].receipt_no
        if rows != self._rows:
            self._rows = rows
            workflow.upsert_memo({visibility.TASKS_MEMO: rows})
