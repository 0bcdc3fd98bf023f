"""Field mappings of changed department portals (self-healing, bots/healing.py): the robots' proposals and an
admin's decision on each.

``GET /api/v1/portals/{code}/mappings`` lists them (supervisors and admins); ``POST
/api/v1/portals/{code}/mappings/{id}/approval`` decides one (admins only): approved as proposed or with
fields edited, or rejected. A proposal with a field below the confidence threshold is approved only when the
admin confirms those fields (edits them or sets ``confirm_low_confidence``); one needing a developer (a new
required field the flow cannot give) is never approved. On approval the robots of that portal version use
the mapping from their next dispatch, and every running application whose task at that department waits
for this mapping (``manual``, its reason naming the mapping) is sent back to its channel, the update
``retry_department`` a clerk's 重新报送 uses: each is filed once (the robot searches the portal first).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import datetime
from typing import Annotated, Any, Literal

import structlog
from fastapi import APIRouter, Path, Request
from pydantic import BaseModel, Field
from temporalio.client import Client

from activities.portal_mappings import waiting_marker
from api.access import require
from api.auth import Refusal
from api.clean import CheckedRoute
from api.deps import ClientDep
from api.params import DepartmentCode
from api.problems import POSTS, READS, responses
from api.status_reads import read_status
from api.updates import run_update
from domain.access import Identity, Role
from domain.status import TaskStatus
from store.mappings import MappingDecided, MappingRecord, UnknownMapping
from workflows.application import ApplicationWorkflow
from workflows.models import DepartmentRetry
from workflows.visibility import TASKS_MEMO

log = structlog.get_logger(__name__)
router = APIRouter(prefix="/api/v1/portals", tags=["portal mappings"], route_class=CheckedRoute)

#: proposals decided through this API process, by decision (the bench prints them)
COUNTERS: Counter[str] = Counter()

MappingId = Annotated[str, Path(pattern=r"^PM[0-9A-F]{12}$", description="字段映射编号", examples=["PM0123456789AB"])]


class FieldPlace(BaseModel):
    step: int = Field(ge=0, description="新表单的第几步（从 0 起）")
    label: str = Field(min_length=1, max_length=200, description="新表单上的标签（重复分组用 {n}）")


class ProposedField(BaseModel):
    flow_step: str
    flow_label: str = Field(description="办理流程中的字段（原标签）")
    step: int | None = Field(description="建议的新步骤（从 0 起），无匹配为 null")
    label: str | None = Field(description="建议的新标签，无匹配为 null")
    score: float = Field(description="相似度 0-100")


class FormControl(BaseModel):
    step: int
    label: str
    name: str
    kind: str = Field(description="text | textarea | select | date | checkbox | radio")
    options: list[str] | None = None
    required: bool


class PortalMapping(BaseModel):
    id: str
    department: str
    fingerprint: str = Field(description="门户表单版本（结构指纹）")
    status: Literal["proposed", "approved", "rejected", "needs_developer"]
    threshold: float
    titles: list[str] = Field(description="新表单的步骤")
    fields: list[ProposedField]
    low_confidence: list[str] = Field(description="低于置信阈值、需人工逐项确认的字段")
    unfilled_required: list[str] = Field(description="新表单的必填项中流程无法提供的（需开发人员）")
    form: list[FormControl] = Field(default_factory=list, description="机器人读到的新表单：各步骤的全部填报项")
    mapping: dict[str, FieldPlace] | None = Field(None, description="批准的映射：原标签 -> 新步骤与标签")
    screenshots: list[str] = Field(description="新表单各步骤截图（证据路径）")
    proposed_at: datetime
    proposed_for: str | None = Field(None, description="首次遇到该表单的申请")
    decided_at: datetime | None = None
    decided_by: str | None = None
    note: str | None = None
    resumed: list[str] | None = Field(None, description="仅批准时：重新报送的申请")


class MappingList(BaseModel):
    count: int
    items: list[PortalMapping]


class Approval(BaseModel):
    approve: bool = Field(True, description="true 批准，false 驳回")
    fields: dict[str, FieldPlace] = Field(default_factory=dict, description="修改的字段：原标签 -> 新步骤与标签")
    confirm_low_confidence: bool = Field(False, description="确认低于阈值的字段按建议映射")
    note: str | None = Field(None, max_length=500, description="说明")


def _view(r: MappingRecord, resumed: list[str] | None = None) -> PortalMapping:
    p = r.proposal
    return PortalMapping(
        id=r.mapping_id,
        department=r.department,
        fingerprint=r.fingerprint,
        status=r.status,
        threshold=p.get("threshold", 0.0),
        titles=p.get("titles", []),
        fields=[ProposedField(**f) for f in p.get("fields", [])],
        low_confidence=p.get("low_confidence", []),
        unfilled_required=p.get("unfilled_required", []),
        form=[FormControl(**f) for f in p.get("form", [])],
        mapping={k: FieldPlace(**v) for k, v in (r.mapping or {}).get("fields", {}).items()} if r.mapping else None,
        screenshots=r.screenshots,
        proposed_at=r.proposed_at,
        proposed_for=r.proposed_for,
        decided_at=r.decided_at,
        decided_by=r.decided_by,
        note=r.note,
        resumed=resumed,
    )


@router.get(
    "/{code}/mappings",
    response_model=MappingList,
    responses=responses(*READS),
    summary="门户字段映射：机器人对已变更门户表单提出的映射建议及审核结果",
)
async def list_mappings(
    code: DepartmentCode,
    request: Request,
    identity: Annotated[Identity, require(Role.SUPERVISOR, Role.ADMIN)],
) -> MappingList:
    records = await asyncio.to_thread(request.app.state.store.mappings.list, code)
    return MappingList(count=len(records), items=[_view(r) for r in records])


def _decided_mapping(record: MappingRecord, body: Approval) -> dict[str, Any]:
    """The mapping as the admin approves it: the proposal with the admin's edits; refused while a field
    below the threshold (or unmatched) is neither edited nor confirmed."""
    p = record.proposal
    titles = list(p.get("titles", []))
    places = {f["flow_label"]: {"step": f["step"], "label": f["label"]} for f in p.get("fields", [])}
    unknown = [k for k in body.fields if k not in places]
    if unknown:
        raise Refusal(422, "unknown_field", f"办理流程中没有字段：{'、'.join(unknown)}")
    bad_step = [k for k, v in body.fields.items() if v.step >= len(titles)]
    if bad_step:
        raise Refusal(422, "unknown_step", f"新表单没有该步骤：{'、'.join(bad_step)}")
    on_form = {(f["step"], f["label"]) for f in p.get("form", [])}
    not_on_form = [k for k, v in body.fields.items() if on_form and (v.step, v.label) not in on_form]
    if not_on_form:
        raise Refusal(422, "label_not_on_form", f"新表单该步骤没有所指定的标签：{'、'.join(not_on_form)}")
    places.update({k: v.model_dump() for k, v in body.fields.items()})
    unconfirmed = [k for k in p.get("low_confidence", []) if k not in body.fields]
    unplaced = [k for k, v in places.items() if v["label"] is None]
    if unplaced:
        raise Refusal(409, "fields_unplaced", f"以下字段没有对应的新表单项，请逐项指定：{'、'.join(unplaced)}")
    if unconfirmed and not body.confirm_low_confidence:
        raise Refusal(
            409,
            "low_confidence",
            f"以下字段低于置信阈值，请逐项修改或确认（confirm_low_confidence）后再批准：{'、'.join(unconfirmed)}",
        )
    return {"titles": titles, "fields": places}


@router.post(
    "/{code}/mappings/{mapping_id}/approval",
    response_model=PortalMapping,
    responses=responses(*READS, *POSTS, 409, s409="已审核、需开发人员处理，或有低于阈值的字段未确认"),
    summary="审核门户字段映射：批准（可修改）后该版本门户的机器人按映射办理，等待的事项自动重新报送；或驳回",
)
async def decide_mapping(
    code: DepartmentCode,
    mapping_id: MappingId,
    body: Approval,
    request: Request,
    client: ClientDep,
    identity: Annotated[Identity, require(Role.ADMIN)],
) -> PortalMapping:
    store = request.app.state.store.mappings
    try:
        record = await asyncio.to_thread(store.get, code, mapping_id)
    except UnknownMapping:
        raise Refusal(404, "no_mapping", f"{code} 门户没有字段映射 {mapping_id}") from None
    if record.status in ("approved", "rejected"):
        raise Refusal(409, "mapping_decided", f"字段映射 {mapping_id} 已审核（{record.status}）")
    if body.approve and record.status == "needs_developer":
        raise Refusal(
            409,
            "needs_developer",
            f"新表单有流程无法提供的必填项（{'、'.join(record.proposal.get('unfilled_required', []))}），需开发人员修改流程",
        )
    mapping = _decided_mapping(record, body) if body.approve else None
    try:
        record = await asyncio.to_thread(
            lambda: store.decide(
                code, mapping_id, approve=body.approve, mapping=mapping, by=identity.subject, note=body.note
            )
        )
    except MappingDecided as exc:
        raise Refusal(409, "mapping_decided", str(exc)) from None
    COUNTERS["approved" if body.approve else "rejected"] += 1
    log.info(
        "portal_mapping_approved" if body.approve else "portal_mapping_rejected",
        department=code,
        mapping_id=mapping_id,
        fingerprint=record.fingerprint,
        edited=len(body.fields),
        decided_by=identity.subject,
    )
    resumed = await _resume_waiting(client, code, mapping_id, identity.subject) if body.approve else None
    return _view(record, resumed)


async def _resume_waiting(client: Client, code: str, mapping_id: str, by: str) -> list[str]:
    """Send back to the robot every running application whose ``code`` task waits for this mapping."""
    marker = waiting_marker(mapping_id)
    resumed: list[str] = []
    query = "WorkflowType = 'Application' AND ExecutionStatus = 'Running'"
    async for wf in client.list_workflows(query, limit=5000):
        tasks = await wf.memo_value(TASKS_MEMO, {})
        if (tasks.get(code) or {}).get("status") != TaskStatus.MANUAL.value:
            continue
        try:
            view = await read_status(client, wf.id)
        except Refusal as exc:  # its worker is restarting: the clerk sends it back by hand (``retry``)
            log.warning("portal_mapping_resume_skipped", application_id=wf.id, department=code, reason=exc.code)
            continue
        task = next((d for d in view.departments if d.code == code), None)
        if task is None or task.status is not TaskStatus.MANUAL or marker not in (task.reason or ""):
            continue
        try:
            await run_update(
                client,
                wf.id,
                ApplicationWorkflow.retry_department,
                DepartmentRetry(department=code, requested_by=by, note=f"门户字段映射 {mapping_id} 已批准"),
            )
        except Refusal as exc:  # e.g. completed by hand meanwhile: nothing to resume
            log.info("portal_mapping_resume_skipped", application_id=wf.id, department=code, reason=exc.detail)
            continue
        resumed.append(wf.id)
        log.info("task_sent_back", application_id=wf.id, department=code, requested_by=by, mapping_id=mapping_id)
    COUNTERS["tasks_resumed"] += len(resumed)
    return resumed
