"""Today's figures of the supervisor's board, from Temporal's visibility and the finished workflows' results:
applications received and completed today (Asia/Shanghai), the median time to completion, the share
completed within the promised time, and per department the median working minutes from dispatch to result.
Within the identity's windows only. Kept for a short while: the board asks every few seconds."""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import structlog
from temporalio.client import Client

from domain.access import Identity
from domain.calendar import SHANGHAI, WorkingCalendar
from domain.status import TaskStatus
from workflows import visibility
from workflows.models import ApplicationView

log = structlog.get_logger(__name__)
CACHE_S = 20.0
RESULTS_READ = 200  # the finished applications whose results are read for the per-department chart


@dataclass
class Figures:
    received: int = 0
    completed: int = 0
    median_minutes: float | None = None  # submission to completion, wall-clock minutes
    within_deadline: float | None = None  # share of today's completed applications, 0–1
    per_department: dict[str, float] = field(default_factory=dict)  # median working minutes, dispatch to result


def _start_of_today(at: datetime) -> datetime:
    local = at.astimezone(SHANGHAI)
    return local.replace(hour=0, minute=0, second=0, microsecond=0).astimezone(UTC)


async def compute(client: Client, identity: Identity, calendar: WorkingCalendar, at: datetime) -> Figures:
    since = _start_of_today(at).strftime("%Y-%m-%dT%H:%M:%SZ")
    figures = Figures()
    async for wf in client.list_workflows(f"WorkflowType = 'Application' AND StartTime >= '{since}'", limit=5000):
        window = wf.typed_search_attributes.get(visibility.WINDOW_ID)
        if window is not None and identity.sees_window(window):
            figures.received += 1
    durations: list[float] = []
    within = 0
    per_department: dict[str, list[float]] = {}
    query = (
        f"WorkflowType = 'Application' AND ExecutionStatus = 'Completed' AND CloseTime >= '{since}'"
        f" AND {visibility.STATUS.name} = 'completed'"
    )
    read = 0
    async for wf in client.list_workflows(query, limit=2000):
        window = wf.typed_search_attributes.get(visibility.WINDOW_ID)
        if window is None or not identity.sees_window(window) or wf.close_time is None:
            continue
        figures.completed += 1
        durations.append((wf.close_time - wf.start_time).total_seconds() / 60)
        due = wf.typed_search_attributes.get(visibility.DUE_AT)
        within += 1 if due is not None and wf.close_time <= due else 0
        if read < RESULTS_READ:
            read += 1
            _add_department_times(await _result(client, wf.id), calendar, per_department)
    if durations:
        figures.median_minutes = round(statistics.median(durations), 1)
        figures.within_deadline = within / len(durations)
    figures.per_department = {code: round(statistics.median(v), 1) for code, v in sorted(per_department.items())}
    return figures


async def _result(client: Client, workflow_id: str) -> ApplicationView | None:
    try:
        return await client.get_workflow_handle(workflow_id, result_type=ApplicationView).result(follow_runs=False)
    except Exception as exc:  # a result unreadable (an old payload key): left out of the chart, said in the log
        log.warning("board_result_unreadable", application_id=workflow_id, error=str(exc))
        return None


def _add_department_times(view: ApplicationView | None, calendar: WorkingCalendar, out: dict[str, list[float]]) -> None:
    for d in view.departments if view else ():
        if d.status is TaskStatus.COMPLETED and d.dispatched_at and d.completed_at:
            out.setdefault(d.code, []).append(calendar.working_minutes_between(d.dispatched_at, d.completed_at))


class FiguresCache:
    """One computation per scope of windows every ``CACHE_S`` seconds."""

    def __init__(self) -> None:
        self._kept: dict[Any, tuple[float, Figures]] = {}

    async def get(self, client: Client, identity: Identity, calendar: WorkingCalendar, at: datetime) -> Figures:
        key = (identity.role, identity.window_id, identity.windows, _start_of_today(at))  # what it sees
        hit = self._kept.get(key)
        if hit is not None and time.monotonic() - hit[0] < CACHE_S:
            return hit[1]
        figures = await compute(client, identity, calendar, at)
        self._kept[key] = (time.monotonic(), figures)
        return figures


def chart(per_department: dict[str, float], budgets: dict[str, float], names: dict[str, str]) -> dict[str, Any]:
    """Bars of an inline SVG: each department's median against its budget (working minutes)."""
    top = max([*per_department.values(), *budgets.values(), 1.0])
    width, left, bar_h, gap = 520.0, 130.0, 22.0, 10.0
    scale = (width - left - 70) / top
    bars = []
    for i, (code, minutes) in enumerate(per_department.items()):
        y = i * (bar_h + gap) + 6
        bars.append(
            {
                "code": code,
                "name": names.get(code, code),
                "minutes": minutes,
                "y": y,
                "w": max(minutes * scale, 1.0),
                "budget_x": left + budgets.get(code, 0.0) * scale,
            }
        )
    height = max(len(bars), 1) * (bar_h + gap) + 12
    return {"bars": bars, "width": width, "height": height, "left": left, "bar_h": bar_h}
