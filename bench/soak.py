"""The soak run: many applications through misbehaving portals, then nothing filed twice, no leak.

The issue's acceptance: "A soak run of at least 100 applications with 10 % 5xx answers and session
expiry every two minutes completes every application with zero duplicate submissions in any
portal store, and the worker's memory at the end is within 20 % of its memory after the first
10 applications."

    .venv/bin/python -m bench.soak                       # = make soak: 100 applications, 10 %, 120 s
    .venv/bin/python -m bench.soak --applications 12 --session-lifetime 30

Everything is real, as in the mix (:mod:`bench.mix`, whose plumbing this reuses): a Temporal dev
server, the seven simulated departments on loopback in this process, kaiban's API (uvicorn) and
kaiban's worker (``python -m cli.worker``, one Chromium) in their own processes. The four
portals answer ``--error-rate`` of their requests with a 503 (``Behaviour.error_rate``, seeded per
portal) and end every session ``--session-lifetime`` seconds after its login, however busy it is
(``Behaviour.session_lifetime_s``: the login page then says 会话已过期). The API simulators (tax,
nhsa, bank) have no error knob and answer normally.

Applications (``domain.samples.generate_application``) are posted ``--in-flight`` at a time and
each is followed to its workflow result; one that cannot complete without a person (a department
task ``manual`` or ``rejected``, the application ``needs_correction`` or ``withdrawn``) or is not
done within ``--app-timeout`` is recorded as not completed and the run goes on. Then:

* every application ``completed``;
* per department store, submissions per application: a duplicate is an application with more than
  one live submission (``count_live_submissions``) in one store;
* the worker's VmRSS after the first 10 applications finished and at the end:
  growth = (end − after 10) / after 10 must be ≤ ``--max-growth`` (0.20);
* beside them (not criteria): the portals' counters (``GET /_admin/counters``: 5xx answers,
  session expiries, re-logins), time to completion, Chromium's RSS.

Exit code 0 when every criterion holds, else 1 with one line per failed criterion. The report is
written to ``--report`` (bench/soak.json).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from temporalio.client import Client

from api.status_reads import task_waits
from bench.common import ROOT, dev_server, latency_summary, machine_info, quiet_logging, temporal_address
from bench.mix import APIS, PORTALS, departments, kaiban_running, memory_figures, store_path
from domain.samples import generate_application
from runtime.access import dev_clerk_headers
from simulators import department_api, portal

PREFIX = "soak"
ISSUE_APPLICATIONS, ISSUE_ERROR_RATE, ISSUE_SESSION_LIFETIME_S = 100, 0.10, 120.0
# a department task in one of these states waits for a person: the application cannot complete by itself
STUCK_TASK_STATES = ("manual", "rejected")
STUCK_APPLICATION_STATES = ("needs_correction", "withdrawn")
SEED_OFFSET = 90_000  # generate_application seeds: distinct from the mix's (70_000 + i)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m bench.soak",
        description="Soak run: applications end to end through portals answering 5xx and ending sessions; "
        "checks every application completed, no duplicate submission, and the worker's memory growth.",
    )
    p.add_argument("--applications", type=int, default=ISSUE_APPLICATIONS, help="how many applications (default 100)")
    p.add_argument(
        "--error-rate",
        type=float,
        default=ISSUE_ERROR_RATE,
        help="share of portal requests answered 503 (default 0.10)",
    )
    p.add_argument("--error-seed", type=int, default=2026, help="seed of the portals' error draws (portal i: seed + i)")
    p.add_argument(
        "--session-lifetime",
        type=float,
        default=ISSUE_SESSION_LIFETIME_S,
        help="seconds after its login a portal session expires, however busy (default 120)",
    )
    p.add_argument("--in-flight", type=int, default=6, help="applications in flight at once (default 6)")
    p.add_argument("--robot-sessions", type=int, default=3, help="browser sessions of the worker (default 3)")
    p.add_argument(
        "--app-timeout",
        type=float,
        default=900.0,
        help="seconds an application may take before it counts as not completed (default 900)",
    )
    p.add_argument(
        "--max-growth",
        type=float,
        default=0.20,
        help="largest allowed growth of the worker's RSS from after 10 applications to the end (0.20)",
    )
    p.add_argument("--progress-every", type=int, default=10, help="a progress line every N applications (10)")
    p.add_argument("--report", type=Path, default=ROOT / "bench" / "soak.json", help="report path (bench/soak.json)")
    p.add_argument(
        "--keep-work-dir",
        action="store_true",
        help="keep the stores and logs also when the soak passes (always kept when it fails)",
    )
    args = p.parse_args(argv)
    if args.applications < 1:
        p.error("--applications must be at least 1")
    if not 0 <= args.error_rate <= 1:
        p.error("--error-rate must be between 0 and 1")
    if args.session_lifetime <= 0:
        p.error("--session-lifetime must be > 0 seconds")
    if args.in_flight < 1 or args.robot_sessions < 1 or args.progress_every < 1:
        p.error("--in-flight, --robot-sessions and --progress-every must be at least 1")
    if args.app_timeout <= 0 or args.max_growth < 0:
        p.error("--app-timeout must be > 0 and --max-growth >= 0")
    return args


# --- the criteria (pure) ------------------------------------------------------------------------


def evaluate(
    *,
    applications: int,
    outcomes: dict[str, int],
    duplicates: dict[str, list[str]],
    memory_growth: float | None,
    max_growth: float = 0.20,
) -> list[str]:
    """One English line per failed criterion; empty when the soak passed.

    ``outcomes``: final status -> number of applications; ``duplicates``: store (department code) ->
    the applications with more than one live submission in it; ``memory_growth``: the worker's
    (end − after 10) / after 10, None when there was no reading after the first 10."""
    failures = []
    completed = outcomes.get("completed", 0)
    if completed != applications:
        others = ", ".join(f"{status}: {k}" for status, k in sorted(outcomes.items()) if status != "completed")
        failures.append(
            f"not every application completed: {completed} of {applications} completed ({others or 'none finished'})"
        )
    doubled = {code: ids for code, ids in duplicates.items() if ids}
    if doubled:
        where = "; ".join(
            f"{code}: {len(ids)} ({', '.join(ids[:5])}{', …' if len(ids) > 5 else ''})"
            for code, ids in sorted(doubled.items())
        )
        failures.append(f"duplicate submissions (applications with more than one live submission) in {where}")
    if memory_growth is None:
        failures.append("no reading of the worker's memory after the first 10 applications")
    elif memory_growth > max_growth:
        failures.append(
            f"the worker's memory grew {memory_growth:+.1%} from after the first 10 applications to the "
            f"end (limit {max_growth:+.0%})"
        )
    return failures


def store_figures(counts: Iterable[tuple[str, int, int]]) -> dict[str, Any]:
    """Figures of one department store from (application id, submissions, live submissions) per application."""
    rows = list(counts)
    histogram: dict[str, int] = {}
    for _, _, live in rows:
        histogram[str(live)] = histogram.get(str(live), 0) + 1
    return {
        "applications": len(rows),
        "applications_filed": sum(1 for _, total, _ in rows if total > 0),
        "submissions": sum(total for _, total, _ in rows),
        "live_submissions": sum(live for _, _, live in rows),
        "live_submissions_per_application": dict(sorted(histogram.items(), key=lambda kv: int(kv[0]))),
        "duplicates": [app_id for app_id, _, live in rows if live > 1],
        "filed_more_than_once": [app_id for app_id, total, _ in rows if total > 1],
    }


def count_stores(tmp: Path, application_ids: list[str]) -> dict[str, dict[str, Any]]:
    """Per department store (four portals, three APIs): :func:`store_figures` of the soak's applications."""
    out: dict[str, dict[str, Any]] = {}
    for code in (*PORTALS, *APIS):
        module = portal if code in PORTALS else department_api
        db = store_path(tmp, code, PREFIX)
        figures = store_figures(
            (app_id, module.count_submissions(db, app_id), module.count_live_submissions(db, app_id))
            for app_id in application_ids
        )
        out[code] = {"channel": "robot" if code in PORTALS else "api", **figures}
    return out


def counter_totals(per_portal: dict[str, dict[str, int]]) -> dict[str, Any]:
    keys = portal.COUNTERS
    total: dict[str, Any] = {k: sum(c.get(k, 0) for c in per_portal.values()) for k in keys}
    total["share_5xx"] = round(total["responses_5xx"] / total["requests"], 4) if total["requests"] else 0.0
    return total


# --- following one application ----------------------------------------------------------------


async def follow(client: Client, application_id: str, timeout_s: float, poll_s: float = 5.0) -> dict[str, Any]:
    """Wait for the application's workflow result; give up early when it waits for a person, or at
    ``timeout_s``. Returns ``{"status", "stuck": {code: task status}, "timed_out"}``."""
    handle = client.get_workflow_handle(application_id)
    result = asyncio.ensure_future(handle.result())
    deadline = time.monotonic() + timeout_s
    view: dict[str, Any] | None = None
    try:
        while True:
            done, _ = await asyncio.wait({result}, timeout=min(poll_s, max(0.0, deadline - time.monotonic())))
            if done:
                view = result.result()
                return {"status": view["status"], "stuck": _stuck(view), "timed_out": False}
            with contextlib.suppress(Exception):  # a query can fail transiently: the result or the deadline decides
                if not task_waits(await handle.describe()):  # no query while a workflow task waits (api.status_reads)
                    view = await handle.query("status")
            if view is not None and (view["status"] in STUCK_APPLICATION_STATES or _stuck(view)):
                return {"status": view["status"], "stuck": _stuck(view), "timed_out": False}
            if time.monotonic() >= deadline:
                return {
                    "status": view["status"] if view else "unknown",
                    "stuck": _stuck(view) if view else {},
                    "timed_out": True,
                }
    finally:
        result.cancel()


def _stuck(view: dict[str, Any]) -> dict[str, str]:
    return {d["code"]: d["status"] for d in view.get("departments", []) if d["status"] in STUCK_TASK_STATES}


# --- the run -----------------------------------------------------------------------------------


def _mb(kb: int) -> str:
    return f"{kb / 1024:.1f} MB"


async def soak(
    client: Client, address: str, tmp: Path, args: argparse.Namespace, say: Callable[[str], None]
) -> dict[str, Any]:
    n = args.applications
    bodies = [generate_application(SEED_OFFSET + i) for i in range(n)]
    headers = [dev_clerk_headers(b) for b in bodies]  # each posted by its window's development clerk
    behaviour = {
        "error_rate": args.error_rate,
        "error_seed": lambda code: args.error_seed + PORTALS.index(code),
        "session_lifetime_s": args.session_lifetime,
    }
    records: list[dict[str, Any]] = []
    times: list[float] = []
    after_10: dict[str, int] = {}
    baseline_at = min(10, n)
    async with (
        departments(tmp, 0.0, portal_behaviour=behaviour, prefix=PREFIX) as urls,
        kaiban_running(address, tmp, urls, args.robot_sessions, prefix=PREFIX) as kaiban,
    ):
        sem = asyncio.Semaphore(args.in_flight)
        started = time.perf_counter()

        async def one(i: int) -> None:
            async with sem:
                kaiban.check_worker()
                t0 = time.perf_counter()
                r = await kaiban.http.post("/api/v1/applications", json=bodies[i], headers=headers[i])
                if r.status_code != 202:
                    raise RuntimeError(f"the API refused generated application {i}: {r.status_code} {r.text[:300]}")
                application_id = r.json()["application_id"]
                outcome = await follow(client, application_id, args.app_timeout)
                seconds = time.perf_counter() - t0
                records.append({"application_id": application_id, "seconds": round(seconds, 1), **outcome})
                if outcome["status"] == "completed":
                    times.append(seconds)
                else:
                    stuck = ", ".join(f"{c} {s}" for c, s in outcome["stuck"].items()) or "no task waiting for a person"
                    say(
                        f"soak: {application_id} not completed: {outcome['status']}"
                        f"{' (timed out)' if outcome['timed_out'] else ''}; {stuck}"
                    )
                finished = len(records)
                if finished == baseline_at and not after_10:
                    proc, chrome = await kaiban.sample()
                    after_10.update(worker_kb=proc, chromium_kb=chrome)
                if finished % args.progress_every == 0 or finished == n:
                    proc, _ = await kaiban.sample()
                    completed = sum(1 for x in records if x["status"] == "completed")
                    say(
                        f"soak: {finished}/{n} finished ({completed} completed), "
                        f"{time.perf_counter() - started:.0f} s elapsed, worker RSS {_mb(proc)}"
                    )

        async with asyncio.TaskGroup() as group:  # the first error cancels the rest
            for i in range(n):
                group.create_task(one(i))
        wall = time.perf_counter() - started
        end_proc, end_chrome = await kaiban.final_sample()
        counters = await _portal_counters(urls)
    stores = count_stores(tmp, [x["application_id"] for x in records])
    return build_report(
        args,
        records,
        times,
        wall,
        stores,
        counters,
        memory_figures(kaiban.sampler, after_10, end_proc, end_chrome),
        baseline_at,
        bool(after_10),
    )


async def _portal_counters(urls: dict[str, str]) -> dict[str, dict[str, int]]:
    out = {}
    async with httpx.AsyncClient(timeout=10) as http:
        for code in PORTALS:
            r = await http.get(f"{urls[code]}/_admin/counters")
            r.raise_for_status()
            out[code] = r.json()
    return out


def build_report(
    args: argparse.Namespace,
    records: list[dict[str, Any]],
    times: list[float],
    wall: float,
    stores: dict[str, dict[str, Any]],
    counters: dict[str, dict[str, int]],
    memory: dict[str, Any],
    baseline_at: int,
    have_baseline: bool,
) -> dict[str, Any]:
    n = args.applications
    outcomes: dict[str, int] = {}
    for x in records:
        outcomes[x["status"]] = outcomes.get(x["status"], 0) + 1
    growth = memory["memory_growth"] if have_baseline else None
    duplicates = {code: s["duplicates"] for code, s in stores.items()}
    failures = evaluate(
        applications=n, outcomes=outcomes, duplicates=duplicates, memory_growth=growth, max_growth=args.max_growth
    )
    summary = latency_summary(times, wall)
    return {
        "passed": not failures,
        "failures": failures,
        "criteria": {
            "all_completed": outcomes.get("completed", 0) == n,
            "zero_duplicates": not any(duplicates.values()),
            "memory_growth_within_limit": growth is not None and growth <= args.max_growth,
        },
        "settings": {
            "applications": n,
            "error_rate": args.error_rate,
            "error_seed": args.error_seed,
            "session_lifetime_s": args.session_lifetime,
            "in_flight": args.in_flight,
            "robot_sessions": args.robot_sessions,
            "app_timeout_s": args.app_timeout,
            "max_growth": args.max_growth,
            "api_simulators_error_rate": None,  # the API simulators have no error knob
        },
        "issue_scale": n >= ISSUE_APPLICATIONS
        and args.error_rate >= ISSUE_ERROR_RATE
        and args.session_lifetime <= ISSUE_SESSION_LIFETIME_S,
        "wall_s": round(wall, 1),
        "applications": {
            "total": n,
            "completed": outcomes.get("completed", 0),
            "outcomes": outcomes,
            "not_completed": [x for x in records if x["status"] != "completed"],
            "completed_p50_ms": summary["p50_ms"],
            "completed_p99_ms": summary["p99_ms"],
            "completed_per_minute": summary["per_minute"],
        },
        "stores": stores,
        "duplicates": sum(len(ids) for ids in duplicates.values()),
        "portal_counters": counters,
        "portal_counters_total": counter_totals(counters),
        "memory": {"baseline_after_applications": baseline_at, "baseline_taken": have_baseline, **memory},
    }


def summary_lines(report: dict[str, Any]) -> list[str]:
    s, a, m, t = report["settings"], report["applications"], report["memory"], report["portal_counters_total"]
    lines = [
        f"soak: {s['applications']} applications, portal error rate {s['error_rate']:.0%}, session lifetime "
        f"{s['session_lifetime_s']:g} s, {s['in_flight']} in flight: {report['wall_s']:.0f} s",
        f"applications: {a['completed']}/{a['total']} completed {a['outcomes']}; completed p50 "
        f"{a['completed_p50_ms'] / 1000:.1f} s, p99 {a['completed_p99_ms'] / 1000:.1f} s",
        "submissions per application (live) per store:",
    ]
    for code, st in report["stores"].items():
        lines.append(
            f"  {code:<9} ({st['channel']:<5}) {st['live_submissions_per_application']}  submissions "
            f"{st['submissions']}, duplicates {len(st['duplicates'])}, filed more than once "
            f"{len(st['filed_more_than_once'])}"
        )
    lines.append(
        f"portals: {t['requests']} requests, {t['responses_5xx']} answered 5xx ({t['share_5xx']:.1%}; "
        f"{t['errors_injected']} injected), {t['logins']} logins, {t['sessions_expired_lifetime']} sessions "
        f"expired by lifetime ({t['sessions_expired_idle']} idle), {t['relogins_after_expiry']} re-logins "
        f"after expiry"
    )
    for code, c in report["portal_counters"].items():
        lines.append(
            f"  {code:<9} requests {c['requests']}, 5xx {c['responses_5xx']}, logins {c['logins']}, "
            f"expired {c['sessions_expired_lifetime']}, re-logins {c['relogins_after_expiry']}"
        )
    growth = m["memory_growth"] if m["baseline_taken"] else None
    lines.append(
        f"worker RSS after {m['baseline_after_applications']} applications {m['worker_rss_after_10_mb']} MB, "
        f"at the end {m['worker_rss_end_mb']} MB: growth "
        f"{'n/a' if growth is None else f'{growth:+.1%}'} (limit {s['max_growth']:+.0%}); peak worker "
        f"{m['peak_worker_rss_mb']} MB, peak Chromium {m['peak_chromium_rss_mb']} MB"
    )
    if not report["issue_scale"]:
        lines.append("note: smaller than the issue's acceptance run (≥ 100 applications, 10 % 5xx, sessions ≤ 120 s)")
    if report["passed"]:
        lines.append(
            "SOAK PASSED: every application completed, no duplicate submission, worker memory growth within the limit"
        )
    else:
        lines += [f"SOAK FAILED: {f}" for f in report["failures"]]
    return lines


async def run(args: argparse.Namespace, work_dir: Path, say: Callable[[str], None]) -> dict[str, Any]:
    report: dict[str, Any] = {
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine_info(),
    }
    async with dev_server() as env:
        report.update(await soak(env.client, temporal_address(env), work_dir, args, say))
    return report


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    quiet_logging()

    def say(line: str) -> None:
        print(line, flush=True)

    work_dir = Path(tempfile.mkdtemp(prefix="kaiban-soak-"))
    t0 = time.perf_counter()
    say(
        f"soak: {args.applications} applications, error rate {args.error_rate:.0%}, session lifetime "
        f"{args.session_lifetime:g} s; stores and logs in {work_dir}"
    )
    try:
        report = asyncio.run(run(args, work_dir, say))
    except Exception as exc:  # noqa: BLE001 - whatever stopped it, the soak failed: say so, keep the logs
        traceback.print_exc()
        if isinstance(exc, BaseExceptionGroup):
            exc = exc.exceptions[0]
        failure = f"the soak could not run to its end: {type(exc).__name__}: {exc}"
        report = {
            "passed": False,
            "failures": [failure],
            "settings": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        }
        say(f"SOAK FAILED: {failure}")
    report["total_s"] = round(time.perf_counter() - t0, 1)
    keep = args.keep_work_dir or not report["passed"]
    report["work_dir"] = str(work_dir) if keep else None
    args.report.parent.mkdir(parents=True, exist_ok=True)
    args.report.write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    if "applications" in report:
        for line in summary_lines(report):
            say(line)
    if keep:
        say(f"stores and logs kept in {work_dir}")
    else:
        shutil.rmtree(work_dir, ignore_errors=True)
    say(f"written: {args.report} ({report['total_s']:.0f} s in all)")
    return 0 if report["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
