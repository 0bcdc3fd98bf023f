"""One Chromium per worker process, a fresh context + page per robot task (``BrowserPool``).

    async with pool.page(label=make_label("amr", application_id, attempt), account=(url, user)) as page:
        receipt = await flows.dispatch(page, access, request)

At most ``max_sessions`` pages at once; logged-in sessions kept per portal account; evidence of a
failed body kept under ``evidence_dir`` (``exc.evidence``). The whole story: bots/README.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import glob
import os
import shutil
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import structlog
from playwright.async_api import Browser, BrowserContext, Page, Playwright, StorageState, async_playwright
from playwright.async_api import Error as PlaywrightError

from bots import evidence
from bots.sessions import Account, SessionStore
from domain.calendar import TIME_ZONE_NAME

__all__ = ["Account", "BrowserNotFound", "BrowserPool", "find_chromium", "launch_args"]


def _log() -> structlog.typing.FilteringBoundLogger:
    # Looked up at call time, so a logging configuration made later (or capture_logs) is honoured.
    return structlog.get_logger(__name__)


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
        _log().warning("browser.configured_chromium_missing", env=ENV_CHROMIUM_PATH, path=configured)
    if playwright is not None:
        with contextlib.suppress(Exception):
            running = playwright.chromium.executable_path
            if running and _is_executable(running):
                return running
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


@dataclass(eq=False)
class _Generation:
    """One launched browser and the pages it served."""

    browser: Browser
    number: int
    pages: int = 0  # pages opened on it so far
    active: int = 0  # pages open on it now
    retired: bool = False  # no new pages: closed once ``active`` is 0


class BrowserPool:
    """One browser for the process (a new one every ``recycle_after_tasks`` pages), at most
    ``max_sessions`` concurrent pages, the logged-in sessions of each portal account kept for reuse."""

    _EVIDENCE_TIMEOUT_MS = 5000  # a screenshot of a failed page must not hold the task long
    MIN_COOKIE_SECRET = 8  # cookie values at least that long are scrubbed from traces as secrets

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
        reuse_sessions: bool = True,
        recycle_after_tasks: int = 0,
    ) -> None:
        """``evidence_dir``: where evidence of failed attempts goes (None: nowhere, no tracing);
        ``trace``: record a Playwright trace per session for that evidence (a screenshot only when False);
        ``reuse_sessions``: keep each account's logged-in sessions for its next tasks (bots/sessions.py);
        ``recycle_after_tasks``: launch a new browser after that many pages (0: never)."""
        if max_sessions < 1:
            raise ValueError("max_sessions must be at least 1")
        if recycle_after_tasks < 0:
            raise ValueError("recycle_after_tasks must be 0 (never) or more")
        self.evidence_dir = Path(evidence_dir) if evidence_dir is not None else None
        self.trace = trace
        self.max_sessions = max_sessions
        self.headless = headless
        self.executable_path = executable_path
        self.action_timeout_s = action_timeout_s
        self.navigation_timeout_s = navigation_timeout_s
        self.reuse_sessions = reuse_sessions
        self.recycle_after_tasks = recycle_after_tasks
        self._semaphore = asyncio.Semaphore(max_sessions)
        self._lock = asyncio.Lock()
        self._playwright: Playwright | None = None
        self._gen: _Generation | None = None
        self._retiring: set[_Generation] = set()
        self._closing: set[asyncio.Task[None]] = set()
        # at most max_sessions are in use at once; the rest of the room is for sessions held for a retry
        self._sessions = SessionStore(keep=2 * max_sessions)
        self._resolved_path: str | None = None
        self.launches = 0

    # --- life cycle ---------------------------------------------------------------

    async def start(self) -> None:
        async with self._lock:
            if self._playwright is None:
                self._playwright = await async_playwright().start()
            if self._gen is None or not self._gen.browser.is_connected():
                await self._launch("start")

    async def stop(self) -> None:
        async with self._lock:
            gens = [g for g in (self._gen, *self._retiring) if g is not None]
            self._gen = None
            self._retiring.clear()
            pw, self._playwright = self._playwright, None
            self._sessions.clear()
            closing = list(self._closing)
            for gen in gens:
                with contextlib.suppress(Exception):
                    await gen.browser.close()
            if closing:
                await asyncio.gather(*closing, return_exceptions=True)
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

    @property
    def _browser(self) -> Browser | None:
        """The browser new pages open in."""
        return self._gen.browser if self._gen is not None else None

    async def _launch(self, reason: str) -> None:
        """Launch a browser for new pages (the caller holds ``_lock``)."""
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
        browser = await self._playwright.chromium.launch(
            executable_path=path, headless=self.headless, args=launch_args()
        )
        self.launches += 1
        self._gen = _Generation(browser, self.launches)
        _log().info("browser.launched", executable=path, headless=self.headless, launches=self.launches, reason=reason)

    def _retire(self, gen: _Generation) -> None:
        """No new pages on ``gen``; its browser is closed as soon as no page of it is in use."""
        gen.retired = True
        self._retiring.add(gen)
        if gen.active == 0:
            self._close_later(gen)

    def _close_later(self, gen: _Generation) -> None:
        if gen not in self._retiring:
            return  # already closing (or closed by stop)
        self._retiring.discard(gen)

        async def close() -> None:
            with contextlib.suppress(Exception):
                await gen.browser.close()
            _log().info("browser.retired", browser=gen.number, pages=gen.pages)

        task = asyncio.get_running_loop().create_task(close())
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    async def _acquire(self) -> _Generation:
        """The browser a new page opens in: relaunched when it died, replaced when it served its share."""
        while True:
            if self._playwright is None:
                raise RuntimeError("BrowserPool.start() must be awaited before page()")
            gen = self._gen
            if gen is None or not gen.browser.is_connected():
                async with self._lock:
                    if self._gen is gen and self._playwright is not None:  # nobody relaunched it meanwhile
                        if gen is not None:
                            _log().warning("browser.disconnected_relaunching", browser=gen.number)
                            self._retire(gen)
                        await self._launch("disconnected" if gen is not None else "start")
                continue
            if self.recycle_after_tasks and gen.pages >= self.recycle_after_tasks:
                async with self._lock:
                    if self._gen is gen and self._playwright is not None:
                        await self._launch("recycle")
                        _log().info("browser.recycling", browser=gen.number, pages=gen.pages, in_use=gen.active)
                        self._retire(gen)
                continue
            gen.pages += 1
            gen.active += 1
            return gen

    def _release(self, gen: _Generation) -> None:
        gen.active -= 1
        if gen.retired and gen.active == 0:
            self._close_later(gen)

    async def _open_context(self, storage_state: StorageState | None) -> tuple[_Generation, BrowserContext]:
        for attempt in (1, 2):
            gen = await self._acquire()
            try:
                context = await gen.browser.new_context(
                    locale="zh-CN", timezone_id=TIME_ZONE_NAME, service_workers="block", storage_state=storage_state
                )
            except PlaywrightError:
                self._release(gen)
                if gen.browser.is_connected() or attempt == 2:
                    raise
                continue  # the browser died between the check and the call: relaunch once
            return gen, context
        raise AssertionError("unreachable")

    # --- sessions ---------------------------------------------------------------

    def cached_sessions(self, account: Account) -> int:
        """How many idle logged-in sessions the pool keeps for ``account`` (tests, monitoring)."""
        return self._sessions.count(account)

    @property
    def tracing(self) -> bool:
        """Whether sessions record a trace (evidence is kept and tracing is on)."""
        return self.evidence_dir is not None and self.trace

    @contextlib.asynccontextmanager
    async def page(
        self, label: str | None = None, *, account: Account | None = None, affinity: str | None = None
    ) -> AsyncIterator[Page]:
        """A fresh, isolated context and page for one task; both are closed afterwards.

        ``label`` names the evidence kept if the body raises (bots/README.md, Evidence): only
        department, application id and attempt number (:func:`bots.evidence.make_label`).
        ``account`` (``(base_url, username)``): start logged in with a session an earlier task of that
        portal account left, and leave this task's session for the next (when ``reuse_sessions``).
        ``affinity`` (the application id): a failed task's session goes first to a later task with the
        same affinity, which may find its half-filled form on the portal.
        """
        async with self._semaphore:
            key = self._sessions.key(account) if account is not None and self.reuse_sessions else None
            lent = self._sessions.take(key, affinity) if key is not None else None
            gen, context = await self._open_context(lent.state if lent is not None else None)
            failure: BaseException | None = None
            try:
                if lent is not None:
                    cookies = [c.get("value", "") for c in lent.state.get("cookies", ())]
                    evidence.register_secret(context, *(v for v in cookies if len(v) >= self.MIN_COOKIE_SECRET))
                    _log().debug("browser.session_reused", portal=key[0] if key else None)
                context.set_default_timeout(self.action_timeout_s * 1000)
                context.set_default_navigation_timeout(self.navigation_timeout_s * 1000)
                traced = False
                if self.tracing:
                    try:
                        await context.tracing.start(screenshots=True, snapshots=True, sources=False)
                        traced = True
                    except PlaywrightError as exc:
                        _log().warning("browser.trace_not_started", error=str(exc).splitlines()[0] if str(exc) else "")
                page = await context.new_page()
                try:
                    yield page
                except Exception as exc:
                    failure = exc
                    if self.evidence_dir is not None:
                        try:
                            kept = await self._keep_evidence(context, page, label, traced)
                        except Exception as problem:  # never hide the attempt's own failure
                            _log().warning("browser.evidence_failed", error=type(problem).__name__)
                            kept = {}
                        evidence.attach(exc, kept)
                    raise
                except BaseException as exc:  # cancelled: the session is still worth keeping
                    failure = exc
                    raise
                if traced:  # success: the trace is not written anywhere
                    with contextlib.suppress(Exception):
                        await context.tracing.stop()
            finally:
                try:
                    if key is not None:
                        with contextlib.suppress(Exception):
                            await self._sessions.give_back(key, context, lent, affinity, failure)
                    with contextlib.suppress(Exception):
                        await context.close()
                finally:
                    self._release(gen)

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
            _log().warning("browser.screenshot_failed", label=evidence.safe_label(label), error=type(exc).__name__)
            return None
        return relative

    async def _keep_evidence(
        self, context: BrowserContext, page: Page, label: str | None, traced: bool
    ) -> dict[str, str]:
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
                _log().warning("browser.trace_not_kept", label=label, error=type(exc).__name__, detail=str(exc)[:200])
            finally:
                shutil.rmtree(raw_dir, ignore_errors=True)
        if kept:
            _log().info("browser.evidence_kept", label=label, **kept)
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
