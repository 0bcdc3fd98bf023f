"""The promised completion time (承诺办结时间) a clerk can tell an applicant, by the policy."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, status

from api.access import require
from api.deps import SettingsDep
from api.schemas import DeadlineAnswer
from domain.access import Identity, Role
from domain.deadlines import plan_application
from domain.sla import task_due

router = APIRouter(prefix="/api/v1/deadlines", tags=["deadlines"])


@router.get("", response_model=DeadlineAnswer, summary="按时限政策计算承诺办结时间")
async def deadlines(
    settings: SettingsDep,
    identity: Annotated[Identity, require(Role.CLERK, Role.SUPERVISOR, Role.ADMIN)],
    submitted_at: Annotated[datetime, Query(description="提交时间（ISO 8601，须带时区）")],
    department: Annotated[str | None, Query(description="部门代码")] = None,
    dispatched_at: Annotated[datetime | None, Query(description="派发给该部门的时间，默认等于提交时间")] = None,
) -> DeadlineAnswer:
    for name, t in (("submitted_at", submitted_at), ("dispatched_at", dispatched_at)):
        if t is not None and t.tzinfo is None:
            raise HTTPException(
                status.HTTP_422_UNPROCESSABLE_CONTENT, detail=f"{name} 须带时区，例如 2026-09-30T14:00:00+08:00"
            )
    calendar = settings.working_calendar()
    answer = DeadlineAnswer(
        submitted_at=submitted_at,
        application_due_at=plan_application(submitted_at, calendar, settings.sla_policy).due_at,
    )
    if department is not None:
        try:
            dept = settings.catalog().get(department)
        except KeyError:
            raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"未知的部门代码 {department}") from None
        start = dispatched_at or submitted_at
        answer.department = dept.code
        answer.budget_minutes = dept.budget_minutes
        answer.dispatched_at = start
        answer.task_due_at = task_due(start, dept.budget_minutes, calendar)
    return answer
