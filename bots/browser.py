"""One Chromium per worker process, a warm page per portal account reused by its robot tasks (``BrowserPool``).

    async with pool.page(label=make_label("amr", application_id, attempt), account=(url, user),
                         affinity=application_id, attempt=attempt) as page:
        receipt = await flows.dispatch(page, access, request)

At most ``max_sessions`` tasks at once; logged-in pages kept per portal account (bots/warm.py), their
sessions kept as cookies when a page is closed (bots/sessions.py); evidence of a failed body kept under
``evidence_dir`` (``exc.evidence``, bots/evidence.py). The whole story: bots/README.md.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import structlog
from playwright.async_api import Browser, BrowserContext, Page, Playwright, async_playwright
from playwright.async_api import Error as PlaywrightError

from bots import evidence
from bots.chromium import ENV_CHROMIUM_PATH, BrowserNotFound, find_chromium, launch_args
from bots.chromium import is_executable as _is_executable
from bots.errors import LoginRejected
from bots.sessions import Account, Session, SessionStore, draft_after
from bots.warm import WarmPage, WarmPages, unusable
from domain.calendar import TIME_ZONE_NAME

__all__ = ["ENV_CHROMIUM_PATH", "Account", "BrowserNotFound", "BrowserPool", "find_chromium", "launch_args"]


def _log() -> structlog.typing.FilteringBoundLogger:
    # Looked up at call time, so a logging configuration made later (or capture_logs) is honoured.
    return structlog.get_logger(__name__)


@dataclass(eq=False)
class _Generation:
    """One launched browser and the tasks it served."""

    browser: Browser
    number: int
    pages: int = 0  # tasks served on it so far (on fresh or warm pages)
    active: int = 0  # tasks on it now
    retired: bool = False  # no new tasks: closed once ``active`` is 0


@dataclass(eq=False)
class _Task:
    """What one task runs on: a fresh context, or a warm page of its account."""

    gen: _Generation
    context: BrowserContext
    page: Page
    warm: WarmPage | None = None  # the warm page (kept after the task) when the account has them
    lent: Session | None = None  # the kept session (cookies) a fresh context started with


class BrowserPool:
    """One browser for the process (a new one every ``recycle_after_tasks`` tasks), at most
    ``max_sessions`` concurrent tasks, each portal account's logged-in pages kept warm for its next tasks."""

    _EVIDENCE_TIMEOUT_MS = evidence.EVIDENCE_TIMEOUT_MS
    MIN_COOKIE_SECRET = evidence.MIN_COOKIE_SECRET
    CLOSE_TIMEOUT_S = 5.0  # closing a page's context (a stuck renderer must not hold the task)

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
        trace_from_attempt: int = 2,
        reuse_sessions: bool = True,
        recycle_after_tasks: int = 0,
        warm_pages: int | None = None,
        warm_pages_total: int | None = None,
        page_recycle_tasks: int = 0,
        page_idle_s: float = 300.0,
    ) -> None:
        """``evidence_dir``: where evidence of failed attempts goes (None: nowhere, no tracing);
        ``trace``: record a Playwright trace of attempts from ``trace_from_attempt`` on (the first attempt
        keeps a screenshot, the HTML and the step log only);
        ``reuse_sessions``: keep each account's logged-in pages / sessions for its next tasks;
        ``warm_pages``: idle logged-in pages kept per account (None: ``max_sessions``; 0: none, a fresh
        context per task with the account's cookies), at most ``warm_pages_total`` in all (None: twice
        ``max_sessions``), each closed after ``page_recycle_tasks`` tasks (0: never) or ``page_idle_s`` idle;
        ``recycle_after_tasks``: launch a new browser after that many tasks (0: never)."""
        if max_sessions < 1:
            raise ValueError("max_sessions must be at least 1")
        if recycle_after_tasks < 0:
            raise ValueError("recycle_after_tasks must be 0 (never) or more")
        if page_recycle_tasks < 0:
            raise ValueError("page_recycle_tasks must be 0 (never) or more")
        if trace_from_attempt < 1:
            raise ValueError("trace_from_attempt must be at least 1")
        self.evidence_dir = Path(evidence_dir) if evidence_dir is not None else None
        self.trace = trace
        self.trace_from_attempt = trace_from_attempt
        self.max_sessions = max_sessions
        self.headless = headless
        self.executable_path = executable_path
        self.action_timeout_s = action_timeout_s
        self.navigation_timeout_s = navigation_timeout_s
        self.reuse_sessions = reuse_sessions
        self.recycle_after_tasks = recycle_after_tasks
        self.page_recycle_tasks = page_recycle_tasks
        self._semaphore = asyncio.Semaphore(max_sessions)
        self._lock = asyncio.Lock()
        self._playwright: Playwright | None = None
        self._gen: _Generation | None = None
        self._retiring: set[_Generation] = set()
        self._closing: set[asyncio.Task[None]] = set()
        # at most max_sessions are in use at once; the rest of the room is for sessions held for a retry
        self._sessions = SessionStore(keep=2 * max_sessions)
        self._warm = WarmPages(
            max_sessions if warm_pages is None else warm_pages,
            2 * max_sessions if warm_pages_total is None else warm_pages_total,
            page_idle_s,
        )
        self._sweeper: asyncio.Task[None] | None = None
        self._resolved_path: str | None = None
        self.launches = 0
        self.warm_replaced = 0  # warm pages found unusable before a task and replaced (monitoring, tests)

    # --- life cycle ---------------------------------------------------------------

    async def start(self) -> None:
        async with self._lock:
            if self._playwright is None:
                self._playwright = await async_playwright().start()
            if self._gen is None or not self._gen.browser.is_connected():
                await self._launch("start")
            if self._sweeper is None and self._warm.enabled:
                self._sweeper = asyncio.get_running_loop().create_task(self._sweep_idle_pages())

    async def stop(self) -> None:
        async with self._lock:
            if self._sweeper is not None:
                self._sweeper.cancel()
                with contextlib.suppress(BaseException):
                    await self._sweeper
                self._sweeper = None
            gens = [g for g in (self._gen, *self._retiring) if g is not None]
            self._gen = None
            self._retiring.clear()
            pw, self._playwright = self._playwright, None
            self._sessions.clear()
            self._warm.remove(lambda w: True)  # their browsers close below
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
        path = self.executable_path or find_chromium(self._playwright, headless=self.headless)
        if not path:
            raise BrowserNotFound(
                "No Chromium found. Set KAIBAN_CHROMIUM_PATH to a Chromium/Chrome executable, "
                "install Debian's package (apt-get install chromium-headless-shell, or chromium), or run "
                "`playwright install chromium`."
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

    async def _retire(self, gen: _Generation) -> None:
        """No new tasks on ``gen``: its idle warm pages are closed (their sessions kept as cookies), its
        browser as soon as no task of it runs."""
        gen.retired = True
        for warm in self._warm.remove(lambda w: w.gen is gen):
            await self._close_warm(warm, "browser_recycled")
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
        """The browser a task runs in: relaunched when it died, replaced when it served its share."""
        while True:
            if self._playwright is None:
                raise RuntimeError("BrowserPool.start() must be awaited before page()")
            gen = self._gen
            if gen is None or not gen.browser.is_connected():
                async with self._lock:
                    if self._gen is gen and self._playwright is not None:  # nobody relaunched it meanwhile
                        if gen is not None:
                            _log().warning("browser.disconnected_relaunching", browser=gen.number)
                            await self._retire(gen)
                        await self._launch("disconnected" if gen is not None else "start")
                continue
            if self.recycle_after_tasks and gen.pages >= self.recycle_after_tasks:
                async with self._lock:
                    if self._gen is gen and self._playwright is not None:
                        await self._launch("recycle")
                        _log().info("browser.recycling", browser=gen.number, pages=gen.pages, in_use=gen.active)
                        await self._retire(gen)
                continue
            gen.pages += 1
            gen.active += 1
            return gen

    def _release(self, gen: _Generation) -> None:
        gen.active -= 1
        if gen.retired and gen.active == 0:
            self._close_later(gen)

    # --- pages --------------------------------------------------------------------

    def cached_sessions(self, account: Account) -> int:
        """How many idle logged-in pages and kept sessions the pool has for ``account`` (tests, monitoring)."""
        return self._warm.count(self._sessions.key(account)) + self._sessions.count(account)

    def warm_pages(self, account: Account) -> int:
        """How many idle warm pages the pool keeps open for ``account``."""
        return self._warm.count(self._sessions.key(account))

    @property
    def tracing(self) -> bool:
        """Whether attempts from ``trace_from_attempt`` on record a trace (evidence is kept, tracing is on)."""
        return self.evidence_dir is not None and self.trace

    @contextlib.asynccontextmanager
    async def page(
        self,
        label: str | None = None,
        *,
        account: Account | None = None,
        affinity: str | None = None,
        attempt: int = 1,
    ) -> AsyncIterator[Page]:
        """A page for one task: a warm page of ``account`` when one is idle and sound, else a fresh context.

        ``label`` names the evidence kept if the body raises (bots/README.md, Evidence): only
        department, application id and attempt number (:func:`bots.evidence.make_label`).
        ``account`` (``(base_url, username)``): reuse a page (or the cookies) an earlier task of that portal
        account left, and leave this one for the next (when ``reuse_sessions``); without it the context is
        closed after the task. ``affinity`` (the application id): a failed task's page goes first to a
        later task with the same affinity, which may find its half-filled form on the portal.
        ``attempt`` (Temporal's attempt number): a trace is recorded from ``trace_from_attempt`` on.
        """
        async with self._semaphore:
            key = self._sessions.key(account) if account is not None and self.reuse_sessions else None
            task = await self._begin(key, affinity)
            failure: BaseException | None = None
            traced = False
            try:
                page = task.page
                evidence.start_steps(page)
                if self.tracing and attempt >= self.trace_from_attempt:
                    traced = await self._start_trace(task.context)
                try:
                    yield page
                except Exception as exc:
                    failure = exc
                    if self.evidence_dir is not None:
                        try:
                            kept = await evidence.keep_failure(self.evidence_dir, page, label, trace=traced)
                            traced = False  # stopped by keeping it
                        except Exception as problem:  # never hide the attempt's own failure
                            _log().warning("browser.evidence_failed", error=type(problem).__name__)
                            kept = {}
                        evidence.attach(exc, kept)
                    raise
                except BaseException as exc:  # cancelled: the page is still worth keeping
                    failure = exc
                    raise
            finally:
                try:
                    if traced:  # success (or no evidence kept): the trace is not written anywhere
                        with contextlib.suppress(Exception):
                            await task.context.tracing.stop()
                    await self._end(task, key, affinity, failure)
                finally:
                    self._release(task.gen)

    async def _start_trace(self, context: BrowserContext) -> bool:
        try:
            await context.tracing.start(screenshots=True, snapshots=True, sources=False)
        except PlaywrightError as exc:
            _log().warning("browser.trace_not_started", error=str(exc).splitlines()[0] if str(exc) else "")
            return False
        return True

    async def _begin(self, key: Account | None, affinity: str | None) -> _Task:
        """The task's browser and page: a sound warm page of ``key``, else a new context (with a kept session)."""
        for attempt in (1, 2):
            gen = await self._acquire()
            try:
                if key is not None and self._warm.enabled:
                    while (warm := self._warm.take(key, affinity)) is not None:
                        why = "browser_recycled" if warm.gen is not gen else await unusable(warm)
                        if why is None:
                            _log().debug("browser.warm_page_reused", portal=key[0], tasks=warm.tasks)
                            return _Task(gen, warm.context, warm.page, warm=warm)
                        self.warm_replaced += 1
                        await self._close_warm(warm, why)  # its cookies kept: the fresh page starts logged in
                return await self._fresh(gen, key, affinity)
            except PlaywrightError:
                self._release(gen)
                if gen.browser.is_connected() or attempt == 2:
                    raise
            except BaseException:
                self._release(gen)
                raise
            # the browser died between the check and the call: relaunch once
        raise AssertionError("unreachable")

    async def _fresh(self, gen: _Generation, key: Account | None, affinity: str | None) -> _Task:
        lent = self._sessions.take(key, affinity) if key is not None else None
        context = await gen.browser.new_context(
            locale="zh-CN",
            timezone_id=TIME_ZONE_NAME,
            service_workers="block",
            storage_state=lent.state if lent is not None else None,
        )
        try:
            if lent is not None:
                cookies = [c.get("value", "") for c in lent.state.get("cookies", ())]
                evidence.register_secret(context, *(v for v in cookies if len(v) >= self.MIN_COOKIE_SECRET))
                _log().debug("browser.session_reused", portal=key[0] if key else None)
            context.set_default_timeout(self.action_timeout_s * 1000)
            context.set_default_navigation_timeout(self.navigation_timeout_s * 1000)
            page = await context.new_page()
        except BaseException:
            with contextlib.suppress(Exception):
                await context.close()
            raise
        warm = None
        if key is not None and self._warm.enabled:
            warm = WarmPage(key, context, page, gen, draft_of=lent.draft_of if lent is not None else None)
        return _Task(gen, context, page, warm=warm, lent=lent)

    async def _end(self, task: _Task, key: Account | None, affinity: str | None, failure: BaseException | None) -> None:
        """After a task: its page kept warm for the account, or its session kept as cookies, or closed."""
        warm = task.warm
        if warm is None or key is None:
            try:
                if key is not None:
                    with contextlib.suppress(Exception):
                        await self._sessions.give_back(key, task.context, task.lent, affinity, failure)
            finally:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(task.context.close(), self.CLOSE_TIMEOUT_S)
            return
        warm.tasks += 1
        if isinstance(failure, LoginRejected):  # none of the account's sessions is trusted any more
            dropped = self._warm.remove(lambda w: w.key == key)
            for other in (*dropped, warm):
                await self._close_warm(other, "login_rejected", keep_cookies=False)
            self._sessions.drop(key)
            _log().info("browser.sessions_dropped", portal=key[0], reason="login_rejected", idle=len(dropped))
            return
        warm.draft_of = draft_after(failure, affinity, warm.draft_of)
        why = None
        if warm.page.is_closed() or warm.crashed or not task.gen.browser.is_connected():
            why = "crashed"
        elif task.gen.retired:
            why = "browser_recycled"
        elif self.page_recycle_tasks and warm.tasks >= self.page_recycle_tasks:
            why = "page_recycled"
        if why is not None:
            self.warm_replaced += why == "crashed"  # the account's next task gets a fresh page
            await self._close_warm(warm, why)
            return
        for extra in self._warm.put(warm):
            await self._close_warm(extra, "over_capacity")

    async def _close_warm(self, warm: WarmPage, why: str, *, keep_cookies: bool = True) -> None:
        """Close a warm page's context; its session is kept as cookies for the account's next fresh page."""
        if keep_cookies and warm.gen.browser.is_connected():
            with contextlib.suppress(Exception):
                state = await asyncio.wait_for(warm.context.storage_state(), SessionStore.STATE_TIMEOUT_S)
                self._sessions.keep(warm.key, state, warm.draft_of)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(warm.context.close(), self.CLOSE_TIMEOUT_S)
        _log().info("browser.warm_page_closed", portal=warm.key[0], reason=why, tasks=warm.tasks)

    async def close_idle_pages(self) -> int:
        """Close the warm pages idle longer than ``page_idle_s`` (the sweeper does it); how many."""
        expired = self._warm.expired()
        for warm in expired:
            await self._close_warm(warm, "idle")
        return len(expired)

    async def _sweep_idle_pages(self) -> None:
        while True:
            await asyncio.sleep(max(1.0, self._warm.idle_s / 2))
            with contextlib.suppress(Exception):
                await self.close_idle_pages()

    # --- evidence -----------------------------------------------------------------

    async def save_screenshot(self, page: Page, label: str) -> str | None:
        """A full-page screenshot ``<label>.png`` under ``evidence_dir/<yyyy-mm-dd>/``; returns its path
        relative to ``evidence_dir``, or None when the pool keeps no evidence or the page cannot be shot."""
        if self.evidence_dir is None:
            return None
        return await evidence.save_screenshot(self.evidence_dir, page, label)

    async def save_receipt(self, page: Page, label: str) -> dict[str, str]:
        """The receipt's evidence (a JPEG of the receipt element, the page's HTML) under ``evidence_dir``,
        by kind (``receipt_screenshot``, ``receipt_html``); nothing when the pool keeps no evidence."""
        if self.evidence_dir is None:
            return {}
        return await evidence.keep_receipt(self.evidence_dir, page, label)


if __name__ == "__main__":  # ``python -m bots.browser --check``: which Chromium the robots use
    from bots.chromium import main

    raise SystemExit(main())
