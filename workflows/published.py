"""What an application shows outside its workflow, for supervisors and departments: its search attributes
(status, due instant, SLA state, window, id) and the ``tasks`` memo (the open department tasks), each written
only when it changed, from the coroutine that changed it (so the commands come in the same order on every
replay)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from temporalio import workflow
from temporalio.common import SearchAttributeUpdate

with workflow.unsafe.imports_passed_through():
    from workflows import visibility
    from workflows.models import DepartmentState

#: Patch id: the tasks memo carries each task's receipt number (histories from before it replay unchanged)
RECEIPT_IN_MEMO = "tasks-memo-receipt-no"


class Published:
    def __init__(self, application_id: str, window_id: str) -> None:
        self._application_id = application_id
        self._window_id = window_id
        self._attrs: tuple | None = None  # the search attributes last written
        self._rows: dict = {}  # the ``tasks`` memo last written

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
        if workflow.patched(RECEIPT_IN_MEMO):  # the department inbox shows the receipt number
            for code, row in rows.items():
                row["receipt_no"] = states[code].receipt_no
        if rows != self._rows:
            self._rows = rows
            workflow.upsert_memo({visibility.TASKS_MEMO: rows})
