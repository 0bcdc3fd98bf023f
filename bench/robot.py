"""Robot efficiency: ``bots.flows.dispatch`` through ``BrowserPool.page()`` vs a bare Playwright script.

Both file fresh amr applications (a distinct application id per task) at the simulated amr
portal on loopback, with the same Chromium and launch flags, at concurrency 1 and at the
pool's concurrency. The pool is configured and used as the worker uses it (cli.worker,
activities.departments): a Playwright trace recorded per session for evidence, discarded on
success; the account's logged-in session reused (``robot_reuse_sessions``) and the browser
recycled (``robot_recycle_after_tasks``) as the settings' defaults say; a screenshot of every
receipt kept. The bare script is unchanged: it logs in for every task.
"""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from pathlib import Path

from playwright.async_api import async_playwright

from bench.bare_robot import file_amr
from bench.common import latency_summary
from bots.browser import BrowserPool, find_chromium, launch_args
from bots.evidence import make_label
from bots.flows import PortalAccess, dispatch
from domain.requests import DepartmentRequest
from domain.samples import generate_application
from runtime.settings import Settings
from simulators.portal import create_portal_app
from tests.support.servers import serve_app

USER, PASSWORD = "bench", "bench-secret"
_seeds = itertools.count(10_000)


def _request() -> DepartmentRequest:
    return DepartmentRequest(
        application_id=f"BENCH-{uuid.uuid4().hex[:12]}",
        department="amr",
        application=generate_application(next(_seeds)),
    )


async def _run(task, n: int, concurrency: int) -> dict:
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
    return latency_summary(times, time.perf_counter() - started)


async def run(tmp: Path, n_per_level: int = 12, pool_concurrency: int = 3) -> dict:
    app = create_portal_app(
        "amr", db_path=tmp / "robot-amr.sqlite3", username=USER, password=PASSWORD, process_delay_s=3600
    )
    out: dict = {"pool_concurrency": pool_concurrency, "tasks_per_level": n_per_level}
    async with serve_app(app) as url:
        access = PortalAccess(url, USER, PASSWORD)
        chromium = find_chromium()
        defaults = Settings.model_fields  # the worker's settings, as shipped
        pool = BrowserPool(
            max_sessions=pool_concurrency,
            executable_path=chromium,
            evidence_dir=tmp / "evidence",
            reuse_sessions=defaults["robot_reuse_sessions"].default,
            recycle_after_tasks=defaults["robot_recycle_after_tasks"].default,
        )
        await pool.start()
        pw = await async_playwright().start()
        browser = await pw.chromium.launch(executable_path=pool.executable, headless=True, args=launch_args())
        try:

            async def robot_task(req: DepartmentRequest) -> str:
                label = make_label("amr", req.application_id, 1)
                async with pool.page(label=label, account=(url, USER), affinity=req.application_id) as page:
                    receipt = await dispatch(page, access, req)
                    shot = await pool.save_screenshot(page, make_label("amr", req.application_id, 1, action="receipt"))
                    assert shot, "no receipt screenshot"
                    return receipt.receipt_no

            async def bare_task(req: DepartmentRequest) -> str:
                return await file_amr(browser, url, USER, PASSWORD, req)

            await _run(robot_task, 1, 1)  # warm-up: page templates, JIT, first context
            await _run(bare_task, 1, 1)
            for c in sorted({1, pool_concurrency}):
                out[f"robot_c{c}"] = await _run(robot_task, n_per_level, c)
                out[f"bare_c{c}"] = await _run(bare_task, n_per_level, c)
        finally:
            await browser.close()
            await pw.stop()
            await pool.stop()
    c = pool_concurrency
    out["chromium"] = pool.executable
    out["ratio"] = round(out[f"robot_c{c}"]["per_minute"] / out[f"bare_c{c}"]["per_minute"], 3)
    out["ratio_c1"] = round(out["robot_c1"]["per_minute"] / out["bare_c1"]["per_minute"], 3)
    return out
