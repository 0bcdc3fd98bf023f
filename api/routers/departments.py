"""Departments: their inbox of routed tasks, and the signed callbacks of department APIs.

A callback carries ``X-Kaiban-Timestamp`` and ``X-Kaiban-Signature: sha256=<HMAC-SHA256(secret, timestamp
+ "." + raw body)>`` under the department's callback secret; unsigned, wrongly signed, stale (over 5 min)
or replayed callbacks are 401 and change nothing.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Annotated, Literal

import structlog
from fastapi import APIRouter, Depends, Header, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from api.access import IdentityDep
from api.auth import Refusal, forbidden, unauthenticated
from api.clean import CheckedRoute
from api.deps import ClientDep, SettingsDep
from api.params import APPLICATION_ID_PATTERN, DepartmentCode
from api.problems import COMMON, POSTS, responses
from api.schemas import CallbackAck
from api.updates import run_update
from domain.access import Identity, Role
from domain.calendar import SHANGHAI
from domain.catalog import Department
from runtime.signing import verify_signature
from workflows.application import ApplicationWorkflow
from workflows.models import DepartmentCallback
from workflows.visibility import TASKS_MEMO, WINDOW_ID

router = APIRouter(prefix="/api/v1/departments", tags=["departments"], route_class=CheckedRoute)
log = structlog.get_logger(__name__)

TaskStatusFilter = Literal["dispatched", "in_review", "rejected", "manual", "waiting"]
#: what a department must do with a task in each status
ACTIONS = {
    "waiting": "等待前置部门办结",
    "dispatched": "受理并开始审核",
    "in_review": "审核办结，或退回补正",
    "rejected": "已退回补正，等待窗口更正后重新报送",
    "manual": "机器人未能完成报送，窗口人工处理中",
}


class CallbackBody(BaseModel):
    """What a department API posts: its ticket, our application id, the status and the result."""

    model_config = ConfigDict(extra="ignore")
    ticket: str = Field(max_length=64)
    application_id: str = Field(pattern=APPLICATION_ID_PATTERN)
    status: str = Field(max_length=32)
    result: dict | None = None
    reason: str | None = Field(None, max_length=2000)


class InboxTask(BaseModel):
    application_id: str
    company_name: str | None = Field(None, description="企业名称")
    status: str = Field(description="事项状态")
    receipt_no: str | None = Field(None, description="部门受理编号")
    dispatched_at: datetime
    due_at: datetime = Field(description="办结时限")
    task: str = Field(description="办理事项")
    action: str = Field(description="部门需办理的内容")


class DepartmentInbox(BaseModel):
    department: str
    count: int
    items: list[InboxTask]


def _department(settings: SettingsDep, code: str) -> Department:
    try:
        return settings.catalog().get(code)
    except KeyError:
        raise Refusal(404, "unknown_department", f"未知的部门代码 {code}") from None


def _may_read_inbox(identity: Identity, code: str) -> None:
    if not (identity.is_department(code) or identity.oversees):
        raise forbidden("只能查看本部门的待办事项", "other_department")


@router.get(
    "/{code}/tasks",
    response_model=DepartmentInbox,
    responses=responses(*COMMON, 403, 404, 503, s403="只能查看本部门的待办事项", s404="未知的部门代码"),
    summary="部门待办：报送至本部门的事项（状态、受理编号、办结时限）",
)
async def department_inbox(
    code: DepartmentCode,
    request: Request,
    client: ClientDep,
    settings: SettingsDep,
    identity: IdentityDep,
    status: Annotated[TaskStatusFilter | None, Query(description="按事项状态筛选")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> DepartmentInbox:
    _may_read_inbox(identity, code)
    dept = _department(settings, code)
    items: list[InboxTask] = []
    query = "WorkflowType = 'Application' AND ExecutionStatus = 'Running'"
    async for wf in client.list_workflows(query, limit=2000):
        window = wf.typed_search_attributes.get(WINDOW_ID)
        task = (await wf.memo_value(TASKS_MEMO, {})).get(code)
        if not task or (status and task.get("status") != status):
            continue
        if identity.oversees and (window is None or not identity.sees_window(window)):
            continue
        items.append(
            InboxTask(
                application_id=wf.id,
                status=task["status"],
                receipt_no=task.get("receipt_no"),
                dispatched_at=datetime.fromisoformat(task["dispatched_at"]).astimezone(SHANGHAI),
                due_at=datetime.fromisoformat(task["due_at"]).astimezone(SHANGHAI),
                task=dept.task or dept.name,
                action=ACTIONS.get(task["status"], ""),
            )
        )
    items.sort(key=lambda i: i.due_at)
    items = items[:limit]
    applications = request.app.state.store.applications
    records = await asyncio.to_thread(lambda: {i.application_id: applications.get(i.application_id) for i in items})
    for item in items:
        record = records.get(item.application_id)
        item.company_name = record.company_name if record else None
    return DepartmentInbox(department=code, count=len(items), items=items)


async def signed_by_department(
    code: DepartmentCode,
    request: Request,
    settings: SettingsDep,
    x_kaiban_timestamp: Annotated[str | None, Header(max_length=20)] = None,
    x_kaiban_signature: Annotated[str | None, Header(max_length=100)] = None,
) -> Identity:
    """The department a callback is signed by (a dependency: refused before its body is looked at)."""
    dept = _department(settings, code)
    raw = await request.body()
    secret = settings.callback_secret(dept.code)
    if not verify_signature(
        secret, x_kaiban_timestamp, raw, x_kaiban_signature, tolerance_s=settings.callback_tolerance_s
    ):
        log.warning("department_callback_unsigned", department=code)
        raise unauthenticated("回调签名无效、缺失或已过期", "bad_signature")
    assert x_kaiban_signature is not None
    first = await asyncio.to_thread(
        request.app.state.store.callbacks.first_use, code, x_kaiban_signature.strip(), datetime.now(UTC)
    )
    if not first:
        log.warning("department_callback_replayed", department=code)
        raise unauthenticated("回调签名已使用过（重放），未改变任何状态", "replayed_signature")
    identity = Identity(subject=f"dept-{code}", role=Role.DEPARTMENT, department=code)
    request.state.identity = identity
    return identity


@router.post(
    "/{code}/callbacks",
    response_model=CallbackAck,
    responses=responses(
        *COMMON,
        *POSTS,
        404,
        409,
        503,
        s401="回调签名无效、缺失、已过期或已使用过（重放）",
        s404="未知的部门代码，或没有在办的该部门事项",
        s409="该部门事项已办结或状态不符",
    ),
    summary="部门系统回调办理结果",
)
async def department_callback(
    code: DepartmentCode,
    body: CallbackBody,
    request: Request,
    client: ClientDep,
    _signed: Annotated[Identity, Depends(signed_by_department)],
) -> CallbackAck:
    request.state.audit_application_id = body.application_id
    await run_update(
        client,
        body.application_id,
        ApplicationWorkflow.department_callback,
        DepartmentCallback(
            department=code, receipt_no=body.ticket, status=body.status, result=body.result, reason=body.reason
        ),
        # unknown application, or one that has already finished: nothing to change
        not_found=f"没有在办的 {code} 事项（申请 {body.application_id}），回调未改变任何状态",
        not_found_code="task_not_open",
    )
    log.info("department_callback_accepted", department=code, application_id=body.application_id, status=body.status)
    return CallbackAck(status="accepted", detail="回调已受理")
