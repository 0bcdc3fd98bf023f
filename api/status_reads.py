"""Reading where an application stands (the workflow's ``status`` query), without splitting its workflow task.

A query the server dispatches directly to a worker that does not hold the workflow in its cache (after a worker
restart, or an eviction) makes that worker replay the history and apply, for the query, the events already
recorded after the last completed workflow task; when the workflow task then comes, with an update or later
events, the worker completes it with the commands of both activations, in an order a replay of that history
does not reproduce (temporalio 1.35 orders an activation's updates and signals before its other jobs): every
later workflow task of that application then fails as nondeterministic. The server dispatches a query directly
exactly when a workflow task is scheduled but no worker has taken it (a started task holds the query back and
delivers it with the task). So a read first describes the workflow and asks while no task waits to be taken;
one that waits past ``WAIT_S`` (a dead worker's sticky queue holds a task for up to ten seconds) is refused with
503 ``status_recovering`` and ``Retry-After``, the page says to refresh, and nothing is lost.
"""

from __future__ import annotations

import asyncio

import structlog
from temporalio.api.enums.v1 import PendingWorkflowTaskState
from temporalio.client import Client, WorkflowExecutionDescription, WorkflowQueryFailedError
from temporalio.service import RPCError, RPCStatusCode

from api.access import not_found
from api.auth import Refusal
from workflows.application import ApplicationWorkflow
from workflows.models import ApplicationView

log = structlog.get_logger(__name__)

#: how long a read waits for a scheduled workflow task to be taken before it is refused (a live worker takes
#: one in milliseconds; a dead worker's sticky queue holds one for its schedule-to-start timeout, 10 s)
WAIT_S = 2.0
POLL_S = 0.1
#: seconds a refused read is told to wait (``Retry-After``)
RETRY_AFTER_S = 5


class StatusRecovering(Refusal):
    """The application's workflow task waits to be taken (a worker is restarting): read again shortly."""

    def __init__(self, application_id: str) -> None:
        super().__init__(503, "status_recovering", "该申请正在恢复处理（工作进程重启后接续），请稍后刷新查看办理进度")
        self.application_id = application_id
        self.headers = {"Retry-After": str(RETRY_AFTER_S)}


def task_waits(described: WorkflowExecutionDescription) -> bool:
    """A workflow task is scheduled and no worker has taken it (a query now would be dispatched directly)."""
    raw = described.raw_description
    return raw.HasField("pending_workflow_task") and (
        raw.pending_workflow_task.state == PendingWorkflowTaskState.PENDING_WORKFLOW_TASK_STATE_SCHEDULED
    )


async def read_status(client: Client, application_id: str, *, wait_s: float = WAIT_S) -> ApplicationView:
    """The application's view, asked while no workflow task waits to be taken. ``StatusRecovering`` (503) when
    one still waits after ``wait_s``; 404 for an application that does not exist; 503 ``status_unavailable``
    when the workflow cannot answer."""
    handle = client.get_workflow_handle(application_id)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_s
    try:
        while task_waits(await handle.describe()):
            if loop.time() >= deadline:
                log.info("status_read_deferred", application_id=application_id, waited_s=wait_s)
                raise StatusRecovering(application_id)
            await asyncio.sleep(POLL_S)
        return await handle.query(ApplicationWorkflow.status)
    except RPCError as err:
        if err.status in (RPCStatusCode.NOT_FOUND, RPCStatusCode.INVALID_ARGUMENT):
            raise not_found(application_id) from err
        raise
    except WorkflowQueryFailedError as err:
        log.error("application_query_failed", application_id=application_id, error=str(err))
        raise Refusal(503, "status_unavailable", "暂时无法读取该申请的办理进度，请稍后重试") from err
