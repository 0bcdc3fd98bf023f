"""The real mix: N applications end to end, four portal departments on robots, three API simulators.

Every piece is real: the Temporal dev server, the seven simulated departments on loopback
(in this process), kaiban's API (uvicorn, its own process) and kaiban's worker
(``python -m cli.worker``, its own process, one Chromium with ``robot_max_sessions``
pages). Applications are submitted through the API, ``in_flight`` at a time (closed loop), and
followed to their workflow result. The worker's RSS and the summed RSS of the Chromium
processes below it are sampled from /proc every 0.5 s (peaks), and the worker's RSS is read
after the first 10 applications completed and at the end.
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from temporalio.client import Client

from bench.common import (
    MemorySampler,
    api_subprocess,
    latency_summary,
    memory_growth,
    settings_env,
    subprocess_running,
)
from bench.orchestration import bench_settings
from domain.samples import generate_application
from runtime.access import dev_clerk_headers
from runtime.settings import Settings
from simulators import department_api, portal
from tests.support.servers import serve_app

PORTALS = ("amr", "psb_seal", "hrss", "hpf")
APIS = ("tax", "nhsa", "bank")


def store_path(tmp: Path, code: str, prefix: str = "mix") -> Path:
    """The SQLite store of the simulated department ``code`` (what :func:`departments` gives it)."""
    return tmp / f"{prefix}-{code}.sqlite3"


@contextlib.asynccontextmanager
async def departments(
    tmp: Path, process_delay_s: float, *, portal_behaviour: Mapping[str, Any] | None = None, prefix: str = "mix"
) -> AsyncIterator[dict[str, str]]:
    """The seven simulated departments on loopback in this process; yields code -> base URL.

    ``portal_behaviour``: Behaviour fields given to every portal (``simulators.portal.Behaviour``);
    a value that is a callable is called with the portal's code (e.g. a distinct ``error_seed``).
    """
    creds = Settings()
    urls: dict[str, str] = {}
    async with contextlib.AsyncExitStack() as stack:
        for code in PORTALS:
            c = creds.credentials(code)
            knobs = {k: (v(code) if callable(v) else v) for k, v in (portal_behaviour or {}).items()}
            app = portal.create_portal_app(
                code,
                db_path=store_path(tmp, code, prefix),
                username=c.username,
                password=c.password,
                process_delay_s=process_delay_s,
                **knobs,
            )
            urls[code] = await stack.enter_async_context(serve_app(app))
        for code in APIS:
            app = department_api.create_department_api_app(
                code,
                db_path=store_path(tmp, code, prefix),
                token=creds.api_token(code),
                process_delay_s=process_delay_s,
            )
            urls[code] = await stack.enter_async_context(serve_app(app))
        yield urls


@dataclass
class Kaiban:
    """kaiban's worker and API, each in its own process, and what the bench reads them with."""

    settings: Settings
    worker: subprocess.Popen
    worker_log: Path
    api: str  # base URL
    http: httpx.AsyncClient  # on the API
    sampler: MemorySampler  # the worker's RSS and its Chromium's

    def check_worker(self) -> None:
        if self.worker.poll() is not None:
            raise RuntimeError(f"worker exited with {self.worker.returncode}: see {self.worker_log}")

    async def sample(self) -> tuple[int, int]:
        """(worker RSS, Chromium RSS sum) in kB, now."""
        return await asyncio.to_thread(self.sampler.sample)

    async def final_sample(self) -> tuple[int, int]:
        """After the last application: let the last sessions close, read the RSS, check the worker lived."""
        await asyncio.sleep(1.0)
        end = await self.sample()
        await self.sampler.stop()
        self.check_worker()
        return end


@contextlib.asynccontextmanager
async def kaiban_running(
    address: str, tmp: Path, urls: dict[str, str], robot_sessions: int, prefix: str = "mix"
) -> AsyncIterator[Kaiban]:
    """``python -m cli.worker`` and the API (uvicorn) against ``address`` and the departments at
    ``urls``; the worker's memory sampled every 0.5 s from the start."""
    settings = bench_settings(
        tmp, department_urls=urls, robot_max_sessions=robot_sessions, poll_initial_s=0.5, poll_max_s=2.0
    )
    worker_log = tmp / f"{prefix}-worker.log"
    async with (
        subprocess_running(["-m", "cli.worker"], settings_env(settings, address), worker_log) as worker,
        api_subprocess(settings, address, tmp / f"{prefix}-api.log") as api,
        httpx.AsyncClient(base_url=api, timeout=60) as http,
    ):
        sampler = MemorySampler(worker.pid)
        sampler.start()
        try:
            yield Kaiban(settings, worker, worker_log, api, http, sampler)
        finally:
            await sampler.stop()


def memory_figures(sampler: MemorySampler, after_10: dict[str, int], end_proc: int, end_chrome: int) -> dict[str, Any]:
    """The mix's (and the soak's) memory keys: peaks, the worker after 10 and at the end, growth."""
    base = after_10.get("worker_kb", 0)
    return {
        "peak_worker_rss_mb": round(sampler.peak_process_kb / 1024, 1),
        "peak_chromium_rss_mb": round(sampler.peak_chromium_kb / 1024, 1),
        "peak_chromium_processes": sampler.peak_chromium_processes,
        "worker_rss_after_10_mb": round(base / 1024, 1),
        "worker_rss_end_mb": round(end_proc / 1024, 1),
        "chromium_rss_after_10_mb": round(after_10.get("chromium_kb", 0) / 1024, 1),
        "chromium_rss_end_mb": round(end_chrome / 1024, 1),
        "memory_growth": memory_growth(base, end_proc),
    }


async def run(
    client: Client,
    address: str,
    tmp: Path,
    n: int = 200,
    in_flight: int = 6,
    process_delay_s: float = 0.0,
    robot_sessions: int = 3,
) -> dict:
    bodies = [generate_application(70_000 + i) for i in range(n)]
    headers = [dev_clerk_headers(b) for b in bodies]  # each posted by its window's development clerk
    async with departments(tmp, process_delay_s) as urls, kaiban_running(address, tmp, urls, robot_sessions) as kaiban:
        http = kaiban.http
        sem = asyncio.Semaphore(in_flight)
        times: list[float] = []
        outcomes: dict[str, int] = {}
        after_10: dict[str, int] = {}

        async def one(i: int) -> None:
            async with sem:
                t0 = time.perf_counter()
                r = await http.post("/api/v1/applications", json=bodies[i], headers=headers[i])
                r.raise_for_status()
                view = await client.get_workflow_handle(r.json()["application_id"]).result()
                times.append(time.perf_counter() - t0)
                outcomes[view["status"]] = outcomes.get(view["status"], 0) + 1
                if len(times) == min(10, n) and not after_10:
                    proc, chrome = await kaiban.sample()
                    after_10.update(worker_kb=proc, chromium_kb=chrome)

        started = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(n)))
        wall = time.perf_counter() - started
        end_proc, end_chrome = await kaiban.final_sample()
    summary = latency_summary(times, wall)
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
        **memory_figures(kaiban.sampler, after_10, end_proc, end_chrome),
    }
