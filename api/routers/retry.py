"""Sending a task that went to a person back to its channel (重新报送), once the cause is fixed."""

from __future__ import annotations

import structlog
from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from api.access import IdentityDep, visible_window
from api.auth import forbidden
from api.clean import CheckedRoute
from api.deps import ClientDep
from api.params import ApplicationId, DepartmentCode
from api.problems import POSTS, READS, responses
from api.schemas import ApplicationDetail
from api.status_reads import read_status
from api.updates import run_update
from workflows.application import ApplicationWorkflow
from workflows.models import DepartmentRetry

router = APIRouter(prefix="/api/v1/applications", tags=["applications"], route_class=CheckedRoute)
log = structlog.get_logger(__name__)


class RetryRequest(BaseModel):
    note: str | None = Field(None, max_length=500, description="说明（例如：部门系统已恢复）")


@router.post(
    "/{application_id}/departments/{code}/retry",
    response_model=ApplicationDetail,
    responses=responses(*READS, *POSTS, 409, s409="该部门事项不在人工处理中，或申请已结束"),
    summary="重新报送：转人工处理的部门事项在原因排除后退回原渠道，重新自动办理（新一轮，重新计时）",
)
async def retry_department(
    application_id: ApplicationId,
    code: DepartmentCode,
    body: RetryRequest,
    request: Request,
    client: ClientDep,
    identity: IdentityDep,
) -> ApplicationDetail:
    """The task is dispatched again as a new round (the channels find an earlier filing by application id,
    so nothing is filed twice), its deadline planned from the re-dispatch. The clerks of the application's
    window and the supervisors in scope may; a department may not (403), another window's clerk sees no
    such application (404). Audited by the audit middleware."""
    window = await visible_window(request, client, identity, application_id)
    if not (identity.handles_applications(window) or identity.oversees):
        raise forbidden("只有受理窗口的工作人员或督办人员可以重新报送", "not_the_window_clerk")
    await run_update(
        client,
        application_id,
        ApplicationWorkflow.retry_department,
        DepartmentRetry(department=code, requested_by=identity.subject, note=body.note),
    )
    log.info("task_sent_back", application_id=application_id, department=code, requested_by=identity.subject)
    return await read_status(client, application_id)
