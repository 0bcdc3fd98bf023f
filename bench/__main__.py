"""``python -m bench`` (``make bench``): kaiban side by side with the floor, in one run.

Sections (see BENCHMARKS.md): orchestration, robot, mix, intake, captcha, materials, healing. One Temporal dev server
serves the whole run. Prints a table and writes ``bench/results.json``.

    .venv/bin/python -m bench            # full
    .venv/bin/python -m bench --quick    # development, a few minutes
    .venv/bin/python -m bench --sections orchestration,intake --orchestration-n 5 --intake-requests 50
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from bench.common import ROOT, dev_server, machine_info, temporal_address

SECTIONS = ("orchestration", "robot", "mix", "intake", "captcha", "materials", "healing")
FULL = dict(
    orchestration_n=200,
    orchestration_concurrency=10,
    robot_n=20,
    mix_n=200,
    mix_in_flight=40,  # enough that the machine is the cap, not the load generator (BENCHMARKS.md)
    intake_requests=1000,
    captcha_n=300,
    captcha_browser_logins=20,
    materials_n=63,  # pages per kind and condition: 504 pages
    healing_n=5,  # applications per portal on version 2 (proposal, approval, filing) and version 3
)
QUICK = dict(
    orchestration_n=10,
    orchestration_concurrency=5,
    robot_n=6,
    mix_n=24,
    mix_in_flight=12,
    intake_requests=200,
    captcha_n=30,
    captcha_browser_logins=3,
    materials_n=3,
    healing_n=1,
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench", description="kaiban side by side with the floor")
    p.add_argument("--quick", action="store_true", help="small counts (development): a few minutes")
    p.add_argument("--sections", default=",".join(SECTIONS), help=f"comma-separated subset of {','.join(SECTIONS)}")
    p.add_argument("--out", type=Path, default=ROOT / "bench" / "results.json")
    for key in FULL:
        p.add_argument(f"--{key.replace('_', '-')}", type=int, default=None)
    p.add_argument(
        "--mix-process-delay", type=float, default=5.0, help="seconds a simulated department takes to decide"
    )
    p.add_argument("--intake-clients", type=int, default=50)
    p.add_argument(
        "--robot-concurrency", type=int, default=None, help="the headline level (default: the robot worker's)"
    )
    args = p.parse_args(argv)
    base = QUICK if args.quick else FULL
    for key, value in base.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    args.sections = [s.strip() for s in args.sections.split(",") if s.strip()]
    unknown = set(args.sections) - set(SECTIONS)
    if unknown:
        p.error(f"unknown sections {sorted(unknown)}")
    return args


def _quiet() -> None:
    """Keep the table readable: kaiban's structlog lines go nowhere below WARNING."""
    import structlog

    logging.basicConfig(level=logging.WARNING)
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))


async def run(args: argparse.Namespace) -> dict:
    from bench import captcha, healing, intake, materials, mix, orchestration, robot

    results: dict = {
        "mode": "quick" if args.quick else "full",
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine_info(),
    }
    t_all = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="kaiban-bench-") as tmp_name:
        tmp = Path(tmp_name)
        async with dev_server() as env:
            address = temporal_address(env)
            for section in args.sections:
                t0 = time.perf_counter()
                print(f"… {section}", file=sys.stderr, flush=True)
                sub = tmp / section
                sub.mkdir()
                if section == "orchestration":
                    out = await orchestration.run(
                        env.client, address, sub, args.orchestration_n, args.orchestration_concurrency
                    )
                elif section == "robot":
                    out = await robot.run(env.client, sub, args.robot_n, args.robot_concurrency)
                elif section == "mix":
                    out = await mix.run(
                        env.client, address, sub, args.mix_n, args.mix_in_flight, args.mix_process_delay
                    )
                elif section == "captcha":
                    out = await captcha.run(sub, args.captcha_n, args.captcha_browser_logins)
                elif section == "materials":
                    out = await asyncio.to_thread(materials.run, args.materials_n)
                elif section == "healing":
                    out = await healing.run(args.healing_n)
                else:
                    out = await intake.run(address, sub, args.intake_requests, args.intake_clients)
                out["section_s"] = round(time.perf_counter() - t0, 1)
                results[section] = out
    results["total_s"] = round(time.perf_counter() - t_all, 1)
    return results


def mix_event_rows(m: dict) -> list[tuple[str, str, str, str]]:
    """The mix's workflow events per application on the server, and the last applications' histories."""
    out = []
    events = m.get("events_per_application") or {}
    if events:
        parts = ", ".join(f"{k} {v:.1f}" for k, v in events.items() if k != "total")
        out.append(("mix workflow events per application (server)", "", "", f"{events['total']:.1f} ({parts})"))
    h = m.get("application_history") or {}
    if h.get("histories"):
        top = ", ".join(f"{k} {v:.1f}" for k, v in list(h["by_type"].items())[:6])
        out.append(
            (
                f"mix application history (n={h['histories']})",
                "",
                "",
                f"{h['events']:.0f} events, {h['workflow_tasks']:.1f} WFTs, {h['history_kb']:.1f} kB; {top}",
            )
        )
    return out


def table(results: dict) -> str:
    rows: list[tuple[str, str, str, str]] = []
    o = results.get("orchestration")
    if o:
        for who in ("kaiban", "bare"):
            r = o[who]
            rows.append(
                (
                    f"orchestration {who} (c={o['concurrency']}, n={r['n']})",
                    f"{r['p50_ms']:.0f}",
                    f"{r['p99_ms']:.0f}",
                    f"{r['per_minute']:.1f} apps/min",
                )
            )
        if "kaiban_api" in o:
            r = o["kaiban_api"]
            rows.append(
                (
                    f"orchestration kaiban via API (c={o['concurrency']}, n={r['n']})",
                    f"{r['p50_ms']:.0f}",
                    f"{r['p99_ms']:.0f}",
                    f"{r['per_minute']:.1f} apps/min",
                )
            )
            rows.append(("orchestration ratio_api (kaiban via API/bare)", "", "", f"{o['ratio_api']:.3f}"))
        rows.append(("orchestration.ratio (kaiban/bare, started alike)", "", "", f"{o['ratio']:.3f}"))
        from bench.histories import rows as history_rows

        rows += history_rows(o)
    rb = results.get("robot")
    if rb:
        for key in ("robot_c1", "bare_c1", f"robot_c{rb['pool_concurrency']}", f"bare_c{rb['pool_concurrency']}"):
            r = rb[key]
            rows.append(
                (
                    f"robot {key} (n={r['n']})",
                    f"{r['p50_ms']:.0f}",
                    f"{r['p99_ms']:.0f}",
                    f"{r['per_minute']:.1f} tasks/min",
                )
            )
        rows.append(("robot.ratio_c1 (robot/bare, c=1)", "", "", f"{rb['ratio_c1']:.3f}"))
        rows.append(
            (f"robot.ratio (robot/bare, c={rb['pool_concurrency']}: the worker's)", "", "", f"{rb['ratio']:.3f}")
        )
    m = results.get("mix")
    if m:
        rows.append(
            (
                f"mix (n={m['applications']}, in flight {m['in_flight']}) {m['outcomes']}",
                f"{m['p50_ms']:.0f}",
                f"{m['p99_ms']:.0f}",
                f"{m['applications_per_minute']:.1f} apps/min",
            )
        )
        rows.append(
            (
                "mix peak RSS worker / chromium (MB)",
                "",
                "",
                f"{m['peak_worker_rss_mb']} / {m['peak_chromium_rss_mb']} ({m['peak_chromium_processes']} procs)",
            )
        )
        rows.append(
            (
                "mix worker RSS after 10 → end (MB)",
                "",
                "",
                f"{m['worker_rss_after_10_mb']} → {m['worker_rss_end_mb']} (growth {m['memory_growth']:+.3f})",
            )
        )
        if "cpu_s" in m:
            cpu = m["cpu_s"]
            rows.append(
                (
                    "mix CPU s per application: kaiban / simulators",
                    "",
                    "",
                    f"{m['kaiban_cpu_s_per_application']:.2f} / {m['simulators_cpu_s_per_application']:.2f}",
                )
            )
            rows.append(
                (
                    "mix CPU s: api / worker+chromium / temporal / sims / load",
                    "",
                    "",
                    f"{cpu['api']:.0f} / {cpu['worker']:.0f} / {cpu['temporal']:.0f} / {cpu['simulators']:.0f}"
                    f" / {cpu['load_generator']:.0f}",
                )
            )
            kinds = m.get("worker_cpu_s_by_process") or {}
            rows.append(
                (
                    "mix worker CPU s: python / playwright driver / chromium",
                    "",
                    "",
                    " / ".join(f"{kinds.get(k, 0):.0f}" for k in ("python", "playwright_driver", "chromium")),
                )
            )
            rows.append(("mix machine busy (share of all cores)", "", "", f"{m['machine_busy_share']:.2f}"))
            portal = m.get("portal_per_application") or {}
            if portal:
                rows.append(
                    (
                        "mix portal requests / logins per application",
                        "",
                        "",
                        f"{portal.get('requests', 0):.1f} / {portal.get('logins', 0):.1f}",
                    )
                )
            rows.extend(mix_event_rows(m))
    i = results.get("intake")
    if i:
        rows.append(
            (
                f"intake POST ({i['clients']} clients, n={i['requests']}) {i['status_codes']}",
                f"{i['p50_ms']:.0f}",
                f"{i['p99_ms']:.0f}",
                f"{i['requests_per_second']:.1f} req/s",
            )
        )
    c = results.get("captcha")
    if c:
        from bench.captcha import rows as captcha_rows

        rows += captcha_rows(c)  # p95 (not p99) of the ms per read
    m = results.get("materials")
    if m:
        from bench.materials import rows as materials_rows

        rows += materials_rows(m)  # mean and p95 CPU ms per page
    head = ("measure", "p50 ms", "p99 ms", "throughput / value")
    widths = [max(len(r[k]) for r in [head, *rows]) for k in range(4)]

    def line(r):
        return "  ".join(c.ljust(w) if k == 0 else c.rjust(w) for k, (c, w) in enumerate(zip(r, widths, strict=True)))

    mi = results["machine"]
    out = [
        f"kaiban bench ({results['mode']}) on {mi['cpu_count']} × {mi['cpu_model']}, Python {mi['python']}, "
        f"{mi.get('chromium')}, {results['total_s']} s",
        line(head),
        line(tuple("-" * w for w in widths)),
    ]
    out += [line(r) for r in rows]
    national = (results.get("mix") or {}).get("national")
    if national:
        out.append(f"mix: {national}")
    h = results.get("healing")
    if h:
        from bench.healing import rows as healing_rows

        out += healing_rows(h)  # proposals: fields placed right, below the threshold, time to proposal
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    _quiet()
    results = asyncio.run(run(args))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(table(results))
    print(f"written: {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
