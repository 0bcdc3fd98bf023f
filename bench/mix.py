"""The real mix: N applications end to end, four portal departments on robots, three API simulators.

Every piece is real: the Temporal dev server, the seven simulated departments on loopback
(in this process), kaiban's API (uvicorn, its own process) and kaiban's worker
(``python -m runtime.worker``, its own process, one Chromium with ``robot_max_sessions``
pages). Applications are submitted through the API, ``in_flight`` at a time (closed loop), and
followed to their workflow result. The worker's RSS and the summed RSS of the Chromium
processes below it are sampled from /proc every 0.5 s (peaks), and the worker's RSS is read
after the first 10 applications completed and at the end.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from pathlib import Path

import httpx
from temporalio.client import Client

from bench.common import MemorySampler, api_subprocess, latency_summary, settings_env, subprocess_running
from bench.orchestration import bench_settings
from domain.samples import generate_application
from runtime.settings import Settings
from simulators import department_api, portal
from tests.support.servers import serve_app

PORTALS = ("amr", "psb_seal", "hrss", "hpf")
APIS = ("tax", "nhsa", "bank")


@contextlib.asynccontextmanager
async def departments(tmp: Path, process_delay_s: float):
    creds = Settings()
    urls: dict[str, str] = {}
    async with contextlib.AsyncExitStack() as stack:
        for code in PORTALS:
            c = creds.credentials(code)
            app = portal.create_portal_app(
                code, db_path=tmp / f"mix-{code}.sqlite3", username=c.username, password=c.password,
                process_delay_s=process_delay_s,
            )
            urls[code] = await stack.enter_async_context(serve_app(app))
        for code in APIS:
            app = department_api.create_department_api_app(
                code, db_path=tmp / f"mix-{code}.sqlite3", token=creds.api_token(code), process_delay_s=process_delay_s
            )
            urls[code] = await stack.enter_async_context(serve_app(app))
        yield urls


async def run(client: Client, address: str, tmp: Path, n: int = 200, in_flight: int = 6,
              process_delay_s: float = 0.0, robot_sessions: int = 3) -> dict:
    bodies = [generate_application(70_000 + i) for i in range(n)]
    async with departments(tmp, process_delay_s) as urls:
        settings = bench_settings(tmp, department_urls=urls, robot_max_sessions=robot_sessions, poll_initial_s=0.5,
                                  poll_max_s=2.0)
        worker_env = settings_env(settings, address)
        async with subprocess_running(["-m", "runtime.worker"], worker_env, tmp / "mix-worker.log") as worker, \
                api_subprocess(settings, address, tmp / "mix-api.log") as api, \
                httpx.AsyncClient(base_url=api, timeout=60) as http:
            sampler = MemorySampler(worker.pid)
            sampler.start()
            sem = asyncio.Semaphore(in_flight)
            times: list[float] = []
            outcomes: dict[str, int] = {}
            after_10: dict[str, int] = {}

            async def one(i: int) -> None:
                async with sem:
                    t0 = time.perf_counter()
                    r = await http.post("/api/v1/applications", json=bodies[i])
                    r.raise_for_status()
                    view = await client.get_workflow_handle(r.json()["application_id"]).result()
                    times.append(time.perf_counter() - t0)
                    outcomes[view["status"]] = outcomes.get(view["status"], 0) + 1
                    if len(times) == min(10, n) and not after_10:
                        proc, chrome = await asyncio.to_thread(sampler.sample)
                        after_10.update(worker_kb=proc, chromium_kb=chrome)

            started = time.perf_counter()
            await asyncio.gather(*(one(i) for i in range(n)))
            wall = time.perf_counter() - started
            await asyncio.sleep(1.0)  # let the last sessions close
            end_proc, end_chrome = await asyncio.to_thread(sampler.sample)
            await sampler.stop()
            if worker.poll() is not None:
                raise RuntimeError(f"worker exited with {worker.returncode}: see {tmp / 'mix-worker.log'}")
    summary = latency_summary(times, wall)
    base = after_10.get("worker_kb", 0)
    return {
        "applications": n,
        "in_flight": in_flight,
        "robot_sessions": robot_sessions,
        "process_delay_s": process_delay_s,
        "outcomes": outcomes,
        "applications_per_minute": summary["per_minute"],
        "p50_ms": summary["p50_ms"],
        "p99_ms": summary["p99_ms"],
        "wall_s": summary["wall_s"],
        "peak_worker_rss_mb": round(sampler.peak_process_kb / 1024, 1),
        "peak_chromium_rss_mb": round(sampler.peak_chromium_kb / 1024, 1),
        "peak_chromium_processes": sampler.peak_chromium_processes,
        "worker_rss_after_10_mb": round(base / 1024, 1),
        "worker_rss_end_mb": round(end_proc / 1024, 1),
        "chromium_rss_after_10_mb": round(after_10.get("chromium_kb", 0) / 1024, 1),
        "chromium_rss_end_mb": round(end_chrome / 1024, 1),
        "memory_growth": round((end_proc - base) / base, 4) if base else 0.0,
    }

