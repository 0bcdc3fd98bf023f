"""Warm pages: a portal account's logged-in page serves its next tasks, is checked before each, replaced
when it crashed, recycled after a number of tasks, closed when idle. Real Chromium, real portal simulators."""

from __future__ import annotations

import asyncio
import contextlib

import pytest
from playwright.async_api import Page

from bots.browser import BrowserPool
from bots.flows import dispatch
from bots.warm import WarmPages
from tests.bots.conftest import USERNAME, Portal, portal_app
from tests.bots.test_sessions import logins, watch


class CutOff(Exception):
    """The task ends here (a worker lost, a heartbeat timeout): retryable, as Temporal sees it."""


@contextlib.asynccontextmanager
async def pool_of(**options):
    pool = BrowserPool(**options)
    await pool.start()
    try:
        yield pool
    finally:
        await pool.stop()


def account(portal: Portal) -> tuple[str, str]:
    return (portal.url, USERNAME)


async def task(pool: BrowserPool, portal: Portal, request, **options) -> tuple[Page, int, str]:
    """One filing as the activity runs it: (the page it ran on, logins it made, receipt number)."""
    async with pool.page(account=account(portal), affinity=request.application_id, **options) as page:
        requests = watch(page)
        receipt = await dispatch(page, portal.access, request)
    return page, logins(requests), receipt.receipt_no


async def crash(page: Page) -> None:
    """Crash the page's renderer as a real crash would (CDP ``Page.crash``): the page stays 'open'."""
    crashed = asyncio.Event()
    page.once("crash", lambda _: crashed.set())
    cdp = await page.context.new_cdp_session(page)
    with contextlib.suppress(Exception):  # the renderer dies before it answers
        await asyncio.wait_for(cdp.send("Page.crash"), 5)
    await asyncio.wait_for(crashed.wait(), 10)
    assert not page.is_closed()


async def test_an_accounts_page_serves_its_next_task_without_a_login(tmp_path, make_request):
    async with portal_app(tmp_path, "hpf") as (portal, app), pool_of(max_sessions=2) as pool:
        first, logged_in, _ = await task(pool, portal, make_request("hpf"))
        assert logged_in == 1 and pool.warm_pages(account(portal)) == 1
        second, logged_in, _ = await task(pool, portal, make_request("hpf"))
        assert second is first and not first.is_closed()  # the same page, still open
        assert logged_in == 0 and len(app.state.sessions) == 1
        assert pool.launches == 1 and pool.warm_replaced == 0


@pytest.mark.parametrize("how", ["portal_forgot_sessions", "cookies_cleared"])
async def test_a_warm_page_the_portal_logged_out_logs_in_again_before_filing(tmp_path, make_request, how):
    async with portal_app(tmp_path, "amr", captcha="arithmetic") as (portal, app), pool_of(max_sessions=1) as pool:
        page, _, _ = await task(pool, portal, make_request("amr"))
        if how == "portal_forgot_sessions":
            app.state.sessions.clear()  # the portal restarted or timed the session out
        else:
            await page.context.clear_cookies()
        request = make_request("amr")
        async with pool.page(account=account(portal), affinity=request.application_id) as again:
            assert again is page  # the warm page, not a new one
            requests = watch(again)
            receipt = await dispatch(again, portal.access, request)
        # the login came before anything was posted to the form, and the application was filed once
        posts = [path for method, path in requests if method == "POST"]
        assert posts[0] == "/login" and posts.count("/login") == 1
        assert portal.count(request.application_id) == 1
        assert [s["receipt_no"] for s in portal.stored(request.application_id)] == [receipt.receipt_no]
        # one new session (the portal still holds the one whose cookie the browser lost)
        assert len(app.state.sessions) == (1 if how == "portal_forgot_sessions" else 2)


@pytest.mark.parametrize("how", ["closed", "crashed"])
async def test_a_dead_idle_page_is_replaced_and_the_next_task_files_once(tmp_path, make_request, how):
    async with portal_app(tmp_path, "psb_seal") as (portal, app), pool_of(max_sessions=1) as pool:
        page, _, _ = await task(pool, portal, make_request("psb_seal"))
        if how == "closed":
            await page.close()
        else:
            await crash(page)
        request = make_request("psb_seal")
        fresh, logged_in, receipt_no = await task(pool, portal, request)
        assert fresh is not page and pool.warm_replaced == 1
        assert logged_in == 0  # the dead page's cookies went to its replacement: still logged in
        assert [s["receipt_no"] for s in portal.stored(request.application_id)] == [receipt_no]
        again, _, _ = await task(pool, portal, make_request("psb_seal"))
        assert again is fresh  # the replacement is the account's warm page now
        assert len(app.state.sessions) == 1


async def test_a_page_that_crashed_after_filing_is_replaced_and_the_retry_files_nothing_more(tmp_path, make_request):
    """The renderer dies right after the portal stored the filing (the task fails before it returns the
    receipt). The retry of the application is offered that page first: found crashed, it is replaced; the
    retry searches the portal, finds the filing and returns it: one filing."""
    async with portal_app(tmp_path, "amr") as (portal, _), pool_of(max_sessions=1) as pool:
        request = make_request("amr")
        crashed: list[Page] = []

        async def crash_at_receipt(step: str) -> None:
            if step == "receipt":
                crashed.append(page)
                await crash(page)
                raise CutOff(step)

        with pytest.raises(CutOff):
            async with pool.page(account=account(portal), affinity=request.application_id) as page:
                await dispatch(page, portal.access, request, on_step=crash_at_receipt)
        assert crashed and portal.count(request.application_id) == 1

        steps: list[str] = []
        async with pool.page(account=account(portal), affinity=request.application_id, attempt=2) as retry:
            assert retry is not crashed[0]
            receipt = await dispatch(retry, portal.access, request, on_step=steps.append)
        assert pool.warm_replaced == 1
        assert "submit" not in steps and steps[:2] == ["login", "search_existing"]
        assert [s["receipt_no"] for s in portal.stored(request.application_id)] == [receipt.receipt_no]


async def test_a_failed_tasks_page_waits_for_its_retry(tmp_path, make_request):
    """A failed task's page may hold its half-filled form: another application's task gets a page of its own;
    the retry gets that page (the same Page object) and resumes the form."""
    async with portal_app(tmp_path, "amr") as (portal, _), pool_of(max_sessions=2) as pool:
        cut = make_request("amr")

        def cut_at_people(step: str) -> None:
            if step == "form:people":
                raise CutOff(step)

        with pytest.raises(CutOff):
            async with pool.page(account=account(portal), affinity=cut.application_id) as held:
                await dispatch(held, portal.access, cut, on_step=cut_at_people)

        other, logged_in, _ = await task(pool, portal, make_request("amr"))
        assert other is not held and logged_in == 1  # the held page was not lent to it
        steps: list[str] = []
        async with pool.page(account=account(portal), affinity=cut.application_id, attempt=2) as retry:
            assert retry is held
            await dispatch(retry, portal.access, cut, on_step=steps.append, resume_from="form:people")
        assert "resume_draft" in steps and "form:basic" not in steps  # step 1 was the portal's already
        assert portal.count(cut.application_id) == 1


async def test_pages_are_recycled_after_n_tasks_and_the_browser_after_its_share(tmp_path, make_request):
    async with (
        portal_app(tmp_path, "hrss") as (portal, app),
        pool_of(max_sessions=1, page_recycle_tasks=2, recycle_after_tasks=5) as pool,
    ):
        pages, total_logins = [], 0
        for _ in range(6):
            page, logged_in, _ = await task(pool, portal, make_request("hrss"))
            pages.append(page)
            total_logins += logged_in
        # a new page every second task (cookies carried over: one login in all); after five tasks a new
        # browser, whose first page is a fresh one (the fifth task's page closed with the old browser)
        assert pages[0] is pages[1] and pages[2] is pages[3] and pages[4] is not pages[5]
        assert len({id(p) for p in pages}) == 4 and all(p.is_closed() for p in pages[:5])
        assert total_logins == 1 and len(app.state.sessions) == 1
        assert pool.launches == 2
        assert pages[5].context.browser is not pages[3].context.browser


async def test_warm_pages_are_bounded_and_closed_when_idle(tmp_path, make_request):
    async with (
        portal_app(tmp_path, "hpf", step_delay_s=0.2) as (portal, _),
        pool_of(max_sessions=3, warm_pages=2, warm_pages_total=2, page_idle_s=60) as pool,
    ):
        pages = await asyncio.gather(*(task(pool, portal, make_request("hpf")) for _ in range(3)))
        assert pool.warm_pages(account(portal)) == 2  # three ran at once, two were kept
        assert sum(p.is_closed() for p, _, _ in pages) == 1
        now = pool._warm.clock()
        pool._warm.clock = lambda: now + 61  # a minute later, nobody came
        assert await pool.close_idle_pages() == 2
        assert pool.warm_pages(account(portal)) == 0 and all(p.is_closed() for p, _, _ in pages)
        # their sessions are kept as cookies: the next task opens a fresh page, still logged in
        page, logged_in, _ = await task(pool, portal, make_request("hpf"))
        assert logged_in == 0 and all(page is not p for p, _, _ in pages)


def test_the_warm_page_store_keeps_the_newest_within_its_bounds():
    clock = [0.0]
    store = WarmPages(per_account=2, total=3, idle_s=10, clock=lambda: clock[0])

    class Fake:
        def __init__(self, key: tuple[str, str], name: str) -> None:
            self.key, self.name, self.draft_of, self.kept_at = key, name, None, 0.0

    a, b = ("http://a", "u"), ("http://b", "u")
    evicted = []
    for i, (key, name) in enumerate([(a, "a1"), (a, "a2"), (a, "a3"), (b, "b1"), (b, "b2")]):
        clock[0] = float(i)
        evicted += store.put(Fake(key, name))  # type: ignore[arg-type]
    assert [w.name for w in evicted] == ["a1", "a2"]  # a's oldest over its two, then the oldest over three in all
    assert store.count(a) == 1 and store.count(b) == 2 and store.count() == 3
    clock[0] = 13.5
    assert [w.name for w in store.expired()] == ["a3", "b1"]  # idle more than ten
    taken = store.take(b, None)
    assert taken is not None and taken.name == "b2" and store.count() == 0
