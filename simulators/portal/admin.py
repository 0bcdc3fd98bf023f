"""``/_admin/...`` (no login; tests and the demo): submissions, the department's decisions, rejection
rules, behaviour switches, counters and health. Exempt from every behaviour.

The department API simulator has admin endpoints of the same names: two foreign systems, each with
its own answers (keys, error bodies), so each keeps its own.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from simulators.common import now
from simulators.portal import store
from simulators.portal.behaviour import behaviour_problems
from simulators.portal.state import DEFAULT_REJECTION_REASON, Portal, PortalDep

router = APIRouter(prefix="/_admin")  # the portal store's submissions and rejection rules
ops_router = APIRouter(prefix="/_admin")  # behaviour switches, counters, health: any portal


async def json_object(request: Request) -> Any:
    """The request's JSON (``{}`` when empty), or None when it is not JSON."""
    try:
        return await request.json() if await request.body() else {}
    except ValueError:
        return None


@router.get("/submissions")
async def admin_submissions(portal: PortalDep, application_id: str | None = None) -> JSONResponse:
    return JSONResponse(store.find_submissions(portal.db_path, application_id=application_id))


@router.post("/submissions/{receipt_no}/reject")
async def admin_reject(receipt_no: str, request: Request, portal: PortalDep) -> JSONResponse:
    body = await request.json() if await request.body() else {}
    reason = str(body.get("reason") or DEFAULT_REJECTION_REASON)
    if not store.set_status(portal.db_path, receipt_no, store.REJECTED, reason):
        return JSONResponse({"detail": "not found"}, status_code=404)
    return JSONResponse({"receipt_no": receipt_no, "status": store.REJECTED, "reason": reason})


@router.post("/submissions/{receipt_no}/complete")
async def admin_complete(receipt_no: str, portal: PortalDep) -> JSONResponse:
    """The department finishes processing now (demo and tests), whatever ``process_delay_s`` says."""
    row = store.get_row(portal.db_path, receipt_no)
    if row is None:
        return JSONResponse({"detail": "not found"}, status_code=404)
    result = None
    if time.time() < row["ready_ts"]:  # not issued yet: issue it with today's date
        result = portal.spec.issue_result(row["id"], row["data"], now())
    store.complete_now(portal.db_path, receipt_no, result)
    return JSONResponse(store.find_submissions(portal.db_path, receipt_no=receipt_no)[0])


@router.get("/rejections")
async def admin_rejection_rules(portal: PortalDep) -> JSONResponse:
    return JSONResponse(portal.rejection_rules)


@router.post("/rejections")
async def admin_add_rejection_rule(request: Request, portal: PortalDep) -> JSONResponse:
    body = await json_object(request)
    if not isinstance(body, dict) or not str(body.get("application_id") or "").strip():
        return JSONResponse({"detail": "application_id is required"}, status_code=422)
    application_id = str(body["application_id"]).strip()
    reason = str(body.get("reason") or "").strip() or DEFAULT_REJECTION_REASON
    marked = portal.add_rejection_rule(application_id, reason)
    return JSONResponse({"application_id": application_id, "reason": reason, "in_review_marked": marked})


@router.delete("/rejections/{application_id}")
async def admin_remove_rejection_rule(application_id: str, portal: PortalDep) -> JSONResponse:
    removed = portal.rejection_rules.pop(application_id, None) is not None
    return JSONResponse({"application_id": application_id, "removed": removed})


def behaviour_json(portal: Portal) -> JSONResponse:
    return JSONResponse(dataclasses.asdict(portal.behaviour))


@ops_router.get("/behaviour")
async def admin_behaviour(portal: PortalDep) -> JSONResponse:
    return behaviour_json(portal)


@ops_router.put("/behaviour")
async def admin_set_behaviour(request: Request, portal: PortalDep) -> JSONResponse:
    """Change some of the portal's behaviours now (JSON object of Behaviour fields); answers all of them."""
    body = await json_object(request)
    if not isinstance(body, dict):
        return JSONResponse({"detail": "a JSON object of behaviour fields is expected"}, status_code=422)
    problems = behaviour_problems(body)
    if problems:
        return JSONResponse({"detail": "; ".join(problems)}, status_code=422)
    for key, value in body.items():
        setattr(portal.behaviour, key, value)
    if "error_seed" in body:
        portal.rng.seed(portal.behaviour.error_seed)
    return behaviour_json(portal)


@ops_router.get("/counters")
async def admin_counters(portal: PortalDep) -> JSONResponse:
    return JSONResponse({**portal.counters, "sessions_open": len(portal.sessions), "pages": dict(portal.pages)})


@ops_router.get("/health")
async def admin_health(portal: PortalDep) -> JSONResponse:
    return JSONResponse({"portal": portal.spec.code, "ok": True})
