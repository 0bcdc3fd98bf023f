"""Orchestration overhead: kaiban end to end with instant departments vs a bare workflow of the same shape.

kaiban: ``POST /api/v1/applications`` to the API (uvicorn, its own process) → the application's
workflow result, with kaiban's real workflows (ApplicationWorkflow running a DepartmentTask
per department as a coroutine, deadline planning, escalation ladders, visibility) on a worker in this
process whose department activities are the instant fakes of :mod:`bench.fakes` (registered
under the real activity names, on the orchestration and the robot task queues).

bare: ``client.execute_workflow(BareOpeningWorkflow)`` (:mod:`bench.bare`), seven no-op
activities, on a worker in this process. Both on the same dev server, in the same run, with
the same client (kaiban's encrypting data converter) and the same fixed concurrency.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from datetime import timedelta
from pathlib import Path

import httpx
from temporalio.client import Client
from temporalio.worker import Worker

from activities.deadlines import DeadlineActivities
from activities.notifications import NotifierActivities
from bench.bare import BareOpeningWorkflow, bare_noop
from bench.common import api_subprocess, latency_summary
from bench.fakes import FAKE_ACTIVITIES
from cli.worker import WORKFLOW_RUNNER, ensure_search_attributes
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
    """Yields ``one(i)``: the i-th of ``n`` generated applications through kaiban's API to its workflow result,
    every department on the API channel (the issue's set-up: orchestration alone, no robot in it)."""
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
    bodies = [generate_application(seed) for seed in range(n + warmup)]
    headers = [dev_clerk_headers(b) for b in bodies]  # each posted by its window's development clerk
    tasks = [asyncio.create_task(w.run()) for w in workers]
    try:
        async with (
            api_subprocess(settings, address, tmp / "orchestration-api.log") as api,
            httpx.AsyncClient(base_url=api, timeout=60, limits=httpx.Limits(max_connections=concurrency + 4)) as http,
        ):

            async def one(i: int) -> None:
                r = await http.post("/api/v1/applications", json=bodies[i], headers=headers[i])
                r.raise_for_status()
                view = await client.get_workflow_handle(r.json()["application_id"]).result()
                if view["status"] != "completed":
                    raise RuntimeError(f"application ended {view['status']}")

            for i in range(n, n + warmup):  # warm-up: first workflow runs, API import paths
                await one(i)
            yield one
    finally:
        for w in workers:
            await w.shutdown()
        for t in tasks:
            await asyncio.gather(t, return_exceptions=True)
        await notifier.aclose()


@contextlib.asynccontextmanager
async def bare_runner(client: Client, warmup: int = 2):
    """Yields ``one(i)``: one bare workflow of the same shape, started directly, to its result."""
    queue = f"bench-bare-{uuid.uuid4().hex[:8]}"
    async with Worker(client, task_queue=queue, workflows=[BareOpeningWorkflow], activities=[bare_noop]):

        async def one(i: int) -> None:
            result = await client.execute_workflow(
                BareOpeningWorkflow.run,
                f"BARE-{uuid.uuid4().hex[:12]}",
                id=f"bare-{uuid.uuid4().hex}",
                task_queue=queue,
            )
            if len(result) != 7:
                raise RuntimeError(f"bare workflow returned {result}")

        for i in range(warmup):
            await one(i)
        yield one


async def run(client: Client, address: str, tmp: Path, n: int = 100, concurrency: int = 10, rounds: int = 4) -> dict:
    """kaiban and bare in alternating rounds (n / rounds applications each, ``concurrency`` in flight), so
    that a machine whose load changes during the run weighs on both alike; figures are over all rounds."""
    rounds = max(1, min(rounds, n))
    sizes = [n // rounds + (1 if r < n % rounds else 0) for r in range(rounds)]
    times = {"kaiban": [], "bare": []}
    walls = {"kaiban": 0.0, "bare": 0.0}
    async with kaiban_runner(client, address, tmp, n, concurrency) as kaiban_one, bare_runner(client) as bare_one:
        offset = 0
        for size in sizes:
            for name, one in (("kaiban", kaiban_one), ("bare", bare_one)):
                t, wall = await _closed_loop(size, concurrency, one, offset)
                times[name] += t
                walls[name] += wall
            offset += size
    kaiban = latency_summary(times["kaiban"], walls["kaiban"])
    bare = latency_summary(times["bare"], walls["bare"])
    return {
        "concurrency": concurrency,
        "rounds": rounds,
        "department_activities": "instant fakes under the real activity names (bench/fakes.py)",
        "kaiban": kaiban,
        "bare": bare,
        "ratio": round(kaiban["per_minute"] / bare["per_minute"], 3) if bare["per_minute"] else 0.0,
    }
