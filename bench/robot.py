"""Robot efficiency: kaiban's robot dispatch activity vs a naive bare Playwright script, in alternating rounds.

**kaiban**: the product's own robot worker, built by ``cli.worker.running_workers(role="robots")`` with the
product's settings (browser pool, warm pages, evidence and tracing policy, sessions: whatever the worker
does), and its ``dispatch_to_department`` activity called in this process (``ActivityEnvironment``: the
activity as the worker runs it, minus Temporal's scheduling), ``concurrency`` at a time; the worker's
activity slots (``max_concurrent_activities`` = ``robot_max_sessions``) are the headline concurrency.
**bare**: :mod:`bench.bare_robot`, a hand-written script as a one-off would be: a fresh context per task,
log in, fill every field by element id one call at a time, confirm, read the 受理号.

Both file fresh amr applications (a distinct application id per task) at the simulated amr portal on
loopback (in this process), with the same Chromium and launch flags, both in this process. At each
concurrency level kaiban and bare alternate in rounds (as the orchestration section does), so that a
machine whose load changes during the run weighs on both alike; figures are over all rounds.
"""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from pathlib import Path

from playwright.async_api import async_playwright
from temporalio.client import Client
from temporalio.testing import ActivityEnvironment

from activities.departments import DepartmentActivities
from activities.models import DepartmentEndpoint, DispatchInput
from bench.bare_robot import file_amr
from bench.common import latency_summary
from bench.orchestration import bench_settings
from bots.browser import find_chromium, launch_args
from cli.worker import running_workers
from domain.requests import DepartmentRequest
from domain.samples import generate_application
from domain.status import Channel
from runtime.settings import Settings
from simulators.portal import create_portal_app
from tests.support.servers import serve_app

_seeds = itertools.count(10_000)


def _request() -> DepartmentRequest:
    return DepartmentRequest(
        application_id=f"BENCH-{uuid.uuid4().hex[:12]}",
        department="amr",
        application=generate_application(next(_seeds)),
    )


def worker_concurrency(settings: Settings | None = None) -> int:
    """How many robot tasks the product's robot worker runs at once (its activity slots and pool sessions)."""
    return (settings or Settings()).robot_max_sessions


def department_activities(workers) -> DepartmentActivities:
    """The DepartmentActivities the robot worker was built with (its dispatch activity is a bound method)."""
    for worker in workers:
        for fn in worker.config()["activities"]:
            owner = getattr(fn, "__self__", None)
            if isinstance(owner, DepartmentActivities):
                return owner
    raise RuntimeError("the robot worker has no department activities")


async def _batch(task, n: int, concurrency: int) -> tuple[list[float], float]:
    requests = [_request() for _ in range(n)]  # built before the clock starts
    sem = asyncio.Semaphore(concurrency)
    times: list[float] = []

    async def one(req: DepartmentRequest) -> None:
        async with sem:
            t0 = time.perf_counter()
            receipt_no = await task(req)
            assert receipt_no, "no receipt"
            times.append(time.perf_counter() - t0)

    started = time.perf_counter()
    await asyncio.gather(*(one(r) for r in requests))
    return times, time.perf_counter() - started


def round_sizes(n: int, concurrency: int, rounds: int = 4) -> list[int]:
    """``n`` tasks in up to ``rounds`` rounds of at least ``concurrency`` tasks each (so each round runs full)."""
    rounds = max(1, min(rounds, n // max(1, concurrency)))
    return [n // rounds + (1 if r < n % rounds else 0) for r in range(rounds)]


async def alternate(tasks: dict, n: int, concurrency: int, rounds: int = 4) -> dict[str, dict]:
    """Each of ``tasks`` (name -> task) in turn, round after round; latency summaries over all rounds."""
    times: dict[str, list[float]] = {name: [] for name in tasks}
    walls = dict.fromkeys(tasks, 0.0)
    for size in round_sizes(n, concurrency, rounds):
        for name, task in tasks.items():
            t, wall = await _batch(task, size, concurrency)
            times[name] += t
            walls[name] += wall
    return {name: latency_summary(times[name], walls[name]) for name in tasks}


async def run(client: Client, tmp: Path, n_per_level: int = 12, concurrency: int | None = None) -> dict:
    """``n_per_level`` tasks of each at concurrency 1 and at ``concurrency`` (default: the worker's)."""
    creds = Settings().credentials("amr")
    app = create_portal_app(
        "amr", db_path=tmp / "robot-amr.sqlite3", username=creds.username, password=creds.password, process_delay_s=3600
    )
    async with serve_app(app) as url:
        settings = bench_settings(tmp, department_urls={"amr": url})
        c = concurrency or worker_concurrency(settings)
        out: dict = {"pool_concurrency": c, "tasks_per_level": n_per_level, "started": "both in this process"}
        endpoint = DepartmentEndpoint(code="amr", channel=Channel.ROBOT, base_url=url, credentials_ref="amr")
        async with running_workers(client, settings, "robots") as workers:
            acts = department_activities(workers)

            async def robot_task(req: DepartmentRequest) -> str:
                receipt = await ActivityEnvironment().run(acts.dispatch, DispatchInput(endpoint=endpoint, request=req))
                return receipt.receipt_no

            pw = await async_playwright().start()
            chromium = settings.chromium_path or find_chromium(pw)
            browser = await pw.chromium.launch(executable_path=chromium, headless=True, args=launch_args())
            try:

                async def bare_task(req: DepartmentRequest) -> str:
                    return await file_amr(browser, url, creds.username, creds.password, req)

                tasks = {"robot": robot_task, "bare": bare_task}
                for task in tasks.values():  # warm-up: page templates, JIT, first context and login
                    await _batch(task, 1, 1)
                for level in sorted({1, c}):
                    for name, summary in (await alternate(tasks, n_per_level, level)).items():
                        out[f"{name}_c{level}"] = summary
                    out[f"rounds_c{level}"] = len(round_sizes(n_per_level, level))
            finally:
                await browser.close()
                await pw.stop()
    out["chromium"] = chromium
    out["ratio"] = round(out[f"robot_c{c}"]["per_minute"] / out[f"bare_c{c}"]["per_minute"], 3)
    out["ratio_c1"] = round(out["robot_c1"]["per_minute"] / out["bare_c1"]["per_minute"], 3)
    return out
