"""The clerk's one form (一表申请): /applications/new, its field checks, its submission; the window's list.

The form's rules are the intake API's: the page's script posts the draft as the contract's JSON, and the
server answers with the same field-level messages as ``POST /api/v1/applications`` (``domain.form_errors``),
each naming its field by path, plus every other field a rule spanning several fields concerns. Submitting
calls the API's own ``submit_application``: the same checks, store record, workflow and promised time.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Body, Header, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import ValidationError

from api.auth import forbidden
from api.deps import ClientDep, SettingsDep
from api.pages.calls import call_route
from api.pages.form_layout import blank_application, sections
from api.pages.render import PageRoute, page
from api.pages.session import CheckedSessionDep, Session, SessionDep
from api.routers.applications import submit_application
from domain.access import Identity, Role
from domain.form import Application
from domain.form_errors import field_errors
from workflows import visibility

router = APIRouter(route_class=PageRoute, include_in_schema=False)

JsonBody = Annotated[dict[str, Any], Body()]


def clerk_of(session: Session) -> Identity:
    identity = session.identity
    if identity is None or identity.role is not Role.CLERK or not identity.window_id:
        raise forbidden("一表申请由受理窗口的工作人员填写", "not_a_clerk")
    return identity


def with_window(data: dict[str, Any], identity: Identity) -> dict[str, Any]:
    """The form as the clerk filled it, in the clerk's window (the page has no window field)."""
    return {**data, "window": {"window_id": identity.window_id, "clerk_id": identity.subject}}


def _same(data: dict[str, Any], a: str, b: str) -> bool:
    first, second = (data.get(k) or {} for k in (a, b))
    return isinstance(first, dict) and isinstance(second, dict) and first.get("id_number") == second.get("id_number")


def concerned_fields(error: dict[str, str], data: dict[str, Any]) -> list[str]:
    """Every field a message concerns: a rule spanning several fields marks each of them."""
    kind, field = error["type"], error["field"]
    if kind == "capital_sum_mismatch":
        shareholders = data.get("shareholders")
        rows = shareholders if isinstance(shareholders, list) else []
        return [
            "company.registered_capital_wan_yuan",
            *(f"shareholders.{i}.contribution_wan_yuan" for i in range(len(rows))),
        ]
    if kind == "supervisor_conflict":
        others = [
            f"{p}.id_number" for p in ("legal_representative", "financial_officer") if _same(data, p, "supervisor")
        ]
        return ["supervisor.id_number", *others]
    return [field]


def form_problems(data: dict[str, Any]) -> list[dict[str, Any]]:
    """The field-level messages of the intake for ``data`` (empty when it is a valid application)."""
    try:
        Application.model_validate(data)
    except ValidationError as exc:
        return [{**e, "fields": concerned_fields(e, data)} for e in field_errors(exc)]
    return []


def invalid(problems: list[dict[str, Any]]) -> JSONResponse:
    return JSONResponse({"detail": f"申请表有 {len(problems)} 处需要修改", "errors": problems}, status_code=422)


@router.get("/applications/new", response_class=HTMLResponse)
async def new_application(request: Request, session: SessionDep) -> Response:
    identity = clerk_of(session)
    assert identity.window_id is not None
    return page(
        request,
        "form.html",
        session,
        sections=sections(),
        initial=blank_application(identity.window_id, identity.subject),
        mode="new",
        locked=[],
        action="/applications",
        draft_key=f"kaiban-draft-{identity.window_id}-{identity.subject}",
    )


@router.post("/applications/new/check")
async def check_application(session: CheckedSessionDep, data: JsonBody) -> JSONResponse:
    """The messages the form has now (nothing is submitted): the page shows those of the fields left."""
    problems = form_problems(with_window(data, clerk_of(session)))
    return JSONResponse({"detail": f"申请表有 {len(problems)} 处需要修改" if problems else "", "errors": problems})


@router.post("/applications")
async def submit(
    request: Request,
    session: CheckedSessionDep,
    client: ClientDep,
    settings: SettingsDep,
    data: JsonBody,
    idempotency_key: Annotated[str | None, Header(max_length=128)] = None,
) -> JSONResponse:
    identity = clerk_of(session)
    full = with_window(data, identity)
    problems = form_problems(full)
    if problems:
        request.state.refusal = f"invalid_request: 申请表有 {len(problems)} 处需要修改"
        return invalid(problems)
    accepted = await call_route(
        submit_application,
        request,
        application=Application.model_validate(full),
        client=client,
        settings=settings,
        identity=identity,
        idempotency_key=idempotency_key,
    )
    body = accepted.model_dump(mode="json")
    body["location"] = f"/applications/{accepted.application_id}"
    return JSONResponse(body, status_code=202)


@router.get("/applications", response_class=HTMLResponse)
async def window_applications(request: Request, session: SessionDep, client: ClientDep) -> Response:
    """The window's applications, newest first (from Temporal's visibility: no personal data)."""
    identity = clerk_of(session)
    window = str(identity.window_id).replace("\\", "").replace("'", "")
    query = f"WorkflowType = 'Application' AND {visibility.WINDOW_ID.name} = '{window}'"
    store = request.app.state.store.applications
    rows = []
    async for wf in client.list_workflows(query, limit=50):
        attrs = wf.typed_search_attributes
        record = await asyncio.to_thread(store.get, wf.id)
        rows.append(
            {
                "id": wf.id,
                "company": record.company_name if record else "",
                "status": attrs.get(visibility.STATUS) or "",
                "sla": attrs.get(visibility.SLA_STATE) or "",
                "due_at": attrs.get(visibility.DUE_AT),
                "started": wf.start_time,
            }
        )
        if len(rows) >= 50:
            break
    return page(request, "applications.html", session, rows=rows)
