"""Telling every running application of a new calendar (the ``roll_out_calendar`` activity).

Lists the running ``Application`` workflows in Temporal's visibility and sends each the ``recalendar``
signal. Idempotent: an application that already plans on this calendar ignores it, so a retried activity
(it heartbeats how far it got) or a second pass only repeats harmless signals. An application that finished
in between is skipped.
"""

from __future__ import annotations

import structlog
from temporalio import activity
from temporalio.service import RPCError, RPCStatusCode

from activities.models import ActivityName
from domain.deadlines import Recalendar

log = structlog.get_logger(__name__)

RUNNING_APPLICATIONS = "WorkflowType = 'Application' AND ExecutionStatus = 'Running'"
RECALENDAR_SIGNAL = "recalendar"


@activity.defn(name=ActivityName.ROLL_OUT_CALENDAR)
async def roll_out_calendar(change: Recalendar) -> int:
    """Signal every running application with ``change``; how many were told."""
    client = activity.client()
    told = skipped = 0
    async for wf in client.list_workflows(RUNNING_APPLICATIONS):
        try:
            await client.get_workflow_handle(wf.id, run_id=wf.run_id).signal(RECALENDAR_SIGNAL, change)
            told += 1
        except RPCError as err:
            if err.status != RPCStatusCode.NOT_FOUND:  # finished since it was listed: nothing to re-plan
                raise
            skipped += 1
        if (told + skipped) % 50 == 0:
            activity.heartbeat(told + skipped)
    log.info("calendar_rolled_out", version=change.version, applications=told, finished_meanwhile=skipped)
    return told
