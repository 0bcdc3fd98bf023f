"""Temporal updates from the API: one place that turns their refusals into HTTP answers."""

from __future__ import annotations

from typing import Any

import structlog
from temporalio.client import (
    Client,
    WorkflowExecutionStatus,
    WorkflowFailureError,
    WorkflowHandle,
    WorkflowUpdateFailedError,
)
from temporalio.service import RPCError, RPCStatusCode

from api.auth import Refusal
from workflows.models import ApplicationView
from workflows.refusals import refusal_when_closed

log = structlog.get_logger(__name__)


def refusal_reason(err: WorkflowUpdateFailedError) -> str:
    """The Chinese reason a validator or handler gave (without Python's exception prefix)."""
    reason = getattr(err.cause, "message", None) or str(err.cause or err)
    return str(reason).removeprefix("ValueError: ")


async def run_update(
    client: Client,
    workflow_id: str,
    update: Any,
    arg: Any,
    *,
    not_found: str | None = None,
    not_found_code: str = "application_not_running",
    closed_refusal: bool = False,
) -> Any:
    """Run ``update`` on the workflow: a refusal is 409 with its reason, no running workflow 404 (``not_found``).

    ``closed_refusal``: the workflow may have finished (the clerk's and the supervisor's updates on an
    application): then it is no longer running but it exists, and the answer is 409 with the reason its
    final state gives (已办结 / 已撤回 / 已终止, ``workflows.refusals.refusal_when_closed``); 404 stays
    for a workflow that does not exist."""
    handle = client.get_workflow_handle(workflow_id)
    name = getattr(update, "__name__", str(update))
    try:
        return await handle.execute_update(update, arg)
    except WorkflowUpdateFailedError as err:
        reason = refusal_reason(err)
        log.info("update_refused", workflow_id=workflow_id, update=name, reason=reason)
        raise Refusal(409, "update_refused", reason) from err
    except RPCError as err:
        if err.status is not RPCStatusCode.NOT_FOUND:
            raise
        closed = await closed_reason(client, workflow_id, name) if closed_refusal else None
        if closed is not None:
            log.info("update_refused_closed", workflow_id=workflow_id, update=name, reason=closed)
            raise Refusal(409, "application_closed", closed) from err
        raise Refusal(404, not_found_code, not_found or f"未找到在办的申请 {workflow_id}") from err


async def closed_reason(client: Client, workflow_id: str, update: str) -> str | None:
    """Why ``update`` cannot run on workflow ``workflow_id`` when it has closed; None when it does not
    exist (or is, after all, still running: then the update's own answer stands)."""
    handle: WorkflowHandle[Any, ApplicationView] = client.get_workflow_handle(workflow_id, result_type=ApplicationView)
    try:
        described = await handle.describe()
    except RPCError as err:
        if err.status in (RPCStatusCode.NOT_FOUND, RPCStatusCode.INVALID_ARGUMENT):
            return None
        raise
    status = described.status
    if status is None or status is WorkflowExecutionStatus.RUNNING:
        return None
    final = None
    if status is WorkflowExecutionStatus.COMPLETED:
        try:
            final = (await handle.result(follow_runs=False)).status
        except (WorkflowFailureError, RPCError) as exc:  # the result unreadable: closed all the same
            log.warning("closed_result_unreadable", workflow_id=workflow_id, error=str(exc))
    return refusal_when_closed(update, final)
