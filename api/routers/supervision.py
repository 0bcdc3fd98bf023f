"""Supervision: the escalation steps the deadline timers fired, and whether they reached people.

Read from kaiban's store (``settings.database_url``), which the worker's ``notify`` activity writes.
The notice routes are plain ``def``: FastAPI runs them in its thread pool, so the database reads
never block the event loop.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

import structlog
from fastapi import APIRouter, Query
from pydantic import BaseModel, Field, field_validator

from api.access import require
from api.calendars import CalendarDep
from api.clean import CheckedRoute
from api.deps import ClientDep, NoticesDep, SettingsDep
from api.params import ApplicationIdQuery, DepartmentQuery
from api.problems import COMMON, responses
from domain.access import Identity, Role
from domain.arrangements import next_year_warning
from domain.calendar import SHANGHAI
from domain.sla import remaining_working_minutes
from domain.sla import sla_state as compute_sla_state
from workflows import visibility
from workflows.visibility import TASKS_MEMO

log = structlog.get_logger(__name__)

router = APIRouter(prefix="/api/v1", tags=["supervision"], route_class=CheckedRoute)

#: Supervisors and admins: everything in their scope of windows
Overseer = Annotated[Identity, require(Role.SUPERVISOR, Role.ADMIN)]
Limit = Annotated[int, Query(ge=1, le=1000, description="最多返回条数（最新的在前）")]


class DeliveryState(BaseModel):
    """One delivery channel (e.g. ``webhook``) of one step."""

    channel: str
    status: Literal["delivered", "failed"]
    attempts: int = Field(description="已尝试次数")
    last_status_code: int | None = Field(None, description="最近一次对方返回的 HTTP 状态码")
    last_error: str | None = Field(None, description="最近一次失败的原因（成功后仍保留以备查）")
    first_attempt_at: datetime
    last_attempt_at: datetime
    delivered_at: datetime | None = None


class NotificationRecord(BaseModel):
    """One escalation step (or other notice) as the store holds it, with its delivery state."""

    key: str = Field(description="该步骤的唯一标识，亦即 webhook 的 X-Kaiban-Delivery")
    application_id: str
    department: str | None = Field(None, description="部门代码；为空表示整件申请")
    level: str = Field(description="remind 提醒 | warn 预警 | breach 超时 | re_escalate 督办")
    audience: str = Field(description="通知对象")
    sequence: int
    due_at: datetime
    planned_at: datetime
    fired_at: datetime
    window_id: str
    message: str
    recorded_at: datetime
    delivery_status: Literal["recorded", "delivered", "failed"] = Field(
        description="delivered 已送达 | failed 推送失败（正在重试）| recorded 仅记录（该对象未配置 webhook）"
    )
    deliveries: list[DeliveryState]

    @field_validator("due_at", "planned_at", "fired_at", "recorded_at")
    @classmethod
    def _in_shanghai(cls, instant: datetime) -> datetime:  # the store reads instants back in UTC
        return instant.astimezone(SHANGHAI)


class EscalationList(BaseModel):
    count: int
    items: list[NotificationRecord]


class NotificationInbox(BaseModel):
    audience: str
    count: int
    items: list[NotificationRecord]


@router.get(
    "/supervision/escalations",
    response_model=EscalationList,
    responses=responses(*COMMON, 403),
    summary="查询超时预警与督办记录（含推送状态）",
)
def list_escalations(
    notices: NoticesDep,
    identity: Overseer,
    application_id: ApplicationIdQuery = None,
    department: DepartmentQuery = None,
    audience: Annotated[str | None, Query(max_length=64, description="通知对象")] = None,
    level: Annotated[str | None, Query(max_length=32, description="级别：remind | warn | breach | re_escalate")] = None,
    limit: Limit = 200,
) -> EscalationList:
    rows = notices.list(
        application_id=application_id, department=department, audience=audience, level=level, limit=limit
    )
    rows = [r for r in rows if identity.sees_window(r["window_id"])]
    return EscalationList(count=len(rows), items=[NotificationRecord.model_validate(r) for r in rows])


@router.get(
    "/notifications",
    response_model=NotificationInbox,
    responses=responses(*COMMON, 403),
    summary="查询某一通知对象收到的通知（督办人收件箱）",
)
def list_notifications(
    notices: NoticesDep,
    identity: Overseer,
    audience: Annotated[
        str,
        Query(
            min_length=1,
            max_length=64,
            description=(
                "通知对象：department_handler | department_supervisor | window_supervisor | leading_group_office"
            ),
        ),
    ],
    application_id: ApplicationIdQuery = None,
    department: DepartmentQuery = None,
    limit: Limit = 200,
) -> NotificationInbox:
    rows = notices.list(audience=audience, application_id=application_id, department=department, limit=limit)
    rows = [r for r in rows if identity.sees_window(r["window_id"])]
    return NotificationInbox(
        audience=audience, count=len(rows), items=[NotificationRecord.model_validate(r) for r in rows]
    )


# -- the supervision board: every open department task against its deadline ----------------------


class BoardItem(BaseModel):
    application_id: str
    department: str
    window_id: str | None = None
    status: str | None = Field(None, description="事项状态")
    dispatched_at: datetime
    due_at: datetime = Field(description="办结时限")
    remaining_working_minutes: float = Field(description="剩余工作分钟（已超时为负）")
    sla_state: Literal["on_track", "at_risk", "breached"]
    calendar_estimated: bool = Field(
        False, description="办结时限落在尚无官方节假日安排的年份（按周一至周五计算，载入安排后会变）"
    )


class Board(BaseModel):
    generated_at: datetime
    count: int
    items: list[BoardItem]
    calendar_warning: str | None = Field(None, description="自 11 月 1 日起，次年节假日安排仍未载入时的提醒")


def board_now() -> datetime:
    """The instant the board computes remaining time and SLA states at (tests put their own clock here)."""
    return datetime.now(UTC)


@router.get(
    "/supervision/board",
    response_model=Board,
    responses=responses(*COMMON, 403, 503),
    summary="督办看板：所有在办部门事项，按紧急程度排序",
)
async def supervision_board(
    client: ClientDep,
    settings: SettingsDep,
    calendar: CalendarDep,
    identity: Overseer,
    department: DepartmentQuery = None,
    sla_state: Annotated[Literal["on_track", "at_risk", "breached"] | None, Query(description="时限状态")] = None,
    limit: Limit = 200,
) -> Board:
    """Open department tasks from Temporal's visibility (search attributes and the application's ``tasks``
    memo, no personal data), with the remaining working minutes and SLA state computed now on the working
    calendar; most urgent first."""
    query = "WorkflowType = 'Application' AND ExecutionStatus = 'Running'"
    now = board_now()
    items: list[BoardItem] = []
    async for wf in client.list_workflows(query, limit=2000):
        attrs = wf.typed_search_attributes
        app_id = attrs.get(visibility.APPLICATION_ID) or wf.id
        window_id = attrs.get(visibility.WINDOW_ID)
        if window_id is None or not identity.sees_window(window_id):
            continue
        tasks = await wf.memo_value(TASKS_MEMO, {})
        for code, task in sorted(tasks.items()):
            if department and code != department:
                continue
            try:
                started = datetime.fromisoformat(task["dispatched_at"])
                due = datetime.fromisoformat(task["due_at"])
            except (KeyError, TypeError, ValueError):
                log.warning("board_memo_unreadable", application_id=app_id, department=code)
                continue
            state = compute_sla_state(now, started, due, calendar, settings.sla_policy)
            if sla_state and state != sla_state:
                continue
            items.append(
                BoardItem(
                    application_id=app_id,
                    department=code,
                    window_id=window_id,
                    status=task.get("status"),
                    dispatched_at=started,
                    due_at=calendar.to_local(due),
                    remaining_working_minutes=round(remaining_working_minutes(now, due, calendar), 1),
                    sla_state=state,
                    calendar_estimated=not calendar.has_official_data(calendar.to_local(due).year),
                )
            )
    items.sort(key=lambda i: (i.remaining_working_minutes, i.due_at))
    local_now = calendar.to_local(now)
    return Board(
        generated_at=local_now,
        count=len(items[:limit]),
        items=items[:limit],
        calendar_warning=next_year_warning(local_now.date(), calendar.has_official_data),
    )
