"""Materials (一套材料): the window uploads each file once, kaiban keeps it by content and reads it.

``POST /api/v1/materials`` stores a PDF, JPEG or PNG (its type judged by its content) in the object storage
and, for the kinds kaiban reads, has it read on the OCR task queue, waiting a few seconds for the fields;
``GET /api/v1/materials/{id}`` answers the same later; ``POST …/{id}/review`` records the clerk's decision
on each pre-review finding of an application; ``GET …/files/{department}/{sha256}`` serves one file to the
department a signed link was made for (API departments with ``materials_by: link``).
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Annotated, Literal

import structlog
from fastapi import APIRouter, File, Form, Header, Path, Query, Request, Response, UploadFile, status
from fastapi.exceptions import RequestValidationError

from api.access import IdentityDep, require, visible_window
from api.auth import Refusal, forbidden, unauthenticated
from api.deps import ClientDep, SettingsDep
from api.material_reading import read_material_now
from api.params import APPLICATION_ID_PATTERN, ApplicationId, DepartmentCode
from api.problems import COMMON, POSTS, READS, responses
from api.schemas_materials import (
    FindingView,
    MaterialView,
    PrereviewView,
    ReviewRequest,
    ReviewView,
    material_view,
)
from domain.access import Identity, Role
from domain.form import Application
from domain.materials import KIND_LABELS, MATERIAL_KINDS, concerns_problem
from runtime.material_links import link_is_valid, link_key
from runtime.settings import Settings
from runtime.signing import verify_signature
from store.materials import MaterialRecord, MaterialStore, UnknownFinding
from store.objects import ObjectNotFound, Objects, ObjectStorageUnavailable, content_type_of, open_objects

router = APIRouter(prefix="/api/v1/materials", tags=["materials"])
prereview_router = APIRouter(prefix="/api/v1/applications", tags=["materials"])

#: material ids are ``MT`` + 20 hex; the pattern is looser so any unknown id is a plain 404
MaterialId = Annotated[
    str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$", description="材料编号", examples=["MT0123456789ABCDEF0123"])
]
log = structlog.get_logger(__name__)

UploadKind = Literal["id_card", "business_licence", "premises_proof", "articles_of_association", "other"]


def materials_of(request: Request) -> MaterialStore:
    return MaterialStore(request.app.state.store.db)


STORAGE_DOWN = "材料存储暂不可用，请稍后重试；如持续出现请联系管理员"


def objects_of(settings: Settings) -> Objects:
    try:
        return open_objects(settings.objects_url or settings.data_dir / "objects")
    except (ValueError, ImportError) as exc:  # a wrong KAIBAN_OBJECTS_URL: the operator's to fix
        log.error("object_storage_misconfigured", error=str(exc))
        raise Refusal(503, "object_storage_unavailable", STORAGE_DOWN) from exc


async def put_object(objects: Objects, data: bytes) -> tuple[str, bool]:
    """Store ``data`` (in a thread); a storage that cannot be reached is 503 for the clerk, logged in English."""
    try:
        return await asyncio.to_thread(objects.put, data)
    except ObjectStorageUnavailable as exc:
        log.error("object_storage_unavailable", error=str(exc))
        raise Refusal(503, "object_storage_unavailable", STORAGE_DOWN) from exc


def _mib(n: int) -> str:
    return f"{n / (1024 * 1024):g} MiB"


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=MaterialView,
    responses=responses(*COMMON, *POSTS, 403, 503, s403="非窗口工作人员", s415="只接受 PDF、JPEG 或 PNG 文件"),
    summary="上传一份材料（PDF、JPEG 或 PNG），按内容保存一次并识别",
)
async def upload_material(
    request: Request,
    client: ClientDep,
    settings: SettingsDep,
    identity: Annotated[Identity, require(Role.CLERK)],
    file: Annotated[UploadFile, File(description="材料文件：PDF、JPEG 或 PNG")],
    kind: Annotated[UploadKind, Form(description="材料类型")],
) -> MaterialView:
    limit = settings.material_max_bytes
    data = await file.read(limit + 1)
    if len(data) > limit:
        raise Refusal(413, "material_too_large", f"材料文件过大：最多 {_mib(limit)}，请压缩或分页后上传")
    if not data:
        raise RequestValidationError(
            [{"type": "material_empty", "loc": ("body", "file"), "msg": "材料文件为空", "input": None}]
        )
    content_type = content_type_of(data)
    if content_type is None:
        raise Refusal(
            415,
            "material_type_refused",
            "只接受 PDF、JPEG 或 PNG 文件（按文件内容判断，与扩展名无关），请重新扫描或拍照",
        )
    objects = objects_of(settings)
    sha256, new_object = await put_object(objects, data)
    assert identity.window_id is not None
    record, new = await asyncio.to_thread(
        materials_of(request).record,
        sha256=sha256,
        kind=kind,
        content_type=content_type,
        size_bytes=len(data),
        filename=(file.filename or "")[:255] or None,
        window_id=identity.window_id,
        uploaded_by=identity.subject,
        uploaded_at=datetime.now(UTC),
    )
    log.info(
        "material_uploaded",
        material_id=record.material_id,
        kind=kind,
        content_type=content_type,
        size_bytes=len(data),
        new_object=new_object,
        new_material=new,
    )
    if record.status == "stored" and kind in MATERIAL_KINDS:
        record = await read_material_now(client, record, settings, materials_of(request))
    return material_view(record)


async def _visible(request: Request, identity: Identity, material_id: str) -> MaterialRecord:
    if identity.role is Role.DEPARTMENT:
        raise forbidden("部门身份不能查询窗口的材料", "department_scope")
    record = await asyncio.to_thread(materials_of(request).get, material_id)
    if record is None or not identity.sees_window(record.window_id):
        raise Refusal(404, "material_not_found", f"未找到材料 {material_id}")
    return record


@router.get(
    "/{material_id}",
    response_model=MaterialView,
    responses=responses(*READS, s404="未找到材料（其他窗口的材料对本窗口人员同样不存在）"),
    summary="查询一份材料及其识别结果",
)
async def get_material(material_id: MaterialId, request: Request, identity: IdentityDep) -> MaterialView:
    record = await _visible(request, identity, material_id)
    findings = await asyncio.to_thread(materials_of(request).findings, material_id=material_id)
    return material_view(record, findings)


@router.post(
    "/{material_id}/review",
    response_model=ReviewView,
    responses=responses(*READS, *POSTS, 409, s409="该申请中这份材料没有此项预审发现"),
    summary="窗口人员确认或更正预审发现（留痕）",
)
async def review_material(
    material_id: MaterialId, body: ReviewRequest, request: Request, identity: IdentityDep
) -> ReviewView:
    record = await _visible(request, identity, material_id)
    if not identity.handles_applications(record.window_id):
        raise forbidden("只有受理窗口的工作人员可以确认预审发现", "not_the_window_clerk")
    store = materials_of(request)
    request.state.audit_application_id = body.application_id
    decided: list[FindingView] = []
    at = datetime.now(UTC)
    for d in body.decisions:
        try:
            row = await asyncio.to_thread(
                store.decide,
                application_id=body.application_id,
                material_id=material_id,
                field=d.field,
                decision=d.decision,
                decided_by=identity.subject,
                decided_at=at,
                corrected_value=d.corrected_value,
                note=d.note,
            )
        except UnknownFinding:
            raise Refusal(
                409, "finding_not_found", f"申请 {body.application_id} 中这份材料没有「{d.field}」的预审发现"
            ) from None
        decided.append(FindingView.of(row))
    # the audit middleware records this request; the decisions themselves (no values: personal data)
    request.state.audit_detail = {"decisions": {d.field: d.decision for d in body.decisions}}
    log.info("material_reviewed", material_id=material_id, application_id=body.application_id, n=len(decided))
    findings = await asyncio.to_thread(store.findings, application_id=body.application_id, material_id=material_id)
    return ReviewView(
        material_id=material_id,
        application_id=body.application_id,
        findings=[FindingView.of(f) for f in findings],
        open=sum(1 for f in findings if f.decision is None),
    )


@prereview_router.get(
    "/{application_id}/prereview",
    response_model=PrereviewView,
    responses=responses(*READS, s404="未找到申请（其他窗口的申请对本窗口人员同样不存在）"),
    summary="一份申请的智能预审发现及窗口人员的确认",
)
async def get_prereview(
    application_id: ApplicationId, request: Request, client: ClientDep, identity: IdentityDep
) -> PrereviewView:
    await visible_window(request, client, identity, application_id)
    findings = await asyncio.to_thread(materials_of(request).findings, application_id=application_id)
    return PrereviewView(
        application_id=application_id,
        findings=[FindingView.of(f) for f in findings],
        open=sum(1 for f in findings if f.decision is None),
    )


# --------------------------------------------------------------------------- links for department APIs


@router.get("/files/{code}/{sha256}", include_in_schema=False)
async def material_file(
    code: DepartmentCode,
    sha256: Annotated[str, Path(pattern=r"^[0-9a-f]{64}$")],
    request: Request,
    settings: SettingsDep,
    application_id: Annotated[str, Query(pattern=APPLICATION_ID_PATTERN)],
    expires: Annotated[int, Query(ge=0)],
    signature: Annotated[str, Query(max_length=128)],
    x_kaiban_timestamp: Annotated[str | None, Header(max_length=20)] = None,
    x_kaiban_signature: Annotated[str | None, Header(max_length=100)] = None,
) -> Response:
    """One material for one department (``materials_by: link``): the link kaiban signed (``runtime.material_links``)
    and the department's own signature of it (its callback secret) are both needed; the file's bytes as stored."""
    try:
        settings.catalog().get(code)
        secret = settings.callback_secret(code)
    except (KeyError, ValueError):
        raise Refusal(404, "unknown_department", f"未知的部门代码 {code}") from None
    target = f"GET {request.url.path}?{request.url.query}".encode()
    if not verify_signature(
        secret, x_kaiban_timestamp, target, x_kaiban_signature, tolerance_s=settings.callback_tolerance_s
    ):
        log.warning("material_link_unsigned", department=code)
        raise unauthenticated("材料链接须由该部门签名访问（签名无效、缺失或已过期）", "bad_signature")
    key = link_key(settings.payload_key)
    if not link_is_valid(key, code, application_id, sha256, expires, signature, now=time.time()):
        log.warning("material_link_refused", department=code, sha256=sha256[:12])
        raise forbidden("材料链接无效或已过期，请向窗口重新获取", "bad_material_link")
    objects = objects_of(settings)
    try:
        data = await asyncio.to_thread(objects.get, sha256)
    except ObjectNotFound:
        raise Refusal(404, "material_not_found", "未找到该材料文件") from None
    except ObjectStorageUnavailable as exc:
        log.error("object_storage_unavailable", error=str(exc))
        raise Refusal(503, "object_storage_unavailable", STORAGE_DOWN) from exc
    log.info("material_link_served", department=code, application_id=application_id, sha256=sha256[:12])
    return Response(
        content=data,
        media_type=content_type_of(data) or "application/octet-stream",
        headers={"Cache-Control": "no-store", "X-Content-SHA256": sha256},
    )


# --------------------------------------------------------------------------- intake


async def check_materials(request: Request, application: Application, window_id: str, settings: Settings) -> None:
    """An application's materials name files this window uploaded, and say whom they concern fittingly:
    422 naming the field otherwise (``materials.0.sha256``)."""
    if not application.materials:
        return
    found = await asyncio.to_thread(
        materials_of(request).of_window, window_id, [m.sha256 for m in application.materials]
    )
    stored = {m.sha256 for m in found}
    errors = []
    for i, m in enumerate(application.materials):
        if settings.materials_must_be_stored and m.sha256 not in stored:
            errors.append(
                {
                    "type": "material_not_stored",
                    "loc": ("body", "materials", i, "sha256"),
                    "msg": f"材料「{m.filename}」尚未上传：请先通过 POST /api/v1/materials 上传文件，再填写其 SHA-256",
                    "input": None,
                }
            )
        problem = concerns_problem(application, m.kind, m.concerns)
        if problem:
            label = KIND_LABELS.get(m.kind, m.kind)
            errors.append(
                {
                    "type": "material_concerns",
                    "loc": ("body", "materials", i, "concerns"),
                    "msg": f"材料「{m.filename}」（{label}）：{problem}",
                    "input": None,
                }
            )
    if errors:
        raise RequestValidationError(errors)
