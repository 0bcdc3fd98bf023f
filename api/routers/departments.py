"""Department systems report results here (API departments answer asynchronously and call back)."""

from __future__ import annotations

from typing import Annotated

import structlog
from fastapi import APIRouter, Header, HTTPException, status
from pydantic import BaseModel, ConfigDict

from api.deps import ClientDep, SettingsDep
from api.schemas import CallbackAck, Problem
from api.updates import run_update
from workflows.application import ApplicationWorkflow
from workflows.models import DepartmentCallback

router = APIRouter(prefix="/api/v1/departments", tags=["departments"])
log = structlog.get_logger(__name__)


class CallbackBody(BaseModel):
    """What a department API posts: its ticket, our application id, the status and the result."""

    model_config = ConfigDict(extra="ignore")
    ticket: str
    application_id: str
    status: str
    result: dict | None = None
    reason: str | None = None


@router.post(
    "/{code}/callbacks",
    response_model=CallbackAck,
    responses={401: {"model": Problem}, 404: {"model": Problem}, 409: {"model": Problem}},
    summary="部门系统回调办理结果",
)
async def department_callback(
    code: str,
    body: CallbackBody,
    client: ClientDep,
    settings: SettingsDep,
    authorization: Annotated[str | None, Header()] = None,
) -> CallbackAck:
    try:
        dept = settings.catalog().get(code)
    except KeyError:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"未知的部门代码 {code}") from None
    expected = f"Bearer {settings.api_token(dept.credentials_ref or code)}"
    if authorization != expected:
        log.warning("department_callback_unauthorised", department=code)
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, detail="回调未通过身份验证")
    await run_update(
        client,
        body.application_id,
        ApplicationWorkflow.department_callback,
        DepartmentCallback(
            department=code, receipt_no=body.ticket, status=body.status, result=body.result, reason=body.reason
        ),
        # unknown application, or one that has already finished: nothing to change
        not_found=f"没有在办的 {code} 事项（申请 {body.application_id}），回调未改变任何状态",
    )
    log.info("department_callback_accepted", department=code, application_id=body.application_id, status=body.status)
    return CallbackAck(status="accepted", detail="回调已受理")
