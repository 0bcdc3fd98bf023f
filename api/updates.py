"""Temporal updates from the API: one place that turns their refusals into HTTP answers."""

from __future__ import annotations

from typing import Any

import structlog
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.service import RPCError, RPCStatusCode

from api.auth import Refusal

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
) -> Any:
    """Run ``update`` on the workflow: a refusal is 409 with its reason, no running workflow 404 (``not_found``)."""
    handle = client.get_workflow_handle(workflow_id)
    try:
        return await handle.execute_update(update, arg)
    except WorkflowUpdateFailedError as err:
        reason = refusal_reason(err)
        log.info(
            "update_refused", workflow_id=workflow_id, update=getattr(update, "__name__", str(update)), reason=reason
        )
        raise Refusal(409, "update_refused", reason) from err
    except RPCError as err:
        if err.status is RPCStatusCode.NOT_FOUND:
            raise Refusal(404, not_found_code, not_found or f"未找到在办的申请 {workflow_id}") from err
        raise
