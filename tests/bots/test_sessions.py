"""The browser pool keeps each portal account's logged-in session for its next tasks, and recycles its
browser after a number of pages, in real Chromium against the portal simulators."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from urllib.parse import urlparse

import pytest
from playwright.async_api import Page
from structlog.testing import capture_logs

from bots.browser import BrowserPool
from bots.errors import LoginRejected
from bots.flows import dispatch, inquire
from simulators.portal import SESSION_COOKIE
from tests.bots.conftest import USERNAME, Portal, portal_app


@contextlib.asynccontextmanager
async def pool_of(**options):
    pool = BrowserPool(**options)
    await pool.start()
    try:
        yield pool
    finally:
        await pool.stop()


def watch(page: Page) -> list[tuple[str, str]]:
    """Every request the page makes, as (method, path)."""
    seen: list[tuple[str, str]] = []
    page.on("request", lambda r: seen.append((r.method, urlparse(r.url).path)))
    return seen


def logins(requests: list[tuple[str, str]]) -> int:
    return requests.count(("POST", "/login"))


def account(portal: Portal) -> tuple[str, str]:
    return (portal.url, USERNAME)


async def file_one(pool: BrowserPool, portal: Portal, request, **page_options) -> tuple[str, list[tuple[str, str]]]:
    """One robot task as the worker runs it: its own context from the pool; (receipt number, requests made)."""
    async with pool.page(account=account(portal), **page_options) as page:
        requests = watch(page)
        receipt = await dispatch(page, portal.access, request)
    return receipt.receipt_no, requests


async def test_an_accounts_session_is_reused_until_the_portal_ends_it(tmp_path, make_request):
    async with portal_app(tmp_path, "hpf", captcha="arithmetic") as (portal, app), pool_of(max_sessions=2) as pool:
        first = make_request("hpf")
        _, requests = await file_one(pool, portal, first)
        assert logins(requests) == 1
        assert pool.cached_sessions(account(portal)) == 1

        # the next tasks of the account start logged in: no login page at all, and still one session
        second = make_request("hpf")
        _, requests = await file_one(pool, portal, second)
        assert logins(requests) == 0 and not any(path == "/login" for _, path in requests)
        async with pool.page(account=account(portal)) as page:
            requests = watch(page)
            assert (await inquire(page, portal.access, "hpf", first.application_id, None)).status == "in_review"
        assert logins(requests) == 0
        assert len(app.state.sessions) == 1
        assert portal.count(first.application_id) == portal.count(second.application_id) == 1

        # the portal forgets every session (a restart, a timeout): 会话已过期, the robot logs in again...
        app.state.sessions.clear()
        third = make_request("hpf")
        _, requests = await file_one(pool, portal, third)
        assert logins(requests) == 1 and portal.count(third.application_id) == 1
        # ...and the new session replaced the dead one
        _, requests = await file_one(pool, portal, make_request("hpf"))
        assert logins(requests) == 0
        assert len(app.state.sessions) == 1 and pool.cached_sessions(account(portal)) == 1

        # sessions are kept per portal: the same user name at another portal logs in there
        async with portal_app(tmp_path, "hrss") as (other, _):
            _, requests = await file_one(pool, other, make_request("hrss"))
            assert logins(requests) == 1
            assert pool.cached_sessions(account(other)) == 1 and pool.cached_sessions(account(portal)) == 1


async def test_without_reuse_every_task_logs_in(tmp_path, make_request):
    async with portal_app(tmp_path, "hpf") as (portal, app), pool_of(max_sessions=1, reuse_sessions=False) as pool:
        for _ in range(2):
            _, requests = await file_one(pool, portal, make_request("hpf"))
            assert logins(requests) == 1
        assert pool.cached_sessions(account(portal)) == 0
        assert len(app.state.sessions) == 2


async def test_concurrent_tasks_of_one_account_never_share_a_session(tmp_path, make_request):
    """The portal keeps the half-filled form in the session: two tasks typing into one session would
    mix their applications. Each concurrent task has a session of its own; later tasks reuse them."""
    async with portal_app(tmp_path, "amr", step_delay_s=0.2) as (portal, app), pool_of(max_sessions=3) as pool:

        def named(n: int):
            def edit(data: dict) -> None:
                data["company"]["name"] = f"太原第{n}号数据科技有限公司"

            return make_request("amr", edit=edit)

        cookies: list[str] = []

        async def task(request) -> list[tuple[str, str]]:
            async with pool.page(account=account(portal), affinity=request.application_id) as page:
                cookies.extend(c["value"] for c in await page.context.cookies() if c["name"] == SESSION_COOKIE)
                requests = watch(page)
                await dispatch(page, portal.access, request)
            return requests

        first_round = [named(n) for n in range(3)]
        seen = await asyncio.gather(*(task(r) for r in first_round))
        assert sum(logins(r) for r in seen) == 3  # nothing to reuse yet: one login each
        assert pool.cached_sessions(account(portal)) == 3

        second_round = [named(n) for n in range(3, 6)]
        seen = await asyncio.gather(*(task(r) for r in second_round))
        assert sum(logins(r) for r in seen) == 0  # every task started logged in...
        assert len(cookies) == 3 and len(set(cookies)) == 3  # ...each in a session of its own
        assert len(app.state.sessions) == 3

        for n, request in enumerate(first_round + second_round):
            stored = portal.stored(request.application_id)
            assert len(stored) == 1
            assert stored[0]["data"]["company_name"] == f"太原第{n}号数据科技有限公司"  # no form mixed up


async def test_a_refused_login_drops_the_accounts_sessions(tmp_path, make_request):
    async with portal_app(tmp_path, "amr") as (portal, app), pool_of(max_sessions=2) as pool:
        await asyncio.gather(*(file_one(pool, portal, make_request("amr")) for _ in range(2)))
        assert pool.cached_sessions(account(portal)) == 2

        # the portal ends the sessions and no longer takes the password the robot has
        app.state.sessions.clear()
        wrong = dataclasses.replace(portal.access, password="changed-口令-2026")
        request = make_request("amr")
        with pytest.raises(LoginRejected):
            async with pool.page(account=account(portal)) as page:
                await dispatch(page, wrong, request)
        assert pool.cached_sessions(account(portal)) == 0  # none of the account's sessions is trusted any more
        assert portal.count(request.application_id) == 0

        _, requests = await file_one(pool, portal, request)
        assert logins(requests) == 1 and portal.count(request.application_id) == 1


async def test_the_browser_is_recycled_after_n_pages_and_never_under_a_page_in_use():
    with capture_logs() as logs:
        async with pool_of(max_sessions=3, recycle_after_tasks=2) as pool:
            a, b, c = pool.page(), pool.page(), pool.page()
            page_a, page_b = await a.__aenter__(), await b.__aenter__()
            old = pool._browser
            assert pool.launches == 1

            page_c = await c.__aenter__()  # the third page: a new browser
            assert pool.launches == 2 and pool._browser is not old
            assert old.is_connected()  # still serving the two pages open on it
            for p, text in ((page_a, "一"), (page_b, "二"), (page_c, "三")):
                await p.set_content(f"<h1>{text}</h1>")
                assert await p.get_by_role("heading").text_content() == text

            await a.__aexit__(None, None, None)
            await asyncio.sleep(0.2)
            assert old.is_connected()  # page b is still in use
            await page_b.set_content("<h1>还在</h1>")
            assert await page_b.get_by_role("heading").text_content() == "还在"

            await b.__aexit__(None, None, None)  # the old browser's last page: it goes
            for _ in range(100):
                if not old.is_connected():
                    break
                await asyncio.sleep(0.05)
            assert not old.is_connected()
            assert pool._browser.is_connected()
            await page_c.set_content("<h1>新的</h1>")
            await c.__aexit__(None, None, None)

            async with pool.page() as page_d:  # the new browser's second page: no launch yet
                await page_d.set_content("<p>四</p>")
            assert pool.launches == 2
    events = [e["event"] for e in logs]
    assert events.count("browser.launched") == 2
    recycling = next(e for e in logs if e["event"] == "browser.recycling")
    assert recycling["pages"] == 2 and recycling["in_use"] == 2
    assert any(e["event"] == "browser.retired" and e["pages"] == 2 for e in logs)


async def test_a_session_outlives_the_browser_it_was_made_in(tmp_path, make_request):
    """Sessions are kept as cookies, not as open contexts: a recycled browser loses none."""
    async with (
        portal_app(tmp_path, "psb_seal") as (portal, app),
        pool_of(max_sessions=1, recycle_after_tasks=1) as pool,
    ):
        browsers = []
        total_logins = 0
        for _ in range(3):
            async with pool.page(account=account(portal)) as page:
                browsers.append(page.context.browser)
                requests = watch(page)
                await dispatch(page, portal.access, make_request("psb_seal"))
            total_logins += logins(requests)
        assert pool.launches == 3 and len(set(map(id, browsers))) == 3
        assert total_logins == 1 and len(app.state.sessions) == 1
        await asyncio.sleep(0.5)
        assert [b.is_connected() for b in browsers] == [False, False, True]
