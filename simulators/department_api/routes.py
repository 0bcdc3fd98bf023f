"""``/api/v1/submissions``: file (idempotent per application), search, inquire, withdraw. Bearer token required."""

from __future__ import annotations

import asyncio
import json
import time

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError

from simulators.department_api import materials
from simulators.department_api.callbacks import schedule_callback
from simulators.department_api.state import Department, DepartmentDep, error, require_token, validation_reason

router = APIRouter(prefix="/api/v1/submissions", dependencies=[Depends(require_token)])

#: the error code and reason of a withdrawal refused because the department has completed (approved) the case
ALREADY_COMPLETED = "already_completed"
APPROVED_REFUSAL = "该件已办结（已核准），不能撤回：撤销已核准的事项须另行依法申请"


async def parse_submission(request: Request, department: Department) -> BaseModel | JSONResponse:
    """The request's body as this department's model, or the 422 that refuses it."""
    try:
        data = json.loads(await request.body())
    except (ValueError, UnicodeDecodeError):
        return error(422, "validation_failed", "body: not valid JSON")
    if not isinstance(data, dict):
        return error(422, "validation_failed", "body: a JSON object is expected")
    try:
        body: BaseModel = department.body_model.model_validate(data)
    except ValidationError as exc:
        return error(422, "validation_failed", validation_reason(exc))
    if problem := await asyncio.to_thread(department.filings.check, body):
        return error(422, "validation_failed", problem)
    key = request.headers.get("idempotency-key")
    application_id = getattr(body, "application_id", None)
    if key is not None and key.strip() != application_id:
        return error(
            422,
            "validation_failed",
            f"Idempotency-Key {key!r} does not match application_id {application_id!r}",
        )
    return body


@router.post("")
async def submit(request: Request, department: DepartmentDep) -> JSONResponse:
    body = await parse_submission(request, department)
    if isinstance(body, JSONResponse):
        return body
    sent = list(getattr(body, "materials", None) or [])
    try:  # every file checked against its sha256 before anything is filed
        files = await materials.receive(sent, department.callback_secret)
    except materials.MaterialProblem as exc:
        if exc.unavailable:
            return error(503, "materials_unavailable", exc.reason, {"Retry-After": "5"})
        return error(422, "validation_failed", exc.reason)
    rule = department.rejection_rules.get(getattr(body, "application_id", ""))
    filed = await asyncio.to_thread(department.filings.submit, body, department.process_delay_s, rule)
    row = filed.submission
    if filed.created and sent:
        await asyncio.to_thread(
            materials.keep, department.db_path, department.code, row["ticket"], row["application_id"], sent, files
        )
    if filed.created and filed.callback_url:
        # once processed: completed, or rejected by a rule (possibly one set in the meantime)
        delay = max(0.0, filed.ready_ts - time.time()) + 0.02
        schedule_callback(department, row["ticket"], delay, ("completed", "rejected"))
    created = filed.created
    return JSONResponse(
        {
            "ticket": row["ticket"],
            "status": "accepted",
            "application_id": row["application_id"],
            "department": department.code,
            "received_at": row["received_at"],
        },
        status_code=202 if created else 200,
    )


@router.get("")
async def search(department: DepartmentDep, application_id: str | None = None) -> JSONResponse:
    return JSONResponse(await asyncio.to_thread(department.filings.search, application_id))


@router.get("/{ticket}")
async def inquire(department: DepartmentDep, ticket: str) -> JSONResponse:
    submission = await asyncio.to_thread(department.filings.get, ticket)
    if submission is None:
        return error(404, "not_found", f"unknown ticket {ticket!r}")
    return JSONResponse(submission)


@router.post("/{ticket}/withdrawal")
async def withdraw(request: Request, department: DepartmentDep, ticket: str) -> JSONResponse:
    try:
        data = json.loads(await request.body() or b"{}")
    except (ValueError, UnicodeDecodeError):
        return error(422, "validation_failed", "body: not valid JSON")
    reason = data.get("reason") if isinstance(data, dict) else None
    if not isinstance(reason, str) or not reason.strip():
        return error(422, "validation_failed", "reason: a withdrawal needs a reason (撤回原因)")
    submission = await asyncio.to_thread(department.filings.withdraw, ticket, reason.strip()[:500])
    if submission is None:
        return error(404, "not_found", f"unknown ticket {ticket!r}")
    if submission["status"] == "completed":  # approved: withdrawing it is a separate legal procedure
        return error(409, ALREADY_COMPLETED, APPROVED_REFUSAL)
    return JSONResponse(submission)
