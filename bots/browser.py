"""One Chromium per worker process, a fresh context + page per robot task.

    pool = BrowserPool(max_sessions=4)
    await pool.start()
    async with pool.page() as page:
        receipt = await flows.dispatch(page, access, request)
    await pool.stop()

At most ``max_sessions`` pages are open at once (an ``asyncio.Semaphore``); on 2
cores more than 2–4 concurrent sessions add little. A browser that crashed or
was killed is relaunched on the next ``page()``.
"""

from __future__ import annotations

import asyncio
import contextlib
import glob
import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import structlog
from playwright.async_api import Browser, BrowserContext, Page, Playwright, async_playwright
from playwright.async_api import Error as PlaywrightError

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

    def __init__(
        self,
        max_sessions: int = 4,
        headless: bool = True,
        executable_path: str | None = None,
        *,
        action_timeout_s: float = 10.0,
        navigation_timeout_s: float = 30.0,
    ) -> None:
        if max_sessions < 1:
            raise ValueError("max_sessions must be at least 1")
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

    @contextlib.asynccontextmanager
    async def page(self) -> AsyncIterator[Page]:
        """A fresh, isolated context and page for one task; both are closed afterwards."""
        async with self._semaphore:
            context = await self._new_context()
            try:
                context.set_default_timeout(self.action_timeout_s * 1000)
                context.set_default_navigation_timeout(self.navigation_timeout_s * 1000)
                page = await context.new_page()
                yield page
            finally:
                with contextlib.suppress(Exception):
                    await context.close()


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
