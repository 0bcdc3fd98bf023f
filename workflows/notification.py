"""Delivering one notification, as its own workflow so a failing webhook never blocks anyone.

Started by a ladder with ``ParentClosePolicy.ABANDON`` and the notification's key as the
workflow id: it retries on its own schedule (Temporal retry policy with back-off) even
after the task that escalated has finished, and the same step is never started twice.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.models import ActivityName, Notification


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
