"""The real mix: N applications end to end, four portal departments on robots, three API simulators.

Every piece is real: the Temporal dev server, the seven simulated departments on loopback
(their own process, ``bench.departments_proc``, deciding ``process_delay_s`` after filing), kaiban's API
(uvicorn, its own process) and kaiban's worker (``python -m cli.worker``: whatever workers, sweepers and
browser pool the product's worker starts). Applications are submitted through the API, ``in_flight`` at
a time (closed loop), and followed to their workflow result. The worker's RSS and the summed RSS of the
Chromium processes below it are sampled from /proc every 0.5 s (peaks), and the worker's RSS is read
after the first 10 applications completed and at the end. CPU seconds over the timed batch are read
from /proc per process group: kaiban's (API, worker with its Chromium, the Temporal dev server), the
simulators' and the load generator's (this process), and the machine's busy share beside them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from temporalio.client import Client

from bench.common import (
    CpuMeter,
    MemorySampler,
    api_subprocess,
    child_pids_named,
    latency_summary,
    memory_growth,
    settings_env,
    subprocess_running,
    tree_cpu_s,
)
from bench.histories import history_breakdown
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
    api_pid: int = 0  # the API's process (uvicorn), for the CPU meter

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
    api_pids: list[int] = []
    async with (
        subprocess_running(["-m", "cli.worker"], settings_env(settings, address), worker_log) as worker,
        api_subprocess(settings, address, tmp / f"{prefix}-api.log", api_pids) as api,
        httpx.AsyncClient(base_url=api, timeout=60) as http,
    ):
        sampler = MemorySampler(worker.pid)
        sampler.start()
        try:
            yield Kaiban(settings, worker, worker_log, api, http, sampler, api_pids[0])
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


@contextlib.asynccontextmanager
async def departments_process(tmp: Path, process_delay_s: float) -> AsyncIterator[tuple[dict[str, str], int]]:
    """:func:`departments` in a process of their own (``bench.departments_proc``); yields (code -> URL, pid)."""
    urls_file = tmp / "mix-departments.json"
    args = ["-m", "bench.departments_proc", "--tmp", str(tmp), "--process-delay", str(process_delay_s)]
    log = tmp / "mix-departments.log"
    async with subprocess_running([*args, "--urls-out", str(urls_file)], dict(os.environ), log) as proc:
        deadline = time.monotonic() + 60
        while not urls_file.exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the simulated departments did not start: see {log}")
            await asyncio.sleep(0.1)
        yield json.loads(urls_file.read_text(encoding="utf-8")), proc.pid


async def settled(pid: int, *, idle_cpu_s: float = 0.2, limit_s: float = 120.0) -> float:
    """Wait until the process tree of ``pid`` uses less than ``idle_cpu_s`` CPU in a second (its start-up work
    done, e.g. the worker's OCR warm-up), at most ``limit_s``; returns the seconds waited."""
    t0 = time.monotonic()
    before = await asyncio.to_thread(tree_cpu_s, pid)
    while time.monotonic() - t0 < limit_s:
        await asyncio.sleep(1.0)
        now = await asyncio.to_thread(tree_cpu_s, pid)
        if now - before < idle_cpu_s:
            break
        before = now
    return round(time.monotonic() - t0, 1)


async def portal_counters(urls: dict[str, str]) -> dict[str, Any]:
    """The four portals' counters (``GET /_admin/counters``: requests, logins, ...) summed, and their requests by
    page (``pages``: ``"amr GET /mine"`` → count); {} if unreadable."""
    total: dict[str, Any] = {}
    pages: dict[str, int] = {}
    async with httpx.AsyncClient(timeout=10) as http:
        for code in PORTALS:
            try:
                r = await http.get(f"{urls[code]}/_admin/counters")
                r.raise_for_status()
            except httpx.HTTPError:
                return {}
            for k, v in r.json().items():
                if isinstance(v, int):
                    total[k] = total.get(k, 0) + v
            for page, n in r.json().get("pages", {}).items():
                pages[f"{code} {page}"] = n
    return {**total, "pages": pages} if total else total


async def server_events(client: Client, task_queues: set[str] | None = None) -> dict[str, int]:
    """Every workflow run's history events on the server by workflow type (runs of a workflow that continued
    as new counted each), and ``total``; only the runs on ``task_queues`` when given (the run's dev server also
    holds the other sections' workflows)."""
    out: dict[str, int] = {}
    async for wf in client.list_workflows():
        if task_queues is not None and wf.task_queue not in task_queues:
            continue
        length = wf.history_length
        if not length:  # a running workflow's length is known from its description
            described = await client.get_workflow_handle(wf.id, run_id=wf.run_id).describe()
            length = described.raw_description.workflow_execution_info.history_length
        out[wf.workflow_type] = out.get(wf.workflow_type, 0) + length
    return {"total": sum(out.values()), **dict(sorted(out.items(), key=lambda kv: -kv[1]))}


#: the national volume of the issue: about 40,000 enterprise openings a working day of eight hours
NATIONAL_PER_MINUTE = 83


def national_sentence(kaiban_cpu_s_per_application: float, simulators_cpu_s_per_application: float) -> str:
    """What the national ≈ 83 applications/min would take, from the CPU seconds per application measured."""
    cores = NATIONAL_PER_MINUTE / 60 * kaiban_cpu_s_per_application
    sims = NATIONAL_PER_MINUTE / 60 * simulators_cpu_s_per_application
    return (
        f"the national ≈ {NATIONAL_PER_MINUTE} applications/min ({NATIONAL_PER_MINUTE * 480:,} in an eight-hour shift) "
        f"would take {NATIONAL_PER_MINUTE}/60 × {kaiban_cpu_s_per_application:.2f} CPU s = {cores:.1f} busy cores of "
        f"this machine's kind for kaiban's processes (API, workers, their Chromium, Temporal's dev server), "
        f"beside {sims:.1f} for the simulated departments"
    )


async def run(
    client: Client,
    address: str,
    tmp: Path,
    n: int = 200,
    in_flight: int = 40,
    process_delay_s: float = 5.0,
    robot_sessions: int | None = None,
) -> dict:
    """``n`` applications, ``in_flight`` at a time, the departments deciding ``process_delay_s`` after filing.
    ``robot_sessions``: the worker's robot sessions (default: the product's setting, ``robot_max_sessions``)."""
    robot_sessions = robot_sessions or Settings().robot_max_sessions
    bodies = [generate_application(70_000 + i) for i in range(n)]
    headers = [dev_clerk_headers(b) for b in bodies]  # each posted by its window's development clerk
    async with (
        departments_process(tmp, process_delay_s) as (urls, simulators_pid),
        kaiban_running(address, tmp, urls, robot_sessions) as kaiban,
    ):
        http = kaiban.http
        sem = asyncio.Semaphore(in_flight)
        times: list[float] = []
        outcomes: dict[str, int] = {}
        after_10: dict[str, int] = {}
        ids: list[str] = []
        temporal = child_pids_named(os.getpid(), "temporal")  # the run's dev server (a child of this process)
        groups = {
            "api": [(kaiban.api_pid, False)],
            "worker": [(kaiban.worker.pid, False)],  # with its Playwright driver and Chromium below it
            "temporal": [(pid, False) for pid in temporal],
            "simulators": [(simulators_pid, False)],
            "load_generator": [(os.getpid(), True)],  # this process alone: posting and following results
        }
        meter = CpuMeter(groups)

        async def one(i: int) -> None:
            async with sem:
                t0 = time.perf_counter()
                r = await http.post("/api/v1/applications", json=bodies[i], headers=headers[i])
                r.raise_for_status()
                ids.append(r.json()["application_id"])
                view = await client.get_workflow_handle(ids[-1]).result()
                times.append(time.perf_counter() - t0)
                outcomes[view["status"]] = outcomes.get(view["status"], 0) + 1
                if len(times) == min(10, n) and not after_10:
                    proc, chrome = await kaiban.sample()
                    after_10.update(worker_kb=proc, chromium_kb=chrome)

        settle_s = await settled(kaiban.worker.pid)  # e.g. the worker's OCR warm-up at start: not the mix's
        started = time.perf_counter()
        meter.start()
        kaiban.sampler.ledger.start()
        await asyncio.gather(*(one(i) for i in range(n)))
        wall = time.perf_counter() - started
        cpu = meter.stop()
        await kaiban.sample()  # the ledger's last reading
        # the worker's tree from the ledger (every process sampled): the sum over the live tree loses the
        # renderers of recycled browsers (bench.common.ProcessLedger); that sum is kept beside it
        worker_cutime_sum, cpu["worker"] = cpu["worker"], kaiban.sampler.ledger.seconds()
        counters = await portal_counters(urls)
        events = await server_events(client, {kaiban.settings.task_queue, kaiban.settings.robot_task_queue})
        last = await history_breakdown(client, ids[-5:])
        end_proc, end_chrome = await kaiban.final_sample()
    summary = latency_summary(times, wall)
    done = max(1, len(times))
    kaiban_cpu = cpu["api"] + cpu["worker"] + cpu["temporal"]
    per_app = round(kaiban_cpu / done, 3)
    sims_per_app = round(cpu["simulators"] / done, 3)
    return {
        "applications": n,
        "in_flight": in_flight,
        "robot_sessions": robot_sessions,
        "process_delay_s": process_delay_s,
        "outcomes": outcomes,
        "applications_per_minute": summary["per_minute"],
        "p50_ms": summary["p50_ms"],
        "p99_ms": summary["p99_ms"],
        "mean_ms": summary["mean_ms"],
        "wall_s": summary["wall_s"],
        "cpu_s": cpu,
        "worker_cpu_s_by_process": kaiban.sampler.ledger.by_kind(),  # python, playwright_driver, chromium
        "worker_cpu_s_live_tree_sum": worker_cutime_sum,  # the sum of cpu_ticks over the live tree (loses some)
        "worker_processes_seen": kaiban.sampler.ledger.processes_seen,
        "kaiban_cpu_s_per_application": per_app,
        "simulators_cpu_s_per_application": sims_per_app,
        "load_generator_cpu_s_per_application": round(cpu["load_generator"] / done, 3),
        "machine_busy_share": meter.machine_busy_share,  # of every core, over the timed batch
        "worker_settle_s": settle_s,
        "national": national_sentence(per_app, sims_per_app),
        # what the robots asked of the four portals (their counters), per application: requests, logins
        "portal_per_application": {k: round(v / done, 1) for k, v in counters.items() if k != "pages"},
        "portal_pages_per_application": {
            k: round(v / done, 2) for k, v in sorted(counters.get("pages", {}).items(), key=lambda kv: -kv[1])
        },
        # every workflow's events on the server (the sweepers' runs, notifications… beside the applications)
        "events_per_application": {k: round(v / done, 1) for k, v in events.items()},
        "application_history": last,  # the last five applications' histories (bench.histories)
        **memory_figures(kaiban.sampler, after_10, end_proc, end_chrome),
    }
