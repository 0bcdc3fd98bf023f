"""What recording a Playwright trace costs a robot dispatch.

    .venv/bin/python -m bench.tracing_cost [--runs 8] [--department amr]

Serves the department's simulated portal on loopback and files fresh applications
with one browser pool that keeps no evidence (no tracing) and one that traces every
session (``evidence_dir`` set), alternating, after one warm-up each. A run is the
whole ``async with pool.page(): await flows.dispatch(...)``: context creation, tracing
start, the flow, discarding the trace (a success) and closing the context. A failed
attempt pays in addition for the screenshot, ``tracing.stop(path=...)`` and scrubbing;
one such failure is timed at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from bots.browser import BrowserPool
from bots.errors import SubmissionNotFound
from bots.flows import PortalAccess, dispatch, inquire
from domain.requests import DepartmentRequest
from simulators.portal import create_portal_app
from tests.support.servers import serve_app

ROOT = Path(__file__).resolve().parent.parent


def _request(department: str, sample: dict) -> DepartmentRequest:
    upstream = {} if department == "amr" else {"amr": {"uscc": _valid_uscc()}}
    return DepartmentRequest(
        application_id=f"BENCH-{uuid.uuid4().hex[:12]}", department=department, application=sample, upstream=upstream
    )


def _valid_uscc() -> str:
    from stdnum.cn import uscc

    partial = "91140121MA0KQ7WX3"
    return partial + uscc.calc_check_digit(partial)


async def _timed(pool: BrowserPool, access: PortalAccess, department: str, sample: dict) -> float:
    request = _request(department, sample)
    started = time.perf_counter()
    async with pool.page(label=f"{department}-{request.application_id}-attempt1") as page:
        await dispatch(page, access, request)
    return time.perf_counter() - started


async def main(runs: int, department: str) -> dict:
    sample = json.loads((ROOT / "contract" / "application.example.json").read_text(encoding="utf-8"))
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        app = create_portal_app(
            department,
            db_path=tmp_path / "portal.sqlite3",
            username="bench",
            password="bench-secret",
            process_delay_s=3600,
        )
        async with serve_app(app) as url:
            access = PortalAccess(url, "bench", "bench-secret")
            plain = BrowserPool(max_sessions=1)
            traced = BrowserPool(max_sessions=1, evidence_dir=tmp_path / "evidence")
            await plain.start()
            await traced.start()
            try:
                await _timed(plain, access, department, sample)  # warm-up
                await _timed(traced, access, department, sample)
                times: dict[str, list[float]] = {"without tracing": [], "with tracing": []}
                for _ in range(runs):
                    times["without tracing"].append(await _timed(plain, access, department, sample))
                    times["with tracing"].append(await _timed(traced, access, department, sample))
                started = time.perf_counter()
                try:
                    async with traced.page(label=f"{department}-BENCH-failure-attempt1") as page:
                        await inquire(page, access, department, "BENCH-NO-SUCH-APP", None)
                except SubmissionNotFound as exc:
                    failure_s = time.perf_counter() - started
                    kept = exc.evidence
                leftovers = sorted(p.name for p in (tmp_path / "evidence").rglob("*.zip"))
            finally:
                await plain.stop()
                await traced.stop()
    out = {
        mode: {
            "median_s": round(statistics.median(v), 3),
            "mean_s": round(statistics.fmean(v), 3),
            "min_s": round(min(v), 3),
            "max_s": round(max(v), 3),
        }
        for mode, v in times.items()
    }
    out["failed inquiry with evidence kept"] = {"s": round(failure_s, 3), "evidence": kept}
    out["trace files left by successful dispatches"] = [n for n in leftovers if "failure" not in n]
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=8)
    parser.add_argument("--department", default="amr", choices=("amr", "psb_seal", "hrss", "hpf"))
    args = parser.parse_args()
    print(json.dumps(asyncio.run(main(args.runs, args.department)), ensure_ascii=False, indent=2))
