"""Starting the portal sweepers (workflows/sweeper.py): one per robot department's portal account, idempotently.

The orchestration worker calls :func:`start_sweepers` when it starts (``KAIBAN_SWEEP_ENABLED``, on by default):
a sweeper already running under the same id is left as it is (``USE_EXISTING``), so a restart or a second
worker never starts a second one; one that ended (terminated by an operator) is started again.
"""

from __future__ import annotations

import structlog
from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from activities.models import DepartmentEndpoint
from domain.status import Channel
from runtime.settings import Settings
from workflows.sweeper import PortalSweeperWorkflow, SweeperInput, SweepPace, sweeper_id

log = structlog.get_logger(__name__)


def sweeper_inputs(settings: Settings) -> list[tuple[str, SweeperInput]]:
    """(workflow id, input) of the sweeper of every robot department's portal account (one per account)."""
    out: dict[str, SweeperInput] = {}
    recheck = settings.swept_poll_initial_s or settings.sweep_idle_interval_s
    for d in settings.catalog().departments:
        if d.channel is not Channel.ROBOT:
            continue
        pace = SweepPace(
            interval_s=settings.sweep_interval(d.code),
            idle_interval_s=max(settings.sweep_idle_interval_s, settings.sweep_interval(d.code)),
            max_pages=settings.sweep_max_pages,
            recheck_s=recheck,
            timeout_s=settings.robot_task_timeout_s,
            heartbeat_timeout_s=settings.robot_heartbeat_timeout_s * 3,
        )
        endpoint = DepartmentEndpoint(
            code=d.code, channel=d.channel, base_url=d.base_url, credentials_ref=d.credentials_ref
        )
        out.setdefault(
            sweeper_id(d.code, d.credentials_ref, settings.task_queue),
            SweeperInput(endpoint=endpoint, robot_task_queue=settings.robot_task_queue, pace=pace),
        )
    return list(out.items())


async def start_sweepers(client: Client, settings: Settings) -> list[str]:
    """Start the sweepers not running yet; the ids of all of them."""
    ids = []
    for workflow_id, inp in sweeper_inputs(settings):
        try:
            await client.start_workflow(
                PortalSweeperWorkflow.run,
                inp,
                id=workflow_id,
                task_queue=settings.task_queue,
                id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            )
        except WorkflowAlreadyStartedError:  # a server without conflict policies: running already, as wanted
            pass
        ids.append(workflow_id)
    log.info("sweepers_started", sweepers=ids)
    return ids
