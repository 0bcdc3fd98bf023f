"""A retry goes on with the form the portal still holds from the attempt that was cut off
(``dispatch(resume_from=...)``), in real Chromium against the portal simulators."""

from __future__ import annotations

import contextlib
from urllib.parse import urlparse

import pytest
import pytest_asyncio
from playwright.async_api import Page

from bots import flows
from bots.browser import BrowserPool
from bots.flows import dispatch
from tests.bots.conftest import USERNAME, portal_app


class CutOff(Exception):
    """The attempt ends here (a worker killed, a heartbeat timeout, a 503 after the portal did its work)."""


@pytest_asyncio.fixture(scope="module")
async def pool():
    """One pool for the module, reusing sessions as the worker's does (each test has a portal, i.e. an
    account, of its own)."""
    pool = BrowserPool(max_sessions=2)
    await pool.start()
    yield pool
    await pool.stop()


def posts(page: Page) -> list[str]:
    """The path of every form the page posts (``/apply/step/2``, ``/apply/submit``, ``/login``, ...)."""
    seen: list[str] = []
    page.on("request", lambda r: seen.append(urlparse(r.url).path) if r.method == "POST" else None)
    return seen


def gets(page: Page) -> list[str]:
    seen: list[str] = []
    page.on("request", lambda r: seen.append(urlparse(r.url).path) if r.method == "GET" else None)
    return seen


def cut_at(step: str, seen: list[str]):
    def on_step(name: str) -> None:
        seen.append(name)
        if name == step:
            raise CutOff(name)

    return on_step


async def attempt(pool, portal, request, *, cut: str | None = None, resume_from: str | None = None):
    """One dispatch attempt as the activity runs it; (steps reported, paths posted, paths got, receipt or None)."""
    steps: list[str] = []
    async with contextlib.AsyncExitStack() as stack:
        page = await stack.enter_async_context(
            pool.page(account=(portal.url, USERNAME), affinity=request.application_id)
        )
        posted, got = posts(page), gets(page)
        try:
            receipt = await dispatch(
                page,
                portal.access,
                request,
                on_step=cut_at(cut, steps) if cut else steps.append,
                resume_from=resume_from,
            )
        except CutOff:
            receipt = None
    return steps, posted, got, receipt


async def test_a_retry_goes_on_from_the_step_the_portal_has(tmp_path, pool, make_request):
    async with portal_app(tmp_path, "amr") as (portal, _):
        request = make_request("amr")
        # attempt 1: cut off as it reaches step 2 (step 1 is on the portal, in the session's draft)
        steps, posted, _, receipt = await attempt(pool, portal, request, cut="form:people")
        assert receipt is None and steps[-1] == "form:people"
        assert posted == ["/login", "/apply/step/1"]
        assert portal.count(request.application_id) == 0

        # attempt 2, told where attempt 1 got to: it searches first, then continues the draft
        steps, posted, got, receipt = await attempt(pool, portal, request, resume_from="form:people")
        assert receipt is not None
        assert steps == [
            "login",
            "search_existing",
            "resume_draft",
            "form:people",
            "form:shareholders",
            "attachments",  # amr's portal asks for the materials after the last step
            "submit",
            "receipt",
        ]
        # step 1 not typed again, no login
        assert posted == ["/apply/step/2", "/apply/step/3", "/apply/attachments", "/apply/submit"]
        assert "/apply" not in got  # no new form was started
        assert got.index("/progress") < got.index("/apply/step/1")  # the search came before the draft
        stored = portal.stored(request.application_id)
        assert [s["receipt_no"] for s in stored] == [receipt.receipt_no]
        assert portal.live(request.application_id) == 1
        data = stored[0]["data"]
        assert data["company_name"] == request.application.company.name  # from step 1, entered by attempt 1
        assert data["liaison_mobile"] == request.application.liaison.mobile  # from step 2, entered by attempt 2
        assert len(data["shareholders"]) == len(request.application.shareholders)


async def test_a_retry_after_the_last_step_only_submits(tmp_path, pool, make_request):
    async with portal_app(tmp_path, "hpf") as (portal, _):
        request = make_request("hpf")
        await attempt(pool, portal, request, cut="submit")  # every step in, not yet submitted
        assert portal.count(request.application_id) == 0
        steps, posted, _, receipt = await attempt(pool, portal, request, resume_from="submit")
        assert steps == ["login", "search_existing", "resume_draft", "submit", "receipt"]
        assert posted == ["/apply/submit"]
        assert [s["receipt_no"] for s in portal.stored(request.application_id)] == [receipt.receipt_no]


async def test_a_retry_after_the_submission_finds_it_and_files_nothing(tmp_path, pool, make_request):
    async with portal_app(tmp_path, "hpf") as (portal, _):
        request = make_request("hpf")
        await attempt(pool, portal, request, cut="receipt")  # submitted, the receipt never read
        assert portal.count(request.application_id) == 1
        steps, posted, _, receipt = await attempt(pool, portal, request, resume_from="receipt")
        assert steps == ["login", "search_existing"] and posted == []
        assert [s["receipt_no"] for s in portal.stored(request.application_id)] == [receipt.receipt_no]


async def test_a_draft_of_another_application_is_never_submitted(tmp_path, pool, make_request):
    """The form in the session is not this application's: it is left, a new one is filled."""
    async with portal_app(tmp_path, "hpf") as (portal, _):
        other, mine = make_request("hpf"), make_request("hpf")
        async with pool.page() as page:  # one session for both, as a page handed on would be
            with pytest.raises(CutOff):
                await dispatch(page, portal.access, other, on_step=cut_at("form:contribution", []))
            posted = posts(page)
            receipt = await dispatch(page, portal.access, mine, resume_from="form:contribution")
        assert posted == ["/apply/step/1", "/apply/step/2", "/apply/submit"]  # a whole new form
        assert portal.count(other.application_id) == 0
        assert [s["receipt_no"] for s in portal.stored(mine.application_id)] == [receipt.receipt_no]


async def test_a_retry_in_a_new_session_starts_a_new_form(tmp_path, pool, make_request):
    """The draft went with the old session (another worker, a portal restart): nothing to look for."""
    async with portal_app(tmp_path, "psb_seal") as (portal, _):
        request = make_request("psb_seal")
        await attempt(pool, portal, request, cut="form:seals")
        async with pool.page() as page:  # no account: a fresh, logged-out context
            posted, got = posts(page), gets(page)
            steps: list[str] = []
            receipt = await dispatch(page, portal.access, request, on_step=steps.append, resume_from="form:seals")
        assert "resume_draft" not in steps and "/apply/step/1" in posted and "/apply" in got
        assert [s["receipt_no"] for s in portal.stored(request.application_id)] == [receipt.receipt_no]


async def test_a_session_lost_between_or_while_resuming_starts_anew_and_files_once(tmp_path, pool, make_request):
    async with portal_app(tmp_path, "hrss") as (portal, app):
        # the portal restarts between the attempts: the pool's cookie is dead, the retry logs in anew
        first = make_request("hrss")
        await attempt(pool, portal, first, cut="form:employees")
        app.state.sessions.clear()
        steps, posted, _, receipt = await attempt(pool, portal, first, resume_from="form:employees")
        assert "resume_draft" not in steps and posted[:2] == ["/login", "/apply/step/1"]
        assert [s["receipt_no"] for s in portal.stored(first.application_id)] == [receipt.receipt_no]

        # the portal logs the robot out just as it opens the draft: it logs in, searches, fills anew
        second = make_request("hrss")
        await attempt(pool, portal, second, cut="form:employees")
        steps: list[str] = []

        def on_step(name: str) -> None:
            steps.append(name)
            if name == "resume_draft":
                app.state.sessions.clear()

        async with pool.page(account=(portal.url, USERNAME), affinity=second.application_id) as page:
            receipt = await dispatch(page, portal.access, second, on_step=on_step, resume_from="form:employees")
        assert steps == [
            "login",
            "search_existing",
            "resume_draft",
            "relogin",
            "form:unit",
            "form:employees",
            "submit",
            "receipt",
        ]
        assert [s["receipt_no"] for s in portal.stored(second.application_id)] == [receipt.receipt_no]


def test_step_rank_orders_the_filing_steps():
    steps = ("form:basic", "form:people", "form:shareholders", "attachments", "submit", "receipt")
    assert [flows.step_rank("amr", s) for s in steps] == [0, 1, 2, 3, 4, 5]
    assert flows.step_rank("hpf", "receipt") == 4  # its portal has no attachment step: the rank is an order only
    for before in (None, "", "login", "search_existing", "relogin", "resume_draft", "form:nonsense"):
        assert flows.step_rank("hpf", before) == -1
