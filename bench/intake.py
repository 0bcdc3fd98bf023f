"""Intake: ``POST /api/v1/applications`` latency under 50 concurrent clients.

The API is served by uvicorn in its own process on loopback, against the run's Temporal dev
server; every accepted application starts its workflow (on a task queue no worker polls, so
the workflows wait and cost the server nothing more). Each client is its own
``httpx.AsyncClient`` posting distinct valid generated applications back to back, each as its
window's development clerk (``runtime.access.dev_clerk_headers``).
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx

from bench.common import api_subprocess, latency_summary
from bench.orchestration import bench_settings
from domain.samples import generate_application
from runtime.access import dev_clerk_headers


async def run(address: str, tmp: Path, requests: int = 1000, clients: int = 50) -> dict:
    settings = bench_settings(tmp)
    bodies = [generate_application(50_000 + i) for i in range(requests)]
    queue: asyncio.Queue = asyncio.Queue()
    for b in bodies:
        queue.put_nowait((b, dev_clerk_headers(b)))
    times: list[float] = []
    statuses: dict[int, int] = {}
    async with api_subprocess(settings, address, tmp / "intake-api.log") as api:
        async with httpx.AsyncClient(base_url=api, timeout=60) as warm:  # warm-up
            for i in range(3):
                body = generate_application(90_000 + i)
                r = await warm.post("/api/v1/applications", json=body, headers=dev_clerk_headers(body))
                r.raise_for_status()

        async def client() -> None:
            async with httpx.AsyncClient(base_url=api, timeout=60) as http:
                while True:
                    try:
                        body, headers = queue.get_nowait()
                    except asyncio.QueueEmpty:
                        return
                    t0 = time.perf_counter()
                    r = await http.post("/api/v1/applications", json=body, headers=headers)
                    times.append(time.perf_counter() - t0)
                    statuses[r.status_code] = statuses.get(r.status_code, 0) + 1

        started = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(clients)))
        wall = time.perf_counter() - started
    summary = latency_summary(times, wall)
    return {
        "clients": clients,
        "requests": requests,
        "status_codes": {str(k): v for k, v in sorted(statuses.items())},
        "p50_ms": summary["p50_ms"],
        "p99_ms": summary["p99_ms"],
        "mean_ms": summary["mean_ms"],
        "requests_per_second": round(len(times) / wall, 1) if wall else 0.0,
        "wall_s": summary["wall_s"],
    }
