"""Next year's calendar (节假日安排): an admin loads a year's official arrangement; open applications re-plan.

``PUT /api/v1/admin/calendar/{year}`` keeps the arrangement in kaiban's store (audited by the middleware,
with the year, the day counts and the source as the entry's detail), the API plans on it at once, and a
``CalendarRollout`` workflow tells every running application (the ``recalendar`` signal): each re-plans its
deadlines from then on. Loading the same arrangement again changes nothing and starts no rollout.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Literal

import structlog
from fastapi import APIRouter, Path, Request
from pydantic import BaseModel, Field, ValidationError
from temporalio.client import Client
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from api.access import require
from api.auth import Refusal
from api.calendars import CalendarBook
from api.clean import CheckedRoute
from api.deps import ClientDep, SettingsDep
from api.problems import COMMON, POSTS, responses
from domain.access import Identity, Role
from domain.arrangements import (
    MAX_YEAR,
    MIN_YEAR,
    YearArrangement,
    arrangement_problems,
    next_year_warning,
    packaged_year,
)
from domain.calendar import SHANGHAI, WorkingCalendar
from domain.deadlines import recalendar
from runtime.settings import Settings
from workflows.calendar_rollout import CalendarRolloutWorkflow, rollout_id

log = structlog.get_logger(__name__)
router = APIRouter(prefix="/api/v1/admin/calendar", tags=["calendar"], route_class=CheckedRoute)

Year = Annotated[int, Path(ge=MIN_YEAR, le=MAX_YEAR, description="年份，例如 2027")]


class ArrangementBody(BaseModel):
    holidays: list[date] = Field(description="放假日（YYYY-MM-DD），含与周末相连的休息日")
    workdays: list[date] = Field(default_factory=list, description="调休上班日（YYYY-MM-DD，周六或周日）")
    source: str = Field(min_length=1, max_length=500, description="依据：国务院办公厅通知的文号或网址")


class LoadedArrangement(BaseModel):
    year: int
    holidays: list[date]
    workdays: list[date]
    source: str
    origin: Literal["loaded", "file", "chinese-calendar"] = Field(
        description="loaded 管理员载入 | file 安装时的年度文件 | chinese-calendar 安装包自带（放假日仅列工作日）"
    )
    loaded_by: str | None = None
    loaded_at: datetime | None = None
    changed: bool | None = Field(None, description="仅载入时：是否与已有安排不同（相同则不重新计划）")
    rollout_workflow_id: str | None = Field(None, description="通知在办申请重新计划时限的工作流")


class CalendarYear(BaseModel):
    year: int
    official: bool = Field(description="是否有官方节假日安排（否则按周一至周五计算）")
    origin: Literal["chinese-calendar", "loaded", "file"] | None = None
    source: str | None = None
    loaded_by: str | None = None
    loaded_at: datetime | None = None


class CalendarOverview(BaseModel):
    years: list[CalendarYear]
    warning: str | None = Field(None, description="自 11 月 1 日起，次年安排仍未载入时的提醒")


def _view(arrangement: YearArrangement, origin: Literal["loaded", "file"], **extra: object) -> LoadedArrangement:
    return LoadedArrangement(
        year=arrangement.year,
        holidays=list(arrangement.holidays),
        workdays=list(arrangement.workdays),
        source=arrangement.source,
        origin=origin,
        **extra,
    )


@router.put(
    "/{year}",
    response_model=LoadedArrangement,
    responses=responses(*COMMON, *POSTS, 403),
    summary="载入某年的法定节假日安排（国务院办公厅通知），在办申请据此重新计划时限",
)
async def load_year(
    year: Year,
    body: ArrangementBody,
    request: Request,
    client: ClientDep,
    settings: SettingsDep,
    identity: Annotated[Identity, require(Role.ADMIN)],
) -> LoadedArrangement:
    try:
        arrangement = YearArrangement(year=year, holidays=body.holidays, workdays=body.workdays, source=body.source)
    except ValidationError as exc:
        raise Refusal(422, "invalid_arrangement", f"节假日安排有误：{arrangement_problems(exc)}") from None
    store = request.app.state.store.calendars
    loaded_at = datetime.now(UTC)
    changed = await asyncio.to_thread(store.put, arrangement, loaded_by=identity.subject, loaded_at=loaded_at)
    book: CalendarBook = request.app.state.calendars
    book.invalidate()
    request.state.audit_detail = {
        "year": year,
        "holidays": len(arrangement.holidays),
        "workdays": len(arrangement.workdays),
        "source": arrangement.source[:200],
        "changed": changed,
    }
    workflow_id = await _roll_out(client, settings, await book.current(), arrangement) if changed else None
    log.info("calendar_year_loaded", year=year, changed=changed, loaded_by=identity.subject, rollout=workflow_id)
    current = await asyncio.to_thread(store.get, year)
    assert current is not None
    return _view(
        current.arrangement,
        "loaded",
        loaded_by=current.loaded_by,
        loaded_at=current.loaded_at.astimezone(SHANGHAI),
        changed=changed,
        rollout_workflow_id=workflow_id,
    )


async def _roll_out(client: Client, settings: Settings, calendar: WorkingCalendar, arrangement: YearArrangement) -> str:
    """Start the rollout of the calendar now in force to every running application; its workflow id."""
    change = recalendar(
        datetime.now(SHANGHAI).date(), calendar, f"{arrangement.year} 年节假日安排（{arrangement.source}）"
    )
    workflow_id = rollout_id(change.version)
    try:
        await client.start_workflow(
            CalendarRolloutWorkflow.run,
            change,
            id=workflow_id,
            task_queue=settings.task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
        )
    except WorkflowAlreadyStartedError:  # the same calendar is being rolled out already
        pass
    return workflow_id


@router.get(
    "",
    response_model=CalendarOverview,
    responses=responses(*COMMON, 403),
    summary="各年份的节假日安排来源：官方数据、管理员载入或缺失（按周一至周五计算）",
)
async def calendar_overview(
    request: Request,
    settings: SettingsDep,
    identity: Annotated[Identity, require(Role.SUPERVISOR, Role.ADMIN)],
) -> CalendarOverview:
    book: CalendarBook = request.app.state.calendars
    loaded = {y.arrangement.year: y for y in await asyncio.to_thread(request.app.state.store.calendars.all)}
    files = settings.calendar_year_files()
    calendar = await book.current()
    today = datetime.now(SHANGHAI).date()
    years = []
    for year in sorted({today.year - 1, today.year, today.year + 1, *loaded, *files}):
        entry = CalendarYear(year=year, official=calendar.has_official_data(year))
        if year in loaded:
            y = loaded[year]
            entry.origin, entry.source = "loaded", y.arrangement.source
            entry.loaded_by, entry.loaded_at = y.loaded_by, y.loaded_at.astimezone(SHANGHAI)
        elif year in files:
            entry.origin, entry.source = "file", files[year].source
        elif packaged_year(year):
            entry.origin = "chinese-calendar"
        years.append(entry)
    return CalendarOverview(years=years, warning=next_year_warning(today, calendar.has_official_data))


@router.get(
    "/{year}",
    response_model=LoadedArrangement,
    responses=responses(*COMMON, 403, 404, s404="该年份没有官方节假日安排"),
    summary="某年的节假日安排：管理员载入的、年度文件的或安装包自带的",
)
async def loaded_year(
    year: Year,
    request: Request,
    settings: SettingsDep,
    identity: Annotated[Identity, require(Role.SUPERVISOR, Role.ADMIN)],
) -> LoadedArrangement:
    current = await asyncio.to_thread(request.app.state.store.calendars.get, year)
    if current is not None:
        return _view(
            current.arrangement, "loaded", loaded_by=current.loaded_by, loaded_at=current.loaded_at.astimezone(SHANGHAI)
        )
    files = settings.calendar_year_files()
    if year in files:
        return _view(files[year], "file")
    if packaged_year(year):  # what the calendar does with it: weekdays off, weekend days on
        calendar: WorkingCalendar = settings.working_calendar()
        days = [date(year, 1, 1) + timedelta(days=n) for n in range((date(year + 1, 1, 1) - date(year, 1, 1)).days)]
        return LoadedArrangement(
            year=year,
            holidays=[d for d in days if d.weekday() < 5 and not calendar.is_working_day(d)],
            workdays=[d for d in days if d.weekday() >= 5 and calendar.is_working_day(d)],
            source="chinese-calendar（随安装包提供的官方安排）",
            origin="chinese-calendar",
        )
    raise Refusal(404, "no_arrangement", f"{year} 年没有官方节假日安排：请在国务院办公厅通知发布后载入")
