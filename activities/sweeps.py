"""The SWEEP activity: one robot session reads a portal account's 我的办件 list (``bots.sweep``) and tells each
waiting application the result of its decided case.

Delivered through the application workflow's ``department_callback`` update, the one the department APIs'
callbacks use, rather than a signal: the update's validator (``DepartmentTask.callback_problem``) refuses a
case the task does not wait for (another receipt number, a task not at the department, an application that
has finished) before anything is written to the application's history, and the sweep learns whether the
result was taken. Idempotent: receipts the sweeper delivered before (``SweepInput.delivered``) are skipped;
one delivered again (a retried sweep) is refused by the application, quietly. Thin: the page reading is
``bots.sweep``, the pace ``workflows/sweeper.py``.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import structlog
from temporalio import activity
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from activities.models import ActivityName
from activities.sweep_models import DEPARTMENT_CALLBACK_UPDATE, Delivered, SweepInput, SweepOutcome
from bots import sweep as bot_sweep
from bots.browser import BrowserPool
from bots.errors import PortalError
from bots.evidence import make_label
from bots.flows import PortalAccess
from domain.status import Channel
from runtime.settings import Settings


def _log() -> structlog.typing.FilteringBoundLogger:
    return structlog.get_logger(__name__)


class SweepActivities:
    """The sweep, with the robot activities' browser pool (a page of the account, warm when one is) and settings."""

    def __init__(self, settings: Settings, pool: BrowserPool | None) -> None:
        self._settings = settings
        self._pool = pool

    @activity.defn(name=ActivityName.SWEEP)
    async def sweep(self, inp: SweepInput) -> SweepOutcome:
        endpoint = inp.endpoint
        if endpoint.channel is not Channel.ROBOT:
            raise ApplicationError(f"department {endpoint.code} is not reached by a robot", non_retryable=True)
        started = time.perf_counter()
        with structlog.contextvars.bound_contextvars(department=endpoint.code, channel="robot"):
            try:
                read = await self.read(inp)
            except PortalError as exc:  # an outage is tried again by the retry policy; the next sweep comes anyway
                raise ApplicationError(str(exc), type=type(exc).__name__, non_retryable=not exc.retryable) from exc
            outcome = await _deliver(endpoint.code, read, set(inp.delivered))
            known = set(inp.delivered) | {d.receipt_no for d in outcome.delivered}
            outcome.since = bot_sweep.next_since(
                read, inp.since, now=datetime.now(UTC), recheck=timedelta(seconds=inp.recheck_s), taken=known
            )
            _log().info(
                "portal_swept",
                pages=outcome.pages,
                cases=outcome.cases,
                in_review=outcome.in_review,
                delivered=len(outcome.delivered),
                refused=outcome.refused,
                skipped=outcome.skipped,
                complete=outcome.complete,
                ms=round((time.perf_counter() - started) * 1000),
            )
            return outcome

    async def read(self, inp: SweepInput) -> bot_sweep.SweepResult:
        """The account's list as one robot session reads it (a page of the pool: the account's warm one if idle)."""
        endpoint = inp.endpoint
        if self._pool is None:
            raise ApplicationError("this worker has no browser: sweeps belong on a robot worker", non_retryable=True)
        creds = self._settings.credentials(endpoint.credentials_ref or endpoint.code)
        access = PortalAccess(
            base_url=endpoint.base_url,
            username=creds.username,
            password=creds.password,
            captcha_attempts=self._settings.robot_captcha_attempts,
        )
        attempt = activity.info().attempt
        label = make_label(endpoint.code, "sweep", attempt)
        async with self._pool.page(label=label, account=(access.base_url, access.username), attempt=attempt) as page:
            return await bot_sweep.sweep(
                page,
                access,
                endpoint.code,
                since=inp.since,
                max_pages=inp.max_pages,
                on_step=lambda step: activity.heartbeat(step),
            )


async def _deliver(department: str, read: bot_sweep.SweepResult, delivered: set[str]) -> SweepOutcome:
    """Each decided case not delivered before, to its application (the ``department_callback`` update)."""
    client = activity.client()
    outcome = SweepOutcome(
        pages=read.pages,
        cases=len(read.cases),
        in_review=sum(1 for c in read.cases if not c.decided),
        complete=read.complete,
    )
    for case in read.decided:
        if case.receipt_no in delivered:
            outcome.skipped += 1
            continue
        if not case.application_id:
            outcome.refused += 1
            continue
        callback = {
            "department": department,
            "receipt_no": case.receipt_no,
            "status": case.inquiry.status,
            "result": case.inquiry.result,
            "reason": case.inquiry.reason,
        }
        try:
            await client.get_workflow_handle(case.application_id).execute_update(
                DEPARTMENT_CALLBACK_UPDATE, callback, result_type=str
            )
        except WorkflowUpdateFailedError as err:  # not waited for (stale, another receipt): nothing changed
            outcome.refused += 1
            _log().debug("sweep_result_refused", receipt_no=case.receipt_no, reason=str(err.cause or err)[:200])
        except RPCError as err:
            if err.status is not RPCStatusCode.NOT_FOUND:  # an application that is not running: nothing to tell
                raise
            outcome.refused += 1
        else:
            outcome.delivered.append(Delivered(receipt_no=case.receipt_no, submitted_at=case.submitted_at))
            _log().info(
                "sweep_result_delivered",
                application_id=case.application_id,
                receipt_no=case.receipt_no,
                status=case.inquiry.status,
            )
        activity.heartbeat("deliver")
    return outcome
