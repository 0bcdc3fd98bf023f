"""The clerk's actions on the application page, each an HTML form with its CSRF token: manual completion,
send back to the channel, withdrawal. Each calls the API's route function; a refusal (409 with the
workflow's reason, 403, 404) shows the application page again with the reason beside it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from api.auth import Refusal
from api.deps import ClientDep, SettingsDep
from api.pages.application import read_application, render_application
from api.pages.calls import call_route
from api.pages.render import PageRoute
from api.pages.session import CheckedSessionDep, Session
from api.params import ApplicationId, DepartmentCode
from api.routers.applications import complete_manually, withdraw_application
from api.routers.retry import RetryRequest, retry_department
from api.schemas import ManualCompletionRequest, WithdrawalRequest
from domain.calendar import SHANGHAI
from domain.labels import INVOICE_LABELS, SEAL_LABELS
from domain.results import RESULT_MODELS
from runtime.settings import Settings

router = APIRouter(route_class=PageRoute, include_in_schema=False)


def _text(form: Any, name: str) -> str:
    return str(form.get(name) or "").strip()


def _instant(text: str) -> str:
    """An ``<input type="datetime-local">`` value is Shanghai wall-clock time."""
    if not text:
        return ""
    try:
        return datetime.fromisoformat(text).replace(tzinfo=SHANGHAI).isoformat()
    except ValueError:
        return text


def result_from_form(code: str, form: Any) -> dict[str, Any]:
    """The department's result fields, as the manual completion form names them (``result.<field>``)."""
    model = RESULT_MODELS.get(code)
    result: dict[str, Any] = {}
    for name, spec in model.model_fields.items() if model else ():
        annotation = str(spec.annotation)
        if name == "seal_codes":
            codes = {t: _text(form, f"result.seal_codes.{t}") for t in SEAL_LABELS}
            result[name] = {t: v for t, v in codes.items() if v}
        elif name == "invoice_types":
            result[name] = [v for v in form.getlist("result.invoice_types") if v in INVOICE_LABELS]
        elif "datetime" in annotation:
            result[name] = _instant(_text(form, f"result.{name}"))
        else:
            result[name] = _text(form, f"result.{name}")
    return result


async def _refused(
    request: Request, session: Session, client: Any, settings: Settings, application_id: str, reason: str, status: int
) -> Response:
    assert session.identity is not None
    request.state.refusal = reason
    view = await read_application(application_id, request, client, session.identity)
    return await render_application(request, session, view, settings, error=reason, status_code=status)


def _back(application_id: str, done: str) -> RedirectResponse:
    return RedirectResponse(f"/applications/{application_id}?done={done}", status_code=303)


async def _act(
    route: Any,
    request: Request,
    session: Session,
    client: Any,
    settings: Settings,
    application_id: str,
    done: str,
    **arguments: Any,
) -> Response:
    """Call the API's ``route`` as the signed-in clerk; back to the application page (``?done=``), or the
    page again with the workflow's reason when it refuses (409). Other refusals (403, 404) are raised."""
    assert session.identity is not None
    try:
        await call_route(
            route,
            request,
            application_id=application_id,
            client=client,
            settings=settings,
            identity=session.identity,
            **arguments,
        )
    except Refusal as exc:
        if exc.status_code != 409:
            raise
        return await _refused(request, session, client, settings, application_id, exc.detail, 409)
    return _back(application_id, done)


@router.post("/applications/{application_id}/departments/{code}/manual-completion")
async def manual_completion(
    application_id: ApplicationId,
    code: DepartmentCode,
    request: Request,
    session: CheckedSessionDep,
    client: ClientDep,
    settings: SettingsDep,
) -> Response:
    assert session.identity is not None
    form = await request.form()
    body = ManualCompletionRequest(result=result_from_form(code, form), note=_text(form, "note")[:500] or None)
    return await _act(
        complete_manually, request, session, client, settings, application_id, "manual", code=code, body=body
    )


@router.post("/applications/{application_id}/departments/{code}/retry")
async def send_back(
    application_id: ApplicationId,
    code: DepartmentCode,
    request: Request,
    session: CheckedSessionDep,
    client: ClientDep,
    settings: SettingsDep,
) -> Response:
    assert session.identity is not None
    form = await request.form()
    body = RetryRequest(note=_text(form, "note")[:500] or None)
    return await _act(
        retry_department, request, session, client, settings, application_id, "retry", code=code, body=body
    )


@router.post("/applications/{application_id}/withdrawal")
async def withdrawal(
    application_id: ApplicationId,
    request: Request,
    session: CheckedSessionDep,
    client: ClientDep,
    settings: SettingsDep,
) -> Response:
    assert session.identity is not None
    form = await request.form()
    try:
        body = WithdrawalRequest(reason=_text(form, "reason"))
    except ValidationError:
        return await _refused(request, session, client, settings, application_id, "请填写撤回理由（最多 500 字）", 422)
    return await _act(withdraw_application, request, session, client, settings, application_id, "withdrawn", body=body)
