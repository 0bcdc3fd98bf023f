"""The audit trail (留痕): every state-changing request and every refusal, for supervisors and admins."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field, field_validator

from api.access import require
from api.clean import CheckedRoute
from api.params import ApplicationIdQuery
from api.problems import COMMON, responses
from domain.access import Identity, Role
from domain.calendar import SHANGHAI

router = APIRouter(prefix="/api/v1/audit", tags=["audit"], route_class=CheckedRoute)
#: the largest integer the store's columns hold
MAX_SEQ = 2**63 - 1


class AuditRecord(BaseModel):
    seq: int
    at: datetime
    actor: str = Field(description="操作人（登录身份）；anonymous 表示无有效身份")
    role: str | None = None
    window_id: str | None = Field(None, description="操作人所属窗口")
    action: str = Field(description="操作，如 submit_application、extend_deadline")
    target: str = Field(description="操作对象（路径）")
    application_id: str | None = None
    outcome: Literal["allowed", "denied"]
    status_code: int
    reason: str | None = Field(None, description="拒绝原因")
    detail: dict[str, Any] | None = None

    @field_validator("at")
    @classmethod
    def _in_shanghai(cls, at: datetime) -> datetime:
        return at.astimezone(SHANGHAI)


class AuditPage(BaseModel):
    count: int
    items: list[AuditRecord]
    next_before_seq: int | None = Field(None, description="下一页：以此值作为 before_seq")


@router.get(
    "",
    response_model=AuditPage,
    responses=responses(*COMMON, 403),
    summary="审计留痕：所有变更操作与被拒绝的请求（只可追加，不可修改）",
)
async def audit_trail(
    request: Request,
    identity: Annotated[Identity, require(Role.SUPERVISOR, Role.ADMIN)],
    application_id: ApplicationIdQuery = None,
    actor: Annotated[str | None, Query(max_length=128)] = None,
    outcome: Annotated[Literal["allowed", "denied"] | None, Query()] = None,
    action: Annotated[str | None, Query(max_length=64)] = None,
    before_seq: Annotated[int | None, Query(ge=1, le=MAX_SEQ)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> AuditPage:
    store = request.app.state.store
    entries = await asyncio.to_thread(
        store.audit.list,
        application_id=application_id,
        actor=actor,
        outcome=outcome,
        action=action,
        before_seq=before_seq,
        limit=limit,
    )
    if identity.windows is not None:  # a supervisor of some windows: their windows' applications only
        windows = await asyncio.to_thread(
            store.applications.windows_of, [e.application_id for e in entries if e.application_id]
        )
        entries = [e for e in entries if e.application_id and windows.get(e.application_id) in identity.windows]
    items = [AuditRecord.model_validate(e, from_attributes=True) for e in entries]
    return AuditPage(
        count=len(items), items=items, next_before_seq=items[-1].seq if len(entries) == limit and items else None
    )
