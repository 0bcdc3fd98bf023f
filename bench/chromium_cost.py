"""What Chromium's processes spend in CPU seconds per robot filing, for variants toggled by flag.

    .venv/bin/python -m bench.chromium_cost [--n 12] [--rounds 3] [--departments amr,psb_seal]
        [--variant base --variant no-receipt-jpeg ...] [--list]

The product's own robot path: one :class:`bots.browser.BrowserPool` per variant (evidence kept, warm pages,
sessions, as the worker builds it), each task ``pool.page(account=..., affinity=...)`` →
:func:`bots.flows.dispatch` → ``pool.save_receipt`` (the activity's receipt JPEG + HTML), against the
simulated portals served in this process (as tests/bots/conftest.py starts them; cases take an hour to
decide). Each variant files one untimed application per department first (the login, the warm page), then
the variants take turns in ``--rounds`` rounds, so a machine whose load changes weighs on all alike.

CPU seconds from ``/proc/<pid>/stat`` (bench/common.py's readers: utime + stime + cutime + cstime) of the
Chromium processes below the variant's own Playwright driver, read before and after each of its rounds, split
by Chromium process type (``--type=`` of the command line: browser, renderer, gpu-process, utility, zygote…;
a process that ended counts with its parent). Printed: per variant, Chromium CPU s per filing and by type,
the driver's (node) CPU s per filing, wall s per filing, renderer processes alive at the end.

A variant changes one thing: launch flags (added to ``bots.chromium.launch_args()``), the executable,
the contexts' options, or the receipt's evidence. ``--list`` prints them.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import itertools
import json
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import bots.browser
from bench.common import comm, cpu_ticks, descendants
from bots import chromium as chromium_mod
from bots.browser import BrowserPool
from bots.flows import PortalAccess, dispatch
from domain.requests import DepartmentRequest
from domain.samples import generate_application
from simulators.portal import create_portal_app
from tests.support.servers import serve_app

USERNAME, PASSWORD = "bench-robot", "bench-secret-密码"
HZ = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Variant:
    """One change against the product as it is (``base``)."""

    flags: tuple[str, ...] = ()  # added to launch_args()
    drop_flags: tuple[str, ...] = ()  # removed from launch_args()
    executable: str | None = None
    context: dict[str, Any] = field(default_factory=dict)  # extra new_context options
    receipt: str = "product"  # product | none | viewport | quality30 | locator
    note: str = ""


VARIANTS: dict[str, Variant] = {
    "base": Variant(note="the product as it is"),
    "render-document": Variant(
        drop_flags=(chromium_mod.DISABLE_FEATURES_FLAG,),
        flags=("--disable-features=" + ",".join(chromium_mod.PLAYWRIGHT_DISABLED_FEATURES),),
        note="Chromium's RenderDocument on, as before 2026-12-03 (a new frame for every navigation)",
    ),
    "no-receipt-jpeg": Variant(receipt="none", note="measure only: the receipt JPEG not taken (HTML kept)"),
    "receipt-viewport": Variant(receipt="viewport", note="receipt JPEG of the viewport, not the element"),
    "receipt-q30": Variant(receipt="quality30", note="receipt JPEG at quality 30"),
    "receipt-locator": Variant(
        receipt="locator", note="the receipt as before 2026-12-03: locator screenshot, content()"
    ),
    "full-chromium": Variant(executable="/usr/bin/chromium", note="Debian's full chromium (the product's before)"),
    "headless-shell": Variant(executable="/usr/bin/chromium-headless-shell", note="Debian's chromium-headless-shell"),
    "direct-binary": Variant(executable="/usr/lib/chromium/chromium", note="Debian's full binary without its wrapper"),
    "no-gpu-raster": Variant(flags=("--disable-gpu-rasterization",), note="against Debian's default-flags"),
    "disable-features": Variant(
        flags=(
            "--disable-features=Translate,OptimizationHints,MediaRouter,InterestFeedContentSuggestions,"
            "CalculateNativeWinOcclusion,AutofillServerCommunication,CertificateTransparencyComponentUpdater,"
            "DialMediaRouteProvider,PaintHolding,BackForwardCache,HeavyAdIntervention,LazyFrameLoading",
        ),
    ),
    "no-renderer-backgrounding": Variant(
        flags=(
            "--disable-renderer-backgrounding",
            "--disable-background-timer-throttling",
            "--disable-backgrounding-occluded-windows",
        )
    ),
    "no-ipc-flood": Variant(flags=("--disable-ipc-flooding-protection",)),
    "renderer-limit-2": Variant(flags=("--renderer-process-limit=2",)),
    "no-site-isolation": Variant(
        flags=("--disable-site-isolation-trials", "--disable-features=IsolateOrigins,site-per-process")
    ),
    "process-per-site": Variant(flags=("--process-per-site",)),
    "no-zygote": Variant(flags=("--no-zygote",)),
    "misc": Variant(flags=("--disable-extensions", "--mute-audio", "--hide-scrollbars", "--disable-breakpad")),
    "dsf1": Variant(flags=("--force-device-scale-factor=1",)),
    "small-viewport": Variant(context={"viewport": {"width": 1024, "height": 640}}),
    "ctx-dsf1": Variant(context={"device_scale_factor": 1}),
    "no-images": Variant(flags=("--blink-settings=imagesEnabled=false",), note="captcha pictures would break"),
    "swiftshader-off": Variant(flags=("--disable-software-rasterizer",)),
}


def merged_features(args: list[str]) -> list[str]:
    """``args`` with every ``--disable-features`` switch merged into one (Chromium honours only the last)."""
    prefix = "--disable-features="
    features = [f for a in args if a.startswith(prefix) for f in a[len(prefix) :].split(",") if f]
    rest = [a for a in args if not a.startswith(prefix)]
    return [*rest, prefix + ",".join(dict.fromkeys(features))] if features else rest


def _type_of(pid: int) -> str:
    try:
        # Chromium rewrites its command line into one string (setproctitle): split on spaces too
        args = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").split()
    except OSError:
        return "gone"
    for arg in args:
        if arg.startswith(b"--type="):
            kind = arg[len(b"--type=") :].decode()
            if kind == "utility":
                for a in args:
                    if a.startswith(b"--utility-sub-type="):
                        return "utility:" + a.split(b"=", 1)[1].decode().rsplit(".", 1)[-1]
            return kind
    return "browser"


def chromium_cpu(driver_pid: int) -> dict[str, float]:
    """CPU seconds so far of the Chromium processes below ``driver_pid``, by process type."""
    out: dict[str, float] = {}
    for pid in descendants(driver_pid):
        name = comm(pid) or ""
        if "chrom" not in name and "headless" not in name:
            continue
        kind = _type_of(pid)
        out[kind] = out.get(kind, 0.0) + cpu_ticks(pid) / HZ
    out.pop("gone", None)
    return out


def renderers(driver_pid: int) -> int:
    return sum(1 for p in descendants(driver_pid) if _type_of(p) == "renderer")


def _node_children() -> set[int]:
    me = os.getpid()
    return {p for p in descendants(me) if (comm(p) or "").startswith("node")}


_seeds = itertools.count(20_000)


def _valid_uscc() -> str:
    from stdnum.cn import uscc

    partial = "91140121MA0KQ7WX3"
    return partial + uscc.calc_check_digit(partial)


def _request(code: str) -> DepartmentRequest:
    upstream = {} if code == "amr" else {"amr": {"uscc": _valid_uscc()}}
    return DepartmentRequest(
        application_id=f"BENCH-{uuid.uuid4().hex[:12]}",
        department=code,
        application=generate_application(next(_seeds)),
        upstream=upstream,
    )


async def _receipt(pool: BrowserPool, page: Any, label: str, how: str) -> dict[str, str]:
    if how == "product":
        return await pool.save_receipt(page, label)
    from bots import evidence

    assert pool.evidence_dir is not None
    if how == "none":
        path = await evidence.save_html(pool.evidence_dir, page, label + "-receipt", frozenset())
        return {"receipt_html": path or ""}
    quality = 30 if how == "quality30" else evidence.RECEIPT_JPEG_QUALITY
    root = pool.evidence_dir
    target = root / f"{label}-receipt.jpg"
    if how == "viewport":
        await page.screenshot(path=str(target), type="jpeg", quality=quality)
    else:
        for selector in evidence.RECEIPT_SELECTORS:
            element = page.locator(selector).first
            if await element.count():
                await element.screenshot(path=str(target), type="jpeg", quality=quality)
                break
    path = await evidence.save_html(root, page, label + "-receipt", frozenset())
    return {"receipt_screenshot": str(target), "receipt_html": path or ""}


@dataclass
class Runner:
    name: str
    variant: Variant
    pool: BrowserPool
    driver: int
    cpu: dict[str, float] = field(default_factory=dict)
    driver_cpu: float = 0.0
    wall: float = 0.0
    filings: int = 0
    jpeg_bytes: list[int] = field(default_factory=list)

    async def file(self, code: str, url: str) -> None:
        req = _request(code)
        access = PortalAccess(url, USERNAME, PASSWORD)
        async with self.pool.page(
            label=f"{code}-{req.application_id}-attempt1", account=(url, USERNAME), affinity=req.application_id
        ) as page:
            receipt = await dispatch(page, access, req)
            kept = await _receipt(self.pool, page, f"{code}-{req.application_id}", self.variant.receipt)
        assert receipt.receipt_no
        shot = kept.get("receipt_screenshot")
        if shot:
            p = Path(shot) if Path(shot).is_absolute() else self.pool.evidence_dir / shot  # type: ignore[operator]
            with contextlib.suppress(OSError):
                self.jpeg_bytes.append(p.stat().st_size)

    async def round(self, plan: list[tuple[str, str]], concurrency: int) -> None:
        before, node0 = chromium_cpu(self.driver), cpu_ticks(self.driver) / HZ
        sem = asyncio.Semaphore(concurrency)

        async def one(code: str, url: str) -> None:
            async with sem:
                await self.file(code, url)

        t0 = time.perf_counter()
        await asyncio.gather(*(one(c, u) for c, u in plan))
        self.wall += time.perf_counter() - t0
        after, node1 = chromium_cpu(self.driver), cpu_ticks(self.driver) / HZ
        for kind in set(before) | set(after):
            self.cpu[kind] = self.cpu.get(kind, 0.0) + after.get(kind, 0.0) - before.get(kind, 0.0)
        # the driver's own ticks: cpu_ticks of node includes its reaped children (a dead Chromium): none here
        self.driver_cpu += node1 - node0
        self.filings += len(plan)

    def report(self) -> dict[str, Any]:
        n = max(1, self.filings)
        total = sum(self.cpu.values())
        return {
            "variant": self.name,
            "filings": self.filings,
            "chromium_cpu_s_per_filing": round(total / n, 3),
            "by_type_s_per_filing": {k: round(v / n, 3) for k, v in sorted(self.cpu.items(), key=lambda kv: -kv[1])},
            "driver_cpu_s_per_filing": round(self.driver_cpu / n, 3),
            "wall_s_per_filing": round(self.wall / n, 3),
            "renderers_alive": renderers(self.driver),
            "receipt_jpeg_kb": round(statistics.fmean(self.jpeg_bytes) / 1024, 1) if self.jpeg_bytes else None,
            "executable": self.pool.executable,
        }


@contextlib.asynccontextmanager
async def _pool(name: str, variant: Variant, evidence_dir: Path, max_sessions: int) -> AsyncIterator[Runner]:
    original: Callable[[], list[str]] = chromium_mod.launch_args

    def args() -> list[str]:
        return merged_features([a for a in original() if a not in variant.drop_flags] + list(variant.flags))

    before = _node_children()
    bots.browser.launch_args = args  # type: ignore[assignment]  # the pool's launch reads this name
    pool = BrowserPool(max_sessions=max_sessions, executable_path=variant.executable, evidence_dir=evidence_dir)
    try:
        await pool.start()
    finally:
        bots.browser.launch_args = original  # type: ignore[assignment]
    if variant.context:
        browser = pool._gen.browser  # type: ignore[union-attr]
        browser.new_context = functools.partial(browser.new_context, **variant.context)  # type: ignore[method-assign]
    drivers = _node_children() - before
    assert len(drivers) == 1, f"expected one new Playwright driver, found {drivers}"
    try:
        yield Runner(name, variant, pool, drivers.pop())
    finally:
        await pool.stop()


async def main(names: list[str], n: int, rounds: int, codes: list[str], concurrency: int) -> list[dict[str, Any]]:
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        async with contextlib.AsyncExitStack() as stack:
            urls = {}
            for code in codes:
                app = create_portal_app(
                    code,
                    db_path=tmp_path / f"{code}.sqlite3",
                    username=USERNAME,
                    password=PASSWORD,
                    process_delay_s=3600,
                )
                urls[code] = await stack.enter_async_context(serve_app(app))
            runners = []
            for name in names:
                runners.append(
                    await stack.enter_async_context(
                        _pool(name, VARIANTS[name], tmp_path / "evidence" / name, concurrency)
                    )
                )
            for runner in runners:  # untimed: login, warm page, page templates, JIT
                for code in codes:
                    await runner.file(code, urls[code])
            plan_all = [(codes[i % len(codes)], urls[codes[i % len(codes)]]) for i in range(n)]
            size = -(-n // rounds)
            for r in range(rounds):
                plan = plan_all[r * size : (r + 1) * size]
                order = runners if r % 2 == 0 else list(reversed(runners))
                for runner in order:
                    if plan:
                        await runner.round(plan, concurrency)
            return [runner.report() for runner in runners]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=12, help="timed filings per variant")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--departments", default="amr,psb_seal")
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--variant", action="append", choices=sorted(VARIANTS), help="repeatable; base first")
    parser.add_argument("--list", action="store_true")
    a = parser.parse_args()
    if a.list:
        for k, v in VARIANTS.items():
            print(f"{k:28} {v}")
        raise SystemExit(0)
    chosen = a.variant or ["base"]
    if "base" not in chosen:
        chosen = ["base", *chosen]
    from bench.common import quiet_logging

    quiet_logging()
    load0 = os.getloadavg()
    results = asyncio.run(main(chosen, a.n, a.rounds, a.departments.split(","), a.concurrency))
    print(
        f"# {a.n} filings per variant ({a.departments}), {a.rounds} rounds, concurrency {a.concurrency}, "
        f"load average at start {load0[0]:.2f}, at end {os.getloadavg()[0]:.2f}"
    )
    for r in results:
        print(json.dumps(r, ensure_ascii=False))
