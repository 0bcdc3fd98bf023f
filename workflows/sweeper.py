"""``PortalSweeper``: one per robot department's portal account, reading its 我的办件 list at the department's pace.

Each sweep is one SWEEP activity (one robot session: ``activities/sweeps.py``) that tells every waiting
application the result of its decided case through the ``department_callback`` update, so polling a portal
costs one session per sweep, not one per open task; a task's own inquiry stays the fallback for a filing
the list does not show (``Timing.swept_poll_initial_s``). Between sweeps it sleeps ``interval_s`` while the
list shows cases in review or a department's filing woke it (the ``wake`` signal, from the dispatch activity
or, in histories from before patch PER_EVENT, from the department task), else
``idle_interval_s``. It remembers where the next sweep may stop (``since``) and the receipts it delivered
(bounded: those still readable after ``since``, at most ``remember``), and continues as a new run every
``sweeps_per_run`` sweeps, so its history stays small. Deterministic: no I/O here.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import BaseModel, Field
from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.models import ActivityName, DepartmentEndpoint
    from activities.sweep_models import WAKE_SIGNAL, Delivered, SweepInput, SweepOutcome


class SweepPace(BaseModel):
    interval_s: float = 5.0  # while cases are in review, or after a new filing
    idle_interval_s: float = 60.0  # when the list shows none in review
    max_pages: int = 10
    recheck_s: float = 300.0  # a decided case no application took is read again this long
    remember: int = Field(default=2000, ge=10)  # delivered receipts kept at most
    sweeps_per_run: int = Field(default=200, ge=1)  # then continue as new (about 10 events a sweep)
    timeout_s: float = 300.0  # one sweep, start to close
    heartbeat_timeout_s: float = 60.0


class SweeperInput(BaseModel):
    endpoint: DepartmentEndpoint
    robot_task_queue: str
    pace: SweepPace = Field(default_factory=SweepPace)
    since: datetime | None = None  # carried from the previous run
    delivered: list[Delivered] = Field(default_factory=list)
    sweeps: int = 0  # sweeps of the runs before
    delivered_total: int = 0


class SweeperView(BaseModel):
    department: str
    sweeps: int
    delivered_total: int
    last_delivered: int | None = None  # by the latest sweep (None: none yet in this run)
    in_review: int | None = None
    since: datetime | None = None
    remembered: int = 0
    failures: int = 0


def sweeper_id(code: str, account: str | None, task_queue: str) -> str:
    """The workflow id of the sweeper of a department's portal account (its credentials reference), for the
    applications of ``task_queue`` (stacks sharing one Temporal server each have their own)."""
    return f"portal-sweeper-{code}-{account or code}@{task_queue}"


def remembered(delivered: list[Delivered], since: datetime | None, keep: int) -> list[Delivered]:
    """The deliveries worth remembering: cases a sweep from ``since`` still reads, the newest ``keep``."""
    kept = [d for d in delivered if since is None or d.submitted_at is None or d.submitted_at >= since]
    return kept[-keep:]


@workflow.defn(name="PortalSweeper")
class PortalSweeperWorkflow:
    def __init__(self) -> None:
        self._woken = False
        self._view: SweeperView | None = None

    @workflow.signal(name=WAKE_SIGNAL)
    def wake(self) -> None:
        """A department task filed at this portal: the next sweep comes at the fast pace."""
        self._woken = True

    @workflow.query(name="state")
    def state(self) -> SweeperView | None:
        return self._view

    @workflow.run
    async def run(self, inp: SweeperInput) -> None:
        pace = inp.pace
        since, delivered = inp.since, list(inp.delivered)
        view = self._view = SweeperView(
            department=inp.endpoint.code,
            sweeps=inp.sweeps,
            delivered_total=inp.delivered_total,
            since=since,
            remembered=len(delivered),
        )
        busy = False
        for _ in range(pace.sweeps_per_run):
            self._woken = False  # a filing from now on is seen by this sweep or wakes the next
            try:
                out: SweepOutcome = await workflow.execute_activity(
                    ActivityName.SWEEP,
                    SweepInput(
                        endpoint=inp.endpoint,
                        since=since,
                        delivered=[d.receipt_no for d in delivered],
                        max_pages=pace.max_pages,
                        recheck_s=pace.recheck_s,
                    ),
                    result_type=SweepOutcome,
                    task_queue=inp.robot_task_queue,
                    activity_id=f"sweep.{view.sweeps + 1}",
                    start_to_close_timeout=timedelta(seconds=pace.timeout_s),
                    heartbeat_timeout=timedelta(seconds=pace.heartbeat_timeout_s),
                    # a sweep that fails is not chased: the next one comes at the pace, the tasks' inquiries meanwhile
                    retry_policy=RetryPolicy(initial_interval=timedelta(seconds=1), maximum_attempts=2),
                )
            except ActivityError as err:
                view.failures += 1  # the pace stays as it was: the next sweep reads what this one missed
                workflow.logger.warning("sweep of %s failed: %s", inp.endpoint.code, err.cause or err)
            else:
                since = out.since if out.since is not None else since
                delivered = remembered(delivered + out.delivered, since, pace.remember)
                busy = out.in_review > 0
                view.delivered_total += len(out.delivered)
                view.last_delivered, view.in_review = len(out.delivered), out.in_review
                view.since, view.remembered = since, len(delivered)
            view.sweeps += 1
            await self._pause(busy, pace)
        workflow.continue_as_new(
            inp.model_copy(
                update={
                    "since": since,
                    "delivered": delivered,
                    "sweeps": view.sweeps,
                    "delivered_total": view.delivered_total,
                }
            )
        )

    async def _pause(self, busy: bool, pace: SweepPace) -> None:
        """Until the next sweep: the fast pace while cases are in review or one was just filed, else the slow
        pace, cut to the fast one when a department task tells of a new filing."""
        if not (busy or self._woken):
            try:
                await workflow.wait_condition(lambda: self._woken, timeout=timedelta(seconds=pace.idle_interval_s))
            except TimeoutError:
                return
        await workflow.sleep(timedelta(seconds=pace.interval_s))
