"""Run every simulated department system on its own loopback port (what ``make run`` starts): each
serves its legacy portal and its JSON API there, over one store.

Simulators stand in for foreign systems, so this file imports nothing of kaiban's:
ports, data folder, accounts and the processing delay are command-line options.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
from pathlib import Path

import uvicorn

from simulators.department import create_department_app

# each department serves both channels on its one port; the ports keep the channel it had first
PORTALS = {"amr": 8101, "psb_seal": 8102, "hrss": 8103, "hpf": 8104}
APIS = {"tax": 8201, "nhsa": 8202, "bank": 8203}


def account(code: str) -> tuple[str, str]:
    """The department account kaiban logs in with (same environment names as kaiban's settings)."""
    user = os.environ.get(f"KAIBAN_CRED_{code.upper()}_USERNAME", f"kaiban-{code}")
    password = os.environ.get(f"KAIBAN_CRED_{code.upper()}_PASSWORD", f"{code}-dev-secret")
    return user, password


def build_apps(data_dir: Path, process_delay_s: float, step_delay_s: float, host: str) -> list[tuple[str, int, object]]:
    """Every department on its port, serving its portal (``/``) and its JSON API (``/api/v1``) over one store."""
    data_dir.mkdir(parents=True, exist_ok=True)
    apps = []
    for code, port in {**PORTALS, **APIS}.items():
        user, password = account(code)
        app = create_department_app(
            code,
            db_path=data_dir / f"{code}.sqlite3",
            username=user,
            password=password,
            token=password,
            callback_secret=os.environ.get(f"KAIBAN_CALLBACK_SECRET_{code.upper()}"),
            process_delay_s=process_delay_s,
            step_delay_s=step_delay_s,
        )
        apps.append((code, port, app))
    return apps


async def serve(data_dir: Path, process_delay_s: float, step_delay_s: float, host: str) -> None:
    servers = []
    for code, port, app in build_apps(data_dir, process_delay_s, step_delay_s, host):
        server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning"))
        server.install_signal_handlers = lambda: None
        servers.append((code, port, server))
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, lambda: [setattr(s, "should_exit", True) for _, _, s in servers])
    tasks = [asyncio.create_task(s.serve()) for _, _, s in servers]
    while not all(s.started for _, _, s in servers):
        if any(t.done() for t in tasks):
            break
        await asyncio.sleep(0.05)
    for code, port, _ in servers:
        logging.getLogger("simulators").info(
            "simulated department %s on http://%s:%d (portal /, API /api/v1)", code, host, port
        )
    await asyncio.gather(*tasks)


def main() -> None:
    parser = argparse.ArgumentParser(description="Simulated department systems (portals and APIs)")
    parser.add_argument("--data-dir", type=Path, default=Path("data/simulators"))
    parser.add_argument("--process-delay", type=float, default=3.0, help="seconds a department takes to process")
    parser.add_argument("--step-delay", type=float, default=0.0, help="seconds each portal wizard step takes")
    parser.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    asyncio.run(serve(args.data_dir, args.process_delay, args.step_delay, args.host))


if __name__ == "__main__":
    main()
