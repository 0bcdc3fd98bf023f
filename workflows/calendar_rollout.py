"""A new calendar reaching every running application, durably: ``CalendarRollout``, one per calendar version.

Started by the API when an admin loads a year's official arrangement. Two passes a minute apart: the
second reaches applications started in between on a process that had not yet read the new calendar (or
not yet visible in Temporal's visibility at the first pass). Each pass is one activity, retried until it
succeeds; the signal is idempotent, so nothing is re-planned twice.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.models import ActivityName
    from domain.deadlines import Recalendar

PASSES = 2
BETWEEN_PASSES = timedelta(seconds=60)


@workflow.defn(name="CalendarRollout")
class CalendarRolloutWorkflow:
    @workflow.run
    async def run(self, change: Recalendar) -> list[int]:
        """How many running applications each pass told."""
        told: list[int] = []
        for n in range(PASSES):
            if n:
                await workflow.sleep(BETWEEN_PASSES)
            told.append(
                await workflow.execute_activity(
                    ActivityName.ROLL_OUT_CALENDAR,
                    change,
                    result_type=int,
                    start_to_close_timeout=timedelta(minutes=30),
                    heartbeat_timeout=timedelta(minutes=2),
                    retry_policy=RetryPolicy(maximum_interval=timedelta(minutes=1)),
                )
            )
        return told


def rollout_id(version: str) -> str:
    return f"calendar-rollout-{version}"
