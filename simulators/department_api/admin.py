"""``/_admin/...`` (no auth; tests and the demo): submissions, the files received, the department's send-back, rejection rules;
the behaviour switches (``behaviour_router``: maintenance, error_rate, slow_s), as the portals have them.

The portal simulator has admin endpoints of the same names: two foreign systems, each with its own
answers (keys, error bodies), so each keeps its own.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from simulators.department_api import materials, store
from simulators.department_api.behaviour import ApiBehaviour, change
from simulators.department_api.callbacks import schedule_callback
from simulators.department_api.state import DEFAULT_REJECTION_REASON, DepartmentDep, error

router = APIRouter(prefix="/_admin")
behaviour_router = APIRouter(prefix="/_admin")  # only where the API owns its switches


@router.get("/submissions")
async def admin_list(department: DepartmentDep, application_id: str | None = None) -> JSONResponse:
    if application_id is None:
        rows = await asyncio.to_thread(store.select, department.db_path)
    else:
        rows = await asyncio.to_thread(store.select, department.db_path, "WHERE application_id = ?", (application_id,))
    now = time.time()
    return JSONResponse([store.full(r, now) for r in rows])


@router.get("/materials")
async def admin_materials(department: DepartmentDep, application_id: str | None = None) -> JSONResponse:
    """The files the department received (no bytes: their sha256 as received, ``sha256_of_data``)."""
    return JSONResponse(await asyncio.to_thread(materials.received, department.db_path, application_id))


@router.post("/submissions/{ticket}/reject")
async def admin_reject(ticket: str, request: Request, department: DepartmentDep) -> JSONResponse:
    try:
        data = json.loads(await request.body() or b"{}")
    except ValueError:
        data = {}
    reason = str(data.get("reason") or DEFAULT_REJECTION_REASON)
    row, problem = await asyncio.to_thread(store.reject, department.db_path, department.code, ticket, reason)
    if problem == "not_found":
        return error(404, "not_found", f"unknown ticket {ticket!r}")
    if problem == "conflict":
        return error(409, "conflict", f"ticket {ticket!r} is already {store.status(row)}")
    if row["callback_url"]:
        schedule_callback(department, ticket, 0.0, ("rejected",))
    return JSONResponse(store.public(row))


@router.get("/rejections")
async def admin_rejection_rules(department: DepartmentDep) -> JSONResponse:
    return JSONResponse(department.rejection_rules)


@router.post("/rejections")
async def admin_add_rejection_rule(request: Request, department: DepartmentDep) -> JSONResponse:
    try:
        data = json.loads(await request.body() or b"{}")
    except (ValueError, UnicodeDecodeError):
        data = None
    application_id = str(data.get("application_id") or "").strip() if isinstance(data, dict) else ""
    if not application_id:
        return error(422, "validation_failed", "application_id: required")
    reason = str(data.get("reason") or "").strip() or DEFAULT_REJECTION_REASON
    department.rejection_rules[application_id] = reason
    marked = await asyncio.to_thread(
        store.decide_rejection, department.db_path, department.code, application_id, reason
    )
    return JSONResponse({"application_id": application_id, "reason": reason, "processing_marked": marked})


@router.delete("/rejections/{application_id}")
async def admin_remove_rejection_rule(application_id: str, department: DepartmentDep) -> JSONResponse:
    removed = department.rejection_rules.pop(application_id, None) is not None
    return JSONResponse({"application_id": application_id, "removed": removed})


@behaviour_router.get("/behaviour")
async def admin_behaviour(department: DepartmentDep) -> JSONResponse:
    assert isinstance(department.behaviour, ApiBehaviour)
    return JSONResponse(dataclasses.asdict(department.behaviour))


@behaviour_router.put("/behaviour")
async def admin_set_behaviour(request: Request, department: DepartmentDep) -> JSONResponse:
    """Change some of the API's behaviours now (a JSON object of their fields); answers all of them."""
    try:
        body = json.loads(await request.body() or b"{}")
    except (ValueError, UnicodeDecodeError):
        body = None
    if not isinstance(body, dict):
        return error(422, "validation_failed", "a JSON object of behaviour fields is expected")
    assert isinstance(department.behaviour, ApiBehaviour)
    problems = change(department.behaviour, department.rng, body)
    if problems:
        return error(422, "validation_failed", "; ".join(problems))
    return JSONResponse(dataclasses.asdict(department.behaviour))
