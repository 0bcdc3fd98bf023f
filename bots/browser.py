"""One Chromium per worker process, a fresh context + page per robot task.

    pool = BrowserPool(max_sessions=4)
    await pool.start()
    async with pool.page() as page:
        receipt = await flows.dispatch(page, access, request)
    await pool.stop()

At most ``max_sessions`` pages are open at once (an ``asyncio.Semaphore``); on 2
cores more than 2–4 concurrent sessions add little. A browser that crashed or
was killed is relaunched on the next ``page()``.

Evidence of failed attempts (``evidence_dir``): every context then records a Playwright
trace (screenshots and DOM snapshots, no sources). When the body of
``pool.page(label=...)`` raises, a full-page screenshot ``<label>.png`` and the trace
``<label>.zip`` (secrets and cookies scrubbed, see :mod:`bots.evidence`) are saved under
``evidence_dir/<yyyy-mm-dd>/`` and the exception carries their paths, relative to
``evidence_dir``, as ``exc.evidence = {"screenshot": ..., "trace": ...}``. A body that
succeeds leaves no trace behind; ``await pool.save_screenshot(page, label)`` keeps a
picture of a page worth keeping (a receipt)::

    async with pool.page(label=make_label("amr", application_id, attempt)) as page:
        receipt = await flows.dispatch(page, access, request)
        shot = await pool.save_screenshot(page, make_label("amr", application_id, attempt, action="receipt"))
"""

from __future__ import annotations

import asyncio
import contextlib
import glob
import os
import shutil
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import structlog
from playwright.async_api import Browser, BrowserContext, Page, Playwright, async_playwright
from playwright.async_api import Error as PlaywrightError

from bots import evidence

__all__ = ["BrowserNotFound", "BrowserPool", "find_chromium", "launch_args"]

log = structlog.get_logger()

ENV_CHROMIUM_PATH = "KAIBAN_CHROMIUM_PATH"
_SYSTEM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
_PATH_CANDIDATES = ("chromium", "chromium-browser")


class BrowserNotFound(RuntimeError):
    """No Chromium executable could be found."""


def _is_executable(path: str | os.PathLike[str]) -> bool:
    return os.path.isfile(path) and os.access(path, os.X_OK)


def _bundled_chromium() -> str | None:
    """Playwright's own Chromium, if `playwright install chromium` was ever run (not launched)."""
    root = os.environ.get("PLAYWRIGHT_BROWSERS_PATH")
    if root == "0":
        import playwright

        root = str(Path(playwright.__file__).parent / "driver" / "package" / ".local-browsers")
    elif not root:
        root = str(Path.home() / ".cache" / "ms-playwright")
    patterns = ("chromium-*/chrome-linux*/chrome", "chromium-*/chrome-mac*/Chromium.app/Contents/MacOS/Chromium")
    for pattern in patterns:
        for candidate in sorted(glob.glob(os.path.join(root, pattern)), reverse=True):
            if _is_executable(candidate):
                return candidate
    return None


def find_chromium(playwright: Playwright | None = None) -> str | None:
    """Path of the Chromium to drive, or None.

    Order: ``$KAIBAN_CHROMIUM_PATH``; Playwright's bundled Chromium if installed (asked of a
    running ``playwright`` when given, else looked up in its browser cache, never launched);
    ``/usr/bin/chromium``; ``chromium`` on ``PATH``.
    """
    configured = os.environ.get(ENV_CHROMIUM_PATH)
    if configured:
        resolved = configured if _is_executable(configured) else shutil.which(configured)
        if resolved:
            return resolved
        log.warning("browser.configured_chromium_missing", env=ENV_CHROMIUM_PATH, path=configured)
    if playwright is not None:
        with contextlib.suppress(Exception):
            bundled = playwright.chromium.executable_path
            if bundled and _is_executable(bundled):
                return bundled
    bundled = _bundled_chromium()
    if bundled:
        return bundled
    for candidate in _SYSTEM_CANDIDATES:
        if _is_executable(candidate):
            return candidate
    for name in _PATH_CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


def launch_args() -> list[str]:
    """Chromium flags for a headless server (``--no-sandbox`` only when running as root)."""
    args = [
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-gpu",
        "--no-first-run",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        args.insert(0, "--no-sandbox")
    return args


class BrowserPool:
    """One browser for the process, at most ``max_sessions`` concurrent pages."""

    _EVIDENCE_TIMEOUT_MS = 5000  # a screenshot of a failed page must not hold the task long

    def __init__(
        self,
        max_sessions: int = 4,
        headless: bool = True,
        executable_path: str | None = None,
        *,
        action_timeout_s: float = 10.0,
        navigation_timeout_s: float = 30.0,
        evidence_dir: str | Path | None = None,
        trace: bool = True,
    ) -> None:
        """``evidence_dir``: where evidence of failed attempts goes (None: nowhere, no tracing);
        ``trace``: record a Playwright trace per session for that evidence (a screenshot only when False)."""
        if max_sessions < 1:
            raise ValueError("max_sessions must be at least 1")
        self.evidence_dir = Path(evidence_dir) if evidence_dir is not None else None
        self.trace = trace
        self.max_sessions = max_sessions
        self.headless = headless
        self.executable_path = executable_path
        self.action_timeout_s = action_timeout_s
        self.navigation_timeout_s = navigation_timeout_s
        self._semaphore = asyncio.Semaphore(max_sessions)
        self._lock = asyncio.Lock()
        self._playwright: Playwright | None = None
        self._browser: Browser | None = None
        self._resolved_path: str | None = None
        self.launches = 0

    # --- life cycle ---------------------------------------------------------------

    async def start(self) -> None:
        async with self._lock:
            if self._playwright is None:
                self._playwright = await async_playwright().start()
            if self._browser is None or not self._browser.is_connected():
                await self._launch()

    async def stop(self) -> None:
        async with self._lock:
            browser, self._browser = self._browser, None
            pw, self._playwright = self._playwright, None
            if browser is not None:
                with contextlib.suppress(Exception):
                    await browser.close()
            if pw is not None:
                with contextlib.suppress(Exception):
                    await pw.stop()

    async def __aenter__(self) -> BrowserPool:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    @property
    def executable(self) -> str | None:
        """The Chromium this pool launches (resolved at start)."""
        return self._resolved_path

    async def _launch(self) -> None:
        assert self._playwright is not None
        path = self.executable_path or find_chromium(self._playwright)
        if not path:
            raise BrowserNotFound(
                "No Chromium found. Set KAIBAN_CHROMIUM_PATH to a Chromium/Chrome executable, "
                "install Debian's package (apt-get install chromium), or run `playwright install chromium`."
            )
        if not _is_executable(path):
            raise BrowserNotFound(f"Chromium executable {path!r} does not exist or is not executable.")
        self._resolved_path = path
        self._browser = await self._playwright.chromium.launch(
            executable_path=path, headless=self.headless, args=launch_args()
        )
        self.launches += 1
        log.info("browser.launched", executable=path, headless=self.headless, launches=self.launches)

    async def _connected_browser(self) -> Browser:
        if self._playwright is None:
            raise RuntimeError("BrowserPool.start() must be awaited before page()")
        browser = self._browser
        if browser is not None and browser.is_connected():
            return browser
        async with self._lock:
            if self._browser is None or not self._browser.is_connected():
                if self._browser is not None:
                    log.warning("browser.disconnected_relaunching")
                    with contextlib.suppress(Exception):
                        await self._browser.close()
                await self._launch()
            assert self._browser is not None
            return self._browser

    async def _new_context(self) -> BrowserContext:
        browser = await self._connected_browser()
        try:
            return await browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai", service_workers="block")
        except PlaywrightError:
            if browser.is_connected():
                raise
            # the browser died between the check and the call: relaunch once
            browser = await self._connected_browser()
            return await browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai", service_workers="block")

    # --- sessions ---------------------------------------------------------------

    @property
    def tracing(self) -> bool:
        """Whether sessions record a trace (evidence is kept and tracing is on)."""
        return self.evidence_dir is not None and self.trace

    @contextlib.asynccontextmanager
    async def page(self, label: str | None = None) -> AsyncIterator[Page]:
        """A fresh, isolated context and page for one task; both are closed afterwards.

        ``label`` names the evidence kept if the body raises (see the module docstring): only
        department, application id and attempt number (:func:`bots.evidence.make_label`).
        """
        async with self._semaphore:
            context = await self._new_context()
            try:
                context.set_default_timeout(self.action_timeout_s * 1000)
                context.set_default_navigation_timeout(self.navigation_timeout_s * 1000)
                traced = False
                if self.tracing:
                    try:
                        await context.tracing.start(screenshots=True, snapshots=True, sources=False)
                        traced = True
                    except PlaywrightError as exc:
                        log.warning("browser.trace_not_started", error=str(exc).splitlines()[0] if str(exc) else "")
                page = await context.new_page()
                try:
                    yield page
                except Exception as exc:
                    if self.evidence_dir is not None:
                        try:
                            kept = await self._keep_evidence(context, page, label, traced)
                        except Exception as problem:  # never hide the attempt's own failure
                            log.warning("browser.evidence_failed", error=type(problem).__name__)
                            kept = {}
                        evidence.attach(exc, kept)
                    raise
                if traced:  # success: the trace is not written anywhere
                    with contextlib.suppress(Exception):
                        await context.tracing.stop()
            finally:
                with contextlib.suppress(Exception):
                    await context.close()

    async def save_screenshot(self, page: Page, label: str) -> str | None:
        """A full-page screenshot ``<label>.png`` under ``evidence_dir/<yyyy-mm-dd>/``; returns its path
        relative to ``evidence_dir``, or None when the pool keeps no evidence or the page cannot be shot."""
        if self.evidence_dir is None:
            return None
        path: Path | None = None
        try:
            path, relative = evidence.reserve(self.evidence_dir, label, ".png")
            await page.screenshot(path=str(path), full_page=True, timeout=self._EVIDENCE_TIMEOUT_MS)
        except Exception as exc:  # evidence is best effort: never the reason a task fails
            if path is not None:
                with contextlib.suppress(OSError):
                    path.unlink()
            log.warning("browser.screenshot_failed", label=evidence.safe_label(label), error=type(exc).__name__)
            return None
        return relative

    async def _keep_evidence(self, context: BrowserContext, page: Page, label: str | None, traced: bool) -> dict[str, str]:
        """Save the screenshot and the (scrubbed) trace of a failed attempt; what was saved, by kind."""
        assert self.evidence_dir is not None
        label = evidence.safe_label(label)
        kept: dict[str, str] = {}
        shot = await self.save_screenshot(page, label)
        if shot:
            kept["screenshot"] = shot
        if traced:
            raw_dir = tempfile.mkdtemp(prefix="kaiban-trace-")
            raw = Path(raw_dir) / "trace.zip"
            path: Path | None = None
            try:
                await context.tracing.stop(path=str(raw))
                path, relative = evidence.reserve(self.evidence_dir, label, ".zip")
                evidence.scrub_trace(raw, path, evidence.secrets_of(context))
                kept["trace"] = relative
            except Exception as exc:
                if path is not None:
                    with contextlib.suppress(OSError):
                        path.unlink()
                log.warning("browser.trace_not_kept", label=label, error=type(exc).__name__, detail=str(exc)[:200])
            finally:
                shutil.rmtree(raw_dir, ignore_errors=True)
        if kept:
            log.info("browser.evidence_kept", label=label, **kept)
        return kept


def _main(argv: list[str] | None = None) -> int:
    """``python -m bots.browser --check``: say which Chromium the robots will use (exit 1 if none)."""
    import argparse
    import sys

    parser = argparse.ArgumentParser(description="Which Chromium the robots use")
    parser.add_argument("--check", action="store_true", help="exit 1 when no Chromium is found")
    parser.parse_args(argv)
    path = find_chromium()
    if path is None:
        print("no Chromium found: set KAIBAN_CHROMIUM_PATH, or install Debian's `chromium`", file=sys.stderr)
        return 1
    print(f"chromium: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(_main())
