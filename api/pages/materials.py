"""Materials on the pages: a file uploaded per material row of the one form, and the pre-review findings of a
submitted application with the clerk's decisions.

``POST /applications/materials`` (the form's script, multipart ``file`` + ``kind``, the session's CSRF token
in ``X-CSRF-Token``) is the API's ``upload_material``: the answer gives the row its SHA-256 and shows what was
read. ``POST /applications/{id}/materials/{material_id}/review`` (a form of the application page) is the API's
``review_material`` for one finding: confirmed as filled in (form_correct) or corrected (form_corrected).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import ValidationError

from api.auth import Refusal
from api.deps import SettingsDep
from api.pages.calls import call_route
from api.pages.form import clerk_of
from api.pages.render import PageRoute
from api.pages.session import CheckedSessionDep
from api.params import ApplicationId
from api.routers.materials import MaterialId, UploadKind, get_prereview, review_material, upload_material
from api.schemas_materials import FindingView, ReviewRequest
from domain.access import Identity
from domain.materials import concerns_label

router = APIRouter(route_class=PageRoute, include_in_schema=False)

#: what the pages call the fields a finding names (the rest show their path)
READ_LABELS = {
    "name": "姓名或名称",
    "id_number": "公民身份号码",
    "address": "住址",
    "uscc": "统一社会信用代码",
    "legal_representative": "法定代表人",
    "company_name": "企业名称",
    "registered_capital": "注册资本",
}
FORM_LABELS = {
    "name": "姓名或名称",
    "id_number": "身份证号码",
    "uscc": "统一社会信用代码",
    "address.detail": "住所",
    "registered_capital": "注册资本",
    "contribution": "认缴出资额",
}


def field_label(path: str) -> str:
    """A finding's form field in people's words: 法定代表人 · 身份证号码, 第 2 位股东 · 名称 …"""
    parts = path.split(".")
    if parts[0] == "shareholders" and len(parts) > 2:
        who, rest = concerns_label(".".join(parts[:2])), ".".join(parts[2:])
    else:
        who, rest = concerns_label(parts[0]), ".".join(parts[1:])
    return f"{who} · {FORM_LABELS.get(rest, rest)}" if rest else who


DECISIONS = {"form_correct": "核对无误，以申请表为准", "form_corrected": "申请表已按材料更正"}


def read_fields(view: Any) -> list[dict[str, Any]]:
    """What was read from a material, for the form's row: label, value, confidence, doubt."""
    out = []
    for name, f in (view.fields or {}).items():
        out.append(
            {
                "name": name,
                "label": READ_LABELS.get(name, name),
                "value": f.value,
                "confidence": round(f.confidence, 2),
                "problem": f.problem,
            }
        )
    return out


@router.post("/applications/materials")
async def upload_from_form(
    request: Request,
    session: CheckedSessionDep,
    settings: SettingsDep,
    file: Annotated[UploadFile, File()],
    kind: Annotated[UploadKind, Form()],
) -> JSONResponse:
    identity = clerk_of(session)  # before Temporal is asked for anything
    client = await request.app.state.temporal.get()
    view = await call_route(
        upload_material, request, client=client, settings=settings, identity=identity, file=file, kind=kind
    )
    return JSONResponse(
        {
            "material_id": view.material_id,
            "sha256": view.sha256,
            "filename": view.filename,
            "status": view.status,
            "fields": read_fields(view),
            "prefill": view.prefill,
            "read_error": view.read_error,
        },
        status_code=201,
    )


async def prereview_of(request: Request, client: Any, identity: Identity, application_id: str) -> list[FindingView]:
    found = await call_route(get_prereview, request, application_id=application_id, client=client, identity=identity)
    return found.findings


@router.post("/applications/{application_id}/materials/{material_id}/review")
async def review_from_page(
    application_id: ApplicationId, material_id: MaterialId, request: Request, session: CheckedSessionDep
) -> Response:
    identity = clerk_of(session)
    form = await request.form()
    corrected = str(form.get("corrected_value") or "").strip() or None
    note = str(form.get("note") or "").strip() or None
    try:
        body = ReviewRequest(
            application_id=application_id,
            decisions=[
                {
                    "field": str(form.get("field") or ""),
                    "decision": str(form.get("decision") or ""),
                    "corrected_value": corrected,
                    "note": note,
                }
            ],
        )
    except ValidationError as exc:
        raise Refusal(422, "review_invalid", "请选择确认结果（核对无误或已更正），说明最多 500 字") from exc
    await call_route(review_material, request, material_id=material_id, body=body, identity=identity)
    return RedirectResponse(f"/applications/{application_id}?done=reviewed#prereview", status_code=303)
