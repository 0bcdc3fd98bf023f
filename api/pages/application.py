"""The application page (/applications/{id}): a timeline per department, live countdowns in working time,
escalations, the actions that apply; the correction form; the robots' evidence for people signed in.

Reads and actions are the API's own route functions (``get_application``, ``correct_application`` …), so a
page sees and may do exactly what the same identity may through the API (another window's application: 404).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response

from api.deps import ClientDep, SettingsDep
from api.pages import view as shown
from api.pages.calls import call_route, page_calendar
from api.pages.form import clerk_of, form_problems, invalid, with_window
from api.pages.form_layout import sections
from api.pages.materials import DECISIONS, field_label, prereview_of
from api.pages.render import PageRoute, page
from api.pages.session import CheckedSessionDep, Session, SessionDep
from api.pages.submitted import current_form, editable_parts, locked_parts
from api.params import ApplicationId
from api.routers.applications import correct_application, get_application
from api.routers.evidence import evidence
from domain.access import Identity
from domain.calendar import WorkingCalendar
from domain.form import Application
from domain.results import RESULT_MODELS
from domain.status import TaskStatus
from runtime.settings import Settings
from workflows.models import ApplicationView

router = APIRouter(route_class=PageRoute, include_in_schema=False)

DONE = {
    "manual": "已录入人工办结结果",
    "retry": "已重新报送至原渠道",
    "withdrawn": "申请已撤回",
    "corrected": "补正已提交，被退回的部门将重新办理",
    "reviewed": "预审发现的核对结果已记录",
}


async def read_application(application_id: str, request: Request, client: Any, identity: Identity) -> ApplicationView:
    """The API's read of an application: 404 for one the identity may not see, 403 for a department."""
    return await call_route(get_application, request, application_id=application_id, client=client, identity=identity)


def context(view: ApplicationView, session: Session, settings: Settings, calendar: WorkingCalendar) -> dict[str, Any]:
    assert session.identity is not None
    policy, at = settings.sla_policy, shown.now()
    return {
        "view": view,
        "departments": shown.rows(view, at, calendar, policy),
        "overall": shown.application_countdown(view, at, calendar, policy),
        "actions": shown.actions(view, session.identity),
        "result_fields": {code: list(model.model_fields) for code, model in RESULT_MODELS.items()},
        "live": view.status in ("processing", "needs_correction"),
    }


async def render_application(
    request: Request,
    session: Session,
    view: ApplicationView,
    settings: Settings,
    *,
    error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    done = DONE.get(request.query_params.get("done", ""))
    assert session.identity is not None
    client = await request.app.state.temporal.get()
    findings = await prereview_of(request, client, session.identity, view.application_id)
    return page(
        request,
        "application.html",
        session,
        status_code,
        error=error,
        done=done,
        findings=findings,
        decisions=DECISIONS,
        field_label=field_label,
        may_review=session.identity.handles_applications(view.window_id),
        **context(view, session, settings, await page_calendar(request)),
    )


@router.get("/applications/{application_id}", response_class=HTMLResponse)
async def application_page(
    application_id: ApplicationId, request: Request, session: SessionDep, client: ClientDep, settings: SettingsDep
) -> Response:
    assert session.identity is not None
    view = await read_application(application_id, request, client, session.identity)
    return await render_application(request, session, view, settings)


@router.get("/applications/{application_id}/live", response_class=HTMLResponse)
async def application_live(
    application_id: ApplicationId, request: Request, session: SessionDep, client: ClientDep, settings: SettingsDep
) -> Response:
    """The changing part of the page, rendered again (the page's script swaps it in every few seconds)."""
    assert session.identity is not None
    view = await read_application(application_id, request, client, session.identity)
    return page(
        request, "_application_live.html", session, **context(view, session, settings, await page_calendar(request))
    )


@router.get("/applications/{application_id}/correction", response_class=HTMLResponse)
async def correction_form(
    application_id: ApplicationId, request: Request, session: SessionDep, client: ClientDep, settings: SettingsDep
) -> Response:
    identity = clerk_of(session)
    view = await read_application(application_id, request, client, identity)
    form = await current_form(client, application_id)
    rejected = [d for d in view.departments if d.status is TaskStatus.REJECTED]
    if form is None or not identity.handles_applications(view.window_id):
        return await render_application(request, session, view, settings, error="该申请当前不能补正", status_code=409)
    return page(
        request,
        "form.html",
        session,
        sections=sections(),
        initial=form,
        mode="correction",
        locked=locked_parts(view, settings.catalog()),
        editable=editable_parts(view, settings.catalog()),
        action=f"/applications/{application_id}/correction",
        draft_key="",
        application_id=application_id,
        rejected=rejected,
    )


@router.post("/applications/{application_id}/correction")
async def submit_correction(
    application_id: ApplicationId,
    request: Request,
    session: CheckedSessionDep,
    client: ClientDep,
    settings: SettingsDep,
    data: Annotated[dict[str, Any], Body()],
) -> JSONResponse:
    identity = clerk_of(session)
    full = with_window(data, identity)
    problems = form_problems(full)
    if problems:
        return invalid(problems)
    await call_route(
        correct_application,
        request,
        application_id=application_id,
        application=Application.model_validate(full),
        client=client,
        settings=settings,
        identity=identity,
    )
    return JSONResponse({"location": f"/applications/{application_id}?done=corrected"})


@router.get("/evidence/{path:path}", response_class=FileResponse)
async def evidence_file(
    path: Annotated[str, Path(max_length=300)],
    request: Request,
    session: SessionDep,
    client: ClientDep,
    settings: SettingsDep,
) -> Response:
    """A robot's screenshot or trace, to the people who may read its application (the API's rule)."""
    assert session.identity is not None
    return await call_route(evidence, request, path=path, settings=settings, client=client, identity=session.identity)
