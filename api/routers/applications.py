"""Applications: the window submits one, and reads where it stands."""

from __future__ import annotations

import asyncio
import hashlib
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated

import structlog
from fastapi import APIRouter, Body, Header, Request, status
from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from api.access import IdentityDep, handled_window, require, visible_window
from api.auth import Refusal, forbidden
from api.clean import CheckedRoute
from api.deps import ClientDep, SettingsDep
from api.params import ApplicationId, DepartmentCode
from api.prereview import record_prereview
from api.problems import COMMON, POSTS, READS, responses
from api.routers.materials import check_materials
from api.schemas import (
    ApplicationDetail,
    DeadlineChangeRecord,
    DeadlineExtensionRequest,
    ManualCompletionRequest,
    SubmissionAccepted,
    WithdrawalRequest,
)
from api.status_reads import read_status
from api.updates import run_update
from domain.access import Identity, Role
from domain.calendar import SHANGHAI, WorkingCalendar
from domain.deadlines import plan_application, planning_basis
from domain.form import Application
from domain.samples import generate_application
from runtime.settings import Settings
from store import ApplicationRecord
from workflows.application import ApplicationWorkflow
from workflows.models import (
    ApplicationInput,
    Correction,
    DeadlineExtension,
    ManualCompletion,
    Withdrawal,
)

router = APIRouter(prefix="/api/v1/applications", tags=["applications"], route_class=CheckedRoute)
log = structlog.get_logger(__name__)


#: the one form, as the OpenAPI schema shows it: a valid application of window TY-XD-01 (today's rules)
FormBody = Annotated[
    Application,
    Body(openapi_examples={"sample": {"summary": "一份有效的申请（示例数据）", "value": generate_application(1)}}),
]


def now() -> datetime:
    """The present instant in Shanghai: when a submission is received (tests put their own clock here)."""
    return datetime.now(SHANGHAI)


def new_application_id(submitted_at: datetime, window_id: str, idempotency_key: str | None) -> str:
    """``KB<yyyymmdd>-<10 hex>``, the day in Shanghai. With an idempotency key the hex is a digest of the
    window, the key and the instant of the first submission with it: the same first submission always
    gets the same id, and the key used again once its lifetime is over gets a new one. Without, random."""
    day = submitted_at.astimezone(SHANGHAI).strftime("%Y%m%d")
    if idempotency_key:
        seed = f"{window_id}\x00{idempotency_key}\x00{submitted_at.astimezone(UTC).isoformat()}"
        suffix = hashlib.sha256(seed.encode()).hexdigest()[:10].upper()
    else:
        suffix = uuid.uuid4().hex[:10].upper()
    return f"KB{day}-{suffix}"


def body_sha256(application: Application) -> str:
    """SHA-256 of the application as canonical JSON (sorted keys, no spaces, UTF-8): what "the same body"
    of a repeated submission means."""
    data = application.model_dump(mode="json")
    for material in data.get("materials", []):  # added later: a material of no one keeps the digest it had
        if material.get("concerns") is None:
            material.pop("concerns", None)
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def key_reused(held: ApplicationRecord) -> Refusal:
    return Refusal(
        409,
        "idempotency_key_reused",
        f"该幂等键已用于另一份申请（{held.application_id}），两次提交的内容不同；"
        "重复提交请保持申请内容不变，新的申请请使用新的幂等键",
    )


def workflow_input(
    app_id: str,
    application: Application,
    submitted_at: datetime,
    settings: Settings,
    calendar: WorkingCalendar | None = None,
) -> ApplicationInput:
    """The workflow's input: the form, its deadline and planning basis from ``submitted_at`` on ``calendar``
    (the API's: with the arrangements admins loaded), the catalog."""
    calendar = calendar or settings.working_calendar()
    return ApplicationInput(
        application_id=app_id,
        application=application,
        submitted_at=submitted_at,
        deadline=plan_application(submitted_at, calendar, settings.sla_policy),
        planning=planning_basis(submitted_at, calendar, settings.sla_policy),
        departments=list(settings.catalog().departments),
        timing=settings.timing(),
        task_queue=settings.task_queue,
        robot_task_queue=settings.robot_task_queue,
    )


async def start_once(client: Client, inp: ApplicationInput, settings: Settings, *, first: bool) -> None:
    """Start the application's workflow unless it runs or ran already (a repeat of a keyed submission)."""
    try:
        await client.start_workflow(
            ApplicationWorkflow.run,
            inp,
            id=inp.application_id,
            task_queue=settings.task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,  # running: that one
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,  # finished: never a second run
        )
    except WorkflowAlreadyStartedError:
        if first:
            raise


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=SubmissionAccepted,
    responses=responses(
        *COMMON,
        *POSTS,
        403,
        409,
        503,
        s403="非受理窗口人员，或不是本窗口的申请",
        s409="该幂等键已用于另一份内容不同的申请",
        s422="表单校验未通过（逐字段中文提示）",
    ),
    summary="综合窗口提交一份企业开办申请",
)
async def submit_application(
    application: FormBody,
    request: Request,
    client: ClientDep,
    settings: SettingsDep,
    identity: Annotated[Identity, require(Role.CLERK)],
    idempotency_key: Annotated[str | None, Header(max_length=128)] = None,
) -> SubmissionAccepted:
    # With an Idempotency-Key the window's first submission with that key is recorded in the store before
    # its workflow starts (one write transaction decides which of two simultaneous submissions is first).
    # For idempotency_ttl_hours after it the same key and body are answered as the first was (the same id,
    # the deadline planned from the first instant) and never start a second workflow, running or finished;
    # a different body is 409. A repeat starts the workflow if the first could not (Temporal unavailable).
    window_id = application.window.window_id
    if not identity.may_submit_for(window_id):
        raise forbidden(f"只能为本窗口（{identity.window_id}）提交申请", "other_window")
    # the clerk is who is signed in, whatever the form says
    application = application.model_copy(
        update={"window": application.window.model_copy(update={"clerk_id": identity.subject})}
    )
    await check_materials(request, application, window_id, settings)
    digest = body_sha256(application)
    store = request.app.state.store.applications
    submitted_at = now()
    app_id = new_application_id(submitted_at, window_id, idempotency_key)
    first = True
    if idempotency_key:
        held, first = await asyncio.to_thread(
            store.record_unless_key_held,
            application_id=app_id,
            window_id=window_id,
            submitted_by=identity.subject,
            company_name=application.company.name,
            submitted_at=submitted_at,
            idempotency_key=idempotency_key,
            body_sha256=digest,
            since=submitted_at - timedelta(hours=settings.idempotency_ttl_hours),
        )
        # (recorded before bodies were hashed: taken as the same)
        if held.body_sha256 is not None and held.body_sha256 != digest:
            raise key_reused(held)
        app_id, submitted_at = held.application_id, held.submitted_at.astimezone(SHANGHAI)
    inp = workflow_input(app_id, application, submitted_at, settings, await request.app.state.calendars.current())
    await start_once(client, inp, settings, first=first)
    if not idempotency_key:
        await asyncio.to_thread(
            store.record,
            application_id=app_id,
            window_id=window_id,
            submitted_by=identity.subject,
            company_name=application.company.name,
            submitted_at=submitted_at,
            body_sha256=digest,
        )
    request.state.audit_application_id = app_id
    await record_prereview(request, application, app_id, window_id)  # advice for the clerk, never a refusal
    log.info(
        "application_submitted" if first else "application_submitted_again",
        application_id=app_id,
        window_id=window_id,
    )
    assert inp.deadline is not None
    due = inp.deadline.due_at.strftime("%Y-%m-%d %H:%M")
    return SubmissionAccepted(
        application_id=app_id,
        status="processing",
        due_at=inp.deadline.due_at,
        message=f"申请已受理，正在同步至各部门办理，承诺于 {due} 前办结",
        links={"self": f"/api/v1/applications/{app_id}", "prereview": f"/api/v1/applications/{app_id}/prereview"},
    )


@router.get(
    "/{application_id}",
    response_model=ApplicationDetail,
    responses=responses(*READS, s404="未找到申请（其他窗口的申请对本窗口人员同样不存在）"),
    summary="查询申请及各部门办理进度",
)
async def get_application(
    application_id: ApplicationId, request: Request, client: ClientDep, identity: IdentityDep
) -> ApplicationDetail:
    await visible_window(request, client, identity, application_id)
    return await read_status(client, application_id)


@router.post(
    "/{application_id}/deadline-extensions",
    response_model=DeadlineChangeRecord,
    responses=responses(*READS, *POSTS, 409, s409="不能延期（理由、时限或状态不符，或申请已办结、已撤回）"),
    summary="督办人员延长整件申请或某部门事项的办结时限（留痕）",
)
async def extend_deadline(
    application_id: ApplicationId,
    body: DeadlineExtensionRequest,
    request: Request,
    client: ClientDep,
    identity: IdentityDep,
) -> DeadlineChangeRecord:
    window = await visible_window(request, client, identity, application_id)
    if not identity.may_extend(window):
        raise forbidden("只有督办人员可以延长办结时限", "not_a_supervisor")
    change = await run_update(
        client,
        application_id,
        ApplicationWorkflow.extend_deadline,
        DeadlineExtension(
            department=body.department, new_due_at=body.new_due_at, reason=body.reason, requested_by=identity.subject
        ),
        closed_refusal=True,
    )
    log.info(
        "deadline_extended",
        application_id=application_id,
        department=body.department,
        requested_by=identity.subject,
        new_due_at=change.new_due_at.isoformat(),
    )
    return change


@router.post(
    "/{application_id}/corrections",
    response_model=ApplicationDetail,
    responses=responses(*READS, *POSTS, 409, s409="改动了已办结部门所用的内容，或申请不在补正中（含已办结、已撤回）"),
    summary="补正：提交更正后的申请表，仅重新报送被退回的部门",
)
async def correct_application(
    application_id: ApplicationId,
    application: FormBody,
    request: Request,
    client: ClientDep,
    settings: SettingsDep,
    identity: IdentityDep,
) -> ApplicationDetail:
    window = await handled_window(request, client, identity, application_id)
    await check_materials(request, application, window, settings)
    await run_update(
        client,
        application_id,
        ApplicationWorkflow.correct,
        Correction(application=application, corrected_at=datetime.now(SHANGHAI), requested_by=identity.subject),
        closed_refusal=True,
    )
    await record_prereview(request, application, application_id, window)  # the corrected form's findings
    log.info("application_corrected", application_id=application_id)
    return await read_status(client, application_id)


@router.post(
    "/{application_id}/departments/{code}/manual-completion",
    response_model=ApplicationDetail,
    responses=responses(
        *READS, *POSTS, 409, s409="该部门事项不在人工处理中（含申请已办结、已撤回），或结果不符合部门结果格式"
    ),
    summary="人工办结：机器人无法完成时，窗口人员录入部门办理结果",
)
async def complete_manually(
    application_id: ApplicationId,
    code: DepartmentCode,
    body: ManualCompletionRequest,
    request: Request,
    client: ClientDep,
    identity: IdentityDep,
) -> ApplicationDetail:
    await handled_window(request, client, identity, application_id)
    await run_update(
        client,
        application_id,
        ApplicationWorkflow.complete_manually,
        ManualCompletion(department=code, result=body.result, completed_by=identity.subject, note=body.note),
        closed_refusal=True,
    )
    log.info("task_completed_manually", application_id=application_id, department=code, completed_by=identity.subject)
    return await read_status(client, application_id)


@router.post(
    "/{application_id}/withdrawal",
    response_model=ApplicationDetail,
    responses=responses(
        *READS, *POSTS, 409, s409="营业执照已核准（含登记机关答复已核准、申请已办结）或已撤回，不能撤回"
    ),
    summary="撤回申请（营业执照核准前）",
)
async def withdraw_application(
    application_id: ApplicationId, body: WithdrawalRequest, request: Request, client: ClientDep, identity: IdentityDep
) -> ApplicationDetail:
    await handled_window(request, client, identity, application_id)
    view = await run_update(
        client,
        application_id,
        ApplicationWorkflow.withdraw,
        Withdrawal(reason=body.reason, requested_by=identity.subject),
        closed_refusal=True,
    )
    log.info("application_withdrawn", application_id=application_id, requested_by=identity.subject)
    return view
