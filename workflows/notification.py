"""Delivering one notification, as its own workflow so a failing webhook never blocks anyone.

Started by a ladder with ``ParentClosePolicy.ABANDON`` and the notification's key as the
workflow id: it retries on its own schedule (Temporal retry policy with back-off) even
after the task that escalated has finished, and the same step is never started twice.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from activities.models import ActivityName, Notification
    from domain.escalation import escalation_message
    from workflows.models import Escalation


@workflow.defn(name="Notification")
class NotificationWorkflow:
    @workflow.run
    async def run(self, n: Notification) -> None:
        await workflow.execute_activity(
            ActivityName.NOTIFY,
            n,
            start_to_close_timeout=timedelta(seconds=30),
            schedule_to_close_timeout=timedelta(days=1),
            retry_policy=RetryPolicy(
                initial_interval=timedelta(seconds=5), backoff_coefficient=2.0, maximum_interval=timedelta(minutes=10)
            ),
        )


async def start_notification(
    esc: Escalation, *, application_id: str, window_id: str, subject: str
) -> workflow.ChildWorkflowHandle:
    """Hand one fired step to its own Notification workflow (abandoned: it outlives its starter); its handle
    (done once the notification is delivered or given up)."""
    n = Notification(
        key=esc.key,
        application_id=application_id,
        department=esc.department,
        level=esc.level,
        audience=esc.audience,
        sequence=esc.sequence,
        due_at=esc.due_at,
        planned_at=esc.planned_at,
        fired_at=esc.fired_at,
        window_id=window_id,
        message=escalation_message(
            level=esc.level,
            audience=esc.audience,
            application_id=application_id,
            window_id=window_id,
            subject=subject,
            due_at=esc.due_at,
        ),
    )
    return await workflow.start_child_workflow(
        NotificationWorkflow.run, n, id=f"notify.{esc.key}", parent_close_policy=ParentClosePolicy.ABANDON
    )
