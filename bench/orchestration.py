"""Orchestration overhead: kaiban's application workflow with instant departments vs a bare workflow of the
same shape, both started the same way.

kaiban: kaiban's real workflows (ApplicationWorkflow running a DepartmentTask per department as a coroutine,
deadline planning, escalation ladders, visibility) on a worker in this process whose department activities
are the instant fakes of :mod:`bench.fakes` (registered under the real activity names). Started as the API
starts it, minus HTTP and the store: the API's own ``workflow_input`` and ``start_once``
(``client.start_workflow`` with its id policies), then the handle's result.

bare: :mod:`bench.bare`'s ``BareOpeningWorkflow``, seven no-op activities, started the same way
(``client.start_workflow`` with the same id policies, then the result), on a worker in this process with
the same workflow runner (kaiban's sandbox settings). Both on the same dev server, in the same run, with the
same client (kaiban's encrypting data converter) and the same fixed concurrency: ``ratio`` is theirs.

kaiban through its API (``POST /api/v1/applications`` to uvicorn in its own process, the store written,
then the result) is timed beside them in the same rounds (``kaiban_api``, ``ratio_api``): the price of the
HTTP request and the store on top of the workflow. After the rounds the histories of the last applications
of each are read for where the time goes (:func:`history_breakdown`).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
import uuid
from datetime import timedelta
from pathlib import Path

import httpx
from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.worker import Worker

from activities.deadlines import DeadlineActivities
from activities.notifications import NotifierActivities
from api.routers.applications import new_application_id, now, start_once, workflow_input
from bench.bare import BareOpeningWorkflow, bare_noop
from bench.common import api_subprocess, child_pids_named, latency_summary, tree_cpu_s
from bench.fakes import FAKE_ACTIVITIES
from bench.histories import history_breakdown
from cli.worker import WORKFLOW_RUNNER, ensure_search_attributes
from domain.form import Application
from domain.samples import generate_application
from runtime.access import dev_clerk_headers
from runtime.settings import Settings
from store import upgrade
from tests.support.servers import free_port
from workflows.application import ApplicationWorkflow
from workflows.notification import NotificationWorkflow


def bench_settings(tmp: Path, **overrides) -> Settings:
    """Settings of a bench's kaiban: its own queues and API port."""
    queue = f"bench-{uuid.uuid4().hex[:8]}"
    port = free_port()
    values = dict(
        task_queue=queue,
        robot_task_queue=f"{queue}-robots",
        data_dir=tmp,
        api_port=port,
        public_base_url=f"http://127.0.0.1:{port}",
        poll_initial_s=0.2,
        poll_max_s=1.0,
        retry_initial_s=0.2,
    )
    values.update(overrides)
    return Settings(**values)


async def _closed_loop(n: int, concurrency: int, one, offset: int = 0) -> tuple[list[float], float]:
    """Run ``one(i)`` for i in offset..offset+n-1, ``concurrency`` at a time; (latencies, wall seconds)."""
    sem = asyncio.Semaphore(concurrency)
    times: list[float] = []

    async def timed(i: int) -> None:
        async with sem:
            t0 = time.perf_counter()
            await one(i)
            times.append(time.perf_counter() - t0)

    started = time.perf_counter()
    await asyncio.gather(*(timed(i) for i in range(offset, offset + n)))
    return times, time.perf_counter() - started


@contextlib.asynccontextmanager
async def kaiban_runner(client: Client, address: str, tmp: Path, n: int, concurrency: int, warmup: int = 2):
    """Yields ``(direct, api, ids)``: ``direct(i)`` starts the i-th of ``n`` generated applications as the API
    starts its workflow and awaits the result; ``api(i)`` posts it to kaiban's API and awaits the result;
    ``ids``: the workflow ids, in order. Every department on the API channel (the issue's set-up:
    orchestration alone, no robot in it)."""
    settings = bench_settings(tmp, channel_overrides={d.code: "api" for d in Settings().catalog().departments})
    await ensure_search_attributes(client, settings.temporal_namespace)
    upgrade(settings.database_url)  # as the worker does at start
    notifier = NotifierActivities(settings)
    deadlines = DeadlineActivities(settings)
    workers = [
        Worker(
            client,
            task_queue=settings.task_queue,
            workflows=[ApplicationWorkflow, NotificationWorkflow],
            workflow_runner=WORKFLOW_RUNNER,  # the production worker's sandbox settings
            activities=[*FAKE_ACTIVITIES, notifier.notify, deadlines.planning_basis],
            graceful_shutdown_timeout=timedelta(seconds=5),
        ),
        Worker(
            client,
            task_queue=settings.robot_task_queue,
            activities=FAKE_ACTIVITIES,
            graceful_shutdown_timeout=timedelta(seconds=5),
        ),
    ]
    # n for the direct starts, n for the API's, then the warm-up: distinct applications, built before the clock
    bodies = [generate_application(seed) for seed in range(2 * n + 2 * warmup)]
    forms = [Application.model_validate(b) for b in bodies]
    headers = [dev_clerk_headers(b) for b in bodies]  # each posted by its window's development clerk
    ids: list[str] = []
    tasks = [asyncio.create_task(w.run()) for w in workers]
    try:
        async with (
            api_subprocess(settings, address, tmp / "orchestration-api.log") as api,
            httpx.AsyncClient(base_url=api, timeout=60, limits=httpx.Limits(max_connections=concurrency + 4)) as http,
        ):

            async def finished(app_id: str) -> None:
                view = await client.get_workflow_handle(app_id).result()
                if view["status"] != "completed":
                    raise RuntimeError(f"application ended {view['status']}")

            async def direct(i: int) -> None:
                form = forms[i]
                submitted_at = now()
                inp = workflow_input(
                    new_application_id(submitted_at, form.window.window_id, None), form, submitted_at, settings
                )
                await start_once(client, inp, settings, first=True)
                ids.append(inp.application_id)
                await finished(inp.application_id)

            async def via_api(i: int) -> None:
                k = n + i
                r = await http.post("/api/v1/applications", json=bodies[k], headers=headers[k])
                r.raise_for_status()
                await finished(r.json()["application_id"])

            for i in range(2 * n, 2 * n + warmup):  # warm-up: first workflow runs, API import paths
                await direct(i)
                await via_api(i - n)
            ids.clear()
            yield direct, via_api, ids
    finally:
        for w in workers:
            await w.shutdown()
        for t in tasks:
            await asyncio.gather(t, return_exceptions=True)
        await notifier.aclose()


@contextlib.asynccontextmanager
async def bare_runner(client: Client, warmup: int = 2):
    """Yields ``(one, ids)``: ``one(i)`` starts one bare workflow of the same shape the way kaiban's is started
    (``client.start_workflow``, the same id policies) and awaits its result; its worker has the same runner."""
    queue = f"bench-bare-{uuid.uuid4().hex[:8]}"
    ids: list[str] = []
    async with Worker(
        client,
        task_queue=queue,
        workflows=[BareOpeningWorkflow],
        activities=[bare_noop],
        workflow_runner=WORKFLOW_RUNNER,
    ):

        async def one(i: int) -> None:
            workflow_id = f"bare-{uuid.uuid4().hex}"
            handle = await client.start_workflow(
                BareOpeningWorkflow.run,
                f"BARE-{uuid.uuid4().hex[:12]}",
                id=workflow_id,
                task_queue=queue,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            )
            ids.append(workflow_id)
            result = await handle.result()
            if len(result) != 7:
                raise RuntimeError(f"bare workflow returned {result}")

        for i in range(warmup):
            await one(i)
        ids.clear()
        yield one, ids


async def run(
    client: Client,
    address: str,
    tmp: Path,
    n: int = 100,
    concurrency: int = 10,
    rounds: int = 4,
    histories: int = 5,
) -> dict:
    """kaiban (started as the API starts it), bare (started the same way) and kaiban through its API in
    alternating rounds (n / rounds applications each, ``concurrency`` in flight), so that a machine whose
    load changes during the run weighs on all alike; figures are over all rounds. Then the histories of the
    last ``histories`` applications of kaiban and bare, for where the time goes."""
    rounds = max(1, min(rounds, n))
    sizes = [n // rounds + (1 if r < n % rounds else 0) for r in range(rounds)]
    names = ("kaiban", "bare", "kaiban_api")
    times: dict[str, list[float]] = {k: [] for k in names}
    walls = dict.fromkeys(names, 0.0)
    temporal = child_pids_named(os.getpid(), "temporal")  # the run's dev server

    def cpu_now() -> dict[str, float]:  # this process (workers and client) and the dev server
        return {
            "bench_process": tree_cpu_s(os.getpid(), own_only=True),
            "temporal": sum(tree_cpu_s(pid) for pid in temporal),
        }

    cpu = {k: {"bench_process": 0.0, "temporal": 0.0} for k in names}
    async with (
        kaiban_runner(client, address, tmp, n, concurrency) as (kaiban_one, api_one, kaiban_ids),
        bare_runner(client) as (bare_one, bare_ids),
    ):
        offset = 0
        for size in sizes:
            for name, one in (("kaiban", kaiban_one), ("bare", bare_one), ("kaiban_api", api_one)):
                before = cpu_now()
                t, wall = await _closed_loop(size, concurrency, one, offset)
                after = cpu_now()
                times[name] += t
                walls[name] += wall
                for k in before:
                    cpu[name][k] += after[k] - before[k]
            offset += size
        breakdown = {
            "kaiban": await history_breakdown(client, kaiban_ids[-histories:]),
            "bare": await history_breakdown(client, bare_ids[-histories:]),
        }
    out: dict = {
        "concurrency": concurrency,
        "rounds": rounds,
        "started": "both with client.start_workflow (the API's start_once for kaiban), then the result",
        "department_activities": "instant fakes under the real activity names (bench/fakes.py)",
        "histories": breakdown,
    }
    for name in names:
        out[name] = latency_summary(times[name], walls[name])
        # CPU ms per application of this process (the worker in it, the client) and of the dev server; for
        # kaiban_api the API's own process comes on top (not counted here)
        out[name]["cpu_ms_per_application"] = {k: round(v * 1000 / max(1, n), 1) for k, v in cpu[name].items()}
    bare_rate = out["bare"]["per_minute"]
    out["ratio"] = round(out["kaiban"]["per_minute"] / bare_rate, 3) if bare_rate else 0.0
    out["ratio_api"] = round(out["kaiban_api"]["per_minute"] / bare_rate, 3) if bare_rate else 0.0
    return out
