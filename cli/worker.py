"""The worker process: workflows and API-channel activities on one task queue, robots on another, OCR on a third.

``python -m cli.worker`` runs all three; ``--role robots``, ``--role orchestration`` or ``--role ai``
runs one, so robot workers (which need a browser) and OCR workers (which need CPU and ~0.5 GB for the
model, loaded once per process) can be scaled apart from the rest.
One browser per worker process; SIGINT/SIGTERM stop it gracefully.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
from collections.abc import AsyncIterator
from datetime import timedelta

import structlog
from temporalio.client import Client
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from activities.calendar import roll_out_calendar
from activities.deadlines import DeadlineActivities
from activities.departments import DepartmentActivities
from activities.materials import MaterialActivities
from activities.notifications import NotifierActivities
from activities.sweeps import SweepActivities
from bots.browser import BrowserPool
from cli.sweepers import start_sweepers
from runtime.logging import configure_logging
from runtime.settings import Settings, get_settings
from runtime.temporal import connect
from store import CalendarStore, Database, upgrade
from workflows.application import ApplicationWorkflow
from workflows.calendar_rollout import CalendarRolloutWorkflow
from workflows.materials import MaterialReadingWorkflow
from workflows.notification import NotificationWorkflow
from workflows.sweeper import PortalSweeperWorkflow

log = structlog.get_logger(__name__)

ROLES = ("all", "orchestration", "robots", "ai")

# Deterministic libraries the domain code uses: shared with the sandbox, not re-imported in it
# for every workflow run (stdnum loads its region database lazily, inside the form rules).
WORKFLOW_RUNNER = SandboxedWorkflowRunner(
    restrictions=SandboxRestrictions.default.with_passthrough_modules("stdnum", "chinese_calendar", "yaml")
)


@contextlib.asynccontextmanager
async def running_workers(
    client: Client, settings: Settings, role: str = "all", *, warm_up: bool = False
) -> AsyncIterator[list[Worker]]:
    """Start the workers of ``role`` on ``client``; stop them (and the browser) on exit. ``warm_up``: run the
    OCR model once in the background at start (the CLI's workers), so the first upload is read in seconds."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {ROLES}")
    await asyncio.to_thread(upgrade, settings.database_url)  # kaiban's store at the newest schema
    pool: BrowserPool | None = None
    if role in ("all", "robots"):
        pool = BrowserPool(
            max_sessions=settings.robot_max_sessions,
            headless=settings.headless,
            executable_path=settings.chromium_path,
            evidence_dir=settings.evidence_path,
            reuse_sessions=settings.robot_reuse_sessions,
            recycle_after_tasks=settings.robot_recycle_after_tasks,
            warm_pages=settings.robot_warm_pages,
            warm_pages_total=settings.robot_warm_pages_total,
            page_recycle_tasks=settings.robot_page_recycle_tasks,
            page_idle_s=settings.robot_page_idle_s,
            trace_from_attempt=settings.robot_trace_from_attempt,
        )
        await pool.start()
    acts = DepartmentActivities(settings, pool)
    notifier = NotifierActivities(settings)
    sweeps = SweepActivities(settings, pool)  # the portal sweepers' robot sessions (workflows/sweeper.py)
    calendar_db = Database(settings.database_url)  # the arrangements admins loaded (kaiban's store)
    deadlines = DeadlineActivities(settings, CalendarStore(calendar_db))
    workers: list[Worker] = []
    if role in ("all", "orchestration"):
        try:
            await ensure_search_attributes(client, settings.temporal_namespace)
        except Exception as exc:  # e.g. no operator permission: visibility filters then need an admin
            log.warning("search_attributes_not_registered", error=str(exc))
        workers.append(
            Worker(
                client,
                task_queue=settings.task_queue,
                workflows=[
                    ApplicationWorkflow,
                    NotificationWorkflow,
                    CalendarRolloutWorkflow,
                    MaterialReadingWorkflow,
                    PortalSweeperWorkflow,
                ],
                workflow_runner=WORKFLOW_RUNNER,
                activities=[
                    acts.dispatch,
                    acts.inquire,
                    acts.withdraw,
                    notifier.notify,
                    deadlines.planning_basis,
                    roll_out_calendar,
                ],
                graceful_shutdown_timeout=timedelta(seconds=10),
            )
        )
    if role in ("all", "robots"):
        workers.append(
            Worker(
                client,
                task_queue=settings.robot_task_queue,
                activities=[acts.dispatch, acts.inquire, acts.withdraw, sweeps.sweep],
                max_concurrent_activities=settings.robot_max_sessions,
                graceful_shutdown_timeout=timedelta(seconds=10),
            )
        )
    readers: MaterialActivities | None = None
    if role in ("all", "ai"):
        readers = MaterialActivities(settings)
        if warm_up:
            readers.warm_up()
        workers.append(
            Worker(
                client,
                task_queue=settings.ai_task_queue,
                activities=[readers.read],
                max_concurrent_activities=settings.ocr_max_concurrent,
                graceful_shutdown_timeout=timedelta(seconds=10),
            )
        )
    tasks = [asyncio.create_task(w.run()) for w in workers]
    try:
        if role in ("all", "orchestration") and settings.sweep_enabled:
            await start_sweepers(client, settings)  # idempotent: one per robot department's portal account
        yield workers
    finally:
        for w in workers:
            await w.shutdown()
        for t in tasks:
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await t
        await acts.aclose()
        await notifier.aclose()
        if readers is not None:
            await readers.aclose()
        calendar_db.close()
        if pool is not None:
            await pool.stop()


async def ensure_search_attributes(client: Client, namespace: str) -> None:
    """Register kaiban's custom search attributes (idempotent: existing ones are left alone)."""
    from temporalio.api.enums.v1 import IndexedValueType
    from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest, ListSearchAttributesRequest
    from temporalio.service import RPCError, RPCStatusCode

    from workflows.visibility import ALL

    try:
        existing = await client.operator_service.list_search_attributes(
            ListSearchAttributesRequest(namespace=namespace)
        )
        known = set(existing.custom_attributes)
    except RPCError as err:  # the time-skipping test server cannot list, but can add
        if err.status != RPCStatusCode.UNIMPLEMENTED:
            raise
        known = set()
    missing = {
        key.name: IndexedValueType.ValueType(int(key.indexed_value_type))  # the SDK's enum mirrors the proto's
        for key in ALL
        if key.name not in known
    }
    if missing:
        await client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(namespace=namespace, search_attributes=missing)
        )


def check_settings(settings: Settings) -> None:
    """A worker refuses to start in production on a development default (payload key, passwords, secrets)."""
    settings.refuse_unsafe_production()


async def main(role: str) -> None:
    settings = get_settings()
    configure_logging(settings.log_format, settings.log_level)
    check_settings(settings)
    client = await connect(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with running_workers(client, settings, role, warm_up=True):
        log.info(
            "worker_started",
            role=role,
            task_queue=settings.task_queue,
            robot_task_queue=settings.robot_task_queue,
            ai_task_queue=settings.ai_task_queue,
            temporal=settings.temporal_address,
        )
        await stop.wait()
        log.info("worker_stopping")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="kaiban worker")
    parser.add_argument("--role", choices=ROLES, default="all")
    asyncio.run(main(parser.parse_args().role))
