"""The promised completion time (承诺办结时间) a clerk can tell an applicant, by the policy."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.access import require
from api.auth import Refusal
from api.calendars import CalendarDep
from api.clean import CheckedRoute
from api.deps import SettingsDep
from api.params import DepartmentQuery
from api.problems import COMMON, responses
from api.schemas import DeadlineAnswer, IsoDateTime
from domain.access import Identity, Role
from domain.arrangements import missing_year_notice
from domain.deadlines import plan_application
from domain.sla import task_due

router = APIRouter(prefix="/api/v1/deadlines", tags=["deadlines"], route_class=CheckedRoute)


@router.get(
    "",
    response_model=DeadlineAnswer,
    responses=responses(*COMMON, 403, 404, s404="未知的部门代码"),
    summary="按时限政策计算承诺办结时间",
)
async def deadlines(
    settings: SettingsDep,
    calendar: CalendarDep,
    identity: Annotated[Identity, require(Role.CLERK, Role.SUPERVISOR, Role.ADMIN)],
    submitted_at: Annotated[IsoDateTime, Query(description="提交时间（ISO 8601，须带时区）")],
    department: DepartmentQuery = None,
    dispatched_at: Annotated[
        IsoDateTime | None, Query(description="派发给该部门的时间（须带时区），默认等于提交时间")
    ] = None,
) -> DeadlineAnswer:
    answer = DeadlineAnswer(
        submitted_at=submitted_at,
        application_due_at=plan_application(submitted_at, calendar, settings.sla_policy).due_at,
    )
    if department is not None:
        try:
            dept = settings.catalog().get(department)
        except KeyError:
            raise Refusal(404, "unknown_department", f"未知的部门代码 {department}") from None
        start = dispatched_at or submitted_at
        answer.department = dept.code
        answer.budget_minutes = dept.budget_minutes
        answer.dispatched_at = start
        answer.task_due_at = task_due(start, dept.budget_minutes, calendar)
    instants = [t for t in (submitted_at, answer.application_due_at, answer.dispatched_at, answer.task_due_at) if t]
    answer.years_without_official_data = calendar.years_without_official_data(*instants)
    if answer.years_without_official_data:
        answer.calendar_notice = "；".join(missing_year_notice(y) for y in answer.years_without_official_data)
    return answer
